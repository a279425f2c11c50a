/* SPDX-License-Identifier: MIT */
/* PagerDuty's compat aggregates (BEHAVIOUR.md section 6): many failures, or many
 * hanging requests, within a window raise one page. A window keeps at most
 * `threshold` timestamps, so memory is bounded by the threshold. Worker-only. */
#ifndef AL_PDAGG_H
#define AL_PDAGG_H

#include <stdint.h>

typedef struct al_pdwindow {
    int64_t *at;            /* ring of event times */
    int64_t threshold;
    int64_t window_ms;
    int64_t head, count;
} al_pdwindow;

int al_pdwindow_init(al_pdwindow *w, int64_t threshold, int64_t window_ms);
void al_pdwindow_free(al_pdwindow *w);
/* Records one event at at_ms; returns the count in the window when it reached the
 * threshold (the window is then cleared, as LiteLLM does), else 0. */
int64_t al_pdwindow_add(al_pdwindow *w, int64_t at_ms);

#endif
