/* SPDX-License-Identifier: MIT */
/* Deployment and region outages (BEHAVIOUR.md section 4): sliding windows of
 * counted failures (status 408 and >= 500), a Minor and a Major alert once per
 * episode, and with send_resolved one "recovered" message when the episode ends.
 * Pure worker-side state: no clock reads, no locks, not thread-safe.
 *
 * The window. Each tracked deployment (and each (provider, region)) keeps the
 * times of its last K counted failures in a ring, K = max(minor, major). That is
 * exact, not an approximation: failures arrive one at a time, so "at least k
 * failures in (now - ttl, now]" holds iff the k-th most recent failure is inside
 * the window, and for k <= K the ring holds it. Only the error breakdown of the
 * text is capped: it counts the failures of the window among the last K (at the
 * moment a threshold is crossed that is every failure of the window, except for
 * a region alert held back until a second deployment failed).
 *
 * Episodes. An episode starts with the first counted failure and ends when no
 * counted failure came for one window (ttl); the entry is then freed, so only
 * deployments that failed within the last window are tracked. At most
 * max_tracked deployments (and as many regions) are tracked; beyond that the
 * least recently failing one is evicted without a message and counted. */
#ifndef AL_OUTAGE_H
#define AL_OUTAGE_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"

/* Thresholds above this are refused by al_outage_new (the ring would not fit
 * the memory target); LiteLLM never fired above 10. */
#define AL_OUTAGE_MAX_THRESHOLD 1000

typedef struct al_outage al_outage;

typedef struct al_outage_conf {
    double ttl_s;               /* outage_alert_ttl: the deployment window */
    double region_ttl_s;        /* region_outage_alert_ttl */
    int64_t minor;              /* minor_outage_alert_threshold (< 1 acts as 1) */
    int64_t major;              /* major_outage_alert_threshold (< 1 acts as 1) */
    int64_t max_tracked;        /* max_tracked_deployments; also the bound on regions; 0: none */
    int send_resolved;          /* a "recovered" message ends an episode that alerted */
    int deployments_on;         /* outage_alerts enabled */
    int regions_on;             /* region_outage_alerts enabled */
} al_outage_conf;

/* One failed request, as the failure hook saw it (strings borrowed for the call). */
typedef struct al_outage_failure {
    const char *model;          /* the model group */
    const char *deployment;     /* the deployment's model string ("vertex_ai/gemini-pro") */
    const char *deployment_id;  /* identifies the deployment; else `deployment` does */
    const char *provider;
    const char *api_base;
    const char *region;         /* NULL or "": no region tracking for this failure */
    int32_t status_code;
    int64_t at_ms;              /* when it failed (the ctx clock) */
} al_outage_failure;

/* ALERT_OK, ALERT_ERR_INVALID (a ttl < 0 or not finite, a threshold above
 * AL_OUTAGE_MAX_THRESHOLD, max_tracked < 0) or ALERT_ERR_NOMEM. */
int al_outage_new(const al_outage_conf *c, al_outage **out);
void al_outage_free(al_outage *o);

/* 1 when the status counts towards an outage (408 or >= 500). */
int al_outage_counted(int32_t status_code);

/* Feeds one failure. Failures that do not count, or without deployment_id and
 * deployment, change nothing. Alerts raised (in order: "recovered" of an episode
 * that this failure shows had ended, then Minor/Major of the deployment, then of
 * the region) are returned in *out (an al_malloc'ed array the caller frees with
 * al_free; NULL when *n_out is 0); the caller owns each alert.
 * Deployment alerts: type outage_alerts, subject "deployment <id>". Region alerts:
 * type region_outage_alerts, subject "region <provider>/<region>", raised only
 * when more than one distinct deployment failed within the window. Minor: level
 * Medium; Major: level High and severity_major; a threshold crossed together with
 * a higher one raises only the higher one.
 * Returns ALERT_OK, or ALERT_ERR_NOMEM when an alert or an entry could not be
 * made (what was made is still returned; a lost alert is raised again by the
 * next failure, since its mark is set only once it exists). */
int al_outage_on_failure(al_outage *o, const al_outage_failure *f, al_alert ***out,
                         size_t *n_out);

/* Fleet mode (health.c): the window is summed over replicas in the fleet's store,
 * which decides the level; these build the same texts from one failure's labels.
 * The outage key of a failure (deployment_id, else deployment; NULL when it does not
 * count), and the alert: region 1 for the region's, level 1 Minor / 2 Major,
 * resolved 1 for "Service Recovered" of an episode whose highest level it was;
 * timeouts and api: the window's breakdown. NULL on no memory, or a region alert
 * for a failure without a region. */
const char *al_outage_key(const al_outage_failure *f);
al_alert *al_outage_alert(const al_outage_failure *f, int region, int level, int resolved,
                          uint64_t timeouts, uint64_t api, int64_t ttl_ms, int64_t now_ms);

/* Ends the episodes with no counted failure in (now - ttl, now]: frees their
 * state and, with send_resolved, returns one "recovered" alert (resolved = 1,
 * same type, level and subject as the episode's highest alert) for each
 * episode that alerted. Cost: O(episodes ended). Same ownership as above. */
int al_outage_tick(al_outage *o, int64_t now_ms, al_alert ***out, size_t *n_out);

/* The earliest time at which al_outage_tick could end an episode; INT64_MAX
 * when nothing is tracked (lets the worker sleep). */
int64_t al_outage_next_due(const al_outage *o);

size_t al_outage_tracked(const al_outage *o);           /* deployments */
size_t al_outage_regions_tracked(const al_outage *o);
uint64_t al_outage_evicted(const al_outage *o);         /* deployments and regions */
/* Bytes of state per tracked deployment for this conf, without its label
 * strings (the id, and the labels of the last alert while an episode has one):
 * entry, ring, share of the hash table, allocator overhead. */
size_t al_outage_bytes_per_deployment(const al_outage_conf *c);
/* Bytes held now, label strings included (for the bench). */
size_t al_outage_memory(const al_outage *o);

#endif
