/* SPDX-License-Identifier: MIT */
/* Outage windows: see outage.h for the model (rings of the last K failure times,
 * episodes, LRU bound). */
#include "outage.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "buf.h"
#include "fmt.h"
#include "hash.h"
#include "text.h"

/* What an alert is about: the labels its text prints and it carries. */
enum { L_MODEL_NAME, L_MODEL, L_DEPLOYMENT, L_PROVIDER, L_API_BASE, L_REGION, L__COUNT };
typedef struct about {
    const char *s[L__COUNT];
} about;

/* The labels of the episode's last alert, kept for its "recovered" message. */
typedef struct labels {
    size_t size;
    about ab;
    char data[];
} labels;

typedef struct entry {
    struct entry *hnext;                /* hash chain */
    struct entry *older, *newer;        /* LRU order = order of the last counted failure */
    uint64_t hash;
    int64_t last_ms;                    /* the last counted failure */
    /* regions: the deployment of the last failure, and the most recent failure of
     * any other deployment. More than one deployment failed within the window iff
     * other_ms is inside it, so two hashes replace a set of ids. */
    uint64_t last_dep, other_dep;
    int64_t other_ms;
    int has_other;
    labels *lbl;
    const char *key;                    /* into the same allocation */
    size_t size;                        /* of this allocation */
    uint32_t head, n;                   /* ring: next slot to write, slots filled */
    uint8_t minor_sent, major_sent;
    int64_t ring[];                     /* cap times, then cap timeout flags, then key */
} entry;

typedef struct map {
    entry **buckets;
    size_t nb, n;
    entry *oldest, *newest;
    int64_t ttl_ms;
    int region;
} map;

struct al_outage {
    map dep, reg;
    uint32_t cap, minor, major;
    size_t max_tracked;
    int send_resolved, deployments_on, regions_on;
    uint64_t evicted;
    size_t bytes;                       /* entries, labels and buckets */
};

typedef struct outv {
    al_alert **v;
    size_t n, cap;
    int oom;
} outv;

#define KEY_SEP '\x1f'

static void outv_push(outv *o, al_alert *a)
{
    if (!a) {
        o->oom = 1;
        return;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4;
        al_alert **v = al_realloc(o->v, cap * sizeof *v);
        if (!v) {
            al_alert_free(a);
            o->oom = 1;
            return;
        }
        o->v = v;
        o->cap = cap;
    }
    o->v[o->n++] = a;
}

static int outv_finish(outv *o, al_alert ***out, size_t *n_out)
{
    if (o->n == 0) {
        al_free(o->v);
        o->v = NULL;
    }
    *out = o->v;
    *n_out = o->n;
    return o->oom ? ALERT_ERR_NOMEM : ALERT_OK;
}

/* ---- configuration ---------------------------------------------------------- */

static int ttl_ms_of(double s, int64_t *ms)
{
    if (!isfinite(s) || s < 0 || s > 1e12)
        return ALERT_ERR_INVALID;
    *ms = llround(s * 1000.0);
    return ALERT_OK;
}

static uint32_t threshold_of(int64_t t)
{
    return t < 1 ? 1u : (uint32_t)t;
}

int al_outage_new(const al_outage_conf *c, al_outage **out)
{
    if (!c || !out)
        return ALERT_ERR_INVALID;
    *out = NULL;
    int64_t ttl, rttl;
    if (ttl_ms_of(c->ttl_s, &ttl) || ttl_ms_of(c->region_ttl_s, &rttl))
        return ALERT_ERR_INVALID;
    if (c->minor > AL_OUTAGE_MAX_THRESHOLD || c->major > AL_OUTAGE_MAX_THRESHOLD ||
        c->max_tracked < 0)
        return ALERT_ERR_INVALID;
    al_outage *o = al_calloc(1, sizeof *o);
    if (!o)
        return ALERT_ERR_NOMEM;
    o->dep.ttl_ms = ttl;
    o->reg.ttl_ms = rttl;
    o->reg.region = 1;
    o->minor = threshold_of(c->minor);
    o->major = threshold_of(c->major);
    o->cap = o->minor > o->major ? o->minor : o->major;
    o->max_tracked = (size_t)c->max_tracked;
    o->send_resolved = c->send_resolved != 0;
    o->deployments_on = c->deployments_on != 0;
    o->regions_on = c->regions_on != 0;
    *out = o;
    return ALERT_OK;
}

static void map_clear(al_outage *o, map *m)
{
    entry *e = m->oldest;
    while (e) {
        entry *next = e->newer;
        al_free(e->lbl);
        al_free(e);
        e = next;
    }
    al_free(m->buckets);
    m->buckets = NULL;
    m->oldest = m->newest = NULL;
    m->nb = m->n = 0;
    (void)o;
}

void al_outage_free(al_outage *o)
{
    if (!o)
        return;
    map_clear(o, &o->dep);
    map_clear(o, &o->reg);
    al_free(o);
}

int al_outage_counted(int32_t status_code)
{
    return status_code == 408 || status_code >= 500;
}

/* ---- the map: chained hash + LRU list ---------------------------------------- */

static entry *map_find(const map *m, const char *key, size_t len, uint64_t h)
{
    if (!m->nb)
        return NULL;
    for (entry *e = m->buckets[h & (m->nb - 1)]; e; e = e->hnext)
        if (e->hash == h && strncmp(e->key, key, len) == 0 && e->key[len] == '\0')
            return e;
    return NULL;
}

static int map_grow(al_outage *o, map *m)
{
    size_t nb = m->nb ? m->nb * 2 : 16;
    entry **b = al_calloc(nb, sizeof *b);
    if (!b)
        return ALERT_ERR_NOMEM;
    for (size_t i = 0; i < m->nb; i++) {
        entry *e = m->buckets[i];
        while (e) {
            entry *next = e->hnext;
            e->hnext = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
            e = next;
        }
    }
    o->bytes += (nb - m->nb) * sizeof *b;
    al_free(m->buckets);
    m->buckets = b;
    m->nb = nb;
    return ALERT_OK;
}

static void lru_unlink(map *m, entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        m->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        m->newest = e->older;
    e->older = e->newer = NULL;
}

static void lru_push_newest(map *m, entry *e)
{
    e->older = m->newest;
    e->newer = NULL;
    if (m->newest)
        m->newest->newer = e;
    else
        m->oldest = e;
    m->newest = e;
}

static void map_remove(al_outage *o, map *m, entry *e)
{
    entry **p = &m->buckets[e->hash & (m->nb - 1)];
    while (*p != e)
        p = &(*p)->hnext;
    *p = e->hnext;
    lru_unlink(m, e);
    m->n--;
    o->bytes -= e->size + (e->lbl ? e->lbl->size : 0);
    al_free(e->lbl);
    al_free(e);
}

static uint8_t *timeout_flags(const al_outage *o, entry *e)
{
    return (uint8_t *)(e->ring + o->cap);
}

static entry *map_add(al_outage *o, map *m, const char *key, size_t len, uint64_t h)
{
    if (m->n >= o->max_tracked) {
        map_remove(o, m, m->oldest);
        o->evicted++;
    }
    if (m->n + 1 > m->nb && map_grow(o, m) != ALERT_OK)
        return NULL;
    size_t size = sizeof(entry) + (size_t)o->cap * (sizeof(int64_t) + 1) + len + 1;
    entry *e = al_calloc(1, size);
    if (!e)
        return NULL;
    char *k = (char *)(e->ring + o->cap) + o->cap;
    memcpy(k, key, len);
    k[len] = '\0';
    e->key = k;
    e->hash = h;
    e->size = size;
    e->hnext = m->buckets[h & (m->nb - 1)];
    m->buckets[h & (m->nb - 1)] = e;
    lru_push_newest(m, e);
    m->n++;
    o->bytes += size;
    return e;
}

/* ---- windows ----------------------------------------------------------------- */

static size_t ring_index(const al_outage *o, const entry *e, uint32_t k)
{
    /* the k-th most recent failure, k >= 1 */
    return (e->head + o->cap - k) % o->cap;
}

/* At least k counted failures in (now - ttl, now]. */
static int window_has(const al_outage *o, const map *m, const entry *e, uint32_t k, int64_t now)
{
    return k <= e->n && now - e->ring[ring_index(o, e, k)] < m->ttl_ms;
}

static void window_breakdown(const al_outage *o, const map *m, entry *e, int64_t now,
                             unsigned *timeouts, unsigned *api)
{
    const uint8_t *flags = timeout_flags(o, e);
    *timeouts = *api = 0;
    for (uint32_t k = 1; k <= e->n; k++) {
        size_t i = ring_index(o, e, k);
        if (now - e->ring[i] >= m->ttl_ms)
            break;
        if (flags[i])
            ++*timeouts;
        else
            ++*api;
    }
}

static void episode_reset(entry *e, al_outage *o)
{
    e->n = e->head = 0;
    e->minor_sent = e->major_sent = 0;
    e->has_other = 0;
    if (e->lbl) {
        o->bytes -= e->lbl->size;
        al_free(e->lbl);
        e->lbl = NULL;
    }
}

/* ---- texts --------------------------------------------------------------------- */

static const char *or_null(const char *s)
{
    return (s && *s) ? s : NULL;
}

static void text_header_field(al_text *t, const char *name, const char *v)
{
    al_text_lit(t, "*");
    al_text_lit(t, name);
    al_text_lit(t, ":* `");
    al_text_val(t, v);
    al_text_lit(t, "`\n");
}

/* LiteLLM's _outage_alert_msg_factory: a region alert names the region and the
 * provider; a deployment alert the model, the provider and, when known, the API
 * base. */
static void text_headers(al_text *t, int region, const about *ab)
{
    al_text_lit(t, "\n");
    if (region) {
        text_header_field(t, "Region Name", ab->s[L_REGION]);
        text_header_field(t, "Provider", ab->s[L_PROVIDER]);
    } else {
        text_header_field(t, "Model Name", ab->s[L_MODEL_NAME]);
        text_header_field(t, "Provider", ab->s[L_PROVIDER]);
        if (ab->s[L_API_BASE])
            text_header_field(t, "API Base", ab->s[L_API_BASE]);
    }
}

static void fmt_seconds(char *buf, size_t n, int64_t ms)
{
    if (ms % 1000 == 0)
        snprintf(buf, n, "%lld", (long long)(ms / 1000));
    else
        al_fmt_pyfloat(buf, n, (double)ms / 1000.0);
}

static char *subject_of(int region, const char *key, const about *ab)
{
    al_buf b = AL_BUF_INIT;
    if (region)
        al_buf_printf(&b, "region %s/%s", ab->s[L_PROVIDER] ? ab->s[L_PROVIDER] : "None",
                      ab->s[L_REGION]);
    else
        al_buf_printf(&b, "deployment %s", key);
    return al_buf_take(&b);
}

/* A Minor or Major alert (resolved = 0), or the "recovered" message of an episode
 * whose highest alert was Major or not (resolved = 1). */
static al_alert *build_alert(int region, int64_t ttl_ms, const char *key, const about *ab,
                             int major, int resolved, unsigned timeouts, unsigned api, int64_t now)
{
    al_type type = region ? AL_T_REGION_OUTAGE_ALERTS : AL_T_OUTAGE_ALERTS;
    al_alert *a = al_alert_new(type, major ? ALERT_LEVEL_HIGH : ALERT_LEVEL_MEDIUM, now);
    if (!a)
        return NULL;
    a->severity_major = major;
    a->resolved = resolved;
    al_text t = { AL_BUF_INIT, AL_BUF_INIT };
    if (resolved)
        al_text_lit(&t, "\n\n\n*\xE2\x9C\x85 Service Recovered*\n\n");
    else if (major)
        al_text_lit(&t, "\n\n\n*\xE2\x9A\xA0\xEF\xB8\x8F Major Service Outage*\n\n");
    else
        al_text_lit(&t, "\n\n\n*\xE2\x9A\xA0\xEF\xB8\x8F Minor Service Outage*\n\n");
    text_headers(&t, region, ab);
    if (resolved) {
        char ttl[32];
        fmt_seconds(ttl, sizeof ttl, ttl_ms);
        al_text_printf(&t, "\n\nNo Timeout or API Errors for %ss after a %s Service Outage.\n\n\n",
                       ttl, major ? "Major" : "Minor");
    } else {
        al_text_lit(&t, "\n\n*Errors:*\n");
        if (timeouts)
            al_text_printf(&t, "\nTimeout Errors: %u\n", timeouts);
        if (api)
            al_text_printf(&t, "\nAPI Errors: %u\n", api);
        /* raised as the failure that crosses the threshold is counted: LiteLLM's value
         * is computed at that moment too, so it is always 0.0 */
        al_text_lit(&t, "\n\n*Last Check:* `0.0s ago`\n\n\n");
    }
    char **dst[L__COUNT] = { NULL, &a->model, &a->deployment, &a->provider, &a->api_base,
                             &a->region };
    int ok = al_text_finish(&t, a) == ALERT_OK;
    for (int i = L_MODEL; i < L__COUNT; i++) {
        *dst[i] = al_strdup(ab->s[i]);
        ok &= !ab->s[i] || *dst[i];
    }
    a->subject = subject_of(region, key, ab);
    if (!ok || !a->subject) {
        al_alert_free(a);
        return NULL;
    }
    return a;
}

static al_alert *outage_alert(const al_outage *o, const map *m, entry *e, const about *ab,
                              int major, int resolved, int64_t now)
{
    unsigned timeouts = 0, api = 0;
    if (!resolved)
        window_breakdown(o, m, e, now, &timeouts, &api);
    return build_alert(m->region, m->ttl_ms, e->key, ab, major, resolved, timeouts, api, now);
}

static labels *labels_new(const about *ab)
{
    size_t len[L__COUNT], total = 0;
    for (int i = 0; i < L__COUNT; i++) {
        len[i] = ab->s[i] ? strlen(ab->s[i]) + 1 : 0;
        total += len[i];
    }
    labels *l = al_malloc(sizeof *l + total);
    if (!l)
        return NULL;
    l->size = sizeof *l + total;
    char *p = l->data;
    for (int i = 0; i < L__COUNT; i++) {
        l->ab.s[i] = ab->s[i] ? p : NULL;
        if (ab->s[i]) {
            memcpy(p, ab->s[i], len[i]);
            p += len[i];
        }
    }
    return l;
}

/* The episode ended (no counted failure for a window): its "recovered" message. */
static void episode_end(al_outage *o, const map *m, entry *e, int64_t now, outv *out)
{
    if (o->send_resolved && (e->minor_sent || e->major_sent) && e->lbl)
        outv_push(out, outage_alert(o, m, e, &e->lbl->ab, e->major_sent, 1, now));
}

/* ---- feeding ------------------------------------------------------------------- */

static int track(al_outage *o, map *m, const char *key, size_t len, uint64_t dep_hash,
                 const about *ab, int timeout, int64_t at, outv *out)
{
    uint64_t h = al_hash_bytes(key, len, 0);
    entry *e = map_find(m, key, len, h);
    if (e) {
        if (at < e->last_ms)
            at = e->last_ms;            /* a late event counts as the latest */
        if (at - e->last_ms >= m->ttl_ms) {
            episode_end(o, m, e, at, out);
            episode_reset(e, o);
        }
        lru_unlink(m, e);
        lru_push_newest(m, e);
    } else {
        if (o->max_tracked == 0)
            return ALERT_OK;
        e = map_add(o, m, key, len, h);
        if (!e)
            return ALERT_ERR_NOMEM;
    }
    e->ring[e->head] = at;
    timeout_flags(o, e)[e->head] = (uint8_t)timeout;
    e->head = (e->head + 1) % o->cap;
    if (e->n < o->cap)
        e->n++;
    e->last_ms = at;
    if (m->region) {
        if (e->n > 1 && e->last_dep != dep_hash) {
            e->other_dep = e->last_dep;
            e->other_ms = e->ring[ring_index(o, e, 2)];
            e->has_other = 1;
        }
        e->last_dep = dep_hash;
        if (e->has_other && at - e->other_ms >= m->ttl_ms)
            e->has_other = 0;
        if (!e->has_other)
            return ALERT_OK;            /* only one deployment failing: not a region outage */
    }
    int major = !e->major_sent && window_has(o, m, e, o->major, at);
    int minor = !major && !e->minor_sent && window_has(o, m, e, o->minor, at);
    if (!major && !minor)
        return ALERT_OK;
    al_alert *a = outage_alert(o, m, e, ab, major, 0, at);
    labels *l = a ? labels_new(ab) : NULL;
    if (!a || !l) {
        al_alert_free(a);
        return ALERT_ERR_NOMEM;         /* unmarked: the next failure raises it */
    }
    if (e->lbl)
        o->bytes -= e->lbl->size;
    al_free(e->lbl);
    e->lbl = l;
    o->bytes += l->size;
    e->minor_sent = 1;                  /* a Major makes a later Minor meaningless */
    if (major)
        e->major_sent = 1;
    outv_push(out, a);
    return ALERT_OK;
}

static void about_of(const al_outage_failure *f, const char *key, about *ab)
{
    about v = { {
        [L_MODEL_NAME] = or_null(f->deployment) ? f->deployment : f->model,
        [L_MODEL] = f->model,
        [L_DEPLOYMENT] = or_null(f->deployment) ? f->deployment : key,
        [L_PROVIDER] = f->provider,
        [L_API_BASE] = or_null(f->api_base),
        [L_REGION] = or_null(f->region),
    } };
    *ab = v;
}

const char *al_outage_key(const al_outage_failure *f)
{
    if (!f || !al_outage_counted(f->status_code))
        return NULL;
    return or_null(f->deployment_id) ? f->deployment_id : or_null(f->deployment);
}

al_alert *al_outage_alert(const al_outage_failure *f, int region, int level, int resolved,
                          uint64_t timeouts, uint64_t api, int64_t ttl_ms, int64_t now_ms)
{
    const char *key = or_null(f->deployment_id) ? f->deployment_id : or_null(f->deployment);
    if (!key || (region && !or_null(f->region)))
        return NULL;
    about ab;
    about_of(f, key, &ab);
    if (region) {
        ab.s[L_MODEL_NAME] = NULL;
        ab.s[L_API_BASE] = NULL;
    }
    return build_alert(region, ttl_ms, key, &ab, level >= 2, resolved,
                       timeouts > UINT32_MAX ? UINT32_MAX : (unsigned)timeouts,
                       api > UINT32_MAX ? UINT32_MAX : (unsigned)api, now_ms);
}

int al_outage_on_failure(al_outage *o, const al_outage_failure *f, al_alert ***out,
                         size_t *n_out)
{
    if (!o || !f || !out || !n_out)
        return ALERT_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    const char *key = or_null(f->deployment_id) ? f->deployment_id : or_null(f->deployment);
    if (!al_outage_counted(f->status_code) || !key)
        return ALERT_OK;
    int timeout = f->status_code == 408;
    size_t klen = strlen(key);
    outv v = { NULL, 0, 0, 0 };
    int rc = ALERT_OK;
    about ab;
    about_of(f, key, &ab);
    uint64_t dep_hash = al_hash_bytes(key, klen, 0);
    if (o->deployments_on) {
        if (track(o, &o->dep, key, klen, dep_hash, &ab, timeout, f->at_ms, &v) != ALERT_OK)
            rc = ALERT_ERR_NOMEM;
    }
    if (o->regions_on && ab.s[L_REGION]) {
        const char *provider = f->provider ? f->provider : "";
        size_t plen = strlen(provider), rlen = strlen(ab.s[L_REGION]);
        char small[256];
        char *rkey = plen + rlen + 2 <= sizeof small ? small : al_malloc(plen + rlen + 2);
        if (!rkey) {
            rc = ALERT_ERR_NOMEM;
        } else {
            memcpy(rkey, provider, plen);
            rkey[plen] = KEY_SEP;
            memcpy(rkey + plen + 1, ab.s[L_REGION], rlen + 1);
            about rab = ab;         /* a region has no single API base */
            rab.s[L_MODEL_NAME] = NULL;
            rab.s[L_API_BASE] = NULL;
            if (track(o, &o->reg, rkey, plen + 1 + rlen, dep_hash, &rab, timeout, f->at_ms, &v) !=
                ALERT_OK)
                rc = ALERT_ERR_NOMEM;
            if (rkey != small)
                al_free(rkey);
        }
    }
    int vrc = outv_finish(&v, out, n_out);
    return rc != ALERT_OK ? rc : vrc;
}

/* Walks from the least recently failing entry while its episode is over. The LRU
 * order is the order of the last failures as they arrived; a late event can put
 * an entry that is still live in front of ended ones, which then end at the next
 * tick after it (the delay is the lateness of that event). */
static void map_tick(al_outage *o, map *m, int64_t now, outv *out)
{
    while (m->oldest && now - m->oldest->last_ms >= m->ttl_ms) {
        entry *e = m->oldest;
        episode_end(o, m, e, now, out);
        map_remove(o, m, e);
    }
}

int al_outage_tick(al_outage *o, int64_t now_ms, al_alert ***out, size_t *n_out)
{
    if (!o || !out || !n_out)
        return ALERT_ERR_INVALID;
    outv v = { NULL, 0, 0, 0 };
    map_tick(o, &o->dep, now_ms, &v);
    map_tick(o, &o->reg, now_ms, &v);
    return outv_finish(&v, out, n_out);
}

int64_t al_outage_next_due(const al_outage *o)
{
    int64_t due = INT64_MAX;
    if (!o)
        return due;
    if (o->dep.oldest)
        due = o->dep.oldest->last_ms + o->dep.ttl_ms;
    if (o->reg.oldest && o->reg.oldest->last_ms + o->reg.ttl_ms < due)
        due = o->reg.oldest->last_ms + o->reg.ttl_ms;
    return due;
}

size_t al_outage_tracked(const al_outage *o)
{
    return o ? o->dep.n : 0;
}

size_t al_outage_regions_tracked(const al_outage *o)
{
    return o ? o->reg.n : 0;
}

uint64_t al_outage_evicted(const al_outage *o)
{
    return o ? o->evicted : 0;
}

size_t al_outage_bytes_per_deployment(const al_outage_conf *c)
{
    uint32_t minor = threshold_of(c->minor), major = threshold_of(c->major);
    uint32_t cap = minor > major ? minor : major;
    /* the entry and its ring, ~16 bytes of allocator header, and up to two
     * bucket pointers (the table doubles when the load reaches 1) */
    return sizeof(entry) + (size_t)cap * (sizeof(int64_t) + 1) + 16 + 2 * sizeof(entry *);
}

size_t al_outage_memory(const al_outage *o)
{
    return o ? sizeof *o + o->bytes : 0;
}
