/*
 * Unit tests of the API helpers of http/: the OpenAPI page and the
 * document-versus-routes check (src/http/openapi.c), and the query and
 * paging helpers and introspection (src/http/query.c). A real server on
 * 127.0.0.1, port 0, is asked over a raw socket, so what is checked is
 * what a client gets.
 *
 * Each test destroys its server, then checks that no CORE_MEM_HTTP byte
 * is left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "http/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char DOC[] =
    "{\"openapi\": \"3.0.3\", \"info\": {\"title\": \"T <&> API\", \"version\": \"9\","
    " \"description\": \"About \\\"it\\\"\"},"
    " \"paths\": {"
    "  \"/things/{id}\": {\"parameters\": [{\"$ref\": \"#/components/parameters/id\"}],"
    "    \"get\": {\"summary\": \"One <thing>\", \"parameters\": [{\"name\": \"full\", \"in\":"
    " \"query\", \"schema\": {\"type\": \"boolean\"}, \"description\": \"all of it\"}],"
    "     \"responses\": {\"200\": {\"description\": \"the thing\"}, \"404\": {\"description\":"
    " \"none\"}}},"
    "    \"post\": {\"summary\": \"Change\", \"requestBody\": {\"description\": \"new value\","
    " \"content\": {\"application/json\": {}}}, \"responses\": {\"204\": {\"description\":"
    " \"done\"}}}},"
    "  \"/page\": {\"get\": {\"summary\": \"Paging\", \"responses\": {}}}},"
    " \"components\": {\"parameters\": {\"id\": {\"name\": \"id\", \"in\": \"path\","
    " \"required\": true, \"schema\": {\"type\": \"integer\"}, \"description\": \"its id\"}}}}";

static int ok_handler(http_request_t *r, void *arg)
{
    (void)arg;
    return http_respond(r, 200, "text/plain", "ok", 2);
}

static int64_t seen_connections;

/* Echoes the paging helpers' reading of the query, or their 400. */
static int page_handler(http_request_t *r, void *arg)
{
    (void)arg;
    seen_connections = http_server_connections(*(http_server_t **)arg);
    http_page_t pg;
    bool flag;
    int64_t n;
    if (http_query_page(r, 10, 1000, &pg) != 0 || http_query_bool(r, "flag", false, &flag) != 0 ||
        http_query_int(r, "n", -5, 5, 0, &n) != 0)
        return http_respond_error(r, 400, "%s", core_error_detail());
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    http_json_page(w, &pg, 7, n > 0);
    core_json_write_key(w, "flag", 4);
    core_json_write_bool(w, flag);
    core_json_write_key(w, "n", 1);
    core_json_write_i64(w, n);
    core_json_write_object_end(w);
    return http_respond_json(r, 200);
}

typedef struct {
    http_server_t *srv;
    http_docs_t *docs;
} fx_t;

static int setup(void **state)
{
    fx_t *f = test_calloc(1, sizeof *f);
    http_config_t cfg;
    http_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    assert_int_equal(http_server_create(&cfg, &f->srv), 0);
    assert_int_equal(http_docs_create(DOC, sizeof DOC - 1, &f->docs), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    http_server_destroy(f->srv);
    http_docs_destroy(f->docs);
    test_free(f);
    core_mem_stats_t m;
    core_mem_stats(CORE_MEM_HTTP, &m);
    assert_int_equal(m.bytes, 0);
    return 0;
}

/* GET path; returns the status, *body (malloc'd) gets the body. */
static int get(int port, const char *path, char **body, char *ctype, size_t ctype_cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    char req[512];
    int n =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    ssize_t got;
    while (len + 1 < cap && (got = recv(fd, buf + len, cap - 1 - len, 0)) > 0)
        len += (size_t)got;
    buf[len] = '\0';
    close(fd);
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    const char *ct = strcasestr(buf, "\r\nContent-Type: ");
    if (ct != NULL && ctype != NULL)
        sscanf(ct + 16, "%127[^\r]", ctype);
    (void)ctype_cap;
    const char *b = strstr(buf, "\r\n\r\n");
    *body = strdup(b != NULL ? b + 4 : "");
    free(buf);
    return status;
}

static void test_page_renders_the_document(void **state)
{
    fx_t *f = *state;
    size_t len;
    const char *html = http_docs_html(f->docs, &len);
    assert_int_equal(strlen(html), len);
    assert_non_null(strstr(html, "<title>T &lt;&amp;&gt; API</title>"));
    assert_non_null(strstr(html, "About &quot;it&quot;"));
    assert_non_null(strstr(html, "<span class=\"m get\">GET</span> <code>/things/{id}</code>"));
    assert_non_null(strstr(html, "<span class=\"m post\">POST</span>"));
    assert_non_null(strstr(html, "One &lt;thing&gt;"));
    /* The path-level $ref parameter is resolved, then the operation's own. */
    const char *id = strstr(html, "<tr><td><code>id</code></td><td>path</td><td>integer</td>"
                                  "<td>yes</td><td>its id</td></tr>");
    const char *full = strstr(html, "<tr><td><code>full</code></td><td>query</td><td>boolean"
                                    "</td><td></td><td>all of it</td></tr>");
    assert_non_null(id);
    assert_non_null(full);
    assert_true(id < full);
    assert_non_null(strstr(html, "<tr><td><code>404</code></td><td>none</td></tr>"));
    assert_non_null(strstr(html, "new value"));
    assert_non_null(strstr(html, "<code>application/json</code>"));
    assert_null(strstr(html, "<script"));
}

static void test_bad_documents(void **state)
{
    (void)state;
    http_docs_t *d = NULL;
    static const char not_json[] = "{\"paths\": ";
    static const char no_paths[] = "{\"openapi\": \"3.0.3\"}";
    assert_int_equal(http_docs_create(not_json, sizeof not_json - 1, &d), CORE_ECORRUPT);
    assert_null(d);
    assert_int_equal(http_docs_create(no_paths, sizeof no_paths - 1, &d), CORE_ECORRUPT);
    assert_non_null(strstr(core_error_detail(), "paths"));
    assert_int_equal(http_docs_create("[1]", 3, &d), CORE_ECORRUPT);
}

static void test_check_against_routes(void **state)
{
    fx_t *f = *state;
    /* The server has GET /healthz built in: undocumented, so far. */
    assert_int_equal(http_route(f->srv, "GET", "/things/{id}", ok_handler, NULL), 0);
    assert_int_equal(http_route(f->srv, "POST", "/things/{id}", ok_handler, NULL), 0);
    assert_int_equal(http_docs_check(f->docs, f->srv), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "GET /healthz"));
    assert_non_null(strstr(core_error_detail(), "GET /page")); /* documented, no route */

    static const char doc2[] =
        "{\"paths\": {\"/healthz\": {\"get\": {}}, \"/things/{id}\": {\"get\": {}, \"post\": {}},"
        " \"/page\": {\"get\": {}}}}";
    http_docs_t *d2 = NULL;
    assert_int_equal(http_docs_create(doc2, sizeof doc2 - 1, &d2), 0);
    assert_int_equal(http_route(f->srv, "GET", "/page", ok_handler, NULL), 0);
    assert_int_equal(http_docs_check(d2, f->srv), 0);
    /* A route the document lacks. */
    assert_int_equal(http_route(f->srv, "DELETE", "/things/{id}", ok_handler, NULL), 0);
    assert_int_equal(http_docs_check(d2, f->srv), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "DELETE /things/{id}"));
    http_docs_destroy(d2);
}

typedef struct {
    char text[1024];
} routes_t;

static void visit(void *arg, const char *method, const char *pattern)
{
    routes_t *r = arg;
    size_t used = strlen(r->text);
    snprintf(r->text + used, sizeof r->text - used, "%s %s;", method, pattern);
}

static void test_served_and_listed(void **state)
{
    fx_t *f = *state;
    assert_int_equal(http_docs_route(f->docs, f->srv, "/api/openapi.json", "/docs"), 0);
    routes_t rs = {0};
    http_server_routes(f->srv, visit, &rs);
    assert_string_equal(rs.text, "GET /healthz;GET /api/openapi.json;GET /docs;");
    assert_int_equal(http_server_connections(f->srv), 0);
    assert_int_equal(http_server_start(f->srv), 0);
    char *body = NULL, ctype[128] = "";
    assert_int_equal(get(http_server_port(f->srv), "/api/openapi.json", &body, ctype, 128), 200);
    assert_string_equal(ctype, "application/json");
    assert_string_equal(body, DOC);
    free(body);
    assert_int_equal(get(http_server_port(f->srv), "/docs", &body, ctype, 128), 200);
    assert_string_equal(ctype, "text/html; charset=utf-8");
    size_t len;
    assert_string_equal(body, http_docs_html(f->docs, &len));
    free(body);
}

static void test_paging_parameters(void **state)
{
    fx_t *f = *state;
    assert_int_equal(http_route(f->srv, "GET", "/page", page_handler, &f->srv), 0);
    assert_int_equal(http_server_start(f->srv), 0);
    int port = http_server_port(f->srv);
    char *body = NULL;
    assert_int_equal(get(port, "/page", &body, NULL, 0), 200);
    assert_string_equal(body, "{\"limit\":10,\"offset\":0,\"next_offset\":null,\"flag\":false,"
                              "\"n\":0}");
    free(body);
    assert_true(seen_connections >= 1); /* this request's own connection */
    /* A limit over the cap is lowered to it; more -> the next page's offset. */
    assert_int_equal(get(port, "/page?limit=5000&offset=3&flag&n=2", &body, NULL, 0), 200);
    assert_string_equal(body, "{\"limit\":1000,\"offset\":3,\"next_offset\":10,\"flag\":true,"
                              "\"n\":2}");
    free(body);
    assert_int_equal(get(port, "/page?flag=no&n=-5", &body, NULL, 0), 200);
    assert_non_null(strstr(body, "\"flag\":false,\"n\":-5"));
    free(body);
    static const char *const bad[] = {"/page?limit=0", "/page?limit=x",    "/page?offset=-1",
                                      "/page?limit=",  "/page?flag=maybe", "/page?n=6"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(get(port, bad[i], &body, NULL, 0), 400);
        assert_non_null(strstr(body, "query parameter"));
        free(body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_page_renders_the_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_documents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_against_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_served_and_listed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_parameters, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
