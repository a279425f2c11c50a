/* SPDX-License-Identifier: MIT */
/* The daily and fallback reports (reports.c): schedule, counters and texts. */
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
#include "reports.h"

#define CHART "\xF0\x9F\x93\x88"
#define BANG "\xE2\x9D\x97\xEF\xB8\x8F"
#define SWEAT "\xF0\x9F\x98\x85"

static void test_schedule_due(void **state)
{
    (void)state;
    const int64_t day = 43200 * 1000LL;
    assert_int_equal(al_schedule_due(1000, day, 1000), 0);
    assert_int_equal(al_schedule_due(1000, day, 1000 + day - 1), 0);
    assert_int_equal(al_schedule_due(1000, day, 1000 + day), 1);
    assert_int_equal(al_schedule_due(1000, day, 1000 + 5 * day), 1);
    assert_int_equal(al_schedule_due(5000, day, 1000), 0);     /* the clock went back */
    assert_int_equal(al_schedule_due(1000, 0, 1000), 1);
}

static void test_latency_per_token(void **state)
{
    (void)state;
    assert_true(al_latency_per_token(10.0, 5) == 2.0);
    assert_true(al_latency_per_token(10.0, 0) == 10.0);
    assert_true(al_latency_per_token(10.0, -1) == 10.0);
    assert_true(al_latency_per_token(0.5, 1) == 0.5);
}

static al_deploy_totals dep(const char *name, const char *api_base, uint64_t failed, double lat_sum,
                            uint64_t lat_count)
{
    al_deploy_totals t = { name, api_base, failed, lat_count, lat_sum, lat_count, NULL };
    return t;
}

static void test_daily_report_text(void **state)
{
    (void)state;
    const al_deploy_totals v[] = {
        dep("openai/h", "https://h", 1, 0, 0),
        dep("azure/a", "https://a", 3, 1.0, 2),        /* 0.5 */
        dep("azure/b", "https://b", 10, 0.3, 3),       /* 0.1 */
        dep("openai/c", "https://c", 3, 4.5, 3),       /* 1.5 */
        dep("openai/d", "https://d", 0, 0.0123456, 1), /* 0.012 */
        dep("vertex/e", "https://e", 7, 0, 0),
        dep("vertex/f", "https://f", 1, 2.0, 4),       /* 0.5: ties with azure/a */
        dep("x/g", NULL, 1, 0.25, 1),
    };
    int err = 99;
    al_alert *a = al_daily_report(v, sizeof v / sizeof v[0], 1717000000000LL, 43200, &err);
    assert_int_equal(err, ALERT_OK);
    assert_non_null(a);
    assert_int_equal(a->type, AL_T_DAILY_REPORTS);
    assert_int_equal(a->level, ALERT_LEVEL_LOW);
    assert_int_equal(a->at_ms, 1717000000000LL);
    assert_string_equal(a->message,
        "\n\nTime: `1717000000.0`s\nHere are today's key metrics " CHART ": \n\n"
        "\n\n*" BANG " Top Deployments with Most Failed Requests:*\n\n"
        "\t1. Deployment: `azure/b`, Failed Requests: `10`,  API Base: `https://b`\n"
        "\t2. Deployment: `vertex/e`, Failed Requests: `7`,  API Base: `https://e`\n"
        "\t3. Deployment: `azure/a`, Failed Requests: `3`,  API Base: `https://a`\n"
        "\t4. Deployment: `openai/c`, Failed Requests: `3`,  API Base: `https://c`\n"
        "\t5. Deployment: `openai/h`, Failed Requests: `1`,  API Base: `https://h`\n"
        "\n\n*" SWEAT " Top Slowest Deployments:*\n\n"
        "\t1. Deployment: `openai/c`, Latency per output token: `1.5s/token`,  API Base: `https://c`\n\n"
        "\t2. Deployment: `azure/a`, Latency per output token: `0.5s/token`,  API Base: `https://a`\n\n"
        "\t3. Deployment: `vertex/f`, Latency per output token: `0.5s/token`,  API Base: `https://f`\n\n"
        "\t4. Deployment: `x/g`, Latency per output token: `0.25s/token`,  API Base: `None`\n\n"
        "\t5. Deployment: `azure/b`, Latency per output token: `0.1s/token`,  API Base: `https://b`\n\n"
        "\n\nNext Run is at: `1717043200.0`s");
    assert_string_equal(a->plain, a->message);
    al_alert_free(a);

    /* average, not sum: many fast requests do not look slow */
    const al_deploy_totals w[] = {
        dep("busy", "b", 0, 0.02 * 1000, 1000),     /* 0.02 */
        dep("idle", "i", 0, 0.0123, 1),
    };
    a = al_daily_report(w, 2, 1717000000500LL, 60, &err);
    assert_non_null(a);
    assert_non_null(strstr(a->message, "\t1. Deployment: `busy`, Latency per output token: `0.02s/token`"));
    assert_non_null(strstr(a->message, "\t2. Deployment: `idle`, Latency per output token: `0.012s/token`"));
    assert_non_null(strstr(a->message, "*\n\n\tNone\n\n\n*" SWEAT));
    assert_non_null(strstr(a->message, "Time: `1717000000.5`s"));
    assert_non_null(strstr(a->message, "Next Run is at: `1717000060.5`s"));
    al_alert_free(a);
}

static void test_daily_report_nothing(void **state)
{
    (void)state;
    int err = 99;
    assert_null(al_daily_report(NULL, 0, 0, 43200, &err));
    assert_int_equal(err, ALERT_OK);
    const al_deploy_totals v[] = {
        dep("a", "x", 0, 0, 0),
        dep("b", "y", 0, 0, 5),         /* requests with zero latency */
    };
    err = 99;
    assert_null(al_daily_report(v, 2, 0, 43200, &err));
    assert_int_equal(err, ALERT_OK);
    assert_null(al_daily_report(NULL, 3, 0, 43200, &err));
    assert_int_equal(err, ALERT_ERR_INVALID);
}

static void test_daily_report_failures_only_and_escaping(void **state)
{
    (void)state;
    const al_deploy_totals v[] = { dep("<!here>&", "http://h?a=1&b=<2>", 2, 0, 0) };
    int err;
    al_alert *a = al_daily_report(v, 1, 0, 43200, &err);
    assert_non_null(a);
    assert_string_equal(a->message,
        "\n\nTime: `0.0`s\nHere are today's key metrics " CHART ": \n\n"
        "\n\n*" BANG " Top Deployments with Most Failed Requests:*\n\n"
        "\t1. Deployment: `&lt;!here&gt;&amp;`, Failed Requests: `2`,  API Base: "
        "`http://h?a=1&amp;b=&lt;2&gt;`\n"
        "\n\n*" SWEAT " Top Slowest Deployments:*\n\n\tNone\n"
        "\n\nNext Run is at: `43200.0`s");
    assert_non_null(strstr(a->plain, "`<!here>&`, Failed Requests: `2`,  API Base: `http://h?a=1&b=<2>`"));
    al_alert_free(a);
}

static void test_daily_report_allocation_failures(void **state)
{
    (void)state;
    const al_deploy_totals v[] = { dep("a", "x", 2, 1, 1), dep("b", "y", 1, 2, 1) };
    for (long n = 0; n < 60; n++) {
        int err = 99;
        al_alloc_fail_after(n);
        al_alert *a = al_daily_report(v, 2, 0, 60, &err);
        al_alloc_fail_after(-1);
        if (a) {
            assert_int_equal(err, ALERT_OK);
            al_alert_free(a);
        } else {
            assert_int_equal(err, ALERT_ERR_NOMEM);
        }
    }
}

static void test_fallback_report(void **state)
{
    (void)state;
    al_fallbacks *t = al_fallbacks_new(0);
    assert_non_null(t);
    int err = 99;
    assert_null(al_fallbacks_report(t, 0, &err));
    assert_int_equal(err, ALERT_OK);
    for (int i = 0; i < 3; i++)
        assert_int_equal(al_fallbacks_add(t, "gpt-4", "claude-3", 1), ALERT_OK);
    assert_int_equal(al_fallbacks_add(t, "gpt-4", "claude-3", 0), ALERT_OK);
    assert_int_equal(al_fallbacks_add(t, "gpt-4", "gemini", 0), ALERT_OK);
    assert_int_equal(al_fallbacks_add(t, "azure/<x>", "gpt-4", 1), ALERT_OK);
    assert_int_equal(al_fallbacks_pairs(t), 3);
    al_alert *a = al_fallbacks_report(t, 1234, &err);
    assert_non_null(a);
    assert_int_equal(a->type, AL_T_FALLBACK_REPORTS);
    assert_int_equal(a->level, ALERT_LEVEL_LOW);
    assert_int_equal(a->at_ms, 1234);
    assert_string_equal(a->message,
        "*Fallback Statistics:*\n"
        "`1 successful fallback requests` with primary model=`azure/&lt;x&gt;` -> fallback model=`gpt-4`\n"
        "`3 successful fallback requests` with primary model=`gpt-4` -> fallback model=`claude-3`\n"
        "`1 failed fallback requests` with primary model=`gpt-4` -> fallback model=`claude-3`\n"
        "`1 failed fallback requests` with primary model=`gpt-4` -> fallback model=`gemini`\n");
    assert_non_null(strstr(a->plain, "primary model=`azure/<x>`"));
    al_alert_free(a);

    /* what arrives between the report and its delivery stays for the next one */
    assert_int_equal(al_fallbacks_add(t, "gpt-4", "gemini", 0), ALERT_OK);
    assert_int_equal(al_fallbacks_add(t, "m", "n", 1), ALERT_OK);
    al_fallbacks_commit(t);
    assert_int_equal(al_fallbacks_pairs(t), 2);
    a = al_fallbacks_report(t, 5678, &err);
    assert_non_null(a);
    assert_string_equal(a->message,
        "*Fallback Statistics:*\n"
        "`1 successful fallback requests` with primary model=`m` -> fallback model=`n`\n"
        "`1 failed fallback requests` with primary model=`gpt-4` -> fallback model=`gemini`\n");
    al_alert_free(a);
    /* a report that was not delivered: nothing is subtracted */
    a = al_fallbacks_report(t, 5678, &err);
    al_alert_free(a);
    assert_int_equal(al_fallbacks_add(t, "m", "n", 1), ALERT_OK);
    a = al_fallbacks_report(t, 5678, &err);
    assert_non_null(strstr(a->message, "`2 successful fallback requests` with primary model=`m`"));
    al_alert_free(a);
    al_fallbacks_commit(t);
    assert_int_equal(al_fallbacks_pairs(t), 0);
    assert_null(al_fallbacks_report(t, 0, &err));
    assert_int_equal(err, ALERT_OK);
    /* the table works after a commit emptied it */
    assert_int_equal(al_fallbacks_add(t, "gpt-4", "gemini", 1), ALERT_OK);
    assert_int_equal(al_fallbacks_add(t, "gpt-4", "gemini", 1), ALERT_OK);
    assert_int_equal(al_fallbacks_pairs(t), 1);

    assert_int_equal(al_fallbacks_add(t, NULL, "x", 1), ALERT_ERR_INVALID);
    assert_int_equal(al_fallbacks_add(NULL, "x", "y", 1), ALERT_ERR_INVALID);
    assert_null(al_fallbacks_report(NULL, 0, &err));
    assert_int_equal(err, ALERT_ERR_INVALID);
    al_fallbacks_free(t);
    al_fallbacks_free(NULL);
}

static void test_fallback_bounded(void **state)
{
    (void)state;
    al_fallbacks *t = al_fallbacks_new(100);
    char p[32];
    for (int i = 0; i < 100; i++) {
        snprintf(p, sizeof p, "model-%03d", i);
        assert_int_equal(al_fallbacks_add(t, p, "fb", i % 2), ALERT_OK);
    }
    assert_int_equal(al_fallbacks_add(t, "one-more", "fb", 1), ALERT_ERR_FULL);
    assert_int_equal(al_fallbacks_dropped(t), 1);
    /* known pairs still count */
    assert_int_equal(al_fallbacks_add(t, "model-042", "fb", 1), ALERT_OK);
    assert_int_equal(al_fallbacks_pairs(t), 100);
    int err;
    al_alert *a = al_fallbacks_report(t, 0, &err);
    assert_non_null(strstr(a->message, "`1 successful fallback requests` with primary model=`model-042`"));
    assert_non_null(strstr(a->message, "`1 failed fallback requests` with primary model=`model-042`"));
    al_alert_free(a);
    al_fallbacks_free(t);
}

static void test_fallback_allocation_failures(void **state)
{
    (void)state;
    for (long n = 0; n < 80; n++) {
        al_fallbacks *t = al_fallbacks_new(0);
        assert_non_null(t);
        al_alloc_fail_after(n);
        char p[32];
        for (int i = 0; i < 20; i++) {
            snprintf(p, sizeof p, "m%d", i % 7);
            int rc = al_fallbacks_add(t, p, "fb", i % 3);
            assert_true(rc == ALERT_OK || rc == ALERT_ERR_NOMEM);
        }
        int err;
        al_alert *a = al_fallbacks_report(t, 0, &err);
        assert_true(a ? err == ALERT_OK : (err == ALERT_ERR_NOMEM || err == ALERT_OK));
        al_alert_free(a);
        al_fallbacks_commit(t);
        for (int i = 0; i < 20; i++) {
            snprintf(p, sizeof p, "m%d", i % 5);
            al_fallbacks_add(t, p, "fb", 1);
        }
        al_alloc_fail_after(-1);
        /* no pair is ever duplicated */
        assert_true(al_fallbacks_pairs(t) <= 7);
        al_fallbacks_free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_due),
        cmocka_unit_test(test_latency_per_token),
        cmocka_unit_test(test_daily_report_text),
        cmocka_unit_test(test_daily_report_nothing),
        cmocka_unit_test(test_daily_report_failures_only_and_escaping),
        cmocka_unit_test(test_daily_report_allocation_failures),
        cmocka_unit_test(test_fallback_report),
        cmocka_unit_test(test_fallback_bounded),
        cmocka_unit_test(test_fallback_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
