/* SPDX-License-Identifier: MIT */
/* An alert as JSON and back, so a pending delivery survives a restart (spool.h). */
#include "spool.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

static json_t *str(const char *s)
{
    return s ? json_string(s) : json_null();
}

char *al_alert_to_json(const al_alert *a, int count)
{
    json_t *emails = json_array();
    json_t *o = json_object();
    if (!o || !emails) {
        json_decref(o);
        json_decref(emails);
        return NULL;
    }
    for (size_t i = 0; i < a->emails.n; i++)
        json_array_append_new(emails, json_string(a->emails.items[i]));
    json_object_set_new(o, "type", json_integer(a->type));
    json_object_set_new(o, "level", json_integer(a->level));
    json_object_set_new(o, "at_ms", json_integer(a->at_ms));
    json_object_set_new(o, "count", json_integer(count));
    json_object_set_new(o, "message", str(a->message));
    json_object_set_new(o, "plain", str(a->plain));
    json_object_set_new(o, "metadata_json", str(a->metadata_json));
    json_object_set_new(o, "model", str(a->model));
    json_object_set_new(o, "deployment", str(a->deployment));
    json_object_set_new(o, "api_base", str(a->api_base));
    json_object_set_new(o, "region", str(a->region));
    json_object_set_new(o, "provider", str(a->provider));
    json_object_set_new(o, "call_id", str(a->call_id));
    json_object_set_new(o, "duration_s", json_real(a->duration_s));
    json_object_set_new(o, "status_code", json_integer(a->status_code));
    json_object_set_new(o, "webhook_json", str(a->webhook_json));
    json_object_set_new(o, "envelope", str(a->envelope));
    json_object_set_new(o, "subject", str(a->subject));
    json_object_set_new(o, "entity", json_integer(a->entity));
    json_object_set_new(o, "severity_major", json_integer(a->severity_major));
    json_object_set_new(o, "resolved", json_integer(a->resolved));
    json_object_set_new(o, "page", json_integer(a->page));
    json_object_set_new(o, "emails", emails);
    json_object_set_new(o, "settle_key", str(a->settle_key));
    json_object_set_new(o, "fleet_key", str(a->fleet_key));
    json_object_set_new(o, "fleet_claimed", json_integer(a->fleet_claimed));
    char *d = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    char *out = d ? al_strdup(d) : NULL;
    free(d);
    return out;
}

static int get_str(json_t *o, const char *k, char **out)
{
    json_t *v = json_object_get(o, k);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *out = al_strdup(json_string_value(v));
    return *out ? 0 : -1;
}

static int64_t get_int(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? json_integer_value(v) : 0;
}

al_alert *al_alert_from_json(const char *json, int *count)
{
    json_error_t jerr;
    json_t *o = json ? json_loads(json, 0, &jerr) : NULL;
    /* a type that is missing or not a number is not ours (a damaged row) */
    int64_t type = json_is_integer(json_object_get(o, "type")) ? get_int(o, "type") : -1;
    if (!o || !json_is_object(o) || type < 0 || type >= AL_T__COUNT) {
        json_decref(o);
        return NULL;
    }
    al_alert *a = al_alert_new((al_type)type, (int)get_int(o, "level"), get_int(o, "at_ms"));
    if (!a) {
        json_decref(o);
        return NULL;
    }
    *count = (int)get_int(o, "count");
    if (*count < 1)
        *count = 1;
    json_t *d = json_object_get(o, "duration_s");
    a->duration_s = json_is_number(d) ? json_number_value(d) : -1;
    a->status_code = (int)get_int(o, "status_code");
    a->entity = (int)get_int(o, "entity");
    a->severity_major = (int)get_int(o, "severity_major");
    a->resolved = (int)get_int(o, "resolved");
    a->page = (al_page)get_int(o, "page");
    a->fleet_claimed = (int)get_int(o, "fleet_claimed");
    int bad = get_str(o, "message", &a->message) | get_str(o, "plain", &a->plain) |
              get_str(o, "metadata_json", &a->metadata_json) | get_str(o, "model", &a->model) |
              get_str(o, "deployment", &a->deployment) | get_str(o, "api_base", &a->api_base) |
              get_str(o, "region", &a->region) | get_str(o, "provider", &a->provider) |
              get_str(o, "call_id", &a->call_id) | get_str(o, "webhook_json", &a->webhook_json) |
              get_str(o, "envelope", &a->envelope) | get_str(o, "subject", &a->subject) |
              get_str(o, "settle_key", &a->settle_key) | get_str(o, "fleet_key", &a->fleet_key);
    json_t *emails = json_object_get(o, "emails");
    size_t n = json_is_array(emails) ? json_array_size(emails) : 0;
    if (n && (a->emails.items = al_calloc(n, sizeof *a->emails.items))) {
        for (size_t i = 0; i < n; i++) {
            const char *e = json_string_value(json_array_get(emails, i));
            if (e && (a->emails.items[a->emails.n] = al_strdup(e)))
                a->emails.n++;
        }
    }
    json_decref(o);
    if (bad) {
        al_alert_free(a);
        return NULL;
    }
    return a;
}
