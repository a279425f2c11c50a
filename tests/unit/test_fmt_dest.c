/* SPDX-License-Identifier: MIT */
/* Destination payloads (lib/fmt_dest): each body compared byte for byte with a golden
 * file of tests/data/payloads/ (run from the repository root), the limits, the e-mail
 * headers, the Standard Webhooks signature and allocation failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "alerting.h"
#include "alloc.h"
#include "fmt_dest.h"
#include "sign.h"
#include "text.h"

#define DATA "tests/data/payloads/"

/* 2024-03-01T12:34:56.789Z */
#define AT_MS INT64_C(1709296496789)
#define FIRE "\xF0\x9F\x94\xA5" /* U+1F525, 4 bytes */
#define ELLIPSIS "\xE2\x80\xA6"

static const char envelope[] =
    "Alert type: `llm_exceptions`\nLevel: `High`\nTimestamp: `12:34:56`\n\n"
    "Message: LLM API call failed: `RateLimitError: \"quota\" exceeded &amp; retry "
    "&lt;later&gt;`\n\nModel: `gpt-4o`\nAPI Base: `None`\nMessages: `h\xC3\xA9llo " FIRE "`\n\n"
    "Proxy URL: `https://proxy.example.com`";

/* ---- helpers ---------------------------------------------------------------------- */

static char *read_golden(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, DATA "%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    /* JSON bodies never end in a newline: one added by an editor is not part of them */
    size_t len = strlen(name);
    if (len > 5 && strcmp(name + len - 5, ".json") == 0 && n > 0 && s[n - 1] == '\n')
        s[n - 1] = '\0';
    return s;
}

static void assert_golden(const char *got, const char *name)
{
    assert_non_null(got);
    char *want = read_golden(name);
    if (strcmp(got, want) != 0) {
        size_t i = 0;
        while (got[i] && got[i] == want[i])
            i++;
        fail_msg("%s differs at byte %zu:\n got: %.80s\nwant: %.80s", name, i, got + i,
                 want + i);
    }
    free(want);
}

static void set(char **field, const char *v)
{
    al_free(*field);
    *field = al_strdup(v);
    assert_non_null(*field);
}

static al_alert *make_alert(al_type type, int level, const char *plain)
{
    al_alert *a = al_alert_new(type, level, AT_MS);
    assert_non_null(a);
    set(&a->plain, plain);
    char *esc = al_slack_escape(plain);
    assert_non_null(esc);
    a->message = esc;
    return a;
}

static al_alert *outage_alert(void)
{
    al_alert *a = make_alert(AL_T_OUTAGE_ALERTS, ALERT_LEVEL_HIGH,
                             "Major outage: `azure/gpt-4` failing\n"
                             "Model: `gpt-4`\nAPI Base: `https://x.openai.azure.com`\n"
                             "Errors: 12 in the last 60s (\"503 Service Unavailable\")");
    a->severity_major = 1;
    set(&a->subject, "deployment azure/gpt-4");
    set(&a->model, "gpt-4");
    set(&a->deployment, "azure/gpt-4");
    set(&a->api_base, "https://x.openai.azure.com");
    set(&a->provider, "azure");
    set(&a->region, "eastus");
    a->status_code = 503;
    assert_int_equal(al_alert_set_metadata(a, "{\"team\": \"core\", \"n\": 1}", 0), ALERT_OK);
    return a;
}

static al_fmt_env test_env(void)
{
    al_fmt_env env = { "proxy-eu-1", AT_MS + 3211, 3600, "https://proxy.example.com", NULL };
    return env;
}

static int json_parses(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    json_decref(j);
    return j != NULL;
}

/* ---- Slack, Discord ------------------------------------------------------------- */

static void test_slack_golden(void **state)
{
    (void)state;
    char *s = al_fmt_slack_body(envelope);
    assert_golden(s, "slack.json");
    al_free(s);
}

static void test_slack_limit(void **state)
{
    (void)state;
    size_t n = AL_SLACK_MAX_CHARS;
    char *text = malloc(n + 2);
    memset(text, 'a', n);
    text[n] = '\0';
    char *s = al_fmt_slack_body(text);  /* exactly at the limit: untouched */
    assert_non_null(s);
    assert_int_equal(strlen(s), n + strlen("{\"text\":\"\"}"));
    assert_null(strstr(s, ELLIPSIS));
    al_free(s);

    text[n] = 'b';
    text[n + 1] = '\0';
    s = al_fmt_slack_body(text);        /* one over: 39 999 + "…" */
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    const char *t = json_string_value(json_object_get(j, "text"));
    assert_int_equal(al_utf8_count(t), n);
    assert_int_equal(strlen(t), n - 1 + 3);
    assert_string_equal(t + n - 1, ELLIPSIS);
    json_decref(j);
    al_free(s);
    free(text);

    s = al_fmt_slack_body(NULL);
    assert_string_equal(s, "{\"text\":\"\"}");
    al_free(s);
    /* malformed UTF-8 from a host is repaired, not a failed delivery */
    s = al_fmt_slack_body("bad \xC3 byte");
    assert_string_equal(s, "{\"text\":\"bad \xEF\xBF\xBD byte\"}");
    al_free(s);
}

static void test_discord_golden(void **state)
{
    (void)state;
    char *s = al_fmt_discord_body(envelope);
    assert_golden(s, "discord.json");
    al_free(s);
}

/* 1998 "x", then five 4-byte emoji: the first one occupies bytes 1998..2001 and straddles
 * byte 2000; 2003 code points, so the cut keeps 1998 "x" + one emoji + "…". */
static char *discord_long_text(void)
{
    char *t = malloc(1998 + 5 * 4 + 1);
    memset(t, 'x', 1998);
    t[1998] = '\0';
    for (int i = 0; i < 5; i++)
        strcat(t, FIRE);
    return t;
}

static void test_discord_long_golden(void **state)
{
    (void)state;
    char *text = discord_long_text();
    char *s = al_fmt_discord_body(text);
    assert_golden(s, "discord_long.json");
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    const char *c = json_string_value(json_object_get(j, "content"));
    assert_int_equal(al_utf8_count(c), AL_DISCORD_MAX_CHARS);
    assert_int_equal(strlen(c), 1998 + 4 + 3);
    json_decref(j);
    al_free(s);

    /* 1996 "x" + 1 emoji + "yz" + 1 emoji = 2000 code points: fits, nothing cut */
    char fits[1996 + 4 + 2 + 4 + 1];
    memset(fits, 'x', 1996);
    memcpy(fits + 1996, FIRE "yz" FIRE, 11);
    s = al_fmt_discord_body(fits);
    assert_non_null(s);
    assert_null(strstr(s, ELLIPSIS));
    assert_non_null(strstr(s, FIRE "yz" FIRE "\""));
    al_free(s);

    /* 1999 "x" + emoji + "b": the emoji is code point 2000 and gives way to "…" */
    char over[1999 + 4 + 1 + 1];
    memset(over, 'x', 1999);
    memcpy(over + 1999, FIRE "b", 6);
    s = al_fmt_discord_body(over);
    assert_non_null(s);
    assert_null(strstr(s, FIRE));
    assert_non_null(strstr(s, "xx" ELLIPSIS "\","));
    al_free(s);
    free(text);
}

static void test_discord_url(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        int slack;
    } cases[] = {
        { "https://discord.com/api/webhooks/1/tok", "https://discord.com/api/webhooks/1/tok?wait=true", 0 },
        { "https://discord.com/api/webhooks/1/tok?thread_id=9",
          "https://discord.com/api/webhooks/1/tok?thread_id=9&wait=true", 0 },
        { "https://discord.com/api/webhooks/1/tok?", "https://discord.com/api/webhooks/1/tok?wait=true", 0 },
        { "https://discord.com/api/webhooks/1/tok?a=1&", "https://discord.com/api/webhooks/1/tok?a=1&wait=true", 0 },
        { "https://discord.com/api/webhooks/1/tok#x", "https://discord.com/api/webhooks/1/tok?wait=true#x", 0 },
        { "https://discord.com/api/webhooks/1/tok?wait=false", "https://discord.com/api/webhooks/1/tok?wait=false", 0 },
        { "https://discord.com/api/webhooks/1/tok?a=1&wait=true", "https://discord.com/api/webhooks/1/tok?a=1&wait=true", 0 },
        { "https://discord.com/api/webhooks/1/tok?waiting=1", "https://discord.com/api/webhooks/1/tok?waiting=1&wait=true", 0 },
        { "https://discord.com/api/webhooks/1/tok/slack", "https://discord.com/api/webhooks/1/tok/slack", 1 },
        { "https://discord.com/api/webhooks/1/tok/slack/", "https://discord.com/api/webhooks/1/tok/slack/", 1 },
        { "https://discord.com/api/webhooks/1/tok/slack?thread_id=9",
          "https://discord.com/api/webhooks/1/tok/slack?thread_id=9", 1 },
        { "https://discord.com/api/webhooks/1/slackish", "https://discord.com/api/webhooks/1/slackish?wait=true", 0 },
        { "https://discord.com/api/webhooks/1/tok?next=/slack",
          "https://discord.com/api/webhooks/1/tok?next=/slack&wait=true", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *u = al_discord_url(cases[i].in);
        assert_non_null(u);
        if (strcmp(u, cases[i].out) != 0)
            fail_msg("%s -> %s, want %s", cases[i].in, u, cases[i].out);
        assert_int_equal(al_discord_is_slack_compat(cases[i].in), cases[i].slack);
        al_free(u);
    }
    assert_null(al_discord_url(NULL));
    assert_int_equal(al_discord_is_slack_compat(NULL), 0);
}

/* ---- Teams ---------------------------------------------------------------------- */

static void test_teams_golden(void **state)
{
    (void)state;
    char *s = al_fmt_teams_body(envelope);
    assert_golden(s, "teams.json");
    al_free(s);
}

/* 40 000 bytes mixing what grows when escaped (quotes, newlines, a control character)
 * with 2-, 3- and 4-byte code points. */
static char *teams_long_text(void)
{
    static const char unit[] = "Line \"q\" \\ caf\xC3\xA9 \xE2\x82\xAC " FIRE "\t\x01|\n";
    size_t ul = sizeof unit - 1, n = 40000 / ul;
    char *t = malloc(n * ul + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(t + i * ul, unit, ul);
    t[n * ul] = '\0';
    return t;
}

static void test_teams_long_golden(void **state)
{
    (void)state;
    char *text = teams_long_text();
    char *s = al_fmt_teams_body(text);
    assert_golden(s, "teams_long.json");
    assert_true(strlen(s) <= AL_TEAMS_MAX_BYTES);
    assert_true(json_parses(s));
    al_free(s);

    /* at every length around the limit the body fits, and is cut only when it must */
    size_t base = strlen("{\"type\":\"message\",\"attachments\":[{\"contentType\":\"application/"
                         "vnd.microsoft.card.adaptive\",\"contentUrl\":null,\"content\":{\"$schema"
                         "\":\"http://adaptivecards.io/schemas/adaptive-card.json\",\"type\":\"Ada"
                         "ptiveCard\",\"version\":\"1.2\",\"body\":[{\"type\":\"TextBlock\",\"text"
                         "\":\"\",\"wrap\":true}]}}]}");
    for (size_t len = AL_TEAMS_MAX_BYTES - base - 4; len <= AL_TEAMS_MAX_BYTES - base + 4; len++) {
        char *t = malloc(len + 1);
        memset(t, 'a', len);
        t[len] = '\0';
        s = al_fmt_teams_body(t);
        assert_non_null(s);
        assert_true(strlen(s) <= AL_TEAMS_MAX_BYTES);
        assert_int_equal(strstr(s, ELLIPSIS) != NULL, base + len > AL_TEAMS_MAX_BYTES);
        al_free(s);
        free(t);
    }
    free(text);
}

/* ---- PagerDuty ------------------------------------------------------------------ */

static void test_severity_table(void **state)
{
    (void)state;
    static const struct {
        int level, major;
        const char *pagerduty, *alertmanager;
    } cases[] = {
        { ALERT_LEVEL_HIGH, 1, "critical", "critical" }, { ALERT_LEVEL_HIGH, 0, "error", "critical" },
        { ALERT_LEVEL_MEDIUM, 0, "warning", "warning" }, { ALERT_LEVEL_MEDIUM, 1, "warning", "warning" },
        { ALERT_LEVEL_LOW, 0, "info", "info" },          { ALERT_LEVEL_LOW, 1, "info", "info" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        al_alert *a = al_alert_new(AL_T_OUTAGE_ALERTS, cases[i].level, AT_MS);
        a->severity_major = cases[i].major;
        assert_string_equal(al_fmt_severity(a), cases[i].pagerduty);
        assert_string_equal(al_fmt_am_severity(a), cases[i].alertmanager);
        /* and the bodies use them */
        al_fmt_env env = test_env();
        set(&a->plain, "x");
        char *pd = al_fmt_pagerduty_body(&env, a, "k", NULL);
        char *am = al_fmt_alertmanager_body(&env, a);
        char want[64];
        snprintf(want, sizeof want, "\"severity\":\"%s\"", cases[i].pagerduty);
        assert_non_null(strstr(pd, want));
        snprintf(want, sizeof want, "\"severity\":\"%s\"", cases[i].alertmanager);
        assert_non_null(strstr(am, want));
        al_free(pd);
        al_free(am);
        al_alert_free(a);
    }
    assert_string_equal(al_fmt_severity(NULL), "info");
    assert_string_equal(al_fmt_am_severity(NULL), "info");
}

static void test_dedup_key(void **state)
{
    (void)state;
    al_alert *a = outage_alert();
    al_alert *b = outage_alert();
    char *ka = al_pagerduty_dedup_key(a);
    char *kb = al_pagerduty_dedup_key(b);
    assert_non_null(ka);
    assert_true(al_is_sha256_hex(ka));
    /* sha256("outage_alerts\ndeployment azure/gpt-4") */
    assert_string_equal(ka, "30e9fc4438ab5ae5f2b2423c2fb4ba0cc1f6103c9f024584ec2aa49ea22e22aa");
    assert_string_equal(ka, kb);
    /* the text, the time and the episode end do not change it: trigger and resolve pair up */
    set(&b->plain, "Outage over: `azure/gpt-4` answers again");
    b->at_ms += 600000;
    b->resolved = 1;
    al_free(kb);
    kb = al_pagerduty_dedup_key(b);
    assert_string_equal(ka, kb);
    /* another subject or another type is another incident */
    set(&b->subject, "deployment azure/gpt-4o");
    al_free(kb);
    kb = al_pagerduty_dedup_key(b);
    assert_string_not_equal(ka, kb);
    set(&b->subject, "deployment azure/gpt-4");
    b->type = AL_T_REGION_OUTAGE_ALERTS;
    al_free(kb);
    kb = al_pagerduty_dedup_key(b);
    assert_string_not_equal(ka, kb);

    /* without a subject: the first line */
    al_alert *c = make_alert(AL_T_LLM_EXCEPTIONS, ALERT_LEVEL_HIGH, "\n  first line  \nsecond");
    char *kc = al_pagerduty_dedup_key(c);
    char want[65];
    assert_int_equal(al_sha256_hex("llm_exceptions\nfirst line", 25, want), 0);
    assert_string_equal(kc, want);
    set(&c->plain, "first line\nother details");
    al_free(kc);
    kc = al_pagerduty_dedup_key(c);
    assert_string_equal(kc, want);
    al_free(ka);
    al_free(kb);
    al_free(kc);
    al_alert_free(a);
    al_alert_free(b);
    al_alert_free(c);
    assert_null(al_pagerduty_dedup_key(NULL));
}

static void test_pagerduty_golden(void **state)
{
    (void)state;
    al_fmt_env env = test_env();
    al_alert *a = outage_alert();
    char *s = al_fmt_pagerduty_body(&env, a, "R0UT1NGKEY0123456789abcdefabcdef", NULL);
    assert_golden(s, "pagerduty_trigger.json");
    al_free(s);
    a->resolved = 1;
    s = al_fmt_pagerduty_body(&env, a, "R0UT1NGKEY0123456789abcdefabcdef", NULL);
    assert_golden(s, "pagerduty_resolve.json");
    al_free(s);
    al_alert_free(a);
}

static void test_pagerduty_summary(void **state)
{
    (void)state;
    al_fmt_env env = { NULL, 0, 0, NULL, NULL };
    al_alert *a = make_alert(AL_T_LLM_EXCEPTIONS, ALERT_LEVEL_HIGH, "");
    char *s = al_fmt_pagerduty_body(&env, a, "k",
                                    "High LLM API Failure Rate: 12 in the last 60 seconds.");
    json_t *j = json_loads(s, 0, NULL);
    json_t *p = json_object_get(j, "payload");
    assert_string_equal(json_string_value(json_object_get(p, "summary")),
                        "High LLM API Failure Rate: 12 in the last 60 seconds.");
    /* no instance name: a source PagerDuty accepts; unknown labels are left out */
    assert_string_equal(json_string_value(json_object_get(p, "source")), "libalerting");
    json_t *d = json_object_get(p, "custom_details");
    assert_int_equal(json_object_size(d), 1);
    assert_string_equal(json_string_value(json_object_get(d, "text")), "");
    json_decref(j);
    al_free(s);

    /* an empty text: the type names it */
    s = al_fmt_pagerduty_body(&env, a, "k", NULL);
    assert_non_null(strstr(s, "\"summary\":\"llm_exceptions\""));
    al_free(s);

    /* long: summary 1024 characters, details 8 KB */
    char *big = malloc(3 * 7000 + 1);
    for (int i = 0; i < 7000; i++)
        memcpy(big + 3 * i, "a\xC3\xA9", 3); /* "aé": cuts land inside code points */
    big[3 * 7000] = '\0';
    set(&a->plain, big);
    s = al_fmt_pagerduty_body(&env, a, "k", NULL);
    j = json_loads(s, 0, NULL);
    assert_non_null(j);
    p = json_object_get(j, "payload");
    const char *summary = json_string_value(json_object_get(p, "summary"));
    assert_int_equal(al_utf8_count(summary), AL_PAGERDUTY_MAX_SUMMARY);
    const char *text = json_string_value(json_object_get(json_object_get(p, "custom_details"), "text"));
    assert_true(strlen(text) <= AL_FMT_DETAIL_MAX_BYTES);
    assert_true(strlen(text) > AL_FMT_DETAIL_MAX_BYTES - 6);
    assert_string_equal(text + strlen(text) - 3, ELLIPSIS);
    json_decref(j);
    al_free(s);
    free(big);
    al_alert_free(a);
    assert_null(al_fmt_pagerduty_body(&env, NULL, "k", NULL));
    assert_null(al_fmt_pagerduty_body(NULL, a, "k", NULL));
}

/* ---- Alertmanager --------------------------------------------------------------- */

static al_alert *minor_outage_alert(void)
{
    al_alert *a = make_alert(AL_T_REGION_OUTAGE_ALERTS, ALERT_LEVEL_MEDIUM,
                             "Minor outage: provider `azure` in region `eastus`\n"
                             "5 of 40 requests failed in the last 60s\nErrors: `<timeout>` & 429");
    set(&a->subject, "region azure/eastus");
    set(&a->model, "gpt-4");
    set(&a->deployment, "azure/gpt-4");
    set(&a->region, "eastus");
    set(&a->provider, "azure");
    return a;
}

static void test_alertmanager_golden(void **state)
{
    (void)state;
    al_fmt_env env = test_env();
    al_alert *a = minor_outage_alert();
    char *s = al_fmt_alertmanager_body(&env, a);
    assert_golden(s, "alertmanager.json");
    al_free(s);

    /* the episode ends 125 s later: endsAt = now */
    a->resolved = 1;
    env.now_ms = AT_MS + 125000;
    s = al_fmt_alertmanager_body(&env, a);
    assert_golden(s, "alertmanager_resolved.json");
    al_free(s);
    al_alert_free(a);

    /* a budget alert carries its entity */
    a = make_alert(AL_T_BUDGET_ALERTS, ALERT_LEVEL_HIGH,
                   "Team Budget: Budget Crossed\n Total Budget:`100.0`");
    a->entity = ALERT_ENTITY_TEAM;
    env = test_env();
    env.instance = NULL;
    env.proxy_base_url = NULL;
    env.alertmanager_resolve_after_s = 90.5;
    s = al_fmt_alertmanager_body(&env, a);
    assert_golden(s, "alertmanager_budget.json");
    al_free(s);

    /* a clock that went backwards never gives an end before the start */
    a->resolved = 1;
    env.now_ms = AT_MS - 5000;
    s = al_fmt_alertmanager_body(&env, a);
    assert_non_null(strstr(s, "\"endsAt\":\"2024-03-01T12:34:56.789Z\""));
    al_free(s);
    /* a resolve_after of 0 (unset) is the default hour */
    a->resolved = 0;
    env.alertmanager_resolve_after_s = 0;
    s = al_fmt_alertmanager_body(&env, a);
    assert_non_null(strstr(s, "\"endsAt\":\"2024-03-01T13:34:56.789Z\""));
    al_free(s);
    al_alert_free(a);
}

/* ---- E-mail --------------------------------------------------------------------- */

static const char email_text[] =
    "Alert type: `budget_alerts`\nLevel: `High`\nTimestamp: `12:34:56`\n\n"
    "Message: Team Budget: Budget Crossed\n Total Budget:`100.0`\n\n"
    "*spend:* `101.5`\n*team_alias:* `R&D <core>`\n"
    ".a line that starts with a dot stays as it is: libcurl stuffs it\n"
    "A long line of more than seventy-six characters, folded with soft line breaks by QP "
    "encoding = fine\n"
    "trailing blank \n"
    "caf\xC3\xA9 " FIRE "\tend";

static void test_email_golden(void **state)
{
    (void)state;
    al_fmt_env env = test_env();
    env.now_ms = INT64_C(1709296500000); /* Fri, 01 Mar 2024 12:35:00 */
    al_alert *a = make_alert(AL_T_BUDGET_ALERTS, ALERT_LEVEL_HIGH,
                             "Team Budget: Budget Crossed\n Total Budget:`100.0`");
    const char *to[] = { "ops@example.com", "team-lead@example.org" };
    char *m = al_fmt_email(&env, a, email_text, "alerts@example.com", to, 2,
                           "msg_0123456789abcdef0123456789abcdef");
    assert_golden(m, "email.eml");
    al_free(m);

    /* the same seed gives the same message (a retry); another seed another Message-ID */
    m = al_fmt_email(&env, a, email_text, "alerts@example.com", to, 2,
                     "msg_0123456789abcdef0123456789abcdef");
    assert_golden(m, "email.eml");
    al_free(m);
    m = al_fmt_email(&env, a, email_text, "alerts@example.com", to, 2, "msg_other");
    char *want = read_golden("email.eml");
    assert_string_not_equal(m, want);
    free(want);
    al_free(m);
    al_alert_free(a);
}

/* Every header line: no bare CR or LF, and the header ends at the first empty line. */
static void assert_headers_clean(const char *m)
{
    const char *end = strstr(m, "\r\n\r\n");
    assert_non_null(end);
    for (const char *p = m; p < end; p++) {
        if (*p == '\r')
            assert_true(p[1] == '\n');
        if (*p == '\n')
            assert_true(p > m && p[-1] == '\r');
    }
    /* every line break is a fold (continuation) or the start of a known header */
    for (const char *p = strstr(m, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n")) {
        const char *l = p + 2;
        if (l >= end)
            break;
        if (*l == ' ')
            continue;
        static const char *const names[] = { "From: ", "To: ", "Subject: ", "Message-ID: ",
                                             "Auto-Submitted: ", "MIME-Version: ",
                                             "Content-Type: " };
        int known = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            known |= strncmp(l, names[i], strlen(names[i])) == 0;
        if (!known)
            fail_msg("unexpected header line: %.40s", l);
    }
}

static void test_email_header_injection(void **state)
{
    (void)state;
    al_fmt_env env = test_env();
    al_alert *a = make_alert(AL_T_LLM_EXCEPTIONS, ALERT_LEVEL_HIGH,
                             "boom\rBcc: victim@example.com\r\nsecond line");
    const char *to[] = { "ops@example.com\r\nBcc: victim@example.com", "", NULL,
                         "\nX-Evil: 1" };
    char *m = al_fmt_email(&env, a, "body", "alerts@example.com\r\nReply-To: evil@example.com", to,
                           4, "seed");
    assert_non_null(m);
    assert_headers_clean(m);
    assert_null(strstr(m, "\nBcc"));
    assert_null(strstr(m, "\nX-Evil"));
    assert_null(strstr(m, "\nReply-To"));
    assert_non_null(strstr(m, "\r\nTo: ops@example.comBcc: victim@example.com, X-Evil: 1\r\n"));
    assert_non_null(strstr(m, "\r\nSubject: [High] boomBcc: victim@example.com\r\n"));
    assert_non_null(strstr(m, "\r\nFrom: alerts@example.comReply-To: evil@example.com\r\n"));
    assert_non_null(strstr(m, "@example.com>\r\n"));
    al_free(m);
    /* the Message-ID takes the sender's domain only when it is a plain host name */
    m = al_fmt_email(&env, a, "body", "alerts@example.com\r\n.evil", to, 1, "seed");
    assert_headers_clean(m);
    assert_non_null(strstr(m, "\r\nMessage-ID: <"));
    assert_non_null(strstr(m, "@localhost>\r\n"));
    al_free(m);

    /* no recipient: a valid header all the same */
    m = al_fmt_email(&env, a, "body", "Alerts <alerts@example.com>", NULL, 0, "seed");
    assert_non_null(strstr(m, "\r\nTo: undisclosed-recipients:;\r\n"));
    assert_non_null(strstr(m, "@example.com>\r\n"));
    assert_headers_clean(m);
    al_free(m);

    /* many recipients are folded under 78 columns */
    const char *many[12];
    for (int i = 0; i < 12; i++)
        many[i] = "someone.with.a.long.name@example.com";
    m = al_fmt_email(&env, a, "body", "alerts@example.com", many, 12, "seed");
    assert_headers_clean(m);
    const char *hdr_end = strstr(m, "\r\n\r\n");
    for (const char *l = m; l < hdr_end;) {
        const char *e = strstr(l, "\r\n");
        assert_true(e - l <= 78);
        l = e + 2;
    }
    al_free(m);
    assert_null(al_fmt_email(&env, a, "body", NULL, to, 1, "seed"));
    al_alert_free(a);
}

static void test_email_rfc2047_subject(void **state)
{
    (void)state;
    al_fmt_env env = test_env();
    al_alert *a = make_alert(AL_T_BUDGET_ALERTS, ALERT_LEVEL_MEDIUM,
                             "Budget f\xC3\xBCr Team \xE2\x82\xAC \xE2\x80\x94 " FIRE
                             " almost crossed: 95% of the monthly limit is spent\nmore");
    const char *to[] = { "ops@example.com" };
    char *m = al_fmt_email(&env, a, NULL, "alerts@example.com", to, 1, "seed");
    assert_non_null(m);
    assert_headers_clean(m);
    /* "[Medium] Budget für Team € — 🔥 almost crossed: 95% of the monthly limit is spent"
     * in words of at most 42 bytes, never splitting a code point (checked with Python's
     * email.header.decode_header) */
    assert_non_null(strstr(m, "\r\nSubject: =?UTF-8?B?W01lZGl1bV0gQnVkZ2V0IGbDvHIgVGVhbSDigqwg4oCUIPCflKUgYWxt?=\r\n"
                              " =?UTF-8?B?b3N0IGNyb3NzZWQ6IDk1JSBvZiB0aGUgbW9udGhseSBsaW1pdCBpcyBz?=\r\n"
                              " =?UTF-8?B?cGVudA==?=\r\n"));
    /* the text defaults to a->plain */
    assert_non_null(strstr(m, "Budget f=C3=BCr Team"));
    al_free(m);

    /* ASCII that looks like an encoded-word is encoded too */
    set(&a->plain, "=?UTF-8?B?SGk=?= not a word");
    m = al_fmt_email(&env, a, NULL, "alerts@example.com", to, 1, "seed");
    assert_non_null(strstr(m, "\r\nSubject: =?UTF-8?B?"));
    assert_null(strstr(m, "Subject: [Medium] =?"));
    al_free(m);

    /* a long ASCII subject is folded before spaces and unfolds to itself */
    set(&a->plain, "Budget alert for the team  \"platform-inference-eu\": 95% of the monthly "
                   "budget of 10000.0 is spent, projected to exceed on 2024-03-20\ndetails");
    m = al_fmt_email(&env, a, NULL, "alerts@example.com", to, 1, "seed");
    assert_headers_clean(m);
    assert_non_null(strstr(m, "\r\nSubject: [Medium] Budget alert for the team  \"platform-inference-eu\": 95% of\r\n"
                              " the monthly budget of 10000.0 is spent, projected to exceed on 2024-03-20\r\n"
                              "Message-ID: "));
    al_free(m);

    /* a long subject is cut at 200 characters */
    char *big = malloc(1001);
    memset(big, 'a', 1000);
    big[1000] = '\0';
    set(&a->plain, big);
    m = al_fmt_email(&env, a, NULL, "alerts@example.com", to, 1, "seed");
    assert_headers_clean(m);
    assert_null(strstr(m, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"));
    al_free(m);
    free(big);
    al_alert_free(a);
}

/* ---- Standard Webhooks ---------------------------------------------------------- */

static void test_webhook_sign(void **state)
{
    (void)state;
    const char *body = "{\"test\": 2432232314}";
    char sig[AL_WEBHOOK_SIG_SIZE];
    /* the example of the Standard Webhooks specification */
    assert_int_equal(al_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                     strlen(body), sig, sizeof sig),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* the prefix is optional, as in the reference libraries */
    char sig2[64];
    assert_int_equal(al_webhook_sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                     strlen(body), sig2, sizeof sig2),
                     0);
    assert_string_equal(sig2, sig);
    /* the body is taken by length: an embedded NUL is signed, not a terminator */
    assert_int_equal(al_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{\"test\": 2432232314}\0x",
                                     strlen(body) + 2, sig2, sizeof sig2),
                     0);
    assert_string_not_equal(sig2, sig);
    /* id and timestamp are signed */
    assert_int_equal(al_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body,
                                     strlen(body), sig2, sizeof sig2),
                     0);
    assert_string_not_equal(sig2, sig);

    /* bad secrets and buffers */
    static const char *const bad[] = { "whsec_", "whsec_not base64!", "whsec_====", "", "whsec_A" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(sig2, "unchanged");
        assert_int_equal(al_webhook_sign(bad[i], "msg_1", 1, body, strlen(body), sig2, sizeof sig2),
                         -1);
        assert_string_equal(sig2, "");
    }
    assert_int_equal(al_webhook_sign(NULL, "msg_1", 1, body, strlen(body), sig2, sizeof sig2), -1);
    assert_int_equal(al_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NULL, 1, body,
                                     strlen(body), sig2, sizeof sig2),
                     -1);
    assert_int_equal(al_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", 1, body,
                                     strlen(body), sig2, AL_WEBHOOK_SIG_SIZE - 1),
                     -1);
    /* an empty body is fine */
    assert_int_equal(al_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", 1, NULL, 0,
                                     sig2, sizeof sig2),
                     0);
    assert_int_equal(strncmp(sig2, "v1,", 3), 0);
    assert_int_equal(strlen(sig2), 47);
}

/* ---- allocation failure --------------------------------------------------------- */

typedef char *(*build_fn)(void);

static al_alert *fail_alert;
static char *discord_long_input;
static char *teams_long_input;

static char *build_slack(void) { return al_fmt_slack_body(envelope); }
static char *build_discord(void) { return al_fmt_discord_body(discord_long_input); }
static char *build_discord_url(void) { return al_discord_url("https://discord.com/api/webhooks/1/t?x=1"); }
static char *build_teams(void) { return al_fmt_teams_body(envelope); }
static char *build_teams_long(void) { return al_fmt_teams_body(teams_long_input); }
static char *build_dedup(void) { return al_pagerduty_dedup_key(fail_alert); }
static char *build_pd(void)
{
    al_fmt_env env = test_env();
    return al_fmt_pagerduty_body(&env, fail_alert, "R0UT1NGKEY0123456789abcdefabcdef", NULL);
}
static char *build_am(void)
{
    al_fmt_env env = test_env();
    return al_fmt_alertmanager_body(&env, fail_alert);
}
static char *build_email(void)
{
    al_fmt_env env = test_env();
    const char *to[] = { "ops@example.com", "team-lead@example.org" };
    return al_fmt_email(&env, fail_alert, email_text, "alerts@example.com", to, 2, "seed");
}
static char *build_sig(void)
{
    char sig[AL_WEBHOOK_SIG_SIZE];
    const char *body = "{\"test\": 2432232314}";
    if (al_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                        1614265330, body, strlen(body), sig, sizeof sig) != 0)
        return NULL;
    return al_strdup(sig);
}

static void test_alloc_failure(void **state)
{
    (void)state;
    fail_alert = outage_alert();
    al_free(fail_alert->subject);
    fail_alert->subject = NULL; /* the first-line path of the dedup key */
    discord_long_input = discord_long_text();
    teams_long_input = teams_long_text();
    static const struct {
        const char *name;
        build_fn fn;
    } fns[] = {
        { "slack", build_slack }, { "discord", build_discord }, { "discord_url", build_discord_url },
        { "teams", build_teams }, { "teams_long", build_teams_long }, { "dedup", build_dedup },
        { "pagerduty", build_pd }, { "alertmanager", build_am }, { "email", build_email },
        { "sign", build_sig },
    };
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        char *want = fns[f].fn();
        assert_non_null(want);
        int ok_seen = 0;
        /* 0..30 at least, then on until an injected failure no longer hits anything */
        for (long n = 0; n <= 30 || !ok_seen; n++) {
            assert_true(n < 10000);
            al_alloc_fail_after(n);
            char *got = fns[f].fn();
            al_alloc_fail_after(-1);
            if (got) {
                /* a result under failure is the whole result, never a partial one */
                if (strcmp(got, want) != 0)
                    fail_msg("%s: allocation %ld failing gave a different result", fns[f].name, n);
                ok_seen = 1;
            }
            al_free(got);
        }
        al_free(want);
    }
    al_alert_free(fail_alert);
    free(discord_long_input);
    free(teams_long_input);
}


/* ---- no forged links or mentions (issue 9, item 3) --------------------------------- */

#define ZWSP "\xE2\x80\x8B"
#define HOSTILE "boom @everyone @here <@123> <@&456> [click](https://evil.example) " \
                "<https://evil.example|login> <!here> a < b"

/* The string value at key of body's JSON (caller frees). */
static char *json_field(const char *body, const char *key)
{
    json_t *j = json_loads(body, 0, NULL);
    assert_non_null(j);
    const char *v = json_string_value(json_object_get(j, key));
    assert_non_null(v);
    char *out = strdup(v);
    assert_non_null(out);
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "allowed_mentions"), "parse")), 0);
    assert_non_null(json_object_get(j, "allowed_mentions"));
    json_decref(j);
    return out;
}

static void expect_no_discord_markup(const char *c)
{
    static const char *const forged[] = { "@everyone", "@here", "<@", "](", "<http", "<!" };
    for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++)
        if (strstr(c, forged[i]))
            fail_msg("'%s' survived in: %s", forged[i], c);
    /* the reader still sees what was written */
    assert_non_null(strstr(c, "@" ZWSP "everyone"));
    assert_non_null(strstr(c, "<" ZWSP "@&456>"));
    assert_non_null(strstr(c, "[click]" ZWSP "(https://evil.example)"));
    assert_non_null(strstr(c, "a < b"));
}

static void test_discord_mention_guard(void **state)
{
    (void)state;
    char *s = al_fmt_discord_body(HOSTILE);
    assert_non_null(s);
    char *c = json_field(s, "content");
    expect_no_discord_markup(c);
    free(c);
    al_free(s);
    /* a Discord URL ending in /slack: the Slack payload, the same guards */
    s = al_fmt_discord_slack_body(HOSTILE);
    assert_non_null(s);
    c = json_field(s, "text");
    expect_no_discord_markup(c);
    free(c);
    al_free(s);
}

static void test_teams_no_markdown_links(void **state)
{
    (void)state;
    char *s = al_fmt_teams_body("see [click here](https://evil.example) and [x] (y) ok");
    assert_non_null(s);
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    json_t *block = json_array_get(json_object_get(json_object_get(
        json_array_get(json_object_get(j, "attachments"), 0), "content"), "body"), 0);
    const char *text = json_string_value(json_object_get(block, "text"));
    assert_non_null(text);
    assert_null(strstr(text, "]("));
    assert_string_equal(text, "see [click here]" ZWSP "(https://evil.example) and [x] (y) ok");
    json_decref(j);
    al_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slack_golden),
        cmocka_unit_test(test_slack_limit),
        cmocka_unit_test(test_discord_golden),
        cmocka_unit_test(test_discord_long_golden),
        cmocka_unit_test(test_discord_url),
        cmocka_unit_test(test_teams_golden),
        cmocka_unit_test(test_discord_mention_guard),
        cmocka_unit_test(test_teams_no_markdown_links),
        cmocka_unit_test(test_teams_long_golden),
        cmocka_unit_test(test_severity_table),
        cmocka_unit_test(test_dedup_key),
        cmocka_unit_test(test_pagerduty_golden),
        cmocka_unit_test(test_pagerduty_summary),
        cmocka_unit_test(test_alertmanager_golden),
        cmocka_unit_test(test_email_golden),
        cmocka_unit_test(test_email_header_injection),
        cmocka_unit_test(test_email_rfc2047_subject),
        cmocka_unit_test(test_webhook_sign),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
