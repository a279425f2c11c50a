/* SPDX-License-Identifier: MIT */
/* The config object: defaults, deep copies, and loading from YAML.
 *
 * Every load and every alert_config_set works on a scratch copy that replaces
 * the config only when the whole operation succeeded, so a failed load changes
 * nothing. Values are applied by walking the YAML tree with a table of keys
 * (name, where it may appear, how to apply it, its lower bound). */
#include "config.h"
#include "outage.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "buf.h"
#include "yamltree.h"

#define CFG_FIELD(cfg, off, type) ((type *)(void *)((char *)(cfg) + (off)))
#define CFG_CFIELD(cfg, off, type) ((const type *)(const void *)((const char *)(cfg) + (off)))

/* A config file larger than this is a mistake, not a config. */
#define CONFIG_MAX_FILE (64u << 20)

/* ---- string lists --------------------------------------------------------- */

int al_strlist_push(al_strlist *l, const char *s)
{
    if (!l || !s)
        return ALERT_ERR_INVALID;
    char *copy = al_strdup(s);
    if (!copy)
        return ALERT_ERR_NOMEM;
    char **items = al_realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items) {
        al_free(copy);
        return ALERT_ERR_NOMEM;
    }
    items[l->n++] = copy;
    l->items = items;
    return ALERT_OK;
}

void al_strlist_clear(al_strlist *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        al_free(l->items[i]);
    al_free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* dst is replaced only on success; on failure it is unchanged. */
int al_strlist_copy(al_strlist *dst, const al_strlist *src)
{
    al_strlist copy = { NULL, 0 };
    for (size_t i = 0; i < src->n; i++) {
        if (al_strlist_push(&copy, src->items[i]) != ALERT_OK) {
            al_strlist_clear(&copy);
            return ALERT_ERR_NOMEM;
        }
    }
    al_strlist_clear(dst);
    *dst = copy;
    return ALERT_OK;
}

static int strlist_has(const al_strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0)
            return 1;
    return 0;
}

/* ---- transports ------------------------------------------------------------- */

void al_transport_ref_retain(al_transport_ref *t)
{
    if (t)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void al_transport_ref_release(al_transport_ref *t)
{
    if (!t)
        return;
    /* acq_rel: the thread that frees must see every other holder's last use */
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (t->vt.destroy)
        t->vt.destroy(t->userdata);
    al_free(t->name);
    al_free(t);
}

/* ---- errors and logging ----------------------------------------------------- */

int al_error_set(alert_error *err, int code, const char *source, int line, int column,
                 const char *fmt, ...)
{
    if (!err)
        return code;
    uint32_t version = err->version ? err->version : ALERT_ERROR_VERSION;
    memset(err, 0, sizeof *err);
    err->version = version;
    err->code = code;
    err->line = line;
    err->column = column;
    snprintf(err->source, sizeof err->source, "%s", source ? source : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    return code;
}

void al_config_log(const alert_config *cfg, int level, const char *fmt, ...)
{
    if (!cfg || !cfg->log_fn)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cfg->log_fn(level, msg, cfg->log_ud);
}

/* ---- defaults, copy, release ------------------------------------------------ */

static const size_t config_strings[] = {
    offsetof(alert_config, state_path),
    offsetof(alert_config, instance_name),
    offsetof(alert_config, webhook_secret),
    offsetof(alert_config, ca_bundle),
    offsetof(alert_config, proxy),
    offsetof(alert_config, slack_webhook_url),
    offsetof(alert_config, discord_webhook_url),
    offsetof(alert_config, ms_teams_webhook_url),
    offsetof(alert_config, webhook_url),
    offsetof(alert_config, alertmanager_url),
    offsetof(alert_config, pagerduty_api_key),
    offsetof(alert_config, pagerduty_url),
    offsetof(alert_config, smtp_host),
    offsetof(alert_config, smtp_port),
    offsetof(alert_config, smtp_tls),
    offsetof(alert_config, smtp_username),
    offsetof(alert_config, smtp_password),
    offsetof(alert_config, smtp_sender_email),
    offsetof(alert_config, proxy_base_url),
    offsetof(alert_config, redis_url),
    offsetof(alert_config, fleet_name),
    offsetof(alert_config, cache_redis_host),
    offsetof(alert_config, cache_redis_port),
    offsetof(alert_config, cache_redis_password),
    offsetof(alert_config, cache_redis_username),
    offsetof(alert_config, cache_redis_db),
};
#define N_CONFIG_STRINGS (sizeof config_strings / sizeof config_strings[0])

static void set_default_thresholds(alert_config *cfg)
{
    cfg->budget_alert_thresholds[0] = 85;
    cfg->budget_alert_thresholds[1] = 95;
    strcpy(cfg->budget_alert_threshold_text[0], "85");
    strcpy(cfg->budget_alert_threshold_text[1], "95");
    cfg->n_budget_alert_thresholds = 2;
}

/* cfg must own nothing: it is overwritten. */
void al_config_defaults(alert_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    /* the LiteLLM proxy's default when its config omits the key (SlackAlerting's own
     * default, 300, is not what a proxy user gets) */
    cfg->alerting_threshold = 600;
    strcpy(cfg->alerting_threshold_text, "600");
    cfg->alert_types = al_type_default_mask();
    for (int i = 0; i < AL_T__COUNT; i++)
        cfg->type_conf[i].digest_interval = 86400;
    cfg->spend_report_days = 7;

    cfg->daily_report_frequency = 43200;
    cfg->report_check_interval = 300;
    cfg->budget_alert_ttl = 86400;
    cfg->outage_alert_ttl = 60;
    cfg->region_outage_alert_ttl = 60;
    cfg->minor_outage_alert_threshold = 5;
    cfg->major_outage_alert_threshold = 10;
    cfg->max_outage_alert_list_size = 10;
    set_default_thresholds(cfg);
    cfg->daily_spend_per_user_threshold = -1;
    cfg->monthly_spend_per_user_threshold = -1;
    cfg->spend_anomaly_multiplier = 3.0;
    cfg->spend_anomaly_baseline_days = 7;
    cfg->spend_anomaly_min_spend = 10.0;
    cfg->user_spend_check_interval = 3600;
    cfg->failure_threshold = 60;
    cfg->failure_threshold_window_seconds = 60;
    cfg->hanging_threshold_seconds = 60;
    cfg->hanging_threshold_fails = 60;
    cfg->hanging_threshold_window_seconds = 600;

    cfg->flush_interval = 5;
    cfg->batch_size = 512;
    cfg->delivery_deadline = 86400;
    cfg->max_queue = 100000;
    cfg->http_timeout = 15;
    cfg->shutdown_timeout = 5;
    cfg->worker_threads = 1;
    cfg->max_inflight = 1000000;
    cfg->event_queue_size = 65536;
    cfg->max_tracked_deployments = 10000;
    cfg->alertmanager_resolve_after = 3600;
    cfg->customer_spend_webhook = 1;         /* as LiteLLM, when webhook is a destination */
    cfg->webhook_alert_types = 1u << AL_T_BUDGET_ALERTS;
    cfg->email_alert_types = 1u << AL_T_BUDGET_ALERTS;
    cfg->fleet = AL_FLEET_AUTO;
    cfg->fleet_sync_interval = 1;
    cfg->fleet_timeout = 0.25;
    cfg->fleet_claim_timeout = 2;
    cfg->fleet_takeover_after = 30;
    cfg->fleet_report_grace = 600;
    cfg->fleet_rate_limits = 1;
}

static void budget_decl_free(al_budget_decl *b)
{
    al_free(b->id);
    al_free(b->budget_duration);
}

static void budgets_free(alert_config *cfg)
{
    for (size_t i = 0; i < cfg->n_budgets; i++)
        budget_decl_free(&cfg->budgets[i]);
    al_free(cfg->budgets);
    cfg->budgets = NULL;
    cfg->n_budgets = 0;
}

static void rate_limits_free(alert_config *cfg)
{
    for (size_t i = 0; i < cfg->n_rate_limits; i++) {
        al_free(cfg->rate_limits[i].destination);
        al_free(cfg->rate_limits[i].spec);
    }
    al_free(cfg->rate_limits);
    cfg->rate_limits = NULL;
    cfg->n_rate_limits = 0;
}

/* Safe to call twice: everything it frees is reset. */
void al_config_release(alert_config *cfg)
{
    if (!cfg)
        return;
    al_strlist_clear(&cfg->alerting);
    for (int i = 0; i < AL_T__COUNT; i++)
        al_strlist_clear(&cfg->alert_to_webhook_url[i]);
    al_strlist_clear(&cfg->email_recipients);
    al_strlist_clear(&cfg->env_overlay);
    budgets_free(cfg);
    rate_limits_free(cfg);
    for (size_t i = 0; i < N_CONFIG_STRINGS; i++) {
        char **s = CFG_FIELD(cfg, config_strings[i], char *);
        al_free(*s);
        *s = NULL;
    }
    for (size_t i = 0; i < cfg->n_transports; i++)
        al_transport_ref_release(cfg->transports[i]);
    al_free(cfg->transports);
    cfg->transports = NULL;
    cfg->n_transports = 0;
}

/* Forgets (without freeing) what a shallow copy shares with its source. */
static void config_detach(alert_config *cfg)
{
    memset(&cfg->alerting, 0, sizeof cfg->alerting);
    memset(cfg->alert_to_webhook_url, 0, sizeof cfg->alert_to_webhook_url);
    memset(&cfg->email_recipients, 0, sizeof cfg->email_recipients);
    memset(&cfg->env_overlay, 0, sizeof cfg->env_overlay);
    cfg->budgets = NULL;
    cfg->n_budgets = 0;
    cfg->rate_limits = NULL;
    cfg->n_rate_limits = 0;
    for (size_t i = 0; i < N_CONFIG_STRINGS; i++)
        *CFG_FIELD(cfg, config_strings[i], char *) = NULL;
    cfg->transports = NULL;
    cfg->n_transports = 0;
}

static int copy_string(char **dst, const char *src)
{
    *dst = al_strdup(src);
    return src && !*dst ? ALERT_ERR_NOMEM : ALERT_OK;
}

static int copy_budgets(alert_config *dst, const alert_config *src)
{
    if (!src->n_budgets)
        return ALERT_OK;
    dst->budgets = al_calloc(src->n_budgets, sizeof *dst->budgets);
    if (!dst->budgets)
        return ALERT_ERR_NOMEM;
    for (size_t i = 0; i < src->n_budgets; i++) {
        al_budget_decl *b = &dst->budgets[i];
        *b = src->budgets[i];
        int rc = copy_string(&b->id, src->budgets[i].id);
        int rc2 = copy_string(&b->budget_duration, src->budgets[i].budget_duration);
        dst->n_budgets = i + 1;
        if (rc || rc2)
            return ALERT_ERR_NOMEM;
    }
    return ALERT_OK;
}

static int copy_rate_limits(alert_config *dst, const alert_config *src)
{
    if (!src->n_rate_limits)
        return ALERT_OK;
    dst->rate_limits = al_calloc(src->n_rate_limits, sizeof *dst->rate_limits);
    if (!dst->rate_limits)
        return ALERT_ERR_NOMEM;
    for (size_t i = 0; i < src->n_rate_limits; i++) {
        al_rate_limit *r = &dst->rate_limits[i];
        int rc = copy_string(&r->destination, src->rate_limits[i].destination);
        int rc2 = copy_string(&r->spec, src->rate_limits[i].spec);
        dst->n_rate_limits = i + 1;
        if (rc || rc2)
            return ALERT_ERR_NOMEM;
    }
    return ALERT_OK;
}

static int copy_transports(alert_config *dst, const alert_config *src)
{
    if (!src->n_transports)
        return ALERT_OK;
    dst->transports = al_calloc(src->n_transports, sizeof *dst->transports);
    if (!dst->transports)
        return ALERT_ERR_NOMEM;
    for (size_t i = 0; i < src->n_transports; i++) {
        al_transport_ref_retain(src->transports[i]);
        dst->transports[i] = src->transports[i];
    }
    dst->n_transports = src->n_transports;
    return ALERT_OK;
}

static int copy_owned(alert_config *dst, const alert_config *src)
{
    if (al_strlist_copy(&dst->alerting, &src->alerting) ||
        al_strlist_copy(&dst->email_recipients, &src->email_recipients) ||
        al_strlist_copy(&dst->env_overlay, &src->env_overlay))
        return ALERT_ERR_NOMEM;
    for (int i = 0; i < AL_T__COUNT; i++)
        if (al_strlist_copy(&dst->alert_to_webhook_url[i], &src->alert_to_webhook_url[i]))
            return ALERT_ERR_NOMEM;
    for (size_t i = 0; i < N_CONFIG_STRINGS; i++)
        if (copy_string(CFG_FIELD(dst, config_strings[i], char *),
                        *CFG_CFIELD(src, config_strings[i], char *)))
            return ALERT_ERR_NOMEM;
    if (copy_budgets(dst, src) || copy_rate_limits(dst, src))
        return ALERT_ERR_NOMEM;
    return copy_transports(dst, src);
}

/* dst is uninitialised memory; on failure it owns nothing. */
int al_config_copy(alert_config *dst, const alert_config *src)
{
    *dst = *src;
    config_detach(dst);
    if (copy_owned(dst, src) != ALERT_OK) {
        al_config_release(dst);
        return ALERT_ERR_NOMEM;
    }
    return ALERT_OK;
}

/* ---- one load or set ---------------------------------------------------------- */

typedef struct cfg_op {
    alert_config *cfg;          /* the scratch copy */
    alert_config defaults;      /* what a null value resets a field to */
    const char *source;         /* file name, "<string>" or the key */
    alert_error *err;
    char path[256];             /* dotted path of the value being applied */
    int redact;                 /* redact_messages_in_exceptions; -1: not given */
    int turn_off;               /* turn_off_message_logging; -1: not given */
} cfg_op;

static int looks_secret(const char *s);

/* A key that looks like a URL or a secret is named by what it looks like: the
 * path goes into error texts and warnings. */
static size_t path_push(cfg_op *op, const char *segment)
{
    if (looks_secret(segment))
        segment = "(a key that looks like a URL or a secret, not shown)";
    size_t old = strlen(op->path);
    snprintf(op->path + old, sizeof op->path - old, "%s%s", old ? "." : "", segment);
    return old;
}

static size_t path_push_index(cfg_op *op, size_t index)
{
    size_t old = strlen(op->path);
    snprintf(op->path + old, sizeof op->path - old, "[%zu]", index);
    return old;
}

static void path_pop(cfg_op *op, size_t old)
{
    op->path[old] = '\0';
}

__attribute__((format(printf, 3, 4)))
static int op_fail(cfg_op *op, const al_ynode *at, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return al_error_set(op->err, ALERT_ERR_CONFIG, op->source, at ? at->line : 0,
                        at ? at->column : 0, "%s%s%s", op->path, op->path[0] ? ": " : "", msg);
}

static int op_nomem(cfg_op *op)
{
    return al_error_set(op->err, ALERT_ERR_NOMEM, op->source, 0, 0, "out of memory");
}

static void op_warn_unknown(cfg_op *op, const al_ynode *key, const char *hint)
{
    if (key->line)
        al_config_log(op->cfg, ALERT_LOG_WARNING, "unknown key '%s' at %s:%d:%d%s", op->path,
                      op->source, key->line, key->column, hint);
    else
        al_config_log(op->cfg, ALERT_LOG_WARNING, "unknown key '%s'%s", op->path, hint);
}

/* A name that may be a secret pasted in the wrong place: a URL or path, an
 * address, or a long run of letters mixed with digits (an API or routing key).
 * Names are short words joined by '_' or '-' ("team-alerts-2" stays a name). */
static int looks_secret(const char *s)
{
    size_t len = strlen(s);
    if (len > 64 || strstr(s, "://") || strchr(s, '@') || strchr(s, '/'))
        return 1;
    if (len < 20)
        return 0;
    int letters = 0, digits = 0;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits = 1;
        else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
            letters = 1;
        else
            return 0;
    }
    return letters && digits;
}

/* Names echoed in error texts: a secret pasted in the wrong place is not repeated. */
static const char *shown_name(const char *s)
{
    return looks_secret(s) ? "(an entry that looks like a URL or a secret, not shown)" : s;
}

/* ---- scalar values ------------------------------------------------------------ */

/* The text of a scalar with os.environ/NAME resolved (compat). *plain tells whether
 * YAML's plain words (true, .inf) mean what they mean unquoted. */
static int scalar_text(cfg_op *op, const al_ynode *v, const char **out, int *plain)
{
    *out = "";
    *plain = 0;
    if (v->kind == AL_Y_SEQUENCE)
        return op_fail(op, v, "expected a single value, not a list");
    if (v->kind == AL_Y_MAPPING)
        return op_fail(op, v, "expected a single value, not a mapping");
    if (strlen(v->text) != v->len)
        return op_fail(op, v, "contains a NUL character");
    static const char env_prefix[] = "os.environ/";
    if (strncmp(v->text, env_prefix, sizeof env_prefix - 1) == 0) {
        const char *name = v->text + sizeof env_prefix - 1;
        if (!*name)
            return op_fail(op, v, "os.environ/ needs a variable name");
        const char *value = al_config_getenv(op->cfg, name);
        if (!value)
            return op_fail(op, v, "environment variable %s is not set", name);
        *out = value;
        *plain = 1;
        return ALERT_OK;
    }
    *out = v->text;
    *plain = !v->quoted;
    return ALERT_OK;
}

static int is_bool_word(const char *s)
{
    static const char *const words[] = { "true", "false", "yes", "no", "on", "off" };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    return 0;
}

static int is_nonfinite_word(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    return strcasecmp(s, ".inf") == 0 || strcasecmp(s, ".nan") == 0 ||
           strcasecmp(s, "inf") == 0 || strcasecmp(s, "nan") == 0 ||
           strcasecmp(s, "infinity") == 0;
}

/* Decimal YAML numbers: sign, digits, fraction, exponent, "_" separators.
 * 0: a number (norm holds it without "_" and "+"), -1: not a number, -2: not finite. */
static int parse_number(const char *s, double *out, char norm[64])
{
    if (is_nonfinite_word(s))
        return -2;
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '_')
            continue;
        if (n >= 63)
            return -1;
        norm[n++] = *p;
    }
    norm[n] = '\0';
    const char *p = norm;
    if (*p == '+' || *p == '-')
        p++;
    size_t digits = strspn(p, "0123456789");
    p += digits;
    if (*p == '.') {
        size_t frac = strspn(p + 1, "0123456789");
        digits += frac;
        p += 1 + frac;
    }
    if (digits == 0)
        return -1;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t exp = strspn(p, "0123456789");
        if (exp == 0)
            return -1;
        p += exp;
    }
    if (*p)
        return -1;
    double d = strtod(norm, NULL);
    if (!isfinite(d))
        return -2;
    if (norm[0] == '+')
        memmove(norm, norm + 1, strlen(norm));
    *out = d;
    return 0;
}

/* norm (64 bytes, may be NULL) receives the number as written. */
static int get_number(cfg_op *op, const al_ynode *v, double *out, char *norm)
{
    const char *s;
    int plain;
    int rc = scalar_text(op, v, &s, &plain);
    if (rc)
        return rc;
    if (plain && is_bool_word(s))
        return op_fail(op, v, "expected a number, not a boolean");
    char local[64];
    switch (parse_number(s, out, norm ? norm : local)) {
    case 0:
        return ALERT_OK;
    case -2:
        return op_fail(op, v, "must be a finite number");
    default:
        return op_fail(op, v, "expected a number");
    }
}

static int check_min(cfg_op *op, const al_ynode *v, double d, double min, int exclusive)
{
    if (d < 0 && min >= 0)
        return op_fail(op, v, "must not be negative");
    if (exclusive && d <= min)
        return op_fail(op, v, "must be greater than %g", min);
    if (d < min)
        return op_fail(op, v, "must be at least %g", min);
    return ALERT_OK;
}

/* Every duration in seconds is 0 (only where zero_ok) or within
 * [AL_DURATION_MIN_S, AL_DURATION_MAX_S]: converted to milliseconds it is never 0
 * by accident ("no timeout") and never overflows int64. */
static int check_duration(cfg_op *op, const al_ynode *v, double d, int zero_ok)
{
    if (d < 0)
        return op_fail(op, v, "must not be negative");
    if (d == 0 && zero_ok)
        return ALERT_OK;
    if (d == 0)
        return op_fail(op, v, "must be greater than 0");
    if (d < AL_DURATION_MIN_S)
        return op_fail(op, v, "must be %sat least %g seconds", zero_ok ? "0 or " : "",
                       AL_DURATION_MIN_S);
    if (d > AL_DURATION_MAX_S)
        return op_fail(op, v, "must be at most %.0f seconds (a year)", AL_DURATION_MAX_S);
    return ALERT_OK;
}

static int get_int(cfg_op *op, const al_ynode *v, int64_t *out)
{
    double d;
    int rc = get_number(op, v, &d, NULL);
    if (rc)
        return rc;
    if (d != floor(d))
        return op_fail(op, v, "expected a whole number");
    if (fabs(d) > 9.0e18)
        return op_fail(op, v, "is too large");
    *out = (int64_t)d;
    return ALERT_OK;
}

static int get_bool(cfg_op *op, const al_ynode *v, int *out)
{
    const char *s;
    int plain;
    int rc = scalar_text(op, v, &s, &plain);
    if (rc)
        return rc;
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0)
        *out = 1;
    else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
             strcasecmp(s, "off") == 0)
        *out = 0;
    else
        return op_fail(op, v, "expected true or false");
    return ALERT_OK;
}

/* An empty string means unset (NULL), as LiteLLM treats an empty value as absent. */
static int get_string(cfg_op *op, const al_ynode *v, char **out)
{
    const char *s;
    int plain;
    int rc = scalar_text(op, v, &s, &plain);
    if (rc)
        return rc;
    if (!*s) {
        *out = NULL;
        return ALERT_OK;
    }
    *out = al_strdup(s);
    return *out ? ALERT_OK : op_nomem(op);
}

typedef int (*string_item_fn)(cfg_op *op, const al_ynode *at, const char *s, void *ud);

static int string_item(cfg_op *op, const al_ynode *item, string_item_fn fn, void *ud)
{
    if (al_ynode_is_null(item))
        return op_fail(op, item, "expected a value");
    const char *s;
    int plain;
    int rc = scalar_text(op, item, &s, &plain);
    if (rc)
        return rc;
    if (!*s)
        return op_fail(op, item, "must not be empty");
    return fn(op, item, s, ud);
}

/* A string or a list of strings (v not null). */
static int each_string(cfg_op *op, const al_ynode *v, string_item_fn fn, void *ud)
{
    if (v->kind == AL_Y_MAPPING)
        return op_fail(op, v, "expected a list, not a mapping");
    if (v->kind == AL_Y_SCALAR)
        return string_item(op, v, fn, ud);
    /* checked before the items: the duplicate checks are quadratic */
    if (v->n > AL_MAX_LIST_ENTRIES)
        return op_fail(op, v, "a list of %zu entries: at most %d", v->n, AL_MAX_LIST_ENTRIES);
    for (size_t i = 0; i < v->n; i++) {
        size_t old = path_push_index(op, i);
        int rc = string_item(op, v->items[i], fn, ud);
        path_pop(op, old);
        if (rc)
            return rc;
    }
    return ALERT_OK;
}

static int push_unique(cfg_op *op, const al_ynode *at, const char *s, void *ud)
{
    al_strlist *l = ud;
    if (strlist_has(l, s))
        return ALERT_OK;
    return al_strlist_push(l, s) ? op_nomem(op) : ALERT_OK;
}

typedef int (*entry_fn)(cfg_op *op, const al_ynode *key, const al_ynode *value);

static int each_entry(cfg_op *op, const al_ynode *map, entry_fn fn)
{
    if (map->kind != AL_Y_MAPPING)
        return op_fail(op, map, "expected a mapping");
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const al_ynode *key = map->items[i];
        if (key->kind != AL_Y_SCALAR)
            return op_fail(op, key, "expected a key name");
        size_t old = path_push(op, key->text);
        int rc = fn(op, key, map->items[i + 1]);
        path_pop(op, old);
        if (rc)
            return rc;
    }
    return ALERT_OK;
}

/* ---- the keys ----------------------------------------------------------------- */

enum key_scope {
    KEY_GENERAL,        /* general_settings only */
    KEY_ARGS,           /* LiteLLM's alerting_args: only under alerting_args */
    KEY_OURS            /* under alerting_args or general_settings; alerting_args wins */
};

typedef struct key_spec key_spec;
typedef int (*apply_fn)(cfg_op *op, const key_spec *k, const al_ynode *v);

struct key_spec {
    const char *name;
    enum key_scope scope;
    apply_fn apply;
    size_t offset;          /* of the field, for the generic apply functions */
    double min;             /* the smallest accepted number */
    int exclusive;          /* 1: the number must be greater than min */
};

static int apply_double(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    double *field = CFG_FIELD(op->cfg, k->offset, double);
    if (al_ynode_is_null(v)) {
        *field = *CFG_CFIELD(&op->defaults, k->offset, double);
        return ALERT_OK;
    }
    double d;
    int rc = get_number(op, v, &d, NULL);
    if (!rc)
        rc = check_min(op, v, d, k->min, k->exclusive);
    if (!rc)
        *field = d;
    return rc;
}

/* Seconds; k->exclusive 0 lets 0 through (it means something documented). */
static int apply_duration(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    double *field = CFG_FIELD(op->cfg, k->offset, double);
    if (al_ynode_is_null(v)) {
        *field = *CFG_CFIELD(&op->defaults, k->offset, double);
        return ALERT_OK;
    }
    double d;
    int rc = get_number(op, v, &d, NULL);
    if (!rc)
        rc = check_duration(op, v, d, !k->exclusive);
    if (!rc)
        *field = d;
    return rc;
}

static int apply_daily_frequency(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    int rc = apply_duration(op, k, v);
    if (!rc)
        op->cfg->daily_report_frequency_set = !al_ynode_is_null(v);
    return rc;
}

static int apply_int(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    int64_t *field = CFG_FIELD(op->cfg, k->offset, int64_t);
    if (al_ynode_is_null(v)) {
        *field = *CFG_CFIELD(&op->defaults, k->offset, int64_t);
        return ALERT_OK;
    }
    int64_t n = 0;
    int rc = get_int(op, v, &n);
    if (!rc)
        rc = check_min(op, v, (double)n, k->min, k->exclusive);
    if (!rc)
        *field = n;
    return rc;
}

/* Outage windows keep one timestamp per counted failure up to the threshold: bounded. */
static int apply_outage_threshold(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    int rc = apply_int(op, k, v);
    if (rc == ALERT_OK && *CFG_FIELD(op->cfg, k->offset, int64_t) > AL_OUTAGE_MAX_THRESHOLD)
        return op_fail(op, v, "must be at most %d", AL_OUTAGE_MAX_THRESHOLD);
    return rc;
}

/* The spend ledger keeps a day per baseline day: bounded. */
static int apply_baseline_days(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    int rc = apply_int(op, k, v);
    if (rc == ALERT_OK && *CFG_FIELD(op->cfg, k->offset, int64_t) > AL_MAX_BASELINE_DAYS)
        return op_fail(op, v, "must be at most %d", AL_MAX_BASELINE_DAYS);
    return rc;
}

static int apply_bool(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    int *field = CFG_FIELD(op->cfg, k->offset, int);
    if (al_ynode_is_null(v)) {
        *field = *CFG_CFIELD(&op->defaults, k->offset, int);
        return ALERT_OK;
    }
    return get_bool(op, v, field);
}

/* fleet: auto, true or false */
static int apply_fleet(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    if (al_ynode_is_null(v)) {
        op->cfg->fleet = AL_FLEET_AUTO;
        return ALERT_OK;
    }
    if (v->kind == AL_Y_SCALAR && v->text && strcmp(v->text, "auto") == 0) {
        op->cfg->fleet = AL_FLEET_AUTO;
        return ALERT_OK;
    }
    int on = 0;
    int rc = get_bool(op, v, &on);
    if (rc)
        return op_fail(op, v, "expected auto, true or false");
    op->cfg->fleet = on ? AL_FLEET_ON : AL_FLEET_OFF;
    return ALERT_OK;
}

static int apply_string(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    char **field = CFG_FIELD(op->cfg, k->offset, char *);
    char *s = NULL;
    if (!al_ynode_is_null(v)) {
        int rc = get_string(op, v, &s);
        if (rc)
            return rc;
    }
    al_free(*field);
    *field = s;
    return ALERT_OK;
}

static int apply_strlist(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    al_strlist *field = CFG_FIELD(op->cfg, k->offset, al_strlist);
    al_strlist_clear(field);
    return al_ynode_is_null(v) ? ALERT_OK : each_string(op, v, push_unique, field);
}

static void copy_number_text(char *dst, size_t size, const char *norm, double d)
{
    if (strlen(norm) < size)
        memcpy(dst, norm, strlen(norm) + 1);
    else
        snprintf(dst, size, "%.8g", d);
}

static int apply_threshold(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    alert_config *cfg = op->cfg;
    if (al_ynode_is_null(v)) {
        cfg->alerting_threshold = op->defaults.alerting_threshold;
        strcpy(cfg->alerting_threshold_text, op->defaults.alerting_threshold_text);
        return ALERT_OK;
    }
    double d;
    char norm[64];
    int rc = get_number(op, v, &d, norm);
    if (!rc)
        rc = check_duration(op, v, d, 0);
    if (rc)
        return rc;
    cfg->alerting_threshold = d;
    copy_number_text(cfg->alerting_threshold_text, sizeof cfg->alerting_threshold_text, norm, d);
    return ALERT_OK;
}

typedef struct alerting_ctx {
    al_strlist *list;
    int sentry_warned;
} alerting_ctx;

static int alerting_item(cfg_op *op, const al_ynode *at, const char *s, void *ud)
{
    alerting_ctx *a = ud;
    /* alerting: [os.environ/SLACK_WEBHOOK_URL] is an easy mistake to make */
    if (looks_secret(s))
        return op_fail(op, at, "an entry that looks like a URL or a secret is not a destination "
                               "name (set the URL with slack_webhook_url and the like)");
    /* LiteLLM knows Sentry; we do not deliver to it, but its configs must still load */
    if (strcmp(s, "sentry") == 0) {
        if (!a->sentry_warned)
            al_config_log(op->cfg, ALERT_LOG_WARNING,
                          "alerting: 'sentry' is not supported by libalerting and is ignored");
        a->sentry_warned = 1;
        return ALERT_OK;
    }
    return push_unique(op, at, s, a->list);
}

static int apply_alerting(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    alert_config *cfg = op->cfg;
    al_strlist_clear(&cfg->alerting);
    cfg->alerting_set = 0;
    if (al_ynode_is_null(v))
        return ALERT_OK;
    alerting_ctx a = { &cfg->alerting, 0 };
    int rc = each_string(op, v, alerting_item, &a);
    if (!rc)
        cfg->alerting_set = 1;
    return rc;
}

/* An unknown type name is a warning, not an error: LiteLLM tolerates it, and a
 * LiteLLM config must never stop the host. */
static void warn_unknown_type(cfg_op *op, const al_ynode *at, const char *s)
{
    if (at && at->line)
        al_config_log(op->cfg, ALERT_LOG_WARNING, "%s: unknown alert type '%s' at %s:%d:%d is "
                      "ignored", op->path, shown_name(s), op->source, at->line, at->column);
    else
        al_config_log(op->cfg, ALERT_LOG_WARNING, "%s: unknown alert type '%s' is ignored",
                      op->path, shown_name(s));
}

static int alert_type_item(cfg_op *op, const al_ynode *at, const char *s, void *ud)
{
    uint32_t *mask = ud;
    int type = al_type_from_name(s);
    if (type < 0)
        warn_unknown_type(op, at, s);
    else
        *mask |= 1u << type;
    return ALERT_OK;
}

static int apply_alert_types(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    if (al_ynode_is_null(v)) {
        op->cfg->alert_types = op->defaults.alert_types;
        return ALERT_OK;
    }
    uint32_t mask = 0;
    int rc = each_string(op, v, alert_type_item, &mask);
    if (!rc)
        op->cfg->alert_types = mask;
    return rc;
}

/* webhook_alert_types, email_alert_types: the list replaces the default. */
static int apply_type_mask(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    uint32_t *field = CFG_FIELD(op->cfg, k->offset, uint32_t);
    if (al_ynode_is_null(v)) {
        *field = *CFG_CFIELD(&op->defaults, k->offset, uint32_t);
        return ALERT_OK;
    }
    uint32_t mask = 0;
    int rc = each_string(op, v, alert_type_item, &mask);
    if (!rc)
        *field = mask;
    return rc;
}

/* A key naming an alert type: its index, or -1 after a warning (the entry is
 * ignored, as LiteLLM ignores it). */
static int type_key(cfg_op *op, const al_ynode *key)
{
    int type = al_type_from_name(key->text);
    if (type < 0)
        warn_unknown_type(op, key, key->text);
    return type;
}

/* One channel of alert_to_webhook_url. LiteLLM's own docs show "" for a channel
 * left to fill in: empty is a warning and the channel stays unset (a value that is
 * no usable URL is found at alert_ctx_create, and treated the same way). */
static int route_item(cfg_op *op, const al_ynode *item, al_strlist *urls)
{
    if (al_ynode_is_null(item)) {
        al_config_log(op->cfg, ALERT_LOG_WARNING, "%s: an empty channel is ignored", op->path);
        return ALERT_OK;
    }
    const char *s;
    int plain;
    int rc = scalar_text(op, item, &s, &plain);
    if (rc)
        return rc;
    if (!*s) {
        al_config_log(op->cfg, ALERT_LOG_WARNING, "%s: an empty channel is ignored", op->path);
        return ALERT_OK;
    }
    return push_unique(op, item, s, urls);
}

static int route_entry(cfg_op *op, const al_ynode *key, const al_ynode *v)
{
    int type = type_key(op, key);
    if (type < 0)
        return ALERT_OK;
    al_strlist *urls = &op->cfg->alert_to_webhook_url[type];
    al_strlist_clear(urls);
    if (al_ynode_is_null(v))
        return ALERT_OK;
    if (v->kind == AL_Y_MAPPING)
        return op_fail(op, v, "expected a list, not a mapping");
    if (v->kind == AL_Y_SCALAR)
        return route_item(op, v, urls);
    if (v->n > AL_MAX_LIST_ENTRIES)
        return op_fail(op, v, "a list of %zu entries: at most %d", v->n, AL_MAX_LIST_ENTRIES);
    for (size_t i = 0; i < v->n; i++) {
        size_t old = path_push_index(op, i);
        int rc = route_item(op, v->items[i], urls);
        path_pop(op, old);
        if (rc)
            return rc;
    }
    return ALERT_OK;
}

/* LiteLLM merges alert_to_webhook_url into what it had; so do we, per type. */
static int apply_routes(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    if (al_ynode_is_null(v)) {
        for (int i = 0; i < AL_T__COUNT; i++)
            al_strlist_clear(&op->cfg->alert_to_webhook_url[i]);
        return ALERT_OK;
    }
    return each_entry(op, v, route_entry);
}

static int type_conf_field(cfg_op *op, const al_ynode *key, const al_ynode *v, al_type_conf *tc)
{
    if (strcmp(key->text, "digest") == 0) {
        if (al_ynode_is_null(v)) {
            tc->digest = 0;
            return ALERT_OK;
        }
        return get_bool(op, v, &tc->digest);
    }
    if (strcmp(key->text, "digest_interval") == 0) {
        if (al_ynode_is_null(v)) {
            tc->digest_interval = 86400;
            return ALERT_OK;
        }
        double d;
        int rc = get_number(op, v, &d, NULL);
        if (!rc)
            rc = check_duration(op, v, d, 0);
        if (!rc)
            tc->digest_interval = d;
        return rc;
    }
    op_warn_unknown(op, key, "");
    return ALERT_OK;
}

static int type_conf_entry(cfg_op *op, const al_ynode *key, const al_ynode *v)
{
    int rc = ALERT_OK;
    int type = type_key(op, key);
    if (type < 0)
        return ALERT_OK;
    al_type_conf *tc = &op->cfg->type_conf[type];
    if (al_ynode_is_null(v)) {
        *tc = op->defaults.type_conf[type];
        return ALERT_OK;
    }
    if (v->kind != AL_Y_MAPPING)
        return op_fail(op, v, "expected a mapping with digest and digest_interval");
    for (size_t i = 0; i + 1 < v->n && !rc; i += 2) {
        const al_ynode *field = v->items[i];
        if (field->kind != AL_Y_SCALAR)
            return op_fail(op, field, "expected a key name");
        size_t old = path_push(op, field->text);
        rc = type_conf_field(op, field, v->items[i + 1], tc);
        path_pop(op, old);
    }
    return rc;
}

static int apply_type_config(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    if (al_ynode_is_null(v)) {
        memcpy(op->cfg->type_conf, op->defaults.type_conf, sizeof op->cfg->type_conf);
        return ALERT_OK;
    }
    return each_entry(op, v, type_conf_entry);
}

/* "<digits><unit>" with a value of at least 1; *rest points past the digits. */
static int leading_count(const char *s, long *count, const char **rest)
{
    size_t digits = strspn(s, "0123456789");
    if (digits == 0 || digits > 6)
        return -1;
    *count = strtol(s, NULL, 10);
    *rest = s + digits;
    return *count >= 1 ? 0 : -1;
}

static int apply_spend_frequency(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    if (al_ynode_is_null(v)) {
        op->cfg->spend_report_days = op->defaults.spend_report_days;
        return ALERT_OK;
    }
    const char *s, *rest;
    int plain;
    long days;
    int rc = scalar_text(op, v, &s, &plain);
    if (rc)
        return rc;
    if (leading_count(s, &days, &rest) || strcmp(rest, "d") != 0)
        return op_fail(op, v, "expected '<N>d' (days, N at least 1)");
    if (days > AL_MAX_REPORT_DAYS)
        return op_fail(op, v, "must be at most %dd", AL_MAX_REPORT_DAYS);
    op->cfg->spend_report_days = (int)days;
    return ALERT_OK;
}

static int duration_valid(const char *s)
{
    const char *unit;
    long n;
    if (leading_count(s, &n, &unit))
        return 0;
    return strcmp(unit, "s") == 0 || strcmp(unit, "m") == 0 || strcmp(unit, "h") == 0 ||
           strcmp(unit, "d") == 0 || strcmp(unit, "mo") == 0;
}

static int entity_from_name(const char *s)
{
    static const struct { const char *name; int entity; } names[] = {
        { "key", ALERT_ENTITY_KEY }, { "user", ALERT_ENTITY_USER },
        { "end_user", ALERT_ENTITY_END_USER }, { "team", ALERT_ENTITY_TEAM },
        { "team_member", ALERT_ENTITY_TEAM_MEMBER },
        { "organization", ALERT_ENTITY_ORGANIZATION }, { "project", ALERT_ENTITY_PROJECT },
        { "proxy", ALERT_ENTITY_PROXY },
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0)
            return names[i].entity;
    return 0;
}

static int budget_amount(cfg_op *op, const al_ynode *v, double *out)
{
    if (al_ynode_is_null(v)) {
        *out = -1;
        return ALERT_OK;
    }
    return get_number(op, v, out, NULL);
}

static int budget_entity(cfg_op *op, const al_ynode *v, al_budget_decl *b)
{
    if (al_ynode_is_null(v))
        return op_fail(op, v, "expected an entity name");
    const char *s;
    int plain;
    int rc = scalar_text(op, v, &s, &plain);
    if (rc)
        return rc;
    b->entity = entity_from_name(s);
    return b->entity ? ALERT_OK : op_fail(op, v, "unknown entity '%s'", shown_name(s));
}

/* A duplicate key within one budget replaces the earlier value. */
static int budget_text(cfg_op *op, const al_ynode *v, char **field)
{
    al_free(*field);
    *field = NULL;
    return al_ynode_is_null(v) ? ALERT_OK : get_string(op, v, field);
}

static int budget_field(cfg_op *op, const al_ynode *key, const al_ynode *v, al_budget_decl *b)
{
    const char *name = key->text;
    if (strcmp(name, "entity") == 0)
        return budget_entity(op, v, b);
    if (strcmp(name, "id") == 0)
        return budget_text(op, v, &b->id);
    if (strcmp(name, "budget_duration") == 0) {
        int rc = budget_text(op, v, &b->budget_duration);
        if (!rc && b->budget_duration && !duration_valid(b->budget_duration))
            rc = op_fail(op, v, "expected '<N>s', '<N>m', '<N>h', '<N>d' or '<N>mo'");
        return rc;
    }
    if (strcmp(name, "max_budget") == 0)
        return budget_amount(op, v, &b->max_budget);
    if (strcmp(name, "soft_budget") == 0)
        return budget_amount(op, v, &b->soft_budget);
    op_warn_unknown(op, key, "");
    return ALERT_OK;
}

static int budget_item(cfg_op *op, const al_ynode *item, al_budget_decl *b)
{
    b->max_budget = -1;
    b->soft_budget = -1;
    if (item->kind != AL_Y_MAPPING)
        return op_fail(op, item, "expected a mapping with entity, id, max_budget, "
                                 "soft_budget and budget_duration");
    int rc = ALERT_OK;
    for (size_t i = 0; i + 1 < item->n && !rc; i += 2) {
        const al_ynode *key = item->items[i];
        if (key->kind != AL_Y_SCALAR)
            return op_fail(op, key, "expected a key name");
        size_t old = path_push(op, key->text);
        rc = budget_field(op, key, item->items[i + 1], b);
        path_pop(op, old);
    }
    if (!rc && !b->entity)
        rc = op_fail(op, item, "missing entity");
    return rc;
}

static int apply_budgets(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    alert_config *cfg = op->cfg;
    budgets_free(cfg);
    if (al_ynode_is_null(v))
        return ALERT_OK;
    if (v->kind != AL_Y_SEQUENCE)
        return op_fail(op, v, "expected a list of budgets");
    if (v->n == 0)
        return ALERT_OK;
    cfg->budgets = al_calloc(v->n, sizeof *cfg->budgets);
    if (!cfg->budgets)
        return op_nomem(op);
    for (size_t i = 0; i < v->n; i++) {
        size_t old = path_push_index(op, i);
        cfg->n_budgets = i + 1;
        int rc = budget_item(op, v->items[i], &cfg->budgets[i]);
        path_pop(op, old);
        if (rc)
            return rc;
    }
    return ALERT_OK;
}

static void sort_thresholds(alert_config *cfg)
{
    size_t n = cfg->n_budget_alert_thresholds;
    for (size_t i = 1; i < n; i++) {
        double d = cfg->budget_alert_thresholds[i];
        char text[16];
        memcpy(text, cfg->budget_alert_threshold_text[i], sizeof text);
        size_t j = i;
        for (; j > 0 && cfg->budget_alert_thresholds[j - 1] > d; j--) {
            cfg->budget_alert_thresholds[j] = cfg->budget_alert_thresholds[j - 1];
            memcpy(cfg->budget_alert_threshold_text[j], cfg->budget_alert_threshold_text[j - 1],
                   sizeof text);
        }
        cfg->budget_alert_thresholds[j] = d;
        memcpy(cfg->budget_alert_threshold_text[j], text, sizeof text);
    }
}

static int threshold_item(cfg_op *op, const al_ynode *item)
{
    alert_config *cfg = op->cfg;
    double d;
    char norm[64];
    int rc = get_number(op, item, &d, norm);
    if (rc)
        return rc;
    if (d <= 0 || d > 100)
        return op_fail(op, item, "must be a percentage greater than 0 and at most 100");
    for (size_t i = 0; i < cfg->n_budget_alert_thresholds; i++)
        if (cfg->budget_alert_thresholds[i] == d)
            return ALERT_OK;
    if (cfg->n_budget_alert_thresholds == AL_MAX_THRESHOLDS)
        return op_fail(op, item, "at most %d thresholds", AL_MAX_THRESHOLDS);
    size_t n = cfg->n_budget_alert_thresholds++;
    cfg->budget_alert_thresholds[n] = d;
    copy_number_text(cfg->budget_alert_threshold_text[n],
                     sizeof cfg->budget_alert_threshold_text[n], norm, d);
    return ALERT_OK;
}

/* Kept ascending and without duplicates: the budget detector fires them in order. */
static int apply_budget_thresholds(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    alert_config *cfg = op->cfg;
    if (al_ynode_is_null(v)) {
        set_default_thresholds(cfg);
        return ALERT_OK;
    }
    cfg->n_budget_alert_thresholds = 0;
    if (v->kind == AL_Y_MAPPING)
        return op_fail(op, v, "expected a list of percentages, not a mapping");
    if (v->kind == AL_Y_SCALAR)
        return threshold_item(op, v);
    for (size_t i = 0; i < v->n; i++) {
        size_t old = path_push_index(op, i);
        int rc = threshold_item(op, v->items[i]);
        path_pop(op, old);
        if (rc)
            return rc;
    }
    sort_thresholds(cfg);
    return ALERT_OK;
}

/* "<N>/<unit>" or "<N>/<M><unit>": N events per M units. */
static int rate_spec_valid(const char *s)
{
    static const char *const units[] = { "s", "sec", "second", "seconds", "m", "min", "minute",
                                         "minutes", "h", "hour", "hours" };
    const char *rest;
    long n;
    if (leading_count(s, &n, &rest) || *rest != '/')
        return 0;
    rest++;
    if (*rest >= '0' && *rest <= '9' && leading_count(rest, &n, &rest))
        return 0;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(rest, units[i]) == 0)
            return 1;
    return 0;
}

static void rate_limit_remove(alert_config *cfg, const char *destination)
{
    for (size_t i = 0; i < cfg->n_rate_limits; i++) {
        if (strcmp(cfg->rate_limits[i].destination, destination) != 0)
            continue;
        al_free(cfg->rate_limits[i].destination);
        al_free(cfg->rate_limits[i].spec);
        cfg->rate_limits[i] = cfg->rate_limits[--cfg->n_rate_limits];
        return;
    }
}

static int rate_limit_entry(cfg_op *op, const al_ynode *key, const al_ynode *v)
{
    alert_config *cfg = op->cfg;
    if (!key->text[0])
        return op_fail(op, key, "expected a destination name");
    if (looks_secret(key->text))
        return op_fail(op, key, "a key that looks like a URL or a secret is not a destination "
                                "name");
    rate_limit_remove(cfg, key->text);
    if (!al_ynode_is_null(v) && cfg->n_rate_limits >= AL_MAX_LIST_ENTRIES)
        return op_fail(op, key, "at most %d destinations", AL_MAX_LIST_ENTRIES);
    if (al_ynode_is_null(v))
        return ALERT_OK;
    const char *s;
    int plain;
    int rc = scalar_text(op, v, &s, &plain);
    if (rc)
        return rc;
    if (!rate_spec_valid(s))
        return op_fail(op, v, "expected a rate like '1/s', '5/2s' or '120/min'");
    al_rate_limit *grown = al_realloc(cfg->rate_limits,
                                      (cfg->n_rate_limits + 1) * sizeof *cfg->rate_limits);
    if (!grown)
        return op_nomem(op);
    cfg->rate_limits = grown;
    al_rate_limit *r = &grown[cfg->n_rate_limits];
    r->destination = al_strdup(key->text);
    r->spec = al_strdup(s);
    cfg->n_rate_limits++;
    return r->destination && r->spec ? ALERT_OK : op_nomem(op);
}

static int apply_rate_limits(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    if (al_ynode_is_null(v)) {
        rate_limits_free(op->cfg);
        return ALERT_OK;
    }
    return each_entry(op, v, rate_limit_entry);
}

static int apply_redact(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    if (al_ynode_is_null(v)) {
        op->redact = 0;
        return ALERT_OK;
    }
    return get_bool(op, v, &op->redact);
}

static int apply_args(cfg_op *op, const key_spec *k, const al_ynode *v);

#define OFF(field) offsetof(alert_config, field)

static const key_spec keys[] = {
    { "alerting", KEY_GENERAL, apply_alerting, 0, 0, 0 },
    { "alerting_threshold", KEY_GENERAL, apply_threshold, 0, 0, 0 },
    { "alert_types", KEY_GENERAL, apply_alert_types, 0, 0, 0 },
    { "alert_to_webhook_url", KEY_GENERAL, apply_routes, 0, 0, 0 },
    { "alert_type_config", KEY_GENERAL, apply_type_config, 0, 0, 0 },
    { "spend_report_frequency", KEY_GENERAL, apply_spend_frequency, 0, 0, 0 },
    { "budgets", KEY_GENERAL, apply_budgets, 0, 0, 0 },
    { "redact_messages_in_exceptions", KEY_GENERAL, apply_redact, 0, 0, 0 },
    { "alerting_args", KEY_GENERAL, apply_args, 0, 0, 0 },

    { "daily_report_frequency", KEY_ARGS, apply_daily_frequency, OFF(daily_report_frequency), 0, 1 },
    { "report_check_interval", KEY_ARGS, apply_duration, OFF(report_check_interval), 0, 1 },
    { "budget_alert_ttl", KEY_ARGS, apply_duration, OFF(budget_alert_ttl), 0, 0 },
    { "outage_alert_ttl", KEY_ARGS, apply_duration, OFF(outage_alert_ttl), 0, 1 },
    { "region_outage_alert_ttl", KEY_ARGS, apply_duration, OFF(region_outage_alert_ttl), 0, 1 },
    { "minor_outage_alert_threshold", KEY_ARGS, apply_outage_threshold,
      OFF(minor_outage_alert_threshold), 1, 0 },
    { "major_outage_alert_threshold", KEY_ARGS, apply_outage_threshold,
      OFF(major_outage_alert_threshold), 1, 0 },
    { "max_outage_alert_list_size", KEY_ARGS, apply_int, OFF(max_outage_alert_list_size), 0, 0 },
    { "log_to_console", KEY_ARGS, apply_bool, OFF(log_to_console), 0, 0 },
    { "budget_alert_thresholds", KEY_ARGS, apply_budget_thresholds, 0, 0, 0 },
    { "daily_spend_per_user_threshold", KEY_ARGS, apply_double,
      OFF(daily_spend_per_user_threshold), 0, 0 },
    { "monthly_spend_per_user_threshold", KEY_ARGS, apply_double,
      OFF(monthly_spend_per_user_threshold), 0, 0 },
    { "spend_anomaly_multiplier", KEY_ARGS, apply_double, OFF(spend_anomaly_multiplier), 0, 1 },
    { "spend_anomaly_baseline_days", KEY_ARGS, apply_baseline_days, OFF(spend_anomaly_baseline_days), 1, 0 },
    { "spend_anomaly_min_spend", KEY_ARGS, apply_double, OFF(spend_anomaly_min_spend), 0, 0 },
    { "user_spend_check_interval", KEY_ARGS, apply_duration, OFF(user_spend_check_interval), 0, 1 },
    { "failure_threshold", KEY_ARGS, apply_int, OFF(failure_threshold), 1, 0 },
    { "failure_threshold_window_seconds", KEY_ARGS, apply_duration,
      OFF(failure_threshold_window_seconds), 0, 1 },
    { "hanging_threshold_seconds", KEY_ARGS, apply_duration, OFF(hanging_threshold_seconds), 0, 1 },
    { "hanging_threshold_fails", KEY_ARGS, apply_int, OFF(hanging_threshold_fails), 1, 0 },
    { "hanging_threshold_window_seconds", KEY_ARGS, apply_duration,
      OFF(hanging_threshold_window_seconds), 0, 1 },

    { "flush_interval", KEY_OURS, apply_duration, OFF(flush_interval), 0, 1 },
    { "batch_size", KEY_OURS, apply_int, OFF(batch_size), 1, 0 },
    { "send_resolved", KEY_OURS, apply_bool, OFF(send_resolved), 0, 0 },
    { "delivery_deadline", KEY_OURS, apply_duration, OFF(delivery_deadline), 0, 1 },
    { "max_queue", KEY_OURS, apply_int, OFF(max_queue), 1, 0 },
    { "http_timeout", KEY_OURS, apply_duration, OFF(http_timeout), 0, 1 },
    { "shutdown_timeout", KEY_OURS, apply_duration, OFF(shutdown_timeout), 0, 0 },
    { "worker_threads", KEY_OURS, apply_int, OFF(worker_threads), 0, 0 },
    { "state_path", KEY_OURS, apply_string, OFF(state_path), 0, 0 },
    { "instance_name", KEY_OURS, apply_string, OFF(instance_name), 0, 0 },
    { "max_inflight", KEY_OURS, apply_int, OFF(max_inflight), 1, 0 },
    { "event_queue_size", KEY_OURS, apply_int, OFF(event_queue_size), 1, 0 },
    { "max_tracked_deployments", KEY_OURS, apply_int, OFF(max_tracked_deployments), 1, 0 },
    { "rate_limits", KEY_OURS, apply_rate_limits, 0, 0, 0 },
    { "webhook_secret", KEY_OURS, apply_string, OFF(webhook_secret), 0, 0 },
    { "email_recipients", KEY_OURS, apply_strlist, OFF(email_recipients), 0, 0 },
    { "customer_spend_webhook", KEY_OURS, apply_bool, OFF(customer_spend_webhook), 0, 0 },
    { "webhook_alert_types", KEY_OURS, apply_type_mask, OFF(webhook_alert_types), 0, 0 },
    { "email_alert_types", KEY_OURS, apply_type_mask, OFF(email_alert_types), 0, 0 },
    { "disable_secret_redaction", KEY_OURS, apply_bool, OFF(disable_secret_redaction), 0, 0 },
    { "ca_bundle", KEY_OURS, apply_string, OFF(ca_bundle), 0, 0 },
    { "proxy", KEY_OURS, apply_string, OFF(proxy), 0, 0 },
    { "insecure_skip_verify", KEY_OURS, apply_bool, OFF(insecure_skip_verify), 0, 0 },
    { "alertmanager_resolve_after", KEY_OURS, apply_duration, OFF(alertmanager_resolve_after), 0,
      1 },
    { "fleet", KEY_OURS, apply_fleet, 0, 0, 0 },
    { "redis_url", KEY_OURS, apply_string, OFF(redis_url), 0, 0 },
    { "fleet_name", KEY_OURS, apply_string, OFF(fleet_name), 0, 0 },
    { "fleet_sync_interval", KEY_OURS, apply_duration, OFF(fleet_sync_interval), 0, 1 },
    { "fleet_timeout", KEY_OURS, apply_duration, OFF(fleet_timeout), 0, 1 },
    { "fleet_claim_timeout", KEY_OURS, apply_duration, OFF(fleet_claim_timeout), 0, 1 },
    { "fleet_takeover_after", KEY_OURS, apply_duration, OFF(fleet_takeover_after), 0, 1 },
    { "fleet_report_grace", KEY_OURS, apply_duration, OFF(fleet_report_grace), 0, 1 },
    { "fleet_rate_limits", KEY_OURS, apply_bool, OFF(fleet_rate_limits), 0, 0 },
    { "slack_webhook_url", KEY_OURS, apply_string, OFF(slack_webhook_url), 0, 0 },
    { "discord_webhook_url", KEY_OURS, apply_string, OFF(discord_webhook_url), 0, 0 },
    { "ms_teams_webhook_url", KEY_OURS, apply_string, OFF(ms_teams_webhook_url), 0, 0 },
    { "webhook_url", KEY_OURS, apply_string, OFF(webhook_url), 0, 0 },
    { "alertmanager_url", KEY_OURS, apply_string, OFF(alertmanager_url), 0, 0 },
    { "pagerduty_api_key", KEY_OURS, apply_string, OFF(pagerduty_api_key), 0, 0 },
    { "pagerduty_url", KEY_OURS, apply_string, OFF(pagerduty_url), 0, 0 },
    { "smtp_host", KEY_OURS, apply_string, OFF(smtp_host), 0, 0 },
    { "smtp_port", KEY_OURS, apply_string, OFF(smtp_port), 0, 0 },
    { "smtp_tls", KEY_OURS, apply_string, OFF(smtp_tls), 0, 0 },
    { "smtp_username", KEY_OURS, apply_string, OFF(smtp_username), 0, 0 },
    { "smtp_password", KEY_OURS, apply_string, OFF(smtp_password), 0, 0 },
    { "smtp_sender_email", KEY_OURS, apply_string, OFF(smtp_sender_email), 0, 0 },
    { "proxy_base_url", KEY_OURS, apply_string, OFF(proxy_base_url), 0, 0 },
};
#define N_KEYS (sizeof keys / sizeof keys[0])

/* set_in_args has one bit per entry of keys[]. */
_Static_assert(N_KEYS <= 128, "set_in_args holds 128 bits");

/* LiteLLM proxy settings that are not about alerting: a real config.yaml has them
 * under general_settings, so they are skipped without a warning. */
static const char *const litellm_general_keys[] = {
    "master_key", "database_url", "database_connection_pool_limit",
    "database_connection_timeout", "database_args", "store_model_in_db",
    "store_prompts_in_spend_logs", "disable_spend_logs", "disable_master_key_return",
    "disable_reset_budget", "disable_adding_master_key_hash_to_db",
    "disable_retry_on_max_parallel_request_limit_error", "enable_jwt_auth", "litellm_jwtauth",
    "enforce_user_param", "allowed_routes", "admin_only_routes", "allowed_ips", "public_routes",
    "enable_public_model_hub", "custom_auth", "custom_auth_settings", "custom_key_generate",
    "custom_sso", "max_parallel_requests", "global_max_parallel_requests",
    "max_request_size_mb", "max_response_size_mb", "infer_model_from_keys",
    "background_health_checks", "health_check_interval", "health_check_details",
    "use_shared_health_check", "ui_access_mode", "proxy_budget_rescheduler_min_time",
    "proxy_budget_rescheduler_max_time", "proxy_batch_write_at", "key_management_system",
    "key_management_settings", "use_redis_transaction_buffer", "pass_through_endpoints",
    "forward_client_headers_to_llm_api", "user_header_name", "user_api_key_cache_ttl",
    "maximum_spend_logs_retention_period", "maximum_spend_logs_retention_interval",
    "use_x_forwarded_for", "service_account_settings", "reject_clientside_metadata_tags",
    "enable_oauth2_auth", "enable_oauth2_proxy_auth", "oauth2_config_mappings",
    "supported_db_objects", "disable_prisma_schema_update", "allow_requests_on_db_unavailable",
    "completion_model", "default_team_disabled", "embedding_model",
};

static const key_spec *key_find(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static int is_litellm_general_key(const char *name)
{
    for (size_t i = 0; i < sizeof litellm_general_keys / sizeof litellm_general_keys[0]; i++)
        if (strcmp(litellm_general_keys[i], name) == 0)
            return 1;
    return 0;
}

static int args_bit(const alert_config *cfg, const key_spec *k)
{
    size_t i = (size_t)(k - keys);
    return (cfg->set_in_args[i / 64] >> (i % 64)) & 1;
}

static void args_bit_set(alert_config *cfg, const key_spec *k)
{
    size_t i = (size_t)(k - keys);
    cfg->set_in_args[i / 64] |= UINT64_C(1) << (i % 64);
}

static int args_entry(cfg_op *op, const al_ynode *key, const al_ynode *v)
{
    const key_spec *k = key_find(key->text);
    if (!k || k->scope == KEY_GENERAL) {
        op_warn_unknown(op, key, "");
        return ALERT_OK;
    }
    int rc = k->apply(op, k, v);
    if (!rc && k->scope == KEY_OURS)
        args_bit_set(op->cfg, k);
    return rc;
}

/* Merged key by key into what the config has (LiteLLM replaced the whole object,
 * which made alert_config_set of one argument reset the others). */
static int apply_args(cfg_op *op, const key_spec *k, const al_ynode *v)
{
    return al_ynode_is_null(v) ? ALERT_OK : each_entry(op, v, args_entry);
}

static int general_entry(cfg_op *op, const al_ynode *key, const al_ynode *v)
{
    const key_spec *k = key_find(key->text);
    if (!k) {
        /* a bare file's environment_variables: applied first, by apply_root */
        if (strcmp(op->path, "environment_variables") == 0)
            return ALERT_OK;
        if (!is_litellm_general_key(key->text))
            op_warn_unknown(op, key, "");
        return ALERT_OK;
    }
    if (k->scope == KEY_ARGS) {
        op_warn_unknown(op, key, " (it belongs under alerting_args)");
        return ALERT_OK;
    }
    /* alerting_args wins whichever of the two comes first */
    if (k->scope == KEY_OURS && args_bit(op->cfg, k))
        return ALERT_OK;
    return k->apply(op, k, v);
}

static int apply_general(cfg_op *op, const al_ynode *v)
{
    return al_ynode_is_null(v) ? ALERT_OK : each_entry(op, v, general_entry);
}

/* litellm_settings.cache_params: the Redis LiteLLM already uses (FLEET.md) */
static int cache_param_entry(cfg_op *op, const al_ynode *key, const al_ynode *v)
{
    char **field = NULL;
    if (strcmp(key->text, "type") == 0) {
        op->cfg->cache_redis = v->kind == AL_Y_SCALAR && v->text && strcmp(v->text, "redis") == 0;
        return ALERT_OK;
    }
    /* LiteLLM's Sentinel and Cluster shapes: recognised, so that fleet mode does not
     * take a Sentinel's or a Cluster node's host for a plain Redis */
    static const char *const topology_keys[] = {
        "litellm_settings.cache_params.redis_startup_nodes",
        "litellm_settings.cache_params.startup_nodes",
        "litellm_settings.cache_params.sentinel_nodes",
        "litellm_settings.cache_params.service_name",
    };
    size_t n_keys = sizeof topology_keys / sizeof topology_keys[0], have = n_keys;
    for (size_t i = 0; i < n_keys; i++)
        if (op->cfg->cache_redis_topology == topology_keys[i])
            have = i;
    for (size_t i = 0; i < n_keys; i++)
        if (strcmp(key->text, topology_keys[i] + strlen("litellm_settings.cache_params.")) == 0) {
            /* a Cluster key names it before a Sentinel one, as LiteLLM tries them */
            if (!al_ynode_is_null(v) && i < have)
                op->cfg->cache_redis_topology = topology_keys[i];
            return ALERT_OK;
        }
    if (strcmp(key->text, "host") == 0)
        field = &op->cfg->cache_redis_host;
    else if (strcmp(key->text, "port") == 0)
        field = &op->cfg->cache_redis_port;
    else if (strcmp(key->text, "password") == 0)
        field = &op->cfg->cache_redis_password;
    else if (strcmp(key->text, "username") == 0)
        field = &op->cfg->cache_redis_username;
    else if (strcmp(key->text, "db") == 0)
        field = &op->cfg->cache_redis_db;
    else
        return ALERT_OK;        /* the rest is LiteLLM's cache */
    al_free(*field);
    *field = NULL;
    return al_ynode_is_null(v) ? ALERT_OK : get_string(op, v, field);
}

static int litellm_entry(cfg_op *op, const al_ynode *key, const al_ynode *v)
{
    int *flag = NULL;
    if (strcmp(key->text, "cache_params") == 0)
        return v->kind == AL_Y_MAPPING ? each_entry(op, v, cache_param_entry) : ALERT_OK;
    if (strcmp(key->text, "redact_messages_in_exceptions") == 0)
        flag = &op->redact;
    else if (strcmp(key->text, "turn_off_message_logging") == 0)
        flag = &op->turn_off;
    else
        return ALERT_OK;        /* the rest of litellm_settings is LiteLLM's business */
    if (al_ynode_is_null(v)) {
        *flag = 0;
        return ALERT_OK;
    }
    return get_bool(op, v, flag);
}

/* environment_variables: NAME: value. Scalars only; anything else is a warning, as
 * is an invalid name. Replaces the overlay of an earlier load. */
static int apply_env_overlay(cfg_op *op, const al_ynode *v)
{
    al_strlist_clear(&op->cfg->env_overlay);
    if (al_ynode_is_null(v))
        return ALERT_OK;
    if (v->kind != AL_Y_MAPPING)
        return op_fail(op, v, "expected a mapping of NAME: value");
    size_t old = path_push(op, "environment_variables");
    for (size_t i = 0; i + 1 < v->n; i += 2) {
        const al_ynode *key = v->items[i], *val = v->items[i + 1];
        if (key->kind != AL_Y_SCALAR || !key->text[0] || strchr(key->text, '=') ||
            (val->kind != AL_Y_SCALAR && !al_ynode_is_null(val))) {
            al_config_log(op->cfg, ALERT_LOG_WARNING, "environment_variables: entry %zu at %s:%d:%d "
                          "is not NAME: value and is ignored", i / 2, op->source, key->line,
                          key->column);
            continue;
        }
        const char *text = al_ynode_is_null(val) ? "" : val->text;
        if (strlen(text) != val->len && !al_ynode_is_null(val)) {
            path_pop(op, old);
            return op_fail(op, val, "contains a NUL character");
        }
        /* a later entry of the same name wins, as in a Python dict */
        for (size_t j = 0; j + 1 < op->cfg->env_overlay.n; j += 2)
            if (strcmp(op->cfg->env_overlay.items[j], key->text) == 0) {
                char *copy = al_strdup(text);
                if (!copy)
                    return op_nomem(op);
                al_free(op->cfg->env_overlay.items[j + 1]);
                op->cfg->env_overlay.items[j + 1] = copy;
                text = NULL;
                break;
            }
        if (text && (al_strlist_push(&op->cfg->env_overlay, key->text) ||
                     al_strlist_push(&op->cfg->env_overlay, text)))
            return op_nomem(op);
    }
    path_pop(op, old);
    return ALERT_OK;
}

const char *al_config_getenv(const alert_config *cfg, const char *name)
{
    for (size_t i = 0; i + 1 < cfg->env_overlay.n; i += 2)
        if (strcmp(cfg->env_overlay.items[i], name) == 0)
            return cfg->env_overlay.items[i + 1];
    return getenv(name);
}

/* Python's int() of a str: blanks around, an optional sign, digits with single
 * underscores between them. */
static int python_int(const char *s, long long *out)
{
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    int neg = *s == '-';
    if (*s == '+' || *s == '-')
        s++;
    long long n = 0;
    int digits = 0;
    for (; *s; s++) {
        if (*s == '_' && digits && s[1] >= '0' && s[1] <= '9')
            continue;
        if (*s < '0' || *s > '9')
            break;
        if (n > (LLONG_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*s - '0');
        digits++;
    }
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    if (!digits || *s)
        return -1;
    *out = neg ? -n : n;
    return 0;
}

void al_config_env_defaults(alert_config *cfg)
{
    if (cfg->daily_report_frequency_set)
        return;
    const char *v = al_config_getenv(cfg, "SLACK_DAILY_REPORT_FREQUENCY");
    if (!v)
        return;
    long long n;
    if (python_int(v, &n) != 0 || (double)n < AL_DURATION_MIN_S || (double)n > AL_DURATION_MAX_S) {
        al_config_log(cfg, ALERT_LOG_WARNING, "SLACK_DAILY_REPORT_FREQUENCY is not a whole number "
                      "of seconds from 1 to %.0f: daily_report_frequency stays %g",
                      AL_DURATION_MAX_S, cfg->daily_report_frequency);
        return;
    }
    cfg->daily_report_frequency = (double)n;
}

static int top_entry(cfg_op *op, const al_ynode *key, const al_ynode *v)
{
    if (strcmp(key->text, "environment_variables") == 0)
        return ALERT_OK;        /* applied first, by apply_root */
    if (strcmp(key->text, "general_settings") == 0)
        return apply_general(op, v);
    if (strcmp(key->text, "litellm_settings") == 0)
        return al_ynode_is_null(v) ? ALERT_OK : each_entry(op, v, litellm_entry);
    return ALERT_OK;            /* model_list, router_settings, environment_variables, … */
}

static int is_litellm_file(const al_ynode *root)
{
    for (size_t i = 0; i + 1 < root->n; i += 2) {
        const al_ynode *key = root->items[i];
        if (key->kind == AL_Y_SCALAR && (strcmp(key->text, "general_settings") == 0 ||
                                         strcmp(key->text, "litellm_settings") == 0))
            return 1;
    }
    return 0;
}

static int apply_root(cfg_op *op, const al_ynode *root)
{
    if (al_ynode_is_null(root))
        return ALERT_OK;
    if (root->kind != AL_Y_MAPPING)
        return op_fail(op, root, "expected a mapping of settings at the top level");
    /* before everything else: os.environ/NAME anywhere in the file may name one */
    for (size_t i = 0; i + 1 < root->n; i += 2) {
        const al_ynode *key = root->items[i];
        if (key->kind == AL_Y_SCALAR && strcmp(key->text, "environment_variables") == 0) {
            int rc = apply_env_overlay(op, root->items[i + 1]);
            if (rc)
                return rc;
        }
    }
    if (is_litellm_file(root))
        return each_entry(op, root, top_entry);
    return apply_general(op, root);
}

/* Applies a document to a scratch copy and swaps it in only when all went well. */
static int apply_document(alert_config *cfg, const al_ynode *root, const char *source,
                          alert_error *err)
{
    alert_config scratch;
    if (al_config_copy(&scratch, cfg) != ALERT_OK)
        return al_error_set(err, ALERT_ERR_NOMEM, source, 0, 0, "out of memory");
    /* precedence holds within one load or set; a later call overrides either form */
    scratch.set_in_args[0] = scratch.set_in_args[1] = 0;
    cfg_op op;
    memset(&op, 0, sizeof op);
    op.cfg = &scratch;
    al_config_defaults(&op.defaults);
    op.source = source;
    op.err = err;
    op.redact = op.turn_off = -1;
    int rc = apply_root(&op, root);
    if (rc != ALERT_OK) {
        al_config_release(&scratch);
        return rc;
    }
    /* LiteLLM hides prompts when either flag is on */
    if (op.redact >= 0 || op.turn_off >= 0)
        scratch.redact_messages = op.redact > 0 || op.turn_off > 0;
    al_config_release(cfg);
    *cfg = scratch;
    return ALERT_OK;
}

static int parse_error(int rc, const al_yerror *yerr, const char *source, alert_error *err)
{
    if (rc == ALERT_ERR_NOMEM)
        return al_error_set(err, rc, source, 0, 0, "out of memory");
    return al_error_set(err, rc, source, yerr->line, yerr->column, "%s", yerr->text);
}

static int load_text(alert_config *cfg, const char *text, size_t len, const char *source,
                     alert_error *err)
{
    al_ytree tree = AL_YTREE_INIT;
    al_yerror yerr;
    int rc = al_ytree_parse(&tree, text, len, &yerr);
    if (rc != ALERT_OK)
        return parse_error(rc, &yerr, source, err);
    rc = apply_document(cfg, tree.root, source, err);
    al_ytree_free(&tree);
    return rc;
}

/* ---- public API ------------------------------------------------------------- */

int alert_config_new(alert_config **out)
{
    if (!out)
        return ALERT_ERR_INVALID;
    *out = NULL;
    alert_config *cfg = al_malloc(sizeof *cfg);
    if (!cfg)
        return ALERT_ERR_NOMEM;
    al_config_defaults(cfg);
    *out = cfg;
    return ALERT_OK;
}

void alert_config_free(alert_config *cfg)
{
    if (!cfg)
        return;
    al_config_release(cfg);
    al_free(cfg);
}

int alert_config_load_string(alert_config *cfg, const char *yaml, size_t len, alert_error *err)
{
    if (!cfg || !yaml)
        return al_error_set(err, ALERT_ERR_INVALID, "<string>", 0, 0,
                            "alert_config_load_string: NULL argument");
    return load_text(cfg, yaml, len, "<string>", err);
}

static int read_file(const char *path, al_buf *out, alert_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        char eb[128];
        const char *why = strerror_r(errno, eb, sizeof eb);
        return al_error_set(err, ALERT_ERR_IO, path, 0, 0, "cannot open: %s", why);
    }
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && !out->oom && out->len < CONFIG_MAX_FILE)
        al_buf_add(out, chunk, n);
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        char eb[128];
        const char *why = strerror_r(saved, eb, sizeof eb);
        return al_error_set(err, ALERT_ERR_IO, path, 0, 0, "cannot read: %s", why);
    }
    if (out->oom)
        return al_error_set(err, ALERT_ERR_NOMEM, path, 0, 0, "out of memory");
    if (out->len >= CONFIG_MAX_FILE)
        return al_error_set(err, ALERT_ERR_CONFIG, path, 0, 0, "file larger than %u bytes",
                            CONFIG_MAX_FILE);
    return ALERT_OK;
}

int alert_config_load_file(alert_config *cfg, const char *path, alert_error *err)
{
    if (!cfg || !path)
        return al_error_set(err, ALERT_ERR_INVALID, path, 0, 0,
                            "alert_config_load_file: NULL argument");
    al_buf data = AL_BUF_INIT;
    int rc = read_file(path, &data, err);
    if (rc == ALERT_OK)
        rc = load_text(cfg, data.data ? data.data : "", data.len, path, err);
    al_buf_free(&data);
    return rc;
}

/* Dot-separated names, none empty. */
static int key_path_valid(const char *key)
{
    size_t len = strlen(key);
    if (len == 0 || len >= 256 || key[0] == '.' || key[len - 1] == '.' || strstr(key, ".."))
        return 0;
    return 1;
}

/* Wraps value in one mapping per segment of key, innermost last:
 * "alerting_args.flush_interval" = v becomes {alerting_args: {flush_interval: v}}. */
static int wrap_in_key(al_ytree *t, const char *key, al_ynode **node)
{
    size_t end = strlen(key);
    while (end > 0) {
        size_t start = end;
        while (start > 0 && key[start - 1] != '.')
            start--;
        char segment[256];
        memcpy(segment, key + start, end - start);
        segment[end - start] = '\0';
        al_ynode *map = al_ytree_new_mapping(t);
        al_ynode *name = al_ytree_new_scalar(t, segment, 1);
        if (!map || !name || al_ynode_append(map, name) || al_ynode_append(map, *node))
            return ALERT_ERR_NOMEM;
        *node = map;
        end = start ? start - 1 : 0;
    }
    return ALERT_OK;
}

int alert_config_set(alert_config *cfg, const char *key, const char *value, alert_error *err)
{
    if (!cfg || !key || !value)
        return al_error_set(err, ALERT_ERR_INVALID, key, 0, 0, "alert_config_set: NULL argument");
    if (!key_path_valid(key))
        return al_error_set(err, ALERT_ERR_INVALID, key, 0, 0,
                            "alert_config_set: expected key names separated by dots");
    al_ytree tree = AL_YTREE_INIT;
    al_yerror yerr;
    int rc = al_ytree_parse(&tree, value, strlen(value), &yerr);
    if (rc != ALERT_OK)
        return parse_error(rc, &yerr, key, err);
    al_ynode *root = tree.root ? tree.root : al_ytree_new_scalar(&tree, "", 0);
    rc = root ? wrap_in_key(&tree, key, &root) : ALERT_ERR_NOMEM;
    if (rc == ALERT_OK)
        rc = apply_document(cfg, root, key, err);
    else
        al_error_set(err, rc, key, 0, 0, "out of memory");
    al_ytree_free(&tree);
    return rc;
}

int alert_config_set_clock(alert_config *cfg, alert_clock_fn fn, void *userdata)
{
    if (!cfg)
        return ALERT_ERR_INVALID;
    cfg->clock_fn = fn;
    cfg->clock_ud = userdata;
    return ALERT_OK;
}

int alert_config_set_log(alert_config *cfg, alert_log_fn fn, void *userdata)
{
    if (!cfg)
        return ALERT_ERR_INVALID;
    cfg->log_fn = fn;
    cfg->log_ud = userdata;
    return ALERT_OK;
}

static int is_builtin_destination(const char *name)
{
    static const char *const builtin[] = { "slack", "discord", "ms_teams", "webhook", "email",
                                           "pagerduty", "alertmanager", "sentry" };
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
        if (strcmp(builtin[i], name) == 0)
            return 1;
    return 0;
}

static int transport_registered(const alert_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_transports; i++)
        if (strcmp(cfg->transports[i]->name, name) == 0)
            return 1;
    return 0;
}

/* On failure the config does not take the userdata: destroy is not called. */
int alert_config_add_transport(alert_config *cfg, const char *name, const alert_transport *t,
                               void *userdata)
{
    if (!cfg || !name || !t)
        return ALERT_ERR_INVALID;
    if (t->version == 0 || t->version > ALERT_TRANSPORT_VERSION)
        return ALERT_ERR_VERSION;
    if (!t->send || !*name || is_builtin_destination(name) || transport_registered(cfg, name))
        return ALERT_ERR_INVALID;
    al_transport_ref **grown = al_realloc(cfg->transports,
                                          (cfg->n_transports + 1) * sizeof *grown);
    if (!grown)
        return ALERT_ERR_NOMEM;
    cfg->transports = grown;
    al_transport_ref *ref = al_calloc(1, sizeof *ref);
    char *copy = al_strdup(name);
    if (!ref || !copy) {
        al_free(ref);
        al_free(copy);
        return ALERT_ERR_NOMEM;
    }
    atomic_init(&ref->refs, 1);
    ref->name = copy;
    ref->vt = *t;
    ref->vt.version = ALERT_TRANSPORT_VERSION;
    ref->userdata = userdata;
    cfg->transports[cfg->n_transports++] = ref;
    return ALERT_OK;
}

int alert_error_init(alert_error *err, unsigned version)
{
    if (!err)
        return ALERT_ERR_INVALID;
    if (version == 0 || version > ALERT_ERROR_VERSION)
        return ALERT_ERR_VERSION;
    memset(err, 0, sizeof *err);
    err->version = version;
    return ALERT_OK;
}

int alert_transport_init(alert_transport *t, unsigned version)
{
    if (!t)
        return ALERT_ERR_INVALID;
    if (version == 0 || version > ALERT_TRANSPORT_VERSION)
        return ALERT_ERR_VERSION;
    memset(t, 0, sizeof *t);
    t->version = version;
    return ALERT_OK;
}

/* ---- alert_config_set_string, alert_config_get, the masked view --------------------- */

int alert_config_set_string(alert_config *cfg, const char *key, const char *value, alert_error *err)
{
    if (!cfg || !key || !value)
        return al_error_set(err, ALERT_ERR_INVALID, key, 0, 0,
                            "alert_config_set_string: NULL argument");
    if (!key_path_valid(key))
        return al_error_set(err, ALERT_ERR_INVALID, key, 0, 0,
                            "alert_config_set_string: expected key names separated by dots");
    if (strlen(value) > 65536)
        return al_error_set(err, ALERT_ERR_INVALID, key, 0, 0,
                            "alert_config_set_string: the value is longer than 65536 bytes");
    /* a quoted scalar: no YAML word, comment, flow or tag applies to it */
    al_ytree tree = AL_YTREE_INIT;
    al_ynode *root = al_ytree_new_scalar(&tree, value, 1);
    int rc = root ? wrap_in_key(&tree, key, &root) : ALERT_ERR_NOMEM;
    if (rc == ALERT_OK)
        rc = apply_document(cfg, root, key, err);
    else
        al_error_set(err, rc, key, 0, 0, "out of memory");
    al_ytree_free(&tree);
    return rc;
}

/* A double-quoted YAML (and JSON) string. */
static void out_quoted(al_sink *o, const char *s)
{
    al_sink_put(o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = { '\\', (char)*p };
            al_sink_put(o, e, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            al_sink_printf(o, "\\u%04x", *p);     /* valid in YAML and in JSON */
        } else {
            al_sink_put(o, (const char *)p, 1);
        }
    }
    al_sink_put(o, "\"", 1);
}

static void out_number(al_sink *o, double v)
{
    if (isinf(v))
        al_sink_printf(o, "%s.inf", v < 0 ? "-" : "");
    else
        al_sink_printf(o, "%.17g", v);
}

static void out_strlist(al_sink *o, const al_strlist *l)
{
    al_sink_put(o, "[", 1);
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            al_sink_put(o, ", ", 2);
        out_quoted(o, l->items[i]);
    }
    al_sink_put(o, "]", 1);
}

/* Values that are secrets as a whole: shown as "***" when set. */
static int key_is_secret(const char *name)
{
    static const char *const secret[] = {
        "webhook_secret", "pagerduty_api_key", "smtp_password",
    };
    for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++)
        if (strcmp(secret[i], name) == 0)
            return 1;
    return 0;
}

/* URLs whose path, query or credentials are the secret (a webhook's token): shown as
 * scheme://host[:port] and a masked path (the display form of the delivery metrics and errors). */
static int key_is_secret_url(const char *name)
{
    static const char *const urls[] = {
        "slack_webhook_url", "discord_webhook_url", "ms_teams_webhook_url", "webhook_url",
        "alertmanager_url", "pagerduty_url", "redis_url", "proxy", "proxy_base_url",
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++)
        if (strcmp(urls[i], name) == 0)
            return 1;
    return 0;
}

static void out_masked_url(al_sink *o, const char *url)
{
    const char *p = strstr(url, "://");
    if (!p) {
        out_quoted(o, "***");
        return;
    }
    const char *host = p + 3;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    if (at)
        host = at + 1;
    char shown[512];
    snprintf(shown, sizeof shown, "%.*s://%.*s%s", (int)(p - url), url, (int)(end - host), host,
             *end ? "/***" : "");
    out_quoted(o, shown);
}

/* The value of one key as YAML flow text; ALERT_ERR_NOT_FOUND for an unknown key,
 * ALERT_ERR_UNSUPPORTED for a structured key this view does not print. */
static int format_key(const alert_config *cfg, const char *name, al_sink *o);

/* alerting_args as a flow mapping: every key that may sit there. */
static void format_args(const alert_config *cfg, al_sink *o)
{
    al_sink_put(o, "{", 1);
    int first = 1;
    for (size_t k = 0; k < N_KEYS; k++) {
        al_sink probe = { NULL, 0, 0 };
        if (keys[k].scope == KEY_GENERAL || format_key(cfg, keys[k].name, &probe) != ALERT_OK)
            continue;
        al_sink_printf(o, "%s%s: ", first ? "" : ", ", keys[k].name);
        format_key(cfg, keys[k].name, o);
        first = 0;
    }
    al_sink_put(o, "}", 1);
}

/* general_settings as a flow mapping: its own keys, then alerting_args. Structured keys
 * this view does not print (budgets, rate_limits, alert_to_webhook_url,
 * alert_type_config) are left out. */
static void format_general(const alert_config *cfg, al_sink *o)
{
    static const char *const own[] = { "alerting", "alerting_threshold", "alert_types",
                                       "spend_report_frequency", "redact_messages_in_exceptions" };
    al_sink_put(o, "{", 1);
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        al_sink_printf(o, "%s: ", own[i]);
        format_key(cfg, own[i], o);
        al_sink_put(o, ", ", 2);
    }
    al_sink_put(o, "alerting_args: ", 15);
    format_args(cfg, o);
    al_sink_put(o, "}", 1);
}

static int format_key(const alert_config *cfg, const char *name, al_sink *o)
{
    if (strcmp(name, "general_settings") == 0) {
        format_general(cfg, o);
        return ALERT_OK;
    }
    if (strcmp(name, "alerting_args") == 0) {
        format_args(cfg, o);
        return ALERT_OK;
    }
    if (strcmp(name, "alerting") == 0) {
        out_strlist(o, &cfg->alerting);
        return ALERT_OK;
    }
    if (strcmp(name, "alerting_threshold") == 0) {
        out_number(o, cfg->alerting_threshold);
        return ALERT_OK;
    }
    if (strcmp(name, "alert_types") == 0) {
        al_sink_put(o, "[", 1);
        int first = 1;
        for (int t = 0; t < AL_T__COUNT; t++) {
            if (!((cfg->alert_types >> t) & 1u))
                continue;
            if (!first)
                al_sink_put(o, ", ", 2);
            first = 0;
            out_quoted(o, al_types[t].name);
        }
        al_sink_put(o, "]", 1);
        return ALERT_OK;
    }
    if (strcmp(name, "spend_report_frequency") == 0) {
        al_sink_printf(o, "\"%dd\"", cfg->spend_report_days);
        return ALERT_OK;
    }
    if (strcmp(name, "redact_messages_in_exceptions") == 0) {
        al_sink_printf(o, "%s", cfg->redact_messages ? "true" : "false");
        return ALERT_OK;
    }
    if (strcmp(name, "budget_alert_thresholds") == 0) {
        al_sink_put(o, "[", 1);
        for (size_t i = 0; i < cfg->n_budget_alert_thresholds; i++)
            al_sink_printf(o, "%s%.17g", i ? ", " : "", cfg->budget_alert_thresholds[i]);
        al_sink_put(o, "]", 1);
        return ALERT_OK;
    }
    if (strcmp(name, "fleet") == 0) {
        al_sink_printf(o, "%s", cfg->fleet == AL_FLEET_AUTO ? "auto" : cfg->fleet == AL_FLEET_ON ? "true"
                                                                                        : "false");
        return ALERT_OK;
    }
    const key_spec *k = key_find(name);
    if (!k)
        return ALERT_ERR_NOT_FOUND;
    const char *field = (const char *)cfg + k->offset;
    if (k->apply == apply_string) {
        const char *s = *(char *const *)field;
        if (!s)
            al_sink_put(o, "null", 4);
        else if (key_is_secret(name) && !cfg->disable_secret_redaction)
            out_quoted(o, "***");
        else if (key_is_secret_url(name) && !cfg->disable_secret_redaction)
            out_masked_url(o, s);
        else
            out_quoted(o, s);
        return ALERT_OK;
    }
    if (k->apply == apply_bool) {
        al_sink_printf(o, "%s", *(const int *)field ? "true" : "false");
        return ALERT_OK;
    }
    if (k->apply == apply_int || k->apply == apply_outage_threshold ||
        k->apply == apply_baseline_days) {
        al_sink_printf(o, "%lld", (long long)*(const int64_t *)field);
        return ALERT_OK;
    }
    if (k->apply == apply_duration || k->apply == apply_double || k->apply == apply_daily_frequency) {
        double v = *(const double *)field;
        if (v < 0 && (strcmp(name, "daily_spend_per_user_threshold") == 0 ||
                      strcmp(name, "monthly_spend_per_user_threshold") == 0))
            al_sink_put(o, "null", 4);
        else
            out_number(o, v);
        return ALERT_OK;
    }
    if (k->apply == apply_strlist) {
        out_strlist(o, (const al_strlist *)(const void *)field);
        return ALERT_OK;
    }
    return ALERT_ERR_UNSUPPORTED;
}

/* "general_settings.alerting_args.X", "alerting_args.X", "general_settings.X" and "X"
 * all name X. */
static const char *key_leaf(const char *key)
{
    static const char *const prefixes[] = { "general_settings.", "alerting_args.",
                                            "litellm_settings." };
    for (int again = 1; again;) {
        again = 0;
        for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
            size_t n = strlen(prefixes[i]);
            if (strncmp(key, prefixes[i], n) == 0) {
                key += n;
                again = 1;
            }
        }
    }
    return key;
}

int alert_config_get(const alert_config *cfg, const char *key, char *buf, size_t len,
                     size_t *needed)
{
    if (!cfg || !key || (!buf && len > 0))
        return ALERT_ERR_INVALID;
    al_sink o = { buf, len, 0 };
    int rc = format_key(cfg, key_leaf(key), &o);
    if (rc != ALERT_OK) {
        if (buf && len)
            buf[0] = '\0';
        return rc;
    }
    if (needed)
        *needed = o.pos + 1;
    if (o.pos + 1 > len) {
        if (buf && len)
            buf[len - 1] = '\0';
        return ALERT_ERR_FULL;
    }
    buf[o.pos] = '\0';
    return ALERT_OK;
}

int alert_config_set_wakeup(alert_config *cfg, void (*fn)(void *userdata), void *userdata)
{
    if (!cfg)
        return ALERT_ERR_INVALID;
    cfg->wakeup_fn = fn;
    cfg->wakeup_ud = fn ? userdata : NULL;
    return ALERT_OK;
}
