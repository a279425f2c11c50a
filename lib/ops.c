/* SPDX-License-Identifier: MIT */
/* Operations events: DB errors, cooldowns, management events (ops.h). */
#include "ops.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "buf.h"
#include "fmt.h"
#include "hash.h"
#include "redact.h"
#include "text.h"

/* Free text from outside: valid UTF-8, secrets scrubbed unless turned off. */
static char *clean_text(const char *s, int scrub)
{
    char *fixed = al_utf8_repair(s, strlen(s));
    if (!fixed || !scrub)
        return fixed;
    char *clean = al_scrub_secrets(fixed);
    al_free(fixed);
    return clean;
}

/* Cuts valid UTF-8 s in place to at most max bytes, "…" included. */
static void cut_bytes(char *s, size_t max)
{
    static const char ellipsis[] = "\xE2\x80\xA6";
    size_t len = strlen(s);
    if (len <= max)
        return;
    size_t end = al_utf8_cut_bytes(s, len, max - (sizeof ellipsis - 1));
    memcpy(s + end, ellipsis, sizeof ellipsis);
}

static al_alert *finish(al_alert *a, al_text *t)
{
    if (al_text_finish(t, a) != ALERT_OK) {
        al_alert_free(a);
        return NULL;
    }
    return a;
}

/* ---- db_exceptions ------------------------------------------------------------- */

al_alert *al_ops_db_error(const char *error_text, int scrub, int64_t at_ms)
{
    if (!error_text)
        return NULL;
    char *err = clean_text(error_text, scrub);
    al_alert *a = err ? al_alert_new(AL_T_DB_EXCEPTIONS, al_types[AL_T_DB_EXCEPTIONS].level, at_ms)
                      : NULL;
    if (!a) {
        al_free(err);
        return NULL;
    }
    cut_bytes(err, AL_OPS_ERROR_MAX);
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    al_text_lit(&t, "DB read/write call failed: ");
    al_text_val(&t, err);
    al_free(err);
    return finish(a, &t);
}

/* ---- cooldown_deployment ------------------------------------------------------- */

al_alert *al_ops_cooldown(const char *deployment, const char *reason, int32_t cooldown_s,
                          int scrub, int64_t at_ms)
{
    if (!deployment)
        return NULL;
    char *why = reason ? clean_text(reason, scrub) : NULL;
    al_alert *a = (!reason || why) ? al_alert_new(AL_T_COOLDOWN_DEPLOYMENT,
                                                  al_types[AL_T_COOLDOWN_DEPLOYMENT].level, at_ms)
                                   : NULL;
    if (!a) {
        al_free(why);
        return NULL;
    }
    if (why)
        cut_bytes(why, AL_OPS_ERROR_MAX);
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    al_text_lit(&t, "Deployment cooled down: `");
    al_text_val(&t, deployment);
    al_text_lit(&t, "`");
    al_text_field(&t, "Reason", why);
    al_text_printf(&t, "\nCooldown: `%lds`", (long)cooldown_s);
    al_free(why);
    a->deployment = al_strdup(deployment);
    al_buf subject = AL_BUF_INIT;
    al_buf_printf(&subject, "deployment %s", deployment);
    a->subject = al_buf_take(&subject);
    if (!a->deployment || !a->subject) {
        al_text_free(&t);
        al_alert_free(a);
        return NULL;
    }
    return finish(a, &t);
}

typedef struct cooldown {
    struct cooldown *next;
    uint64_t hash;
    int64_t until_ms;
    char deployment[];
} cooldown;

struct al_cooldowns {
    cooldown **buckets;
    size_t nb, n, max;
};

al_cooldowns *al_cooldowns_new(size_t max_entries)
{
    al_cooldowns *t = al_calloc(1, sizeof *t);
    if (t)
        t->max = max_entries ? max_entries : 10000;
    return t;
}

void al_cooldowns_free(al_cooldowns *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nb; i++) {
        cooldown *c = t->buckets[i];
        while (c) {
            cooldown *next = c->next;
            al_free(c);
            c = next;
        }
    }
    al_free(t->buckets);
    al_free(t);
}

size_t al_cooldowns_count(const al_cooldowns *t)
{
    return t ? t->n : 0;
}

/* Removes the ended cooldowns and, if the table is still full, the one ending
 * first. A full scan, but only when the table is full, for an event that is
 * rare (a router cooling a deployment down), on the worker. */
static void cooldowns_make_room(al_cooldowns *t, int64_t now)
{
    cooldown **first = NULL;
    for (size_t i = 0; i < t->nb; i++) {
        cooldown **p = &t->buckets[i];
        while (*p) {
            if ((*p)->until_ms <= now) {
                cooldown *dead = *p;
                *p = dead->next;
                al_free(dead);
                t->n--;
                continue;
            }
            if (!first || (*p)->until_ms < (*first)->until_ms)
                first = p;
            p = &(*p)->next;
        }
    }
    if (t->n >= t->max && first) {
        cooldown *dead = *first;
        *first = dead->next;
        al_free(dead);
        t->n--;
    }
}

static int cooldowns_grow(al_cooldowns *t)
{
    size_t nb = t->nb ? t->nb * 2 : 16;
    cooldown **b = al_calloc(nb, sizeof *b);
    if (!b)
        return ALERT_ERR_NOMEM;
    for (size_t i = 0; i < t->nb; i++) {
        cooldown *c = t->buckets[i];
        while (c) {
            cooldown *next = c->next;
            c->next = b[c->hash & (nb - 1)];
            b[c->hash & (nb - 1)] = c;
            c = next;
        }
    }
    al_free(t->buckets);
    t->buckets = b;
    t->nb = nb;
    return ALERT_OK;
}

int al_cooldowns_check(al_cooldowns *t, const char *deployment, int32_t cooldown_s,
                       int64_t now_ms)
{
    if (!t || !deployment)
        return 1;
    int64_t until = now_ms + (int64_t)(cooldown_s > 0 ? cooldown_s : 0) * 1000;
    size_t len = strlen(deployment);
    uint64_t h = al_hash_bytes(deployment, len, 0);
    if (t->nb) {
        for (cooldown *c = t->buckets[h & (t->nb - 1)]; c; c = c->next) {
            if (c->hash == h && strcmp(c->deployment, deployment) == 0) {
                if (now_ms < c->until_ms)
                    return 0;
                c->until_ms = until;
                return 1;
            }
        }
    }
    if (t->n >= t->max)
        cooldowns_make_room(t, now_ms);
    if (t->n + 1 > t->nb && cooldowns_grow(t) != ALERT_OK)
        return 1;
    cooldown *c = al_malloc(sizeof *c + len + 1);
    if (!c)
        return 1;
    memcpy(c->deployment, deployment, len + 1);
    c->hash = h;
    c->until_ms = until;
    c->next = t->buckets[h & (t->nb - 1)];
    t->buckets[h & (t->nb - 1)] = c;
    t->n++;
    return 1;
}

/* ---- management events --------------------------------------------------------- */

int al_ops_is_management_type(int type)
{
    switch (type) {
    case AL_T_NEW_MODEL_ADDED:
    case AL_T_NEW_VIRTUAL_KEY_CREATED:
    case AL_T_VIRTUAL_KEY_UPDATED:
    case AL_T_VIRTUAL_KEY_DELETED:
    case AL_T_NEW_TEAM_CREATED:
    case AL_T_TEAM_UPDATED:
    case AL_T_TEAM_DELETED:
    case AL_T_NEW_INTERNAL_USER_CREATED:
    case AL_T_INTERNAL_USER_UPDATED:
    case AL_T_INTERNAL_USER_DELETED:
        return 1;
    default:
        return 0;
    }
}

/* NULL stays NULL; anything else must be a JSON object. */
static int parse_object(const char *s, json_t **out)
{
    *out = NULL;
    if (!s)
        return ALERT_OK;
    json_error_t jerr;
    json_t *o = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return ALERT_ERR_INVALID;
    }
    *out = o;
    return ALERT_OK;
}

/* As Python printed the endpoint's arguments (compat): strings unquoted, None,
 * True, False, numbers as Python prints them; lists and objects as compact JSON. */
static char *render_value(json_t *v, int scrub)
{
    char *raw;
    char num[64];
    if (json_is_string(v)) {
        raw = al_strdup(json_string_value(v));
    } else if (json_is_null(v) || json_is_boolean(v)) {
        raw = al_strdup(json_is_null(v) ? "None" : json_is_true(v) ? "True" : "False");
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        raw = al_strdup(num);
    } else if (json_is_real(v)) {
        al_fmt_pyfloat(num, sizeof num, json_real_value(v));
        raw = al_strdup(num);
    } else {
        char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        raw = d ? al_strdup(d) : NULL;
        free(d);
    }
    if (!raw)
        return NULL;
    char *clean = clean_text(raw, scrub);
    al_free(raw);
    if (!clean)
        return NULL;
    if (al_utf8_count(clean) <= AL_OPS_VALUE_MAX)
        return clean;
    char *cut = al_utf8_truncate(clean, AL_OPS_VALUE_MAX);
    al_free(clean);
    return cut;
}

/* "<key>: `<value>`\n"; 0 on allocation failure. */
static int text_item(al_text *t, const char *key, json_t *v, int scrub)
{
    char *value = scrub && al_is_secret_name(key) ? al_strdup("REDACTED") : render_value(v, scrub);
    if (!value)
        return 0;
    al_text_val(t, key);
    al_text_lit(t, ": `");
    al_text_val(t, value);
    al_text_lit(t, "`\n");
    al_free(value);
    return 1;
}

/* "new_virtual_key_created" -> "New Virtual Key Created" (Python's str.title()). */
static void event_name(char *out, size_t n, const char *type)
{
    size_t i = 0;
    int word_start = 1;
    for (; type[i] && i + 1 < n; i++) {
        char c = type[i] == '_' ? ' ' : type[i];
        if (c >= 'a' && c <= 'z' && word_start)
            c = (char)(c - 'a' + 'A');
        word_start = c == ' ';
        out[i] = c;
    }
    out[i] = '\0';
}

static int model_added_text(al_text *t, al_alert *a, json_t *details, int scrub)
{
    json_t *name = details ? json_object_get(details, "model_name") : NULL;
    json_t *base = details ? json_object_get(details, "base_model") : NULL;
    char *name_s = name && !json_is_null(name) ? render_value(name, scrub) : NULL;
    char *base_s = base && !json_is_null(base) ? render_value(base, scrub) : NULL;
    int ok = (!name || json_is_null(name) || name_s) && (!base || json_is_null(base) || base_s);
    al_text_lit(t, "\n*\xF0\x9F\x9A\x85 New Model Added*\nModel Name: `");
    al_text_val(t, name_s);
    al_text_lit(t, "`\n");
    if (base_s) {
        al_text_lit(t, "Base Model: `");
        al_text_val(t, base_s);
        al_text_lit(t, "`\n");
    }
    if (name_s) {
        a->model = name_s;
        name_s = NULL;
    }
    al_free(name_s);
    al_free(base_s);
    return ok;
}

static int key_event_text(al_text *t, int type, json_t *actor, json_t *details, int scrub)
{
    char name[64];
    event_name(name, sizeof name, al_types[type].name);
    al_text_printf(t, "`%s`\n*Action Done by:*\n", name);
    int ok = 1;
    const char *key;
    json_t *v;
    if (!actor || json_object_size(actor) == 0) {
        /* what LiteLLM prints when it knows nobody */
        al_text_lit(t, "created_by_user_id: `Unknown`\ncreated_by_user_role: `Unknown`\n"
                       "created_by_key_alias: `None`\n");
    } else {
        json_object_foreach(actor, key, v)
            ok &= text_item(t, key, v, scrub);
    }
    al_text_lit(t, "\n*Arguments passed:*\n");
    if (details) {
        json_object_foreach(details, key, v) {
            if (strcmp(key, "user_api_key_dict") != 0)
                ok &= text_item(t, key, v, scrub);
        }
    }
    return ok;
}

al_alert *al_ops_management(const char *alert_type, const char *actor_json,
                            const char *details_json, int scrub, int64_t at_ms, int *err)
{
    int dummy;
    if (!err)
        err = &dummy;
    int type = al_type_from_name(alert_type);
    if (!al_ops_is_management_type(type)) {
        *err = ALERT_ERR_INVALID;
        return NULL;
    }
    json_t *actor, *details;
    if (parse_object(actor_json, &actor) != ALERT_OK) {
        *err = ALERT_ERR_INVALID;
        return NULL;
    }
    if (parse_object(details_json, &details) != ALERT_OK) {
        json_decref(actor);
        *err = ALERT_ERR_INVALID;
        return NULL;
    }
    *err = ALERT_ERR_NOMEM;
    al_alert *a = al_alert_new((al_type)type, al_types[type].level, at_ms);
    if (a) {
        al_text t = { AL_BUF_INIT, AL_BUF_INIT };
        int ok = type == AL_T_NEW_MODEL_ADDED ? model_added_text(&t, a, details, scrub)
                                              : key_event_text(&t, type, actor, details, scrub);
        if (!ok) {
            al_text_free(&t);
            al_alert_free(a);
            a = NULL;
        } else {
            a = finish(a, &t);
        }
    }
    json_decref(actor);
    json_decref(details);
    if (a)
        *err = ALERT_OK;
    return a;
}
