/* SPDX-License-Identifier: MIT */
/* PagerDuty's failure and hanging aggregates: bounded windows of timestamps
 * (pdagg.h). */
#include "pdagg.h"

#include "alerting.h"
#include "alloc.h"

int al_pdwindow_init(al_pdwindow *w, int64_t threshold, int64_t window_ms)
{
    w->threshold = threshold > 0 ? threshold : 1;
    w->window_ms = window_ms;
    w->head = w->count = 0;
    w->at = al_calloc((size_t)w->threshold, sizeof *w->at);
    return w->at ? ALERT_OK : ALERT_ERR_NOMEM;
}

void al_pdwindow_free(al_pdwindow *w)
{
    al_free(w->at);
    w->at = NULL;
}

int64_t al_pdwindow_add(al_pdwindow *w, int64_t at_ms)
{
    /* drop what fell out of the window (the oldest sit at the tail of the ring) */
    while (w->count > 0) {
        int64_t oldest = w->at[(w->head - w->count + w->threshold) % w->threshold];
        if (at_ms - oldest < w->window_ms)
            break;
        w->count--;
    }
    w->at[w->head] = at_ms;
    w->head = (w->head + 1) % w->threshold;
    if (w->count < w->threshold)
        w->count++;
    if (w->count < w->threshold)
        return 0;
    int64_t n = w->count;
    w->count = 0;
    return n;
}
