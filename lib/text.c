/* SPDX-License-Identifier: MIT */
/* Text helpers (text.h): UTF-8 repair and cutting, Slack escaping, numbers as
 * Python prints them. */
#include "text.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "buf.h"

static const char replacement_char[] = "\xEF\xBF\xBD"; /* U+FFFD */
static const char ellipsis[] = "\xE2\x80\xA6";         /* U+2026 */

static int is_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Length of the well-formed sequence at s[i] (Unicode Table 3-7), or 0 when it
 * is ill-formed; then *bad is the length of its maximal subpart, the unit that
 * one U+FFFD replaces (the Unicode recommendation, which Python's "replace"
 * follows too, so repaired texts match what a Python producer would show). */
static size_t utf8_sequence(const unsigned char *s, size_t len, size_t i, size_t *bad)
{
    unsigned char lead = s[i];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 3;
        if (lead == 0xE0)
            lo = 0xA0;          /* below is overlong */
        else if (lead == 0xED)
            hi = 0x9F;          /* above are surrogates */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 4;
        if (lead == 0xF0)
            lo = 0x90;          /* below is overlong */
        else if (lead == 0xF4)
            hi = 0x8F;          /* above is past U+10FFFF */
    } else {
        *bad = 1;               /* continuation byte, C0, C1 or F5..FF */
        return 0;
    }

    size_t got = 1;
    while (got < need && i + got < len) {
        unsigned char c = s[i + got];
        if (got == 1 ? (c < lo || c > hi) : !is_continuation(c))
            break;
        got++;
    }
    if (got == need)
        return need;
    *bad = got;
    return 0;
}

char *al_utf8_repair(const char *s, size_t len)
{
    if (!s)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;

    /* Sized first so a 10 MB prompt costs one allocation, not a doubling chain. */
    size_t out_len = 0;
    for (size_t i = 0; i < len;) {
        size_t bad = 0, n = utf8_sequence(u, len, i, &bad);
        if (n) {
            if (u[i] != 0)
                out_len += n;
            i += n;
        } else {
            if (out_len > SIZE_MAX - 4)
                return NULL;
            out_len += sizeof replacement_char - 1;
            i += bad;
        }
    }

    char *out = al_malloc(out_len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t bad = 0, n = utf8_sequence(u, len, i, &bad);
        if (n) {
            if (u[i] != 0) {
                memcpy(out + o, s + i, n);
                o += n;
            }
            i += n;
        } else {
            memcpy(out + o, replacement_char, sizeof replacement_char - 1);
            o += sizeof replacement_char - 1;
            i += bad;
        }
    }
    out[o] = '\0';
    return out;
}

size_t al_utf8_prefix_len(const char *s, size_t len, size_t max_chars)
{
    if (!s)
        return 0;
    size_t chars = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_continuation((unsigned char)s[i])) {
            if (chars == max_chars)
                return i;
            chars++;
        }
    }
    return len;
}

char *al_utf8_truncate(const char *s, size_t max_chars)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    size_t keep = al_utf8_prefix_len(s, len, max_chars);
    if (keep == len)
        return al_strndup(s, len);
    if (max_chars == 0)
        return al_strdup("");

    keep = al_utf8_prefix_len(s, len, max_chars - 1);
    char *out = al_malloc(keep + sizeof ellipsis);
    if (!out)
        return NULL;
    memcpy(out, s, keep);
    memcpy(out + keep, ellipsis, sizeof ellipsis);
    return out;
}

size_t al_utf8_count(const char *s)
{
    if (!s)
        return 0;
    size_t chars = 0;
    for (; *s; s++)
        chars += !is_continuation((unsigned char)*s);
    return chars;
}

char *al_slack_escape(const char *s)
{
    if (!s)
        return NULL;
    al_buf b = AL_BUF_INIT;
    for (const char *run = s;; s++) {
        const char *entity = NULL;
        switch (*s) {
        case '&': entity = "&amp;"; break;
        case '<': entity = "&lt;"; break;
        case '>': entity = "&gt;"; break;
        case '\0': break;
        default: continue;
        }
        al_buf_add(&b, run, (size_t)(s - run));
        if (!entity)
            break;
        al_buf_adds(&b, entity);
        run = s + 1;
    }
    return al_buf_take(&b);
}

static void copy_out(char *buf, size_t n, const char *s)
{
    if (!buf || n == 0)
        return;
    size_t len = strlen(s);
    if (len >= n)
        len = n - 1;
    memcpy(buf, s, len);
    buf[len] = '\0';
}

/* Shortest decimal digits of finite v that read back as v, and the decimal
 * exponent of the first digit. The printf/strtod pair shares the host's
 * LC_NUMERIC, so the round trip holds in any locale; parsing takes the digits
 * only, skipping whatever decimal point the locale prints. */
static void shortest_digits(double v, char digits[20], int *exponent, int *negative)
{
    char sci[64];
    for (int prec = 0; prec <= 16; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec, v);
        if (strtod(sci, NULL) == v)
            break;
    }
    const char *p = sci;
    *negative = *p == '-';
    if (*negative)
        p++;
    size_t k = 0;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && k < 19)
            digits[k++] = *p;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    digits[k] = '\0';
    *exponent = *p == 'e' ? atoi(p + 1) : 0;
}

void al_fmt_pyfloat(char *buf, size_t n, double v)
{
    if (isnan(v)) {
        copy_out(buf, n, "nan");
        return;
    }
    if (isinf(v)) {
        copy_out(buf, n, v < 0 ? "-inf" : "inf");
        return;
    }

    char digits[20];
    int exp10, negative;
    shortest_digits(v, digits, &exp10, &negative);
    int k = (int)strlen(digits);

    char out[48];
    size_t o = 0;
    if (negative)
        out[o++] = '-';
    /* CPython's float_repr_style "short": positional for 1e-4 <= |v| < 1e16. */
    if (exp10 < -4 || exp10 >= 16) {
        out[o++] = digits[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, (size_t)k - 1);
            o += (size_t)k - 1;
        }
        snprintf(out + o, sizeof out - o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (exp10 < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int z = 0; z < -exp10 - 1; z++)
            out[o++] = '0';
        memcpy(out + o, digits, (size_t)k);
        out[o + (size_t)k] = '\0';
    } else {
        for (int d = 0; d <= exp10; d++)
            out[o++] = d < k ? digits[d] : '0';
        out[o++] = '.';
        if (k > exp10 + 1) {
            memcpy(out + o, digits + exp10 + 1, (size_t)(k - exp10 - 1));
            o += (size_t)(k - exp10 - 1);
        } else {
            out[o++] = '0';
        }
        out[o] = '\0';
    }
    copy_out(buf, n, out);
}

/* round(v, -places) on the exact binary value, half to even: the integer part
 * prints exactly with %.0f, and whether a fraction was dropped decides the
 * exact-tie case, so no double rounding happens. */
static double round_to_tens(double v, int places)
{
    double whole = trunc(v);
    int dropped_fraction = whole != v;
    char digits[400];
    snprintf(digits, sizeof digits, "%.0f", fabs(whole));
    size_t len = strlen(digits);
    if ((size_t)places > len)
        return copysign(0.0, v);

    size_t keep = len - (size_t)places;
    const char *tail = digits + keep;
    int up;
    if (tail[0] != '5') {
        up = tail[0] > '5';
    } else {
        int above_half = dropped_fraction;
        for (const char *t = tail + 1; *t; t++)
            above_half |= *t != '0';
        up = above_half || (keep > 0 && (digits[keep - 1] - '0') % 2 == 1);
    }

    char head[420];
    size_t h = 0;
    head[h++] = '0';            /* room for a carry out of the first digit */
    memcpy(head + h, digits, keep);
    h += keep;
    if (up) {
        size_t i = h;
        while (i-- > 0) {
            if (head[i] == '9') {
                head[i] = '0';
            } else {
                head[i]++;
                break;
            }
        }
    }
    for (int z = 0; z < places; z++)
        head[h++] = '0';
    head[h] = '\0';
    return copysign(strtod(head, NULL), v);
}

void al_fmt_round(char *buf, size_t n, double v, int decimals)
{
    /* CPython's limits: beyond these the result is v itself, or a zero. */
    const int ndigits_max = 323, ndigits_min = -308;

    if (!isfinite(v) || decimals > ndigits_max) {
        al_fmt_pyfloat(buf, n, v);
        return;
    }
    if (decimals < ndigits_min) {
        al_fmt_pyfloat(buf, n, copysign(0.0, v));
        return;
    }

    double rounded;
    if (decimals >= 0) {
        /* glibc's %f rounds the exact binary value half to even, like
         * CPython's dtoa mode 3, so round(2.675, 2) is 2.67 here too. */
        char fixed[700];
        snprintf(fixed, sizeof fixed, "%.*f", decimals, v);
        rounded = strtod(fixed, NULL);
    } else {
        rounded = round_to_tens(v, -decimals);
    }
    al_fmt_pyfloat(buf, n, rounded);
}

size_t al_utf8_cut_bytes(const char *s, size_t len, size_t max_bytes)
{
    if (len <= max_bytes)
        return len;
    size_t keep = max_bytes;
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--;                         /* back to the start of a code point */
    return keep;
}
