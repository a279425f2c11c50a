/* SPDX-License-Identifier: MIT */
/* The smallest use: one alert to Slack ($SLACK_WEBHOOK_URL), delivered before exit. */
#include <alerting.h>
#include <stdio.h>

int main(void)
{
    alert_config *cfg;
    alert_ctx *ctx;
    alert_config_new(&cfg);
    alert_config_set(cfg, "alerting", "[slack]", NULL);
    if (alert_ctx_create(&ctx, cfg, NULL) != ALERT_OK)
        return 1;
    alert_emit(ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "Hello from libalerting", NULL);
    int rc = alert_flush(ctx, 10000);
    printf("%s\n", rc == ALERT_OK ? "delivered" : alert_ctx_last_error(ctx));
    alert_ctx_destroy(ctx);
    alert_config_free(cfg);
    return rc == ALERT_OK ? 0 : 1;
}
