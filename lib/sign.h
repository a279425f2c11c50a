/* Hashes and signatures through OpenSSL libcrypto (EVP only). */
#ifndef AL_SIGN_H
#define AL_SIGN_H

#include <stddef.h>

/* SHA-256 of data as 64 lowercase hex digits + NUL. 0 or -1. */
int al_sha256_hex(const void *data, size_t len, char out[65]);

/* 1 when s is 64 hex digits. */
int al_is_sha256_hex(const char *s);

/* Standard Webhooks: base64(HMAC-SHA256(key, msg)) into out (NUL-terminated).
 * key is the raw secret (already base64-decoded). 0 or -1. */
int al_hmac_sha256_b64(const void *key, size_t key_len, const void *msg, size_t msg_len,
                       char *out, size_t out_size);

/* Decodes base64 into out; returns the length or -1. */
long al_base64_decode(const char *in, unsigned char *out, size_t out_size);

/* n random bytes as 2n lowercase hex digits + NUL (idempotency keys). 0 or -1. */
int al_random_hex(char *out, size_t n_bytes);

#endif
