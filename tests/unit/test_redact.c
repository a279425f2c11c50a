/* SPDX-License-Identifier: MIT */
/* Secret scrubbing (redact.c) of free text and JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "alert.h"
#include "alerting.h"
#include "alloc.h"
#include "ops.h"
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

    /* Issue 9, item 2: what still leaked. */
    { "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY region=us-east-1",
      "aws_secret_access_key=REDACTED region=us-east-1" },
    { "AWS_SECRET_ACCESS_KEY: wJalrXUtnFEMI", "AWS_SECRET_ACCESS_KEY: REDACTED" },
    { "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=FwoGZXIvYXdzEJr&X-Amz-Signature=5f3c0b2e9a1d failed",
      "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED&X-Amz-Date=20250101T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED failed" },
    { "https://storage.googleapis.com/b/o?X-Goog-Credential=sa%40p.iam&X-Goog-Signature=abc123",
      "https://storage.googleapis.com/b/o?X-Goog-Credential=REDACTED&X-Goog-Signature=REDACTED" },
    { "https://generativelanguage.googleapis.com/v1/models?key=abc123XYZ&alt=sse",
      "https://generativelanguage.googleapis.com/v1/models?key=REDACTED&alt=sse" },
    { "https://maps.example/api?v=3&KEY=k-9z failed", "https://maps.example/api?v=3&KEY=REDACTED failed" },
    { "sentry_dsn: https://0123456789abcdef0123456789abcdef@o123456.ingest.sentry.io/4505",
      "sentry_dsn: https://REDACTED@o123456.ingest.sentry.io/4505" },
    { "post to https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX failed: 404",
      "post to https://hooks.slack.com/REDACTED failed: 404" },
    { "<https://hooks.slack.com/workflows/T1/A2/3/abc|hook>", "<https://hooks.slack.com/REDACTED|hook>" },
    { "url='https://discord.com/api/webhooks/123456789/AbCdEf-token_xyz?wait=true'",
      "url='https://discord.com/api/REDACTED'" },
    { "https://ptb.discordapp.com/api/webhooks/1/tok/slack", "https://ptb.discordapp.com/api/REDACTED" },
    { "(https://contoso.webhook.office.com/webhookb2/a-b@c-d/IncomingWebhook/e/f)",
      "(https://contoso.webhook.office.com/REDACTED)" },
    { "https://outlook.office.com/webhook/abc/IncomingWebhook/def", "https://outlook.office.com/REDACTED" },
    { "{\"routing_key\":\"R0UTINGKEY0123456789abcdefabcdef\",\"event_action\":\"trigger\"}",
      "{\"routing_key\":\"REDACTED\",\"event_action\":\"trigger\"}" },

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
    "see https://discord.com/developers/docs and https://hooks.slack.com/",
    "https://outlook.office.com/mail/inbox",
    "monkey=1&keyword=x&key_alias=team-a",
    "clone https://git@github.com/x/y.git",
    "https://bob@example.com/path",
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

/* Issue 9, item 2: a top-level secret in metadata and management-event JSON goes
 * whole, as a nested one does. */
static void test_top_level_secret_keys(void **state)
{
    (void)state;
    assert_true(al_is_secret_name("password"));
    assert_true(al_is_secret_name("api_key"));
    assert_true(al_is_secret_name("token"));
    assert_true(al_is_secret_name("routing_key"));
    assert_true(al_is_secret_name("OPENAI_API_KEY"));
    assert_false(al_is_secret_name("max_tokens"));
    assert_false(al_is_secret_name("key_alias"));
    assert_false(al_is_secret_name(""));
    assert_false(al_is_secret_name(NULL));

    const char *meta = "{\"password\": \"hunter2\", \"api_key\": \"abc123\", \"token\": 42, "
                       "\"nested\": {\"password\": \"hunter3\"}, \"team\": \"search\"}";
    al_alert *a = al_alert_new(AL_T_LLM_EXCEPTIONS, ALERT_LEVEL_HIGH, 0);
    assert_non_null(a);
    assert_int_equal(al_alert_set_metadata(a, meta, 1), ALERT_OK);
    assert_int_equal(a->n_metadata, 5);
    for (size_t i = 0; i < a->n_metadata; i++)
        assert_null(strstr(a->metadata[i].value, "hunter"));
    assert_string_equal(a->metadata[0].value, "REDACTED");
    assert_string_equal(a->metadata[1].value, "REDACTED");
    assert_string_equal(a->metadata[2].value, "REDACTED");
    assert_string_equal(a->metadata[4].value, "search");
    assert_null(strstr(a->metadata_json, "hunter"));
    assert_null(strstr(a->metadata_json, "abc123"));
    assert_null(strstr(a->metadata_json, "42"));
    assert_non_null(strstr(a->metadata_json, "\"team\":\"search\""));
    al_alert_free(a);

    int err = 0;
    a = al_ops_management("new_virtual_key_created", "{\"token\": \"actor-secret\"}",
                          "{\"password\": \"hunter2\", \"api_key\": \"abc123\", "
                          "\"key_alias\": \"team-a\"}", 1, 7, &err);
    assert_int_equal(err, ALERT_OK);
    assert_non_null(a);
    assert_null(strstr(a->plain, "hunter2"));
    assert_null(strstr(a->plain, "abc123"));
    assert_null(strstr(a->plain, "actor-secret"));
    assert_non_null(strstr(a->plain, "password: `REDACTED`"));
    assert_non_null(strstr(a->plain, "key_alias: `team-a`"));
    al_alert_free(a);

    /* scrub == 0 (disable_secret_redaction) keeps them */
    a = al_alert_new(AL_T_LLM_EXCEPTIONS, ALERT_LEVEL_HIGH, 0);
    assert_int_equal(al_alert_set_metadata(a, "{\"password\": \"hunter2\"}", 0), ALERT_OK);
    assert_string_equal(a->metadata[0].value, "hunter2");
    al_alert_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scrub_secrets_table),
        cmocka_unit_test(test_innocent_texts_unchanged),
        cmocka_unit_test(test_truncated_inputs),
        cmocka_unit_test(test_large_input),
        cmocka_unit_test(test_null_and_alloc_failure),
        cmocka_unit_test(test_top_level_secret_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
