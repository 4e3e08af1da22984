/*
 * Unit tests for schema_decode_json(): every type conversion and its
 * failure, null and absent fields, required fields, duplicate members,
 * escaped strings decoded into the row's scratch (and staying valid while
 * the scratch grows), unknown members ignored, nested values kept raw, the
 * depth and value caps, invalid JSON winning over field failures, every
 * check at its boundary, the reason texts and their bounds, and a warmed-up
 * row decoding without any allocation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "schema/schema.h"

static schema_field_def_t def(const char *name, schema_type_t type)
{
    schema_field_def_t d = {.name = name, .type = type, .min_length = -1, .max_length = -1};
    return d;
}

static schema_t *make(const schema_field_def_t *defs, size_t n)
{
    schema_t *s;
    assert_int_equal(schema_create("test", &s), 0);
    for (size_t i = 0; i < n; i++) {
        if (schema_add_field(s, &defs[i]) != 0)
            fail_msg("field %s: %s", defs[i].name, core_error_detail());
    }
    assert_int_equal(schema_seal(s), 0);
    return s;
}

typedef struct {
    schema_t *s;
    schema_row_t row;
    schema_error_t err;
} fixture_t;

static void fx_init(fixture_t *fx, const schema_field_def_t *defs, size_t n)
{
    fx->s = make(defs, n);
    assert_int_equal(schema_row_init(&fx->row, fx->s), 0);
}

static void fx_fini(fixture_t *fx)
{
    schema_row_fini(&fx->row);
    schema_destroy(fx->s);
}

static const schema_value_t *ok(fixture_t *fx, const char *json)
{
    int rc = schema_decode_json(fx->s, json, strlen(json), &fx->row, &fx->err);
    if (rc != 0)
        fail_msg("%s rejected: %s", json, fx->err.reason);
    assert_int_equal(fx->err.kind, SCHEMA_ERR_NONE);
    return fx->row.values;
}

static void bad(fixture_t *fx, const char *json, schema_err_kind_t kind, int field,
                const char *reason)
{
    int rc = schema_decode_json(fx->s, json, strlen(json), &fx->row, &fx->err);
    if (rc != CORE_EINVAL)
        fail_msg("%s: rc %d, expected a rejection", json, rc);
    if (fx->err.kind != kind || fx->err.field != field)
        fail_msg("%s: kind %s field %d (%s), expected %s field %d", json,
                 schema_err_kind_name(fx->err.kind), fx->err.field, fx->err.reason,
                 schema_err_kind_name(kind), field);
    if (reason != NULL && strcmp(fx->err.reason, reason) != 0 &&
        (reason[0] != '~' || strstr(fx->err.reason, reason + 1) == NULL))
        fail_msg("%s: reason \"%s\", expected \"%s\"", json, fx->err.reason, reason);
}

static const schema_field_def_t all_types[] = {
    {.name = "b", .type = SCHEMA_BOOL, .min_length = -1, .max_length = -1},
    {.name = "i", .type = SCHEMA_INT, .min_length = -1, .max_length = -1},
    {.name = "f", .type = SCHEMA_FLOAT, .min_length = -1, .max_length = -1},
    {.name = "s", .type = SCHEMA_STRING, .min_length = -1, .max_length = -1},
    {.name = "t", .type = SCHEMA_TIMESTAMP, .min_length = -1, .max_length = -1},
    {.name = "o", .type = SCHEMA_OBJECT, .min_length = -1, .max_length = -1},
    {.name = "a", .type = SCHEMA_ARRAY, .min_length = -1, .max_length = -1},
};
#define N_ALL (sizeof(all_types) / sizeof(all_types[0]))

static void test_types(void **state)
{
    (void)state;
    fixture_t fx;
    fx_init(&fx, all_types, N_ALL);
    const char *json = "{\"a\":[1,{\"y\":2}], \"o\" : {\"x\":[1]},\"s\":\"hi\",\"f\":1.5,"
                       "\"i\":42,\"t\":\"2024-02-29T00:00:00Z\",\"b\":true}";
    const schema_value_t *v = ok(&fx, json);
    assert_int_equal(v[0].type, SCHEMA_BOOL);
    assert_true(v[0].v.b);
    assert_int_equal(v[1].type, SCHEMA_INT);
    assert_int_equal(v[1].v.i, 42);
    assert_int_equal(v[2].type, SCHEMA_FLOAT);
    assert_true(v[2].v.f == 1.5);
    assert_int_equal(v[3].type, SCHEMA_STRING);
    assert_int_equal(v[3].v.s.len, 2);
    assert_memory_equal(v[3].v.s.p, "hi", 2);
    assert_ptr_equal(v[3].v.s.p, strstr(json, "hi\"")); /* borrowed from the input */
    assert_int_equal(v[4].type, SCHEMA_TIMESTAMP);
    assert_int_equal(v[4].v.i, 1709164800000000LL);
    assert_int_equal(v[5].type, SCHEMA_OBJECT);
    assert_int_equal(v[5].v.s.len, strlen("{\"x\":[1]}"));
    assert_ptr_equal(v[5].v.s.p, strstr(json, "{\"x\""));
    assert_int_equal(v[6].type, SCHEMA_ARRAY);
    assert_int_equal(v[6].v.s.len, strlen("[1,{\"y\":2}]"));
    assert_ptr_equal(v[6].v.s.p, json + 5);
    v = ok(&fx, "{\"b\":false}");
    assert_int_equal(v[0].type, SCHEMA_BOOL);
    assert_false(v[0].v.b);
    for (size_t i = 1; i < N_ALL; i++)
        assert_int_equal(v[i].type, SCHEMA_NULL); /* absent */
    v = ok(&fx, "{\"b\":null,\"i\":null,\"s\":null,\"o\":null}");
    assert_int_equal(v[0].type, SCHEMA_NULL);
    assert_int_equal(v[1].type, SCHEMA_NULL);
    v = ok(&fx, " {} ");
    assert_int_equal(v[0].type, SCHEMA_NULL);
    fx_fini(&fx);
}

static void test_numbers(void **state)
{
    (void)state;
    fixture_t fx;
    fx_init(&fx, all_types, N_ALL);
    static const struct {
        const char *json;
        int64_t i;
    } ints[] = {{"{\"i\":0}", 0},
                {"{\"i\":-0}", 0},
                {"{\"i\":3.0}", 3},
                {"{\"i\":-3.000}", -3},
                {"{\"i\":1e3}", 1000},
                {"{\"i\":1.5e1}", 15},
                {"{\"i\":999999999999999999}", 999999999999999999LL},
                {"{\"i\":9223372036854775807}", INT64_MAX},
                {"{\"i\":-9223372036854775808}", INT64_MIN},
                {"{\"i\":9223372036854775807.000}", INT64_MAX},
                {"{\"i\":92233720368547758.07e2}", INT64_MAX}};
    for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
        const schema_value_t *v = ok(&fx, ints[k].json);
        assert_int_equal(v[1].type, SCHEMA_INT);
        assert_int_equal(v[1].v.i, ints[k].i);
    }
    bad(&fx, "{\"i\":12345E-2}", SCHEMA_ERR_TYPE, 1,
        "field \"i\": expected int, got number 12345E-2");
    bad(&fx, "{\"i\":3.5}", SCHEMA_ERR_TYPE, 1, "field \"i\": expected int, got number 3.5");
    bad(&fx, "{\"i\":1e-1}", SCHEMA_ERR_TYPE, 1, NULL);
    bad(&fx, "{\"i\":9223372036854775808}", SCHEMA_ERR_TYPE, 1,
        "field \"i\": number 9223372036854775808 is outside the int range");
    bad(&fx, "{\"i\":-9223372036854775809}", SCHEMA_ERR_TYPE, 1, "~outside the int range");
    bad(&fx, "{\"i\":1e19}", SCHEMA_ERR_TYPE, 1, "~outside the int range");
    bad(&fx, "{\"i\":\"5\"}", SCHEMA_ERR_TYPE, 1, "field \"i\": expected int, got string \"5\"");
    bad(&fx, "{\"i\":true}", SCHEMA_ERR_TYPE, 1, "field \"i\": expected int, got bool true");
    fx_fini(&fx);
}

static void test_floats(void **state)
{
    (void)state;
    fixture_t fx;
    fx_init(&fx, all_types, N_ALL);
    /* Floats: every number; compared with strtod. */
    static const char *floats[] = {"0",
                                   "-0",
                                   "1.5",
                                   "-2.25",
                                   "1e-5",
                                   "7",
                                   "0.1",
                                   "123456789012345",
                                   "1.7976931348623157e308",
                                   "4.9e-324",
                                   "2.2250738585072014e-308",
                                   "123456789012345678901234567890",
                                   "0.30000000000000004",
                                   "9007199254740993",
                                   "1e22",
                                   "1e23",
                                   "3.14159265358979323846"};
    char json[128];
    for (size_t k = 0; k < sizeof(floats) / sizeof(floats[0]); k++) {
        snprintf(json, sizeof(json), "{\"f\":%s}", floats[k]);
        const schema_value_t *v = ok(&fx, json);
        assert_int_equal(v[2].type, SCHEMA_FLOAT);
        double want = strtod(floats[k], NULL);
        assert_memory_equal(&v[2].v.f, &want, sizeof(double)); /* bit for bit, -0 too */
    }
    bad(&fx, "{\"f\":1e400}", SCHEMA_ERR_TYPE, 2,
        "field \"f\": number 1e400 is outside the float range");
    bad(&fx, "{\"f\":\"1.5\"}", SCHEMA_ERR_TYPE, 2, "~expected float, got string \"1.5\"");
    bad(&fx, "{\"f\":[1.5]}", SCHEMA_ERR_TYPE, 2, "field \"f\": expected float, got array [1.5]");
    fx_fini(&fx);
}

static void test_type_failures(void **state)
{
    (void)state;
    fixture_t fx;
    fx_init(&fx, all_types, N_ALL);
    bad(&fx, "{\"b\":1}", SCHEMA_ERR_TYPE, 0, "field \"b\": expected bool, got number 1");
    bad(&fx, "{\"b\":\"true\"}", SCHEMA_ERR_TYPE, 0, "~got string \"true\"");
    bad(&fx, "{\"s\":5}", SCHEMA_ERR_TYPE, 3, "field \"s\": expected string, got number 5");
    bad(&fx, "{\"s\":{\"k\":1}}", SCHEMA_ERR_TYPE, 3, "~got object {\"k\":1}");
    bad(&fx, "{\"o\":[]}", SCHEMA_ERR_TYPE, 5, "field \"o\": expected object, got array []");
    bad(&fx, "{\"a\":{}}", SCHEMA_ERR_TYPE, 6, "field \"a\": expected array, got object {}");
    bad(&fx, "{\"a\":\"[]\"}", SCHEMA_ERR_TYPE, 6, NULL);
    bad(&fx, "{\"t\":true}", SCHEMA_ERR_TYPE, 4,
        "field \"t\": expected timestamp (auto), got bool "
        "true");
    bad(&fx, "{\"t\":\"2023-02-29\"}", SCHEMA_ERR_TYPE, 4,
        "field \"t\": cannot parse \"2023-02-29\" as a timestamp (auto): day out of range for the "
        "month");
    /* The first failure in document order wins. */
    bad(&fx, "{\"s\":1,\"b\":2}", SCHEMA_ERR_TYPE, 3, NULL);
    bad(&fx, "{\"b\":2,\"s\":1}", SCHEMA_ERR_TYPE, 0, NULL);
    /* After a failure the values of the row are still safe to read. */
    fx_fini(&fx);
}

static void test_timestamps(void **state)
{
    (void)state;
    schema_field_def_t d[] = {def("auto", SCHEMA_TIMESTAMP), def("s", SCHEMA_TIMESTAMP),
                              def("ms", SCHEMA_TIMESTAMP),   def("us", SCHEMA_TIMESTAMP),
                              def("iso", SCHEMA_TIMESTAMP),  def("pat", SCHEMA_TIMESTAMP)};
    d[1].format = "epoch_s";
    d[2].format = "epoch_ms";
    d[3].format = "epoch_us";
    d[4].format = "iso8601";
    d[5].format = "%d/%m/%y";
    fixture_t fx;
    fx_init(&fx, d, 6);
    const schema_value_t *v =
        ok(&fx, "{\"auto\":1700000000123,\"s\":-1.5,\"ms\":\"1700000000123\",\"us\":7,"
                "\"iso\":\"2024\\u002d02-29\",\"pat\":\"2/8/16\"}");
    assert_int_equal(v[0].v.i, 1700000000123000LL);
    assert_int_equal(v[1].v.i, -1500000);
    assert_int_equal(v[2].v.i, 1700000000123000LL);
    assert_int_equal(v[3].v.i, 7);
    assert_int_equal(v[4].v.i, 1709164800000000LL);
    assert_int_equal(v[5].v.i, 1470096000000000LL);
    for (int i = 0; i < 6; i++)
        assert_int_equal(v[i].type, SCHEMA_TIMESTAMP);
    v = ok(&fx, "{\"auto\":\"2024-02-29T01:00:00+01:00\",\"s\":1.7e9}");
    assert_int_equal(v[0].v.i, 1709164800000000LL);
    assert_int_equal(v[1].v.i, 1700000000000000LL);
    bad(&fx, "{\"iso\":1700000000}", SCHEMA_ERR_TYPE, 4,
        "field \"iso\": expected timestamp (iso8601), got number 1700000000");
    bad(&fx, "{\"pat\":\"31/2/16\"}", SCHEMA_ERR_TYPE, 5,
        "field \"pat\": cannot parse \"31/2/16\" as a timestamp (%d/%m/%y): day out of range for "
        "the month");
    bad(&fx, "{\"s\":1e300}", SCHEMA_ERR_TYPE, 1, "~out of the representable range");
    bad(&fx, "{\"ms\":\"soon\"}", SCHEMA_ERR_TYPE, 2, "~not a number");
    fx_fini(&fx);
}

static void test_required(void **state)
{
    (void)state;
    schema_field_def_t d[] = {def("id", SCHEMA_STRING), def("n", SCHEMA_INT),
                              def("opt", SCHEMA_INT)};
    d[0].required = true;
    d[1].required = true;
    fixture_t fx;
    fx_init(&fx, d, 3);
    ok(&fx, "{\"id\":\"x\",\"n\":1}");
    bad(&fx, "{\"n\":1}", SCHEMA_ERR_REQUIRED, 0, "field \"id\": required field is missing");
    bad(&fx, "{\"id\":null,\"n\":1}", SCHEMA_ERR_REQUIRED, 0,
        "field \"id\": required field is null");
    bad(&fx, "{\"id\":\"x\"}", SCHEMA_ERR_REQUIRED, 1, "field \"n\": required field is missing");
    /* Required is checked after the pass: a type failure later in the
     * document is reported first. */
    bad(&fx, "{\"opt\":\"x\"}", SCHEMA_ERR_TYPE, 2, NULL);
    fx_fini(&fx);
}

static void test_duplicates_and_unknown(void **state)
{
    (void)state;
    fixture_t fx;
    fx_init(&fx, all_types, N_ALL);
    bad(&fx, "{\"i\":1,\"i\":2}", SCHEMA_ERR_JSON, 1,
        "field \"i\": duplicate member in the object");
    bad(&fx, "{\"i\":1,\"\\u0069\":2}", SCHEMA_ERR_JSON, 1, "~duplicate");
    bad(&fx, "{\"i\":null,\"i\":null}", SCHEMA_ERR_JSON, 1, "~duplicate");
    /* Unknown members, duplicated or of any shape, are ignored. */
    const schema_value_t *v =
        ok(&fx, "{\"x\":1,\"x\":\"two\",\"y\":{\"i\":\"nested is not top level\"},\"z\":[[[]]],"
                "\"I\":\"case matters\",\"i \":true,\"i\":5}");
    assert_int_equal(v[1].type, SCHEMA_INT);
    assert_int_equal(v[1].v.i, 5);
    /* An escaped member name matches its decoded form. */
    v = ok(&fx, "{\"\\u0073\":\"esc-key\"}");
    assert_int_equal(v[3].type, SCHEMA_STRING);
    assert_memory_equal(v[3].v.s.p, "esc-key", 7);
    fx_fini(&fx);
}

static bool inside(const void *p, const void *base, size_t len)
{
    return (const char *)p >= (const char *)base && (const char *)p < (const char *)base + len;
}

static void test_escapes_in_scratch(void **state)
{
    (void)state;
    schema_field_def_t d[] = {def("s", SCHEMA_STRING), def("p", SCHEMA_STRING)};
    fixture_t fx;
    fx_init(&fx, d, 2);
    const char *json = "{\"s\":\"a\\nb\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\u0000z\",\"p\":\"plain\"}";
    const schema_value_t *v = ok(&fx, json);
    const char want[] = "a\nb\xc3\xa9\xf0\x9f\x98\x80\"\\/\0z";
    assert_int_equal(v[0].v.s.len, sizeof(want) - 1);
    assert_memory_equal(v[0].v.s.p, want, sizeof(want) - 1);
    assert_true(inside(v[0].v.s.p, fx.row.scratch.data, fx.row.scratch.len));
    assert_true(inside(v[1].v.s.p, json, strlen(json)));
    fx_fini(&fx);

    /* Many escaped fields of growing size: the scratch grows (moves) mid
     * record, and every value must still point at its own bytes. */
    enum { NF = 40 };
    schema_field_def_t many[NF];
    char names[NF][8];
    for (int i = 0; i < NF; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d", i);
        many[i] = def(names[i], SCHEMA_STRING);
    }
    fx_init(&fx, many, NF);
    core_buf_t doc;
    core_buf_init(&doc, CORE_MEM_TEST, SIZE_MAX);
    core_buf_append_str(&doc, "{");
    for (int i = 0; i < NF; i++) {
        core_buf_printf(&doc, "%s\"f%d\":\"", i ? "," : "", i);
        for (int k = 0; k < 10 * (i + 1); k++)
            core_buf_printf(&doc, "\\u00%02x", 'a' + (i + k) % 26);
        core_buf_append_str(&doc, "\"");
    }
    core_buf_append_str(&doc, "}");
    assert_int_equal(schema_decode_json(fx.s, (const char *)doc.data, doc.len, &fx.row, &fx.err),
                     0);
    for (int i = 0; i < NF; i++) {
        const schema_value_t *f = &fx.row.values[i];
        assert_int_equal(f->v.s.len, 10 * (i + 1));
        assert_true(inside(f->v.s.p, fx.row.scratch.data, fx.row.scratch.len));
        for (int k = 0; k < 10 * (i + 1); k++)
            assert_int_equal(f->v.s.p[k], 'a' + (i + k) % 26);
    }
    core_buf_fini(&doc);
    fx_fini(&fx);
}

static void test_invalid_json(void **state)
{
    (void)state;
    fixture_t fx;
    fx_init(&fx, all_types, N_ALL);
    bad(&fx, "", SCHEMA_ERR_JSON, -1,
        "invalid JSON at byte 0: unexpected end of input; expected "
        "'{' or '['");
    bad(&fx, "{\"i\" 1}", SCHEMA_ERR_JSON, -1,
        "invalid JSON at byte 5: expected ':' after object key");
    bad(&fx, "[1,2]", SCHEMA_ERR_JSON, -1, "invalid JSON: expected an object, got an array");
    bad(&fx, "\"str\"", SCHEMA_ERR_JSON, -1, "~expected '{' or '['");
    bad(&fx, "{\"i\":1}x", SCHEMA_ERR_JSON, -1, "~trailing characters");
    bad(&fx, "{\"i\":1,}", SCHEMA_ERR_JSON, -1, NULL);
    bad(&fx, "{\"s\":\"\xff\"}", SCHEMA_ERR_JSON, -1, NULL);
    bad(&fx, "{\"i\":01}", SCHEMA_ERR_JSON, -1, NULL);
    /* A field failure before the syntax error does not hide it. */
    bad(&fx, "{\"i\":\"x\",\"s\":", SCHEMA_ERR_JSON, -1, "~unexpected end of input");
    bad(&fx, "{\"i\":1,\"i\":2,", SCHEMA_ERR_JSON, -1, "~unexpected end of input");
    fx_fini(&fx);
}

static void build_nested(char *buf, size_t cap, const char *key, int depth)
{
    /* {"key": [[...[1]...]]} with `depth` levels counting the root. */
    size_t o = (size_t)snprintf(buf, cap, "{\"%s\":", key);
    for (int i = 1; i < depth; i++)
        buf[o++] = '[';
    buf[o++] = '1';
    for (int i = 1; i < depth; i++)
        buf[o++] = ']';
    buf[o++] = '}';
    buf[o] = '\0';
}

static void test_depth_cap(void **state)
{
    (void)state;
    fixture_t fx;
    char json[256];
    fx_init(&fx, all_types, N_ALL);
    build_nested(json, sizeof(json), "a", SCHEMA_DEFAULT_MAX_DEPTH);
    assert_int_equal(ok(&fx, json)[6].type, SCHEMA_ARRAY);
    build_nested(json, sizeof(json), "a", SCHEMA_DEFAULT_MAX_DEPTH + 1);
    bad(&fx, json, SCHEMA_ERR_TOOBIG, -1, "JSON nesting deeper than 32 levels at byte 36");
    /* Unknown members are held to the cap too. */
    build_nested(json, sizeof(json), "unknown", SCHEMA_DEFAULT_MAX_DEPTH + 1);
    bad(&fx, json, SCHEMA_ERR_TOOBIG, -1, NULL);
    fx_fini(&fx);

    schema_t *s;
    schema_row_t row;
    schema_error_t err;
    schema_field_def_t d = def("o", SCHEMA_OBJECT);
    assert_int_equal(schema_create("shallow", &s), 0);
    assert_int_equal(schema_add_field(s, &d), 0);
    schema_set_limits(s, 0, 2);
    assert_int_equal(schema_seal(s), 0);
    assert_int_equal(schema_row_init(&row, s), 0);
    const char *two = "{\"o\":{\"k\":1}}", *three = "{\"o\":{\"k\":[]}}";
    assert_int_equal(schema_decode_json(s, two, strlen(two), &row, &err), 0);
    assert_int_equal(schema_decode_json(s, three, strlen(three), &row, &err), CORE_EINVAL);
    assert_int_equal(err.kind, SCHEMA_ERR_TOOBIG);
    schema_row_fini(&row);
    schema_destroy(s);
}

static void test_value_cap(void **state)
{
    (void)state;
    schema_t *s;
    schema_row_t row;
    schema_error_t err;
    schema_field_def_t d[] = {def("s", SCHEMA_STRING), def("o", SCHEMA_OBJECT),
                              def("a", SCHEMA_ARRAY)};
    assert_int_equal(schema_create("cap", &s), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(schema_add_field(s, &d[i]), 0);
    schema_set_limits(s, 8, 0);
    assert_int_equal(schema_seal(s), 0);
    assert_int_equal(schema_row_init(&row, s), 0);
    static const struct {
        const char *json;
        int field; /* -1: accepted */
        const char *reason;
    } cases[] = {
        {"{\"s\":\"12345678\"}", -1, NULL},
        {"{\"s\":\"123456789\"}", 0, "field \"s\": value of 9 bytes exceeds the limit of 8"},
        /* 12 bytes of text that decode to 8 bytes: within the cap. */
        {"{\"s\":\"\\u00411234567\"}", -1, NULL},
        {"{\"s\":\"\\u00e9\\u00e9\\u00e9\\u00e9a\"}", 0,
         "field \"s\": value of 9 bytes exceeds the limit of 8"},
        {"{\"s\":\"\\ud83d\\ude00\\ud83d\\ude00\"}", -1, NULL},
        {"{\"o\":{\"k\":12}}", -1, NULL},
        {"{\"o\":{\"k\":123}}", 1, "field \"o\": value of 9 bytes exceeds the limit of 8"},
        {"{\"a\":[1,2,3,4]}", 2, "field \"a\": value of 9 bytes exceeds the limit of 8"},
        {"{\"x\":\"unknown members are not capped\"}", -1, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = schema_decode_json(s, cases[i].json, strlen(cases[i].json), &row, &err);
        if (cases[i].field < 0) {
            if (rc != 0)
                fail_msg("%s: %s", cases[i].json, err.reason);
            continue;
        }
        assert_int_equal(rc, CORE_EINVAL);
        assert_int_equal(err.kind, SCHEMA_ERR_TOOBIG);
        assert_int_equal(err.field, cases[i].field);
        assert_string_equal(err.reason, cases[i].reason);
    }
    schema_row_fini(&row);
    schema_destroy(s);
}

static void test_checks_numbers(void **state)
{
    (void)state;
    schema_field_def_t d[] = {def("i", SCHEMA_INT), def("f", SCHEMA_FLOAT),
                              def("t", SCHEMA_TIMESTAMP), def("h", SCHEMA_INT)};
    d[0].has_min = d[0].has_max = true;
    d[0].min = -10;
    d[0].max = 10;
    d[1].has_min = d[1].has_max = true;
    d[1].min = 0.5;
    d[1].max = 99.25;
    d[2].has_min = true;
    d[2].min = 1451606400000000.0; /* 2016-01-01 */
    d[2].format = "%d/%m/%y";
    d[3].has_min = true;
    d[3].min = 0.5; /* an int above a fractional bound */
    d[3].has_max = true;
    d[3].max = 9007199254740993.0; /* rounds to 2^53 as a double */
    fixture_t fx;
    fx_init(&fx, d, 4);
    ok(&fx, "{\"i\":-10,\"f\":0.5,\"h\":1}");
    ok(&fx, "{\"i\":10,\"f\":99.25,\"t\":\"1/1/16\"}");
    bad(&fx, "{\"i\":-11}", SCHEMA_ERR_CHECK, 0, "field \"i\": -11 is below the minimum -10");
    bad(&fx, "{\"i\":11}", SCHEMA_ERR_CHECK, 0, "field \"i\": 11 is above the maximum 10");
    bad(&fx, "{\"f\":0.49999}", SCHEMA_ERR_CHECK, 1,
        "field \"f\": 0.49998999999999999 is below the minimum 0.5");
    bad(&fx, "{\"f\":99.2500001}", SCHEMA_ERR_CHECK, 1, "~is above the maximum 99.25");
    bad(&fx, "{\"f\":4.5e23}", SCHEMA_ERR_CHECK, 1, "~e+23 is above the maximum 99.25");
    bad(&fx, "{\"f\":-1e300}", SCHEMA_ERR_CHECK, 1, "~e+300 is below the minimum 0.5");
    bad(&fx, "{\"t\":\"31/12/15\"}", SCHEMA_ERR_CHECK, 2,
        "field \"t\": 2015-12-31T00:00:00Z is below the minimum 2016-01-01T00:00:00Z");
    bad(&fx, "{\"h\":0}", SCHEMA_ERR_CHECK, 3, NULL);
    ok(&fx, "{\"h\":9007199254740992}");
    bad(&fx, "{\"h\":9007199254740993}", SCHEMA_ERR_CHECK, 3, NULL); /* exact, not via double */
    fx_fini(&fx);
}

static void test_checks_strings(void **state)
{
    (void)state;
    const char *sides[] = {"buy", "sell"};
    const char *big[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "\xc3\xa9"};
    schema_field_def_t d[] = {def("side", SCHEMA_STRING), def("len", SCHEMA_STRING),
                              def("code", SCHEMA_STRING), def("alt", SCHEMA_STRING),
                              def("big", SCHEMA_STRING)};
    d[0].enum_values = sides;
    d[0].n_enum = 2;
    d[1].min_length = 2;
    d[1].max_length = 4;
    d[2].pattern = "[A-Z]{3}";
    d[3].pattern = "ab|cd";
    d[4].enum_values = big;
    d[4].n_enum = sizeof(big) / sizeof(big[0]);
    fixture_t fx;
    fx_init(&fx, d, 5);
    ok(&fx, "{\"side\":\"buy\"}");
    ok(&fx, "{\"side\":\"s\\u0065ll\"}"); /* compared decoded */
    bad(&fx, "{\"side\":\"Buy\"}", SCHEMA_ERR_CHECK, 0,
        "field \"side\": \"Buy\" is not one of \"buy\", \"sell\"");
    bad(&fx, "{\"side\":\"buy \"}", SCHEMA_ERR_CHECK, 0, NULL);
    bad(&fx, "{\"side\":\"\"}", SCHEMA_ERR_CHECK, 0, NULL);
    /* Lengths count code points: e-acute is 2 bytes, the emoji 4. */
    ok(&fx, "{\"len\":\"ab\"}");
    ok(&fx, "{\"len\":\"\xc3\xa9\xc3\xa9\"}");
    ok(&fx, "{\"len\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}");
    ok(&fx, "{\"len\":\"\\u00e9\\u00e9\\u00e9\"}");
    bad(&fx, "{\"len\":\"\xc3\xa9\"}", SCHEMA_ERR_CHECK, 1,
        "field \"len\": length 1 is below the minimum length 2");
    bad(&fx, "{\"len\":\"abcde\"}", SCHEMA_ERR_CHECK, 1,
        "field \"len\": length 5 is above the maximum length 4");
    bad(&fx,
        "{\"len\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
        "\xc3\xa9\"}",
        SCHEMA_ERR_CHECK, 1, "~length 5 is above");
    /* Patterns are anchored at both ends, around the whole alternation. */
    ok(&fx, "{\"code\":\"ABC\"}");
    bad(&fx, "{\"code\":\"ABCD\"}", SCHEMA_ERR_CHECK, 2,
        "field \"code\": \"ABCD\" does not match the pattern \"[A-Z]{3}\"");
    bad(&fx, "{\"code\":\"xABC\"}", SCHEMA_ERR_CHECK, 2, NULL);
    bad(&fx, "{\"code\":\"AB\"}", SCHEMA_ERR_CHECK, 2, NULL);
    bad(&fx, "{\"code\":\"ABC\\u0000\"}", SCHEMA_ERR_CHECK, 2, NULL); /* NUL is a character */
    ok(&fx, "{\"alt\":\"ab\"}");
    ok(&fx, "{\"alt\":\"cd\"}");
    bad(&fx, "{\"alt\":\"abd\"}", SCHEMA_ERR_CHECK, 3, NULL);
    bad(&fx, "{\"alt\":\"acd\"}", SCHEMA_ERR_CHECK, 3, NULL);
    /* A long enum goes through its hash index. */
    ok(&fx, "{\"big\":\"k\"}");
    ok(&fx, "{\"big\":\"\\u00e9\"}");
    bad(&fx, "{\"big\":\"l\"}", SCHEMA_ERR_CHECK, 4, "~is not one of \"a\", \"b\"");
    bad(&fx, "{\"big\":\"\"}", SCHEMA_ERR_CHECK, 4, NULL);
    fx_fini(&fx);
}

static bool utf8_ok(const char *s)
{
    return core_utf8_valid(s, strlen(s));
}

static void test_reasons_bounded(void **state)
{
    (void)state;
    char name[300];
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    schema_field_def_t d[] = {def(name, SCHEMA_INT), def("s", SCHEMA_STRING)};
    d[1].pattern = "x";
    fixture_t fx;
    fx_init(&fx, d, 2);
    char json[1200];
    snprintf(json, sizeof(json), "{\"%s\":\"%s\"}", name, name);
    bad(&fx, json, SCHEMA_ERR_TYPE, 0, NULL);
    assert_true(strlen(fx.err.reason) < SCHEMA_REASON_MAX);
    assert_non_null(strstr(fx.err.reason, "...")); /* the value is shortened */
    /* Multibyte values are cut at a character boundary. */
    char val[400] = "";
    for (int i = 0; i < 50; i++)
        strncat(val, "\xe2\x82\xac", sizeof(val) - strlen(val) - 1); /* euro sign */
    snprintf(json, sizeof(json), "{\"s\":\"%s\"}", val);
    bad(&fx, json, SCHEMA_ERR_CHECK, 1, NULL);
    assert_true(utf8_ok(fx.err.reason));
    assert_non_null(strstr(fx.err.reason, "\xe2\x82\xac..."));
    /* Control characters decoded from escapes are shown escaped. */
    bad(&fx, "{\"s\":\"a\\u0001\\\"b\"}", SCHEMA_ERR_CHECK, 1,
        "field \"s\": \"a\\x01\\\"b\" does not match the pattern \"x\"");
    fx_fini(&fx);
}

static void test_misuse(void **state)
{
    (void)state;
    schema_t *s, *other;
    schema_row_t row;
    schema_error_t err;
    schema_field_def_t d = def("x", SCHEMA_INT);
    assert_int_equal(schema_create("a", &s), 0);
    assert_int_equal(schema_add_field(s, &d), 0);
    assert_int_equal(schema_row_init(&row, s), CORE_EINVAL); /* not sealed */
    assert_int_equal(schema_seal(s), 0);
    assert_int_equal(schema_create("b", &other), 0);
    assert_int_equal(schema_seal(other), 0);
    assert_int_equal(schema_row_init(&row, other), 0);
    assert_int_equal(schema_decode_json(s, "{}", 2, &row, &err), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "another schema"));
    assert_int_equal(schema_decode_json(other, "{\"x\":1}", 7, &row, NULL), 0);
    schema_row_fini(&row);
    schema_row_fini(NULL);
    schema_destroy(other);
    schema_destroy(s);
}

static int64_t all_allocs(void)
{
    int64_t total = 0;
    for (int t = 0; t < CORE_MEM__COUNT; t++) {
        core_mem_stats_t st;
        core_mem_stats((core_mem_tag_t)t, &st);
        total += st.total_allocs;
    }
    return total;
}

static void test_no_alloc_when_warm(void **state)
{
    (void)state;
    const char *sides[] = {"buy", "sell"};
    schema_field_def_t d[] = {def("id", SCHEMA_STRING),    def("side", SCHEMA_STRING),
                              def("qty", SCHEMA_INT),      def("px", SCHEMA_FLOAT),
                              def("ts", SCHEMA_TIMESTAMP), def("meta", SCHEMA_OBJECT),
                              def("note", SCHEMA_STRING)};
    d[0].required = true;
    d[1].enum_values = sides;
    d[1].n_enum = 2;
    d[2].has_min = true;
    d[2].min = 1;
    d[6].pattern = "[a-z\xc3\xa9 \"]*";
    fixture_t fx;
    fx_init(&fx, d, 7);
    char json[512];
    int64_t sum = 0;
    int64_t before = 0;
    for (int i = 0; i < 20000; i++) {
        if (i == 100)
            before = all_allocs(); /* warmed up */
        int n = snprintf(json, sizeof(json),
                         "{\"id\":\"ord-\\u00%02x%d\",\"side\":\"%s\",\"qty\":%d,\"px\":%d.%02d,"
                         "\"ts\":\"2026-11-22T13:04:%02d.%06dZ\",\"meta\":{\"k\":[%d]},"
                         "\"note\":\"caf\\u00e9 \\\"%.*s\\\"\",\"extra\":%d}",
                         0x41 + i % 26, i, sides[i % 2], 1 + i % 100, i % 1000, i % 100, i % 60, i,
                         i, i % 50, "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz", i);
        int rc = schema_decode_json(fx.s, json, (size_t)n, &fx.row, &fx.err);
        if (rc != 0)
            fail_msg("%s: %s", json, fx.err.reason);
        sum += fx.row.values[2].v.i;
        if (i % 7 == 0) { /* failing records must not allocate either */
            rc = schema_decode_json(fx.s, "{\"qty\":0,\"id\":\"x\"}", 18, &fx.row, &fx.err);
            assert_int_equal(rc, CORE_EINVAL);
        }
    }
    assert_int_equal(all_allocs(), before);
    assert_true(sum > 0);
    fx_fini(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_type_failures),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_duplicates_and_unknown),
        cmocka_unit_test(test_escapes_in_scratch),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_value_cap),
        cmocka_unit_test(test_checks_numbers),
        cmocka_unit_test(test_checks_strings),
        cmocka_unit_test(test_reasons_bounded),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_no_alloc_when_warm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
