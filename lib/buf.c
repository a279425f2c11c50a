/* SPDX-License-Identifier: MIT */
/* A growable byte buffer whose failed allocation is remembered, not returned
 * at every append (buf.h). */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

static int buf_reserve(al_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = al_realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void al_buf_add(al_buf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) < 0)
        return;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void al_buf_adds(al_buf *b, const char *s)
{
    if (s)
        al_buf_add(b, s, strlen(s));
}

void al_buf_addc(al_buf *b, char c)
{
    al_buf_add(b, &c, 1);
}

void al_buf_printf(al_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        al_buf_add(b, small, (size_t)n);
        return;
    }
    if (buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *al_buf_take(al_buf *b)
{
    char *s = NULL;
    if (!b->oom) {
        if (!b->data)
            al_buf_add(b, "", 0);
        s = b->oom ? NULL : b->data;
    }
    if (!s)
        al_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    return s;
}

void al_buf_free(al_buf *b)
{
    al_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void al_sink_put(al_sink *s, const char *p, size_t n)
{
    if (s->pos < s->len) {
        size_t room = s->len - s->pos;
        memcpy(s->buf + s->pos, p, n < room ? n : room);
    }
    s->pos += n;
}

void al_sink_printf(al_sink *s, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        al_sink_put(s, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
