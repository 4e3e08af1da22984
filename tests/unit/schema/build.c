/*
 * Unit tests for building schemas: type names, every schema_add_field()
 * error the header lists (and the schema left unchanged after each), rules,
 * sealing, lookup by name, limits, memory accounting and allocation
 * failure at every allocation of a build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
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

static int64_t schema_bytes(void)
{
    core_mem_stats_t st;
    core_mem_stats(CORE_MEM_SCHEMA, &st);
    return st.bytes;
}

static void test_type_names(void **state)
{
    (void)state;
    static const char *names[] = {"null",   "bool",      "int",    "float",
                                  "string", "timestamp", "object", "array"};
    for (int t = SCHEMA_NULL; t <= SCHEMA_ARRAY; t++) {
        schema_type_t back;
        assert_string_equal(schema_type_name((schema_type_t)t), names[t]);
        assert_int_equal(schema_type_parse(names[t], &back), 0);
        assert_int_equal(back, t);
    }
    schema_type_t t;
    assert_int_equal(schema_type_parse("integer", &t), 0);
    assert_int_equal(t, SCHEMA_INT);
    assert_int_equal(schema_type_parse("double", &t), 0);
    assert_int_equal(t, SCHEMA_FLOAT);
    assert_int_equal(schema_type_parse("boolean", &t), 0);
    assert_int_equal(t, SCHEMA_BOOL);
    assert_int_equal(schema_type_parse("decimal", &t), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "decimal"));
    assert_int_equal(schema_type_parse("", &t), CORE_EINVAL);
    assert_int_equal(schema_type_parse("Int", &t), CORE_EINVAL);
    assert_string_equal(schema_type_name((schema_type_t)99), "unknown");
}

static void test_err_kind_names(void **state)
{
    (void)state;
    assert_string_equal(schema_err_kind_name(SCHEMA_ERR_JSON), "invalid_json");
    assert_string_equal(schema_err_kind_name(SCHEMA_ERR_TYPE), "type");
    assert_string_equal(schema_err_kind_name(SCHEMA_ERR_REQUIRED), "required");
    assert_string_equal(schema_err_kind_name(SCHEMA_ERR_CHECK), "check");
    assert_string_equal(schema_err_kind_name(SCHEMA_ERR_TOOBIG), "too_big");
    assert_string_equal(schema_err_kind_name(SCHEMA_ERR_RULE), "rule");
}

static void test_build_and_lookup(void **state)
{
    (void)state;
    schema_t *s;
    int64_t before = schema_bytes();
    assert_int_equal(schema_create("trades", &s), 0);
    assert_string_equal(schema_name(s), "trades");
    const char *sides[] = {"buy", "sell"};
    schema_field_def_t d = def("side", SCHEMA_STRING);
    d.enum_values = sides;
    d.n_enum = 2;
    d.required = true;
    assert_int_equal(schema_add_field(s, &d), 0);
    d = def("price", SCHEMA_FLOAT);
    d.has_min = true;
    d.min = 0;
    assert_int_equal(schema_add_field(s, &d), 0);
    d = def("ts", SCHEMA_TIMESTAMP);
    d.format = "%d/%m/%y";
    assert_int_equal(schema_add_field(s, &d), 0);
    d = def("code", SCHEMA_STRING);
    d.pattern = "[A-Z]{3}";
    assert_int_equal(schema_add_field(s, &d), 0);
    /* Lookup works before and after sealing. */
    assert_int_equal(schema_field_index(s, "price", 5), 1);
    assert_int_equal(schema_seal(s), 0);
    assert_int_equal(schema_seal(s), 0); /* idempotent */
    assert_int_equal(schema_field_count(s), 4);
    assert_int_equal(schema_field_index(s, "side", 4), 0);
    assert_int_equal(schema_field_index(s, "pricex", 5), 1); /* length bounds the name */
    assert_int_equal(schema_field_index(s, "ts", 2), 2);
    assert_int_equal(schema_field_index(s, "code", 4), 3);
    assert_int_equal(schema_field_index(s, "nope", 4), -1);
    assert_int_equal(schema_field_index(s, "", 0), -1);
    const schema_field_t *f = schema_field(s, 0);
    assert_string_equal(f->name, "side");
    assert_int_equal(f->name_len, 4);
    assert_true(f->required);
    assert_int_equal(f->n_enum, 2);
    assert_string_equal(f->enum_values[1], "sell");
    assert_int_equal(f->enum_lens[1], 4);
    f = schema_field(s, 2);
    assert_int_equal(f->ts_format, SCHEMA_TS_STRFTIME);
    assert_string_equal(f->ts_pattern, "%d/%m/%y");
    assert_string_equal(schema_field(s, 3)->pattern, "[A-Z]{3}");
    assert_null(schema_field(s, 4));
    /* Sealed: no more fields or rules. */
    d = def("late", SCHEMA_INT);
    assert_int_equal(schema_add_field(s, &d), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "sealed"));
    assert_int_equal(schema_add_rule(s, "r", "price > 0", NULL), CORE_EINVAL);
    assert_true(schema_bytes() > before);
    schema_destroy(s);
    assert_int_equal(schema_bytes(), before);
    schema_destroy(NULL);
}

static void test_many_fields_lookup(void **state)
{
    (void)state;
    schema_t *s;
    char name[32];
    assert_int_equal(schema_create("wide", &s), 0);
    for (int i = 0; i < SCHEMA_MAX_FIELDS; i++) {
        snprintf(name, sizeof(name), "field_%d", i);
        schema_field_def_t d = def(name, SCHEMA_INT);
        assert_int_equal(schema_add_field(s, &d), 0);
    }
    schema_field_def_t d = def("one_too_many", SCHEMA_INT);
    assert_int_equal(schema_add_field(s, &d), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "more than 256 fields"));
    assert_int_equal(schema_seal(s), 0);
    for (int i = 0; i < SCHEMA_MAX_FIELDS; i++) {
        int n = snprintf(name, sizeof(name), "field_%d", i);
        assert_int_equal(schema_field_index(s, name, (size_t)n), i);
        name[n - 1] = 'x';
        assert_int_equal(schema_field_index(s, name, (size_t)n), -1);
    }
    schema_destroy(s);
}

/* Adds d to s, expects CORE_EINVAL with `needle` in the detail, and checks
 * the schema did not change. */
static void expect_reject(schema_t *s, const schema_field_def_t *d, const char *needle)
{
    size_t n = schema_field_count(s);
    core_error_clear();
    assert_int_equal(schema_add_field(s, d), CORE_EINVAL);
    if (strstr(core_error_detail(), needle) == NULL)
        fail_msg("detail \"%s\" lacks \"%s\"", core_error_detail(), needle);
    assert_int_equal(schema_field_count(s), n);
}

static void test_field_errors(void **state)
{
    (void)state;
    schema_t *s;
    assert_int_equal(schema_create("bad", &s), 0);
    schema_field_def_t d = def("x", SCHEMA_INT);
    assert_int_equal(schema_add_field(s, &d), 0);
    expect_reject(s, &d, "defined twice");
    d = def("", SCHEMA_INT);
    expect_reject(s, &d, "empty name");
    d = def(NULL, SCHEMA_INT);
    expect_reject(s, &d, "empty name");
    d = def("t", SCHEMA_NULL);
    expect_reject(s, &d, "invalid type");
    d = def("t", (schema_type_t)42);
    expect_reject(s, &d, "invalid type");
    d = def("mm", SCHEMA_FLOAT);
    d.has_min = d.has_max = true;
    d.min = 5;
    d.max = 4;
    expect_reject(s, &d, "min 5 is greater than max 4");
    d.min = NAN;
    d.max = 4;
    expect_reject(s, &d, "NaN");
    d = def("sm", SCHEMA_STRING);
    d.has_min = true;
    expect_reject(s, &d, "min/max apply to int, float and timestamp");
    d = def("re", SCHEMA_STRING);
    d.pattern = "[a-";
    expect_reject(s, &d, "bad pattern");
    d.pattern = "a)|(b"; /* would escape the implied anchors */
    expect_reject(s, &d, "bad pattern");
    d = def("ip", SCHEMA_INT);
    d.pattern = "[0-9]+";
    expect_reject(s, &d, "pattern applies to string fields");
    d = def("fm", SCHEMA_STRING);
    d.format = "iso8601";
    expect_reject(s, &d, "format applies to timestamp fields");
    d = def("ts", SCHEMA_TIMESTAMP);
    d.format = "%d/%q/%y";
    expect_reject(s, &d, "unknown directive \"%q\"");
    d.format = "%Y-%m-%d %";
    expect_reject(s, &d, "unknown directive");
    d.format = "%d/%d";
    expect_reject(s, &d, "appears twice");
    d.format = "%Y %y";
    expect_reject(s, &d, "both %Y and %y");
    d.format = "yyyy-mm-dd";
    expect_reject(s, &d, "unknown timestamp format");
    schema_destroy(s);
}

static void test_field_errors_checks(void **state)
{
    (void)state;
    schema_t *s;
    const char *vals[] = {"a", "b"};
    const char *null_vals[] = {"a", NULL};
    schema_field_def_t d;
    assert_int_equal(schema_create("bad", &s), 0);
    d = def("en", SCHEMA_INT);
    d.enum_values = vals;
    d.n_enum = 2;
    expect_reject(s, &d, "enum applies to string fields");
    d = def("en", SCHEMA_STRING);
    d.n_enum = 2;
    expect_reject(s, &d, "enum values are missing");
    d.enum_values = null_vals;
    expect_reject(s, &d, "enum value 1 is missing");
    d = def("len", SCHEMA_INT);
    d.max_length = 3;
    expect_reject(s, &d, "min_length/max_length apply to string fields");
    d = def("len", SCHEMA_STRING);
    d.min_length = 4;
    d.max_length = 3;
    expect_reject(s, &d, "min_length 4 is greater than max_length 3");
    d.min_length = -2;
    d.max_length = -1;
    expect_reject(s, &d, "negative");
    /* The valid variants of the same fields are accepted. */
    d = def("ts", SCHEMA_TIMESTAMP);
    d.format = "%Y-%m-%dT%H:%M:%S.%f%z %%";
    assert_int_equal(schema_add_field(s, &d), 0);
    d = def("len", SCHEMA_STRING);
    d.min_length = 3;
    d.max_length = 3;
    assert_int_equal(schema_add_field(s, &d), 0);
    assert_int_equal(schema_field_count(s), 2);
    schema_destroy(s);
}

static void test_formats(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        schema_ts_format_t fmt;
    } cases[] = {{NULL, SCHEMA_TS_AUTO},           {"auto", SCHEMA_TS_AUTO},
                 {"epoch_s", SCHEMA_TS_EPOCH_S},   {"epoch_ms", SCHEMA_TS_EPOCH_MS},
                 {"epoch_us", SCHEMA_TS_EPOCH_US}, {"iso8601", SCHEMA_TS_ISO8601},
                 {"%d/%m/%y", SCHEMA_TS_STRFTIME}};
    schema_t *s;
    char name[16];
    assert_int_equal(schema_create("fmt", &s), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(name, sizeof(name), "t%zu", i);
        schema_field_def_t d = def(name, SCHEMA_TIMESTAMP);
        d.format = cases[i].text;
        assert_int_equal(schema_add_field(s, &d), 0);
        assert_int_equal(schema_field(s, i)->ts_format, cases[i].fmt);
    }
    schema_destroy(s);
}

static void test_rules(void **state)
{
    (void)state;
    schema_t *s;
    assert_int_equal(schema_create("r", &s), 0);
    assert_int_equal(schema_add_rule(s, "positive", "amount > 0", "amount must be positive"), 0);
    assert_int_equal(schema_add_rule(s, "sane", "amount < 1e9", NULL), 0);
    assert_int_equal(schema_add_rule(s, "positive", "x", NULL), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "defined twice"));
    assert_int_equal(schema_add_rule(s, "", "x", NULL), CORE_EINVAL);
    assert_int_equal(schema_add_rule(s, "empty", "", NULL), CORE_EINVAL);
    assert_int_equal(schema_rule_count(s), 2);
    const schema_rule_t *r = schema_rule(s, 0);
    assert_string_equal(r->name, "positive");
    assert_string_equal(r->expr, "amount > 0");
    assert_string_equal(r->message, "amount must be positive");
    assert_null(schema_rule(s, 1)->message);
    assert_null(schema_rule(s, 2));
    assert_int_equal(schema_seal(s), 0);
    schema_destroy(s);
}

static void test_strings_are_copied(void **state)
{
    (void)state;
    schema_t *s;
    char name[] = "amount", pat[] = "[0-9]+", val[] = "one", fmt[] = "%Y";
    const char *vals[] = {val};
    assert_int_equal(schema_create(name, &s), 0);
    schema_field_def_t d = def(name, SCHEMA_STRING);
    d.pattern = pat;
    assert_int_equal(schema_add_field(s, &d), 0);
    d = def("e", SCHEMA_STRING);
    d.enum_values = vals;
    d.n_enum = 1;
    assert_int_equal(schema_add_field(s, &d), 0);
    d = def("t", SCHEMA_TIMESTAMP);
    d.format = fmt;
    assert_int_equal(schema_add_field(s, &d), 0);
    memset(name, 'z', 6);
    memset(pat, 'z', 6);
    memset(val, 'z', 3);
    fmt[1] = 'm';
    assert_int_equal(schema_seal(s), 0);
    assert_string_equal(schema_name(s), "amount");
    assert_int_equal(schema_field_index(s, "amount", 6), 0);
    assert_string_equal(schema_field(s, 0)->pattern, "[0-9]+");
    assert_string_equal(schema_field(s, 1)->enum_values[0], "one");
    assert_string_equal(schema_field(s, 2)->ts_pattern, "%Y");
    schema_destroy(s);
}

static void test_limits(void **state)
{
    (void)state;
    schema_t *s;
    assert_int_equal(schema_create("lim", &s), 0);
    schema_set_limits(s, 0, 100000); /* depth is capped at the scanner's */
    schema_set_limits(s, 10, 0);
    schema_field_def_t d = def("a", SCHEMA_ARRAY);
    assert_int_equal(schema_add_field(s, &d), 0);
    assert_int_equal(schema_seal(s), 0);
    schema_set_limits(s, 1000, 2); /* ignored once sealed */
    schema_row_t row;
    schema_error_t err;
    assert_int_equal(schema_row_init(&row, s), 0);
    const char *deep = "{\"a\":[[[[1]]]]}";
    assert_int_equal(schema_decode_json(s, deep, strlen(deep), &row, &err), 0);
    const char *big = "{\"a\":[1,2,3,4,5]}"; /* 11 bytes > 10 */
    assert_int_equal(schema_decode_json(s, big, strlen(big), &row, &err), CORE_EINVAL);
    assert_int_equal(err.kind, SCHEMA_ERR_TOOBIG);
    schema_row_fini(&row);
    schema_destroy(s);
}

/* Builds a schema with every kind of allocation; returns its result. */
static int build_full(void)
{
    schema_t *s = NULL;
    const char *vals[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    int rc = schema_create("full", &s);
    if (rc < 0)
        return rc;
    schema_field_def_t d = def("e", SCHEMA_STRING);
    d.enum_values = vals;
    d.n_enum = 9;
    d.pattern = "[a-i]";
    d.required = true;
    if ((rc = schema_add_field(s, &d)) < 0)
        goto out;
    d = def("t", SCHEMA_TIMESTAMP);
    d.format = "%Y/%m/%d";
    if ((rc = schema_add_field(s, &d)) < 0)
        goto out;
    if ((rc = schema_add_rule(s, "r", "e = 'a'", "msg")) < 0)
        goto out;
    if ((rc = schema_seal(s)) < 0)
        goto out;
    schema_row_t row;
    schema_error_t err;
    if ((rc = schema_row_init(&row, s)) < 0)
        goto out;
    rc = schema_decode_json(s, "{\"e\":\"\\u0062\"}", 14, &row, &err);
    schema_row_fini(&row);
out:
    schema_destroy(s);
    return rc;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    int64_t before = schema_bytes();
    assert_int_equal(build_full(), 0);
    int failures = 0;
    for (long n = 1; n < 200; n++) {
        core_mem_fail_at(n, false);
        int rc = build_full();
        core_mem_fail_at(0, false);
        assert_true(rc == 0 || rc == CORE_ENOMEM);
        assert_int_equal(schema_bytes(), before);
        if (rc == 0)
            break;
        failures++;
    }
    assert_true(failures > 10); /* every allocation point was hit */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_err_kind_names),
        cmocka_unit_test(test_build_and_lookup),
        cmocka_unit_test(test_many_fields_lookup),
        cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_field_errors_checks),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_strings_are_copied),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
