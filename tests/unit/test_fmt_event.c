/* SPDX-License-Identifier: MIT */
/* The generic event JSON (fmt_text.c) of webhooks and custom transports: written by
 * hand, byte for byte what the jansson tree it replaced dumped (the reference below is
 * that code), without jansson, and once per alert however many destinations get it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <jansson.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "alert.h"
#include "alloc.h"
#include "calendar.h"
#include "fmt.h"

/* ---- calls into jansson, counted: the library's objects are linked into this binary,
 * so these definitions are the ones they call ---------------------------------------- */
static int jansson_dumps, jansson_loads_of_metadata;
static const char *watched_metadata;

char *json_dumps(const json_t *json, size_t flags)
{
    static char *(*real)(const json_t *, size_t);
    if (!real)
        real = (char *(*)(const json_t *, size_t))dlsym(RTLD_NEXT, "json_dumps");
    jansson_dumps++;
    return real(json, flags);
}

json_t *json_loads(const char *input, size_t flags, json_error_t *error)
{
    static json_t *(*real)(const char *, size_t, json_error_t *);
    if (!real)
        real = (json_t * (*)(const char *, size_t, json_error_t *)) dlsym(RTLD_NEXT, "json_loads");
    if (watched_metadata && flags == 0 && strcmp(input, watched_metadata) == 0)
        jansson_loads_of_metadata++;
    return real(input, flags, error);
}

/* ---- the reference: the jansson tree of the previous al_fmt_event_json ------------ */
static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static char *reference_event_json(const al_fmt_env *env, const al_alert *a)
{
    char ts[32];
    al_utc_iso8601(ts, a->at_ms);
    json_t *meta = NULL;
    if (a->metadata_json) {
        json_error_t jerr;
        meta = json_loads(a->metadata_json, 0, &jerr);
    }
    json_t *data = json_object();
    json_t *root = json_object();
    json_object_set_new(data, "model", str_or_null(a->model));
    json_object_set_new(data, "deployment", str_or_null(a->deployment));
    json_object_set_new(data, "api_base", str_or_null(a->api_base));
    json_object_set_new(data, "provider", str_or_null(a->provider));
    json_object_set_new(data, "region", str_or_null(a->region));
    json_object_set_new(data, "call_id", str_or_null(a->call_id));
    json_object_set_new(data, "duration_s", a->duration_s >= 0 ? json_real(a->duration_s) : json_null());
    json_object_set_new(data, "status_code", a->status_code ? json_integer(a->status_code) : json_null());
    json_object_set_new(root, "event", json_string(al_types[a->type].name));
    json_object_set_new(root, "event_group", json_string("proxy"));
    json_object_set_new(root, "event_message", str_or_null(a->plain ? a->plain : a->message));
    json_object_set_new(root, "level", json_string(al_level_name(a->level)));
    json_object_set_new(root, "timestamp", json_string(ts));
    json_object_set_new(root, "instance", json_string(env->instance));
    json_object_set_new(root, "alerting_metadata", meta ? meta : json_null());
    json_object_set_new(root, "data", data);
    char *d = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return d;
}

static void assert_same_as_reference(const al_fmt_env *env, const al_alert *a)
{
    char *want = reference_event_json(env, a);
    char *got = al_fmt_event_json(env, a);
    assert_non_null(want);
    assert_non_null(got);
    if (strcmp(want, got) != 0)
        fail_msg("event JSON differs\n want: %s\n  got: %s", want, got);
    size_t len = 0;
    char *with = al_fmt_event_json_with(env, a, "trailer", &len);
    assert_non_null(with);
    assert_int_equal(len, strlen(got));
    assert_string_equal(with, got);
    assert_string_equal(with + len + 1, "trailer");
    al_free(with);
    al_free(got);
    free(want);
}

static al_alert *sample_alert(void)
{
    al_alert *a = al_alert_new(AL_T_LLM_REQUESTS_HANGING, ALERT_LEVEL_MEDIUM, 1767225600123LL);
    a->message = al_strdup("`Requests are hanging - 300s+ request time`\nRequest Model: `gpt-4o`");
    a->plain = al_strdup(a->message);
    a->model = al_strdup("gpt-4o");
    a->deployment = al_strdup("azure/gpt-4o-eastus");
    a->api_base = al_strdup("https://eastus.api.cognitive.example.com");
    a->provider = al_strdup("azure");
    a->region = al_strdup("eastus");
    a->call_id = al_strdup("req-1");
    a->duration_s = 300.5;
    return a;
}

static void replace(char **field, const char *v)
{
    al_free(*field);
    *field = v ? al_strdup(v) : NULL;
}

/* Strings jansson treats apart: escapes, control characters (\u001F in upper case),
 * DEL and non-ASCII as they are, and invalid UTF-8 (the member left out). */
static const char *const tricky[] = {
    "", "plain", "quote \" and backslash \\ and slash /", "tab\tnl\ncr\rbs\bff\f",
    "\x01\x02\x1F\x7F end", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xE2\x80\xA8",
    "bad \xC3 byte", "overlong \xC0\xAF", "surrogate \xED\xA0\x80", "too big \xF4\x90\x80\x80",
    "stray \x80", "cut at the end \xE2\x82", "a string of exactly 16 b",
    "\\\\\\\\\\\\\\\\\"\"\"\"\"\"\"\"", "`code` <b>&amp;</b> *bold*",
};

static void test_tricky_strings_in_every_member(void **state)
{
    (void)state;
    al_fmt_env env = { "proxy-1", 0, 0, NULL, NULL };
    size_t n = sizeof tricky / sizeof *tricky;
    for (size_t i = 0; i < n; i++) {
        al_alert *a = sample_alert();
        replace(&a->plain, tricky[i]);
        assert_same_as_reference(&env, a);
        replace(&a->plain, NULL);
        replace(&a->message, tricky[(i + 1) % n]);
        assert_same_as_reference(&env, a);
        replace(&a->model, tricky[i]);
        replace(&a->deployment, tricky[(i + 2) % n]);
        replace(&a->api_base, tricky[(i + 3) % n]);
        replace(&a->provider, tricky[(i + 4) % n]);
        replace(&a->region, tricky[(i + 5) % n]);
        replace(&a->call_id, tricky[(i + 6) % n]);
        assert_same_as_reference(&env, a);
        env.instance = tricky[i];
        assert_same_as_reference(&env, a);
        env.instance = "proxy-1";
        al_alert_free(a);
    }
    al_alert *a = sample_alert();
    replace(&a->message, NULL);         /* no text at all: null */
    replace(&a->model, NULL);
    replace(&a->call_id, NULL);
    assert_same_as_reference(&env, a);
    al_alert_free(a);
}

static void test_numbers_and_times(void **state)
{
    (void)state;
    al_fmt_env env = { "proxy-1", 0, 0, NULL, NULL };
    static const double durations[] = {
        -1, 0, -0.0, 0.1, 1.0, 300.5, 300.123456789, 1e16, 1e21, 1e22, 123456789012345678.0,
        1e-5, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1.0 / 3.0, NAN, INFINITY,
    };
    static const int statuses[] = { 0, 200, 429, -1, 2147483647, -2147483647 - 1 };
    static const int64_t times[] = { 0, 1767225600000LL, 1767225600999LL, 951782400001LL,
                                     253402300799999LL, -1, -86400001LL };
    al_alert *a = sample_alert();
    for (size_t i = 0; i < sizeof durations / sizeof *durations; i++)
        for (size_t k = 0; k < sizeof statuses / sizeof *statuses; k++) {
            a->duration_s = durations[i];
            a->status_code = statuses[k];
            assert_same_as_reference(&env, a);
        }
    for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
        a->at_ms = times[i];
        assert_same_as_reference(&env, a);
    }
    /* every alert type and level */
    for (int t = 0; t < AL_T__COUNT; t++)
        for (int l = 0; l <= ALERT_LEVEL_HIGH + 1; l++) {
            a->type = (al_type)t;
            a->level = l;
            assert_same_as_reference(&env, a);
        }
    /* a locale whose decimal point is a comma (when the machine has one) */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        a->duration_s = 300.25;
        assert_same_as_reference(&env, a);
        setlocale(LC_NUMERIC, "C");
    }
    al_alert_free(a);
}

static void test_metadata(void **state)
{
    (void)state;
    al_fmt_env env = { "proxy-1", 0, 0, NULL, NULL };
    static const char *const metadata[] = {
        "{\"team\":\"search\",\"n\":3,\"r\":0.5,\"ok\":true,\"none\":null,\"l\":[1,\"a\\u0001\"]}",
        "{\"nested\":{\"deep\":{\"x\":\"caf\xC3\xA9\"}},\"big\":1e300,\"z\":-0.0}",
        "{}", "not json", "[1,2]",
    };
    for (size_t i = 0; i < sizeof metadata / sizeof *metadata; i++) {
        al_alert *a = sample_alert();
        a->metadata_json = al_strdup(metadata[i]);
        assert_same_as_reference(&env, a);
        al_alert_free(a);
        /* and as al_alert_set_metadata leaves it */
        a = sample_alert();
        if (al_alert_set_metadata(a, metadata[i], 1) == ALERT_OK)
            assert_same_as_reference(&env, a);
        al_alert_free(a);
    }
}

/* Random labels and texts from an alphabet of the bytes that matter. */
static void test_random_alerts(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1F", "\x7F", "\xC3\xA9",
        "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xC3", "\x80", "\xED\xA0\x80", "`", "<", "&",
        "abcdefgh", "0123456789abcdef",
    };
    const size_t np = sizeof pieces / sizeof *pieces;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    al_fmt_env env = { "proxy-1", 0, 0, NULL, NULL };
    for (int round = 0; round < 3000; round++) {
        char s[7][256];
        for (int f = 0; f < 7; f++) {
            size_t len = 0;
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            int pieces_n = (int)(rng % 24);
            s[f][0] = '\0';
            for (int k = 0; k < pieces_n; k++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                const char *p = pieces[rng % np];
                size_t pl = strlen(p);
                if (len + pl >= sizeof s[f])
                    break;
                memcpy(s[f] + len, p, pl + 1);
                len += pl;
            }
        }
        al_alert *a = sample_alert();
        replace(&a->plain, s[0]);
        replace(&a->model, s[1]);
        replace(&a->deployment, s[2]);
        replace(&a->api_base, s[3]);
        replace(&a->provider, s[4]);
        replace(&a->region, s[5]);
        replace(&a->call_id, s[6]);
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        a->duration_s = (double)(rng % 1000000) / 997.0;
        assert_same_as_reference(&env, a);
        al_alert_free(a);
    }
}

/* Without metadata, the event JSON does not go through jansson at all (the tree, its
 * dump and its frees were most of a worker tick with a thousand alerts). */
static void test_written_without_jansson(void **state)
{
    (void)state;
    al_fmt_env env = { "proxy-1", 0, 0, NULL, NULL };
    al_alert *a = sample_alert();
    jansson_dumps = 0;
    char *j = al_fmt_event_json(&env, a);
    assert_non_null(j);
    assert_int_equal(jansson_dumps, 0);
    al_free(j);
    al_alert_free(a);
}

/* ---- through a ctx: three custom transports get the same bytes, built once -------- */
typedef struct seen {
    int n;
    char body[3][4096];
} seen;

static int record(const alert_delivery *d, void *ud)
{
    seen *s = ud;
    if (s->n < 3)
        snprintf(s->body[s->n], sizeof s->body[0], "%.*s", (int)d->body_len, d->body);
    s->n++;
    return ALERT_OK;
}

static int64_t clock_now = 1767225600000LL;
static int64_t test_clock(void *ud)
{
    (void)ud;
    return clock_now;
}

static void test_built_once_per_alert(void **state)
{
    (void)state;
    seen s;
    memset(&s, 0, sizeof s);
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    alert_transport t = ALERT_TRANSPORT_INIT;
    t.send = record;
    assert_int_equal(alert_config_add_transport(cfg, "one", &t, &s), ALERT_OK);
    assert_int_equal(alert_config_add_transport(cfg, "two", &t, &s), ALERT_OK);
    assert_int_equal(alert_config_add_transport(cfg, "three", &t, &s), ALERT_OK);
    const char *yaml = "alerting: [one, two, three]\ninstance_name: proxy-1\n"
                       "alerting_args: {worker_threads: 0, shutdown_timeout: 0.1}\n";
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), &err), ALERT_OK);
    alert_config_set_clock(cfg, test_clock, NULL);
    alert_ctx *ctx;
    assert_int_equal(alert_ctx_create(&ctx, cfg, &err), ALERT_OK);
    alert_config_free(cfg);

    const char *meta = "{\"team\":\"search\",\"n\":3}";
    watched_metadata = meta;        /* al_alert_set_metadata dumps it back the same */
    jansson_loads_of_metadata = 0;
    assert_int_equal(alert_emit(ctx, "db_exceptions", ALERT_LEVEL_HIGH, "db \"down\"\n", meta), ALERT_OK);
    alert_flush(ctx, 1000);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.body[0], s.body[1]);
    assert_string_equal(s.body[0], s.body[2]);
    assert_non_null(strstr(s.body[0], "\"event\":\"db_exceptions\""));
    assert_non_null(strstr(s.body[0], "\"alerting_metadata\":{\"team\":\"search\",\"n\":3}"));
    assert_non_null(strstr(s.body[0], "\"instance\":\"proxy-1\""));
    /* the metadata was read back for the event JSON once, not once per transport */
    assert_int_equal(jansson_loads_of_metadata, 1);
    watched_metadata = NULL;
    alert_ctx_destroy(ctx);
}

/* The event JSON kept on the alert carries the instance name: a delivery that starts
 * after alert_ctx_reconfigure changed it gets the new one, as before the JSON was kept. */
static alert_config *two_transports(seen *s, const char *instance)
{
    alert_config *cfg;
    assert_int_equal(alert_config_new(&cfg), ALERT_OK);
    alert_transport t = ALERT_TRANSPORT_INIT;
    t.send = record;
    assert_int_equal(alert_config_add_transport(cfg, "one", &t, s), ALERT_OK);
    assert_int_equal(alert_config_add_transport(cfg, "two", &t, s), ALERT_OK);
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "alerting: [one, two]\ninstance_name: %s\n"
             "alerting_args: {worker_threads: 0, shutdown_timeout: 0.1, flush_interval: 1,\n"
             "    rate_limits: {two: \"1/min\"}}\n", instance);
    alert_error err = ALERT_ERROR_INIT;
    assert_int_equal(alert_config_load_string(cfg, yaml, strlen(yaml), &err), ALERT_OK);
    alert_config_set_clock(cfg, test_clock, NULL);
    return cfg;
}

static void test_instance_renamed_between_deliveries(void **state)
{
    (void)state;
    seen s;
    memset(&s, 0, sizeof s);
    clock_now = 1767225600000LL;
    alert_config *cfg = two_transports(&s, "proxy-1");
    alert_error err = ALERT_ERROR_INIT;
    alert_ctx *ctx;
    assert_int_equal(alert_ctx_create(&ctx, cfg, &err), ALERT_OK);
    alert_config_free(cfg);
    /* the first alert takes "two"'s only token; the second waits for the next one */
    assert_int_equal(alert_emit(ctx, "db_exceptions", ALERT_LEVEL_HIGH, "first", NULL), ALERT_OK);
    clock_now += 2000;
    alert_poll(ctx, 0);
    assert_int_equal(alert_emit(ctx, "db_exceptions", ALERT_LEVEL_HIGH, "second", NULL), ALERT_OK);
    clock_now += 2000;
    alert_poll(ctx, 0);
    assert_int_equal(s.n, 3);       /* first to both, second to "one" only */
    assert_non_null(strstr(s.body[2], "\"event_message\":\"second\""));
    assert_non_null(strstr(s.body[2], "\"instance\":\"proxy-1\""));

    cfg = two_transports(&s, "proxy-2");
    assert_int_equal(alert_ctx_reconfigure(ctx, cfg, &err), ALERT_OK);
    alert_config_free(cfg);
    s.n = 0;
    clock_now += 61000;
    for (int i = 0; i < 5 && s.n == 0; i++)
        alert_poll(ctx, 0);
    assert_int_equal(s.n, 1);
    assert_non_null(strstr(s.body[0], "\"event_message\":\"second\""));
    assert_non_null(strstr(s.body[0], "\"instance\":\"proxy-2\""));
    alert_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tricky_strings_in_every_member),
        cmocka_unit_test(test_numbers_and_times),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_random_alerts),
        cmocka_unit_test(test_written_without_jansson),
        cmocka_unit_test(test_built_once_per_alert),
        cmocka_unit_test(test_instance_renamed_between_deliveries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
