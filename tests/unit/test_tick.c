/* SPDX-License-Identifier: MIT */
/* What a worker tick costs in memory when requests hang (bench_hooks tick): the
 * alerts it raises wait in the outbox until the flush (flush_interval), and each
 * new page they fill is a page fault, the larger half of a tick with a thousand
 * of them. Bounds on what one queued hanging alert holds and allocates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "fmt.h"
#include "latency.h"

#define REQUESTS 1000

static int64_t clock_ms;
static int64_t test_clock(void *ud)
{
    (void)ud;
    return clock_ms;
}

static int delivered;
static int count_delivery(const alert_delivery *d, void *ud)
{
    (void)d;
    (void)ud;
    delivered++;
    return ALERT_OK;
}

/* bench_hooks' typical request, each with its own call id */
static alert_ctx *hang_requests(char call_ids[][16])
{
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    alert_transport t = ALERT_TRANSPORT_INIT;
    t.send = count_delivery;
    assert_int_equal(alert_config_add_transport(cfg, "count", &t, NULL), ALERT_OK);
    const char *yaml = "alerting: [count]\nalerting_threshold: 300\n"
                       "alerting_args: {worker_threads: 0, shutdown_timeout: 0.1, "
                       "flush_interval: 60, batch_size: 1000000}\n";
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), &err), ALERT_OK);
    alert_config_set_clock(cfg, test_clock, NULL);
    alert_ctx *ctx;
    assert_int_equal(alert_ctx_create(&ctx, cfg, &err), ALERT_OK);
    alert_config_free(cfg);
    clock_ms = 1767225600000LL;
    alert_request r;
    alert_request_init(&r, ALERT_REQUEST_VERSION);
    r.model = "gpt-4o";
    r.deployment = "azure/gpt-4o-eastus";
    r.deployment_id = "dep-7f3a";
    r.provider = "azure";
    r.api_base = "https://eastus.api.cognitive.example.com";
    r.region = "eastus";
    r.key_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    r.key_alias = "prod-search";
    r.team_alias = "search";
    r.user_id = "user-42";
    r.start_ms = clock_ms;
    for (int i = 0; i < REQUESTS; i++) {
        snprintf(call_ids[i], 16, "req-%d", i);
        r.call_id = call_ids[i];
        alert_req_id id;
        assert_int_equal(alert_on_request_start(ctx, &r, &id), ALERT_OK);
    }
    alert_poll(ctx, 0);     /* the starts drained, the timers set */
    return ctx;
}

static void test_queued_hanging_alert_footprint(void **state)
{
    (void)state;
    static char call_ids[REQUESTS][16];
    delivered = 0;
    alert_ctx *ctx = hang_requests(call_ids);
    clock_ms += 299000;     /* the flush timer starts over just before they hang */
    alert_poll(ctx, 0);
    clock_ms += 2000;       /* past alerting_threshold: every request hangs */
    struct mallinfo2 before = mallinfo2();
    uint64_t allocs = al_alloc_count();
    alert_poll(ctx, 0);
    struct mallinfo2 after = mallinfo2();
    allocs = al_alloc_count() - allocs;
    alert_stats s = ALERT_STATS_INIT;
    alert_stats_get(ctx, &s);
    assert_int_equal(s.alerts_raised, REQUESTS);
    assert_int_equal(delivered, 0);     /* queued until the flush */
    double per_alert_allocs = (double)allocs / REQUESTS;
    printf("per queued hanging alert: %.1f allocations", per_alert_allocs);
    /* the alert, its labels (one block), message and plain, the outbox's message and its
     * text, and the transient ones (text buffers, envelope, copies of the slot's data) */
    assert_true(per_alert_allocs <= 11.0);     /* 14 before */
    if (after.arena == 0) {     /* a sanitizer's allocator: glibc's figures are not kept */
        printf("\n");
    } else {
        double held = ((double)after.uordblks - (double)before.uordblks) / REQUESTS;
        printf(", %.0f bytes held\n", held);
        /* 2 128 before the texts were cut to size, the labels packed, plain shared and the
         * transfer state moved out of the queued message */
        assert_true(held <= 1180.0);
    }
    alert_flush(ctx, 1000);
    assert_int_equal(delivered, REQUESTS);
    alert_ctx_destroy(ctx);
}

/* The Elapsed line without printf: the same bytes, ties (a last digit of 5) included */
static void test_elapsed_as_printf_writes_it(void **state)
{
    (void)state;
    char want[64], got[32];
    for (int64_t ms = 0; ms < 2000000; ms++) {
        snprintf(want, sizeof want, "%.2fs", (double)ms / 1000.0);
        al_fmt_elapsed(got, ms);
        if (strcmp(want, got) != 0)
            fail_msg("%lld ms: want %s, got %s", (long long)ms, want, got);
    }
    uint64_t rng = 88172645463325252ull;
    static const int64_t edges[] = { -1, -1005, (INT64_C(1) << 50) - 1, INT64_C(1) << 50,
                                     INT64_MAX, INT64_MIN, 9007199254740993LL };
    for (int i = 0; i < 200000 + 7; i++) {
        int64_t ms;
        if (i < 7) {
            ms = edges[i];
        } else {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            ms = (int64_t)(rng >> (14 + rng % 40));
            ms -= ms % 10 - 5 * (int64_t)(rng & 1);     /* half of them ties */
        }
        snprintf(want, sizeof want, "%.2fs", (double)ms / 1000.0);
        al_fmt_elapsed(got, ms);
        if (strcmp(want, got) != 0)
            fail_msg("%lld ms: want %s, got %s", (long long)ms, want, got);
    }
}

/* Fields of the alert text: the value in one piece or escaped, the same as before */
static void test_text_field(void **state)
{
    (void)state;
    char name[300];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    static const char *const values[] = { "gpt-4o", "", NULL, "a&b<c>", "caf\xC3\xA9", "bad \xC3" };
    for (size_t i = 0; i < sizeof values / sizeof *values; i++)
        for (int long_name = 0; long_name < 2; long_name++) {
            const char *nm = long_name ? name : "Request Model";
            al_text t = { AL_BUF_INIT, AL_BUF_INIT }, want = { AL_BUF_INIT, AL_BUF_INIT };
            al_text_field(&t, nm, values[i]);
            al_text_lit(&want, "\n");
            al_text_lit(&want, nm);
            al_text_lit(&want, ": `");
            al_text_val(&want, values[i]);
            al_text_lit(&want, "`");
            assert_string_equal(t.esc.data, want.esc.data);
            assert_string_equal(t.plain.data, want.plain.data);
            al_text_free(&t);
            al_text_free(&want);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queued_hanging_alert_footprint),
        cmocka_unit_test(test_elapsed_as_printf_writes_it),
        cmocka_unit_test(test_text_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
