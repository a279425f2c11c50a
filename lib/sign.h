/* SPDX-License-Identifier: MIT */
/* Hashes, signatures, base64 and randomness through OpenSSL libcrypto (EVP only): the
 * one module that includes OpenSSL. */
#ifndef AL_SIGN_H
#define AL_SIGN_H

#include <stddef.h>

/* SHA-256 of data as 64 lowercase hex digits + NUL. 0 or -1. */
int al_sha256_hex(const void *data, size_t len, char out[65]);

/* SHA-1 of data as 40 lowercase hex digits + NUL: the name Redis gives a script
 * (EVALSHA), never for anything secret. 0 or -1. */
int al_sha1_hex(const void *data, size_t len, char out[41]);

/* 1 when s is 64 hex digits. */
int al_is_sha256_hex(const char *s);

/* Standard Webhooks: base64(HMAC-SHA256(key, msg)) into out (NUL-terminated).
 * key is the raw secret (already base64-decoded). 0 or -1. */
int al_hmac_sha256_b64(const void *key, size_t key_len, const void *msg, size_t msg_len,
                       char *out, size_t out_size);

/* Base64 of in[0..len) into out (4 * ceil(len / 3) + 1 bytes, NUL-terminated); returns
 * the length written. */
size_t al_base64_encode(const void *in, size_t len, char *out);

/* Wipes n bytes so that the compiler cannot drop it (secrets). */
void al_wipe(void *p, size_t n);

/* Decodes base64 into out; returns the length or -1. */
long al_base64_decode(const char *in, unsigned char *out, size_t out_size);

/* n random bytes as 2n lowercase hex digits + NUL (idempotency keys). 0 or -1. */
int al_random_hex(char *out, size_t n_bytes);

#endif
