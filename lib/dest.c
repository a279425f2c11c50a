/* SPDX-License-Identifier: MIT */
/* Destination kinds and the meaning of an HTTP answer for each (dest.h). */
#include "dest.h"

#include <string.h>

static const char *const dest_names[AL_DEST__COUNT] = {
    [AL_DEST_SLACK] = "slack", [AL_DEST_DISCORD] = "discord", [AL_DEST_MS_TEAMS] = "ms_teams",
    [AL_DEST_WEBHOOK] = "webhook", [AL_DEST_EMAIL] = "email", [AL_DEST_PAGERDUTY] = "pagerduty",
    [AL_DEST_ALERTMANAGER] = "alertmanager", [AL_DEST_CUSTOM] = "custom",
};

const char *al_dest_name(al_dest_kind k)
{
    return (k >= 0 && k < AL_DEST__COUNT) ? dest_names[k] : "unknown";
}

int al_dest_from_name(const char *name)
{
    for (int k = 0; k < AL_DEST_CUSTOM; k++)
        if (strcmp(dest_names[k], name) == 0)
            return k;
    return -1;
}

al_outcome al_classify_http(al_dest_kind kind, long status, const char *body, size_t body_len)
{
    if (status == 429)
        return AL_OUT_RATE_LIMITED;
    if (status == 408 || (status >= 500 && status <= 599))
        return AL_OUT_RETRY;
    if ((status == 404 || status == 410) &&
        (kind == AL_DEST_SLACK || kind == AL_DEST_DISCORD || kind == AL_DEST_WEBHOOK ||
         kind == AL_DEST_MS_TEAMS))
        return AL_OUT_DEAD;
    switch (kind) {
    case AL_DEST_SLACK:
        /* Slack answers 200 "ok"; anything else in a 200 is a refusal, not a hiccup. */
        if (status == 200) {
            while (body_len && (body[body_len - 1] == '\n' || body[body_len - 1] == '\r' ||
                                body[body_len - 1] == ' '))
                body_len--;
            return (body_len == 2 && memcmp(body, "ok", 2) == 0) ? AL_OUT_OK : AL_OUT_GIVE_UP;
        }
        return AL_OUT_GIVE_UP;
    case AL_DEST_DISCORD:
        return (status == 200 || status == 204) ? AL_OUT_OK : AL_OUT_GIVE_UP;
    case AL_DEST_MS_TEAMS:
        return (status == 200 || status == 202) ? AL_OUT_OK : AL_OUT_GIVE_UP;
    case AL_DEST_PAGERDUTY:
        return status == 202 ? AL_OUT_OK : AL_OUT_GIVE_UP;
    case AL_DEST_ALERTMANAGER:
        return status == 200 ? AL_OUT_OK : AL_OUT_GIVE_UP;
    default:
        return (status >= 200 && status <= 299) ? AL_OUT_OK : AL_OUT_GIVE_UP;
    }
}
