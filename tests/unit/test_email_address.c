/* SPDX-License-Identifier: MIT */
/* al_email_address_ok: what may reach an SMTP command as a mailbox (RFC 5321). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "outbox.h"

static void accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "oncall@example.test", "a@b", "libalerting@localhost", "first.last+tag@sub.example.com",
        "!#$%&'*+-/=?^_`{|}~@example.test", "\"john doe\"@example.test", "\"\"@example.test",
        "\"a\\\"b\"@example.test", "user@[192.0.2.1]", "user@[IPv6:2001:db8::1]",
        "x@a-b.c0", "x@123.example",
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!al_email_address_ok(ok[i]))
            fail_msg("refused: %s", ok[i]);
}

static void refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "plain", "@example.test", "user@", "user@@example.test", "a@b@c",
        "x@example.test\r\nDATA", "x@example.test\n", "x\r@example.test", "x@exa\tmple.test",
        "x y@example.test", "<x@example.test>", "x@example.test>", "Name <x@example.test>",
        ".x@example.test", "x.@example.test", "x..y@example.test", "x@.example.test",
        "x@example.test.", "x@-example.test", "x@example-.test", "x@exa_mple.test",
        "\"unclosed@example.test", "\"a@b\"@example.test", "\"a\\\\b\"@example.test",
        "\"a\rb\"@example.test", "x@[1.2.3.4", "x@[]", "x@[a]b", "x@[a\\b]",
        "\"a<b\"@example.test", "x@[a\"b]", "x@[a@b]", "x@[a>b]",
        "us\xc3\xa9r@example.test", "x@\xc3\xa9xample.test", "x\x7f@example.test",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (al_email_address_ok(bad[i]))
            fail_msg("accepted #%zu", i);
    assert_false(al_email_address_ok(NULL));
}

static void bounded_lengths(void **state)
{
    (void)state;
    char a[400];
    /* local part: 64 bytes pass, 65 do not */
    memset(a, 'l', 64);
    strcpy(a + 64, "@example.test");
    assert_true(al_email_address_ok(a));
    memset(a, 'l', 65);
    strcpy(a + 65, "@example.test");
    assert_false(al_email_address_ok(a));
    /* a label: 63 bytes pass, 64 do not */
    strcpy(a, "x@");
    memset(a + 2, 'd', 63);
    a[65] = '\0';
    assert_true(al_email_address_ok(a));
    memset(a + 2, 'd', 64);
    a[66] = '\0';
    assert_false(al_email_address_ok(a));
    /* the whole address: 254 bytes pass, 255 do not */
    strcpy(a, "x@");
    size_t n = 2;
    while (n < 254) {
        size_t take = 254 - n > 60 ? 60 : 254 - n;
        memset(a + n, 'd', take);
        n += take;
        if (n < 254 - 1)
            a[n++] = '.';
    }
    a[n] = '\0';
    assert_int_equal(strlen(a), 254);
    assert_true(al_email_address_ok(a));
    a[n] = 'e';
    a[n + 1] = '\0';
    assert_false(al_email_address_ok(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepted),
        cmocka_unit_test(refused),
        cmocka_unit_test(bounded_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
