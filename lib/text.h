/* SPDX-License-Identifier: MIT */
/* Text helpers: UTF-8 repair and truncation, Slack escaping, numbers printed
 * as Python prints a float. Pure functions; results from al_malloc. */
#ifndef AL_TEXT_H
#define AL_TEXT_H

#include <stddef.h>

/* A copy of s[0..len) that is valid UTF-8: every invalid sequence (bad lead
 * byte, truncated or overlong sequence, surrogate, > U+10FFFF) becomes U+FFFD.
 * NUL bytes are dropped. NULL on allocation failure. */
char *al_utf8_repair(const char *s, size_t len);

/* Bytes taken by the first max_chars code points of valid UTF-8 s[0..len). */
size_t al_utf8_prefix_len(const char *s, size_t len, size_t max_chars);

/* A copy of valid UTF-8 s cut to at most max_chars code points; when it was cut
 * the last kept code point is replaced by "…" (so the result has max_chars
 * code points). */
char *al_utf8_truncate(const char *s, size_t max_chars);

/* The longest prefix of valid UTF-8 s[0..len) of at most max_bytes bytes that ends on
 * a code point boundary: the one place the library cuts UTF-8 by bytes. */
size_t al_utf8_cut_bytes(const char *s, size_t len, size_t max_bytes);

/* Code points in valid UTF-8 s. */
size_t al_utf8_count(const char *s);

/* A copy with & < > escaped as &amp; &lt; &gt; (Slack and Teams text). */
char *al_slack_escape(const char *s);

/* v as Python's repr(float) prints it: shortest round-trip digits, ".0" on whole
 * numbers ("100.0", "80.5", "1e-05", "1e+16", "inf", "nan"). Writes at most n bytes. */
void al_fmt_pyfloat(char *buf, size_t n, double v);

/* Python's repr(round(v, decimals)). */
void al_fmt_round(char *buf, size_t n, double v, int decimals);

#endif
