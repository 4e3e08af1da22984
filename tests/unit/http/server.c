/*
 * Unit tests of the HTTP server (src/http/server.c, response.c). Each test
 * starts a real server on 127.0.0.1, port 0, and talks to it with a small
 * raw-socket HTTP/1.1 client (below), so what is checked is what goes over
 * the wire: status lines, headers, bodies, chunked encoding.
 *
 * Teardown destroys the server even when a test failed, then checks that
 * no CORE_MEM_HTTP byte is left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define BODY_CAP     1024
#define REPLY_MAX    (1u << 20)
#define WAIT_SECONDS 10

/* ---- The client. */

typedef struct {
    int status; /* 0: no status line (the connection was closed or reset) */
    char head[8192];
    char *body; /* malloc'd, NUL-terminated, dechunked */
    size_t body_len;
} reply_t;

static void reply_free(reply_t *r)
{
    free(r->body);
    r->body = NULL;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = WAIT_SECONDS};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the server may close early; the reply says what happened */
        c += w;
        n -= (size_t)w;
    }
}

/* Reads until EOF (the requests say Connection: close). */
static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    return n;
}

static const char *find_header(const reply_t *r, const char *name)
{
    static __thread char value[512];
    size_t n = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r");
            snprintf(value, sizeof value, "%.*s", (int)len, v);
            return value;
        }
    }
    return NULL;
}

static void dechunk(reply_t *r, const char *p, const char *end)
{
    size_t out = 0;
    while (p < end) {
        char *next;
        unsigned long size = strtoul(p, &next, 16);
        const char *data = strstr(next, "\r\n");
        if (data == NULL || size == 0)
            break;
        data += 2;
        if ((size_t)(end - data) < size)
            break;
        memcpy(r->body + out, data, size);
        out += size;
        p = data + size + 2;
    }
    r->body[out] = '\0';
    r->body_len = out;
}

static void parse_reply(const char *buf, size_t n, reply_t *r)
{
    memset(r, 0, sizeof *r);
    r->body = calloc(1, n + 1);
    assert_non_null(r->body);
    const char *sep = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) != 0 || sep == NULL)
        return;
    r->status = (int)strtol(buf + 9, NULL, 10);
    snprintf(r->head, sizeof r->head, "%.*s", (int)(sep - buf), buf);
    const char *body = sep + 4;
    const char *te = find_header(r, "Transfer-Encoding");
    if (te != NULL && strcasecmp(te, "chunked") == 0) {
        dechunk(r, body, buf + n);
    } else {
        r->body_len = (size_t)(buf + n - body);
        memcpy(r->body, body, r->body_len);
    }
}

/* Sends raw request bytes and reads the whole reply. */
static void exchange(int port, const char *req, size_t len, reply_t *out)
{
    int fd = connect_to(port);
    send_all(fd, req, len);
    char *buf = malloc(REPLY_MAX);
    assert_non_null(buf);
    size_t n = read_all(fd, buf, REPLY_MAX);
    close(fd);
    parse_reply(buf, n, out);
    free(buf);
}

static void get(int port, const char *method, const char *target, reply_t *out)
{
    char req[1024];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                     method, target);
    exchange(port, req, (size_t)n, out);
}

static void post(int port, const char *target, const char *ctype, const char *body, size_t len,
                 reply_t *out)
{
    size_t cap = len + 1024;
    char *req = malloc(cap);
    assert_non_null(req);
    int n = snprintf(req, cap,
                     "POST %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: "
                     "%s\r\nContent-Length: %zu\r\n\r\n",
                     target, ctype, len);
    memcpy(req + n, body, len);
    exchange(port, req, (size_t)n + len, out);
    free(req);
}

/* ---- The fixture and its handlers. */

typedef struct {
    http_server_t *srv;
    int port;
    int second_answer_rc;
} fixture_t;

static int h_echo(http_request_t *r, void *arg)
{
    (void)arg;
    const char *q = http_request_query(r, "q");
    const char *hdr = http_request_header(r, "x-test");
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    const char *keys[] = {"a", "b", "q", "header", "path"};
    const char *vals[] = {http_request_param(r, "a"), http_request_param(r, "b"), q, hdr,
                          http_request_path(r)};
    for (size_t i = 0; i < 5; i++) {
        core_json_write_key(w, keys[i], strlen(keys[i]));
        if (vals[i] == NULL)
            core_json_write_null(w);
        else
            core_json_write_string(w, vals[i], strlen(vals[i]));
    }
    core_json_write_key(w, "missing_param", 13);
    core_json_write_bool(w, http_request_param(r, "nope") != NULL);
    core_json_write_object_end(w);
    return http_respond_json(r, 200);
}

static int h_body(http_request_t *r, void *arg)
{
    (void)arg;
    size_t len;
    const char *b = http_request_body(r, &len);
    char out[128];
    int n = snprintf(out, sizeof out, "%zu %s %d", len, b != NULL ? "data" : "null",
                     http_request_content_type_is(r, "application/json"));
    assert_int_equal(http_response_header(r, "X-Len", "yes"), 0);
    return http_respond(r, 201, "text/plain", out, (size_t)n);
}

static int h_silent(http_request_t *r, void *arg)
{
    (void)r;
    (void)arg;
    return 0;
}

static int h_failing(http_request_t *r, void *arg)
{
    (void)r;
    (void)arg;
    return core_error(CORE_ENOENT, "the thing called zork is missing");
}

static int h_twice(http_request_t *r, void *arg)
{
    fixture_t *fx = arg;
    int rc = http_respond(r, 200, "text/plain", "one", 3);
    fx->second_answer_rc = http_respond(r, 200, "text/plain", "two", 3);
    return rc;
}

typedef struct {
    int next;
} counter_t;

static ssize_t count_lines(void *arg, uint64_t pos, char *buf, size_t cap)
{
    (void)pos;
    counter_t *c = arg;
    if (c->next == 1000)
        return HTTP_STREAM_END;
    int n = snprintf(buf, cap, "line %d\n", c->next);
    if (n <= 0 || (size_t)n >= cap)
        return HTTP_STREAM_ERROR;
    c->next++;
    return n;
}

static int h_stream(http_request_t *r, void *arg)
{
    (void)arg;
    counter_t *c = calloc(1, sizeof *c);
    return http_respond_stream(r, 200, "text/plain", count_lines, free, c);
}

#define TOKEN       "tok-0123456789abcdef_XYZ~+/=="
#define SIGNIN_PAGE "<!doctype html><title>sign in</title>"

static int start_server_with(void **state, size_t threads, const char *token)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    http_config_t cfg;
    http_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.max_body_bytes = BODY_CAP;
    cfg.max_header_bytes = HTTP_MIN_HEADER_BYTES;
    cfg.threads = (unsigned)threads;
    cfg.token = token;
    cfg.token_cookie = "strata_token";
    cfg.unauthorized_html = SIGNIN_PAGE;
    cfg.unauthorized_html_len = strlen(SIGNIN_PAGE);
    assert_int_equal(http_server_create(&cfg, &fx->srv), 0);
    fx->port = http_server_port(fx->srv);
    assert_true(fx->port > 0);
    assert_int_equal(http_route(fx->srv, "GET", "/echo/{a}/x/{b}", h_echo, fx), 0);
    assert_int_equal(http_route(fx->srv, "POST", "/body", h_body, fx), 0);
    assert_int_equal(http_route(fx->srv, "PUT", "/body", h_body, fx), 0);
    assert_int_equal(http_route(fx->srv, "GET", "/silent", h_silent, fx), 0);
    assert_int_equal(http_route(fx->srv, "GET", "/failing", h_failing, fx), 0);
    assert_int_equal(http_route(fx->srv, "GET", "/twice", h_twice, fx), 0);
    assert_int_equal(http_route(fx->srv, "GET", "/stream", h_stream, fx), 0);
    assert_int_equal(http_server_start(fx->srv), 0);
    *state = fx;
    return 0;
}

static int start_server(void **state, size_t threads)
{
    return start_server_with(state, threads, NULL);
}

static int setup(void **state)
{
    return start_server(state, 2);
}

static int setup_token(void **state)
{
    return start_server_with(state, 2, TOKEN);
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    http_server_destroy(fx->srv);
    free(fx);
    core_mem_stats_t st;
    core_mem_stats(CORE_MEM_HTTP, &st);
    assert_int_equal(st.bytes, 0);
    return 0;
}

/* ---- Tests. */

static void test_healthz(void **state)
{
    fixture_t *fx = *state;
    reply_t r;
    get(fx->port, "GET", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    assert_string_equal(find_header(&r, "Content-Type"), "application/json");
    reply_free(&r);
    get(fx->port, "HEAD", "/healthz", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    reply_free(&r);
}

static void test_path_params_query_and_headers(void **state)
{
    fixture_t *fx = *state;
    const char *req = "GET /echo/one/x/t%20wo?q=hello%20world&z=1 HTTP/1.1\r\nHost: t\r\n"
                      "X-Test: yes\r\nConnection: close\r\n\r\n";
    reply_t r;
    exchange(fx->port, req, strlen(req), &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"a\":\"one\",\"b\":\"t wo\",\"q\":\"hello world\",\"header\":"
                                "\"yes\",\"path\":\"/echo/one/x/t wo\",\"missing_param\":false}");
    reply_free(&r);
    get(fx->port, "GET", "/echo/one/x/two?q", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"q\":\"\""));
    assert_non_null(strstr(r.body, "\"header\":null"));
    reply_free(&r);
}

static void test_unknown_routes_are_404(void **state)
{
    fixture_t *fx = *state;
    const char *paths[] = {"/nope",
                           "/healthz/",
                           "/echo/one/x",
                           "/echo//x/two",
                           "/",
                           "/echo/one/x/two/three",
                           "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(paths); i++) {
        reply_t r;
        get(fx->port, "GET", paths[i], &r);
        assert_int_equal(r.status, 404);
        assert_non_null(strstr(r.body, "\"error\":\"no resource at "));
        reply_free(&r);
    }
    http_stats_t st;
    http_server_stats(fx->srv, &st);
    assert_int_equal(st.not_found, (int64_t)CORE_ARRAY_LEN(paths));
    assert_int_equal(st.responses[4], (int64_t)CORE_ARRAY_LEN(paths));
}

static void test_wrong_method_is_405_with_allow(void **state)
{
    fixture_t *fx = *state;
    reply_t r;
    post(fx->port, "/healthz", "application/json", "{}", 2, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(find_header(&r, "Allow"), "GET");
    reply_free(&r);
    get(fx->port, "DELETE", "/body", &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(find_header(&r, "Allow"), "POST, PUT");
    reply_free(&r);
    http_stats_t st;
    http_server_stats(fx->srv, &st);
    assert_int_equal(st.bad_method, 2);
}

static void test_body_within_cap(void **state)
{
    fixture_t *fx = *state;
    char body[BODY_CAP];
    memset(body, 'x', sizeof body);
    reply_t r;
    post(fx->port, "/body", "application/json; charset=utf-8", body, sizeof body, &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "1024 data 1");
    assert_string_equal(find_header(&r, "X-Len"), "yes");
    reply_free(&r);
    post(fx->port, "/body", "application/jsonx", "", 0, &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "0 null 0");
    reply_free(&r);
}

/* A body over the cap, sent in full: read and dropped, then a clean 413. */
static void test_body_over_cap_is_413(void **state)
{
    fixture_t *fx = *state;
    char body[BODY_CAP + 500];
    memset(body, 'x', sizeof body);
    reply_t r;
    post(fx->port, "/body", "text/plain", body, sizeof body, &r);
    assert_int_equal(r.status, 413);
    assert_string_equal(r.body, "{\"error\":\"request body exceeds the limit of 1024 bytes\"}");
    reply_free(&r);
    /* The same in chunks, with no Content-Length. */
    char req[4096];
    int n = snprintf(req, sizeof req,
                     "POST /body HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        n += snprintf(req + n, sizeof req - (size_t)n, "258\r\n");
        memset(req + n, 'y', 600);
        n += 600;
        n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    }
    n += snprintf(req + n, sizeof req - (size_t)n, "0\r\n\r\n");
    exchange(fx->port, req, (size_t)n, &r);
    assert_int_equal(r.status, 413);
    reply_free(&r);
    http_stats_t st;
    http_server_stats(fx->srv, &st);
    assert_int_equal(st.oversized_bodies, 2);
}

/* A client waiting for 100 Continue gets the 413 before sending anything. */
static void test_expect_continue_over_cap(void **state)
{
    fixture_t *fx = *state;
    const char *req = "POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
                      "Expect: 100-continue\r\nConnection: close\r\n\r\n";
    reply_t r;
    exchange(fx->port, req, strlen(req), &r);
    assert_int_equal(r.status, 413);
    reply_free(&r);
}

static void test_headers_over_cap(void **state)
{
    fixture_t *fx = *state;
    size_t big = 2 * HTTP_MIN_HEADER_BYTES;
    char *req = malloc(big + 256);
    assert_non_null(req);
    int n = snprintf(req, big + 256, "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ");
    memset(req + n, 'h', big);
    n += (int)big;
    n += snprintf(req + n, 256, "\r\nConnection: close\r\n\r\n");
    reply_t r;
    exchange(fx->port, req, (size_t)n, &r);
    free(req);
    /* libmicrohttpd answers 431 Request Header Fields Too Large. */
    assert_int_equal(r.status, 431);
    reply_free(&r);
}

static void test_handler_without_answer_is_500(void **state)
{
    fixture_t *fx = *state;
    reply_t r;
    get(fx->port, "GET", "/silent", &r);
    assert_int_equal(r.status, 500);
    assert_string_equal(r.body, "{\"error\":\"GET /silent: the handler did not answer\"}");
    reply_free(&r);
    get(fx->port, "GET", "/failing", &r);
    assert_int_equal(r.status, 500);
    assert_string_equal(
        r.body, "{\"error\":\"GET /failing failed: not found: the thing called zork is missing\"}");
    reply_free(&r);
    http_stats_t st;
    http_server_stats(fx->srv, &st);
    assert_int_equal(st.handler_errors, 2);
    assert_int_equal(st.responses[5], 2);
}

static void test_second_answer_refused(void **state)
{
    fixture_t *fx = *state;
    reply_t r;
    get(fx->port, "GET", "/twice", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "one");
    assert_int_equal(fx->second_answer_rc, CORE_EINVAL);
    reply_free(&r);
}

static void test_streamed_answer(void **state)
{
    fixture_t *fx = *state;
    reply_t r;
    get(fx->port, "GET", "/stream", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(find_header(&r, "Transfer-Encoding"), "chunked");
    char want[16];
    size_t off = 0;
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(want, sizeof want, "line %d\n", i);
        assert_true(off + (size_t)n <= r.body_len);
        assert_memory_equal(r.body + off, want, (size_t)n);
        off += (size_t)n;
    }
    assert_int_equal(off, r.body_len);
    reply_free(&r);
}

static int noop(http_request_t *r, void *arg)
{
    (void)arg;
    return http_respond(r, 204, NULL, "", 0);
}

static void test_route_patterns_checked(void **state)
{
    (void)state;
    http_config_t cfg;
    http_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    http_server_t *s;
    assert_int_equal(http_server_create(&cfg, &s), 0);
    const char *bad[] = {"a",
                         "/a//b",
                         "/a/",
                         "/{A}",
                         "/{x}y",
                         "/{}",
                         "/x{y}",
                         "/{1x}",
                         "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
                         "/1/2/3/4/5/6/7/8/9/10/11/12/13/14/15/16/17"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(bad); i++)
        assert_int_equal(http_route(s, "GET", bad[i], noop, NULL), CORE_EINVAL);
    assert_int_equal(http_route(s, "get", "/x", noop, NULL), CORE_EINVAL);
    assert_int_equal(http_route(s, "GET", "/x", NULL, NULL), CORE_EINVAL);
    assert_int_equal(http_route(s, "GET", "/", noop, NULL), 0);
    assert_int_equal(http_route(s, "GET", "/{a_1}/{b}", noop, NULL), 0);
    assert_int_equal(http_server_start(s), 0);
    assert_int_equal(http_route(s, "GET", "/late", noop, NULL), CORE_EINVAL);
    reply_t r;
    get(http_server_port(s), "GET", "/", &r);
    assert_int_equal(r.status, 204);
    reply_free(&r);
    http_server_stop(s);
    http_server_stop(s);
    assert_int_equal(http_server_start(s), CORE_EINVAL);
    http_server_destroy(s);
}

static void test_listen_errors(void **state)
{
    fixture_t *fx = *state;
    http_config_t cfg;
    http_config_default(&cfg);
    http_server_t *s = NULL;
    const char *bad[] = {"nohost",   "127.0.0.1:99999", "[::1]8080",
                         "::1:8080", ":8080",           "127.0.0.1:x"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(bad); i++) {
        cfg.listen = bad[i];
        assert_int_equal(http_server_create(&cfg, &s), CORE_EINVAL);
        assert_null(s);
    }
    char taken[64];
    snprintf(taken, sizeof taken, "127.0.0.1:%d", fx->port);
    cfg.listen = taken;
    assert_int_equal(http_server_create(&cfg, &s), CORE_EIO);
    assert_non_null(strstr(core_error_detail(), "Address already in use"));
    cfg.listen = "127.0.0.1:0";
    cfg.threads = 0;
    assert_int_equal(http_server_create(&cfg, &s), CORE_EINVAL);
    cfg.threads = 2;
    cfg.max_header_bytes = 100;
    assert_int_equal(http_server_create(&cfg, &s), CORE_EINVAL);
    http_server_destroy(NULL);
}

static void test_one_thread_server(void **state)
{
    fixture_t *fx = *state;
    reply_t r;
    for (int i = 0; i < 3; i++) {
        get(fx->port, "GET", "/healthz", &r);
        assert_int_equal(r.status, 200);
        reply_free(&r);
    }
}

static int setup_one_thread(void **state)
{
    return start_server(state, 1);
}

/* With max_connections 2, a third connection is not served while the two
 * are open (it waits, unaccepted), and is served once one of them closes. */
static void test_connection_limit(void **state)
{
    (void)state;
    http_config_t cfg;
    http_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.threads = 1;
    cfg.max_connections = 2;
    http_server_t *s;
    assert_int_equal(http_server_create(&cfg, &s), 0);
    assert_int_equal(http_server_start(s), 0);
    int port = http_server_port(s);
    int held[2] = {connect_to(port), connect_to(port)};
    /* Both are served, and stay open (keep-alive). */
    const char *req = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    char buf[512];
    for (int i = 0; i < 2; i++) {
        send_all(held[i], req, strlen(req));
        assert_true(recv(held[i], buf, sizeof buf, 0) > 0);
    }
    const char *last = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    int third = connect_to(port);
    send_all(third, last, strlen(last));
    struct pollfd pfd = {.fd = third, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 300), 0);
    close(held[0]);
    size_t n = read_all(third, buf, sizeof buf);
    reply_t r;
    parse_reply(buf, n, &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    close(third);
    close(held[1]);
    http_server_destroy(s);
}

/* ---- The access token. */

/* A GET or HEAD with extra header lines ("Name: value\r\n..."). */
static void get_with(int port, const char *method, const char *target, const char *headers,
                     reply_t *out)
{
    char req[2048];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n",
                     method, target, headers);
    exchange(port, req, (size_t)n, out);
}

static void expect_status(int port, const char *method, const char *target, const char *headers,
                          int status)
{
    reply_t r;
    get_with(port, method, target, headers, &r);
    if (r.status != status)
        fprintf(stderr, "%s %s with [%s]: %d\n%s\n", method, target, headers, r.status, r.body);
    assert_int_equal(r.status, status);
    reply_free(&r);
}

static void test_token_missing_is_401(void **state)
{
    fixture_t *fx = *state;
    reply_t r;
    get_with(fx->port, "GET", "/echo/1/x/2", "", &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(find_header(&r, "WWW-Authenticate"), "Bearer");
    assert_string_equal(find_header(&r, "Content-Type"), "application/json");
    assert_non_null(strstr(r.body, "Authorization: Bearer <token>"));
    reply_free(&r);
    /* A body is never read, a handler never runs, a route never leaks. */
    post(fx->port, "/body", "application/json", "[1,2,3]", 7, &r);
    assert_int_equal(r.status, 401);
    assert_null(find_header(&r, "X-Len"));
    reply_free(&r);
    expect_status(fx->port, "GET", "/no/such/path", "", 401);
    expect_status(fx->port, "DELETE", "/body", "", 401);
    /* Not in the query string either. */
    expect_status(fx->port, "GET", "/echo/1/x/2?token=" TOKEN, "", 401);
    http_stats_t st;
    http_server_stats(fx->srv, &st);
    assert_int_equal(st.unauthorized, 5);
    assert_int_equal(st.requests, 0);
    assert_int_equal(st.responses[4], 5);
}

static void test_token_wrong_is_401(void **state)
{
    fixture_t *fx = *state;
    reply_t r;
    get_with(fx->port, "GET", "/echo/1/x/2",
             "Authorization: Bearer tok-0123456789abcdef_XYZ~+/=-\r\n", &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(find_header(&r, "WWW-Authenticate"), "Bearer error=\"invalid_token\"");
    assert_string_equal(r.body, "{\"error\":\"the access token is not valid\"}");
    assert_null(strstr(r.head, TOKEN));
    reply_free(&r);
    const char *wrong[] = {
        "Authorization: Bearer tok-0123456789abcdef\r\n",    /* a prefix */
        "Authorization: Bearer " TOKEN "x\r\n",              /* longer */
        "Authorization: Bearer\r\n",                         /* empty */
        "Authorization: Basic " TOKEN "\r\n",                /* another scheme */
        "Authorization: Bearer" TOKEN "\r\n",                /* no blank */
        "X-Token: " TOKEN "\r\n",                            /* another header */
        "Cookie: strata_token=tok-0123456789abcdef_XYZ\r\n", /* a wrong cookie */
        "Cookie: other=" TOKEN "\r\n",                       /* another cookie's name */
        "Cookie: xstrata_token=" TOKEN "\r\n",               /* a longer name */
        "Authorization: Bearer " TOKEN " " TOKEN "\r\n",     /* twice */
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(wrong); i++)
        expect_status(fx->port, "GET", "/echo/1/x/2", wrong[i], 401);
}

static void test_token_right_is_served(void **state)
{
    fixture_t *fx = *state;
    const char *right[] = {
        "Authorization: Bearer " TOKEN "\r\n",
        "authorization: bEaReR    " TOKEN "  \r\n",
        "Cookie: a=1; strata_token=" TOKEN "; b=2\r\n",
        "Cookie: strata_token=" TOKEN "\r\n",
        /* A wrong header with a good cookie: the cookie lets it through. */
        "Authorization: Bearer nope\r\nCookie: strata_token=" TOKEN "\r\n",
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(right); i++)
        expect_status(fx->port, "GET", "/echo/1/x/2", right[i], 200);
    reply_t r;
    const char req[] = "POST /body HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                       "Authorization: Bearer " TOKEN "\r\nContent-Type: application/json\r\n"
                       "Content-Length: 7\r\n\r\n[1,2,3]";
    exchange(fx->port, req, sizeof req - 1, &r);
    assert_int_equal(r.status, 201);
    assert_string_equal(r.body, "7 data 1");
    reply_free(&r);
    http_stats_t st;
    http_server_stats(fx->srv, &st);
    assert_int_equal(st.unauthorized, 0);
}

static void test_token_healthz_is_open(void **state)
{
    fixture_t *fx = *state;
    expect_status(fx->port, "GET", "/healthz", "", 200);
    expect_status(fx->port, "HEAD", "/healthz", "", 200);
    expect_status(fx->port, "GET", "/healthz", "Authorization: Bearer wrong-token-xxxxxx\r\n", 200);
    /* Only GET and HEAD of exactly that path. */
    expect_status(fx->port, "POST", "/healthz", "", 401);
    expect_status(fx->port, "GET", "/healthz/x", "", 401);
    expect_status(fx->port, "GET", "/healthzz", "", 401);
}

static void test_token_signin_page_for_browsers(void **state)
{
    fixture_t *fx = *state;
    reply_t r;
    get_with(fx->port, "GET", "/", "Accept: text/html,application/xhtml+xml,*/*;q=0.8\r\n", &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.body, SIGNIN_PAGE);
    assert_true(strncmp(find_header(&r, "Content-Type"), "text/html", 9) == 0);
    assert_string_equal(find_header(&r, "WWW-Authenticate"), "Bearer");
    assert_string_equal(find_header(&r, "Cache-Control"), "no-store");
    reply_free(&r);
    /* Scripts and API calls get JSON. */
    get_with(fx->port, "GET", "/api/x", "Accept: application/json\r\n", &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(find_header(&r, "Content-Type"), "application/json");
    reply_free(&r);
}

/* http_token_equal: the answer; its timing is by construction (auth.c). */
static void test_token_equal(void **state)
{
    (void)state;
    assert_true(http_token_equal("abcdef", 6, "abcdef", 6));
    assert_false(http_token_equal("abcdeg", 6, "abcdef", 6));
    assert_false(http_token_equal("Abcdef", 6, "abcdef", 6));
    assert_false(http_token_equal("abc", 3, "abcdef", 6));           /* a prefix */
    assert_false(http_token_equal("abcdefabc", 9, "abcdef", 6));     /* longer */
    assert_false(http_token_equal("abcdefabcdef", 12, "abcdef", 6)); /* the token twice */
    assert_false(http_token_equal("", 0, "abcdef", 6));
    assert_false(http_token_equal("", 0, "", 0));
    assert_false(http_token_equal("a", 1, "", 0));
    /* Lengths are given, not found: bytes past them do not count. */
    assert_true(http_token_equal("abcdefXYZ", 6, "abcdefQ", 6));
}

static void test_token_syntax(void **state)
{
    (void)state;
    const char *good[] = {"0123456789abcdef", "A-Z.a_z~0+9/xxxxxxx",
                          "abcdefghijklmnop==", "abcdefghijklmnop="};
    for (size_t i = 0; i < CORE_ARRAY_LEN(good); i++)
        assert_true(http_token_valid(good[i], strlen(good[i])));
    const char *bad[] = {"0123456789abcde", /* 15 bytes */
                         "0123456789 abcdef", "0123456789;abcdef", "0123456789\"abcdef",
                         "abcdefgh=ijklmnop", "================",  "0123456789abcdé"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(bad); i++)
        assert_false(http_token_valid(bad[i], strlen(bad[i])));
    char big[HTTP_MAX_TOKEN_BYTES + 2];
    memset(big, 'a', sizeof big);
    assert_true(http_token_valid(big, HTTP_MAX_TOKEN_BYTES));
    assert_false(http_token_valid(big, HTTP_MAX_TOKEN_BYTES + 1));
    assert_false(http_token_valid(NULL, 0));

    /* The server refuses them, without repeating the token. */
    http_config_t cfg;
    http_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    http_server_t *s = NULL;
    cfg.token = "short-secret";
    assert_int_equal(http_server_create(&cfg, &s), CORE_EINVAL);
    assert_null(s);
    assert_non_null(strstr(core_error_detail(), "12 bytes"));
    assert_null(strstr(core_error_detail(), "short-secret"));
    cfg.token = TOKEN;
    cfg.token_cookie = "bad;name";
    assert_int_equal(http_server_create(&cfg, &s), CORE_EINVAL);
    cfg.token_cookie = NULL;
    assert_int_equal(http_server_create(&cfg, &s), 0);
    http_server_destroy(s);
    /* An empty token is no token. */
    cfg.token = "";
    assert_int_equal(http_server_create(&cfg, &s), 0);
    http_server_destroy(s);
}

/* A cookie is only looked at when token_cookie names it. */
static void test_token_cookie_off(void **state)
{
    (void)state;
    http_config_t cfg;
    http_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.token = TOKEN;
    http_server_t *s;
    assert_int_equal(http_server_create(&cfg, &s), 0);
    assert_int_equal(http_route(s, "GET", "/x", noop, NULL), 0);
    assert_int_equal(http_server_start(s), 0);
    int port = http_server_port(s);
    expect_status(port, "GET", "/x", "Cookie: strata_token=" TOKEN "\r\n", 401);
    expect_status(port, "GET", "/x", "Authorization: Bearer " TOKEN "\r\n", 204);
    http_server_destroy(s);
}

/* libmicrohttpd closes a connection that sends nothing for idle_timeout_s
 * (here a request cut off in its headers): the read sees the close, not
 * the client's own 10 s receive timeout. */
static void test_idle_connection_is_closed(void **state)
{
    (void)state;
    http_config_t cfg;
    http_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    cfg.idle_timeout_s = 1;
    http_server_t *s;
    assert_int_equal(http_server_create(&cfg, &s), 0);
    assert_int_equal(http_server_start(s), 0);
    int fd = connect_to(http_server_port(s));
    const char partial[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n";
    send_all(fd, partial, sizeof partial - 1);
    char buf[512];
    ssize_t n;
    do
        n = recv(fd, buf, sizeof buf, 0);
    while (n > 0);
    assert_int_equal(n, 0); /* closed by the server; -1 would be our timeout */
    close(fd);
    http_server_destroy(s);
}

int main(void)
{
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_healthz),
        TEST(test_path_params_query_and_headers),
        TEST(test_unknown_routes_are_404),
        TEST(test_wrong_method_is_405_with_allow),
        TEST(test_body_within_cap),
        TEST(test_body_over_cap_is_413),
        TEST(test_expect_continue_over_cap),
        TEST(test_headers_over_cap),
        TEST(test_handler_without_answer_is_500),
        TEST(test_second_answer_refused),
        TEST(test_streamed_answer),
        TEST(test_listen_errors),
        cmocka_unit_test(test_route_patterns_checked),
        cmocka_unit_test_setup_teardown(test_one_thread_server, setup_one_thread, teardown),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test_setup_teardown(test_token_missing_is_401, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_token_wrong_is_401, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_token_right_is_served, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_token_healthz_is_open, setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_token_signin_page_for_browsers, setup_token, teardown),
        cmocka_unit_test(test_token_equal),
        cmocka_unit_test(test_token_syntax),
        cmocka_unit_test(test_token_cookie_off),
        cmocka_unit_test(test_idle_connection_is_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
