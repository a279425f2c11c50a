/* SPDX-License-Identifier: MIT */
/* A growable byte buffer; a failed allocation sets oom and later appends are no-ops,
 * so builders check once at the end. */
#ifndef AL_BUF_H
#define AL_BUF_H

#include <stddef.h>

typedef struct al_buf {
    char *data;         /* always NUL-terminated once anything was added */
    size_t len;
    size_t cap;
    int oom;
} al_buf;

#define AL_BUF_INIT { NULL, 0, 0, 0 }

void al_buf_add(al_buf *b, const char *s, size_t n);
void al_buf_adds(al_buf *b, const char *s);              /* NULL adds nothing */
void al_buf_addc(al_buf *b, char c);
void al_buf_printf(al_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *al_buf_take(al_buf *b);       /* the string (caller frees), or NULL on oom; resets b */
void al_buf_free(al_buf *b);

/* Text into a caller's fixed buffer (APIs of the "buf, len, needed" kind): what does not
 * fit is cut, and pos counts what the whole text needs, past len too. */
typedef struct al_sink {
    char *buf;
    size_t len, pos;
} al_sink;

void al_sink_put(al_sink *s, const char *p, size_t n);
/* One formatted piece of at most 511 bytes. */
void al_sink_printf(al_sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
