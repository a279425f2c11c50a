/* SPDX-License-Identifier: MIT */
/* The ABI promise, checked: status codes and struct layouts are fixed forever on
 * this platform (LP64); a field may only be appended. A change here is an ABI break. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "alerting.h"

#define AT(type, field, off) _Static_assert(offsetof(type, field) == (off), #type "." #field)

AT(alert_error, code, 4);
AT(alert_error, source, 16);
AT(alert_error, text, 144);
AT(alert_error, reserved, 400);
_Static_assert(sizeof(alert_error) == 464, "alert_error");
AT(alert_request, call_id, 8);
AT(alert_request, messages, 112);
AT(alert_request, alerting_metadata_json, 120);
AT(alert_request, stream, 128);
AT(alert_request, start_ms, 136);
_Static_assert(sizeof(alert_request) == 144, "alert_request");
AT(alert_response, deployment, 8);
AT(alert_response, prompt_tokens, 48);
AT(alert_response, cost, 64);
AT(alert_response, end_ms, 72);
AT(alert_failure, status_code, 4);
AT(alert_failure, error_class, 8);
AT(alert_failure, user_error, 64);
AT(alert_failure, end_ms, 72);
AT(alert_failure, alerting_metadata_json, 112);
AT(alert_spend, cost, 8);
AT(alert_spend, tags, 96);
AT(alert_spend, tag_count, 104);
AT(alert_spend, at_ms, 112);
AT(alert_budget, entity, 4);
AT(alert_budget, spend, 16);
AT(alert_budget, budget_reset_at_ms, 40);
AT(alert_budget, alert_emails, 112);
AT(alert_budget, alert_email_count, 120);
AT(alert_delivery, body_len, 56);
AT(alert_delivery, attempt, 80);
AT(alert_transport, send, 8);
AT(alert_stats, requests_started, 8);
AT(alert_stats, destinations_dead, 112);
AT(alert_stats, fleet_connected, 120);
AT(alert_stats, fleet_round_longest_us, 176);
_Static_assert(sizeof(alert_stats) == 184, "alert_stats");

static void codes_are_fixed(void **state)
{
    (void)state;
    const int codes[] = { ALERT_OK, ALERT_ERR_NOMEM, ALERT_ERR_INVALID, ALERT_ERR_VERSION,
                          ALERT_ERR_CONFIG, ALERT_ERR_IO, ALERT_ERR_TRANSPORT, ALERT_ERR_NOT_FOUND,
                          ALERT_ERR_FULL, ALERT_ERR_TIMEOUT, ALERT_ERR_STATE, ALERT_ERR_UNSUPPORTED,
                          ALERT_ERR_CALLBACK };
    for (int i = 0; i < (int)(sizeof codes / sizeof *codes); i++)
        assert_int_equal(codes[i], -i);
    assert_int_equal(ALERT_LEVEL_LOW, 1);
    assert_int_equal(ALERT_LEVEL_HIGH, 3);
    assert_int_equal(ALERT_ENTITY_KEY, 1);
    assert_int_equal(ALERT_ENTITY_PROXY, 8);
    assert_int_equal(ALERT_VERSION_NUM, (ALERT_VERSION_MAJOR << 16) | (ALERT_VERSION_MINOR << 8) |
                                            ALERT_VERSION_PATCH);
}

/* The defaults of the INIT macros and the init functions agree (padding aside). */
static void init_macros_match_init_functions(void **state)
{
    (void)state;
    alert_request a = ALERT_REQUEST_INIT, b;
    assert_int_equal(alert_request_init(&b, ALERT_REQUEST_VERSION), ALERT_OK);
    assert_int_equal(a.version, b.version);
    assert_true(!b.model && !b.messages && b.start_ms == 0 && b.stream == 0);
    alert_response ra = ALERT_RESPONSE_INIT, rb;
    assert_int_equal(alert_response_init(&rb, ALERT_RESPONSE_VERSION), ALERT_OK);
    assert_int_equal(ra.version, rb.version);
    assert_true(rb.prompt_tokens == -1 && rb.completion_tokens == -1 && rb.cost < 0 && rb.end_ms == 0);
    assert_true(ra.prompt_tokens == -1 && ra.completion_tokens == -1 && ra.cost < 0);
    alert_budget ba = ALERT_BUDGET_INIT, bb;
    assert_int_equal(alert_budget_init(&bb, ALERT_BUDGET_VERSION), ALERT_OK);
    assert_int_equal(ba.version, bb.version);
    assert_true(bb.max_budget < 0 && bb.soft_budget < 0 && ba.max_budget < 0 && ba.soft_budget < 0);
    alert_stats sb;
    assert_int_equal(alert_stats_init(&sb, ALERT_STATS_VERSION), ALERT_OK);
    assert_int_equal(sb.version, ALERT_STATS_VERSION);
    assert_true(sb.requests_started == 0 && sb.destinations_dead == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(codes_are_fixed),
        cmocka_unit_test(init_macros_match_init_functions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
