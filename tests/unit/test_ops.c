/* SPDX-License-Identifier: MIT */
/* Operations alerts (ops.c): DB errors, deployment cooldowns and management events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "alert.h"
#include "alerting.h"
#include "alloc.h"
#include "ops.h"
#include "text.h"

/* ---- db_exceptions -------------------------------------------------------------- */

static void test_db_error(void **state)
{
    (void)state;
    al_alert *a = al_ops_db_error("connection to postgres://admin:hunter2@db:5432 failed; "
                                  "password=s3cret <@U123> & Bearer abc.def", 1, 42);
    assert_non_null(a);
    assert_int_equal(a->type, AL_T_DB_EXCEPTIONS);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_int_equal(a->at_ms, 42);
    assert_non_null(strstr(a->plain, "DB read/write call failed: connection to postgres://"));
    assert_null(strstr(a->plain, "hunter2"));
    assert_null(strstr(a->plain, "s3cret"));
    assert_null(strstr(a->plain, "abc.def"));
    assert_non_null(strstr(a->plain, "<@U123> & Bearer REDACTED"));
    assert_non_null(strstr(a->message, "&lt;@U123&gt; &amp; Bearer REDACTED"));
    assert_null(strstr(a->message, "<@"));
    al_alert_free(a);

    /* exact text, and scrubbing turned off */
    a = al_ops_db_error("Bearer tok123 timed out", 0, 0);
    assert_string_equal(a->message, "DB read/write call failed: Bearer tok123 timed out");
    al_alert_free(a);
    a = al_ops_db_error("Bearer tok123 timed out", 1, 0);
    assert_string_equal(a->message, "DB read/write call failed: Bearer REDACTED timed out");
    al_alert_free(a);

    /* invalid UTF-8 repaired */
    a = al_ops_db_error("bad \xC3 byte", 1, 0);
    assert_string_equal(a->plain, "DB read/write call failed: bad \xEF\xBF\xBD byte");
    al_alert_free(a);

    assert_null(al_ops_db_error(NULL, 1, 0));
}

static void test_db_error_bounded(void **state)
{
    (void)state;
    /* 10 000 two-byte characters: cut on a character boundary, "…" at the end */
    size_t n = 10000;
    char *big = al_malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(big + 2 * i, "\xC3\xA9", 2);
    big[2 * n] = '\0';
    al_alert *a = al_ops_db_error(big, 1, 0);
    al_free(big);
    assert_non_null(a);
    const char *err = a->plain + strlen("DB read/write call failed: ");
    assert_true(strlen(err) <= AL_OPS_ERROR_MAX);
    assert_true(strlen(err) > AL_OPS_ERROR_MAX - 8);
    size_t len = strlen(err);
    assert_string_equal(err + len - 3, "\xE2\x80\xA6");
    char *fixed = al_utf8_repair(err, len);
    assert_string_equal(fixed, err);        /* still valid UTF-8 */
    al_free(fixed);
    al_alert_free(a);
}

/* ---- cooldowns ----------------------------------------------------------------- */

static void test_cooldown_text(void **state)
{
    (void)state;
    al_alert *a = al_ops_cooldown("azure/gpt-4-eu", "429 rate limited: api_key=abc123 <b>", 60, 1,
                                  1000);
    assert_non_null(a);
    assert_int_equal(a->type, AL_T_COOLDOWN_DEPLOYMENT);
    assert_int_equal(a->level, ALERT_LEVEL_MEDIUM);
    assert_string_equal(a->message,
                        "Deployment cooled down: `azure/gpt-4-eu`\n"
                        "Reason: `429 rate limited: api_key=REDACTED &lt;b&gt;`\n"
                        "Cooldown: `60s`");
    assert_string_equal(a->plain,
                        "Deployment cooled down: `azure/gpt-4-eu`\n"
                        "Reason: `429 rate limited: api_key=REDACTED <b>`\n"
                        "Cooldown: `60s`");
    assert_string_equal(a->deployment, "azure/gpt-4-eu");
    assert_string_equal(a->subject, "deployment azure/gpt-4-eu");
    al_alert_free(a);
    a = al_ops_cooldown("d", NULL, 0, 1, 0);
    assert_string_equal(a->message, "Deployment cooled down: `d`\nReason: `None`\nCooldown: `0s`");
    al_alert_free(a);
    assert_null(al_ops_cooldown(NULL, "x", 5, 1, 0));
}

static void test_cooldown_once_per_cooldown(void **state)
{
    (void)state;
    al_cooldowns *t = al_cooldowns_new(0);
    assert_non_null(t);
    assert_int_equal(al_cooldowns_check(t, "d1", 60, 0), 1);
    assert_int_equal(al_cooldowns_check(t, "d1", 60, 1000), 0);
    assert_int_equal(al_cooldowns_check(t, "d1", 60, 59999), 0);
    assert_int_equal(al_cooldowns_check(t, "d2", 60, 59999), 1);     /* per deployment */
    assert_int_equal(al_cooldowns_check(t, "d1", 60, 60000), 1);     /* the next cooldown */
    assert_int_equal(al_cooldowns_check(t, "d1", 60, 61000), 0);
    assert_int_equal(al_cooldowns_check(t, "d1", 5, 120000), 1);
    assert_int_equal(al_cooldowns_check(t, "d1", 5, 124999), 0);
    assert_int_equal(al_cooldowns_check(t, "d1", 0, 125000), 1);     /* zero: every time */
    assert_int_equal(al_cooldowns_check(t, "d1", 0, 125000), 1);
    assert_int_equal(al_cooldowns_count(t), 2);
    al_cooldowns_free(t);
    al_cooldowns_free(NULL);
}

static void test_cooldown_table_bounded(void **state)
{
    (void)state;
    al_cooldowns *t = al_cooldowns_new(100);
    char d[32];
    for (int i = 0; i < 100; i++) {
        snprintf(d, sizeof d, "dep-%d", i);
        assert_int_equal(al_cooldowns_check(t, d, 60 + i, 0), 1);
    }
    assert_int_equal(al_cooldowns_count(t), 100);
    /* full of cooldowns in force: the one ending first (dep-0) makes room */
    assert_int_equal(al_cooldowns_check(t, "new", 60, 1000), 1);
    assert_int_equal(al_cooldowns_count(t), 100);
    assert_int_equal(al_cooldowns_check(t, "dep-0", 60, 2000), 1);  /* forgotten: alerts */
    assert_int_equal(al_cooldowns_check(t, "dep-99", 60, 2000), 0);
    /* ended ones are swept when room is needed */
    for (int i = 0; i < 500; i++) {
        snprintf(d, sizeof d, "later-%d", i);
        assert_int_equal(al_cooldowns_check(t, d, 1, 1000000 + i * 2000), 1);
    }
    assert_true(al_cooldowns_count(t) <= 100);
    al_cooldowns_free(t);
}

static void test_cooldown_allocation_failures(void **state)
{
    (void)state;
    for (long n = 0; n < 40; n++) {
        al_cooldowns *t = al_cooldowns_new(8);
        assert_non_null(t);
        al_alloc_fail_after(n);
        char d[16];
        for (int i = 0; i < 30; i++) {
            snprintf(d, sizeof d, "d%d", i % 12);
            int r = al_cooldowns_check(t, d, 10, i * 100);
            assert_true(r == 0 || r == 1);
        }
        al_alert *a = al_ops_cooldown("d", "why", 10, 1, 0);
        al_alert_free(a);
        a = al_ops_db_error("err", 1, 0);
        al_alert_free(a);
        al_alloc_fail_after(-1);
        al_cooldowns_free(t);
    }
}

/* ---- management events ---------------------------------------------------------- */

static void test_new_model_added(void **state)
{
    (void)state;
    int err = 99;
    al_alert *a = al_ops_management("new_model_added", NULL,
                                    "{\"model_name\": \"my-gpt\", \"base_model\": \"gpt-4o\"}", 1, 7,
                                    &err);
    assert_int_equal(err, ALERT_OK);
    assert_non_null(a);
    assert_int_equal(a->type, AL_T_NEW_MODEL_ADDED);
    assert_int_equal(a->level, ALERT_LEVEL_LOW);
    assert_string_equal(a->message,
                        "\n*\xF0\x9F\x9A\x85 New Model Added*\nModel Name: `my-gpt`\n"
                        "Base Model: `gpt-4o`\n");
    assert_string_equal(a->model, "my-gpt");
    al_alert_free(a);

    a = al_ops_management("new_model_added", "{}", "{\"model_name\": \"<x>\", \"base_model\": null}",
                          1, 7, &err);
    assert_string_equal(a->message, "\n*\xF0\x9F\x9A\x85 New Model Added*\nModel Name: `&lt;x&gt;`\n");
    assert_string_equal(a->plain, "\n*\xF0\x9F\x9A\x85 New Model Added*\nModel Name: `<x>`\n");
    al_alert_free(a);

    a = al_ops_management("new_model_added", NULL, NULL, 1, 7, &err);
    assert_string_equal(a->message, "\n*\xF0\x9F\x9A\x85 New Model Added*\nModel Name: `None`\n");
    al_alert_free(a);
}

static void test_key_events(void **state)
{
    (void)state;
    int err = 99;
    al_alert *a = al_ops_management(
        "new_virtual_key_created",
        "{\"created_by_user_id\": \"admin\", \"created_by_user_role\": \"proxy_admin\", "
        "\"created_by_key_alias\": null}",
        "{\"key_alias\": \"ci <bot>\", \"models\": [\"gpt-4\", \"a&b\"], \"max_budget\": 10.5, "
        "\"user_api_key_dict\": {\"api_key\": \"x\"}, \"api_key\": \"sk-abcdefghijklmnop\", "
        "\"duration\": null, \"enabled\": true, \"tpm\": 100, \"rate\": 1e-05}",
        1, 0, &err);
    assert_int_equal(err, ALERT_OK);
    assert_non_null(a);
    assert_int_equal(a->type, AL_T_NEW_VIRTUAL_KEY_CREATED);
    assert_int_equal(a->level, ALERT_LEVEL_HIGH);
    assert_string_equal(a->message,
                        "`New Virtual Key Created`\n"
                        "*Action Done by:*\n"
                        "created_by_user_id: `admin`\n"
                        "created_by_user_role: `proxy_admin`\n"
                        "created_by_key_alias: `None`\n"
                        "\n*Arguments passed:*\n"
                        "key_alias: `ci &lt;bot&gt;`\n"
                        "models: `[\"gpt-4\",\"a&amp;b\"]`\n"
                        "max_budget: `10.5`\n"
                        "api_key: `REDACTED`\n"
                        "duration: `None`\n"
                        "enabled: `True`\n"
                        "tpm: `100`\n"
                        "rate: `1e-05`\n");
    assert_non_null(strstr(a->plain, "key_alias: `ci <bot>`\nmodels: `[\"gpt-4\",\"a&b\"]`\n"));
    al_alert_free(a);

    /* every type's event name; no actor: LiteLLM's unknowns */
    static const struct { const char *type, *name; } names[] = {
        { "new_virtual_key_created", "New Virtual Key Created" },
        { "virtual_key_updated", "Virtual Key Updated" },
        { "virtual_key_deleted", "Virtual Key Deleted" },
        { "new_team_created", "New Team Created" },
        { "team_updated", "Team Updated" },
        { "team_deleted", "Team Deleted" },
        { "new_internal_user_created", "New Internal User Created" },
        { "internal_user_updated", "Internal User Updated" },
        { "internal_user_deleted", "Internal User Deleted" },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        a = al_ops_management(names[i].type, NULL, NULL, 1, 0, &err);
        assert_non_null(a);
        assert_int_equal(a->type, al_type_from_name(names[i].type));
        assert_int_equal(a->level, ALERT_LEVEL_HIGH);
        char want[256];
        snprintf(want, sizeof want,
                 "`%s`\n*Action Done by:*\ncreated_by_user_id: `Unknown`\n"
                 "created_by_user_role: `Unknown`\ncreated_by_key_alias: `None`\n"
                 "\n*Arguments passed:*\n", names[i].name);
        assert_string_equal(a->message, want);
        al_alert_free(a);
    }
}

static void test_management_invalid(void **state)
{
    (void)state;
    int err = 0;
    assert_null(al_ops_management("llm_exceptions", NULL, NULL, 1, 0, &err));
    assert_int_equal(err, ALERT_ERR_INVALID);
    err = 0;
    assert_null(al_ops_management("no_such_type", NULL, NULL, 1, 0, &err));
    assert_int_equal(err, ALERT_ERR_INVALID);
    err = 0;
    assert_null(al_ops_management(NULL, NULL, NULL, 1, 0, &err));
    assert_int_equal(err, ALERT_ERR_INVALID);
    const char *bad[] = { "[1, 2]", "\"s\"", "42", "{", "{\"a\": 1, \"a\": 2}", "", "null" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = 0;
        assert_null(al_ops_management("team_updated", bad[i], NULL, 1, 0, &err));
        assert_int_equal(err, ALERT_ERR_INVALID);
        err = 0;
        assert_null(al_ops_management("new_model_added", NULL, bad[i], 1, 0, &err));
        assert_int_equal(err, ALERT_ERR_INVALID);
    }
    assert_int_equal(al_ops_is_management_type(AL_T_NEW_MODEL_ADDED), 1);
    assert_int_equal(al_ops_is_management_type(AL_T_DB_EXCEPTIONS), 0);
    assert_int_equal(al_ops_is_management_type(-1), 0);
}

static void test_management_values_bounded(void **state)
{
    (void)state;
    size_t n = 5000;
    char *json = al_malloc(n + 64);
    strcpy(json, "{\"metadata\": \"");
    size_t off = strlen(json);
    memset(json + off, 'x', n);
    strcpy(json + off + n, "\"}");
    int err;
    al_alert *a = al_ops_management("team_updated", NULL, json, 1, 0, &err);
    al_free(json);
    assert_non_null(a);
    const char *v = strstr(a->plain, "metadata: `") + strlen("metadata: `");
    size_t len = (size_t)(strchr(v, '`') - v);
    assert_int_equal(len, AL_OPS_VALUE_MAX - 1 + 3);       /* 999 x and "…" */
    al_alert_free(a);
}

static void test_management_allocation_failures(void **state)
{
    (void)state;
    for (long n = 0; n < 60; n++) {
        int err = 99;
        al_alloc_fail_after(n);
        al_alert *a = al_ops_management("team_updated", "{\"created_by_user_id\": \"u\"}",
                                        "{\"team_alias\": \"t\", \"models\": [1]}", 1, 0, &err);
        al_alloc_fail_after(-1);
        if (a) {
            assert_int_equal(err, ALERT_OK);
            al_alert_free(a);
        } else {
            assert_int_equal(err, ALERT_ERR_NOMEM);
        }
        al_alloc_fail_after(n);
        a = al_ops_management("new_model_added", NULL, "{\"model_name\": \"m\", \"base_model\": \"b\"}",
                              1, 0, &err);
        al_alloc_fail_after(-1);
        al_alert_free(a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_error),
        cmocka_unit_test(test_db_error_bounded),
        cmocka_unit_test(test_cooldown_text),
        cmocka_unit_test(test_cooldown_once_per_cooldown),
        cmocka_unit_test(test_cooldown_table_bounded),
        cmocka_unit_test(test_cooldown_allocation_failures),
        cmocka_unit_test(test_new_model_added),
        cmocka_unit_test(test_key_events),
        cmocka_unit_test(test_management_invalid),
        cmocka_unit_test(test_management_values_bounded),
        cmocka_unit_test(test_management_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
