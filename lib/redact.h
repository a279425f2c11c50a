/* Secret scrubbing of free text (BEHAVIOUR.md section 7). */
#ifndef AL_REDACT_H
#define AL_REDACT_H

#include <stddef.h>

/* A copy of s in which every secret value is replaced by "REDACTED": PEM private
 * key blocks, sk-... keys, "Bearer <token>", "Basic <b64>", AWS AKIA/ASIA ids,
 * Google AIza... keys, ya29. tokens, JWTs, api_key=/api-key:/x-api-key: values,
 * password=/secret=/client_secret= parameters, user:pass@ in URLs, Azure sig=.
 * A label such as "Bearer " stays. The input must be valid UTF-8 (repair first).
 * NULL on allocation failure. */
char *al_scrub_secrets(const char *s);

#endif
