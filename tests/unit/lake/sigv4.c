/*
 * Unit tests for src/lake/sigv4.c: HMAC-SHA256 against RFC 4231's test
 * cases; SigV4 against the examples AWS publishes (the signing key of its
 * IAM example, the IAM ListUsers request, and the four S3 examples of
 * header-based auth: GET Object with a Range, PUT Object with a '$' in the
 * key, GET Bucket lifecycle, GET Bucket with max-keys and prefix), checking
 * the canonical request's hash and the signature of each; then our own
 * cases: URI encoding, query order, header value trimming, refused input,
 * and that the secret never shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "lake/lake_int.h"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_KEY    "AKIAIOSFODNN7EXAMPLE"
#define S3_DATE   "20130524T000000Z"
#define S3_HOST   "examplebucket.s3.amazonaws.com"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    uint8_t mac[32], key[131];
    char h[65];
    memset(key, 0x0b, 20);
    lake_hmac_sha256(key, 20, "Hi There", 8, mac);
    hex(mac, 32, h);
    assert_string_equal(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    const char *m2 = "what do ya want for nothing?";
    lake_hmac_sha256("Jefe", 4, m2, strlen(m2), mac);
    hex(mac, 32, h);
    assert_string_equal(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* A key longer than the block is hashed first. */
    memset(key, 0xaa, sizeof key);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    lake_hmac_sha256(key, sizeof key, m6, strlen(m6), mac);
    hex(mac, 32, h);
    assert_string_equal(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_signing_key(void **state)
{
    (void)state;
    uint8_t k[32];
    char h[65];
    lake_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1",
                           "iam", k);
    hex(k, 32, h);
    assert_string_equal(h, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

/* Signs r; checks the hash of the canonical request (the last line of the
 * string to sign) and the signature at the end of the Authorization value. */
static void expect_signed(const lake_sigv4_request_t *r, const char *creq_hash, const char *sig,
                          const char *signed_headers)
{
    core_buf_t auth, creq, sts;
    core_buf_init(&auth, CORE_MEM_TEST, 1 << 16);
    core_buf_init(&creq, CORE_MEM_TEST, 1 << 16);
    core_buf_init(&sts, CORE_MEM_TEST, 1 << 16);
    assert_int_equal(lake_sigv4_sign(r, &auth, &creq, &sts), 0);
    assert_int_equal(core_buf_append_u8(&auth, '\0'), 0);
    assert_int_equal(core_buf_append_u8(&sts, '\0'), 0);
    const char *s = (const char *)sts.data;
    assert_true(strlen(s) > 64);
    assert_string_equal(s + strlen(s) - 64, creq_hash);
    assert_memory_equal(s, "AWS4-HMAC-SHA256\n", 17);
    char want[512];
    snprintf(want, sizeof want,
             "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%s, "
             "Signature=%s",
             r->access_key_id, r->amz_date, r->region, r->service, signed_headers, sig);
    assert_string_equal((const char *)auth.data, want);
    assert_null(strstr((const char *)auth.data, r->secret_access_key));
    core_buf_fini(&auth);
    core_buf_fini(&creq);
    core_buf_fini(&sts);
}

static void test_iam_example(void **state)
{
    (void)state;
    lake_sigv4_header_t h[] = {
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"Host", "iam.amazonaws.com"},
        {"X-Amz-Date", "20150830T123600Z"},
    };
    lake_sigv4_param_t q[] = {{"Version", "2010-05-08"}, {"Action", "ListUsers"}};
    lake_sigv4_request_t r = {
        .method = "GET",
        .path = "/",
        .params = q,
        .nparams = 2,
        .headers = h,
        .nheaders = 3,
        .payload_hash = EMPTY_SHA,
        .amz_date = "20150830T123600Z",
        .region = "us-east-1",
        .service = "iam",
        .access_key_id = "AKIDEXAMPLE",
        .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    };
    expect_signed(&r, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
                  "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
                  "content-type;host;x-amz-date");
}

static lake_sigv4_request_t s3_request(const char *method, const char *path,
                                       const lake_sigv4_header_t *h, size_t nh, const char *hash)
{
    return (lake_sigv4_request_t){
        .method = method,
        .path = path,
        .headers = h,
        .nheaders = nh,
        .payload_hash = hash,
        .amz_date = S3_DATE,
        .region = "us-east-1",
        .service = "s3",
        .access_key_id = S3_KEY,
        .secret_access_key = S3_SECRET,
    };
}

static void test_s3_get_object(void **state)
{
    (void)state;
    lake_sigv4_header_t h[] = {
        {"Host", S3_HOST},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", EMPTY_SHA},
        {"x-amz-date", S3_DATE},
    };
    lake_sigv4_request_t r = s3_request("GET", "/test.txt", h, 4, EMPTY_SHA);
    expect_signed(&r, "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
                  "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
                  "host;range;x-amz-content-sha256;x-amz-date");
}

static void test_s3_put_object(void **state)
{
    (void)state;
    const char *body = "Welcome to Amazon S3.";
    uint8_t d[32];
    char hash[65];
    core_sha256_t c;
    core_sha256_init(&c);
    core_sha256_update(&c, body, strlen(body));
    core_sha256_final(&c, d);
    core_sha256_hex(d, hash);
    assert_string_equal(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    /* The key "test$file.text" as the client encodes it. */
    core_buf_t path;
    core_buf_init(&path, CORE_MEM_TEST, 256);
    assert_int_equal(core_buf_append_u8(&path, '/'), 0);
    assert_int_equal(lake_uri_encode(&path, "test$file.text", 14, true), 0);
    assert_int_equal(core_buf_append_u8(&path, '\0'), 0);
    assert_string_equal((const char *)path.data, "/test%24file.text");
    lake_sigv4_header_t h[] = {
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"x-amz-date", S3_DATE},
        {"Host", S3_HOST},
        {"x-amz-content-sha256", hash},
    };
    lake_sigv4_request_t r = s3_request("PUT", (const char *)path.data, h, 5, hash);
    expect_signed(&r, "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
                  "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
                  "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
    core_buf_fini(&path);
}

static void test_s3_get_lifecycle_and_list(void **state)
{
    (void)state;
    lake_sigv4_header_t h[] = {
        {"Host", S3_HOST},
        {"x-amz-content-sha256", EMPTY_SHA},
        {"x-amz-date", S3_DATE},
    };
    lake_sigv4_param_t life[] = {{"lifecycle", NULL}};
    lake_sigv4_request_t r = s3_request("GET", "/", h, 3, EMPTY_SHA);
    r.params = life;
    r.nparams = 1;
    expect_signed(&r, "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
                  "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
                  "host;x-amz-content-sha256;x-amz-date");
    lake_sigv4_param_t list[] = {{"prefix", "J"}, {"max-keys", "2"}};
    r.params = list;
    r.nparams = 2;
    expect_signed(&r, "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
                  "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
                  "host;x-amz-content-sha256;x-amz-date");
}

static void expect_encoded(const char *in, bool keep_slash, const char *want)
{
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 1024);
    assert_int_equal(lake_uri_encode(&b, in, strlen(in), keep_slash), 0);
    assert_int_equal(core_buf_append_u8(&b, '\0'), 0);
    assert_string_equal((const char *)b.data, want);
    core_buf_fini(&b);
}

static void test_uri_encode(void **state)
{
    (void)state;
    expect_encoded("AZaz09-._~", false, "AZaz09-._~");
    expect_encoded("a b+c=d/e", false, "a%20b%2Bc%3Dd%2Fe");
    expect_encoded("a b+c=d/e", true, "a%20b%2Bc%3Dd/e");
    /* The keys strata writes. */
    expect_encoded("lake/t.x/date=2024-05-01/hour=13/t.x+0+42.parquet", true,
                   "lake/t.x/date%3D2024-05-01/hour%3D13/t.x%2B0%2B42.parquet");
    expect_encoded("\xc3\xa9*!'()", true, "%C3%A9%2A%21%27%28%29");
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 4);
    assert_int_equal(lake_uri_encode(&b, "a b", 3, false), CORE_ETOOBIG);
    core_buf_fini(&b);
}

static void expect_query(const lake_sigv4_param_t *p, size_t n, const char *want)
{
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 4096);
    assert_int_equal(lake_sigv4_query(p, n, &b), 0);
    assert_int_equal(core_buf_append_u8(&b, '\0'), 0);
    assert_string_equal((const char *)b.data, want);
    core_buf_fini(&b);
}

static void test_query_order(void **state)
{
    (void)state;
    /* By name first, a name before its extensions ('1' sorts below '='),
     * then by value; names and values encoded. */
    lake_sigv4_param_t p[] = {
        {"a1", "x"}, {"a", "z"}, {"a", "b c"}, {"list-type", "2"}, {"prefix", "t/date=1"},
        {"B", ""},
    };
    expect_query(p, 6, "B=&a=b%20c&a=z&a1=x&list-type=2&prefix=t%2Fdate%3D1");
    expect_query(p, 0, "");
    lake_sigv4_param_t bad[] = {{"", "x"}};
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_TEST, 4096);
    assert_int_equal(lake_sigv4_query(bad, 1, &b), CORE_EINVAL);
    core_buf_fini(&b);
}

static void test_header_values(void **state)
{
    (void)state;
    /* Names lower-cased and sorted; values trimmed, inner runs of blanks
     * as one space. */
    lake_sigv4_header_t h[] = {
        {"X-Amz-Date", S3_DATE},
        {"My-Header1", "  a   b \t c  "},
        {"host", "h:9000"},
    };
    lake_sigv4_request_t r = s3_request("PUT", "/b/k", h, 3, EMPTY_SHA);
    core_buf_t auth, creq;
    core_buf_init(&auth, CORE_MEM_TEST, 4096);
    core_buf_init(&creq, CORE_MEM_TEST, 4096);
    assert_int_equal(lake_sigv4_sign(&r, &auth, &creq, NULL), 0);
    assert_int_equal(core_buf_append_u8(&creq, '\0'), 0);
    assert_string_equal((const char *)creq.data,
                        "PUT\n/b/k\n\nhost:h:9000\nmy-header1:a b c\nx-amz-date:" S3_DATE
                        "\n\nhost;my-header1;x-amz-date\n" EMPTY_SHA);
    core_buf_fini(&auth);
    core_buf_fini(&creq);
}

static void test_refused(void **state)
{
    (void)state;
    lake_sigv4_header_t h[] = {{"Host", "h"}, {"host", "h2"}};
    lake_sigv4_request_t r = s3_request("PUT", "/b/k", h, 2, EMPTY_SHA);
    core_buf_t auth;
    core_buf_init(&auth, CORE_MEM_TEST, 4096);
    assert_int_equal(lake_sigv4_sign(&r, &auth, NULL, NULL), CORE_EINVAL); /* twice */
    r.nheaders = 1;
    r.amz_date = "2013-05-24T00:00:00Z";
    assert_int_equal(lake_sigv4_sign(&r, &auth, NULL, NULL), CORE_EINVAL);
    r.amz_date = S3_DATE;
    r.path = "b/k";
    assert_int_equal(lake_sigv4_sign(&r, &auth, NULL, NULL), CORE_EINVAL);
    r.path = "/b/k";
    lake_sigv4_header_t bad[] = {{"Host: x", "h"}};
    r.headers = bad;
    assert_int_equal(lake_sigv4_sign(&r, &auth, NULL, NULL), CORE_EINVAL);
    r.headers = h;
    r.nheaders = 0;
    assert_int_equal(lake_sigv4_sign(&r, &auth, NULL, NULL), CORE_EINVAL);
    /* Nothing of the secret in any detail. */
    assert_null(strstr(core_error_detail(), S3_SECRET));
    assert_int_equal(auth.len, 0);
    core_buf_fini(&auth);
}

static void test_changes_and_date(void **state)
{
    (void)state;
    lake_sigv4_header_t h[] = {{"host", "h"}, {"x-amz-date", S3_DATE}};
    lake_sigv4_request_t r = s3_request("PUT", "/b/k", h, 2, EMPTY_SHA);
    core_buf_t a, b;
    core_buf_init(&a, CORE_MEM_TEST, 4096);
    core_buf_init(&b, CORE_MEM_TEST, 4096);
    assert_int_equal(lake_sigv4_sign(&r, &a, NULL, NULL), 0);
    r.secret_access_key = "another secret";
    assert_int_equal(lake_sigv4_sign(&r, &b, NULL, NULL), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_not_equal(a.data, b.data, a.len); /* the signature differs */
    core_buf_fini(&a);
    core_buf_fini(&b);
    char d[LAKE_AMZ_DATE_LEN + 1];
    lake_sigv4_date(1369353600, d); /* 2013-05-24 00:00:00 UTC */
    assert_string_equal(d, S3_DATE);
    lake_sigv4_date(1440938160, d);
    assert_string_equal(d, "20150830T123600Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_rfc4231),     cmocka_unit_test(test_signing_key),
        cmocka_unit_test(test_iam_example),      cmocka_unit_test(test_s3_get_object),
        cmocka_unit_test(test_s3_put_object),    cmocka_unit_test(test_s3_get_lifecycle_and_list),
        cmocka_unit_test(test_uri_encode),       cmocka_unit_test(test_query_order),
        cmocka_unit_test(test_header_values),    cmocka_unit_test(test_refused),
        cmocka_unit_test(test_changes_and_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
