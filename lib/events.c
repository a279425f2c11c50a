/* SPDX-License-Identifier: MIT */
/* The events queue from the host's threads to the worker, and its pool of
 * blocks (events.h). */
#include "events.h"

#include <string.h>

#include "alloc.h"

al_event *al_event_alloc(al_evqueue *q, size_t size)
{
    al_event *e = NULL;
    if (size <= AL_EVENT_BLOCK) {
        pthread_mutex_lock(&q->lock);
        if ((e = q->pool)) {
            q->pool = e->next;
            q->n_pool--;
        }
        pthread_mutex_unlock(&q->lock);
        size = AL_EVENT_BLOCK;
        if (!e)
            e = al_malloc(size);
    } else {
        e = al_malloc(size);
    }
    if (!e)
        return NULL;
    memset(e, 0, size);
    e->block = size;
    return e;
}

void al_event_free(al_evqueue *q, al_event *e)
{
    if (!e)
        return;
    if (e->block == AL_EVENT_BLOCK) {
        pthread_mutex_lock(&q->lock);
        if (q->n_pool < AL_EVENT_POOL_MAX) {
            e->next = q->pool;
            q->pool = e;
            q->n_pool++;
            e = NULL;
        }
        pthread_mutex_unlock(&q->lock);
    }
    al_free(e);
}

al_event *al_event_new(al_evqueue *q, al_ev_kind kind, const char *const strs[AL_ES__COUNT],
                       const size_t lens[AL_ES__COUNT])
{
    size_t len[AL_ES__COUNT];
    size_t total = sizeof(al_event);
    for (int i = 0; i < AL_ES__COUNT; i++) {
        len[i] = 0;
        if (strs[i]) {
            len[i] = (lens && lens[i] != SIZE_MAX) ? lens[i] : strlen(strs[i]);
            total += len[i] + 1;
        }
    }
    al_event *e = al_event_alloc(q, total);
    if (!e)
        return NULL;
    e->kind = kind;
    e->prompt_tokens = e->completion_tokens = -1;
    char *p = (char *)(e + 1);
    for (int i = 0; i < AL_ES__COUNT; i++) {
        if (!strs[i])
            continue;
        memcpy(p, strs[i], len[i]);
        p[len[i]] = '\0';
        e->s[i] = p;
        p += len[i] + 1;
    }
    return e;
}

void al_evqueue_init(al_evqueue *q, size_t max)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->lock, NULL);
    q->max = max;
}

void al_evqueue_destroy(al_evqueue *q)
{
    al_event *e = al_evqueue_take_all(q);
    while (e) {
        al_event *n = e->next;
        al_free(e);
        e = n;
    }
    while ((e = q->pool)) {
        q->pool = e->next;
        al_free(e);
    }
    pthread_mutex_destroy(&q->lock);
}

int al_evqueue_push(al_evqueue *q, al_event *e)
{
    e->next = NULL;
    pthread_mutex_lock(&q->lock);
    if (q->len >= q->max) {
        q->dropped++;
        pthread_mutex_unlock(&q->lock);
        al_event_free(q, e);
        return -1;
    }
    if (q->tail)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    q->len++;
    pthread_mutex_unlock(&q->lock);
    return 0;
}

al_event *al_evqueue_take_all(al_evqueue *q)
{
    pthread_mutex_lock(&q->lock);
    al_event *h = q->head;
    q->head = q->tail = NULL;
    q->len = 0;
    pthread_mutex_unlock(&q->lock);
    return h;
}

uint64_t al_evqueue_dropped(al_evqueue *q)
{
    pthread_mutex_lock(&q->lock);
    uint64_t d = q->dropped;
    pthread_mutex_unlock(&q->lock);
    return d;
}
