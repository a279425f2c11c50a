/* SPDX-License-Identifier: MIT */
/* The alert value: creation, references, freeing (which settles it), metadata,
 * and the table of alert types. */
#include "alert.h"

#include <string.h>

#include "alerting.h"
#include "alloc.h"

#define L ALERT_LEVEL_LOW
#define M ALERT_LEVEL_MEDIUM
#define H ALERT_LEVEL_HIGH

const al_type_info al_types[AL_T__COUNT] = {
    [AL_T_LLM_EXCEPTIONS]             = { "llm_exceptions", 1, H },
    [AL_T_LLM_TOO_SLOW]               = { "llm_too_slow", 1, L },
    [AL_T_LLM_REQUESTS_HANGING]       = { "llm_requests_hanging", 1, M },
    [AL_T_BUDGET_ALERTS]              = { "budget_alerts", 1, H },
    [AL_T_SPEND_REPORTS]              = { "spend_reports", 1, L },
    [AL_T_FAILED_TRACKING_SPEND]      = { "failed_tracking_spend", 1, H },
    [AL_T_USER_SPEND_THRESHOLDS]      = { "user_spend_thresholds", 1, H },
    [AL_T_USER_SPEND_ANOMALIES]       = { "user_spend_anomalies", 0, H },
    [AL_T_DB_EXCEPTIONS]              = { "db_exceptions", 1, H },
    [AL_T_DAILY_REPORTS]              = { "daily_reports", 1, L },
    [AL_T_COOLDOWN_DEPLOYMENT]        = { "cooldown_deployment", 1, M },
    [AL_T_NEW_MODEL_ADDED]            = { "new_model_added", 1, L },
    [AL_T_MODEL_DEPRECATION_WARNINGS] = { "model_deprecation_warnings", 1, M },
    [AL_T_OUTAGE_ALERTS]              = { "outage_alerts", 1, M },
    [AL_T_REGION_OUTAGE_ALERTS]       = { "region_outage_alerts", 1, M },
    [AL_T_FALLBACK_REPORTS]           = { "fallback_reports", 1, L },
    [AL_T_NEW_VIRTUAL_KEY_CREATED]    = { "new_virtual_key_created", 0, H },
    [AL_T_VIRTUAL_KEY_UPDATED]        = { "virtual_key_updated", 0, H },
    [AL_T_VIRTUAL_KEY_DELETED]        = { "virtual_key_deleted", 0, H },
    [AL_T_NEW_TEAM_CREATED]           = { "new_team_created", 0, H },
    [AL_T_TEAM_UPDATED]               = { "team_updated", 0, H },
    [AL_T_TEAM_DELETED]               = { "team_deleted", 0, H },
    [AL_T_NEW_INTERNAL_USER_CREATED]  = { "new_internal_user_created", 0, H },
    [AL_T_INTERNAL_USER_UPDATED]      = { "internal_user_updated", 0, H },
    [AL_T_INTERNAL_USER_DELETED]      = { "internal_user_deleted", 0, H },
};

int al_type_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < AL_T__COUNT; i++)
        if (strcmp(al_types[i].name, name) == 0)
            return i;
    return -1;
}

uint32_t al_type_default_mask(void)
{
    uint32_t m = 0;
    for (int i = 0; i < AL_T__COUNT; i++)
        if (al_types[i].default_on)
            m |= 1u << i;
    return m;
}

const char *al_level_name(int level)
{
    switch (level) {
    case ALERT_LEVEL_LOW: return "Low";
    case ALERT_LEVEL_MEDIUM: return "Medium";
    case ALERT_LEVEL_HIGH: return "High";
    default: return "Low";
    }
}

al_alert *al_alert_new(al_type type, int level, int64_t at_ms)
{
    al_alert *a = al_calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->type = type;
    a->level = level;
    a->at_ms = at_ms;
    a->duration_s = -1;
    a->refs = 1;
    return a;
}

al_alert *al_alert_retain(al_alert *a)
{
    a->refs++;
    return a;
}

/* The labels in the order of their block (al_alert_set_labels) */
static void label_slots(al_alert *a, char **slots[6])
{
    slots[0] = &a->model;
    slots[1] = &a->deployment;
    slots[2] = &a->api_base;
    slots[3] = &a->provider;
    slots[4] = &a->region;
    slots[5] = &a->call_id;
}

static char *first_label(al_alert *a)
{
    char **slots[6];
    label_slots(a, slots);
    for (int i = 0; i < 6; i++)
        if (*slots[i])
            return *slots[i];
    return NULL;
}

int al_alert_set_labels(al_alert *a, const char *model, const char *deployment,
                        const char *api_base, const char *provider, const char *region,
                        const char *call_id)
{
    const char *from[6] = { model, deployment, api_base, provider, region, call_id };
    size_t len[6], total = 0;
    for (int i = 0; i < 6; i++) {
        len[i] = from[i] ? strlen(from[i]) + 1 : 0;
        total += len[i];
    }
    if (!total)
        return ALERT_OK;
    char *block = al_malloc(total);
    if (!block)
        return ALERT_ERR_NOMEM;
    char **slots[6];
    label_slots(a, slots);
    char *p = block;
    for (int i = 0; i < 6; i++) {
        if (!from[i])
            continue;
        memcpy(p, from[i], len[i]);
        *slots[i] = p;
        p += len[i];
    }
    a->labels_packed = 1;
    return ALERT_OK;
}

void al_alert_free(al_alert *a)
{
    if (!a || --a->refs > 0)
        return;
    for (size_t i = 0; i < a->n_metadata; i++) {
        al_free(a->metadata[i].key);
        al_free(a->metadata[i].value);
    }
    al_free(a->metadata);
    al_free(a->metadata_json);
    al_free(a->message);
    if (a->plain != a->message)        /* one string (al_text_finish_shared) */
        al_free(a->plain);
    if (a->labels_packed) {
        al_free(first_label(a));
    } else {
        al_free(a->model);
        al_free(a->deployment);
        al_free(a->api_base);
        al_free(a->region);
        al_free(a->provider);
        al_free(a->call_id);
    }
    al_free(a->webhook_json);
    al_free(a->event_json);
    al_free(a->envelope);
    al_free(a->subject);
    for (size_t i = 0; i < a->emails.n; i++)
        al_free(a->emails.items[i]);
    al_free(a->emails.items);
    if (a->settle_alert)
        a->settle_alert(a->settle_ud, a, a->delivered_ok);
    else if (a->settle)
        a->settle(a->settle_ud, a->settle_key, a->delivered_ok);
    al_free(a->settle_key);
    al_free(a->fleet_key);
    al_free(a->idem);
    al_free(a);
}
