/* SPDX-License-Identifier: MIT */
/* alerting_metadata: a JSON object given by the host, appended to alerts one item
 * per key. Parsed and cleaned on the worker, never on the hot path. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "alerting.h"
#include "alloc.h"
#include "redact.h"
#include "text.h"

/* Strings print without quotes, everything else as compact JSON (compat). */
static char *render_value(json_t *v, int scrub)
{
    char *raw = json_is_string(v) ? al_strdup(json_string_value(v))
                                  : NULL;
    if (!json_is_string(v)) {
        char *d = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        raw = d ? al_strdup(d) : NULL;
        free(d);
    }
    if (!raw)
        return NULL;
    char *fixed = al_utf8_repair(raw, strlen(raw));
    al_free(raw);
    if (!fixed || !scrub)
        return fixed;
    char *clean = al_scrub_secrets(fixed);
    al_free(fixed);
    return clean;
}

int al_alert_set_metadata(al_alert *a, const char *json, int scrub)
{
    if (!json)
        return ALERT_OK;
    json_error_t jerr;
    json_t *obj = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj || !json_is_object(obj)) {
        json_decref(obj);
        return ALERT_ERR_INVALID;
    }
    size_t n = json_object_size(obj);
    al_kv *items = n ? al_calloc(n, sizeof *items) : NULL;
    json_t *clean = json_object();
    if ((n && !items) || !clean)
        goto oom;
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        items[i].key = al_utf8_repair(key, strlen(key));
        /* a top-level secret goes whole, as a nested one does in the rendered text */
        int secret = scrub && al_is_secret_name(key);
        items[i].value = secret ? al_strdup("REDACTED") : render_value(v, scrub);
        if (!items[i].key || !items[i].value) {
            i++;
            goto oom_items;
        }
        /* the JSON form carries the cleaned values too */
        json_t *cv = json_is_string(v) || secret ? json_string(items[i].value)
                     : scrub ? json_loads(items[i].value, JSON_DECODE_ANY, NULL)
                             : json_deep_copy(v);
        json_object_set_new(clean, items[i].key, cv ? cv : json_null());
        i++;
    }
    char *dumped = json_dumps(clean, JSON_COMPACT | JSON_PRESERVE_ORDER);
    a->metadata_json = dumped ? al_strdup(dumped) : NULL;
    free(dumped);
    if (!a->metadata_json)
        goto oom_items;
    a->metadata = items;
    a->n_metadata = n;
    json_decref(clean);
    json_decref(obj);
    return ALERT_OK;
oom_items:
    for (size_t k = 0; k < i; k++) {
        al_free(items[k].key);
        al_free(items[k].value);
    }
oom:
    al_free(items);
    json_decref(clean);
    json_decref(obj);
    return ALERT_ERR_NOMEM;
}
