/* SPDX-License-Identifier: MIT */
/* Each destination's payload (fmt_dest.h): Slack, Discord, Teams, PagerDuty,
 * Alertmanager, e-mail, and the Standard Webhooks signature. */
#include "fmt_dest.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#include "alerting.h"
#include "alloc.h"
#include "buf.h"
#include "sign.h"
#include "text.h"

static const char ellipsis[] = "\xE2\x80\xA6"; /* U+2026 */
#define ELLIPSIS_LEN (sizeof ellipsis - 1)

/* ---- UTF-8 and text helpers ------------------------------------------------------ */

/* Same rules as al_utf8_repair (Unicode Table 3-7). */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned char c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return 0;
        }
        /* a NUL fails each test before the next byte is read */
        if (p[1] < lo || p[1] > hi)
            return 0;
        for (size_t i = 2; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return 0;
        p += n;
    }
    return 1;
}

/* s when it is valid UTF-8, else a repaired copy left in *owned (NULL on failure).
 * Texts reaching us were repaired when the alert was built; this keeps a host's
 * malformed label from turning into a failed delivery (jansson refuses it). */
static const char *valid_text(const char *s, char **owned)
{
    *owned = NULL;
    if (!s || utf8_valid(s))
        return s;
    *owned = al_utf8_repair(s, strlen(s));
    return *owned;
}

/* A copy of valid UTF-8 s of at most max_bytes bytes: when cut, on a code point
 * boundary and ending in "…". */
static char *utf8_cut_bytes(const char *s, size_t max_bytes)
{
    size_t len = strlen(s);
    if (len <= max_bytes)
        return al_strndup(s, len);
    size_t keep = al_utf8_cut_bytes(s, len, max_bytes >= ELLIPSIS_LEN ? max_bytes - ELLIPSIS_LEN : 0);
    char *out = al_malloc(keep + ELLIPSIS_LEN + 1);
    if (!out)
        return NULL;
    memcpy(out, s, keep);
    memcpy(out + keep, ellipsis, ELLIPSIS_LEN + 1);
    return out;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The first non-blank line of s, trimmed, without control characters, cut to max_chars
 * code points with "…"; "" when there is none. */
static char *first_line(const char *s, size_t max_chars)
{
    if (!s)
        return al_strdup("");
    while (is_blank(*s))
        s++;
    size_t n = strcspn(s, "\n");
    while (n > 0 && is_blank(s[n - 1]))
        n--;
    char *line = al_malloc(n + 1);
    if (!line)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\t')
            line[o++] = ' ';
        else if (c >= 0x20 && c != 0x7F)
            line[o++] = (char)c;
    }
    line[o] = '\0';
    char *owned;
    const char *v = valid_text(line, &owned);
    char *out = v ? al_utf8_truncate(v, max_chars) : NULL;
    al_free(owned);
    al_free(line);
    return out;
}

static void utc_tm(int64_t ms, struct tm *tm, int *millis)
{
    int64_t secs = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    time_t t = (time_t)secs;
    gmtime_r(&t, tm);
    if (millis)
        *millis = (int)rem;
}

/* 2024-03-01T12:34:56.789Z */
static void rfc3339_ms(int64_t ms, char out[96])
{
    struct tm tm;
    int millis;
    utc_tm(ms, &tm, &millis);
    snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

/* ---- jansson helpers ------------------------------------------------------------- */

/* A JSON string of s (repaired when it is not UTF-8); json null for NULL s. NULL only on
 * allocation failure. */
static json_t *jstr(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    char *fixed = al_utf8_repair(s, strlen(s));
    j = fixed ? json_string(fixed) : NULL;
    al_free(fixed);
    return j;
}

/* json_object_set_new takes v even when it fails, and fails on a NULL object or value,
 * so a builder can chain these and test once. */
static int jset(json_t *obj, const char *key, json_t *v)
{
    return json_object_set_new(obj, key, v) == 0 ? 0 : 1;
}

/* Sets key only when s is known (non-NULL and non-empty). */
static int jset_known(json_t *obj, const char *key, const char *s)
{
    return (s && *s) ? jset(obj, key, jstr(s)) : 0;
}

/* Compact JSON in insertion order as an al_malloc string; drops root. */
static char *jdump(json_t *root, int failed)
{
    char *d = (!failed && root) ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    char *out = d ? al_strdup(d) : NULL;
    free(d);
    return out;
}

/* ---- neutralising rich text ------------------------------------------------------- */

static const char zwsp[] = "\xE2\x80\x8B";     /* U+200B ZERO WIDTH SPACE */

static int follows_nocase(const char *s, const char *word)
{
    for (; *word; s++, word++)
        if (*s != *word && !(*s >= 'A' && *s <= 'Z' && *s - 'A' + 'a' == *word))
            return 0;
    return 1;
}

/* A copy of s in which the markup of a rich destination can no longer be forged from
 * text we did not write: a zero-width space after every "]" followed by "(" breaks a
 * Markdown link "[text](url)" (Teams, Discord). For Discord also after the "@" of
 * "@everyone" and "@here", and after every "<" that opens a tag: "<@id>", "<@&id>",
 * "<#id>", and on the Slack-compatible endpoint "<!here>" and "<url|text>".
 * allowed_mentions is the second guard, not the only one. */
static char *defuse(const char *s, int discord)
{
    al_buf b = AL_BUF_INIT;
    const char *run = s;
    for (const char *p = s; *p; p++) {
        int cut = p[0] == ']' && p[1] == '(';
        if (discord && !cut)
            cut = (p[0] == '@' && (follows_nocase(p + 1, "everyone") ||
                                   follows_nocase(p + 1, "here"))) ||
                  (p[0] == '<' && p[1] && p[1] != ' ' && p[1] != '\n' && p[1] != '=');
        if (!cut)
            continue;
        al_buf_add(&b, run, (size_t)(p + 1 - run));
        al_buf_adds(&b, zwsp);
        run = p + 1;
    }
    al_buf_adds(&b, run);
    return al_buf_take(&b);
}

/* ---- Slack, Discord ------------------------------------------------------------- */

/* {"<key>": text cut to max_chars} (+ Discord's allowed_mentions). */
static char *text_body(const char *text, const char *key, size_t max_chars, int no_mentions)
{
    char *owned;
    const char *v = valid_text(text ? text : "", &owned);
    if (!v)
        return NULL;
    char *cut = NULL;
    size_t len = strlen(v);
    if (al_utf8_prefix_len(v, len, max_chars) < len) {
        cut = al_utf8_truncate(v, max_chars);
        if (!cut) {
            al_free(owned);
            return NULL;
        }
        v = cut;
    }
    json_t *root = json_object();
    int bad = jset(root, key, json_string(v));
    if (no_mentions) {
        json_t *am = json_object();
        bad |= jset(am, "parse", json_array());
        bad |= jset(root, "allowed_mentions", am);
    }
    al_free(cut);
    al_free(owned);
    return jdump(root, bad);
}

char *al_fmt_slack_body(const char *text)
{
    return text_body(text, "text", AL_SLACK_MAX_CHARS, 0);
}

/* Whatever the URL looks like, a Discord destination gets both mention guards. */
static char *discord_body(const char *text, const char *key)
{
    char *owned;
    const char *v = valid_text(text ? text : "", &owned);
    char *safe = v ? defuse(v, 1) : NULL;
    al_free(owned);
    char *body = safe ? text_body(safe, key, AL_DISCORD_MAX_CHARS, 1) : NULL;
    al_free(safe);
    return body;
}

char *al_fmt_discord_body(const char *text)
{
    return discord_body(text, "content");
}

char *al_fmt_discord_slack_body(const char *text)
{
    return discord_body(text, "text");
}

int al_discord_is_slack_compat(const char *url)
{
    if (!url)
        return 0;
    size_t end = strcspn(url, "?#");
    if (end > 0 && url[end - 1] == '/')
        end--;
    static const char suffix[] = "/slack";
    size_t n = sizeof suffix - 1;
    return end >= n && memcmp(url + end - n, suffix, n) == 0;
}

/* 1 when the query url[q..end) has a parameter named "wait". */
static int has_wait_param(const char *url, size_t q, size_t end)
{
    for (size_t i = q; i < end;) {
        size_t j = i;
        while (j < end && url[j] != '&')
            j++;
        size_t name = i;
        while (name < j && url[name] != '=')
            name++;
        if (name - i == 4 && memcmp(url + i, "wait", 4) == 0)
            return 1;
        i = j + 1;
    }
    return 0;
}

char *al_discord_url(const char *url)
{
    if (!url)
        return NULL;
    size_t len = strlen(url);
    size_t frag = strcspn(url, "#");
    size_t q = strcspn(url, "?");
    int has_query = q < frag;
    if (al_discord_is_slack_compat(url) || (has_query && has_wait_param(url, q + 1, frag)))
        return al_strndup(url, len);

    const char *sep = "?";
    if (has_query)
        sep = (url[frag - 1] == '?' || url[frag - 1] == '&') ? "" : "&";
    al_buf b = AL_BUF_INIT;
    al_buf_add(&b, url, frag);
    al_buf_adds(&b, sep);
    al_buf_adds(&b, "wait=true");
    al_buf_add(&b, url + frag, len - frag);
    return al_buf_take(&b);
}

/* ---- Teams ---------------------------------------------------------------------- */

static char *teams_dump(const char *text)
{
    json_t *block = json_object();
    int bad = jset(block, "type", json_string("TextBlock"));
    bad |= jset(block, "text", json_string(text));
    bad |= jset(block, "wrap", json_true());
    json_t *body = json_array();
    bad |= json_array_append_new(body, block) != 0;

    json_t *card = json_object();
    bad |= jset(card, "$schema", json_string("http://adaptivecards.io/schemas/adaptive-card.json"));
    bad |= jset(card, "type", json_string("AdaptiveCard"));
    bad |= jset(card, "version", json_string("1.2"));
    bad |= jset(card, "body", body);

    json_t *att = json_object();
    bad |= jset(att, "contentType", json_string("application/vnd.microsoft.card.adaptive"));
    bad |= jset(att, "contentUrl", json_null());
    bad |= jset(att, "content", card);
    json_t *atts = json_array();
    bad |= json_array_append_new(atts, att) != 0;

    json_t *root = json_object();
    bad |= jset(root, "type", json_string("message"));
    bad |= jset(root, "attachments", atts);
    char *d = (!bad && root) ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    return d; /* malloc memory (jansson) */
}

/* Bytes jansson writes for the code point at s (n bytes long) inside a string. */
static size_t json_escaped_len(const unsigned char *s, size_t n)
{
    if (n > 1)
        return n;
    switch (*s) {
    case '"': case '\\': case '\b': case '\f': case '\n': case '\r': case '\t':
        return 2;
    default:
        return *s < 0x20 ? 6 : 1;
    }
}

static size_t utf8_seq_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

char *al_fmt_teams_body(const char *text)
{
    char *raw_owned;
    const char *raw = valid_text(text ? text : "", &raw_owned);
    /* the TextBlock renders Markdown: no link may come from the text */
    char *owned = raw ? defuse(raw, 0) : NULL;
    al_free(raw_owned);
    const char *v = owned;
    if (!v)
        return NULL;
    char *d = teams_dump(v);
    if (d && strlen(d) > AL_TEAMS_MAX_BYTES) {
        /* The longest prefix whose escaped form fits beside the envelope and "…". */
        char *empty = teams_dump("");
        size_t overhead = empty ? strlen(empty) : 0;
        free(empty);
        free(d);
        d = NULL;
        size_t budget = overhead && overhead + ELLIPSIS_LEN < AL_TEAMS_MAX_BYTES
                            ? AL_TEAMS_MAX_BYTES - overhead - ELLIPSIS_LEN
                            : 0;
        const unsigned char *u = (const unsigned char *)v;
        while (budget > 0) {
            size_t keep = 0, used = 0;
            while (u[keep]) {
                size_t n = utf8_seq_len(u[keep]);
                size_t e = json_escaped_len(u + keep, n);
                if (used + e > budget)
                    break;
                used += e;
                keep += n;
            }
            char *cut = al_malloc(keep + ELLIPSIS_LEN + 1);
            if (!cut)
                break;
            memcpy(cut, v, keep);
            memcpy(cut + keep, ellipsis, ELLIPSIS_LEN + 1);
            d = teams_dump(cut);
            al_free(cut);
            if (!d)
                break;
            size_t dl = strlen(d);
            if (dl <= AL_TEAMS_MAX_BYTES)
                break;
            /* only if jansson's escaping ever differs from json_escaped_len */
            free(d);
            d = NULL;
            budget = dl - AL_TEAMS_MAX_BYTES < budget ? budget - (dl - AL_TEAMS_MAX_BYTES) : 0;
        }
    }
    al_free(owned);
    char *out = d ? al_strdup(d) : NULL;
    free(d);
    return out;
}

/* ---- PagerDuty ------------------------------------------------------------------ */

const char *al_fmt_severity(const al_alert *a)
{
    if (!a)
        return "info";
    switch (a->level) {
    case ALERT_LEVEL_HIGH: return a->severity_major ? "critical" : "error";
    case ALERT_LEVEL_MEDIUM: return "warning";
    default: return "info";
    }
}

static const char *alert_text(const al_alert *a)
{
    return a->plain ? a->plain : a->message ? a->message : "";
}

static const char *type_name(const al_alert *a)
{
    return (unsigned)a->type < AL_T__COUNT ? al_types[a->type].name : "unknown";
}

char *al_pagerduty_dedup_key(const al_alert *a)
{
    if (!a)
        return NULL;
    char *line = NULL;
    const char *subject = a->subject;
    if (!subject) {
        /* uncut, so two long first lines that differ late still differ */
        line = first_line(alert_text(a), (size_t)-1);
        if (!line)
            return NULL;
        subject = line;
    }
    al_buf b = AL_BUF_INIT;
    al_buf_adds(&b, type_name(a));
    al_buf_addc(&b, '\n');
    al_buf_adds(&b, subject);
    al_free(line);
    char *msg = al_buf_take(&b);
    char *hex = msg ? al_malloc(65) : NULL;
    if (hex && al_sha256_hex(msg, strlen(msg), hex) != 0) {
        al_free(hex);
        hex = NULL;
    }
    al_free(msg);
    return hex;
}

/* The first line cut to max_chars, or the type name when the text has none. */
static char *summary_line(const al_alert *a, const char *override, size_t max_chars)
{
    char *s = first_line(override ? override : alert_text(a), max_chars);
    if (s && !*s) {
        al_free(s);
        s = al_strdup(type_name(a));
    }
    return s;
}

char *al_fmt_pagerduty_body(const al_fmt_env *env, const al_alert *a, const char *routing_key,
                            const char *summary_override)
{
    if (!env || !a || !routing_key)
        return NULL;
    char *dedup = al_pagerduty_dedup_key(a);
    if (!dedup)
        return NULL;
    json_t *root = json_object();
    int bad = jset(root, "routing_key", jstr(routing_key));
    bad |= jset(root, "event_action", json_string(a->resolved ? "resolve" : "trigger"));
    bad |= jset(root, "dedup_key", json_string(dedup));
    al_free(dedup);
    if (a->resolved)
        return jdump(root, bad);

    char *summary = summary_line(a, summary_override, AL_PAGERDUTY_MAX_SUMMARY);
    char *owned = NULL;
    const char *text = valid_text(alert_text(a), &owned);
    char *detail = text ? utf8_cut_bytes(text, AL_FMT_DETAIL_MAX_BYTES) : NULL;
    al_free(owned);
    json_t *meta = NULL;
    if (a->metadata_json) {
        meta = json_loads(a->metadata_json, 0, NULL);
        bad |= !meta;
    }
    char ts[96];
    rfc3339_ms(a->at_ms, ts);

    json_t *details = json_object();
    bad |= jset_known(details, "model", a->model);
    bad |= jset_known(details, "deployment", a->deployment);
    bad |= jset_known(details, "api_base", a->api_base);
    bad |= jset_known(details, "provider", a->provider);
    bad |= jset_known(details, "region", a->region);
    bad |= jset_known(details, "call_id", a->call_id);
    if (a->status_code)
        bad |= jset(details, "status_code", json_integer(a->status_code));
    if (meta)
        bad |= jset(details, "alerting_metadata", meta);
    bad |= jset(details, "text", detail ? json_string(detail) : NULL);

    json_t *payload = json_object();
    bad |= jset(payload, "summary", summary ? json_string(summary) : NULL);
    bad |= jset(payload, "timestamp", json_string(ts));
    bad |= jset(payload, "severity", json_string(al_fmt_severity(a)));
    bad |= jset(payload, "source", jstr(env->instance && *env->instance ? env->instance
                                                                          : "libalerting"));
    bad |= jset(payload, "component", json_string("libalerting"));
    bad |= jset(payload, "group", json_string(type_name(a)));
    bad |= jset(payload, "class", json_string(type_name(a)));
    bad |= jset(payload, "custom_details", details);
    bad |= jset(root, "payload", payload);
    al_free(summary);
    al_free(detail);
    return jdump(root, bad);
}

/* ---- Alertmanager --------------------------------------------------------------- */

/* Prometheus' usual three (BEHAVIOUR §6): no "error" between critical and warning. */
const char *al_fmt_am_severity(const al_alert *a)
{
    if (!a)
        return "info";
    switch (a->level) {
    case ALERT_LEVEL_HIGH: return "critical";
    case ALERT_LEVEL_MEDIUM: return "warning";
    default: return "info";
    }
}

static const char *entity_name(int entity)
{
    switch (entity) {
    case ALERT_ENTITY_KEY: return "key";
    case ALERT_ENTITY_USER: return "user";
    case ALERT_ENTITY_END_USER: return "end_user";
    case ALERT_ENTITY_TEAM: return "team";
    case ALERT_ENTITY_TEAM_MEMBER: return "team_member";
    case ALERT_ENTITY_ORGANIZATION: return "organization";
    case ALERT_ENTITY_PROJECT: return "project";
    case ALERT_ENTITY_PROXY: return "proxy";
    default: return NULL;
    }
}

/* The instance label: the fleet's name for what the fleet decides once (outages, reports,
 * budgets; FLEET.md), so that Alertmanager merges what replicas sent alone while Redis was
 * away; the replica's name for the rest. */
static const char *am_instance(const al_fmt_env *env, const al_alert *a)
{
    if (!env->fleet)
        return env->instance;
    switch (a->type) {
    case AL_T_OUTAGE_ALERTS:
    case AL_T_REGION_OUTAGE_ALERTS:
    case AL_T_DAILY_REPORTS:
    case AL_T_FALLBACK_REPORTS:
    case AL_T_SPEND_REPORTS:
    case AL_T_BUDGET_ALERTS:
        return env->fleet;
    default:
        return env->instance;
    }
}

char *al_fmt_alertmanager_body(const al_fmt_env *env, const al_alert *a)
{
    if (!env || !a)
        return NULL;
    double after = env->alertmanager_resolve_after_s;
    if (!(after > 0) || !isfinite(after) || after > 1e12)
        after = 3600;
    /* an ongoing episode is posted again: its end moves with the clock */
    int64_t from = env->now_ms > a->at_ms ? env->now_ms : a->at_ms;
    int64_t ends = a->resolved ? env->now_ms : from + (int64_t)llround(after * 1000.0);
    if (ends < a->at_ms) /* Alertmanager rejects an end before the start */
        ends = a->at_ms;
    char starts_at[96], ends_at[96];
    rfc3339_ms(a->at_ms, starts_at);
    rfc3339_ms(ends, ends_at);

    char *summary = summary_line(a, NULL, AL_PAGERDUTY_MAX_SUMMARY);
    char *owned = NULL;
    const char *text = valid_text(alert_text(a), &owned);
    char *description = text ? utf8_cut_bytes(text, AL_FMT_DETAIL_MAX_BYTES) : NULL;
    al_free(owned);

    json_t *labels = json_object();
    int bad = jset(labels, "alertname", json_string(type_name(a)));
    bad |= jset(labels, "severity", json_string(al_fmt_am_severity(a)));
    bad |= jset_known(labels, "instance", am_instance(env, a));
    bad |= jset_known(labels, "model", a->model);
    bad |= jset_known(labels, "deployment", a->deployment);
    bad |= jset_known(labels, "region", a->region);
    bad |= jset_known(labels, "entity", entity_name(a->entity));

    json_t *ann = json_object();
    bad |= jset(ann, "summary", summary ? json_string(summary) : NULL);
    bad |= jset(ann, "description", description ? json_string(description) : NULL);

    json_t *alert = json_object();
    bad |= jset(alert, "labels", labels);
    bad |= jset(alert, "annotations", ann);
    bad |= jset(alert, "startsAt", json_string(starts_at));
    bad |= jset(alert, "endsAt", json_string(ends_at));
    bad |= jset_known(alert, "generatorURL", env->proxy_base_url);
    json_t *root = json_array();
    bad |= json_array_append_new(root, alert) != 0;
    al_free(summary);
    al_free(description);
    return jdump(root, bad);
}

/* ---- E-mail --------------------------------------------------------------------- */

/* A header value: CR, LF and the other control characters (but tab) removed, so no
 * value can start a header of its own. */
static void add_header_value(al_buf *b, const char *v, size_t n)
{
    for (size_t i = 0; i < n && v[i]; i++) {
        unsigned char c = (unsigned char)v[i];
        if ((c >= 0x20 && c != 0x7F) || c == '\t')
            al_buf_addc(b, (char)c);
    }
}

static size_t header_value_len(const char *v)
{
    size_t n = 0;
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        n += (c >= 0x20 && c != 0x7F) || c == '\t';
    }
    return n;
}

/* RFC 5322 date-time in UTC: "Fri, 01 Mar 2024 12:34:56 +0000" (no locale). */
static void rfc5322_date(int64_t ms, char out[96])
{
    static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm tm;
    utc_tm(ms, &tm, NULL);
    snprintf(out, 96, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* RFC 2047 B encoding, folded: each encoded-word holds whole code points, at most 42
 * bytes (56 base64 characters, a 68-character word), so "Subject: " plus a word stays
 * within 78 columns. */
#define EW_MAX_BYTES 42

static void add_encoded_words(al_buf *b, const char *s)
{
    size_t len = strlen(s);
    int first = 1;
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i + n < len) {
            size_t k = utf8_seq_len((unsigned char)s[i + n]);
            if (n + k > EW_MAX_BYTES && n > 0)
                break;
            n += k;
        }
        if (i + n > len)
            n = len - i;
        char b64[4 * ((EW_MAX_BYTES + 3 + 2) / 3) + 1];
        al_base64_encode(s + i, n, b64);
        if (!first)
            al_buf_adds(b, "\r\n ");
        al_buf_adds(b, "=?UTF-8?B?");
        al_buf_adds(b, b64);
        al_buf_adds(b, "?=");
        first = 0;
        i += n;
    }
}

/* Plain ASCII s folded before a space wherever a line would pass 78 columns (unfolding
 * removes only the CRLF, so the value reads back unchanged); a longer word stays whole. */
static void add_folded(al_buf *b, const char *s, size_t col)
{
    while (*s) {
        size_t word = 1 + strcspn(s + 1, " ");
        /* never before a blank that another follows: no line of blanks only */
        if (col + word > 78 && *s == ' ' && word > 1 && col > 1) {
            al_buf_adds(b, "\r\n");
            col = 0;
        }
        al_buf_add(b, s, word);
        col += word;
        s += word;
    }
}

static int needs_encoding(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p >= 0x80)
            return 1;
    /* a literal "=?" would be decoded by readers as an encoded-word of ours */
    return strstr(s, "=?") != NULL;
}

/* The Message-ID's domain: the sender's, when it is a plain host name. */
static void sender_domain(const char *from, char out[256])
{
    const char *at = strrchr(from, '@');
    size_t n = 0;
    if (at) {
        at++;
        n = strcspn(at, ">");
        while (n > 0 && is_blank(at[n - 1]))
            n--;
        for (size_t i = 0; i < n; i++) {
            char c = at[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-')) {
                n = 0;
                break;
            }
        }
    }
    if (n == 0 || n > 253) {
        strcpy(out, "localhost");
        return;
    }
    memcpy(out, at, n);
    out[n] = '\0';
}

/* Quoted-printable (RFC 2045 6.7) with CRLF hard breaks for every LF, CRLF or CR of s,
 * lines of at most 76 characters, a code point never split over a soft break, and
 * trailing blanks encoded. */
static void add_qp(al_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t col = 0;
    while (*p) {
        if (*p == '\r' || *p == '\n') {
            p += (p[0] == '\r' && p[1] == '\n') ? 2 : 1;
            al_buf_adds(b, "\r\n");
            col = 0;
            continue;
        }
        size_t n = 1;
        if (*p >= 0xC0) {
            /* a broken sequence ends at the first byte that is no continuation (a NUL, a
             * line break), which the next round handles */
            n = utf8_seq_len(*p);
            for (size_t k = 1; k < n; k++)
                if ((p[k] & 0xC0) != 0x80) {
                    n = k;
                    break;
                }
        }
        int eol = p[n] == '\0' || p[n] == '\r' || p[n] == '\n';
        char tok[12];
        size_t tl = 0;
        for (size_t k = 0; k < n; k++) {
            unsigned char c = p[k];
            if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !eol)) {
                tok[tl++] = (char)c;
            } else {
                tok[tl++] = '=';
                tok[tl++] = hex[c >> 4];
                tok[tl++] = hex[c & 15];
            }
        }
        if (col + tl > 75) {
            al_buf_adds(b, "=\r\n");
            col = 0;
        }
        al_buf_add(b, tok, tl);
        col += tl;
        p += n;
    }
}

static void add_html_escaped(al_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': al_buf_adds(b, "&amp;"); break;
        case '<': al_buf_adds(b, "&lt;"); break;
        case '>': al_buf_adds(b, "&gt;"); break;
        case '"': al_buf_adds(b, "&quot;"); break;
        case '\'': al_buf_adds(b, "&#39;"); break;
        default: al_buf_addc(b, *s);
        }
    }
}

char *al_fmt_email(const al_fmt_env *env, const al_alert *a, const char *text, const char *from,
                   const char *const *to, size_t n_to, const char *boundary_seed)
{
    if (!env || !a || !from || (n_to && !to))
        return NULL;
    if (!text)
        text = alert_text(a);

    /* Boundary and Message-ID from one digest of the seed: stable across retries. A
     * boundary starting "=_" cannot occur in quoted-printable text. */
    al_buf seed = AL_BUF_INIT;
    if (boundary_seed)
        al_buf_adds(&seed, boundary_seed);
    else
        al_buf_printf(&seed, "%s\n%lld\n%s", type_name(a), (long long)a->at_ms, alert_text(a));
    char *seed_s = al_buf_take(&seed);
    char digest[65];
    int hash_rc = seed_s ? al_sha256_hex(seed_s, strlen(seed_s), digest) : -1;
    al_free(seed_s);
    if (hash_rc != 0)
        return NULL;
    char boundary[64], date[96], domain[256];
    snprintf(boundary, sizeof boundary, "=_libalerting_%.32s", digest);
    rfc5322_date(env->now_ms, date);
    sender_domain(from, domain);

    char *line = first_line(alert_text(a), AL_EMAIL_MAX_SUBJECT_CHARS);
    if (!line)
        return NULL;
    al_buf sub = AL_BUF_INIT;
    al_buf_printf(&sub, "[%s] %s", al_level_name(a->level), *line ? line : type_name(a));
    al_free(line);
    char *subject = al_buf_take(&sub);
    if (!subject)
        return NULL;

    al_buf b = AL_BUF_INIT;
    al_buf_printf(&b, "Date: %s\r\nFrom: ", date);
    add_header_value(&b, from, strlen(from));
    al_buf_adds(&b, "\r\nTo: ");
    size_t col = 4, written = 0;
    for (size_t i = 0; i < n_to; i++) {
        if (!to[i] || header_value_len(to[i]) == 0)
            continue;
        size_t n = header_value_len(to[i]);
        if (written) {
            al_buf_addc(&b, ',');
            col++;
            /* room for " ", the address and the comma that may follow it */
            if (col + 1 + n + 1 > 78) {
                al_buf_adds(&b, "\r\n");
                col = 0;
            }
            al_buf_addc(&b, ' ');
            col++;
        }
        add_header_value(&b, to[i], strlen(to[i]));
        col += n;
        written++;
    }
    if (!written)
        al_buf_adds(&b, "undisclosed-recipients:;");
    al_buf_adds(&b, "\r\nSubject: ");
    if (needs_encoding(subject))
        add_encoded_words(&b, subject);
    else
        add_folded(&b, subject, strlen("Subject: "));
    al_buf_printf(&b,
                  "\r\nMessage-ID: <%.32s@%s>\r\n"
                  "Auto-Submitted: auto-generated\r\n"
                  "MIME-Version: 1.0\r\n"
                  "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n"
                  "\r\n"
                  "--%s\r\n"
                  "Content-Type: text/plain; charset=UTF-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n"
                  "\r\n",
                  digest + 32, domain, boundary, boundary);
    add_qp(&b, text);

    al_buf html = AL_BUF_INIT;
    al_buf_adds(&html, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>");
    add_html_escaped(&html, subject);
    al_buf_adds(&html, "</title>\n</head>\n<body>\n"
                       "<pre style=\"white-space: pre-wrap; font-family: monospace\">");
    add_html_escaped(&html, text);
    al_buf_adds(&html, "</pre>\n</body>\n</html>");
    char *html_s = al_buf_take(&html);
    al_free(subject);
    if (!html_s) {
        al_buf_free(&b);
        return NULL;
    }
    al_buf_printf(&b,
                  "\r\n--%s\r\n"
                  "Content-Type: text/html; charset=UTF-8\r\n"
                  "Content-Transfer-Encoding: quoted-printable\r\n"
                  "\r\n",
                  boundary);
    add_qp(&b, html_s);
    al_free(html_s);
    al_buf_printf(&b, "\r\n--%s--\r\n", boundary);
    return al_buf_take(&b);
}

/* ---- Standard Webhooks ------------------------------------------------------------ */

int al_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp_s, const char *body,
                    size_t body_len, char *out, size_t out_size)
{
    if (out && out_size)
        out[0] = '\0';
    if (!secret || !msg_id || (!body && body_len) || !out || out_size < AL_WEBHOOK_SIG_SIZE)
        return -1;
    if (strncmp(secret, "whsec_", 6) == 0)
        secret += 6;
    size_t cap = strlen(secret) / 4 * 3 + 3;
    unsigned char *key = al_malloc(cap);
    if (!key)
        return -1;
    long key_len = al_base64_decode(secret, key, cap);

    al_buf msg = AL_BUF_INIT;
    al_buf_printf(&msg, "%s.%lld.", msg_id, (long long)timestamp_s);
    if (body_len)
        al_buf_add(&msg, body, body_len);
    int rc = -1;
    if (key_len > 0 && !msg.oom && msg.data) {
        memcpy(out, "v1,", 3);
        rc = al_hmac_sha256_b64(key, (size_t)key_len, msg.data, msg.len, out + 3, out_size - 3);
        if (rc != 0)
            out[0] = '\0';
    }
    al_wipe(key, cap);
    al_free(key);
    al_buf_free(&msg);
    return rc;
}
