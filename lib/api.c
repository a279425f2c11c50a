/* SPDX-License-Identifier: MIT */
/* Version, status codes, global init and the struct initialisers. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alerting.h"
#include "ctx.h"

unsigned alert_version(void)
{
    return ALERT_VERSION_NUM;
}

const char *alert_version_string(void)
{
    return ALERT_VERSION_STRING;
}

static const struct {
    int code;
    const char *name;
    const char *text;
} codes[] = {
    { ALERT_OK, "ALERT_OK", "success" },
    { ALERT_ERR_NOMEM, "ALERT_ERR_NOMEM", "out of memory" },
    { ALERT_ERR_INVALID, "ALERT_ERR_INVALID", "invalid argument" },
    { ALERT_ERR_VERSION, "ALERT_ERR_VERSION", "unsupported struct version" },
    { ALERT_ERR_CONFIG, "ALERT_ERR_CONFIG", "configuration error" },
    { ALERT_ERR_IO, "ALERT_ERR_IO", "input/output error" },
    { ALERT_ERR_TRANSPORT, "ALERT_ERR_TRANSPORT", "transport error" },
    { ALERT_ERR_NOT_FOUND, "ALERT_ERR_NOT_FOUND", "not found" },
    { ALERT_ERR_FULL, "ALERT_ERR_FULL", "capacity exhausted" },
    { ALERT_ERR_TIMEOUT, "ALERT_ERR_TIMEOUT", "timed out" },
    { ALERT_ERR_STATE, "ALERT_ERR_STATE", "wrong state for this call" },
    { ALERT_ERR_UNSUPPORTED, "ALERT_ERR_UNSUPPORTED", "not supported" },
    { ALERT_ERR_CALLBACK, "ALERT_ERR_CALLBACK", "callback failed" },
};

const char *alert_strerror(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (codes[i].code == code)
            return codes[i].text;
    return "unknown error";
}

const char *alert_err_name(int code)
{
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (codes[i].code == code)
            return codes[i].name;
    return "ALERT_ERR_UNKNOWN";
}

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static int global_refs;

int alert_global_init(void)
{
    int rc = ALERT_OK;
    pthread_mutex_lock(&global_lock);
    if (global_refs == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        rc = ALERT_ERR_NOMEM;
    if (rc == ALERT_OK)
        global_refs++;
    pthread_mutex_unlock(&global_lock);
    return rc;
}

void alert_global_cleanup(void)
{
    pthread_mutex_lock(&global_lock);
    if (global_refs > 0 && --global_refs == 0)
        curl_global_cleanup();
    pthread_mutex_unlock(&global_lock);
}

int al_check_version(const void *p, uint32_t max_version)
{
    if (!p)
        return ALERT_ERR_INVALID;
    uint32_t v;
    memcpy(&v, p, sizeof v);
    if (v == 0 || v > max_version)
        return ALERT_ERR_VERSION;
    return ALERT_OK;
}

/* A failed call on a context says why (alert_ctx_last_error): which argument, which
 * limit, which id. Only failure paths come here; the hooks' steady state never does. */
int al_ctx_fail(alert_ctx *ctx, int code, const char *fmt, ...)
{
    if (!ctx)
        return code;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    al_ctx_note(ctx, "%s", why);
    return code;
}

int al_ctx_check_version(alert_ctx *ctx, const char *fn, const char *type, const void *p,
                         uint32_t max_version)
{
    int rc = al_check_version(p, max_version);
    if (rc == ALERT_ERR_INVALID)
        return al_ctx_fail(ctx, rc, "%s: the %s is NULL", fn, type);
    if (rc != ALERT_OK) {
        uint32_t v;
        memcpy(&v, p, sizeof v);
        return al_ctx_fail(ctx, rc, "%s: %s version %u is not supported (this library knows 1..%u; "
                           "use the %s_init function)", fn, type, (unsigned)v, (unsigned)max_version, type);
    }
    return ALERT_OK;
}

/* The struct initialisers: for bindings, which cannot use the INIT macros. */
#define DEFINE_INIT(fn, type, max, init)                        \
    int fn(type *p, unsigned version)                           \
    {                                                           \
        if (!p)                                                 \
            return ALERT_ERR_INVALID;                           \
        if (version == 0 || version > (max))                    \
            return ALERT_ERR_VERSION;                           \
        type tmpl = init;                                       \
        *p = tmpl;                                              \
        p->version = version;                                   \
        return ALERT_OK;                                        \
    }

DEFINE_INIT(alert_request_init, alert_request, ALERT_REQUEST_VERSION, ALERT_REQUEST_INIT)
DEFINE_INIT(alert_response_init, alert_response, ALERT_RESPONSE_VERSION, ALERT_RESPONSE_INIT)
DEFINE_INIT(alert_failure_init, alert_failure, ALERT_FAILURE_VERSION, ALERT_FAILURE_INIT)
DEFINE_INIT(alert_spend_init, alert_spend, ALERT_SPEND_VERSION, ALERT_SPEND_INIT)
DEFINE_INIT(alert_budget_init, alert_budget, ALERT_BUDGET_VERSION, ALERT_BUDGET_INIT)
DEFINE_INIT(alert_stats_init, alert_stats, ALERT_STATS_VERSION, ALERT_STATS_INIT)
