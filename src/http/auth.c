/*
 * auth.c - the access token (http.h, "Access token"): its syntax, the
 * constant-time comparison, and the gate every request passes once its
 * headers are read, before the body is read or a route is looked up.
 *
 * Where a token may be: "Authorization: Bearer <token>" (RFC 6750 §2.1),
 * or the cookie named by cfg.token_cookie. Either one matching lets the
 * request through; a request carrying a wrong one is told so with
 * error="invalid_token" in WWW-Authenticate (RFC 6750 §3.1).
 *
 * Invariants: a token never reaches a log line, an error detail or an
 * answer; comparisons run in time that depends on the length of what the
 * client sent only. GET and HEAD /healthz pass without a token.
 *
 * Threading: http_token_* are pure (and fuzzed: tests/fuzz/http_token.c);
 * http_auth_check() runs on the server thread of its request and reads
 * the server's immutable token.
 */
#include "http/http_int.h"

#include <string.h>
#include <strings.h>

bool http_token_valid(const char *token, size_t len)
{
    if (token == NULL || len < HTTP_MIN_TOKEN_BYTES || len > HTTP_MAX_TOKEN_BYTES)
        return false;
    size_t i = 0;
    for (; i < len; i++) {
        char c = token[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
        if (!ok)
            break;
    }
    if (i == 0)
        return false;
    while (i < len && token[i] == '=')
        i++;
    return i == len;
}

bool http_token_equal(const char *given, size_t given_len, const char *want, size_t want_len)
{
    if (want_len == 0)
        return false;
    /* Every byte of given is compared with a byte of want (cycling when
     * given is longer), so the loop's length and memory accesses depend on
     * given_len alone; the lengths are folded into the same accumulator. */
    volatile unsigned char diff = (unsigned char)(given_len != want_len);
    for (size_t i = 0; i < given_len; i++)
        diff |= (unsigned char)(given[i] ^ want[i % want_len]);
    return diff == 0;
}

/* The token of "Bearer <token>" (scheme case-insensitive, blanks around
 * the token skipped): *len bytes at the returned pointer, or NULL when the
 * header is another scheme. */
static const char *bearer(const char *auth, size_t *len)
{
    while (*auth == ' ' || *auth == '\t')
        auth++;
    if (strncasecmp(auth, "Bearer", 6) != 0 || (auth[6] != ' ' && auth[6] != '\t'))
        return NULL;
    const char *t = auth + 7;
    while (*t == ' ' || *t == '\t')
        t++;
    size_t n = strlen(t);
    while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    *len = n;
    return t;
}

/* Looks for the cookie `name` in a Cookie header ("a=1; b=2"): true when
 * one of that name holds the token. *seen is set when one was there. */
static bool cookie_matches(const char *header, const char *name, const char *token,
                           size_t token_len, bool *seen)
{
    size_t name_len = strlen(name);
    bool match = false;
    const char *p = header;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n > name_len && p[name_len] == '=' && memcmp(p, name, name_len) == 0) {
            const char *v = p + name_len + 1;
            size_t vn = n - name_len - 1;
            while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
                vn--;
            *seen = true;
            match |= http_token_equal(v, vn, token, token_len);
        }
        p += n;
    }
    return match;
}

http_token_check_t http_token_check(const char *authorization, const char *cookies,
                                    const char *cookie_name, const char *token, size_t token_len)
{
    bool sent = false;
    size_t len = 0;
    const char *t = authorization != NULL ? bearer(authorization, &len) : NULL;
    if (t != NULL) {
        sent = true;
        if (http_token_equal(t, len, token, token_len))
            return HTTP_TOKEN_OK;
    }
    if (cookies != NULL && cookie_name != NULL &&
        cookie_matches(cookies, cookie_name, token, token_len, &sent))
        return HTTP_TOKEN_OK;
    return sent ? HTTP_TOKEN_WRONG : HTTP_TOKEN_MISSING;
}

/* True for the requests served without a token: GET and HEAD /healthz. */
static bool open_request(const http_request_t *r)
{
    return (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) &&
           strcmp(r->path, "/healthz") == 0;
}

static bool wants_html(const http_request_t *r)
{
    const char *accept = http_request_header(r, MHD_HTTP_HEADER_ACCEPT);
    return accept != NULL && strstr(accept, "text/html") != NULL &&
           (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0);
}

static int answer_unauthorized(http_request_t *r, bool wrong)
{
    const http_server_t *s = r->srv;
    http_stat_add(&r->srv->stats.unauthorized, 1);
    int rc = http_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                  wrong ? "Bearer error=\"invalid_token\"" : "Bearer");
    if (rc == 0)
        rc = http_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (rc != 0)
        return rc;
    if (s->cfg.unauthorized_html != NULL && wants_html(r))
        return http_respond_static(r, 401, "text/html; charset=utf-8", s->cfg.unauthorized_html,
                                   s->cfg.unauthorized_html_len);
    if (wrong)
        return http_respond_error(r, 401, "the access token is not valid");
    return http_respond_error(r, 401,
                              "%s %s needs the access token: send Authorization: Bearer <token>",
                              r->method, r->path);
}

int http_auth_check(http_request_t *r)
{
    const http_server_t *s = r->srv;
    if (s->token == NULL || open_request(r))
        return 1;
    const char *auth = http_request_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *cookies =
        s->token_cookie != NULL ? http_request_header(r, MHD_HTTP_HEADER_COOKIE) : NULL;
    http_token_check_t c = http_token_check(auth, cookies, s->token_cookie, s->token, s->token_len);
    if (c == HTTP_TOKEN_OK)
        return 1;
    return answer_unauthorized(r, c == HTTP_TOKEN_WRONG); /* 0: answered */
}
