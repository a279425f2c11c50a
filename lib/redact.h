/* SPDX-License-Identifier: MIT */
/* Secret scrubbing of free text (BEHAVIOUR.md section 7). */
#ifndef AL_REDACT_H
#define AL_REDACT_H

#include <stddef.h>

/* A copy of s in which every secret value is replaced by "REDACTED": PEM private
 * key blocks, sk-... keys, "Bearer <token>", "Basic <b64>", AWS AKIA/ASIA ids,
 * Google AIza... keys, ya29. tokens, JWTs, api_key=/api-key:/x-api-key: values,
 * password=/secret=/client_secret=/aws_secret_access_key=/routing_key= parameters,
 * X-Amz-Signature=/X-Amz-Credential=/X-Amz-Security-Token= (and X-Goog-) query
 * parts, ?key=/&key=, user:pass@ in URLs and a key alone as the user (Sentry DSNs),
 * Azure sig=, and the path of Slack, Discord and Teams webhook URLs.
 * A label such as "Bearer " stays. The input must be valid UTF-8 (repair first).
 * NULL on allocation failure. */
char *al_scrub_secrets(const char *s);

/* 1 when a value under this name is a secret as a whole (password, api_key, token,
 * routing_key, ...: the names al_scrub_secrets knows in name=value), so that a
 * JSON object's top-level values get the treatment nested ones get. */
int al_is_secret_name(const char *name);

#endif
