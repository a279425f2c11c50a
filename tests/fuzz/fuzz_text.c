/* SPDX-License-Identifier: MIT */
/* libFuzzer: any bytes through the text pipeline every alert takes: UTF-8 repair,
 * secret scrubbing, Slack escaping, truncation, metadata parsing. The output is always
 * valid UTF-8 and never longer than its bounds. */
#include <stdint.h>
#include <string.h>

#include "alert.h"
#include "alloc.h"
#include "redact.h"
#include "text.h"

static int valid_utf8(const char *s)
{
    char *again = al_utf8_repair(s, strlen(s));
    int same = again && strcmp(again, s) == 0;
    al_free(again);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *fixed = al_utf8_repair((const char *)data, size);
    if (!fixed)
        return 0;
    if (!valid_utf8(fixed))
        __builtin_trap();
    char *clean = al_scrub_secrets(fixed);
    char *esc = clean ? al_slack_escape(clean) : NULL;
    char *cut = esc ? al_utf8_truncate(esc, 100) : NULL;
    if (clean && !valid_utf8(clean))
        __builtin_trap();
    if (cut && (al_utf8_count(cut) > 100 || !valid_utf8(cut)))
        __builtin_trap();
    if (esc && (strchr(esc, '<') || strchr(esc, '>')))
        __builtin_trap();
    al_alert *a = al_alert_new(AL_T_LLM_EXCEPTIONS, 3, 0);
    if (a) {
        al_alert_set_metadata(a, fixed, 1);
        for (size_t i = 0; i < a->n_metadata; i++)
            if (!valid_utf8(a->metadata[i].key) || !valid_utf8(a->metadata[i].value))
                __builtin_trap();
        al_alert_free(a);
    }
    al_free(cut);
    al_free(esc);
    al_free(clean);
    al_free(fixed);
    return 0;
}
