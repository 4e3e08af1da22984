/*
 * server.c - the HTTP server: the listener, the route table and the glue
 * to libmicrohttpd (MHD).
 *
 * The listener is bound here at create, so the port is known before any
 * thread runs and a bind failure is an ordinary error with its reason; MHD
 * gets the socket at start (MHD_OPTION_LISTEN_SOCKET) and closes it when
 * stopped.
 *
 * A request goes through MHD's access handler several times:
 *   1. headers read: the request object is made; a request without the
 *      access token (when one is set) is answered 401 at once (auth.c),
 *      before any body byte is kept; a Content-Length over the
 *      cap is answered 413 at once when the client waits for "100
 *      Continue" (it then never sends the body) or when the body is more
 *      than twice the cap;
 *   2. body chunks: appended to the capped body buffer; past the cap they
 *      are counted and dropped (so the client, still sending, reads a clean
 *      413 rather than a reset), and past twice the cap the connection is
 *      closed;
 *   3. end of body: 413 if it overflowed, else the router picks the route
 *      and runs its handler, which answers.
 * MHD's completion callback frees the request.
 *
 * Invariants: routes are only added before start, so the table is
 * read-only while threads run; every answer goes through http_queue().
 *
 * Threading: MHD runs `threads` polling threads, each serving its own
 * connections; a request never moves between threads.
 */
#include "http/http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY     (8u << 20)
#define DEFAULT_MAX_HEADER   (32u << 10)
#define DEFAULT_MAX_RESPONSE (64u << 20)
#define LISTEN_BACKLOG       128

void http_config_default(http_config_t *cfg)
{
    *cfg = (http_config_t){
        .listen = "127.0.0.1:8080",
        .max_body_bytes = DEFAULT_MAX_BODY,
        .max_header_bytes = DEFAULT_MAX_HEADER,
        .max_response_bytes = DEFAULT_MAX_RESPONSE,
        .max_connections = 256,
        .threads = 2,
        .idle_timeout_s = 30,
    };
}

/* ---- The listener. */

static int open_listener(http_server_t *s, const char *listen)
{
    return core_listen_tcp(listen, "http", "8080", LISTEN_BACKLOG, &s->lfd, &s->port);
}

/* ---- Create, routes, start, stop. */

static bool cookie_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* The token's own bytes never go into a message. */
static int check_token(const http_config_t *c)
{
    if (c->token == NULL || c->token[0] == '\0')
        return 0;
    size_t n = strlen(c->token);
    if (!http_token_valid(c->token, n))
        return core_error(CORE_EINVAL,
                          "http: the access token (%zu bytes) must be %d to %d bytes of A-Z a-z "
                          "0-9 - . _ ~ + / with optional '=' at the end (e.g. 32 random bytes "
                          "in hex: openssl rand -hex 32)",
                          n, HTTP_MIN_TOKEN_BYTES, HTTP_MAX_TOKEN_BYTES);
    if (c->token_cookie != NULL && !cookie_name_valid(c->token_cookie))
        return core_error(CORE_EINVAL,
                          "http: token cookie name '%.64s' must be 1 to 64 bytes of A-Z a-z 0-9 "
                          "_ -",
                          c->token_cookie);
    return 0;
}

static int check_config(const http_config_t *c)
{
    if (c->listen == NULL || c->listen[0] == '\0')
        return core_error(CORE_EINVAL, "http: listen is missing (e.g. 127.0.0.1:8080)");
    if (strlen(c->listen) >= sizeof((http_server_t *)0)->listen)
        return core_error(CORE_EINVAL, "http: listen address of %zu bytes is too long",
                          strlen(c->listen));
    if (c->max_body_bytes == 0 || c->max_response_bytes == 0)
        return core_error(CORE_EINVAL, "http: max_body_bytes and max_response_bytes must be > 0");
    if (c->max_header_bytes < HTTP_MIN_HEADER_BYTES)
        return core_error(CORE_EINVAL, "http: max_header_bytes is %zu; it must be >= %d",
                          c->max_header_bytes, HTTP_MIN_HEADER_BYTES);
    if (c->threads < 1 || c->threads > HTTP_MAX_THREADS)
        return core_error(CORE_EINVAL, "http: threads is %u; it must be 1..%d", c->threads,
                          HTTP_MAX_THREADS);
    if (c->max_connections < c->threads)
        return core_error(CORE_EINVAL, "http: max_connections is %u; it must be >= threads (%u)",
                          c->max_connections, c->threads);
    if (c->idle_timeout_s == 0)
        return core_error(CORE_EINVAL, "http: idle_timeout_s must be > 0");
    return check_token(c);
}

static int healthz(http_request_t *r, void *arg)
{
    (void)arg;
    static const char ok[] = "{\"status\":\"ok\"}";
    return http_respond_static(r, 200, "application/json", ok, sizeof ok - 1);
}

static int copy_token(http_server_t *s, const http_config_t *cfg)
{
    if (cfg->token == NULL || cfg->token[0] == '\0')
        return 0;
    s->token_len = strlen(cfg->token);
    s->token = core_strdup(CORE_MEM_HTTP, cfg->token);
    if (s->token == NULL)
        return core_error(CORE_ENOMEM, "http: out of memory");
    if (cfg->token_cookie != NULL &&
        (s->token_cookie = core_strdup(CORE_MEM_HTTP, cfg->token_cookie)) == NULL)
        return core_error(CORE_ENOMEM, "http: out of memory");
    return 0;
}

int http_server_create(const http_config_t *cfg, http_server_t **out)
{
    *out = NULL;
    int rc = check_config(cfg);
    if (rc != 0)
        return rc;
    http_server_t *s = core_calloc(CORE_MEM_HTTP, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "http: out of memory");
    s->cfg = *cfg;
    s->cfg.listen = NULL;
    s->cfg.token = NULL;
    s->cfg.token_cookie = NULL;
    snprintf(s->listen, sizeof s->listen, "%s", cfg->listen);
    s->lfd = -1;
    rc = copy_token(s, cfg);
    if (rc == 0)
        rc = open_listener(s, s->listen);
    if (rc == 0)
        rc = http_route(s, "GET", "/healthz", healthz, NULL);
    if (rc != 0) {
        http_server_destroy(s);
        return rc;
    }
    *out = s;
    return 0;
}

static bool method_valid(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > 16)
        return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z')
            return false;
    return true;
}

static bool param_name_valid(const char *seg, size_t n)
{
    if (n < 3 || seg[0] != '{' || seg[n - 1] != '}')
        return false;
    for (size_t i = 1; i + 1 < n; i++) {
        char c = seg[i];
        bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 1 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

/* Splits pattern into rt->segs (owned copies), checking its shape. */
static int parse_pattern(const char *pattern, http_route_t *rt)
{
    if (pattern[0] != '/')
        return core_error(CORE_EINVAL, "http: route '%s' does not start with '/'", pattern);
    size_t params = 0;
    const char *p = pattern + 1;
    while (*p != '\0') {
        const char *end = strchr(p, '/');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == 0)
            return core_error(CORE_EINVAL, "http: route '%s' has an empty segment", pattern);
        if (rt->n_segs == HTTP_MAX_ROUTE_SEGMENTS)
            return core_error(CORE_EINVAL, "http: route '%s' has more than %d segments", pattern,
                              HTTP_MAX_ROUTE_SEGMENTS);
        bool braces = memchr(p, '{', n) != NULL || memchr(p, '}', n) != NULL;
        if (braces && !param_name_valid(p, n))
            return core_error(CORE_EINVAL,
                              "http: route '%s': a parameter is a whole segment {name}, name "
                              "of a-z, 0-9 and _",
                              pattern);
        if (braces && ++params > HTTP_MAX_PARAMS)
            return core_error(CORE_EINVAL, "http: route '%s' has more than %d parameters", pattern,
                              HTTP_MAX_PARAMS);
        rt->segs[rt->n_segs] = core_strndup(CORE_MEM_HTTP, p, n);
        if (rt->segs[rt->n_segs++] == NULL)
            return core_error(CORE_ENOMEM, "http: out of memory");
        p += n + (end != NULL);
        if (end != NULL && *p == '\0')
            return core_error(CORE_EINVAL, "http: route '%s' ends with '/'", pattern);
    }
    return 0;
}

static void route_fini(http_route_t *rt)
{
    core_free(rt->method);
    for (size_t i = 0; i < rt->n_segs; i++)
        core_free(rt->segs[i]);
}

int http_route(http_server_t *s, const char *method, const char *pattern, http_handler_fn fn,
               void *arg)
{
    if (s->daemon != NULL)
        return core_error(CORE_EINVAL, "http: route %s %s added after start", method, pattern);
    if (!method_valid(method) || fn == NULL)
        return core_error(CORE_EINVAL, "http: route %s %s: bad method or no handler", method,
                          pattern);
    if (s->n_routes == s->cap_routes) {
        size_t cap = s->cap_routes ? s->cap_routes * 2 : 8;
        http_route_t *r = core_realloc(CORE_MEM_HTTP, s->routes, cap * sizeof *r);
        if (r == NULL)
            return core_error(CORE_ENOMEM, "http: out of memory");
        s->routes = r;
        s->cap_routes = cap;
    }
    http_route_t rt = {.fn = fn, .arg = arg};
    int rc = parse_pattern(pattern, &rt);
    if (rc == 0 && (rt.method = core_strdup(CORE_MEM_HTTP, method)) == NULL)
        rc = core_error(CORE_ENOMEM, "http: out of memory");
    if (rc != 0) {
        route_fini(&rt);
        return rc;
    }
    s->routes[s->n_routes++] = rt;
    return 0;
}

/* ---- Requests. */

static void request_free(http_request_t *r)
{
    if (r == NULL)
        return;
    core_free(r->path);
    core_free(r->split);
    core_buf_fini(&r->body);
    core_buf_fini(&r->out);
    for (size_t i = 0; i < r->n_hdrs; i++) {
        core_free(r->hdr_names[i]);
        core_free(r->hdr_values[i]);
    }
    core_free(r);
}

static http_request_t *request_new(http_server_t *s, struct MHD_Connection *conn, const char *url,
                                   const char *method)
{
    http_request_t *r = core_calloc(CORE_MEM_HTTP, 1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->srv = s;
    r->conn = conn;
    r->method = method;
    r->path = core_strdup(CORE_MEM_HTTP, url);
    core_buf_init(&r->body, CORE_MEM_HTTP, s->cfg.max_body_bytes);
    core_buf_init(&r->out, CORE_MEM_HTTP, s->cfg.max_response_bytes);
    if (r->path == NULL) {
        request_free(r);
        return NULL;
    }
    return r;
}

static enum MHD_Result answer_too_big(http_request_t *r)
{
    http_stat_add(&r->srv->stats.oversized_bodies, 1);
    int rc = http_respond_error(r, 413, "request body exceeds the limit of %zu bytes",
                                r->srv->cfg.max_body_bytes);
    return rc == 0 ? MHD_YES : MHD_NO;
}

/* Step 1: a declared body over the cap. */
static enum MHD_Result check_length(http_request_t *r)
{
    const char *cl = http_request_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    int64_t n;
    if (cl == NULL || core_parse_i64(cl, 0, INT64_MAX, &n) != 0 ||
        (uint64_t)n <= r->srv->cfg.max_body_bytes)
        return MHD_YES;
    const char *expect = http_request_header(r, MHD_HTTP_HEADER_EXPECT);
    bool waits = expect != NULL && strcasecmp(expect, "100-continue") == 0;
    if (waits || (uint64_t)n / 2 > r->srv->cfg.max_body_bytes)
        return answer_too_big(r);
    return MHD_YES;
}

/* Step 2: one chunk of the body. */
static enum MHD_Result take_body(http_request_t *r, const char *data, size_t n)
{
    if (r->answered)
        return MHD_YES;
    if (!r->too_big) {
        int rc = core_buf_append(&r->body, data, n);
        if (rc == 0) {
            http_stat_add(&r->srv->stats.body_bytes, (int64_t)n);
            return MHD_YES;
        }
        if (rc != CORE_ETOOBIG) {
            core_log(CORE_LOG_WARN, "http", "%s %s: out of memory for the body; closing", r->method,
                     r->path);
            return MHD_NO;
        }
        r->too_big = true;
        r->dropped = r->body.len;
        core_buf_fini(&r->body);
    }
    r->dropped += n;
    return r->dropped / 2 > r->srv->cfg.max_body_bytes ? MHD_NO : MHD_YES;
}

/* Splits r->split into r->segs; false when it cannot match any route. */
static bool split_path(http_request_t *r)
{
    char *p = r->split;
    if (*p++ != '/')
        return false;
    if (*p == '\0')
        return true; /* "/": no segments */
    for (;;) {
        if (r->n_segs == HTTP_MAX_ROUTE_SEGMENTS)
            return false;
        r->segs[r->n_segs++] = p;
        char *slash = strchr(p, '/');
        if (slash == NULL)
            return true;
        *slash = '\0';
        p = slash + 1;
    }
}

static bool route_matches(const http_route_t *rt, const http_request_t *r)
{
    if (rt->n_segs != r->n_segs)
        return false;
    for (size_t i = 0; i < rt->n_segs; i++) {
        if (rt->segs[i][0] == '{' ? r->segs[i][0] == '\0' : strcmp(rt->segs[i], r->segs[i]) != 0)
            return false;
    }
    return true;
}

static bool method_matches(const http_route_t *rt, const char *method)
{
    return strcmp(rt->method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(rt->method, "GET") == 0);
}

/* Answers 404 or 405 (Allow: the methods of the routes matching the path). */
static int answer_no_route(http_request_t *r)
{
    char allow[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < r->srv->n_routes; i++) {
        const http_route_t *rt = &r->srv->routes[i];
        if (!route_matches(rt, r) || strstr(allow, rt->method) != NULL)
            continue;
        int n = snprintf(allow + used, sizeof allow - used, "%s%s", used ? ", " : "", rt->method);
        if (n > 0 && (size_t)n < sizeof allow - used)
            used += (size_t)n;
    }
    if (used == 0) {
        http_stat_add(&r->srv->stats.not_found, 1);
        return http_respond_error(r, 404, "no resource at %s", r->path);
    }
    http_stat_add(&r->srv->stats.bad_method, 1);
    int rc = http_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (rc != 0)
        return rc;
    return http_respond_error(r, 405, "method %s is not allowed on %s (allowed: %s)", r->method,
                              r->path, allow);
}

/* Step 3: route and run the handler. */
static enum MHD_Result dispatch(http_request_t *r)
{
    http_server_t *s = r->srv;
    http_stat_add(&s->stats.requests, 1);
    r->split = core_strdup(CORE_MEM_HTTP, r->path);
    if (r->split == NULL)
        return MHD_NO;
    bool splittable = split_path(r);
    for (size_t i = 0; splittable && i < s->n_routes && r->route == NULL; i++) {
        if (route_matches(&s->routes[i], r) && method_matches(&s->routes[i], r->method))
            r->route = &s->routes[i];
    }
    int rc = 0;
    if (r->route != NULL) {
        core_error_clear();
        rc = r->route->fn(r, r->route->arg);
    } else if (splittable) {
        rc = answer_no_route(r);
    } else {
        http_stat_add(&s->stats.not_found, 1);
        rc = http_respond_error(r, 404, "no resource at %s", r->path);
    }
    if (!r->answered) {
        http_stat_add(&s->stats.handler_errors, 1);
        if (rc < 0)
            http_respond_error(r, 500, "%s %s failed: %s%s%s", r->method, r->path,
                               core_strerror(rc), core_error_detail()[0] ? ": " : "",
                               core_error_detail());
        else
            http_respond_error(r, 500, "%s %s: the handler did not answer", r->method, r->path);
    }
    return r->answered ? MHD_YES : MHD_NO;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    (void)version;
    http_request_t *r = *con_cls;
    if (r == NULL) {
        r = request_new(cls, conn, url, method);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        int auth = http_auth_check(r);
        if (auth <= 0)
            return auth == 0 ? MHD_YES : MHD_NO;
        return check_length(r);
    }
    if (*upload_size > 0) {
        enum MHD_Result res = take_body(r, upload, *upload_size);
        *upload_size = 0;
        return res;
    }
    if (r->answered)
        return MHD_YES;
    if (r->too_big)
        return answer_too_big(r);
    return dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request_free(*con_cls);
    *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void on_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    core_log(CORE_LOG_INFO, "http", "%s", msg);
}

int http_server_start(http_server_t *s)
{
    if (s->daemon != NULL || s->lfd < 0)
        return core_error(CORE_EINVAL, "http: %s: already started or stopped", s->listen);
    const http_config_t *c = &s->cfg;
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)c->max_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)c->idle_timeout_s, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)c->max_header_bytes, NULL},
        /* MHD warns about a pool of one: leave the option out then. */
        {c->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)c->threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    s->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_access, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_log, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->lfd,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (s->daemon == NULL)
        return core_error(CORE_EIO, "http: %s: libmicrohttpd did not start (%s)", s->listen,
                          strerror(errno));
    s->lfd = -1; /* MHD closes it when stopped */
    return 0;
}

int http_server_port(const http_server_t *s)
{
    return s->port;
}

void http_server_stop(http_server_t *s)
{
    if (s == NULL)
        return;
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
    if (s->lfd >= 0)
        close(s->lfd);
    s->lfd = -1;
}

void http_server_destroy(http_server_t *s)
{
    if (s == NULL)
        return;
    http_server_stop(s);
    for (size_t i = 0; i < s->n_routes; i++)
        route_fini(&s->routes[i]);
    core_free(s->routes);
    if (s->token != NULL)
        explicit_bzero(s->token, s->token_len);
    core_free(s->token);
    core_free(s->token_cookie);
    core_free(s);
}

void http_server_stats(const http_server_t *s, http_stats_t *out)
{
    const int64_t *src = (const int64_t *)&s->stats;
    int64_t *dst = (int64_t *)out;
    for (size_t i = 0; i < sizeof *out / sizeof(int64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
