/*
 * Unit tests of the dashboard's routes (src/app/web_routes.c) over the
 * real generated asset table (scripts/embed_web.py from web/): a server
 * on 127.0.0.1, port 0, and a raw-socket client, so the status lines and
 * headers checked are the ones on the wire. The browser test
 * (tests/integration/web) checks the pages themselves.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "app/web_routes.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define REPLY_MAX (1u << 20)

static http_server_t *srv;
static int port;
static char reply[REPLY_MAX];

static int setup(void **state)
{
    (void)state;
    http_config_t cfg;
    http_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    assert_int_equal(http_server_create(&cfg, &srv), 0);
    assert_int_equal(app_web_route(srv), 0);
    assert_int_equal(http_server_start(srv), 0);
    port = http_server_port(srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_destroy(srv);
    srv = NULL;
    return 0;
}

/* Sends one request (Connection: close) with an optional extra header
 * line; returns the reply's status, leaves the whole reply in `reply`. */
static int get(const char *method, const char *path, const char *extra)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[1024];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s\r\n",
                     method, path, extra != NULL ? extra : "", extra != NULL ? "\r\n" : "");
    assert_true(n > 0 && (size_t)n < sizeof req);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    size_t got = 0;
    for (ssize_t r;
         got + 1 < sizeof reply && (r = recv(fd, reply + got, sizeof reply - 1 - got, 0)) > 0;)
        got += (size_t)r;
    reply[got] = '\0';
    close(fd);
    assert_true(strncmp(reply, "HTTP/1.1 ", 9) == 0);
    return (int)strtol(reply + 9, NULL, 10);
}

/* The value of header `name` in `reply` (a static copy), or NULL. */
static const char *header(const char *name)
{
    static char value[256];
    size_t n = strlen(name);
    const char *end = strstr(reply, "\r\n\r\n");
    for (const char *p = strstr(reply, "\r\n"); p != NULL && p < end; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n + strspn(p + 3 + n, " ");
            snprintf(value, sizeof value, "%.*s", (int)strcspn(v, "\r"), v);
            return value;
        }
    return NULL;
}

static const char *body(void)
{
    const char *b = strstr(reply, "\r\n\r\n");
    return b != NULL ? b + 4 : "";
}

static void test_table_is_complete(void **state)
{
    (void)state;
    const char *names[] = {"index.html",        "app.js",       "pages.js", "style.css",
                           "uPlot.iife.min.js", "uPlot.min.css"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const app_web_asset_t *a = app_web_asset(names[i]);
        assert_non_null(a);
        assert_true(a->len > 0);
        assert_int_equal(strlen(a->etag), 18); /* "<16 hex digits>" */
        assert_null(strchr(a->name, '/'));
    }
    assert_null(app_web_asset("nothing.js"));
    assert_null(app_web_asset(NULL));
}

static void test_index_at_root(void **state)
{
    (void)state;
    assert_int_equal(get("GET", "/", NULL), 200);
    assert_string_equal(header("Content-Type"), "text/html; charset=utf-8");
    assert_string_equal(header("Cache-Control"), "no-cache");
    assert_string_equal(header("ETag"), app_web_asset("index.html")->etag);
    const app_web_asset_t *a = app_web_asset("index.html");
    assert_int_equal(strlen(body()), a->len);
    assert_memory_equal(body(), a->data, a->len);
    assert_non_null(strstr(body(), "/static/uPlot.iife.min.js"));
}

static void test_static_files_and_types(void **state)
{
    (void)state;
    assert_int_equal(get("GET", "/static/app.js", NULL), 200);
    assert_string_equal(header("Content-Type"), "text/javascript; charset=utf-8");
    assert_int_equal(get("GET", "/static/uPlot.min.css", NULL), 200);
    assert_string_equal(header("Content-Type"), "text/css; charset=utf-8");
    assert_int_equal(get("HEAD", "/static/uPlot.iife.min.js", NULL), 200);
    char len[32];
    snprintf(len, sizeof len, "%zu", app_web_asset("uPlot.iife.min.js")->len);
    assert_string_equal(header("Content-Length"), len);
    assert_string_equal(body(), "");
}

static void test_etag_revalidation(void **state)
{
    (void)state;
    char inm[128];
    snprintf(inm, sizeof inm, "If-None-Match: %s", app_web_asset("app.js")->etag);
    assert_int_equal(get("GET", "/static/app.js", inm), 304);
    assert_string_equal(body(), "");
    snprintf(inm, sizeof inm, "If-None-Match: \"0\", W/%s", app_web_asset("app.js")->etag);
    assert_int_equal(get("GET", "/static/app.js", inm), 304);
    assert_int_equal(get("GET", "/static/app.js", "If-None-Match: *"), 304);
    assert_int_equal(get("GET", "/static/app.js", "If-None-Match: \"0123456789abcdef\""), 200);
    snprintf(inm, sizeof inm, "If-None-Match: %s", app_web_asset("index.html")->etag);
    assert_int_equal(get("GET", "/", inm), 304);
}

static void test_unknown_files_are_404(void **state)
{
    (void)state;
    assert_int_equal(get("GET", "/static/nothing.js", NULL), 404);
    assert_int_equal(get("GET", "/static/index.html", NULL), 404);
    assert_int_equal(get("GET", "/static/..%2Fapp.js", NULL), 404);
    assert_int_equal(get("GET", "/static/a/app.js", NULL), 404);
    assert_int_equal(get("GET", "/static", NULL), 404);
    assert_int_equal(get("POST", "/", NULL), 405);
}

int main(void)
{
#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_complete), TEST(test_index_at_root),
        TEST(test_static_files_and_types),        TEST(test_etag_revalidation),
        TEST(test_unknown_files_are_404),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
