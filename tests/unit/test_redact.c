#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "alloc.h"
#include "redact.h"

typedef struct scrub_case {
    const char *in;
    const char *want;
} scrub_case;

static const scrub_case secret_cases[] = {
    /* PEM private keys: the whole block goes. */
    { "key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY----- done",
      "key: REDACTED done" },
    { "-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA\\n-----END RSA PRIVATE KEY-----",
      "REDACTED" },
    { "x -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\ny",
      "x REDACTED\ny" },
    { "cut: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg", "cut: REDACTED" },
    { "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
      "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----" },

    /* sk- keys. */
    { "Incorrect API key provided: sk-proj-abc123DEF456ghi789", "Incorrect API key provided: REDACTED" },
    { "key sk-ant-api03-AbCdEf_12345-xyz rejected", "key REDACTED rejected" },
    { "(sk-1234567890abcdef)", "(REDACTED)" },
    { "/key/sk-abcdefgh/info", "/key/REDACTED/info" },
    { "'sk-abcdefghijkl'", "'REDACTED'" },

    /* Authorization schemes: the label stays. */
    { "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9abc.def", "Authorization: Bearer REDACTED" },
    { "Authorization: Bearer abc123.def-ghi_jkl~mno+pqr/stu=", "Authorization: Bearer REDACTED" },
    { "bearer sk-1234, retrying", "bearer REDACTED, retrying" },
    { "{\"Authorization\": \"Bearer mysecrettoken\"}", "{\"Authorization\": \"Bearer REDACTED\"}" },
    { "Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic REDACTED" },
    { "BASIC YWxhZGRpbjpvcGVuc2VzYW1l end", "BASIC REDACTED end" },

    /* Cloud provider credentials. */
    { "aws id AKIAIOSFODNN7EXAMPLE used", "aws id REDACTED used" },
    { "ASIAY34FZKBOKMUTVV7A:", "REDACTED:" },
    { "key=AIzaSyA1234567890abcdefghijklmnopqrstuv&x=1", "key=REDACTED&x=1" },
    { "google AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "google REDACTED" },
    { "token ya29.a0AfH6SMBx-abc_def.ghi expired", "token REDACTED expired" },

    /* JWTs. */
    { "jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ok",
      "jwt REDACTED ok" },
    { "unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. end", "unsigned REDACTED end" },

    /* api_key style values. */
    { "api_key=abc123&model=gpt-4", "api_key=REDACTED&model=gpt-4" },
    { "https://x.example/v1?api-key=abc123", "https://x.example/v1?api-key=REDACTED" },
    { "apikey: 0123456789", "apikey: REDACTED" },
    { "x-api-key: my-key-value\nnext", "x-api-key: REDACTED\nnext" },
    { "X-Api-Key:abc", "X-Api-Key:REDACTED" },
    { "{\"api_key\": \"value with spaces\", \"model\": \"gpt-4\"}",
      "{\"api_key\": \"REDACTED\", \"model\": \"gpt-4\"}" },
    { "{'api_key': 'abc', 'timeout': 30}", "{'api_key': 'REDACTED', 'timeout': 30}" },
    { "kwargs={\"openai_api_key\":\"abc\\\"def\"}", "kwargs={\"openai_api_key\":\"REDACTED\"}" },
    { "{\"error\": \"{\\\"apiKey\\\": \\\"abc\\\"}\"}", "{\"error\": \"{\\\"apiKey\\\": \\\"REDACTED\\\"}\"}" },

    /* Password and secret parameters. */
    { "login?user=bob&password=hunter2&x=1", "login?user=bob&password=REDACTED&x=1" },
    { "passwd=p4ss pwd=qwerty", "passwd=REDACTED pwd=REDACTED" },
    { "cli --password=hunter2 --db-password hunter3", "cli --password=REDACTED --db-password hunter3" },
    { "DB_PASSWORD=abc OPENAI_API_KEY=def", "DB_PASSWORD=REDACTED OPENAI_API_KEY=REDACTED" },
    { "secret=s3cr3t; client_secret=abc", "secret=REDACTED; client_secret=REDACTED" },
    { "{\"password\": \"p@ss w0rd\"}", "{\"password\": \"REDACTED\"}" },
    { "db_password = 'x'", "db_password = 'REDACTED'" },
    { "token=abc.def", "token=REDACTED" },
    { "access_token: abcdef", "access_token: REDACTED" },
    { "webhook secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw set", "webhook secret REDACTED set" },

    /* Userinfo in URLs: the user stays. */
    { "connect to postgres://admin:hunter2@db.internal:5432/app failed",
      "connect to postgres://admin:REDACTED@db.internal:5432/app failed" },
    { "redis://:p4ss@cache:6379", "redis://:REDACTED@cache:6379" },
    { "https://u:p@ss@host/x", "https://u:REDACTED@host/x" },

    /* Azure SAS. */
    { "https://x.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers&sv=1.0&sig=AbC123dEf%2B456",
      "https://x.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers&sv=1.0&sig=REDACTED" },
    { "blob?se=2025&sig=abc%3D end", "blob?se=2025&sig=REDACTED end" },

    /* Several in one text, next to non-ASCII text. */
    { "caf\xC3\xA9 sk-abcdefgh1234 \xE2\x82\xAC password=\xC3\xA9t\xC3\xA9 fin",
      "caf\xC3\xA9 REDACTED \xE2\x82\xAC password=REDACTED fin" },
};

static const char *const innocent_texts[] = {
    "",
    "Rate limit exceeded for model gpt-4; retry after 20s",
    "Connection refused to http://10.0.0.1:8080/v1",
    "task-scheduler failed",
    "Basic usage",
    "Basic Authentication failed",
    "Bearer token missing",
    "Invalid Bearer authentication",
    "WWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\"",
    "ask-questions-later risk-assessment",
    "sk-short",
    "AKIA is a prefix; AKIAIOSFODNN7EXAMPLEX is too long",
    "max_tokens=4096, prompt_tokens: 10, total_tokens=20",
    "config=prod; signal=9",
    "the password is wrong",
    "api_key=",
    "{\"token\": {\"id\": 1}}",
    "https://api.openai.com/v1/chat/completions",
    "user@example.com wrote: see mailto:user@example.com",
    "Timeout after 600.0s on https://example.com/path?query=1&page=2",
    "caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x80\xA6",
    ("litellm.RateLimitError: AzureException - Requests to the ChatCompletions_Create Operation "
     "have exceeded call rate limit."),
    "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----",
    "eyJust a word",
};

static void test_scrub_secrets_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof secret_cases / sizeof secret_cases[0]; i++) {
        char *got = al_scrub_secrets(secret_cases[i].in);
        assert_non_null(got);
        if (strcmp(got, secret_cases[i].want) != 0)
            print_error("input: %s\n", secret_cases[i].in);
        assert_string_equal(got, secret_cases[i].want);

        /* Scrubbing its own output changes nothing. */
        char *again = al_scrub_secrets(got);
        assert_string_equal(again, got);
        al_free(again);
        al_free(got);
    }
}

static void test_innocent_texts_unchanged(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof innocent_texts / sizeof innocent_texts[0]; i++) {
        char *got = al_scrub_secrets(innocent_texts[i]);
        assert_non_null(got);
        assert_string_equal(got, innocent_texts[i]);
        al_free(got);
    }
}

/* Every pattern cut off at every length: nothing may read past the NUL
 * (ASan checks, the copy is exactly sized) and nothing may break UTF-8. */
static void test_truncated_inputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof secret_cases / sizeof secret_cases[0]; i++) {
        const char *in = secret_cases[i].in;
        size_t len = strlen(in);
        for (size_t cut = 0; cut <= len; cut++) {
            char *prefix = al_strndup(in, cut);
            assert_non_null(prefix);
            char *got = al_scrub_secrets(prefix);
            assert_non_null(got);
            al_free(got);
            al_free(prefix);
        }
    }
}

static void test_large_input(void **state)
{
    (void)state;
    const size_t len = 4 * 1024 * 1024;
    char *big = al_malloc(len + 1);
    assert_non_null(big);
    for (size_t i = 0; i < len; i++)
        big[i] = "ab -=:/"[i % 7];
    memcpy(big + len / 2, " sk-abcdefghijkl ", 17);
    big[len] = '\0';
    char *got = al_scrub_secrets(big);
    assert_non_null(got);
    assert_null(strstr(got, "sk-abcdefghijkl"));
    assert_non_null(strstr(got, " REDACTED "));
    al_free(got);
    al_free(big);
}

static void test_null_and_alloc_failure(void **state)
{
    (void)state;
    assert_null(al_scrub_secrets(NULL));
    al_alloc_fail_after(0);
    char *got = al_scrub_secrets("password=x");
    al_alloc_fail_after(-1);
    assert_null(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrub_secrets_table),
        cmocka_unit_test(test_innocent_texts_unchanged),
        cmocka_unit_test(test_truncated_inputs),
        cmocka_unit_test(test_large_input),
        cmocka_unit_test(test_null_and_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
