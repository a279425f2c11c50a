/* SPDX-License-Identifier: MIT */
/* Every HTTP status 100-599 mapped to success, retry, rate limit, give-up or dead,
 * per destination kind (as Alertmanager tests its notifiers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "dest.h"
#include "outbox.h"        /* al_url_display */

static al_outcome expected(al_dest_kind k, long s, const char *body)
{
    if (s == 429)
        return AL_OUT_RATE_LIMITED;
    if (s == 408 || (s >= 500 && s <= 599))
        return AL_OUT_RETRY;
    int dead_kind = k == AL_DEST_SLACK || k == AL_DEST_DISCORD || k == AL_DEST_WEBHOOK ||
                    k == AL_DEST_MS_TEAMS;
    if (dead_kind && (s == 404 || s == 410))
        return AL_OUT_DEAD;
    switch (k) {
    case AL_DEST_SLACK: return (s == 200 && strcmp(body, "ok") == 0) ? AL_OUT_OK : AL_OUT_GIVE_UP;
    case AL_DEST_DISCORD: return (s == 200 || s == 204) ? AL_OUT_OK : AL_OUT_GIVE_UP;
    case AL_DEST_MS_TEAMS: return (s == 200 || s == 202) ? AL_OUT_OK : AL_OUT_GIVE_UP;
    case AL_DEST_PAGERDUTY: return s == 202 ? AL_OUT_OK : AL_OUT_GIVE_UP;
    case AL_DEST_ALERTMANAGER: return s == 200 ? AL_OUT_OK : AL_OUT_GIVE_UP;
    default: return (s >= 200 && s <= 299) ? AL_OUT_OK : AL_OUT_GIVE_UP;
    }
}

static void every_status_every_kind(void **state)
{
    (void)state;
    const char *bodies[] = { "ok", "", "{\"ok\":false}" };
    for (int k = 0; k < AL_DEST__COUNT; k++)
        for (long s = 100; s <= 599; s++)
            for (size_t b = 0; b < 3; b++) {
                al_outcome got = al_classify_http((al_dest_kind)k, s, bodies[b], strlen(bodies[b]));
                if (got != expected((al_dest_kind)k, s, bodies[b]))
                    fail_msg("%s status %ld body '%s': got %d", al_dest_name((al_dest_kind)k), s,
                             bodies[b], got);
            }
}

static void fixed_points(void **state)
{
    (void)state;
    /* the facts the table above encodes, spelled out */
    assert_int_equal(al_classify_http(AL_DEST_SLACK, 200, "ok\n", 3), AL_OUT_OK);
    assert_int_equal(al_classify_http(AL_DEST_SLACK, 200, "{\"ok\":false}", 12), AL_OUT_GIVE_UP);
    assert_int_equal(al_classify_http(AL_DEST_SLACK, 301, "", 0), AL_OUT_GIVE_UP);
    assert_int_equal(al_classify_http(AL_DEST_SLACK, 100, "", 0), AL_OUT_GIVE_UP);
    assert_int_equal(al_classify_http(AL_DEST_SLACK, 400, "invalid_payload", 15), AL_OUT_GIVE_UP);
    assert_int_equal(al_classify_http(AL_DEST_SLACK, 410, "channel_is_archived", 19), AL_OUT_DEAD);
    assert_int_equal(al_classify_http(AL_DEST_PAGERDUTY, 404, "", 0), AL_OUT_GIVE_UP);
    assert_int_equal(al_classify_http(AL_DEST_MS_TEAMS, 202, "", 0), AL_OUT_OK);
    assert_int_equal(al_classify_http(AL_DEST_DISCORD, 204, "", 0), AL_OUT_OK);
    assert_int_equal(al_classify_http(AL_DEST_WEBHOOK, 299, "", 0), AL_OUT_OK);
    assert_int_equal(al_classify_http(AL_DEST_WEBHOOK, 408, "", 0), AL_OUT_RETRY);
}

static void urls_show_scheme_and_host_only(void **state)
{
    (void)state;
    char out[128];
    al_url_display("https://hooks.slack.com/services/T0/B0/XYZsecret", out, sizeof out);
    assert_string_equal(out, "https://hooks.slack.com");
    al_url_display("http://user:pass@127.0.0.1:8080/x?token=1", out, sizeof out);
    assert_string_equal(out, "http://127.0.0.1:8080");
    al_url_display("not a url", out, sizeof out);
    assert_string_equal(out, "(invalid URL)");
    assert_int_equal(al_dest_from_name("slack"), AL_DEST_SLACK);
    assert_int_equal(al_dest_from_name("custom"), -1);
    assert_int_equal(al_dest_from_name("sentry"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_status_every_kind),
        cmocka_unit_test(fixed_points),
        cmocka_unit_test(urls_show_scheme_and_host_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
