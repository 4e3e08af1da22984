/*
 * Unit tests for schema_decode_text() (CSV-style cells), schema_row_clear()
 * and schema_row_check_required(): null-like cells (empty, nan, null in any
 * case), every type's accepted spellings and rejections, checks applied to
 * cells, strings borrowed from the text, and a row of the bank sample's
 * shape.
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

enum { B, I, F, S, T, O, A, RQ, NFIELDS };

typedef struct {
    schema_t *s;
    schema_row_t row;
    schema_error_t err;
} fixture_t;

static int setup(void **state)
{
    static fixture_t fx;
    schema_field_def_t d[NFIELDS] = {def("b", SCHEMA_BOOL),      def("i", SCHEMA_INT),
                                     def("f", SCHEMA_FLOAT),     def("s", SCHEMA_STRING),
                                     def("t", SCHEMA_TIMESTAMP), def("o", SCHEMA_OBJECT),
                                     def("a", SCHEMA_ARRAY),     def("rq", SCHEMA_FLOAT)};
    d[I].has_min = true;
    d[I].min = -5;
    d[S].max_length = 5;
    d[T].format = "%d/%m/%y";
    d[RQ].required = true;
    assert_int_equal(schema_create("cells", &fx.s), 0);
    for (int i = 0; i < NFIELDS; i++)
        assert_int_equal(schema_add_field(fx.s, &d[i]), 0);
    assert_int_equal(schema_seal(fx.s), 0);
    assert_int_equal(schema_row_init(&fx.row, fx.s), 0);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    schema_row_fini(&fx->row);
    schema_destroy(fx->s);
    return 0;
}

static const schema_value_t *cell_ok(fixture_t *fx, size_t i, const char *text)
{
    int rc = schema_decode_text(fx->s, i, text, strlen(text), &fx->row, &fx->err);
    if (rc != 0)
        fail_msg("field %zu: \"%s\" rejected: %s", i, text, fx->err.reason);
    assert_int_equal(fx->err.kind, SCHEMA_ERR_NONE);
    return &fx->row.values[i];
}

static void cell_bad(fixture_t *fx, size_t i, const char *text, schema_err_kind_t kind,
                     const char *reason)
{
    int rc = schema_decode_text(fx->s, i, text, strlen(text), &fx->row, &fx->err);
    if (rc != CORE_EINVAL)
        fail_msg("field %zu: \"%s\" accepted", i, text);
    assert_int_equal(fx->err.kind, kind);
    assert_int_equal(fx->err.field, (int)i);
    assert_int_equal(fx->row.values[i].type, SCHEMA_NULL);
    if (reason != NULL && strcmp(fx->err.reason, reason) != 0)
        fail_msg("\"%s\": reason \"%s\", expected \"%s\"", text, fx->err.reason, reason);
}

static void test_nulls(void **state)
{
    fixture_t *fx = *state;
    static const char *nulls[] = {"", "nan", "NaN", "NAN", "null", "NULL", "Null"};
    for (size_t k = 0; k < sizeof(nulls) / sizeof(nulls[0]); k++) {
        for (size_t i = 0; i < RQ; i++)
            assert_int_equal(cell_ok(fx, i, nulls[k])->type, SCHEMA_NULL);
    }
    cell_bad(fx, RQ, "", SCHEMA_ERR_REQUIRED, "field \"rq\": required field is empty");
    cell_bad(fx, RQ, "nan", SCHEMA_ERR_REQUIRED, "field \"rq\": required field is null (\"nan\")");
    cell_bad(fx, RQ, "NULL", SCHEMA_ERR_REQUIRED, "field \"rq\": required field is null");
    /* "nan " and "none" are not null-like. */
    cell_bad(fx, F, "nan ", SCHEMA_ERR_TYPE, NULL);
    cell_bad(fx, I, "none", SCHEMA_ERR_TYPE, NULL);
}

static void test_bools(void **state)
{
    fixture_t *fx = *state;
    static const char *yes[] = {"true", "TRUE", "True", "1"}, *no[] = {"false", "FaLsE", "0"};
    for (size_t k = 0; k < 4; k++) {
        const schema_value_t *v = cell_ok(fx, B, yes[k]);
        assert_int_equal(v->type, SCHEMA_BOOL);
        assert_true(v->v.b);
    }
    for (size_t k = 0; k < 3; k++)
        assert_false(cell_ok(fx, B, no[k])->v.b);
    cell_bad(fx, B, "yes", SCHEMA_ERR_TYPE, "field \"b\": expected bool, got \"yes\"");
    cell_bad(fx, B, "2", SCHEMA_ERR_TYPE, NULL);
    cell_bad(fx, B, "true ", SCHEMA_ERR_TYPE, NULL);
}

static void test_ints(void **state)
{
    fixture_t *fx = *state;
    assert_int_equal(cell_ok(fx, I, "42")->v.i, 42);
    assert_int_equal(cell_ok(fx, I, "+7")->v.i, 7);
    assert_int_equal(cell_ok(fx, I, "-5")->v.i, -5); /* min is inclusive */
    assert_int_equal(cell_ok(fx, I, "007")->v.i, 7);
    assert_int_equal(cell_ok(fx, I, "9223372036854775807")->v.i, INT64_MAX);
    assert_int_equal(cell_ok(fx, I, "42")->type, SCHEMA_INT);
    cell_bad(fx, I, "-6", SCHEMA_ERR_CHECK, "field \"i\": -6 is below the minimum -5");
    cell_bad(fx, I, "9223372036854775808", SCHEMA_ERR_TYPE,
             "field \"i\": number 9223372036854775808 is outside the int range");
    cell_bad(fx, I, "4.0", SCHEMA_ERR_TYPE, "field \"i\": expected int, got \"4.0\"");
    cell_bad(fx, I, "1e3", SCHEMA_ERR_TYPE, NULL);
    cell_bad(fx, I, "-", SCHEMA_ERR_TYPE, NULL);
    cell_bad(fx, I, " 4", SCHEMA_ERR_TYPE, NULL);
    cell_bad(fx, I, "4 ", SCHEMA_ERR_TYPE, NULL);
    cell_bad(fx, I, "0x10", SCHEMA_ERR_TYPE, NULL);
}

static void test_floats(void **state)
{
    fixture_t *fx = *state;
    static const char *good[] = {"511841.34",
                                 "-0.5",
                                 "+1.25",
                                 ".5",
                                 "5.",
                                 "1e3",
                                 "1E-3",
                                 "123456789012345678901234567890.5",
                                 "2.2250738585072014e-308",
                                 ("0.1000000000000000055511151231257827021181583404541015625"
                                  "000000000000000000000000001")};
    for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        const schema_value_t *v = cell_ok(fx, F, good[k]);
        double want = strtod(good[k], NULL);
        assert_int_equal(v->type, SCHEMA_FLOAT);
        assert_memory_equal(&v->v.f, &want, sizeof(want));
    }
    static const char *nope[] = {"inf", "-infinity", "0x1p3", "1e", ".", "1.2.3",
                                 "1,5", "--1",       " 1",    "1 ", "e5"};
    for (size_t k = 0; k < sizeof(nope) / sizeof(nope[0]); k++)
        cell_bad(fx, F, nope[k], SCHEMA_ERR_TYPE, NULL);
    cell_bad(fx, F, "abc", SCHEMA_ERR_TYPE, "field \"f\": expected float, got \"abc\"");
    cell_bad(fx, F, "1e999", SCHEMA_ERR_TYPE,
             "field \"f\": number 1e999 is outside the float range");
    assert_true(cell_ok(fx, F, "1e-999")->v.f == 0.0); /* underflow is zero */
}

static void test_strings(void **state)
{
    fixture_t *fx = *state;
    const char *text = "DELHI";
    const schema_value_t *v = cell_ok(fx, S, text);
    assert_int_equal(v->type, SCHEMA_STRING);
    assert_ptr_equal(v->v.s.p, text); /* borrowed */
    assert_int_equal(v->v.s.len, 5);
    cell_ok(fx, S, "\xc3\xa9t\xc3\xa9s!"); /* 5 characters, 7 bytes */
    cell_bad(fx, S, "MUMBAI", SCHEMA_ERR_CHECK,
             "field \"s\": length 6 is above the maximum length 5");
    cell_bad(fx, S, "a\xff", SCHEMA_ERR_TYPE, "field \"s\": \"a\\xFF\" is not valid UTF-8");
}

static void test_timestamps_and_containers(void **state)
{
    fixture_t *fx = *state;
    const schema_value_t *v = cell_ok(fx, T, "28/8/16");
    assert_int_equal(v->type, SCHEMA_TIMESTAMP);
    assert_int_equal(v->v.i, 1472342400000000LL);
    cell_bad(fx, T, "31/2/16", SCHEMA_ERR_TYPE,
             "field \"t\": cannot parse \"31/2/16\" as a timestamp (%d/%m/%y): day out of range "
             "for the month");
    cell_bad(fx, T, "1/1/1800", SCHEMA_ERR_TYPE, NULL);
    v = cell_ok(fx, O, " {\"a\": [1]} ");
    assert_int_equal(v->type, SCHEMA_OBJECT);
    assert_int_equal(v->v.s.len, strlen("{\"a\": [1]}"));
    assert_int_equal(cell_ok(fx, A, "[1,2]")->type, SCHEMA_ARRAY);
    cell_bad(fx, O, "[1]", SCHEMA_ERR_TYPE, "field \"o\": expected object, got \"[1]\"");
    cell_bad(fx, A, "[1,", SCHEMA_ERR_TYPE, NULL);
    char deep[80];
    memset(deep, '[', 40);
    memset(deep + 40, ']', 40);
    int rc = schema_decode_text(fx->s, A, deep, sizeof(deep), &fx->row, &fx->err);
    assert_int_equal(rc, CORE_EINVAL);
    assert_int_equal(fx->err.kind, SCHEMA_ERR_TOOBIG);
}

static void test_clear_and_required(void **state)
{
    fixture_t *fx = *state;
    schema_row_clear(&fx->row);
    cell_ok(fx, I, "1");
    assert_int_equal(schema_row_check_required(fx->s, &fx->row, &fx->err), CORE_EINVAL);
    assert_int_equal(fx->err.kind, SCHEMA_ERR_REQUIRED);
    assert_int_equal(fx->err.field, RQ);
    assert_string_equal(fx->err.reason, "field \"rq\": required field is missing");
    cell_ok(fx, RQ, "1.5");
    assert_int_equal(schema_row_check_required(fx->s, &fx->row, &fx->err), 0);
    assert_int_equal(fx->err.kind, SCHEMA_ERR_NONE);
    schema_row_clear(&fx->row);
    for (size_t i = 0; i < NFIELDS; i++)
        assert_int_equal(fx->row.values[i].type, SCHEMA_NULL);
    assert_int_equal(schema_row_check_required(fx->s, &fx->row, NULL), CORE_EINVAL);
    assert_int_equal(schema_decode_text(fx->s, NFIELDS, "1", 1, &fx->row, &fx->err), CORE_EINVAL);
}

/* One row of the bank sample, cell by cell, as a CSV import would. */
static void test_bank_row(void **state)
{
    (void)state;
    enum { ID, CUST, DOB, GENDER, LOC, BAL, DATE, TIME, AMOUNT, NB };
    schema_field_def_t d[NB] = {
        def("TransactionID", SCHEMA_STRING),         def("CustomerID", SCHEMA_STRING),
        def("CustomerDOB", SCHEMA_TIMESTAMP),        def("CustGender", SCHEMA_STRING),
        def("CustLocation", SCHEMA_STRING),          def("CustAccountBalance", SCHEMA_FLOAT),
        def("TransactionDate", SCHEMA_TIMESTAMP),    def("TransactionTime", SCHEMA_INT),
        def("TransactionAmount (INR)", SCHEMA_FLOAT)};
    const char *genders[] = {"M", "F", "T"};
    d[ID].required = true;
    d[ID].pattern = "T[0-9]+";
    d[DOB].format = "%d/%m/%y";
    d[GENDER].enum_values = genders;
    d[GENDER].n_enum = 3;
    d[DATE].format = "%d/%m/%y";
    d[DATE].required = true;
    d[TIME].has_min = d[TIME].has_max = true;
    d[TIME].min = 0;
    d[TIME].max = 235959;
    d[AMOUNT].has_min = true;
    d[AMOUNT].min = 0;
    schema_t *s;
    schema_row_t row;
    schema_error_t err;
    assert_int_equal(schema_create("bank", &s), 0);
    for (int i = 0; i < NB; i++)
        assert_int_equal(schema_add_field(s, &d[i]), 0);
    assert_int_equal(schema_seal(s), 0);
    assert_int_equal(schema_row_init(&row, s), 0);
    const char *cells[NB] = {"T2", "C1013552", "8/2/61", "F",    "DELHI, NCR",
                             "",   "29/8/16",  "14145",  "117.5"};
    schema_row_clear(&row);
    for (int i = 0; i < NB; i++) {
        if (schema_decode_text(s, (size_t)i, cells[i], strlen(cells[i]), &row, &err) != 0)
            fail_msg("cell %d: %s", i, err.reason);
    }
    assert_int_equal(schema_row_check_required(s, &row, &err), 0);
    /* %y follows POSIX: 61 is 2061, so a birth date needs a four-digit year
     * or a check (docs/schema.md says so). */
    assert_int_equal(row.values[DOB].v.i, schema_days_from_civil(2061, 2, 8) * 86400000000LL);
    assert_int_equal(row.values[BAL].type, SCHEMA_NULL);
    assert_int_equal(row.values[TIME].v.i, 14145);
    assert_true(row.values[AMOUNT].v.f == 117.5);
    assert_int_equal(schema_decode_text(s, GENDER, "X", 1, &row, &err), CORE_EINVAL);
    assert_string_equal(err.reason,
                        "field \"CustGender\": \"X\" is not one of \"M\", \"F\", \"T\"");
    schema_row_fini(&row);
    schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nulls),
        cmocka_unit_test(test_bools),
        cmocka_unit_test(test_ints),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_timestamps_and_containers),
        cmocka_unit_test(test_clear_and_required),
        cmocka_unit_test(test_bank_row),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
