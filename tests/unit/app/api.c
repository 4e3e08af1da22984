/*
 * Unit tests of the REST API's parts that need no running platform
 * (src/app/api*.c, metrics_*.c):
 *   - the OpenAPI document lists exactly the routes the API registers
 *     (with the ingest route http_wiring.c adds and the built-in
 *     /healthz), and the check notices a missing one;
 *   - the document renders, and names every route;
 *   - the __consumer_offsets decoder on hand-built records, and its
 *     refusals;
 *   - rates over a ring of samples;
 *   - JSON for bytes: JSON as is, text, base64, null.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "app/api.h"

#include <math.h>
#include <string.h>

static int placeholder(http_request_t *r, void *arg)
{
    (void)arg;
    return http_respond(r, 204, NULL, "", 0);
}

static http_server_t *new_server(void)
{
    http_config_t cfg;
    http_config_default(&cfg);
    cfg.listen = "127.0.0.1:0";
    http_server_t *s = NULL;
    assert_int_equal(http_server_create(&cfg, &s), 0);
    return s;
}

static app_api_t *new_api(const app_config_t *cfg, http_server_t *srv)
{
    app_api_env_t env = {.cfg = cfg, .store_url = "sqlite::memory:", .srv = srv};
    app_api_t *a = NULL;
    assert_int_equal(app_api_create(&env, &a), 0);
    return a;
}

static void test_document_matches_routes(void **state)
{
    (void)state;
    app_config_t cfg = {0};
    http_server_t *srv = new_server();
    app_api_t *a = new_api(&cfg, srv);
    assert_int_equal(http_route(srv, "POST", "/topics/{topic}/records", placeholder, NULL), 0);
    assert_int_equal(app_api_route(a, srv), 0);
    int rc = app_api_check(a, srv);
    if (rc != 0)
        fail_msg("%s", core_error_detail());
    app_api_destroy(a);
    http_server_destroy(srv);

    /* Without the ingest route the document has an operation too many. */
    srv = new_server();
    a = new_api(&cfg, srv);
    assert_int_equal(app_api_route(a, srv), 0);
    assert_int_equal(app_api_check(a, srv), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "POST /topics/{topic}/records"));
    app_api_destroy(a);
    http_server_destroy(srv);
}

typedef struct {
    const char *html;
    int missing;
} names_t;

static void find_route(void *arg, const char *method, const char *pattern)
{
    names_t *n = arg;
    (void)method;
    char code[512];
    snprintf(code, sizeof code, "<code>%s</code>", pattern);
    if (strstr(n->html, code) == NULL) {
        print_error("the page lacks %s\n", code);
        n->missing++;
    }
}

static void test_page_names_every_route(void **state)
{
    (void)state;
    app_config_t cfg = {0};
    http_server_t *srv = new_server();
    app_api_t *a = new_api(&cfg, srv);
    assert_int_equal(app_api_route(a, srv), 0);
    size_t len;
    names_t n = {.html = http_docs_html(a->docs, &len)};
    http_server_routes(srv, find_route, &n);
    assert_int_equal(n.missing, 0);
    app_api_destroy(a);
    http_server_destroy(srv);
}

/* ---- __consumer_offsets records. */

static size_t put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    core_store_be16(p, (uint16_t)n);
    memcpy(p + 2, s, n);
    return n + 2;
}

static size_t offset_key(uint8_t *k, int16_t version, const char *group, const char *topic,
                         int32_t partition)
{
    core_store_be16(k, (uint16_t)version);
    size_t n = 2;
    n += put_str(k + n, group);
    n += put_str(k + n, topic);
    core_store_be32(k + n, (uint32_t)partition);
    return n + 4;
}

static void test_group_records(void **state)
{
    (void)state;
    uint8_t k[128], v[64] = {0};
    size_t kn = offset_key(k, 1, "billing", "orders", 7);
    core_store_be16(v, 3);
    core_store_be64(v + 2, 123456789012LL);
    core_store_be32(v + 10, 5); /* leader epoch, metadata... ignored */
    api_group_commit_t c;
    assert_int_equal(api_group_record_decode(k, kn, v, 24, &c), 1);
    assert_int_equal(c.group_len, 7);
    assert_memory_equal(c.group, "billing", 7);
    assert_int_equal(c.topic_len, 6);
    assert_memory_equal(c.topic, "orders", 6);
    assert_int_equal(c.partition, 7);
    assert_false(c.tombstone);
    assert_int_equal(c.offset, 123456789012LL);

    /* Version 0 keys and values too; a null value is a tombstone. */
    kn = offset_key(k, 0, "g", "t", 0);
    core_store_be16(v, 0);
    assert_int_equal(api_group_record_decode(k, kn, v, 10, &c), 1);
    assert_int_equal(api_group_record_decode(k, kn, NULL, 0, &c), 1);
    assert_true(c.tombstone);

    /* Group metadata (key version 2) is not an offset. */
    core_store_be16(k, 2);
    assert_int_equal(api_group_record_decode(k, kn, v, 10, &c), 0);
}

static void test_group_records_refused(void **state)
{
    (void)state;
    uint8_t k[128], v[16] = {0};
    size_t kn = offset_key(k, 1, "g", "t", 1);
    api_group_commit_t c;
    core_store_be16(v, 1);
    for (size_t cut = 0; cut < kn; cut++) /* every truncation of the key */
        assert_int_equal(api_group_record_decode(k, cut, v, 10, &c), CORE_ECORRUPT);
    assert_int_equal(api_group_record_decode(k, kn + 1, v, 10, &c), CORE_ECORRUPT); /* trailing */
    for (size_t cut = 0; cut < 10; cut++)
        assert_int_equal(api_group_record_decode(k, kn, v, cut, &c), CORE_ECORRUPT);
    core_store_be16(v, 4); /* an unknown value version */
    assert_int_equal(api_group_record_decode(k, kn, v, 10, &c), CORE_ECORRUPT);
    core_store_be16(k, 9); /* an unknown key version */
    assert_int_equal(api_group_record_decode(k, kn, v, 10, &c), CORE_ECORRUPT);
    core_store_be16(k, 1);
    core_store_be16(k + 2, 0xFFFF); /* a negative string length */
    assert_int_equal(api_group_record_decode(k, kn, v, 10, &c), CORE_ECORRUPT);
    assert_int_equal(api_group_record_decode(NULL, 0, v, 10, &c), CORE_ECORRUPT);
}

/* ---- Rates. */

static void test_ring_rate(void **state)
{
    (void)state;
    api_ring_t r = {0};
    assert_true(isnan(api_ring_rate(&r)));
    api_ring_add(&r, 1000, 500);
    assert_true(isnan(api_ring_rate(&r)));
    api_ring_add(&r, 3000, 600);
    assert_true(api_ring_rate(&r) == 50.0);
    /* A full ring: the rate is over the oldest kept sample. */
    for (int i = 2; i < API_RING + 10; i++)
        api_ring_add(&r, 1000 + 2000 * i, 500 + 100 * i);
    assert_int_equal(r.n, API_RING);
    assert_true(api_ring_rate(&r) == 50.0);
    api_ring_add(&r, 1000 + 2000 * (API_RING + 10), 0); /* a counter that went back */
    assert_true(api_ring_rate(&r) == 0.0);
}

/* ---- Bytes as JSON. */

static void expect_json(const char *in, size_t n, const char *want, const char *format,
                        bool json_first)
{
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1 << 16);
    core_json_writer_t w;
    core_json_writer_init(&w, &b);
    const char *f = json_first ? api_json_or_bytes(&w, in, n) : api_bytes(&w, in, n);
    assert_int_equal(core_json_writer_finish(&w), 0);
    assert_string_equal(f, format);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    core_buf_fini(&b);
}

static void test_bytes_as_json(void **state)
{
    (void)state;
    expect_json(" {\"a\": [1, 2]}\n", 15, "{\"a\": [1, 2]}", "json", true);
    expect_json("42", 2, "42", "json", true);
    expect_json("hello \"you\"", 11, "\"hello \\\"you\\\"\"", "text", true);
    expect_json("{broken", 7, "\"{broken\"", "text", true);
    expect_json("\xff\x00\x01", 3, "\"/wAB\"", "base64", true);
    expect_json("\xff", 1, "\"/w==\"", "base64", false);
    expect_json("ab\xff\xfe", 4, "\"YWL//g==\"", "base64", false);
    expect_json("", 0, "\"\"", "text", true);
    expect_json(NULL, 0, "null", "null", true);
    expect_json("{\"a\":1}", 7, "\"{\\\"a\\\":1}\"", "text", false); /* keys: never JSON */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_matches_routes),
        cmocka_unit_test(test_page_names_every_route),
        cmocka_unit_test(test_group_records),
        cmocka_unit_test(test_group_records_refused),
        cmocka_unit_test(test_ring_rate),
        cmocka_unit_test(test_bytes_as_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
