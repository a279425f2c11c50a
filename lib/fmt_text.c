/* SPDX-License-Identifier: MIT */
/* The text envelope every text destination shares, the generic event JSON, and
 * the builder that writes an alert's text escaped and plain (fmt.h). */
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "alerting.h"
#include "calendar.h"
#include "fmt.h"
#include "text.h"

/* The same bytes in both: every alert's text is a dozen of these, so lengths are
 * counted once */
static void text_add(al_text *t, const char *s, size_t n)
{
    al_buf_add(&t->esc, s, n);
    al_buf_add(&t->plain, s, n);
}

void al_text_lit(al_text *t, const char *s)
{
    if (s)      /* NULL adds nothing, as al_buf_adds */
        text_add(t, s, strlen(s));
}

void al_text_printf(al_text *t, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    al_text_lit(t, tmp);
}

void al_text_val(al_text *t, const char *v)
{
    if (!v) {
        text_add(t, "None", 4);
        return;
    }
    /* most labels are plain ASCII with nothing to escape: no copies then */
    const unsigned char *p = (const unsigned char *)v;
    while (*p && *p < 0x80 && *p != '&' && *p != '<' && *p != '>')
        p++;
    if (!*p) {
        text_add(t, v, (size_t)(p - (const unsigned char *)v));
        return;
    }
    char *fixed = al_utf8_repair(v, strlen(v));
    char *esc = fixed ? al_slack_escape(fixed) : NULL;
    if (!fixed || !esc) {
        t->esc.oom = 1;
    } else {
        al_buf_adds(&t->esc, esc);
        al_buf_adds(&t->plain, fixed);
    }
    al_free(esc);
    al_free(fixed);
}

void al_text_field(al_text *t, const char *name, const char *v)
{
    /* "\n<name>: `<value>`" in one piece when the value is plain ASCII with nothing to
     * escape (most labels) and it is short */
    char piece[256];
    const char *val = v ? v : "None";
    size_t n = strlen(name), vn = 0;
    while (val[vn] && (unsigned char)val[vn] < 0x80 && val[vn] != '&' && val[vn] != '<' &&
           val[vn] != '>' && n + vn + 5 < sizeof piece)
        vn++;
    if (!val[vn] && n + vn + 5 <= sizeof piece) {
        piece[0] = '\n';
        memcpy(piece + 1, name, n);
        memcpy(piece + 1 + n, ": `", 3);
        memcpy(piece + 4 + n, val, vn);
        piece[4 + n + vn] = '`';
        text_add(t, piece, n + vn + 5);
        return;
    }
    text_add(t, "\n", 1);
    text_add(t, name, n);
    text_add(t, ": `", 3);
    al_text_val(t, v);
    text_add(t, "`", 1);
}

/* A built text cut to its size: it stays with the alert while the alert waits for its
 * flush (flush_interval), and a thousand hanging alerts a second kept their buffers'
 * 512-byte growth steps, a quarter of what each queued alert holds. A failed shrink
 * keeps the text as it is. */
static char *fit(char *s)
{
    if (!s)
        return NULL;
    char *cut = al_realloc(s, strlen(s) + 1);
    return cut ? cut : s;
}

int al_text_finish(al_text *t, al_alert *a)
{
    if (t->esc.oom || t->plain.oom) {
        al_text_free(t);
        return ALERT_ERR_NOMEM;
    }
    a->message = fit(al_buf_take(&t->esc));
    a->plain = fit(al_buf_take(&t->plain));
    return (a->message && a->plain) ? ALERT_OK : ALERT_ERR_NOMEM;
}

int al_text_finish_shared(al_text *t, al_alert *a)
{
    if (t->esc.oom || t->plain.oom || t->esc.len != t->plain.len ||
        (t->esc.len && memcmp(t->esc.data, t->plain.data, t->esc.len) != 0))
        return al_text_finish(t, a);
    a->message = a->plain = fit(al_buf_take(&t->esc));
    al_buf_free(&t->plain);
    return a->message ? ALERT_OK : ALERT_ERR_NOMEM;
}

void al_text_free(al_text *t)
{
    al_buf_free(&t->esc);
    al_buf_free(&t->plain);
}

/* escaped: Slack and Teams (& < > escaped in values we did not write); else the
 * plain text for Discord (allowed_mentions guards it) and e-mail. */
char *al_fmt_envelope_as(const al_fmt_env *env, const al_alert *a, int escaped)
{
    if (a->envelope)
        return al_strdup(a->envelope);
    const char *message = escaped || !a->plain ? a->message : a->plain;
    al_buf b = AL_BUF_INIT;
    al_buf_adds(&b, "Alert type: `");
    al_buf_adds(&b, al_types[a->type].name);
    al_buf_adds(&b, "`");
    /* daily_reports and new_model_added: no Level or Timestamp, but metadata and the
     * Proxy URL line as every other type (LiteLLM appends them to both forms) */
    int bare = a->type == AL_T_DAILY_REPORTS || a->type == AL_T_NEW_MODEL_ADDED;
    if (bare) {
        al_buf_adds(&b, message);
        goto trailer;
    }
    al_utc tm;
    al_utc_parts(a->at_ms, &tm);
    /* printf-free: this runs for every alert */
    char hms[] = "00:00:00";
    int parts[3] = { tm.hour, tm.minute, tm.second };
    for (int i = 0; i < 3; i++) {
        hms[i * 3] = (char)('0' + parts[i] / 10 % 10);
        hms[i * 3 + 1] = (char)('0' + parts[i] % 10);
    }
    al_buf_adds(&b, "\nLevel: `");
    al_buf_adds(&b, al_level_name(a->level));
    al_buf_adds(&b, "`\nTimestamp: `");
    al_buf_adds(&b, hms);
    al_buf_adds(&b, "`\n\nMessage: ");
    al_buf_adds(&b, message);
trailer:
    for (size_t i = 0; i < a->n_metadata; i++) {
        char *k = escaped ? al_slack_escape(a->metadata[i].key) : al_strdup(a->metadata[i].key);
        char *v = escaped ? al_slack_escape(a->metadata[i].value) : al_strdup(a->metadata[i].value);
        if (!k || !v)
            b.oom = 1;
        /* LiteLLM's layout, the trailing blank line included */
        al_buf_printf(&b, "\n\n*Alerting Metadata*: \n%s: `%s`\n\n", k ? k : "", v ? v : "");
        al_free(k);
        al_free(v);
    }
    if (env->proxy_base_url)
        al_buf_printf(&b, "\n\nProxy URL: `%s`", env->proxy_base_url);
    return al_buf_take(&b);
}

char *al_fmt_envelope(const al_fmt_env *env, const al_alert *a)
{
    return al_fmt_envelope_as(env, a, 1);
}

/* The generic event JSON is written by hand, byte for byte as jansson's
 * json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) of the tree it used to be: the worker
 * makes one for every alert a webhook or custom transport gets, and building, dumping
 * and freeing the tree was most of a tick's time. What jansson did is kept: a string it
 * would refuse (not valid UTF-8) leaves its member out, as json_object_set_new(obj, key,
 * NULL) did; an infinite duration_s too (json_real refuses it). test_fmt_event compares
 * the two writers.
 *
 * One pass into a buffer sized from the strings' lengths (escapes may grow it), cut to
 * its size at the end. */
typedef struct json_out {
    char *out;
    size_t len, cap;
    int oom;
} json_out;

static void jput(json_out *w, const char *s, size_t n)
{
    if (w->oom || !n)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap * 2 > w->len + n ? w->cap * 2 : w->len + n;
        char *grown = al_realloc(w->out, cap);
        if (!grown) {
            w->oom = 1;
            return;
        }
        w->out = grown;
        w->cap = cap;
    }
    memcpy(w->out + w->len, s, n);
    w->len += n;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* 8 bytes at s, in an order that does not matter here (only whether a byte is in it) */
static uint64_t word_at(const char *s)
{
    uint64_t x;
    memcpy(&x, s, sizeof x);
    return x;
}

/* Valid UTF-8 as jansson checks it (utf8_check_string): no stray continuation byte, no
 * overlong form, no surrogate, nothing above U+10FFFF. ASCII goes 8 bytes at a time. */
static int json_utf8_ok(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str, *end = s + len;
    while (s < end) {
        if (end - s >= 8 && !(word_at((const char *)s) & HIGHS)) {
            s += 8;
            continue;
        }
        unsigned c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if ((size_t)(end - s) < n)
            return 0;
        for (size_t i = 1; i < n; i++) {
            if (s[i] < 0x80 || s[i] > 0xBF)
                return 0;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || (n == 3 && cp < 0x800) ||
            (n == 4 && cp < 0x10000))
            return 0;
        s += n;
    }
    return 1;
}

/* 1 when a byte of the word is a control character, '"' or '\\' (may say 1 for a word with
 * none when a byte >= 0x80 is in it: the caller then looks byte by byte) */
static int word_needs_escape(uint64_t x)
{
    uint64_t quote = x ^ (ONES * '"'), backslash = x ^ (ONES * '\\');
    return (((x - ONES * 0x20) | (quote - ONES) | (backslash - ONES)) & HIGHS) != 0;
}

static int byte_needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

/* A JSON string as jansson's dump_string writes it without JSON_ENSURE_ASCII: " and \
 * and the control characters escaped (\uXXXX in upper case where there is no short
 * form), everything else as it is. */
static void jstr(json_out *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    jput(w, "\"", 1);
    const char *run = s, *end = s + len;
    for (const char *p = s; p < end;) {
        if (end - p >= 8 && !word_needs_escape(word_at(p))) {
            p += 8;
            continue;
        }
        unsigned char c = (unsigned char)*p++;
        if (!byte_needs_escape(c))
            continue;
        jput(w, run, (size_t)(p - 1 - run));
        run = p;
        char esc[6] = { '\\', 0, '0', '0', hex[c >> 4], hex[c & 15] };
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            jput(w, esc, 6);
            continue;
        }
        jput(w, esc, 2);
    }
    jput(w, run, (size_t)(end - run));
    jput(w, "\"", 1);
}

/* ,"key": (keys are ours, literals: nothing to escape) */
static void jkey_n(json_out *w, int *members, const char *key, size_t n)
{
    char quoted[32];
    size_t k = 0;
    if ((*members)++)
        quoted[k++] = ',';
    quoted[k++] = '"';
    memcpy(quoted + k, key, n);
    k += n;
    quoted[k++] = '"';
    quoted[k++] = ':';
    jput(w, quoted, k);
}
#define jkey(w, members, key) jkey_n(w, members, key "", sizeof(key) - 1)

/* A string member; NULL is null (str_or_null), a string jansson refuses is left out. */
static void jmember_str_n(json_out *w, int *members, const char *key, size_t key_len, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (s && !json_utf8_ok(s, len))
        return;
    jkey_n(w, members, key, key_len);
    if (s)
        jstr(w, s, len);
    else
        jput(w, "null", 4);
}
#define jmember_str(w, members, key, s) jmember_str_n(w, members, key "", sizeof(key) - 1, s)

/* A real as jansson's jsonp_dtostr writes it (precision 17): "%.17g" with the locale's
 * decimal point made '.', ".0" added when there is neither '.' nor 'e', and the
 * exponent without '+' and without leading zeros. */
static size_t json_real_text(char *buf, size_t size, double v)
{
    int n = snprintf(buf, size, "%.17g", v);
    if (n < 0 || (size_t)n + 3 >= size)
        return 0;
    size_t len = (size_t)n;
    const char *point = localeconv()->decimal_point;
    if (*point != '.') {
        char *pos = strchr(buf, *point);
        if (pos)
            *pos = '.';
    }
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        memcpy(buf + len, ".0", 3);
        len += 2;
    }
    char *start = strchr(buf, 'e');
    if (start) {
        start++;
        char *end = start + 1;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, len - (size_t)(end - buf) + 1);
            len -= (size_t)(end - start);
        }
    }
    return len;
}

/* 2026-01-01T00:00:00.000Z, printf-free for the years that have four digits */
static void json_timestamp(char out[32], int64_t ms)
{
    al_utc t;
    al_utc_parts(ms, &t);
    if (t.year < 0 || t.year > 9999) {
        al_utc_iso8601(out, ms);
        return;
    }
    int parts[7] = { t.year, t.month, t.day, t.hour, t.minute, t.second, t.ms };
    static const int at[7] = { 0, 5, 8, 11, 14, 17, 20 }, width[7] = { 4, 2, 2, 2, 2, 2, 3 };
    memcpy(out, "0000-00-00T00:00:00.000Z", 25);
    for (int i = 0; i < 7; i++)
        for (int k = width[i] - 1, v = parts[i]; k >= 0; k--, v /= 10)
            out[at[i] + k] = (char)('0' + v % 10);
}

static void event_json_write(json_out *w, const al_fmt_env *env, const al_alert *a, const char *ts,
                             const char *meta, const char *duration)
{
    int members = 0;
    jput(w, "{", 1);
    jmember_str(w, &members, "event", al_types[a->type].name);
    jmember_str(w, &members, "event_group", "proxy");
    jmember_str(w, &members, "event_message", a->plain ? a->plain : a->message);
    jmember_str(w, &members, "level", al_level_name(a->level));
    jmember_str(w, &members, "timestamp", ts);
    if (env->instance)      /* json_string(NULL) is NULL: no member */
        jmember_str(w, &members, "instance", env->instance);
    jkey(w, &members, "alerting_metadata");
    jput(w, meta ? meta : "null", meta ? strlen(meta) : 4);
    jkey(w, &members, "data");
    int data = 0;
    jput(w, "{", 1);
    jmember_str(w, &data, "model", a->model);
    jmember_str(w, &data, "deployment", a->deployment);
    jmember_str(w, &data, "api_base", a->api_base);
    jmember_str(w, &data, "provider", a->provider);
    jmember_str(w, &data, "region", a->region);
    jmember_str(w, &data, "call_id", a->call_id);
    if (!(a->duration_s >= 0)) {
        jkey(w, &data, "duration_s");
        jput(w, "null", 4);
    } else if (duration) {      /* else infinite: json_real refuses it */
        jkey(w, &data, "duration_s");
        jput(w, duration, strlen(duration));
    }
    jkey(w, &data, "status_code");
    if (a->status_code) {
        char num[16];
        int n = snprintf(num, sizeof num, "%d", a->status_code);
        jput(w, num, (size_t)n);
    } else {
        jput(w, "null", 4);
    }
    jput(w, "}}", 2);
}

char *al_fmt_event_json_with(const al_fmt_env *env, const al_alert *a, const char *trailer,
                             size_t *len)
{
    char ts[32];
    json_timestamp(ts, a->at_ms);
    char duration[64] = "";
    if (a->duration_s >= 0 && isfinite(a->duration_s) &&
        !json_real_text(duration, sizeof duration, a->duration_s))
        return NULL;
    /* the host's metadata: jansson still parses and dumps it (as the tree did), so that
     * whatever metadata_json holds comes out exactly as before; most alerts have none */
    char *meta = NULL;
    if (a->metadata_json) {
        json_error_t jerr;
        json_t *m = json_loads(a->metadata_json, 0, &jerr);
        if (m) {
            meta = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
            json_decref(m);
            if (!meta)
                return NULL;
        }
    }
    /* room for the strings as they are, the keys and the rest; escapes may grow it */
    const char *strs[] = { a->plain ? a->plain : a->message, env->instance, a->model,
                           a->deployment, a->api_base, a->provider, a->region, a->call_id, meta };
    size_t room = 400 + (trailer ? strlen(trailer) + 1 : 0);
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        room += strs[i] ? strlen(strs[i]) : 0;
    json_out w = { al_malloc(room), 0, room, 0 };
    if (!w.out)
        w.cap = 0, w.oom = 1;
    event_json_write(&w, env, a, ts, meta, duration[0] ? duration : NULL);
    size_t json_len = w.len;
    jput(&w, "", 1);
    if (trailer)
        jput(&w, trailer, strlen(trailer) + 1);
    char *out = NULL;
    if (w.oom) {
        al_free(w.out);
    } else {
        out = w.out;
        if (w.len < w.cap) {        /* cut to size: a queued alert keeps it */
            char *cut = al_realloc(out, w.len);
            out = cut ? cut : out;
        }
        if (len)
            *len = json_len;
    }
    free(meta);
    return out;
}

char *al_fmt_event_json(const al_fmt_env *env, const al_alert *a)
{
    return al_fmt_event_json_with(env, a, NULL, NULL);
}
