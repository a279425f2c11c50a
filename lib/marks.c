/* SPDX-License-Identifier: MIT */
/* Once-only dedup marks with a pending state (marks.h). */
#include "marks.h"

#include <string.h>

#include "alerting.h"
#include "alloc.h"
#include "buf.h"
#include "hash.h"

enum { MARK_PENDING = 1, MARK_SENT = 2 };

/* Mark keys: '\' and '\n' escaped so that several keys joined by '\n' split back. */
static void key_escape(al_buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '\\')
            al_buf_adds(b, "\\\\");
        else if (*s == '\n')
            al_buf_adds(b, "\\n");
        else
            al_buf_addc(b, *s);
    }
}

char *al_mark_key(const char *prefix, const char *value, const char *suffix)
{
    al_buf b = AL_BUF_INIT;
    al_buf_adds(&b, prefix);
    key_escape(&b, value ? value : "None");
    al_buf_adds(&b, suffix);
    return al_buf_take(&b);
}

typedef struct dmark {
    struct dmark *next;
    uint64_t hash;
    uint8_t state;              /* MARK_PENDING or MARK_SENT */
    int64_t expires_ms;         /* 0: never */
    char key[];
} dmark;

struct al_marks {
    dmark **buckets;
    size_t n_buckets;
    size_t count;
    al_mark_put_fn put;
    al_mark_get_fn get;
    void *ud;
};

al_marks *al_marks_new(void)
{
    al_marks *m = al_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->n_buckets = 64;
    m->buckets = al_calloc(m->n_buckets, sizeof *m->buckets);
    if (!m->buckets) {
        al_free(m);
        return NULL;
    }
    return m;
}

void al_marks_free(al_marks *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_buckets; i++) {
        dmark *d = m->buckets[i];
        while (d) {
            dmark *next = d->next;
            al_free(d);
            d = next;
        }
    }
    al_free(m->buckets);
    al_free(m);
}

void al_marks_set_persist(al_marks *m, al_mark_put_fn put, al_mark_get_fn get, void *ud)
{
    m->put = put;
    m->get = get;
    m->ud = ud;
}

size_t al_marks_count(const al_marks *m)
{
    return m ? m->count : 0;
}

static dmark **dm_slot(al_marks *m, const char *key, size_t len, uint64_t h)
{
    dmark **pp = &m->buckets[h & (m->n_buckets - 1)];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && strncmp((*pp)->key, key, len) == 0 && (*pp)->key[len] == '\0')
            return pp;
    return pp;
}

static void dm_grow(al_marks *m)
{
    size_t n = m->n_buckets * 2;
    dmark **nb = al_calloc(n, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i < m->n_buckets; i++) {
        dmark *d = m->buckets[i];
        while (d) {
            dmark *next = d->next;
            d->next = nb[d->hash & (n - 1)];
            nb[d->hash & (n - 1)] = d;
            d = next;
        }
    }
    al_free(m->buckets);
    m->buckets = nb;
    m->n_buckets = n;
}

static dmark *dm_insert(al_marks *m, const char *key, uint8_t state, int64_t expires_ms)
{
    size_t len = strlen(key);
    uint64_t h = al_hash_bytes(key, len, 0);
    dmark **pp = dm_slot(m, key, len, h);
    if (*pp) {
        (*pp)->state = state;
        (*pp)->expires_ms = expires_ms;
        return *pp;
    }
    dmark *d = al_malloc(sizeof *d + len + 1);
    if (!d)
        return NULL;
    d->hash = h;
    d->state = state;
    d->expires_ms = expires_ms;
    memcpy(d->key, key, len + 1);
    if (m->count >= m->n_buckets)
        dm_grow(m);
    d->next = m->buckets[h & (m->n_buckets - 1)];
    m->buckets[h & (m->n_buckets - 1)] = d;
    m->count++;
    return d;
}

static void dm_remove(al_marks *m, const char *key, size_t len)
{
    uint64_t h = al_hash_bytes(key, len, 0);
    dmark **pp = dm_slot(m, key, len, h);
    if (*pp) {
        dmark *d = *pp;
        *pp = d->next;
        al_free(d);
        m->count--;
    }
}

static dmark *dm_find(al_marks *m, const char *key, size_t len)
{
    return *dm_slot(m, key, len, al_hash_bytes(key, len, 0));
}

static void dm_put(al_marks *m, const char *key, const dmark *d)
{
    if (m->put)
        m->put(m->ud, key, d ? (d->state == MARK_PENDING ? "pending" : "sent") : NULL,
               d ? d->expires_ms : 0);
}

static int dm_live(const dmark *d, int64_t now_ms)
{
    return d && (d->state == MARK_PENDING || !d->expires_ms || d->expires_ms > now_ms);
}

int al_marks_held(al_marks *m, const char *key, int64_t now_ms)
{
    return m && key && dm_live(dm_find(m, key, strlen(key)), now_ms);
}

int al_marks_claim(al_marks *m, const char *key, int64_t now_ms, int64_t expires_ms)
{
    if (!m || !key)
        return ALERT_ERR_INVALID;
    size_t len = strlen(key);
    dmark *d = dm_find(m, key, len);
    if (!d && m->get) {
        char *value = NULL;
        if (m->get(m->ud, key, &value) == ALERT_OK && value) {
            /* "pending" was written by a process that is gone: its alert was replayed
             * (or lost with it), so it counts as sent, never as held forever */
            d = dm_insert(m, key, MARK_SENT, expires_ms);
        }
        al_free(value);
    }
    if (dm_live(d, now_ms))
        return 0;
    if (!(d = dm_insert(m, key, MARK_PENDING, expires_ms)))
        return ALERT_ERR_NOMEM;
    dm_put(m, key, d);
    return 1;
}

void al_marks_settle(void *ud, const char *key, int ok)
{
    al_marks *m = ud;
    if (!m || !key)
        return;
    if (strncmp(key, "mark|", 5) == 0)
        key += 5;                       /* the settle owner's prefix (settle.h) */
    for (const char *p = key; *p;) {
        size_t len = strcspn(p, "\n");
        dmark *d = dm_find(m, p, len);
        if (d && d->state == MARK_PENDING) {
            char *k = al_strndup(p, len);
            if (ok) {
                d->state = MARK_SENT;
                if (k)
                    dm_put(m, k, d);
            } else {
                dm_remove(m, p, len);
                if (k)
                    dm_put(m, k, NULL);
            }
            al_free(k);
        }
        p += len;
        if (*p == '\n')
            p++;
    }
}

void al_marks_prune(al_marks *m, int64_t now_ms)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_buckets; i++) {
        dmark **pp = &m->buckets[i];
        while (*pp) {
            dmark *d = *pp;
            if (!dm_live(d, now_ms)) {
                *pp = d->next;
                al_free(d);
                m->count--;
            } else {
                pp = &d->next;
            }
        }
    }
}

int al_marks_export(al_marks *m, al_mark_put_fn put, void *ud)
{
    if (!m || !put)
        return ALERT_ERR_INVALID;
    for (size_t i = 0; i < m->n_buckets; i++)
        for (dmark *d = m->buckets[i]; d; d = d->next)
            put(ud, d->key, d->state == MARK_PENDING ? "pending" : "sent", d->expires_ms);
    return ALERT_OK;
}

int al_marks_import(al_marks *m, const char *key, const char *value, int64_t expires_ms)
{
    if (!m || !key || !value)
        return ALERT_ERR_INVALID;
    uint8_t st;
    if (strcmp(value, "pending") == 0)
        st = MARK_PENDING;
    else if (strcmp(value, "sent") == 0)
        st = MARK_SENT;
    else
        return ALERT_ERR_INVALID;
    return dm_insert(m, key, st, expires_ms) ? ALERT_OK : ALERT_ERR_NOMEM;
}

