/* SPDX-License-Identifier: MIT */
/* The delivery queue under overload: a full queue drops the oldest message of the lowest
 * level without walking the queue (alert_ctx_destroy and every enqueue stay cheap at
 * max_queue 100 000), and notices stay within max_queue + AL_OUTBOX_NOTICE_RESERVE. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "alert.h"
#include "ctx.h"
#include "outbox.h"

static int64_t fixed_clock(void *ud)
{
    (void)ud;
    return 1767225600123LL;
}

static alert_ctx *new_ctx(alert_config **cfg, const char *max_queue)
{
    static const char yaml[] = "general_settings:\n  alerting: []\n  alerting_args:\n"
                               "    worker_threads: 0\n    shutdown_timeout: 0\n";
    assert_int_equal(alert_config_new(cfg), ALERT_OK);
    assert_int_equal(alert_config_load_string(*cfg, yaml, strlen(yaml), NULL), ALERT_OK);
    assert_int_equal(alert_config_set(*cfg, "alerting_args.max_queue", max_queue, NULL), ALERT_OK);
    assert_int_equal(alert_config_set_clock(*cfg, fixed_clock, NULL), ALERT_OK);
    alert_ctx *ctx = NULL;
    assert_int_equal(alert_ctx_create(&ctx, *cfg, NULL), ALERT_OK);
    return ctx;
}

static int enqueue(alert_ctx *ctx, al_target *t, int level, int notice)
{
    al_alert *a = al_alert_new(AL_T_DB_EXCEPTIONS, level, 0);
    assert_non_null(a);
    a->notice = notice;
    int rc = al_outbox_enqueue(ctx->outbox, t, a, "queued");
    al_alert_free(a);
    return rc;
}

static void full_queue_drops_without_a_walk(void **state)
{
    (void)state;
    alert_config *cfg;
    alert_ctx *ctx = new_ctx(&cfg, "20000");
    al_target *t = al_outbox_target(ctx->outbox, AL_DEST_WEBHOOK, "http://127.0.0.1:1/x", NULL);
    assert_non_null(t);
    for (int i = 0; i < 20000; i++)
        assert_int_equal(enqueue(ctx, t, ALERT_LEVEL_HIGH, 0), ALERT_OK);
    /* High newcomers push out the oldest High; Low ones are turned away */
    for (int i = 0; i < 20000; i++) {
        assert_int_equal(enqueue(ctx, t, ALERT_LEVEL_HIGH, 0), ALERT_OK);
        assert_int_equal(enqueue(ctx, t, ALERT_LEVEL_LOW, 0), ALERT_ERR_FULL);
    }
    /* one message looked at per drop: a walk of the 20 000 queued would be 4e8 */
    assert_true(al_outbox_evict_steps(ctx->outbox) <= 20000);
    assert_int_equal(atomic_load(&ctx->n.deliveries_dropped), 40000);
    assert_int_equal(atomic_load(&ctx->n.queue_depth), 20000);
    alert_ctx_destroy(ctx);
    alert_config_free(cfg);
}

static void notices_count_against_the_bound(void **state)
{
    (void)state;
    alert_config *cfg;
    alert_ctx *ctx = new_ctx(&cfg, "100");
    al_target *t = al_outbox_target(ctx->outbox, AL_DEST_WEBHOOK, "http://127.0.0.1:1/x", NULL);
    assert_non_null(t);
    for (int i = 0; i < 100; i++)
        assert_int_equal(enqueue(ctx, t, ALERT_LEVEL_LOW, 0), ALERT_OK);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(enqueue(ctx, t, ALERT_LEVEL_HIGH, 1), ALERT_OK);
        assert_true(atomic_load(&ctx->n.queue_depth) <= 100 + AL_OUTBOX_NOTICE_RESERVE);
    }
    assert_int_equal(atomic_load(&ctx->n.queue_depth), 100 + AL_OUTBOX_NOTICE_RESERVE);
    /* the Low alerts went first, oldest first, then the oldest notices */
    assert_int_equal(atomic_load(&ctx->n.deliveries_dropped), 1000 - AL_OUTBOX_NOTICE_RESERVE);
    /* a dropped notice is not announced by another notice */
    al_type first;
    assert_int_equal(al_outbox_take_dropped(ctx->outbox, &first), 100);
    alert_ctx_destroy(ctx);
    alert_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_queue_drops_without_a_walk),
        cmocka_unit_test(notices_count_against_the_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
