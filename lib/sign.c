/* SPDX-License-Identifier: MIT */
/* Hashes, HMAC signatures, base64 and randomness: the one module over OpenSSL
 * (sign.h). */
#include "sign.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "alloc.h"

#define SHA256_LEN 32

static void to_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0x0F];
    }
    out[2 * n] = '\0';
}

int al_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!out)
        return -1;
    if (!data && len)
        return -1;
    if (EVP_Digest(data ? data : "", len, md, &md_len, EVP_sha256(), NULL) != 1 ||
        md_len != SHA256_LEN)
        return -1;
    to_hex(md, SHA256_LEN, out);
    return 0;
}

int al_sha1_hex(const void *data, size_t len, char out[41])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!out || (!data && len))
        return -1;
    if (EVP_Digest(data ? data : "", len, md, &md_len, EVP_sha1(), NULL) != 1 || md_len != 20)
        return -1;
    to_hex(md, 20, out);
    return 0;
}

int al_is_sha256_hex(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < 64; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return s[64] == '\0';
}

int al_hmac_sha256_b64(const void *key, size_t key_len, const void *msg, size_t msg_len,
                       char *out, size_t out_size)
{
    /* base64 of 32 bytes is 44 characters, plus the NUL. */
    if (!out || out_size < 45 || (!key && key_len) || (!msg && msg_len))
        return -1;

    /* Fetched per call: a cached EVP_MAC would be process-global state shared
     * with the host's own OpenSSL use; the provider caches the lookup anyway. */
    EVP_MAC *mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t md_len = 0;
    int rc = -1;
    if (ctx) {
        char digest[] = OSSL_DIGEST_NAME_SHA2_256;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_MAC_init(ctx, key ? key : (const void *)"", key_len, params) == 1 &&
            EVP_MAC_update(ctx, msg ? msg : (const void *)"", msg_len) == 1 &&
            EVP_MAC_final(ctx, md, &md_len, sizeof md) == 1 && md_len == SHA256_LEN) {
            EVP_EncodeBlock((unsigned char *)out, md, (int)md_len);
            rc = 0;
        }
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return rc;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
}

/* Standard base64. Padding may be left out (secrets pasted from some tools
 * lack it); surrounding whitespace (a trailing newline from a file or an
 * environment variable) is ignored; anything else malformed is -1. */
long al_base64_decode(const char *in, unsigned char *out, size_t out_size)
{
    if (!in || (!out && out_size))
        return -1;
    while (is_space(*in))
        in++;
    size_t len = strlen(in);
    while (len && is_space(in[len - 1]))
        len--;

    size_t data = 0;
    while (data < len && is_base64_char(in[data]))
        data++;
    size_t pad = len - data;
    if (pad > 2 || (pad && len % 4 != 0))
        return -1;
    for (size_t i = data; i < len; i++)
        if (in[i] != '=')
            return -1;
    if (data % 4 == 1)
        return -1;
    size_t padded = (data + 3) / 4 * 4;
    if (padded > INT_MAX)
        return -1;
    pad = padded - data;

    size_t decoded = padded / 4 * 3 - pad;
    if (decoded > out_size)
        return -1;

    /* EVP_DecodeBlock wants padded input and writes whole 3-byte groups,
     * padding bytes included, so both sides go through scratch buffers. */
    char *padded_in = al_malloc(padded + 1);
    unsigned char *scratch = al_malloc(padded / 4 * 3 + 1);
    long rc = -1;
    if (padded_in && scratch) {
        memcpy(padded_in, in, data);
        memset(padded_in + data, '=', pad);
        padded_in[padded] = '\0';
        int n = EVP_DecodeBlock(scratch, (const unsigned char *)padded_in, (int)padded);
        if (n >= 0 && (size_t)n == padded / 4 * 3) {
            if (decoded)
                memcpy(out, scratch, decoded);
            rc = (long)decoded;
        }
    }
    al_free(padded_in);
    al_free(scratch);
    return rc;
}

int al_random_hex(char *out, size_t n_bytes)
{
    if (!out)
        return -1;
    unsigned char chunk[64];
    size_t done = 0;
    while (done < n_bytes) {
        size_t n = n_bytes - done < sizeof chunk ? n_bytes - done : sizeof chunk;
        if (RAND_bytes(chunk, (int)n) != 1) {
            out[0] = '\0';
            return -1;
        }
        to_hex(chunk, n, out + 2 * done);
        done += n;
    }
    out[2 * n_bytes] = '\0';
    return 0;
}

size_t al_base64_encode(const void *in, size_t len, char *out)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)in, (int)len);
}

void al_wipe(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}
