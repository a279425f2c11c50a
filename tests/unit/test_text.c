/* SPDX-License-Identifier: MIT */
/* Text helpers (text.c): UTF-8 repair and cutting, Slack escaping, Python floats. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "text.h"

#define FFFD "\xEF\xBF\xBD"

typedef struct repair_case {
    const char *name;
    const char *in;
    size_t in_len;
    const char *want;
} repair_case;

#define BYTES(s) s, sizeof(s) - 1

/* One U+FFFD per maximal ill-formed subpart (what Python's "replace" prints). */
static const repair_case repair_cases[] = {
    { "ascii", BYTES("hello"), "hello" },
    { "empty", BYTES(""), "" },
    { "valid 2/3/4-byte", BYTES("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80" },
    { "edges of the ranges", BYTES("\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80"
                                   "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"),
      "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF" },
    { "lone continuation", BYTES("a\x80z"), "a" FFFD "z" },
    { "two continuations", BYTES("\xBF\x80"), FFFD FFFD },
    { "truncated 2-byte at end", BYTES("a\xC3"), "a" FFFD },
    { "truncated 2-byte mid", BYTES("\xC3z"), FFFD "z" },
    { "truncated 3-byte", BYTES("\xE2\x82z"), FFFD "z" },
    { "truncated 3-byte at end", BYTES("\xE2\x82"), FFFD },
    { "truncated 4-byte", BYTES("\xF0\x9F\x98z"), FFFD "z" },
    { "truncated 4-byte at end", BYTES("\xF0\x9F"), FFFD },
    { "overlong C0 80", BYTES("\xC0\x80"), FFFD FFFD },
    { "overlong C1 BF", BYTES("\xC1\xBF"), FFFD FFFD },
    { "overlong E0 80 80", BYTES("\xE0\x80\x80"), FFFD FFFD FFFD },
    { "overlong F0 8F BF BF", BYTES("\xF0\x8F\xBF\xBF"), FFFD FFFD FFFD FFFD },
    { "surrogate ED A0 80", BYTES("\xED\xA0\x80"), FFFD FFFD FFFD },
    { "surrogate ED BF BF", BYTES("\xED\xBF\xBF"), FFFD FFFD FFFD },
    { "above U+10FFFF F4 90 80 80", BYTES("\xF4\x90\x80\x80"), FFFD FFFD FFFD FFFD },
    { "F5 lead", BYTES("\xF5\x80\x80\x80"), FFFD FFFD FFFD FFFD },
    { "FF", BYTES("a\xFFz"), "a" FFFD "z" },
    { "FE", BYTES("\xFE"), FFFD },
    { "NUL dropped", BYTES("a\0b\0\0c"), "abc" },
    { "NUL after bad lead", BYTES("\xC3\0z"), FFFD "z" },
    { "mixed", BYTES("ok\xE2\x82\xAC\x80\xF0\x9F\x98\x80\xC3"),
      "ok\xE2\x82\xAC" FFFD "\xF0\x9F\x98\x80" FFFD },
};

static void test_repair_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof repair_cases / sizeof repair_cases[0]; i++) {
        const repair_case *c = &repair_cases[i];
        char *got = al_utf8_repair(c->in, c->in_len);
        assert_non_null(got);
        if (strcmp(got, c->want) != 0)
            print_error("case \"%s\"\n", c->name);
        assert_string_equal(got, c->want);
        al_free(got);
    }
}

static void test_repair_respects_len(void **state)
{
    (void)state;
    /* The length bounds the read: the cut euro sign is repaired, not completed. */
    char *got = al_utf8_repair("\xE2\x82\xAC", 2);
    assert_string_equal(got, FFFD);
    al_free(got);
}

static void test_repair_large_input(void **state)
{
    (void)state;
    const size_t len = 10 * 1024 * 1024;
    char *big = al_malloc(len);
    assert_non_null(big);
    for (size_t i = 0; i < len; i++)
        big[i] = (char)('a' + i % 26);
    memcpy(big + len / 2, "\xE2\x82\xAC", 3);
    big[len - 1] = (char)0xC3;

    char *got = al_utf8_repair(big, len);
    assert_non_null(got);
    assert_int_equal(strlen(got), len + 2);
    assert_memory_equal(got + len / 2, "\xE2\x82\xAC", 3);
    assert_string_equal(got + len - 1, FFFD);
    assert_int_equal(al_utf8_count(got), len - 2);

    char *cut = al_utf8_truncate(got, 100);
    assert_int_equal(al_utf8_count(cut), 100);
    assert_int_equal(al_utf8_prefix_len(got, strlen(got), 100), 100);
    al_free(cut);
    al_free(got);
    al_free(big);
}

static void test_repair_alloc_failure(void **state)
{
    (void)state;
    al_alloc_fail_after(0);
    char *got = al_utf8_repair("abc", 3);
    al_alloc_fail_after(-1);
    assert_null(got);
}

typedef struct prefix_case {
    const char *in;
    size_t max_chars;
    size_t want;
} prefix_case;

static void test_prefix_len(void **state)
{
    (void)state;
    static const prefix_case cases[] = {
        { "hello", 3, 3 },
        { "hello", 5, 5 },
        { "hello", 50, 5 },
        { "hello", 0, 0 },
        { "", 4, 0 },
        { "\xC3\xA9t\xC3\xA9", 1, 2 },
        { "\xC3\xA9t\xC3\xA9", 2, 3 },
        { "\xC3\xA9t\xC3\xA9", 3, 5 },
        { "\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 1, 4 },
        { "a\xE2\x82\xAC", 2, 4 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(al_utf8_prefix_len(cases[i].in, strlen(cases[i].in), cases[i].max_chars),
                         cases[i].want);
}

typedef struct truncate_case {
    const char *in;
    size_t max_chars;
    const char *want;
} truncate_case;

static void test_truncate(void **state)
{
    (void)state;
    static const truncate_case cases[] = {
        { "hello", 10, "hello" },
        { "hello", 5, "hello" },
        { "hello world", 5, "hell\xE2\x80\xA6" },
        { "hello", 1, "\xE2\x80\xA6" },
        { "hello", 0, "" },
        { "", 3, "" },
        /* Never splits a code point: the cut lands between whole characters. */
        { "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3, "\xC3\xA9\xC3\xA9\xE2\x80\xA6" },
        { "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80", 2, "\xF0\x9F\x98\x80\xE2\x80\xA6" },
        { "a\xE2\x82\xAC" "bc", 3, "a\xE2\x82\xAC\xE2\x80\xA6" },
        { "\xE2\x80\xA6\xE2\x80\xA6", 2, "\xE2\x80\xA6\xE2\x80\xA6" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = al_utf8_truncate(cases[i].in, cases[i].max_chars);
        assert_non_null(got);
        assert_string_equal(got, cases[i].want);
        size_t want_chars = al_utf8_count(cases[i].in);
        if (want_chars > cases[i].max_chars)
            want_chars = cases[i].max_chars;
        assert_int_equal(al_utf8_count(got), want_chars);
        al_free(got);
    }
}

static void test_count(void **state)
{
    (void)state;
    assert_int_equal(al_utf8_count(""), 0);
    assert_int_equal(al_utf8_count("abc"), 3);
    assert_int_equal(al_utf8_count("caf\xC3\xA9"), 4);
    assert_int_equal(al_utf8_count("\xF0\x9F\x98\x80\xE2\x82\xAC"), 2);
    assert_int_equal(al_utf8_count(FFFD FFFD), 2);
}

static void test_slack_escape(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        { "", "" },
        { "plain text", "plain text" },
        { "a & b", "a &amp; b" },
        { "<!channel> hi", "&lt;!channel&gt; hi" },
        { "<https://evil|click>", "&lt;https://evil|click&gt;" },
        { "&amp;", "&amp;amp;" },
        { "&<>", "&amp;&lt;&gt;" },
        { "caf\xC3\xA9 > 3", "caf\xC3\xA9 &gt; 3" },
        { "`code` *bold*", "`code` *bold*" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = al_slack_escape(cases[i][0]);
        assert_non_null(got);
        assert_string_equal(got, cases[i][1]);
        al_free(got);
    }
}

typedef struct pyfloat_case {
    double v;
    const char *want;   /* repr(v) in Python 3 */
} pyfloat_case;

static void test_pyfloat(void **state)
{
    (void)state;
    const pyfloat_case cases[] = {
        { 100.0, "100.0" },
        { 80.5, "80.5" },
        { 1e-05, "1e-05" },
        { 0.0001, "0.0001" },
        { 0.00012, "0.00012" },
        { 301.25, "301.25" },
        { 60.0, "60.0" },
        { 0.1 + 0.2, "0.30000000000000004" },
        { 0.1, "0.1" },
        { 1e16, "1e+16" },
        { 1.5e16, "1.5e+16" },
        { 1e15, "1000000000000000.0" },
        { 1234567890123456.0, "1234567890123456.0" },
        { 9999999999999998.0, "9999999999999998.0" },
        { 1e22, "1e+22" },
        { 0.0, "0.0" },
        { -0.0, "-0.0" },
        { -1.5, "-1.5" },
        { -0.001, "-0.001" },
        { 5e-324, "5e-324" },
        { 2.2250738585072014e-308, "2.2250738585072014e-308" },
        { DBL_MAX, "1.7976931348623157e+308" },
        { 123456.789, "123456.789" },
        { 1.0 / 3.0, "0.3333333333333333" },
        { 2.0 / 3.0, "0.6666666666666666" },
        { 12.3457, "12.3457" },
        { INFINITY, "inf" },
        { -INFINITY, "-inf" },
        { NAN, "nan" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        al_fmt_pyfloat(buf, sizeof buf, cases[i].v);
        assert_string_equal(buf, cases[i].want);
    }
}

static void test_pyfloat_small_buffer(void **state)
{
    (void)state;
    char buf[6];
    memset(buf, 'x', sizeof buf);
    al_fmt_pyfloat(buf, 4, 301.25);
    assert_string_equal(buf, "301");
    assert_int_equal(buf[4], 'x');
    al_fmt_pyfloat(buf, 1, 301.25);
    assert_string_equal(buf, "");
    al_fmt_pyfloat(NULL, 0, 1.0);
}

typedef struct round_case {
    double v;
    int decimals;
    const char *want;   /* repr(round(v, decimals)) in Python 3 */
} round_case;

static void test_round(void **state)
{
    (void)state;
    const round_case cases[] = {
        { 12.34567, 4, "12.3457" },
        { 301.25, 2, "301.25" },
        { 301.0, 2, "301.0" },
        { 301.0049, 2, "301.0" },
        { 60.0, 4, "60.0" },
        { 59.99999, 4, "60.0" },
        { 2.675, 2, "2.67" },     /* 2.675 is 2.67499999... in binary */
        { 0.125, 2, "0.12" },     /* an exact tie: half to even */
        { 0.375, 2, "0.38" },
        { 0.5, 0, "0.0" },
        { 1.5, 0, "2.0" },
        { 2.5, 0, "2.0" },
        { -0.4, 0, "-0.0" },
        { -2.5, 0, "-2.0" },
        { 1e-05, 4, "0.0" },
        { 0.1 + 0.2, 2, "0.3" },
        { 1e300, 2, "1e+300" },
        { 25.0, -1, "20.0" },
        { 35.0, -1, "40.0" },
        { 25.4, -1, "30.0" },
        { 1234.5, -2, "1200.0" },
        { 1250.0, -2, "1200.0" },
        { 1250.1, -2, "1300.0" },
        { 9999.0, -2, "10000.0" },
        { 49.0, -2, "0.0" },
        { -4.0, -1, "-0.0" },
        { INFINITY, 2, "inf" },
        { NAN, 2, "nan" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[64];
        al_fmt_round(buf, sizeof buf, cases[i].v, cases[i].decimals);
        if (strcmp(buf, cases[i].want) != 0)
            print_error("round(%.17g, %d)\n", cases[i].v, cases[i].decimals);
        assert_string_equal(buf, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repair_table),
        cmocka_unit_test(test_repair_respects_len),
        cmocka_unit_test(test_repair_large_input),
        cmocka_unit_test(test_repair_alloc_failure),
        cmocka_unit_test(test_prefix_len),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_slack_escape),
        cmocka_unit_test(test_pyfloat),
        cmocka_unit_test(test_pyfloat_small_buffer),
        cmocka_unit_test(test_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
