/* SPDX-License-Identifier: MIT */
/* libalerting inside a poll(2) event loop, without a worker thread (worker_threads: 0):
 * alert_poll_timeout says how long the loop may sleep, and the wakeup callback makes an
 * eventfd readable when a hook queues work (the place of uv_async_send in libuv).
 * Sends one alert to $SLACK_WEBHOOK_URL and prints "delivered". */
#include <alerting.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void wake_loop(void *userdata)
{
    uint64_t one = 1;
    /* called from a hook, once per wake: one write, never blocking (EFD_NONBLOCK) */
    if (write(*(int *)userdata, &one, sizeof one) < 0)
        perror("eventfd");
}

int main(void)
{
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    alert_config *cfg;
    alert_ctx *ctx;
    if (efd < 0 || alert_config_new(&cfg) != ALERT_OK)
        return 1;
    alert_config_set(cfg, "alerting", "[slack]", NULL);
    alert_config_set(cfg, "alerting_args.worker_threads", "0", NULL);
    alert_config_set(cfg, "alerting_args.flush_interval", "0.1", NULL);
    alert_config_set_wakeup(cfg, wake_loop, &efd);
    if (alert_ctx_create(&ctx, cfg, NULL) != ALERT_OK)
        return 1;
    alert_emit(ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "Hello from a poll(2) loop", NULL);

    alert_stats st = ALERT_STATS_INIT;
    for (int turns = 0; turns < 1000 && st.deliveries_ok == 0; turns++) {
        int32_t timeout = 0;
        alert_poll_timeout(ctx, &timeout);
        struct pollfd fds[1] = { { .fd = efd, .events = POLLIN } };
        /* a real loop also polls its own sockets here */
        if (poll(fds, 1, timeout) > 0) {
            uint64_t n;
            if (read(efd, &n, sizeof n) < 0)
                perror("eventfd");
        }
        alert_poll(ctx, 0);
        alert_stats_get(ctx, &st);
    }
    printf("%s\n", st.deliveries_ok ? "delivered" : alert_ctx_last_error(ctx));
    alert_ctx_destroy(ctx);
    alert_config_free(cfg);
    close(efd);
    return st.deliveries_ok ? 0 : 1;
}
