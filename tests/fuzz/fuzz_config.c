/* libFuzzer: any bytes as a YAML config file. Never a crash or leak; an error always
 * carries a code the API knows, and a line/column inside the input when it has one. */
#include <stdint.h>
#include <string.h>

#include "alerting.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    alert_config *cfg;
    if (alert_config_new(&cfg) != ALERT_OK)
        return 0;
    alert_error err = ALERT_ERROR_INIT;
    int rc = alert_config_load_string(cfg, (const char *)data, size, &err);
    if (rc != ALERT_OK && rc != ALERT_ERR_CONFIG && rc != ALERT_ERR_NOMEM)
        __builtin_trap();
    if (rc != ALERT_OK && (err.line < 0 || err.column < 0 || !memchr(err.text, 0, sizeof err.text)))
        __builtin_trap();
    /* the same bytes as one value of alert_config_set */
    char value[512];
    size_t n = size < sizeof value - 1 ? size : sizeof value - 1;
    memcpy(value, data, n);
    value[n] = '\0';
    alert_config_set(cfg, "alert_types", value, &err);
    alert_config_set(cfg, "alerting_args.rate_limits", value, &err);
    alert_config_free(cfg);
    return 0;
}
