/*
 * Unit tests for the JSON scanner and writer: valid and invalid documents
 * (each error class with its byte offset and reason), every escape,
 * surrogate pairs and lone surrogates, UTF-8 edge cases, numbers at the
 * int64 and double limits, the depth cap, iterators and lookup, writer
 * escaping and misuse, and write -> scan round trips. A final case prints
 * the scan speed (never asserted).
 *
 * Every scan runs on an exactly-sized heap copy so ASan catches overreads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "core/core.h"

static char *copy_exact(const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    assert_non_null(c);
    memcpy(c, p, n);
    return c;
}

static int validate_n(const char *p, size_t n, size_t depth, core_json_error_t *err)
{
    char *c = copy_exact(p, n);
    int rc = core_json_validate(c, n, depth, err);
    free(c);
    return rc;
}

static int validate(const char *s, core_json_error_t *err)
{
    return validate_n(s, strlen(s), 0, err);
}

static void test_valid_documents(void **state)
{
    (void)state;
    static const char *docs[] = {"{}",
                                 "[]",
                                 " \t\r\n{} \n",
                                 "0",
                                 "-0",
                                 "1.5e-3",
                                 "-12E+2",
                                 "true",
                                 "false",
                                 "null",
                                 "\"\"",
                                 "\"a\\u0000b\"",
                                 "[1,[2,[3]],{\"a\":{\"b\":[]}}]",
                                 "{\"a\":1,\"a\":2}",
                                 "{\"k\" : [ true , false , null ] }",
                                 "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
                                 "123456789012345678901234567890",
                                 "1e99999",
                                 "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(docs); i++) {
        core_json_error_t err = {0};
        int rc = validate(docs[i], &err);
        if (rc != 0)
            fail_msg("rejected %s: %s", docs[i], core_error_detail());
    }
}

typedef struct {
    const char *doc;
    size_t offset;
    const char *what; /* a substring of the reason */
} bad_case_t;

static void test_invalid_documents(void **state)
{
    (void)state;
    static const bad_case_t cases[] = {
        {"", 0, "expected a value"},
        {"   ", 3, "expected a value"},
        {"{\"a\" 1}", 5, "expected ':' after object key"},
        {"{\"a\":1,}", 7, "to start an object key"},
        {"[1,]", 3, "expected a value"},
        {"[1 2]", 3, "expected ',' or ']'"},
        {"{\"a\":1 \"b\":2}", 7, "expected ',' or '}'"},
        {"{1:2}", 1, "to start an object key"},
        {"[01]", 2, "leading zero"},
        {"-", 1, "expected a digit after '-'"},
        {"-a", 1, "expected a digit after '-'"},
        {"1.", 2, "expected a digit after '.'"},
        {"1.e5", 2, "expected a digit after '.'"},
        {"1e", 2, "expected a digit in the exponent"},
        {"1e+", 3, "expected a digit in the exponent"},
        {".5", 0, "expected a value"},
        {"+1", 0, "expected a value"},
        {"NaN", 0, "expected a value"},
        {"[Infinity]", 1, "expected a value"},
        {"[-Infinity]", 2, "expected a digit after '-'"},
        {"tru", 0, "expected 'true'"},
        {"nul", 0, "expected 'null'"},
        {"falsy", 0, "expected 'false'"},
        {"truex", 4, "trailing characters"},
        {"{} {}", 3, "trailing characters"},
        {"[1] x", 4, "trailing characters"},
        {"/* c */ 1", 0, "expected a value"},
        {"[1 // c\n]", 3, "expected ',' or ']'"},
        {"\"abc", 4, "to close the string"},
        {"\"a\tb\"", 2, "control character"},
        {"\"a\nb\"", 2, "control character"},
        {"\"\\x\"", 2, "invalid escape"},
        {"\"\\u12\"", 1, "4 hex digits"},
        {"\"\\u12G4\"", 1, "4 hex digits"},
        {"\"\\", 2, "escape character"},
        {"{\"a\":", 5, "expected a value"},
        {"[", 1, "expected a value"},
        {"{", 1, "to start an object key"},
        {"[1", 2, "expected ',' or ']'"},
        {"]", 0, "expected a value"},
        {"\xef\xbb\xbf{}", 0, "expected a value"}, /* no BOM */
        {"[1,\v2]", 3, "expected a value"},        /* only the four RFC spaces */
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(cases); i++) {
        core_json_error_t err = {0};
        int rc = validate(cases[i].doc, &err);
        if (rc != CORE_ECORRUPT)
            fail_msg("accepted %s", cases[i].doc);
        if (err.offset != cases[i].offset || strstr(err.what, cases[i].what) == NULL)
            fail_msg("%s: got byte %zu '%s', want byte %zu '%s'", cases[i].doc, err.offset,
                     err.what, cases[i].offset, cases[i].what);
        char want[64];
        snprintf(want, sizeof(want), "json: byte %zu: ", cases[i].offset);
        assert_non_null(strstr(core_error_detail(), want));
    }
    core_json_error_t err;
    assert_int_equal(validate("{\"a\" 1}", &err), CORE_ECORRUPT);
    assert_string_equal(core_error_detail(), "json: byte 5: expected ':' after object key");
    assert_int_equal(validate("[1", NULL), CORE_ECORRUPT);
    assert_string_equal(core_error_detail(),
                        "json: byte 2: unexpected end of input; expected ',' or ']' after "
                        "array element");
    /* An embedded NUL is just a bad byte. */
    assert_int_equal(validate_n("[1,\0]", 5, 0, &err), CORE_ECORRUPT);
    assert_int_equal(err.offset, 3);
}

/* Parses a one-string document and decodes it. */
static int decode_doc(const char *doc, size_t n, core_buf_t *out)
{
    char *c = copy_exact(doc, n);
    core_json_value_t v;
    int rc = core_json_parse(c, n, 0, &v, NULL);
    if (rc == 0)
        rc = core_json_string_decode(&v, out);
    free(c);
    return rc;
}

static void expect_decoded(const char *doc, const char *want, size_t want_len)
{
    core_buf_t out;
    core_buf_init(&out, CORE_MEM_TEST, 1 << 20);
    int rc = decode_doc(doc, strlen(doc), &out);
    if (rc != 0)
        fail_msg("%s: %s", doc, core_error_detail());
    assert_int_equal(out.len, want_len);
    assert_memory_equal(out.data, want, want_len);
    core_buf_fini(&out);
}

static void test_escapes(void **state)
{
    (void)state;
    expect_decoded("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8);
    expect_decoded("\"a\\u0041\\u00e9\\u00E9\"", "aA\xc3\xa9\xc3\xa9", 6);
    expect_decoded("\"\\u0000\"", "\0", 1);
    expect_decoded("\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"",
                   "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf", 11);
    expect_decoded("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4);
    expect_decoded("\"\\uD800\\uDC00|\\uDBFF\\uDFFF\"", "\xf0\x90\x80\x80|\xf4\x8f\xbf\xbf", 9);
    expect_decoded("\"plain\"", "plain", 5);
    /* A decode into a full buffer fails and leaves it unchanged. */
    core_buf_t small;
    core_buf_init(&small, CORE_MEM_TEST, 3);
    assert_int_equal(decode_doc("\"ab\\ncd\"", 8, &small), CORE_ETOOBIG);
    assert_int_equal(small.len, 0);
    core_buf_fini(&small);
}

static void test_surrogates(void **state)
{
    (void)state;
    static const bad_case_t cases[] = {
        {"\"\\ud800\"", 7, "low surrogate"},
        {"\"\\ud800x\"", 7, "low surrogate"},
        {"\"\\ud800\\u0041\"", 7, "low surrogate"},
        {"\"\\ud800\\ud800\"", 7, "low surrogate"},
        {"\"\\ud800\\n\"", 7, "low surrogate"},
        {"\"\\udc00\"", 1, "lone low surrogate"},
        {"\"\\udfff\\ud800\"", 1, "lone low surrogate"},
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(cases); i++) {
        core_json_error_t err = {0};
        assert_int_equal(validate(cases[i].doc, &err), CORE_ECORRUPT);
        if (err.offset != cases[i].offset || strstr(err.what, cases[i].what) == NULL)
            fail_msg("%s: got byte %zu '%s'", cases[i].doc, err.offset, err.what);
    }
    /* A hand-made value bypassing the scanner is still refused. */
    core_json_value_t v = {CORE_JSON_STRING, "\\ud800", 6, true, false};
    core_buf_t out;
    core_buf_init(&out, CORE_MEM_TEST, 64);
    assert_int_equal(core_json_string_decode(&v, &out), CORE_ECORRUPT);
    core_buf_fini(&out);
}

static void test_utf8(void **state)
{
    (void)state;
    static const char *good[] = {"\"\x7f\"",
                                 "\"\xc2\x80\"",
                                 "\"\xdf\xbf\"",
                                 "\"\xe0\xa0\x80\"",
                                 "\"\xed\x9f\xbf\"",
                                 "\"\xee\x80\x80\"",
                                 "\"\xef\xbf\xbf\"",
                                 "\"\xf0\x90\x80\x80\"",
                                 "\"\xf4\x8f\xbf\xbf\"",
                                 "\"0123456789abcdef\xc3\xa9xyz\""};
    for (size_t i = 0; i < CORE_ARRAY_LEN(good); i++)
        if (validate(good[i], NULL) != 0)
            fail_msg("good utf-8 %zu rejected", i);
    static const bad_case_t bad[] = {
        {"\"\x80\"", 1, "UTF-8"},              /* lone continuation */
        {"\"\xc0\x80\"", 1, "UTF-8"},          /* overlong NUL */
        {"\"\xc1\xbf\"", 1, "UTF-8"},          /* overlong */
        {"\"\xe0\x9f\xbf\"", 1, "UTF-8"},      /* overlong 3-byte */
        {"\"\xed\xa0\x80\"", 1, "UTF-8"},      /* encoded surrogate */
        {"\"\xed\xbf\xbf\"", 1, "UTF-8"},      /* encoded surrogate */
        {"\"\xf0\x8f\xbf\xbf\"", 1, "UTF-8"},  /* overlong 4-byte */
        {"\"\xf4\x90\x80\x80\"", 1, "UTF-8"},  /* > U+10FFFF */
        {"\"\xf5\x80\x80\x80\"", 1, "UTF-8"},  /* no such lead */
        {"\"\xff\"", 1, "UTF-8"},              /* never valid */
        {"\"\xc3\"", 1, "UTF-8"},              /* truncated by the quote */
        {"\"\xe2\x82\"", 1, "UTF-8"},          /* truncated */
        {"\"abcdefghij\xc3(\"", 11, "UTF-8"},  /* bad continuation past a SWAR word */
        {"[\xc3\xa9]", 1, "expected a value"}, /* non-ASCII outside strings */
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(bad); i++) {
        core_json_error_t err = {0};
        assert_int_equal(validate(bad[i].doc, &err), CORE_ECORRUPT);
        if (err.offset != bad[i].offset || strstr(err.what, bad[i].what) == NULL)
            fail_msg("bad utf-8 %zu: got byte %zu '%s'", i, err.offset, err.what);
    }
    /* Truncated at the very end of the input (no closing quote). */
    core_json_error_t err;
    assert_int_equal(validate_n("\"\xe2\x82", 3, 0, &err), CORE_ECORRUPT);
    assert_int_equal(err.offset, 1);
    assert_true(core_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert_false(core_utf8_valid("\xf0\x9f\x98", 3));
}

static int number_of(const char *s, core_json_value_t *v)
{
    return core_json_parse(s, strlen(s), 0, v, NULL);
}

static void expect_i64(const char *s, int want_rc, int64_t want)
{
    core_json_value_t v;
    int64_t got = 0;
    assert_int_equal(number_of(s, &v), 0);
    int rc = core_json_to_i64(&v, &got);
    if (rc != want_rc)
        fail_msg("%s: rc %d, want %d", s, rc, want_rc);
    if (rc == 0)
        assert_true(got == want);
}

static void test_integers(void **state)
{
    (void)state;
    expect_i64("0", 0, 0);
    expect_i64("-0", 0, 0);
    expect_i64("42", 0, 42);
    expect_i64("9223372036854775807", 0, INT64_MAX);
    expect_i64("-9223372036854775808", 0, INT64_MIN);
    expect_i64("9223372036854775808", CORE_ERANGE, 0);
    expect_i64("-9223372036854775809", CORE_ERANGE, 0);
    expect_i64("18446744073709551616", CORE_ERANGE, 0);
    expect_i64("99999999999999999999999999", CORE_ERANGE, 0);
    expect_i64("1.0", CORE_EINVAL, 0);
    expect_i64("1e3", CORE_EINVAL, 0);
    core_json_value_t v;
    int64_t x;
    assert_int_equal(number_of("\"1\"", &v), 0);
    assert_int_equal(core_json_to_i64(&v, &x), CORE_EINVAL);
}

static void expect_double(const char *s, int want_rc, double want)
{
    core_json_value_t v;
    double got = 0;
    char *c = copy_exact(s, strlen(s));
    assert_int_equal(core_json_parse(c, strlen(s), 0, &v, NULL), 0);
    int rc = core_json_to_double(&v, &got);
    free(c);
    if (rc != want_rc)
        fail_msg("%.40s: rc %d, want %d", s, rc, want_rc);
    if (memcmp(&got, &want, sizeof(got)) != 0)
        fail_msg("%.40s: got %.17g, want %.17g", s, got, want);
}

static void test_doubles(void **state)
{
    (void)state;
    expect_double("0.1", 0, 0.1);
    expect_double("-0", 0, -0.0);
    expect_double("-0.0", 0, -0.0);
    expect_double("1e308", 0, 1e308);
    expect_double("1.7976931348623157e308", 0, 1.7976931348623157e308);
    expect_double("1e309", CORE_ERANGE, HUGE_VAL);
    expect_double("-1e400", CORE_ERANGE, -HUGE_VAL);
    expect_double("5e-324", 0, 5e-324);
    expect_double("1e-400", 0, 0.0);
    expect_double("9223372036854775808", 0, 9223372036854775808.0);
    /* Long numbers go through the normaliser; compare with strtod. */
    char buf[2200];
    size_t n = 0;
    buf[n++] = '0';
    buf[n++] = '.';
    for (int i = 0; i < 2000; i++)
        buf[n++] = i < 1500 ? '0' : (char)('1' + i % 9);
    buf[n] = '\0';
    expect_double(buf, 0, strtod(buf, NULL));
    /* The exact halfway point between 1 and its successor, then a tail
     * far beyond the kept digits that must still round up. */
    const char *half = "1.00000000000000011102230246251565404236316680908203125";
    n = (size_t)snprintf(buf, sizeof(buf), "%s", half);
    expect_double(buf, 0, 1.0); /* ties to even */
    for (int i = 0; i < 1000; i++)
        buf[n++] = '0';
    buf[n++] = '1';
    buf[n] = '\0';
    expect_double(buf, 0, nextafter(1.0, 2.0));
    n = 0;
    buf[n++] = '1';
    for (int i = 0; i < 1000; i++)
        buf[n++] = '0';
    memcpy(buf + n, "e-1000", 7);
    expect_double(buf, 0, 1.0);
    expect_double(
        "123456789012345678901234567890123456789012345678901234567890123456789e-60", 0,
        strtod("123456789012345678901234567890123456789012345678901234567890123456789e-60", NULL));
    expect_double("1e99999999999999999999", CORE_ERANGE, HUGE_VAL);
}

static void test_depth_cap(void **state)
{
    (void)state;
    char doc[2 * CORE_JSON_MAX_DEPTH + 4];
    for (size_t d = 63; d <= 65; d++) {
        memset(doc, '[', d);
        memset(doc + d, ']', d);
        core_json_error_t err = {0};
        int rc = validate_n(doc, 2 * d, 0, &err);
        assert_int_equal(rc, d <= CORE_JSON_DEFAULT_DEPTH ? 0 : CORE_ECORRUPT);
        if (rc) {
            assert_int_equal(err.offset, 64);
            assert_non_null(strstr(err.what, "depth"));
        }
    }
    memset(doc, '[', CORE_JSON_MAX_DEPTH);
    memset(doc + CORE_JSON_MAX_DEPTH, ']', CORE_JSON_MAX_DEPTH);
    assert_int_equal(validate_n(doc, 2 * CORE_JSON_MAX_DEPTH, CORE_JSON_MAX_DEPTH, NULL), 0);
    assert_int_equal(validate_n(doc, 2 * CORE_JSON_MAX_DEPTH, CORE_JSON_MAX_DEPTH - 1, NULL),
                     CORE_ECORRUPT);
    assert_int_equal(validate_n(doc, 2, CORE_JSON_MAX_DEPTH + 1, NULL), CORE_EINVAL);
    assert_int_equal(validate_n("{\"a\":[1]}", 9, 1, NULL), CORE_ECORRUPT);
    assert_int_equal(validate_n("{\"a\":[1]}", 9, 2, NULL), 0);
    assert_int_equal(validate_n("1", 1, 1, NULL), 0);
    /* Iterators honour the same cap. */
    core_json_iter_t it;
    core_json_value_t k, v;
    assert_int_equal(core_json_iter_init(&it, "{\"a\":[1]}", 9, 1, NULL), 0);
    assert_int_equal(core_json_object_next(&it, &k, &v), CORE_ECORRUPT);
    assert_int_equal(it.error.offset, 5);
}

static const char EVENT[] =
    " {\"id\":\"T1\", \"amount\": 494.8, \"n\": -7, \"ok\": true, \"none\": null,"
    " \"tags\": [\"a\", {\"x\": [1, 2]}], \"city\\u0020name\": \"DELHI, NCR\"} ";

static void test_iterate_object(void **state)
{
    (void)state;
    char *doc = copy_exact(EVENT, sizeof(EVENT) - 1);
    core_json_iter_t it, child;
    core_json_value_t k, v, e;
    static const char *keys[] = {"id", "amount", "n", "ok", "none", "tags", "city name"};
    static const core_json_type_t types[] = {CORE_JSON_STRING, CORE_JSON_NUMBER, CORE_JSON_NUMBER,
                                             CORE_JSON_TRUE,   CORE_JSON_NULL,   CORE_JSON_ARRAY,
                                             CORE_JSON_STRING};
    assert_int_equal(core_json_iter_init(&it, doc, sizeof(EVENT) - 1, 0, NULL), 0);
    assert_int_equal(it.type, CORE_JSON_OBJECT);
    assert_int_equal(core_json_array_next(&it, &v), CORE_EINVAL);
    size_t i = 0;
    int rc;
    while ((rc = core_json_object_next(&it, &k, &v)) == 1) {
        assert_true(i < CORE_ARRAY_LEN(keys));
        assert_true(core_json_string_eq(&k, keys[i], strlen(keys[i])));
        assert_int_equal(v.type, types[i]);
        i++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(i, CORE_ARRAY_LEN(keys));
    assert_int_equal(core_json_object_next(&it, &k, &v), 0); /* stays done */
    /* Find, then descend into the array and its nested object. */
    core_json_value_t root, tags;
    assert_int_equal(core_json_parse(doc, sizeof(EVENT) - 1, 0, &root, NULL), 0);
    assert_int_equal(core_json_find(&root, "tags", 4, &tags), 0);
    assert_int_equal(tags.len, strlen("[\"a\", {\"x\": [1, 2]}]"));
    assert_int_equal(core_json_find(&root, "city name", 9, &v), 0);
    assert_true(core_json_string_eq(&v, "DELHI, NCR", 10));
    assert_int_equal(core_json_find(&root, "missing", 7, &v), CORE_ENOENT);
    assert_int_equal(core_json_find(&tags, "a", 1, &v), CORE_EINVAL);
    assert_int_equal(core_json_iter_init(&it, tags.p, tags.len, 0, NULL), 0);
    assert_int_equal(core_json_array_next(&it, &e), 1);
    assert_int_equal(core_json_array_next(&it, &e), 1);
    assert_int_equal(e.type, CORE_JSON_OBJECT);
    assert_int_equal(core_json_iter_child(&it, &e, &child), 0);
    assert_int_equal(core_json_object_next(&child, &k, &v), 1);
    assert_int_equal(v.type, CORE_JSON_ARRAY);
    assert_int_equal(core_json_object_next(&child, &k, &v), 0);
    assert_int_equal(core_json_array_next(&it, &e), 0);
    free(doc);
}

static void test_iterator_errors(void **state)
{
    (void)state;
    static const bad_case_t cases[] = {
        {"{\"a\":1,}", 7, "object key"},
        {"{\"a\":1} x", 8, "trailing"},
        {"[1,2", 4, "expected ',' or ']'"},
        {"[1 2]", 3, "expected ',' or ']'"},
        {"{\"a\" 1}", 5, "':'"},
        {"  7", 2, "expected '{' or '['"},
        {"[[1,]]", 4, "expected a value"},
        {"{\"a\":[1,{\"b\":}]}", 13, "expected a value"},
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(cases); i++) {
        size_t n = strlen(cases[i].doc);
        char *doc = copy_exact(cases[i].doc, n);
        core_json_iter_t it;
        core_json_value_t k, v;
        core_json_error_t err = {0};
        int rc = core_json_iter_init(&it, doc, n, 0, &err);
        while (rc == 0) {
            rc = it.type == CORE_JSON_OBJECT ? core_json_object_next(&it, &k, &v)
                                             : core_json_array_next(&it, &v);
            rc = rc == 1 ? 0 : rc < 0 ? rc : 1;
            err = it.error;
        }
        assert_int_equal(rc, CORE_ECORRUPT);
        if (err.offset != cases[i].offset || strstr(err.what, cases[i].what) == NULL)
            fail_msg("%s: got byte %zu '%s'", cases[i].doc, err.offset, err.what);
        if (it.state != 3 || it.rc != CORE_ECORRUPT)
            fail_msg("%s: iterator not failed", cases[i].doc);
        free(doc);
    }
}

static const char weird[] = "q\"b\\s/\x01\x1f\b\f\n\r\t\x7f\xc3\xa9\xf0\x9f\x98\x80\0end";
static const double dbl[] = {0.1, 5.0, -0.0, 1e300, 5e-324, 123.456, 1.0 / 3, 1e21, 2.5e-7};

/* Writes a document exercising every writer call into out. */
static void write_sample(core_buf_t *out)
{
    core_json_writer_t w;
    core_json_writer_init(&w, out);
    assert_int_equal(core_json_write_object_begin(&w), 0);
    assert_int_equal(core_json_write_key(&w, weird, sizeof(weird) - 1), 0);
    assert_int_equal(core_json_write_string(&w, weird, sizeof(weird) - 1), 0);
    assert_int_equal(core_json_write_key(&w, "ints", 4), 0);
    assert_int_equal(core_json_write_array_begin(&w), 0);
    assert_int_equal(core_json_write_i64(&w, INT64_MIN), 0);
    assert_int_equal(core_json_write_i64(&w, INT64_MAX), 0);
    assert_int_equal(core_json_write_i64(&w, 0), 0);
    assert_int_equal(core_json_write_array_end(&w), 0);
    assert_int_equal(core_json_write_key(&w, "dbl", 3), 0);
    assert_int_equal(core_json_write_array_begin(&w), 0);
    for (size_t i = 0; i < CORE_ARRAY_LEN(dbl); i++)
        assert_int_equal(core_json_write_double(&w, dbl[i]), 0);
    assert_int_equal(core_json_write_array_end(&w), 0);
    assert_int_equal(core_json_write_key(&w, "misc", 4), 0);
    assert_int_equal(core_json_write_array_begin(&w), 0);
    assert_int_equal(core_json_write_bool(&w, true), 0);
    assert_int_equal(core_json_write_bool(&w, false), 0);
    assert_int_equal(core_json_write_null(&w), 0);
    assert_int_equal(core_json_write_raw(&w, "{\"r\":[]}", 8), 0);
    assert_int_equal(core_json_write_object_begin(&w), 0);
    assert_int_equal(core_json_write_object_end(&w), 0);
    assert_int_equal(core_json_write_array_end(&w), 0);
    assert_int_equal(core_json_write_object_end(&w), 0);
    assert_int_equal(core_json_writer_finish(&w), 0);
}

/* Writes the sample, then scans it back to the same values. */
static void test_writer_round_trip(void **state)
{
    (void)state;
    core_buf_t out;
    core_buf_init(&out, CORE_MEM_TEST, 1 << 20);
    write_sample(&out);
    const char *want_str = "\"q\\\"b\\\\s/\\u0001\\u001f\\b\\f\\n\\r\\t\x7f\xc3\xa9\xf0\x9f\x98"
                           "\x80\\u0000end\"";
    assert_non_null(memmem(out.data, out.len, want_str, strlen(want_str)));
    const char *want_dbl = "[0.1,5.0,-0.0,1e+300,5e-324,123.456,0.3333333333333333,1e+21,2.5e-07]";
    if (!memmem(out.data, out.len, want_dbl, strlen(want_dbl)))
        fail_msg("doubles: %.*s", (int)out.len, (const char *)out.data);

    core_json_value_t root, v, e;
    core_json_iter_t it;
    core_buf_t dec;
    core_buf_init(&dec, CORE_MEM_TEST, 1 << 20);
    assert_int_equal(core_json_parse((const char *)out.data, out.len, 0, &root, NULL), 0);
    assert_int_equal(core_json_find(&root, weird, sizeof(weird) - 1, &v), 0);
    assert_int_equal(core_json_string_decode(&v, &dec), 0);
    assert_int_equal(dec.len, sizeof(weird) - 1);
    assert_memory_equal(dec.data, weird, dec.len);
    assert_int_equal(core_json_find(&root, "dbl", 3, &v), 0);
    assert_int_equal(core_json_iter_init(&it, v.p, v.len, 0, NULL), 0);
    for (size_t i = 0; i < CORE_ARRAY_LEN(dbl); i++) {
        double d;
        assert_int_equal(core_json_array_next(&it, &e), 1);
        assert_int_equal(core_json_to_double(&e, &d), 0);
        assert_memory_equal(&d, &dbl[i], sizeof(d));
        assert_false(e.integer);
    }
    int64_t x;
    assert_int_equal(core_json_find(&root, "ints", 4, &v), 0);
    assert_int_equal(core_json_iter_init(&it, v.p, v.len, 0, NULL), 0);
    assert_int_equal(core_json_array_next(&it, &e), 1);
    assert_int_equal(core_json_to_i64(&e, &x), 0);
    assert_true(x == INT64_MIN);
    assert_int_equal(core_json_array_next(&it, &e), 1);
    assert_int_equal(core_json_to_i64(&e, &x), 0);
    assert_true(x == INT64_MAX);
    core_buf_fini(&dec);
    core_buf_fini(&out);
}

static void test_writer_misuse(void **state)
{
    (void)state;
    core_buf_t out;
    core_buf_init(&out, CORE_MEM_TEST, 1 << 20);
    core_json_writer_t w;

    core_json_writer_init(&w, &out);
    assert_int_equal(core_json_write_double(&w, NAN), CORE_EINVAL);
    assert_int_equal(core_json_write_null(&w), CORE_EINVAL); /* sticky */
    assert_int_equal(core_json_writer_finish(&w), CORE_EINVAL);

    core_json_writer_init(&w, &out);
    assert_int_equal(core_json_write_double(&w, INFINITY), CORE_EINVAL);

    core_json_writer_init(&w, &out);
    assert_int_equal(core_json_write_object_begin(&w), 0);
    assert_int_equal(core_json_write_i64(&w, 1), CORE_EINVAL); /* value without key */

    core_json_writer_init(&w, &out);
    assert_int_equal(core_json_write_key(&w, "a", 1), CORE_EINVAL); /* key at the root */

    core_json_writer_init(&w, &out);
    assert_int_equal(core_json_write_array_begin(&w), 0);
    assert_int_equal(core_json_write_object_end(&w), CORE_EINVAL);

    core_json_writer_init(&w, &out);
    assert_int_equal(core_json_write_i64(&w, 1), 0);
    assert_int_equal(core_json_write_i64(&w, 2), CORE_EINVAL); /* second root */

    core_json_writer_init(&w, &out);
    assert_int_equal(core_json_write_array_begin(&w), 0);
    assert_int_equal(core_json_write_string(&w, "\xc0\x80", 2), CORE_EINVAL);

    core_json_writer_init(&w, &out);
    assert_int_equal(core_json_write_array_begin(&w), 0);
    assert_int_equal(core_json_writer_finish(&w), CORE_EINVAL); /* incomplete */

    core_json_writer_init(&w, &out);
    for (int i = 0; i < CORE_JSON_WRITE_DEPTH; i++)
        assert_int_equal(core_json_write_array_begin(&w), 0);
    assert_int_equal(core_json_write_array_begin(&w), CORE_EINVAL);

    core_buf_t tiny;
    core_buf_init(&tiny, CORE_MEM_TEST, 8);
    core_json_writer_init(&w, &tiny);
    assert_int_equal(core_json_write_string(&w, "0123456789", 10), CORE_ETOOBIG);
    assert_int_equal(core_json_writer_finish(&w), CORE_ETOOBIG);
    core_buf_fini(&tiny);
    core_buf_fini(&out);
}

/* Prints scan throughput over a buffer of event-like documents. */
static void test_speed(void **state)
{
    (void)state;
    const size_t target = 16u << 20;
    char *buf = malloc(target + 1024);
    assert_non_null(buf);
    size_t n = 0, docs = 0, offs[1 << 16];
    while (n + sizeof(EVENT) < target && docs < CORE_ARRAY_LEN(offs)) {
        offs[docs++] = n;
        n += (size_t)snprintf(buf + n, sizeof(EVENT) + 16, "%s", EVENT);
    }
    size_t doc_len = sizeof(EVENT) - 1;
    int64_t t0 = core_mono_ns();
    for (size_t i = 0; i < docs; i++)
        assert_int_equal(core_json_validate(buf + offs[i], doc_len, 0, NULL), 0);
    int64_t t1 = core_mono_ns();
    size_t members = 0;
    for (size_t i = 0; i < docs; i++) {
        core_json_iter_t it;
        core_json_value_t k, v;
        assert_int_equal(core_json_iter_init(&it, buf + offs[i], doc_len, 0, NULL), 0);
        while (core_json_object_next(&it, &k, &v) == 1)
            members++;
    }
    int64_t t2 = core_mono_ns();
    /* One big string-heavy document: the SWAR path. */
    memset(buf, 'x', target);
    buf[0] = '"';
    buf[target - 1] = '"';
    int64_t t3 = core_mono_ns();
    assert_int_equal(core_json_validate(buf, target, 0, NULL), 0);
    int64_t t4 = core_mono_ns();
    double mb = (double)docs * (double)doc_len / 1e6;
    printf("json scan speed: validate %.0f MB/s (%.2f M docs/s), iterate %.0f MB/s "
           "(%zu members), long string %.0f MB/s\n",
           mb / ((double)(t1 - t0) / 1e9), (double)docs / ((double)(t1 - t0) / 1e3),
           mb / ((double)(t2 - t1) / 1e9), members,
           (double)target / 1e6 / ((double)(t4 - t3) / 1e9));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_documents),
        cmocka_unit_test(test_invalid_documents),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_surrogates),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_iterate_object),
        cmocka_unit_test(test_iterator_errors),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
