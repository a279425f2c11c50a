/* SPDX-License-Identifier: MIT */
/* libFuzzer: any bytes through the e-mail address check that guards every SMTP envelope
 * (MAIL FROM, RCPT TO) and the To: header. An accepted address is bounded, ASCII, has no
 * control character (CR/LF would be SMTP commands), no angle bracket, no space outside its
 * quoted local part, and exactly one '@' outside quotes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (al_email_address_ok(s)) {
        size_t len = strlen(s);
        if (len == 0 || len > AL_EMAIL_MAX)
            __builtin_trap();
        int quoted = 0, ats = 0;
        size_t at = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c < 32 || c > 126 || c == '<' || c == '>')
                __builtin_trap();
            if (c == '"' && !ats && (i == 0 || s[i - 1] != '\\'))
                quoted = !quoted;
            if (c == ' ' && !quoted)
                __builtin_trap();
            if (c == '@' && !quoted) {
                ats++;
                at = i;
            }
        }
        if (quoted || ats != 1 || at == 0 || at > AL_EMAIL_LOCAL_MAX || at + 1 == len)
            __builtin_trap();
        if (strchr(s + at + 1, '@') || strchr(s + at + 1, ' ') || strchr(s + at + 1, '"'))
            __builtin_trap();
    }
    free(s);
    return 0;
}
