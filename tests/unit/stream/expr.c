/*
 * Unit tests for the expression language (src/stream/expr_*.c): literals,
 * precedence and associativity, every operator over every type and NULL,
 * three-valued logic, is null / in / between / like, every function with
 * its edge cases, metadata identifiers, compile errors with exact columns,
 * scratch exhaustion and movement, allocation-free evaluation, and
 * allocation failure while compiling.
 *
 * Expressions over fields are evaluated at run time; expressions over
 * literals only are folded at compile time by the same evaluator, so most
 * operators are tested both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "schema/schema.h"
#include "stream/expr_int.h"

#define TS_US  INT64_C(1710078330500000) /* 2024-03-10T13:45:30.5Z, a Sunday */
#define NFIELD 14

enum {
    F_AMOUNT,
    F_PRICE,
    F_CITY,
    F_ACTIVE,
    F_TS,
    F_NOTE,
    F_QTY,
    F_META,
    F_TAGS,
    F_FIRST_NAME,
    F_OLD_TS,
    F_NAME,
    F_FLAG,
    F_RATIO
};

static schema_t *schema;
static schema_value_t fields[NFIELD];
static stream_expr_env_t env;
static core_buf_t scratch;
/* The last expression evaluated by a helper: results may borrow its
 * constants, so it lives until the next evaluation (or teardown). */
static stream_expr_t *last;

static void add_field(const char *name, schema_type_t type)
{
    schema_field_def_t d = {.name = name, .type = type, .min_length = -1, .max_length = -1};
    assert_int_equal(schema_add_field(schema, &d), 0);
}

static void set_str(schema_value_t *v, const char *s)
{
    v->type = SCHEMA_STRING;
    v->v.s.p = s;
    v->v.s.len = strlen(s);
}

static void reset_fields(void)
{
    memset(fields, 0, sizeof(fields));
    fields[F_AMOUNT] = (schema_value_t){.type = SCHEMA_INT, .v.i = 250};
    fields[F_PRICE] = (schema_value_t){.type = SCHEMA_FLOAT, .v.f = 2.5};
    set_str(&fields[F_CITY], "MUMBAI");
    fields[F_ACTIVE] = (schema_value_t){.type = SCHEMA_BOOL, .v.b = true};
    fields[F_TS] = (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = TS_US};
    set_str(&fields[F_META], "{\"a\":1}");
    fields[F_META].type = SCHEMA_OBJECT;
    set_str(&fields[F_TAGS], "[1,2]");
    fields[F_TAGS].type = SCHEMA_ARRAY;
    set_str(&fields[F_FIRST_NAME], "Ada");
    fields[F_OLD_TS] = (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = -1};
    set_str(&fields[F_NAME], "h\xc3\xa9llo w\xc3\xb6rld"); /* héllo wörld */
    /* note, qty, flag, ratio: NULL */
    env.fields = fields;
    set_str(&env.key, "k1");
    env.partition = 3;
    env.offset = 42;
    env.timestamp_us = 1700000000000000;
}

static int setup(void **state)
{
    (void)state;
    assert_int_equal(schema_create("t", &schema), 0);
    add_field("amount", SCHEMA_INT);
    add_field("price", SCHEMA_FLOAT);
    add_field("city", SCHEMA_STRING);
    add_field("active", SCHEMA_BOOL);
    add_field("ts", SCHEMA_TIMESTAMP);
    add_field("note", SCHEMA_STRING);
    add_field("qty", SCHEMA_INT);
    add_field("meta", SCHEMA_OBJECT);
    add_field("tags", SCHEMA_ARRAY);
    add_field("first name", SCHEMA_STRING);
    add_field("old_ts", SCHEMA_TIMESTAMP);
    add_field("name", SCHEMA_STRING);
    add_field("flag", SCHEMA_BOOL);
    add_field("ratio", SCHEMA_FLOAT);
    assert_int_equal(schema_seal(schema), 0);
    assert_int_equal(schema_field_count(schema), NFIELD);
    core_buf_init(&scratch, CORE_MEM_TEST, 1 << 16);
    reset_fields();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    stream_expr_destroy(last);
    core_buf_fini(&scratch);
    schema_destroy(schema);
    return 0;
}

/* ------------------------------------------------------------------------
 * Helpers: each names the expression when it fails.
 * ------------------------------------------------------------------------ */

/* Compiles and evaluates text; the result's strings live in scratch, the
 * env or the expression. */
static schema_value_t eval_text(const char *text)
{
    stream_expr_t *e = NULL;
    stream_expr_destroy(last);
    last = NULL;
    schema_value_t v = {.type = SCHEMA_NULL};
    if (stream_expr_compile(text, schema, &e) != 0)
        fail_msg("%s: does not compile: %s", text, core_error_detail());
    core_buf_reset(&scratch);
    int rc = stream_expr_eval(e, &env, &scratch, &v);
    if (rc != 0)
        fail_msg("%s: eval failed: %d %s", text, rc, core_error_detail());
    if (v.type != SCHEMA_NULL && stream_expr_type(e) != SCHEMA_NULL &&
        stream_expr_type(e) != v.type)
        fail_msg("%s: static type %s but value %s", text, schema_type_name(stream_expr_type(e)),
                 schema_type_name(v.type));
    last = e;
    return v;
}

static void expect_int(const char *text, int64_t want)
{
    schema_value_t v = eval_text(text);
    if (v.type != SCHEMA_INT || v.v.i != want)
        fail_msg("%s: want int %lld, got %s %lld", text, (long long)want, schema_type_name(v.type),
                 (long long)v.v.i);
}

static void expect_ts(const char *text, int64_t want)
{
    schema_value_t v = eval_text(text);
    if (v.type != SCHEMA_TIMESTAMP || v.v.i != want)
        fail_msg("%s: want timestamp %lld, got %s %lld", text, (long long)want,
                 schema_type_name(v.type), (long long)v.v.i);
}

static void expect_float(const char *text, double want)
{
    schema_value_t v = eval_text(text);
    if (v.type != SCHEMA_FLOAT || v.v.f != want)
        fail_msg("%s: want float %.17g, got %s %.17g", text, want, schema_type_name(v.type), v.v.f);
}

static void expect_bool(const char *text, bool want)
{
    schema_value_t v = eval_text(text);
    if (v.type != SCHEMA_BOOL || v.v.b != want)
        fail_msg("%s: want %s, got %s", text, want ? "true" : "false",
                 v.type == SCHEMA_BOOL ? (v.v.b ? "true" : "false") : schema_type_name(v.type));
}

static void expect_null(const char *text)
{
    schema_value_t v = eval_text(text);
    if (v.type != SCHEMA_NULL)
        fail_msg("%s: want NULL, got %s", text, schema_type_name(v.type));
}

static void expect_str(const char *text, const char *want)
{
    schema_value_t v = eval_text(text);
    if (v.type != SCHEMA_STRING || v.v.s.len != strlen(want) ||
        (v.v.s.len && memcmp(v.v.s.p, want, v.v.s.len) != 0))
        fail_msg("%s: want '%s', got %s '%.*s'", text, want, schema_type_name(v.type),
                 v.type == SCHEMA_STRING ? (int)v.v.s.len : 0,
                 v.type == SCHEMA_STRING ? v.v.s.p : "");
}

static void expect_error(const char *text, const char *want)
{
    stream_expr_t *e = NULL;
    core_error_clear();
    int rc = stream_expr_compile(text, schema, &e);
    if (rc != CORE_EINVAL || e != NULL)
        fail_msg("%s: want compile error '%s', got %d", text, want, rc);
    if (strcmp(core_error_detail(), want) != 0)
        fail_msg("%s: want error\n  '%s'\ngot\n  '%s'", text, want, core_error_detail());
}

static void expect_type(const char *text, schema_type_t want)
{
    stream_expr_t *e = NULL;
    assert_int_equal(stream_expr_compile(text, schema, &e), 0);
    if (stream_expr_type(e) != want)
        fail_msg("%s: want static type %s, got %s", text, schema_type_name(want),
                 schema_type_name(stream_expr_type(e)));
    stream_expr_destroy(e);
}

/* ------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------ */

static void test_literals(void **state)
{
    (void)state;
    expect_int("42", 42);
    expect_int("0", 0);
    expect_int("9223372036854775807", INT64_MAX);
    expect_int("-9223372036854775808", INT64_MIN);
    expect_float("2.5", 2.5);
    expect_float("1e3", 1000.0);
    expect_float("1.5E-2", 0.015);
    expect_str("'abc'", "abc");
    expect_str("'it''s'", "it's");
    expect_str("''", "");
    expect_str("'h\xc3\xa9'", "h\xc3\xa9");
    expect_bool("true", true);
    expect_bool("FALSE", false);
    expect_null("null");
    expect_null("NULL");
    expect_int("  7  ", 7);
    expect_int("\n(\t7\r)\n", 7);
}

static void test_precedence(void **state)
{
    (void)state;
    expect_int("1 + 2 * 3", 7);
    expect_int("(1 + 2) * 3", 9);
    expect_int("10 - 2 - 3", 5);   /* left-associative */
    expect_int("100 / 10 / 5", 2); /* left-associative */
    expect_int("2 * 3 % 4", 2);    /* (2 * 3) % 4 */
    expect_int("2 * (3 % 4)", 6);
    expect_int("-2 * 3", -6);
    expect_int("- -3", 3);
    expect_int("-amount + 1", -249);
    expect_int("amount - 50 - 100", 100);
    expect_int("amount / 5 / 2", 25);
    expect_bool("1 + 2 = 3", true);
    expect_str("'a' || 1 + 2", "a3"); /* + binds tighter than || */
    expect_str("'a' || 'b' || 'c'", "abc");
    expect_bool("'a' || 'b' = 'ab'", true); /* || binds tighter than = */
    expect_bool("not 1 = 2", true);         /* not binds looser than = */
    expect_bool("true or false and false", true);
    expect_bool("(true or false) and false", false);
    expect_bool("not true or true", true);
    expect_bool("not (true or true)", false);
    expect_bool("not not true", true);
    expect_bool("amount between 1 and 300 and city = 'MUMBAI'", true);
    expect_bool("amount > 100 and price < 3 or city = 'X'", true);
    expect_bool("active and not amount > 1000", true);
    expect_bool("amount + 50 > 299 and amount * 2 = 500", true);
}

static void test_arith_int(void **state)
{
    (void)state;
    expect_int("7 / 2", 3);
    expect_int("-7 / 2", -3); /* truncation toward zero */
    expect_int("7 / -2", -3);
    expect_int("7 % 3", 1);
    expect_int("-7 % 3", -1); /* sign of the dividend */
    expect_int("7 % -3", 1);
    expect_int("amount % 7", 5);
    expect_int("-amount % 7", -5);
    expect_int("amount / 7", 35);
    expect_int("-amount / 7", -35);
    expect_null("1 / 0");
    expect_null("1 % 0");
    expect_null("amount / 0");
    expect_null("amount % (amount - 250)");
    expect_null("9223372036854775807 + 1");
    expect_null("-9223372036854775808 - 1");
    expect_null("4611686018427387904 * 2");
    expect_null("-9223372036854775808 / -1");
    expect_int("-9223372036854775808 % -1", 0);
    expect_null("-(-9223372036854775808)");
    expect_null("amount + 9223372036854775807");
    expect_null("amount * 9223372036854775807");
    expect_null("-amount - 9223372036854775807");
    expect_int("amount * 4", 1000);
    expect_int("amount - 251", -1);
    expect_type("amount + 1", SCHEMA_INT);
    expect_type("amount / 2", SCHEMA_INT);
}

static void test_arith_float(void **state)
{
    (void)state;
    expect_float("7 / 2.0", 3.5);
    expect_float("price * 2", 5.0);
    expect_float("price + amount", 252.5);
    expect_float("amount - price", 247.5);
    expect_float("amount / price", 100.0);
    expect_float("5.5 % 2", 1.5);
    expect_float("-5.5 % 2", -1.5);
    expect_float("-price", -2.5);
    expect_null("1.0 / 0");
    expect_null("price / 0.0");
    expect_null("price % 0");
    expect_null("1e308 * 10"); /* infinity */
    expect_null("price * 1e308 * 1e308");
    expect_type("amount + price", SCHEMA_FLOAT);
    expect_type("price * 2", SCHEMA_FLOAT);
    expect_type("-price", SCHEMA_FLOAT);
}

static void test_arith_time(void **state)
{
    (void)state;
    expect_ts("ts + 1000000", TS_US + 1000000);
    expect_ts("1000000 + ts", TS_US + 1000000);
    expect_ts("ts - seconds(30)", TS_US - 30000000);
    expect_ts("ts + minutes(1)", TS_US + 60000000);
    expect_int("ts - ts", 0);
    expect_int("ts - old_ts", TS_US + 1);
    expect_int("old_ts - ts", -TS_US - 1);
    expect_null("ts + 9223372036854775807");
    expect_type("ts + 1", SCHEMA_TIMESTAMP);
    expect_type("ts - ts", SCHEMA_INT);
    expect_bool("ts - hours(1) < ts", true);
}

static void test_null_operands(void **state)
{
    (void)state;
    const char *nulls[] = {
        "amount + qty",
        "qty * 2",
        "qty - price",
        "ratio / 2",
        "qty % 2",
        "-qty",
        "-ratio",
        "qty = 1",
        "qty <> 1",
        "qty < 1",
        "qty <= 1",
        "qty > 1",
        "qty >= 1",
        "note = 'x'",
        "flag = true",
        "ts + qty",
        "note || 'x'",
        "'x' || note",
        "note like 'a%'",
        "city like note",
        "qty between 1 and 2",
        "qty in (1, 2)",
        "lower(note)",
        "length(note)",
        "substr(note, 1)",
        "substr(city, qty)",
        "abs(qty)",
        "round(ratio)",
        "round(price, qty)",
        "year(ts + qty)",
        "not flag",
        "null + 1",
        "null = null",
        "null || 'a'",
        "int(null)",
        "string(note)",
        "to_timestamp(qty)",
        "seconds(qty)",
        "date(ts + qty)",
        "replace(city, note, 'x')",
        "contains(note, 'a')",
        "pow(2, qty)",
        "sqrt(ratio)",
        "date_trunc(note, ts)",
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(nulls); i++)
        expect_null(nulls[i]);
}

/* and/or/not over true, false and NULL, from literals (folded) and from
 * fields (evaluated at run time). */
static void test_three_valued_logic(void **state)
{
    (void)state;
    const char *lit[3] = {"true", "false", "null"};
    const char *fld[3] = {"active", "(not active)", "flag"};
    /* SQL truth tables: 1 true, 0 false, -1 NULL; index t=0, f=1, n=2 */
    const int and_t[3][3] = {{1, 0, -1}, {0, 0, 0}, {-1, 0, -1}};
    const int or_t[3][3] = {{1, 1, 1}, {1, 0, -1}, {1, -1, -1}};
    char text[128];
    for (int src = 0; src < 2; src++) {
        const char **v = src ? fld : lit;
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) {
                for (int op = 0; op < 2; op++) {
                    int want = op ? or_t[a][b] : and_t[a][b];
                    snprintf(text, sizeof(text), "%s %s %s", v[a], op ? "or" : "and", v[b]);
                    if (want < 0)
                        expect_null(text);
                    else
                        expect_bool(text, want);
                }
            }
            snprintf(text, sizeof(text), "not %s", v[a]);
            if (a == 2)
                expect_null(text);
            else
                expect_bool(text, a == 1);
        }
    }
    expect_bool("flag or flag or active", true);
    expect_bool("flag and flag and not active", false);
    expect_null("flag and active and active");
    expect_null("not active or flag or not active");
}

static void test_comparisons(void **state)
{
    (void)state;
    expect_bool("amount = 250", true);
    expect_bool("amount == 250", true);
    expect_bool("amount != 250", false);
    expect_bool("amount <> 251", true);
    expect_bool("amount < 251", true);
    expect_bool("amount <= 250", true);
    expect_bool("amount > 250", false);
    expect_bool("amount >= 250", true);
    expect_bool("amount = 250.0", true); /* int with float */
    expect_bool("price > 2", true);
    expect_bool("price < amount", true);
    expect_bool("2.5 = price", true);
    expect_bool("city = 'MUMBAI'", true);
    expect_bool("city > 'MUMBA'", true);
    expect_bool("'a' < 'b'", true);
    expect_bool("'B' < 'a'", true); /* bytewise */
    expect_bool("'ab' < 'abc'", true);
    expect_bool("'abc' >= 'abc'", true);
    expect_bool("'\xc3\xa9' > 'z'", true);
    expect_bool("false < true", true);
    expect_bool("active = true", true);
    expect_bool("active <> false", true);
    expect_bool("ts > old_ts", true);
    expect_bool("ts = ts", true);
    expect_bool("old_ts < '1970-01-01'", true); /* string literal read as a time */
    expect_bool("ts > '2024-01-01'", true);
    expect_bool("ts = '2024-03-10T13:45:30.5Z'", true);
    expect_bool("'2024-03-10T13:45:30.500+00:00' = ts", true);
    expect_bool("_timestamp < ts", true);
}

static void test_is_null(void **state)
{
    (void)state;
    expect_bool("note is null", true);
    expect_bool("note is not null", false);
    expect_bool("amount is null", false);
    expect_bool("amount IS NOT NULL", true);
    expect_bool("null is null", true);
    expect_bool("(qty + 1) is null", true);
    expect_bool("1 / 0 is null", true);
    expect_bool("meta is not null", true);
    expect_bool("flag is null and not (note is not null)", true);
}

static void test_in(void **state)
{
    (void)state;
    expect_bool("amount in (1, 250)", true);
    expect_bool("amount in (1, 2)", false);
    expect_null("amount in (1, null)");
    expect_bool("amount in (250, null)", true);
    expect_bool("amount in (null, 250)", true);
    expect_bool("amount not in (1, 2)", true);
    expect_bool("amount not in (250)", false);
    expect_null("amount not in (1, null)");
    expect_null("qty in (1)");
    expect_null("qty not in (1)");
    expect_bool("city in ('DELHI', 'MUMBAI')", true);
    expect_bool("price in (2.5)", true);
    expect_bool("amount in (250.0)", true);
    expect_bool("amount in (amount - 1, amount + 1, amount)", true);
    expect_bool("ts in ('2024-03-10T13:45:30.5Z')", true);
    expect_bool("1 in (1, 2, 3)", true);
}

static void test_between(void **state)
{
    (void)state;
    expect_bool("amount between 200 and 300", true);
    expect_bool("amount between 250 and 250", true);
    expect_bool("amount between 300 and 400", false);
    expect_bool("amount between 300 and 200", false);
    expect_bool("amount not between 300 and 400", true);
    expect_bool("amount not between 200 and 300", false);
    expect_bool("amount between null and 100", false); /* x <= 100 is false */
    expect_null("amount between null and 300");
    expect_null("qty between 1 and 2");
    expect_null("amount not between 1 and null");
    expect_bool("price between 2 and 3", true);
    expect_bool("city between 'A' and 'N'", true);
    expect_bool("ts between '2024-01-01' and '2025-01-01'", true);
    expect_bool("5 between 1 and 10", true);
}

static void test_like(void **state)
{
    (void)state;
    expect_bool("city like 'MUM%'", true);
    expect_bool("city like '%BA_'", true);
    expect_bool("city like '_UMBAI'", true);
    expect_bool("city like 'MUMBAI'", true);
    expect_bool("city like 'mumbai'", false); /* case-sensitive */
    expect_bool("city like 'MUMBA'", false);
    expect_bool("city like '%'", true);
    expect_bool("city like '%%%'", true);
    expect_bool("city like '______'", true);
    expect_bool("city like '_____'", false);
    expect_bool("city like '%M%M%'", true);
    expect_bool("city like '%B%M%'", false);
    expect_bool("city not like '%X%'", true);
    expect_bool("city not like 'M%'", false);
    expect_bool("'' like '%'", true);
    expect_bool("'' like '_'", false);
    expect_bool("'abc' like 'a_c'", true);
    expect_bool("'a%b' like 'a%b'", true);
    expect_bool("'aXb' like 'a%b'", true);
    expect_bool("name like 'h_llo w_rld'", true); /* '_' is one code point */
    expect_bool("name like 'h__llo%'", false);
    expect_bool("name like '%\xc3\xb6%'", true);
    expect_bool("'mississippi' like '%iss%ppi'", true);
    expect_bool("'mississippi' like '%iss%pi%x'", false);
}

/* A long subject against a pattern with many '%' finishes (no exponential
 * backtracking) and gets the right answer. */
static void test_like_long(void **state)
{
    (void)state;
    static char text[20100];
    size_t n = 0;
    n += (size_t)snprintf(text, sizeof(text), "'");
    memset(text + n, 'a', 20000);
    n += 20000;
    snprintf(text + n, sizeof(text) - n, "' like '%%a%%a%%a%%a%%a%%a%%a%%a%%a%%a%%b'");
    expect_bool(text, false);
    text[n - 1] = 'b'; /* the subject now ends in b */
    expect_bool(text, true);
}

static void test_concat(void **state)
{
    (void)state;
    expect_str("city || '-' || amount", "MUMBAI-250");
    expect_str("'x' || price", "x2.5");
    expect_str("'x' || 0.1", "x0.1");
    expect_str("'x' || 1e21", "x1e+21");
    expect_str("'t=' || ts", "t=2024-03-10T13:45:30.500000Z");
    expect_str("'t=' || old_ts", "t=1969-12-31T23:59:59.999999Z");
    expect_str("active || '!'", "true!");
    expect_str("meta || tags", "{\"a\":1}[1,2]");
    expect_str("amount || amount", "250250");
    expect_str("lower(city) || upper(city) || lower(city)", "mumbaiMUMBAImumbai");
    expect_str("concat('a', 1, 2.5, true, null, 'z')", "a12.5truez");
    expect_str("concat(null)", "");
    expect_str("concat(note, qty)", "");
    expect_str("concat(city)", "MUMBAI");
    expect_str("concat(lower(city), '/', upper(name), '/', amount)",
               "mumbai/H\xc3\xa9LLO W\xc3\xb6RLD/250");
    expect_type("concat(amount)", SCHEMA_STRING);
    expect_type("amount || 1", SCHEMA_STRING);
}

static void test_string_functions(void **state)
{
    (void)state;
    expect_str("lower(city)", "mumbai");
    expect_str("upper('MiXeD 1')", "MIXED 1");
    expect_str("upper(name)", "H\xc3\xa9LLO W\xc3\xb6RLD"); /* ASCII letters only */
    expect_str("lower('')", "");
    expect_int("length(city)", 6);
    expect_int("length(name)", 11); /* code points, not bytes */
    expect_int("length('')", 0);
    expect_str("trim('  a b \t\n')", "a b");
    expect_str("trim('   ')", "");
    expect_str("trim(city)", "MUMBAI");
    expect_str("substr('hello', 2)", "ello");
    expect_str("substr('hello', 2, 3)", "ell");
    expect_str("substr('hello', 10)", "");
    expect_str("substr('hello', 5, 10)", "o");
    expect_str("substr('hello', 6)", "");
    expect_str("substr('hello', 0, 2)", "h");
    expect_str("substr('hello', -1, 3)", "h");
    expect_str("substr('hello', -5, 3)", "");
    expect_str("substr('hello', 1, 0)", "");
    expect_null("substr('hello', 1, -1)");
    expect_str("substr(name, 2, 4)", "\xc3\xa9llo");
    expect_str("substr(name, 8)", "\xc3\xb6rld");
    expect_str("substr(city, 1, 9223372036854775807)", "MUMBAI");
    expect_str("substr(lower(city), 3)", "mbai");
    expect_bool("contains(city, 'MB')", true);
    expect_bool("contains(city, 'X')", false);
    expect_bool("contains(city, '')", true);
    expect_bool("contains('', 'a')", false);
    expect_bool("starts_with(city, 'MUM')", true);
    expect_bool("starts_with(city, 'UM')", false);
    expect_bool("starts_with(city, '')", true);
    expect_bool("starts_with('M', 'MUM')", false);
    expect_bool("ends_with(city, 'BAI')", true);
    expect_bool("ends_with(city, 'MUMBAI!')", false);
    expect_bool("ends_with(city, '')", true);
    expect_str("replace('aaa', 'a', 'bb')", "bbbbbb");
    expect_str("replace('abcabc', 'bc', '')", "aa");
    expect_str("replace('abc', '', 'x')", "abc");
    expect_str("replace('abc', 'z', 'x')", "abc");
    expect_str("replace('aaaa', 'aa', 'b')", "bb");
    expect_str("replace(city, 'M', 'mm')", "mmUmmBAI");
    expect_str("replace(lower(city), 'mu', upper('x'))", "Xmbai");
    expect_str("replace(name, '\xc3\xb6', 'o')", "h\xc3\xa9llo world");
}

static void test_numeric_functions(void **state)
{
    (void)state;
    expect_int("abs(-5)", 5);
    expect_int("abs(amount)", 250);
    expect_float("abs(-2.5)", 2.5);
    expect_null("abs(-9223372036854775807 - 1)");
    expect_float("round(2.5)", 3.0);
    expect_float("round(-2.5)", -3.0);
    expect_float("round(2.4)", 2.0);
    expect_float("round(2.3456, 2)", 2.35);
    expect_float("round(-2.3456, 1)", -2.3);
    expect_float("round(1234.5, -2)", 1200.0);
    expect_float("round(price, 0)", 3.0);
    expect_float("round(1.5, 400)", 1.5);
    expect_float("round(1.5, -400)", 0.0);
    expect_int("round(7)", 7);
    expect_int("round(1250, -2)", 1300);
    expect_int("round(-1250, -2)", -1300);
    expect_int("round(1249, -2)", 1200);
    expect_int("round(amount, -3)", 0);
    expect_int("round(amount, 2)", 250);
    expect_int("round(amount, -30)", 0);
    expect_null("round(9223372036854775807, -1)");
    expect_float("floor(2.7)", 2.0);
    expect_float("floor(-2.5)", -3.0);
    expect_float("ceil(2.1)", 3.0);
    expect_float("ceil(-2.1)", -2.0);
    expect_int("floor(5)", 5);
    expect_int("ceil(amount)", 250);
    expect_float("sqrt(16)", 4.0);
    expect_null("sqrt(-1)");
    expect_float("ln(1)", 0.0);
    expect_null("ln(0)");
    expect_null("ln(-1)");
    expect_float("exp(0)", 1.0);
    expect_null("exp(1000)");
    expect_float("pow(2, 10)", 1024.0);
    expect_float("pow(price, 2)", 6.25);
    expect_null("pow(0, -1)");
    expect_null("pow(-8, 1.0 / 3)");
    expect_int("least(3, 1, 2)", 1);
    expect_int("greatest(3, 1, 2)", 3);
    expect_float("greatest(3, 1.5)", 3.0); /* int and float: float */
    expect_float("least(amount, price)", 2.5);
    expect_str("least('b', 'a', 'c')", "a");
    expect_str("greatest(city, 'A')", "MUMBAI");
    expect_int("least(null, 2)", 2);
    expect_int("greatest(qty, amount, null)", 250);
    expect_null("least(null)");
    expect_null("greatest(qty)");
    expect_ts("greatest(ts, old_ts)", TS_US);
    expect_type("abs(price)", SCHEMA_FLOAT);
    expect_type("round(amount)", SCHEMA_INT);
    expect_type("sqrt(amount)", SCHEMA_FLOAT);
    expect_type("least(amount, 1.5)", SCHEMA_FLOAT);
}

static void test_conversions(void **state)
{
    (void)state;
    expect_int("int(2.9)", 2);
    expect_int("int(-2.9)", -2);
    expect_int("int('42')", 42);
    expect_int("int('-7')", -7);
    expect_int("int('3.9')", 3);
    expect_int("int('1e3')", 1000);
    expect_null("int('abc')");
    expect_null("int('')");
    expect_null("int(' 1')");
    expect_null("int(1e30)");
    expect_int("int(true)", 1);
    expect_int("int(ts)", TS_US);
    expect_int("int(amount)", 250);
    expect_float("float(3)", 3.0);
    expect_float("float('2.5')", 2.5);
    expect_float("float('-1e2')", -100.0);
    expect_null("float('inf')");
    expect_null("float('nan')");
    expect_null("float('0x10')");
    expect_null("float('1e999')");
    expect_float("float(false)", 0.0);
    expect_float("float(amount)", 250.0);
    expect_str("string(42)", "42");
    expect_str("string(-42)", "-42");
    expect_str("string(2.5)", "2.5");
    expect_str("string(0.1)", "0.1");
    expect_str("string(1.0)", "1");
    expect_str("string(1.0 / 3)", "0.3333333333333333");
    expect_null("int('99999999999999999999')");
    expect_str("string(true)", "true");
    expect_str("string(ts)", "2024-03-10T13:45:30.500000Z");
    expect_str("string(meta)", "{\"a\":1}");
    expect_str("string(tags)", "[1,2]");
    expect_str("string(city)", "MUMBAI");
    expect_bool("bool('true')", true);
    expect_bool("bool('FALSE')", false);
    expect_bool("bool('1')", true);
    expect_bool("bool('0')", false);
    expect_null("bool('yes')");
    expect_bool("bool(0)", false);
    expect_bool("bool(amount)", true);
    expect_bool("bool(2.5)", true);
    expect_bool("bool(active)", true);
}

static void test_coalesce_if(void **state)
{
    (void)state;
    expect_int("coalesce(qty, amount)", 250);
    expect_int("coalesce(qty, null, 7)", 7);
    expect_null("coalesce(null, null)");
    expect_null("coalesce(qty)");
    expect_str("coalesce(note, 'none')", "none");
    expect_str("coalesce(city, 'none')", "MUMBAI");
    expect_float("coalesce(qty, 1.5)", 1.5);
    expect_float("coalesce(amount, 1.5)", 250.0); /* int and float: float */
    expect_type("coalesce(qty, 0)", SCHEMA_INT);
    expect_type("coalesce(qty, 1.5)", SCHEMA_FLOAT);
    expect_type("coalesce(null, qty)", SCHEMA_INT);
    expect_type("coalesce(amount, 'x')", SCHEMA_NULL); /* known only at run time */
    expect_int("coalesce(amount, 'x')", 250);
    expect_str("coalesce(qty, 'x')", "x");
    expect_str("if(active, 'yes', 'no')", "yes");
    expect_str("if(not active, 'yes', 'no')", "no");
    expect_int("if(flag, 1, 2)", 2); /* NULL condition: else */
    expect_float("if(amount > 100, amount, price)", 250.0);
    expect_null("if(true, null, 1)");
    expect_type("if(active, 1, 'a')", SCHEMA_NULL);
    expect_type("if(active, 1, null)", SCHEMA_INT);
    expect_str("if(amount > 1, lower(city), upper(city))", "mumbai");
}

static void test_time_functions(void **state)
{
    (void)state;
    expect_int("year(ts)", 2024);
    expect_int("month(ts)", 3);
    expect_int("day(ts)", 10);
    expect_int("hour(ts)", 13);
    expect_int("minute(ts)", 45);
    expect_int("second(ts)", 30);
    expect_int("dow(ts)", 0);
    expect_str("date(ts)", "2024-03-10");
    expect_ts("date_trunc('minute', ts)", INT64_C(1710078300000000));
    expect_ts("date_trunc('hour', ts)", INT64_C(1710075600000000));
    expect_ts("date_trunc('day', ts)", INT64_C(1710028800000000));
    expect_ts("date_trunc('month', ts)", INT64_C(1709251200000000));
    expect_ts("date_trunc('DAY', ts)", INT64_C(1710028800000000));
    expect_bool("date_trunc('minute', ts) = '2024-03-10T13:45:00Z'", true);
    expect_null("date_trunc(city, ts)"); /* unknown unit at run time */
    expect_int("epoch_ms(ts)", INT64_C(1710078330500));
    /* before 1970: floor division, not truncation */
    expect_int("year(old_ts)", 1969);
    expect_int("month(old_ts)", 12);
    expect_int("day(old_ts)", 31);
    expect_int("hour(old_ts)", 23);
    expect_int("minute(old_ts)", 59);
    expect_int("second(old_ts)", 59);
    expect_int("dow(old_ts)", 3);
    expect_str("date(old_ts)", "1969-12-31");
    expect_int("epoch_ms(old_ts)", -1);
    expect_ts("date_trunc('minute', old_ts)", -INT64_C(60000000));
    expect_ts("date_trunc('day', old_ts)", -INT64_C(86400000000));
    expect_ts("date_trunc('month', old_ts)", -INT64_C(2678400000000));
    expect_int("dow(to_timestamp(0))", 4); /* 1970-01-01, a Thursday */
    /* the extreme timestamps: parts work; a truncation below the first is NULL */
    expect_int("hour(old_ts - 9223372036854775807)", 19);
    expect_int("year(old_ts - 9223372036854775807)", -290308);
    expect_str("date(old_ts - 9223372036854775807)", "-290308-12-21");
    expect_null("date_trunc('minute', old_ts - 9223372036854775807)");
    expect_null("date_trunc('month', old_ts - 9223372036854775807)");
    expect_ts("date_trunc('day', old_ts + 9223372036854775807)",
              (INT64_MAX - 1) - (INT64_MAX - 1) % INT64_C(86400000000));
    expect_str("date(to_timestamp(-62135596800000))", "0001-01-01");
    expect_str("date(to_timestamp(253402300800000))", "+010000-01-01");
    expect_ts("to_timestamp(1710078330500)", TS_US);
    expect_ts("to_timestamp(-1)", -1000);
    expect_ts("to_timestamp(1.5)", 1500);
    expect_ts("to_timestamp('2024-03-10T13:45:30.5Z')", TS_US);
    expect_ts("to_timestamp('2024-03-10')", INT64_C(1710028800000000));
    expect_ts("to_timestamp('10/03/2024 13:45', '%d/%m/%Y %H:%M')", INT64_C(1710078300000000));
    expect_ts("to_timestamp(epoch_ms(ts))", TS_US);
    expect_ts("to_timestamp(ts)", TS_US);
    expect_null("to_timestamp('garbage')");
    expect_null("to_timestamp('2024-02-30')");
    expect_null("to_timestamp('10/03/2024', '%Y-%m-%d')");
    expect_null("to_timestamp(9223372036854775807)");
    expect_int("seconds(2)", 2000000);
    expect_int("seconds(0.5)", 500000);
    expect_int("minutes(1.5)", 90000000);
    expect_int("hours(1)", INT64_C(3600000000));
    expect_int("days(1)", INT64_C(86400000000));
    expect_int("days(-1)", -INT64_C(86400000000));
    expect_null("seconds(9223372036854775807)");
    expect_null("days(1e300)");
    expect_type("date_trunc('day', ts)", SCHEMA_TIMESTAMP);
    expect_type("hour(ts)", SCHEMA_INT);
    expect_type("date(ts)", SCHEMA_STRING);
}

static void test_metadata(void **state)
{
    (void)state;
    expect_str("_key", "k1");
    expect_int("_partition", 3);
    expect_int("_offset", 42);
    expect_ts("_timestamp", 1700000000000000);
    expect_bool("_key = 'k1' and _partition = 3 and _offset > 40", true);
    expect_int("year(_timestamp)", 2023);
    expect_type("_key", SCHEMA_STRING);
    expect_type("_partition", SCHEMA_INT);
    expect_type("_offset", SCHEMA_INT);
    expect_type("_timestamp", SCHEMA_TIMESTAMP);
    env.key.type = SCHEMA_NULL;
    expect_bool("_key is null", true);
    expect_str("coalesce(_key, 'none')", "none");
    reset_fields();
    expect_str("\"first name\"", "Ada");
    expect_str("\"city\"", "MUMBAI");
    expect_int("\"_offset\"", 42);
}

static void test_compile_errors(void **state)
{
    (void)state;
    expect_error("amout > 5", "expr: column 1: unknown field 'amout'");
    expect_error("amount > 5 and citty = 'x'", "expr: column 16: unknown field 'citty'");
    expect_error("'h\xc3\xa9llo' = amout", "expr: column 11: unknown field 'amout'");
    expect_error("\"no such\" = 1", "expr: column 1: unknown field 'no such'");
    expect_error("foo(1)", "expr: column 1: unknown function 'foo'");
    expect_error("1 + bar(amount)", "expr: column 5: unknown function 'bar'");
    expect_error("substr('a')", "expr: column 1: substr() takes 2 or 3 arguments, got 1");
    expect_error("lower('a', 'b')", "expr: column 1: lower() takes 1 argument, got 2");
    expect_error("x = pow(1)", "expr: column 1: unknown field 'x'");
    expect_error("amount = pow(1)", "expr: column 10: pow() takes 2 arguments, got 1");
    expect_error("coalesce()", "expr: column 1: coalesce() takes at least 1 argument, got 0");
    expect_error("if(active, 1)", "expr: column 1: if() takes 3 arguments, got 2");
    expect_error("city = 5", "expr: column 1: cannot compare string with int");
    expect_error("amount > 1 and 5 < city", "expr: column 16: cannot compare int with string");
    expect_error("meta > 1", "expr: column 1: cannot compare object with int");
    expect_error("ts = 1", "expr: column 1: cannot compare timestamp with int");
    expect_error("active in (1)", "expr: column 1: cannot compare bool with int");
    expect_error("amount between 'a' and 2", "expr: column 1: cannot compare int with string");
    expect_error("ts > 'yesterday'", "expr: column 6: cannot compare timestamp with string: "
                                     "'yesterday' is not an ISO 8601 time");
    expect_error("amount + city", "expr: column 1: cannot apply '+' to int and string");
    expect_error("price * active", "expr: column 1: cannot apply '*' to float and bool");
    expect_error("ts * 2", "expr: column 1: cannot apply '*' to timestamp and int");
    expect_error("ts + ts", "expr: column 1: cannot apply '+' to timestamp and timestamp");
    expect_error("1 - ts", "expr: column 1: cannot apply '-' to int and timestamp");
    expect_error("null + city", "expr: column 1: cannot apply '+' to string");
    expect_error("-city", "expr: column 1: cannot negate string");
    expect_error("city and active", "expr: column 1: 'and' needs boolean operands, got string");
    expect_error("active or amount", "expr: column 11: 'or' needs boolean operands, got int");
    expect_error("not amount", "expr: column 5: 'not' needs a boolean operand, got int");
    expect_error("amount like 'x'", "expr: column 1: 'like' needs strings, got int");
    expect_error("city like 5", "expr: column 11: 'like' needs strings, got int");
    expect_error("lower(1)", "expr: column 7: argument 1 of lower() must be a string, got int");
    expect_error("substr(city, 1.5)",
                 "expr: column 14: argument 2 of substr() must be an int, got float");
    expect_error("if(amount, 1, 2)", "expr: column 4: argument 1 of if() must be a bool, got int");
    expect_error("year(amount)",
                 "expr: column 6: argument 1 of year() must be a timestamp, got int");
    expect_error("abs(city)", "expr: column 5: argument 1 of abs() must be a number, got string");
    expect_error("int(meta)",
                 "expr: column 5: argument 1 of int() must be a bool, number, string or "
                 "timestamp, got object");
    expect_error("least(1, 'a')", "expr: column 10: cannot compare string with int");
    expect_error("date_trunc('week', ts)", "expr: column 12: unknown date_trunc unit 'week' (use "
                                           "'minute', 'hour', 'day' or 'month')");
    expect_error("city = 'abc", "expr: column 8: unterminated string");
    expect_error("\"abc = 1", "expr: column 1: unterminated quoted identifier");
    expect_error("amount > 5 5", "expr: column 12: unexpected '5' after the expression");
    expect_error("amount > 5)", "expr: column 11: unexpected ')' after the expression");
    expect_error("1 < 2 < 3", "expr: column 7: unexpected '<' after the expression");
    expect_error("amount >", "expr: column 9: unexpected end of expression");
    expect_error("amount > ,", "expr: column 10: unexpected ','");
    expect_error("", "expr: column 1: empty expression");
    expect_error("   ", "expr: column 4: empty expression");
    expect_error("amount # 2", "expr: column 8: unexpected character '#'");
    expect_error("amount ! 2", "expr: column 8: unexpected character '!' (did you mean '!='?)");
    expect_error("city | 'a'", "expr: column 6: unexpected character '|' (did you mean '||'?)");
    expect_error("amount\x01", "expr: column 7: unexpected character 0x01");
    expect_error("12abc", "expr: column 1: invalid number '12abc'");
    expect_error("1.", "expr: column 1: invalid number '1.'");
    expect_error("1.2.3", "expr: column 1: invalid number '1.2.3'");
    expect_error("1e", "expr: column 1: invalid number '1e'");
    expect_error("99999999999999999999", "expr: column 1: integer literal out of range");
    expect_error("9223372036854775808", "expr: column 1: integer literal out of range");
    expect_error("1e999", "expr: column 1: number '1e999' out of range");
    expect_error("(amount", "expr: column 8: expected ')', found end of expression");
    expect_error("lower(city", "expr: column 11: expected ',' or ')' in the arguments of "
                               "lower(), found end of expression");
    expect_error("amount is 5", "expr: column 11: expected 'null' or 'not' after 'is', found '5'");
    expect_error("amount is not 5", "expr: column 15: expected 'null' after 'is not', found '5'");
    expect_error("amount not 5", "expr: column 12: expected 'in', 'between' or 'like' after 'not'");
    expect_error("amount in 1", "expr: column 11: expected '(' after 'in', found '1'");
    expect_error("amount in (1 2)",
                 "expr: column 14: expected ',' or ')' in the 'in' list, found '2'");
    expect_error("amount between 1 or 2",
                 "expr: column 18: expected 'and' in 'between', found 'or'");
    expect_error("amount in ()", "expr: column 12: unexpected ')'");
}

static void expect_error_prefix(const char *text, const char *want)
{
    stream_expr_t *e = NULL;
    if (stream_expr_compile(text, schema, &e) != CORE_EINVAL)
        fail_msg("%.40s...: want a compile error", text);
    if (strncmp(core_error_detail(), want, strlen(want)) != 0)
        fail_msg("%.40s...: want '%s...', got '%s'", text, want, core_error_detail());
}

/* Deep nesting of every kind is a compile error, not a stack overflow; a
 * nesting just under the cap compiles and evaluates. */
static void test_depth_and_size_caps(void **state)
{
    (void)state;
    static char text[70000];
    const char *const units[][2] = {
        {"(", "1)"}, {"-", "1"}, {"not ", "true"}, {"abs(", "1)"}, {"amount + ", "amount"}};
    for (size_t u = 0; u < CORE_ARRAY_LEN(units); u++) {
        size_t n = 0;
        for (int i = 0; i < 300; i++)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", units[u][0]);
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", units[u][1]);
        for (int i = 0; u != 1 && u != 2 && u != 4 && i < 299; i++)
            n += (size_t)snprintf(text + n, sizeof(text) - n, ")");
        expect_error_prefix(text, "expr: column ");
        if (strstr(core_error_detail(), "nests too deeply (more than 256 levels)") == NULL)
            fail_msg("unit %zu: %s", u, core_error_detail());
    }
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "abs(");
    n += (size_t)snprintf(text + n, sizeof(text) - n, "-amount");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, ")");
    expect_int(text, 250);
    /* a long flat or-chain is one n-ary node, not a deep tree */
    n = 0;
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "amount = %d or ", i);
    snprintf(text + n, sizeof(text) - n, "false");
    expect_bool(text, true);
    /* the text cap */
    memset(text, ' ', 65536);
    text[0] = '1';
    text[65536] = '\0';
    expect_int(text, 1);
    text[65536] = ' ';
    text[65537] = '\0';
    expect_error(text, "expr: expression text exceeds 65536 bytes");
}

static void test_compile_bool(void **state)
{
    (void)state;
    stream_expr_t *e = NULL;
    bool r = true;
    assert_int_equal(stream_expr_compile_bool("amount + 1", schema, &e), CORE_EINVAL);
    assert_null(e);
    assert_string_equal(core_error_detail(),
                        "expr: column 1: a condition must be boolean, got int");
    assert_int_equal(stream_expr_compile_bool("  lower(city)", schema, &e), CORE_EINVAL);
    assert_string_equal(core_error_detail(),
                        "expr: column 3: a condition must be boolean, got string");
    assert_int_equal(stream_expr_compile_bool("amout > 1", schema, &e), CORE_EINVAL);
    assert_string_equal(core_error_detail(), "expr: column 1: unknown field 'amout'");

    assert_int_equal(stream_expr_compile_bool("amount > 100", schema, &e), 0);
    assert_int_equal(stream_expr_test(e, &env, &scratch, &r), 0);
    assert_true(r);
    stream_expr_destroy(e);
    assert_int_equal(stream_expr_compile_bool("amount > 1000", schema, &e), 0);
    assert_int_equal(stream_expr_test(e, &env, &scratch, &r), 0);
    assert_false(r);
    stream_expr_destroy(e);
    /* NULL is false */
    assert_int_equal(stream_expr_compile_bool("flag", schema, &e), 0);
    r = true;
    assert_int_equal(stream_expr_test(e, &env, &scratch, &r), 0);
    assert_false(r);
    stream_expr_destroy(e);
    assert_int_equal(stream_expr_compile_bool("null", schema, &e), 0);
    r = true;
    assert_int_equal(stream_expr_test(e, &env, &scratch, &r), 0);
    assert_false(r);
    stream_expr_destroy(e);
    /* a type known only at run time compiles; a non-bool value is false */
    assert_int_equal(stream_expr_compile_bool("coalesce(flag, amount)", schema, &e), 0);
    r = true;
    assert_int_equal(stream_expr_test(e, &env, &scratch, &r), 0);
    assert_false(r);
    stream_expr_destroy(e);
    assert_int_equal(
        stream_expr_compile_bool("city like 'M%' and not (note is not null)", schema, &e), 0);
    assert_int_equal(stream_expr_test(e, &env, &scratch, &r), 0);
    assert_true(r);
    stream_expr_destroy(e);
}

static void test_accessors(void **state)
{
    (void)state;
    stream_expr_t *e = NULL;
    const char *text = "amount  >  1";
    assert_int_equal(stream_expr_compile(text, schema, &e), 0);
    assert_string_equal(stream_expr_text(e), text);
    assert_ptr_not_equal(stream_expr_text(e), text); /* a copy */
    assert_int_equal(stream_expr_type(e), SCHEMA_BOOL);
    stream_expr_destroy(e);
    stream_expr_destroy(NULL);
    /* no schema: metadata and constants only */
    assert_int_equal(stream_expr_compile("_offset + 1", NULL, &e), 0);
    schema_value_t v;
    assert_int_equal(stream_expr_eval(e, &env, &scratch, &v), 0);
    assert_int_equal(v.type, SCHEMA_INT);
    assert_int_equal(v.v.i, 43);
    stream_expr_destroy(e);
    assert_int_equal(stream_expr_compile("amount", NULL, &e), CORE_EINVAL);
    assert_string_equal(core_error_detail(), "expr: column 1: unknown field 'amount'");
}

/* Values whose type differs from the field's are NULL (an int in a float
 * field is converted), so a caller's mistake cannot crash the evaluator. */
static void test_mistyped_env(void **state)
{
    (void)state;
    fields[F_CITY] = (schema_value_t){.type = SCHEMA_INT, .v.i = 7};
    fields[F_PRICE] = (schema_value_t){.type = SCHEMA_INT, .v.i = 3};
    set_str(&fields[F_AMOUNT], "250");
    expect_null("lower(city)");
    expect_null("city = 'x'");
    expect_null("amount + 1");
    expect_float("price", 3.0);
    expect_float("price / 2", 1.5);
    reset_fields();
}

static schema_value_t eval_with(const char *text, core_buf_t *buf, int want_rc)
{
    stream_expr_t *e = NULL;
    stream_expr_destroy(last);
    last = NULL;
    schema_value_t v = {.type = SCHEMA_BOOL};
    assert_int_equal(stream_expr_compile(text, schema, &e), 0);
    int rc = stream_expr_eval(e, &env, buf, &v);
    if (rc != want_rc)
        fail_msg("%s: want rc %d, got %d", text, want_rc, rc);
    last = e;
    return v;
}

static void test_scratch_exhaustion(void **state)
{
    (void)state;
    core_buf_t small;
    core_buf_init(&small, CORE_MEM_TEST, 6);
    schema_value_t v = eval_with("lower(city)", &small, 0); /* exactly fits */
    assert_int_equal(v.type, SCHEMA_STRING);
    assert_memory_equal(v.v.s.p, "mumbai", 6);
    core_buf_reset(&small);
    v = eval_with("lower(city) || upper(city)", &small, CORE_ETOOBIG);
    assert_int_equal(v.type, SCHEMA_NULL);
    assert_non_null(strstr(core_error_detail(), "scratch"));
    core_buf_reset(&small);
    eval_with("concat(city, 'x')", &small, CORE_ETOOBIG);
    core_buf_reset(&small);
    eval_with("replace(city, 'M', 'MM')", &small, CORE_ETOOBIG);
    core_buf_reset(&small);
    eval_with("date(ts) = 'x'", &small, CORE_ETOOBIG);
    core_buf_reset(&small);
    eval_with("string(amount) is null", &small, 0);
    core_buf_reset(&small);
    eval_with("lower(city) is null", &small, 0);            /* 6 bytes fit */
    eval_with("lower(city) is null", &small, CORE_ETOOBIG); /* not after another */
    core_buf_fini(&small);

    /* results that need no scratch: borrowed or folded at compile time */
    core_buf_t none;
    core_buf_init(&none, CORE_MEM_TEST, 0);
    v = eval_with("substr(city, 2, 3)", &none, 0);
    assert_int_equal(v.v.s.len, 3);
    assert_memory_equal(v.v.s.p, "UMB", 3);
    v = eval_with("upper('abc') || 'd'", &none, 0);
    assert_memory_equal(v.v.s.p, "ABCd", 4);
    eval_with("trim(city) || ''", &none, 0);
    eval_with("coalesce(note, city)", &none, 0);
    v = eval_with("replace(city, 'MUMBAI', '')", &none, 0); /* empty: no scratch */
    assert_int_equal(v.v.s.len, 0);
    eval_with("lower(city)", &none, CORE_ETOOBIG);
    v = eval_with("lower(city) = 'x'", NULL, CORE_ETOOBIG);
    assert_int_equal(v.type, SCHEMA_NULL);
    bool r = true;
    stream_expr_t *e = NULL;
    assert_int_equal(stream_expr_compile("lower(city) = 'mumbai'", schema, &e), 0);
    assert_int_equal(stream_expr_test(e, &env, &none, &r), CORE_ETOOBIG);
    assert_false(r);
    stream_expr_destroy(e);
    core_buf_fini(&none);
}

/* The scratch grows (and moves) several times during one evaluation;
 * results computed before a move must still be read correctly (ASan
 * catches a stale pointer). */
static void test_scratch_moves(void **state)
{
    (void)state;
    static char longcity[400];
    memset(longcity, 'M', 300);
    longcity[300] = '\0';
    set_str(&fields[F_CITY], longcity);
    core_buf_t grow;
    core_buf_init(&grow, CORE_MEM_TEST, 1 << 20);
    schema_value_t v = eval_with("replace(lower(city), 'm', 'ab') || upper(lower(city)) || "
                                 "concat(substr(lower(city), 1, 2), replace(city, 'M', 'xyz'))",
                                 &grow, 0);
    assert_int_equal(v.type, SCHEMA_STRING);
    assert_int_equal(v.v.s.len, 600 + 300 + 2 + 900);
    for (size_t i = 0; i < 600; i++)
        assert_int_equal(v.v.s.p[i], i % 2 ? 'b' : 'a');
    for (size_t i = 600; i < 900; i++)
        assert_int_equal(v.v.s.p[i], 'M');
    assert_memory_equal(v.v.s.p + 900, "mm", 2);
    assert_memory_equal(v.v.s.p + 902, "xyzxyz", 6);
    core_buf_fini(&grow);
    reset_fields();
}

static int64_t total_allocs(void)
{
    int64_t sum = 0;
    for (int t = 0; t < CORE_MEM__COUNT; t++) {
        core_mem_stats_t s;
        core_mem_stats((core_mem_tag_t)t, &s);
        sum += s.total_allocs;
    }
    return sum;
}

static void test_eval_does_not_allocate(void **state)
{
    (void)state;
    const char *texts[] = {
        "concat(lower(city), '-', amount, '-', date(ts)) || upper(name) || string(price)",
        "price * 2 > 1 and city like 'MUM%' and amount in (1, 2, 250) and note is null",
        "coalesce(qty, round(price * amount / 3, 2)) + hour(ts) + length(city || city)",
        "date_trunc('hour', ts) + minutes(5) > _timestamp or substr(trim(city), 2) = 'x'",
    };
    stream_expr_t *e[CORE_ARRAY_LEN(texts)];
    for (size_t i = 0; i < CORE_ARRAY_LEN(texts); i++)
        assert_int_equal(stream_expr_compile(texts[i], schema, &e[i]), 0);
    schema_value_t v;
    for (size_t i = 0; i < CORE_ARRAY_LEN(texts); i++) /* warm the scratch up */
        assert_int_equal(stream_expr_eval(e[i], &env, &scratch, &v), 0);
    core_buf_reset(&scratch);
    int64_t before = total_allocs();
    for (int round = 0; round < 100000; round++) {
        core_buf_reset(&scratch);
        for (size_t i = 0; i < CORE_ARRAY_LEN(texts); i++)
            assert_int_equal(stream_expr_eval(e[i], &env, &scratch, &v), 0);
    }
    assert_int_equal(total_allocs(), before);
    /* and the results are still right */
    core_buf_reset(&scratch);
    assert_int_equal(stream_expr_eval(e[0], &env, &scratch, &v), 0);
    const char *want = "mumbai-250-2024-03-10H\xc3\xa9LLO W\xc3\xb6RLD2.5";
    assert_int_equal(v.v.s.len, strlen(want));
    assert_memory_equal(v.v.s.p, want, strlen(want));
    assert_int_equal(stream_expr_eval(e[1], &env, &scratch, &v), 0);
    assert_true(v.type == SCHEMA_BOOL && v.v.b);
    for (size_t i = 0; i < CORE_ARRAY_LEN(texts); i++)
        stream_expr_destroy(e[i]);
}

/* Every allocation the compiler makes may fail: it returns CORE_ENOMEM
 * and leaks nothing. */
static void test_compile_alloc_failure(void **state)
{
    (void)state;
    const char *text = "concat(lower(city), 'abc', upper('x')) = 'y' or amount in (1, 2, 3) "
                       "or coalesce(qty, 1) between 0 and 10";
    core_mem_stats_t base, now;
    core_mem_stats(CORE_MEM_STREAM, &base);
    int failures = 0;
    for (long n = 1; n <= 200; n++) {
        stream_expr_t *e = NULL;
        core_mem_fail_at(n, false);
        int rc = stream_expr_compile(text, schema, &e);
        core_mem_fail_at(0, false);
        if (rc == 0) {
            assert_non_null(e);
            stream_expr_destroy(e);
        } else {
            assert_int_equal(rc, CORE_ENOMEM);
            assert_null(e);
            failures++;
        }
        core_mem_stats(CORE_MEM_STREAM, &now);
        assert_int_equal(now.bytes, base.bytes);
        assert_int_equal(now.allocs, base.allocs);
    }
    assert_true(failures >= 4); /* several allocation points were exercised */
    stream_expr_t *e = NULL;
    assert_int_equal(stream_expr_compile(text, schema, &e), 0);
    stream_expr_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_arith_int),
        cmocka_unit_test(test_arith_float),
        cmocka_unit_test(test_arith_time),
        cmocka_unit_test(test_null_operands),
        cmocka_unit_test(test_three_valued_logic),
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_is_null),
        cmocka_unit_test(test_in),
        cmocka_unit_test(test_between),
        cmocka_unit_test(test_like),
        cmocka_unit_test(test_like_long),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_string_functions),
        cmocka_unit_test(test_numeric_functions),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_coalesce_if),
        cmocka_unit_test(test_time_functions),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_depth_and_size_caps),
        cmocka_unit_test(test_compile_bool),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_mistyped_env),
        cmocka_unit_test(test_scratch_exhaustion),
        cmocka_unit_test(test_scratch_moves),
        cmocka_unit_test(test_eval_does_not_allocate),
        cmocka_unit_test(test_compile_alloc_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
