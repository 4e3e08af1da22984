/*
 * tests/fuzz/http_token.c - libFuzzer target for the access-token gate's
 * decoding of request headers (http_token_check: the Authorization value
 * and the Cookie header), and for http_token_valid / http_token_equal,
 * with oracles.
 *
 * Input: byte 0 holds flags (bit 0: cookies are looked at, under the name
 * strata_token; bit 1: no Authorization header; bit 2: no Cookie header);
 * the rest is the Authorization value, a NUL, then the Cookie value (each
 * cut at its first NUL), each copied to an exact-size heap block so ASan
 * sees any read past it. The expected token is fixed. For each input:
 *   1. HTTP_TOKEN_OK only when the token's bytes occur in a header that
 *      was looked at;
 *   2. without either header the answer is HTTP_TOKEN_MISSING, and with
 *      cookies ignored, OK comes from the Authorization value alone;
 *   3. adding the right cookie (when cookies are looked at) or the right
 *      Authorization value makes it HTTP_TOKEN_OK, whatever else is there;
 *   4. http_token_equal agrees with memcmp on the two values, and
 *      http_token_valid accepts only the documented alphabet and lengths.
 * Any broken oracle calls abort().
 *
 * Threading: single-threaded, like libFuzzer's driver.
 */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN  "tok-0123456789abcdef"
#define COOKIE "strata_token"

static void check(bool ok)
{
    if (!ok)
        abort();
}

static char *copy(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s != NULL) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static bool in_alphabet(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

static void check_valid(const char *s, size_t n)
{
    if (!http_token_valid(s, n))
        return;
    check(n >= HTTP_MIN_TOKEN_BYTES && n <= HTTP_MAX_TOKEN_BYTES && s[0] != '=');
    bool pad = false;
    for (size_t i = 0; i < n; i++) {
        check(in_alphabet(s[i]) && (!pad || s[i] == '='));
        pad = s[i] == '=';
    }
}

static void check_equal(const char *a, const char *b)
{
    size_t an = strlen(a), bn = strlen(b);
    bool same = bn > 0 && an == bn && memcmp(a, b, an) == 0;
    check(http_token_equal(a, an, b, bn) == same);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *name = (data[0] & 1) ? COOKIE : NULL;
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    const uint8_t *nul = memchr(rest, 0, n);
    size_t an = nul != NULL ? (size_t)(nul - rest) : n;
    const uint8_t *c = nul != NULL ? nul + 1 : rest + n;
    const uint8_t *cend = memchr(c, 0, (size_t)(rest + n - c));
    size_t cn = cend != NULL ? (size_t)(cend - c) : (size_t)(rest + n - c);
    char *auth = (data[0] & 2) ? NULL : copy(rest, an);
    char *cookies = (data[0] & 4) ? NULL : copy(c, cn);
    size_t tn = strlen(TOKEN);

    http_token_check_t r = http_token_check(auth, cookies, name, TOKEN, tn);
    if (r == HTTP_TOKEN_OK)
        check((auth != NULL && strstr(auth, TOKEN) != NULL) ||
              (name != NULL && cookies != NULL && strstr(cookies, TOKEN) != NULL));
    check(http_token_check(NULL, NULL, name, TOKEN, tn) == HTTP_TOKEN_MISSING);
    if (http_token_check(auth, cookies, NULL, TOKEN, tn) == HTTP_TOKEN_OK)
        check(http_token_check(auth, NULL, name, TOKEN, tn) == HTTP_TOKEN_OK);
    check(http_token_check("Bearer " TOKEN, cookies, name, TOKEN, tn) == HTTP_TOKEN_OK);
    check(http_token_check(auth, COOKIE "=" TOKEN, COOKIE, TOKEN, tn) == HTTP_TOKEN_OK);

    if (auth != NULL) {
        check_valid(auth, strlen(auth));
        if (cookies != NULL)
            check_equal(auth, cookies);
        check_equal(auth, TOKEN);
    }
    free(auth);
    free(cookies);
    return 0;
}
