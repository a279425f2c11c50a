/* An alert as JSON, so that a pending delivery can be kept in the store and its
 * payload rebuilt after a restart (BEHAVIOUR.md section 6, at-least-once). */
#ifndef AL_SPOOL_H
#define AL_SPOOL_H

#include "alert.h"

/* Everything a payload needs; NULL on allocation failure. count is the
 * "[Num Alerts: N]" of the message. */
char *al_alert_to_json(const al_alert *a, int count);
/* The alert back (refs 1), and the count; NULL when the text is not ours. */
al_alert *al_alert_from_json(const char *json, int *count);

#endif
