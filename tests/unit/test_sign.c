/* SPDX-License-Identifier: MIT */
/* Hashes, Standard Webhooks signatures and base64 (sign.c), against known vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "alloc.h"
#include "sign.h"

static void test_sha256_known_digests(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
        { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char hex[65];
        assert_int_equal(al_sha256_hex(cases[i][0], strlen(cases[i][0]), hex), 0);
        assert_string_equal(hex, cases[i][1]);
        assert_true(al_is_sha256_hex(hex));
    }

    char hex[65];
    assert_int_equal(al_sha256_hex(NULL, 0, hex), 0);
    assert_string_equal(hex, cases[0][1]);
}

static void test_is_sha256_hex(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int want;
    } cases[] = {
        { "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 1 },
        { "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", 1 },
        { "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", 0 },
        { "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555", 0 },
        { "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0 },
        { "sk-1234", 0 },
        { "", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(al_is_sha256_hex(cases[i].s), cases[i].want);
    assert_int_equal(al_is_sha256_hex(NULL), 0);
}

static void test_hmac_rfc4231_case2(void **state)
{
    (void)state;
    /* HMAC-SHA256 = 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843,
     * given here as its base64. */
    const char *msg = "what do ya want for nothing?";
    char sig[64];
    assert_int_equal(al_hmac_sha256_b64("Jefe", 4, msg, strlen(msg), sig, sizeof sig), 0);
    assert_string_equal(sig, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
}

static void test_hmac_standard_webhooks_example(void **state)
{
    (void)state;
    const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    unsigned char key[64];
    long key_len = al_base64_decode(secret + strlen("whsec_"), key, sizeof key);
    assert_int_equal(key_len, 24);

    const char *content = "msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}";
    char sig[64];
    assert_int_equal(al_hmac_sha256_b64(key, (size_t)key_len, content, strlen(content), sig,
                                        sizeof sig), 0);
    assert_string_equal(sig, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_hmac_bad_arguments(void **state)
{
    (void)state;
    char sig[45];
    assert_int_equal(al_hmac_sha256_b64("k", 1, "m", 1, sig, 44), -1);
    assert_int_equal(al_hmac_sha256_b64("k", 1, "m", 1, NULL, 64), -1);
    assert_int_equal(al_hmac_sha256_b64(NULL, 4, "m", 1, sig, sizeof sig), -1);
    assert_int_equal(al_hmac_sha256_b64("k", 1, "m", 1, sig, sizeof sig), 0);
    assert_int_equal(strlen(sig), 44);
}

typedef struct b64_case {
    const char *in;
    const char *want;
    long want_len;      /* -1: rejected */
} b64_case;

static void test_base64_decode(void **state)
{
    (void)state;
    static const b64_case cases[] = {
        { "", "", 0 },
        { "Zg==", "f", 1 },
        { "Zm8=", "fo", 2 },
        { "Zm9v", "foo", 3 },
        { "Zm9vYg==", "foob", 4 },
        { "Zm9vYmE=", "fooba", 5 },
        { "Zm9vYmFy", "foobar", 6 },
        { "Zm9vYg", "foob", 4 },        /* padding left out */
        { "Zm9vYmE", "fooba", 5 },
        { " Zm9vYmFy\n", "foobar", 6 },
        { "+/+/", "\xFB\xFF\xBF", 3 },
        { "Zm9vY", NULL, -1 },
        { "Zm9v=", NULL, -1 },
        { "Zg===", NULL, -1 },
        { "Zg=a", NULL, -1 },
        { "Zm 9v", NULL, -1 },
        { "Zm9v!", NULL, -1 },
        { "Zm9v-_", NULL, -1 },         /* base64url is not accepted */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char out[16];
        long n = al_base64_decode(cases[i].in, out, sizeof out);
        assert_int_equal(n, cases[i].want_len);
        if (n > 0)
            assert_memory_equal(out, cases[i].want, (size_t)n);
    }
}

static void test_base64_decode_exact_fit(void **state)
{
    (void)state;
    /* The output holds exactly the decoded bytes, not the padded group. */
    unsigned char out[4];
    memset(out, 0xAA, sizeof out);
    assert_int_equal(al_base64_decode("Zg==", out, 1), 1);
    assert_int_equal(out[0], 'f');
    assert_int_equal(out[1], 0xAA);
    assert_int_equal(al_base64_decode("Zm9v", out, 2), -1);
    assert_int_equal(al_base64_decode(NULL, out, sizeof out), -1);

    al_alloc_fail_after(0);
    long n = al_base64_decode("Zm9v", out, sizeof out);
    al_alloc_fail_after(-1);
    assert_int_equal(n, -1);
}

static void test_base64_round_trip(void **state)
{
    (void)state;
    /* Encode through the HMAC output (EVP_EncodeBlock) and decode it back. */
    for (int len = 0; len < 40; len++) {
        char msg[40];
        memset(msg, 'a' + len % 26, (size_t)len);
        char sig[64];
        assert_int_equal(al_hmac_sha256_b64("key", 3, msg, (size_t)len, sig, sizeof sig), 0);
        unsigned char raw[32];
        assert_int_equal(al_base64_decode(sig, raw, sizeof raw), 32);

        char again[64];
        assert_int_equal(al_hmac_sha256_b64("key", 3, msg, (size_t)len, again, sizeof again), 0);
        assert_string_equal(sig, again);
    }
}

static void test_random_hex(void **state)
{
    (void)state;
    static const size_t sizes[] = { 0, 1, 16, 63, 64, 65, 200 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *out = al_malloc(2 * n + 1);
        assert_non_null(out);
        assert_int_equal(al_random_hex(out, n), 0);
        assert_int_equal(strlen(out), 2 * n);
        for (size_t c = 0; c < 2 * n; c++)
            assert_true((out[c] >= '0' && out[c] <= '9') || (out[c] >= 'a' && out[c] <= 'f'));
        al_free(out);
    }

    char a[33], b[33];
    assert_int_equal(al_random_hex(a, 16), 0);
    assert_int_equal(al_random_hex(b, 16), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(al_random_hex(NULL, 16), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_known_digests),
        cmocka_unit_test(test_is_sha256_hex),
        cmocka_unit_test(test_hmac_rfc4231_case2),
        cmocka_unit_test(test_hmac_standard_webhooks_example),
        cmocka_unit_test(test_hmac_bad_arguments),
        cmocka_unit_test(test_base64_decode),
        cmocka_unit_test(test_base64_decode_exact_fit),
        cmocka_unit_test(test_base64_round_trip),
        cmocka_unit_test(test_random_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
