/* SPDX-License-Identifier: MIT */
/* Secret scrubbing of free text and of JSON (redact.h). */
#include "redact.h"

#include <string.h>

#include "alloc.h"
#include "buf.h"

/* A scanner rather than regexes: the patterns are few and anchored on a fixed
 * prefix, a hand-written matcher runs in one pass over a 10 MB text and pulls in
 * no regex engine. Each matcher looks at s[i] and, on a hit, says how many bytes
 * to copy as they are (a label such as "Bearer ") and how many bytes of secret
 * follow them. Matchers stop at every NUL and delimit only on ASCII bytes, so a
 * multi-byte character is never cut. */

static const char redacted[] = "REDACTED";

typedef struct secret_hit {
    size_t keep;     /* bytes copied before the secret */
    size_t secret;   /* bytes replaced; 0 means no match */
} secret_hit;

static const secret_hit no_hit = { 0, 0 };

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_upper_or_digit(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Letters, digits, '_' and '-' glue a word together: "task-scheduler" holds no
 * "sk-" key because the "s" is not where a word starts. */
static int is_word_char(char c)
{
    return is_alnum(c) || c == '_' || c == '-';
}

static int is_base64url_char(char c)
{
    return is_word_char(c);
}

static int is_base64_char(char c)
{
    return is_alnum(c) || c == '+' || c == '/' || c == '=';
}

/* RFC 6750 b64token. */
static int is_b64token_char(char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
           c == '=';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static size_t span(const char *s, int (*in_class)(char))
{
    size_t n = 0;
    while (s[n] && in_class(s[n]))
        n++;
    return n;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int starts_with_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (lower(*s) != *prefix)
            return 0;
    return 1;
}

/* -----BEGIN [RSA |EC |OPENSSH |ENCRYPTED ]PRIVATE KEY----- ... -----END ...-----.
 * A block cut short (the text was truncated) is redacted to the end: the part
 * we have is still key material. */
static secret_hit match_pem(const char *s)
{
    static const char begin[] = "-----BEGIN ";
    static const char marker[] = "PRIVATE KEY";
    if (!starts_with(s, begin))
        return no_hit;
    const char *label = s + sizeof begin - 1;
    size_t label_len = 0;
    while (label[label_len] && (is_upper_or_digit(label[label_len]) || label[label_len] == ' '))
        label_len++;
    if (label_len < sizeof marker - 1 || !starts_with(label + label_len, "-----") ||
        strncmp(label + label_len - (sizeof marker - 1), marker, sizeof marker - 1) != 0)
        return no_hit;

    const char *body = label + label_len + 5;
    for (const char *end = strstr(body, "-----END "); end; end = strstr(end + 1, "-----END ")) {
        const char *end_label = end + 9;
        if (strncmp(end_label, label, label_len) == 0 && starts_with(end_label + label_len, "-----"))
            return (secret_hit){ 0, (size_t)(end_label + label_len + 5 - s) };
    }
    return (secret_hit){ 0, strlen(s) };
}

/* scheme://user:password@host: the user stays, so the reader still knows which
 * account failed. The authority ends at the first '/', '?', '#' or space; the
 * last '@' in it ends the userinfo, since a password may itself hold an '@'. */
static secret_hit match_url_userinfo(const char *s)
{
    if (!starts_with(s, "://"))
        return no_hit;
    const char *authority = s + 3;
    const char *at = NULL;
    size_t n = 0;
    for (; authority[n]; n++) {
        char c = authority[n];
        if (c == '/' || c == '?' || c == '#' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
            c == '"' || c == '\'' || c == '`' || c == '<' || c == '>' || c == '\\')
            break;
        if (c == '@')
            at = authority + n;
    }
    if (!at)
        return no_hit;
    const char *colon = memchr(authority, ':', (size_t)(at - authority));
    if (!colon) {
        /* a user name alone stays, unless it is a key: Sentry's DSN
         * https://<32 hex>@o123.ingest.sentry.io/456 */
        size_t user = (size_t)(at - authority);
        for (size_t c = 0; c < user; c++)
            if (!is_alnum(authority[c]))
                return no_hit;
        return user >= 16 ? (secret_hit){ 3, user } : no_hit;
    }
    if (colon + 1 == at)
        return no_hit;
    return (secret_hit){ (size_t)(colon + 1 - s), (size_t)(at - colon - 1) };
}

static int ends_url(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' ||
           c == '`' || c == '<' || c == '>' || c == '\\' || c == '|' || c == ')' || c == ']' ||
           c == '}';
}

static int host_is(const char *host, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len == n && strncmp(host, name, n) == 0;
}

static int host_ends_with(const char *host, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len > n && strncmp(host + len - n, suffix, n) == 0;
}

/* Slack, Discord and Teams webhook URLs carry their credential in the path: the
 * scheme, host and the fixed part of the path stay (the reader still sees which
 * service it was), the rest of the URL goes. */
static secret_hit match_webhook_url(const char *s)
{
    size_t scheme;
    if (starts_with_nocase(s, "https://"))
        scheme = 8;
    else if (starts_with_nocase(s, "http://"))
        scheme = 7;
    else
        return no_hit;
    const char *host = s + scheme;
    size_t host_len = 0;
    while (!ends_url(host[host_len]) && host[host_len] != '/' && host[host_len] != '?' &&
           host[host_len] != '#')
        host_len++;
    size_t name_len = host_len;     /* without a :port */
    const char *port = memchr(host, ':', host_len);
    if (port)
        name_len = (size_t)(port - host);
    if (host[host_len] != '/')
        return no_hit;
    const char *path = host + host_len;
    size_t keep = 0;
    if (host_is(host, name_len, "hooks.slack.com")) {
        keep = 1;
    } else if (host_is(host, name_len, "discord.com") || host_is(host, name_len, "discordapp.com") ||
               host_ends_with(host, name_len, ".discord.com") ||
               host_ends_with(host, name_len, ".discordapp.com")) {
        if (!starts_with(path, "/api/"))
            return no_hit;
        keep = 5;
    } else if (host_ends_with(host, name_len, ".webhook.office.com")) {
        keep = 1;
    } else if (host_is(host, name_len, "outlook.office.com") ||
               host_is(host, name_len, "outlook.office365.com")) {
        if (!starts_with(path, "/webhook"))
            return no_hit;
        keep = 1;
    } else {
        return no_hit;
    }
    size_t rest = 0;
    while (!ends_url(path[keep + rest]))
        rest++;
    if (rest == 0)
        return no_hit;
    return (secret_hit){ (size_t)(path + keep - s), rest };
}

/* Vendor keys recognised by a fixed prefix and a run of key characters. */
typedef struct prefixed_key {
    const char *prefix;
    size_t min_body;        /* key characters required after the prefix */
    size_t max_body;        /* 0: any length */
    int (*body_char)(char);
} prefixed_key;

static int is_aws_char(char c)
{
    return is_upper_or_digit(c);
}

static int is_oauth_char(char c)
{
    return is_word_char(c) || c == '.';
}

static const prefixed_key prefixed_keys[] = {
    { "sk-", 8, 0, is_base64url_char },        /* OpenAI, Anthropic, LiteLLM virtual keys */
    { "AKIA", 16, 16, is_aws_char },           /* AWS access key id */
    { "ASIA", 16, 16, is_aws_char },           /* AWS temporary key id */
    { "AIza", 35, 0, is_base64url_char },      /* Google API key */
    { "ya29.", 8, 0, is_oauth_char },          /* Google OAuth access token */
    { "whsec_", 8, 0, is_base64_char },        /* Standard Webhooks signing secret */
    { "xoxb-", 8, 0, is_base64url_char },      /* Slack tokens */
    { "xoxp-", 8, 0, is_base64url_char },
    { "xoxa-", 8, 0, is_base64url_char },
    { "xoxr-", 8, 0, is_base64url_char },
    { "xoxs-", 8, 0, is_base64url_char },
    { "ghp_", 16, 0, is_base64url_char },      /* GitHub tokens */
    { "github_pat_", 16, 0, is_base64url_char },
};

static secret_hit match_prefixed_key(const char *s)
{
    for (size_t k = 0; k < sizeof prefixed_keys / sizeof prefixed_keys[0]; k++) {
        const prefixed_key *key = &prefixed_keys[k];
        if (!starts_with(s, key->prefix))
            continue;
        size_t prefix_len = strlen(key->prefix);
        size_t body = span(s + prefix_len, key->body_char);
        if (body < key->min_body)
            continue;
        if (key->max_body && (body != key->max_body || is_alnum(s[prefix_len + body])))
            continue;
        return (secret_hit){ 0, prefix_len + body };
    }
    return no_hit;
}

/* header.payload.signature, base64url each; the header is JSON, so "eyJ". The
 * signature may be empty (alg "none"), the dot before it may not. */
static secret_hit match_jwt(const char *s)
{
    if (!starts_with(s, "eyJ"))
        return no_hit;
    size_t header = span(s, is_base64url_char);
    if (header < 8 || s[header] != '.')
        return no_hit;
    size_t payload = span(s + header + 1, is_base64url_char);
    if (payload < 2 || s[header + 1 + payload] != '.')
        return no_hit;
    size_t signature = span(s + header + 2 + payload, is_base64url_char);
    return (secret_hit){ 0, header + 2 + payload + signature };
}

/* Words that follow "Bearer" in prose ("Bearer token missing"); anything else
 * after the scheme name is taken for a credential, however short: test setups
 * use keys such as "sk-1234". */
static int is_bearer_prose(const char *word, size_t len)
{
    static const char *const prose[] = {
        "token", "tokens", "auth", "authentication", "authorization", "header", "scheme",
        "realm", "error", "required", "missing", "invalid", "expired", "format", "type", "value",
        "is", "was", "not", "and", "or", "the", "for", "in", "with",
    };
    for (size_t p = 0; p < sizeof prose / sizeof prose[0]; p++) {
        if (strlen(prose[p]) != len)
            continue;
        size_t c = 0;
        while (c < len && lower(word[c]) == prose[p][c])
            c++;
        if (c == len)
            return 1;
    }
    return 0;
}

/* "Basic" is an ordinary word, so only something that does not read as one
 * counts as credentials: "Basic usage" and "Basic Authentication" stay. */
static int is_plain_word(const char *word, size_t len)
{
    int all_upper = 1, lower_after_first = 1;
    for (size_t c = 0; c < len; c++) {
        char ch = word[c];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return 0;
        if (ch >= 'a' && ch <= 'z')
            all_upper = 0;
        else if (c > 0)
            lower_after_first = 0;
    }
    return all_upper || lower_after_first;
}

static secret_hit match_auth_scheme(const char *s)
{
    int bearer = starts_with_nocase(s, "bearer");
    if (!bearer && !starts_with_nocase(s, "basic"))
        return no_hit;
    size_t label = bearer ? 6 : 5;
    if (!is_space(s[label]))
        return no_hit;
    while (is_space(s[label]))
        label++;
    size_t token = span(s + label, bearer ? is_b64token_char : is_base64_char);
    /* Compared without its trailing '=': in a challenge, Bearer realm="api" is an
     * auth-param, not a credential. */
    size_t word = token;
    while (word && s[label + word - 1] == '=')
        word--;
    if (word == 0)
        return no_hit;
    if (bearer ? is_bearer_prose(s + label, word)
               : (token < 8 || is_plain_word(s + label, token)))
        return no_hit;
    return (secret_hit){ label, token };
}

/* Parameter names whose value is a secret, compared after lowering case and
 * reading '-' as '_'. A long name also matches as the end of a longer one
 * (client_secret, x-api-key, openai_api_key, db_password, apiKey); a short one
 * must stand alone or follow '_' ("config=" is not "sig="). */
static const char *const secret_param_names[] = {
    "api_key", "apikey", "password", "passwd", "secret", "token", "secret_key",
    "private_key", "subscription_key", "pwd", "sig",
    "secret_access_key",                    /* aws_secret_access_key */
    "amz_signature", "amz_credential",      /* S3 presigned URLs (X-Amz-Security-Token: token) */
    "goog_signature", "goog_credential",    /* GCS signed URLs */
    "routing_key", "service_key", "integration_key",    /* PagerDuty */
};

static int is_secret_param(const char *name, size_t len)
{
    for (size_t p = 0; p < sizeof secret_param_names / sizeof secret_param_names[0]; p++) {
        const char *want = secret_param_names[p];
        size_t want_len = strlen(want);
        if (want_len > len)
            continue;
        const char *tail = name + len - want_len;
        size_t c = 0;
        for (; c < want_len; c++) {
            char got = tail[c] == '-' ? '_' : lower(tail[c]);
            if (got != want[c])
                break;
        }
        if (c < want_len)
            continue;
        if (want_len >= 5 || tail == name || tail[-1] == '_' || tail[-1] == '-')
            return 1;
    }
    return 0;
}

static int ends_unquoted_value(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '&' || c == ',' ||
           c == ';' || c == '"' || c == '\'' || c == '`' || c == ')' || c == ']' || c == '}' ||
           c == '<' || c == '>' || c == '\\';
}

/* name=value, name: value, "name": "value", 'name': 'value' (Python reprs of
 * request kwargs), and \"name\": \"value\" (JSON quoted inside a JSON string,
 * as provider errors often carry). The quotes stay; only the value goes. */
/* ?key= and &key=: the API key of Google and many others, in a query string. */
static int is_query_key(const char *s, size_t name, char before)
{
    return name == 3 && (before == '?' || before == '&') && starts_with_nocase(s, "key") &&
           s[3] == '=';
}

static secret_hit match_secret_param(const char *s, char before)
{
    size_t name = span(s, is_word_char);
    if (name == 0 || (!is_secret_param(s, name) && !is_query_key(s, name, before)))
        return no_hit;

    size_t p = name;
    if ((before == '"' || before == '\'') && s[p] == before)
        p++;
    else if (before == '"' && s[p] == '\\' && s[p + 1] == '"')
        p += 2;
    while (is_space(s[p]))
        p++;
    if (s[p] != '=' && s[p] != ':')
        return no_hit;
    p++;
    while (is_space(s[p]))
        p++;

    size_t value_start, value_end;
    if (s[p] == '"' || s[p] == '\'' || (s[p] == '\\' && s[p + 1] == '"')) {
        int escaped_quote = s[p] == '\\';
        char quote = escaped_quote ? '"' : s[p];
        value_start = p + (escaped_quote ? 2 : 1);
        value_end = value_start;
        for (; s[value_end] && s[value_end] != '\n'; value_end++) {
            if (escaped_quote) {
                if (s[value_end] == '\\' && s[value_end + 1] == '"')
                    break;
            } else if (s[value_end] == '\\' && s[value_end + 1]) {
                value_end++;
            } else if (s[value_end] == quote) {
                break;
            }
        }
    } else {
        if (s[p] == '{' || s[p] == '[')
            return no_hit;
        value_start = p;
        value_end = p;
        while (!ends_unquoted_value(s[value_end]))
            value_end++;
    }
    if (value_end == value_start)
        return no_hit;
    return (secret_hit){ value_start, value_end - value_start };
}

static secret_hit find_secret(const char *s, size_t i)
{
    secret_hit hit = match_pem(s + i);
    if (hit.secret)
        return hit;
    hit = match_url_userinfo(s + i);
    if (hit.secret)
        return hit;

    char before = i ? s[i - 1] : '\0';
    if (is_word_char(before) || !is_word_char(s[i]))
        return no_hit;
    hit = match_webhook_url(s + i);
    if (!hit.secret)
        hit = match_prefixed_key(s + i);
    if (!hit.secret)
        hit = match_jwt(s + i);
    if (!hit.secret)
        hit = match_auth_scheme(s + i);
    if (!hit.secret)
        hit = match_secret_param(s + i, before);
    return hit;
}

int al_is_secret_name(const char *name)
{
    return name && *name && is_secret_param(name, strlen(name));
}

char *al_scrub_secrets(const char *s)
{
    if (!s)
        return NULL;
    al_buf out = AL_BUF_INIT;
    size_t copied = 0;
    size_t i = 0;
    while (s[i]) {
        secret_hit hit = find_secret(s, i);
        if (!hit.secret) {
            i++;
            continue;
        }
        al_buf_add(&out, s + copied, i + hit.keep - copied);
        al_buf_add(&out, redacted, sizeof redacted - 1);
        i += hit.keep + hit.secret;
        copied = i;
    }
    al_buf_add(&out, s + copied, i - copied);
    return al_buf_take(&out);
}
