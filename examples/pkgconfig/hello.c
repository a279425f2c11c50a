/* SPDX-License-Identifier: MIT */
/* hello: a program built only with `pkg-config --cflags --libs libalerting`, against an
 * installed libalerting (scripts/check-install.sh builds it against a `make install
 * DESTDIR=...` tree).
 *
 *   cc -o hello hello.c $(pkg-config --cflags --libs libalerting)
 *
 * It checks that the header and the library it runs with agree, then raises one alert and
 * delivers it through a custom transport, without a worker thread and without network. */
#include <alerting.h>
#include <stdio.h>
#include <string.h>

static int count_delivery(const alert_delivery *d, void *userdata)
{
    int *delivered = userdata;
    if (strcmp(d->alert_type, "llm_exceptions") == 0 && d->level == ALERT_LEVEL_HIGH)
        (*delivered)++;
    return ALERT_OK;
}

int main(void)
{
    if (alert_version() != ALERT_VERSION_NUM) {
        fprintf(stderr, "hello: header %s, library %s\n", ALERT_VERSION_STRING,
                alert_version_string());
        return 1;
    }
    int delivered = 0;
    alert_config *cfg;
    alert_ctx *ctx;
    alert_error err = ALERT_ERROR_INIT;
    alert_transport t = ALERT_TRANSPORT_INIT;
    t.send = count_delivery;
    if (alert_config_new(&cfg) != ALERT_OK)
        return 1;
    const char *yaml = "alerting: [counter]\n"
                       "alerting_args:\n"
                       "  worker_threads: 0\n"
                       "  shutdown_timeout: 0.2\n";
    if (alert_config_add_transport(cfg, "counter", &t, &delivered) != ALERT_OK ||
        alert_config_load_string(cfg, yaml, strlen(yaml), &err) != ALERT_OK ||
        alert_ctx_create(&ctx, cfg, &err) != ALERT_OK) {
        fprintf(stderr, "hello: %s\n", err.text);
        alert_config_free(cfg);
        return 1;
    }
    alert_config_free(cfg);
    int rc = alert_emit(ctx, "llm_exceptions", ALERT_LEVEL_HIGH, "hello from pkg-config", NULL);
    if (rc == ALERT_OK)
        rc = alert_flush(ctx, 5000);
    alert_ctx_destroy(ctx);
    if (rc != ALERT_OK || delivered != 1) {
        fprintf(stderr, "hello: %s, %d delivered\n", alert_strerror(rc), delivered);
        return 1;
    }
    printf("libalerting %s: 1 alert delivered\n", alert_version_string());
    return 0;
}
