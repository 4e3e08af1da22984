/*
 * Differential test of schema_decode_json()'s ordered path (decode.c): the
 * path taken first, for compact objects whose members come in schema order.
 *
 * A seeded PRNG (the seed is printed; pass it back as argv[1] to replay,
 * argv[2] sets the document count) generates documents of that shape for a
 * schema with a field of every type and every check, short and long names
 * and a name the ordered path never matches (non-ASCII): members present or
 * absent, values of the right type in every shape (numbers with leading
 * zeros, signs, fractions, exponents, 15 to 20 digits; strings with escapes,
 * control bytes and UTF-8; literals; nested values), wrong types, nulls,
 * values outside a check, duplicated, unknown and swapped members, and byte
 * mutations and truncations of all of them.
 *
 * Oracle: the same document with one space appended, which the ordered
 * path never takes (it wants the closing '}' last), so the fast and
 * reference paths decide it. Both must agree: the same result; for an
 * accepted row the same values (ints and timestamps exactly, floats bit for
 * bit, strings, objects and arrays byte for byte); for a rejection the same
 * kind and field, and the same reason unless the JSON itself is invalid
 * (its byte offsets may then count the space).
 *
 * Threading: single-threaded.
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
#include "../test_rng.h"

static uint64_t seed = 0x0de5ed5eedULL;
static long n_docs = 200000;

enum {
    F_ID,
    F_PX,
    F_Q,
    F_R,
    F_SYM,
    F_SIDE,
    F_CODE,
    F_OK,
    F_TS,
    F_T2,
    F_OBJ,
    F_ARR,
    F_LONG,
    F_U,
    NF
};

static const char *const names[NF] = {
    "id",
    "px",
    "q",
    "r",
    "sym",
    "side",
    "code",
    "ok",
    "ts",
    "t2",
    "obj",
    "arr",
    "a_field_name_longer_than_fourteen",
    "\xc3\xbc",
};

static schema_t *make_schema(void)
{
    static const char *const sides[] = {"buy", "sell"};
    schema_field_def_t d[NF];
    memset(d, 0, sizeof d);
    const schema_type_t types[NF] = {
        SCHEMA_INT,    SCHEMA_FLOAT,  SCHEMA_INT,   SCHEMA_FLOAT,     SCHEMA_STRING,
        SCHEMA_STRING, SCHEMA_STRING, SCHEMA_BOOL,  SCHEMA_TIMESTAMP, SCHEMA_TIMESTAMP,
        SCHEMA_OBJECT, SCHEMA_ARRAY,  SCHEMA_FLOAT, SCHEMA_STRING,
    };
    for (int i = 0; i < NF; i++) {
        d[i].name = names[i];
        d[i].type = types[i];
        d[i].min_length = -1;
        d[i].max_length = -1;
    }
    d[F_ID].required = true;
    d[F_SYM].required = true;
    d[F_Q].has_min = true;
    d[F_Q].min = -1000;
    d[F_Q].has_max = true;
    d[F_Q].max = 1000;
    d[F_R].has_max = true;
    d[F_R].max = 100.5;
    d[F_SIDE].enum_values = sides;
    d[F_SIDE].n_enum = 2;
    d[F_CODE].pattern = "[A-Z]{2}[0-9]+";
    d[F_CODE].max_length = 6;
    d[F_TS].format = "iso8601";
    d[F_TS].required = true;
    schema_t *s = NULL;
    assert_int_equal(schema_create("ordered", &s), 0);
    for (int i = 0; i < NF; i++)
        assert_int_equal(schema_add_field(s, &d[i]), 0);
    schema_set_limits(s, 40, 4);
    assert_int_equal(schema_seal(s), 0);
    return s;
}

/* ---- generator ---------------------------------------------------------- */

/* n draws below the given bounds into r, in order: arguments of one call
 * are evaluated in an order the compiler picks, so drawing inside them
 * would make gcc and clang builds generate different documents. */
static void draw(int *r, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        r[i] = (int)below(va_arg(ap, unsigned));
    va_end(ap);
}

static void put(core_buf_t *b, const char *s)
{
    core_buf_append_str(b, s);
}

static void gen_number(core_buf_t *b)
{
    int r[8];
    static const char *const odd[] = {"0",
                                      "-0",
                                      "00",
                                      "01",
                                      "-01",
                                      "1.",
                                      ".5",
                                      "-",
                                      "1.5e3",
                                      "2E-2",
                                      "1e400",
                                      "-0.0",
                                      "0.000",
                                      "1.2.3",
                                      "--1",
                                      "+1",
                                      "1e",
                                      "9007199254740993",
                                      "123456789012345678",
                                      "1234567890123456789",
                                      "12345678901234567890",
                                      "0.1234567890123456",
                                      "99999999999999999999.5"};
    switch (below(6)) {
    case 0:
        core_buf_printf(b, "%d", (int)below(4000) - 2000);
        break;
    case 1:
        draw(r, 3, 300, 4, 1000);
        core_buf_printf(b, "%d.%0*d", r[0] - 150, 1 + r[1], r[2]);
        break;
    case 2:
        draw(r, 2, 64, 2);
        core_buf_printf(b, "%lld", (long long)(rnd() >> r[0]) * (r[1] ? 1 : -1));
        break;
    case 3:
        draw(r, 1, 17);
        core_buf_printf(b, "%.*g", 1 + r[0], (double)(rnd() >> 11) / 1e9);
        break;
    default:
        put(b, odd[below(sizeof odd / sizeof odd[0])]);
        break;
    }
}

static void gen_string(core_buf_t *b, unsigned max)
{
    int r[8];
    static const char *const bits[] = {"a",    "Z",    "0",       "7",        " ",
                                       "\\n",  "\\\"", "\\u00e9", "\xc3\xa9", "\t",
                                       "\x01", "\xff", "buy",     "sell",     "AB12"};
    put(b, "\"");
    unsigned n = below(max + 1);
    for (unsigned k = 0; k < n; k++) {
        draw(r, 2, 100, (unsigned)(sizeof bits / sizeof bits[0]));
        put(b, bits[r[0] < 80 ? r[1] % 4 : r[1]]);
    }
    put(b, "\"");
}

static void gen_timestamp(core_buf_t *b)
{
    int r[8];
    switch (below(5)) {
    case 0:
        core_buf_printf(b, "%lld", (long long)(rnd() % 4000000000000ULL));
        break;
    case 1:
        draw(r, 7, 10000, 14, 33, 25, 61, 61, 1000);
        core_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", r[0], r[1], r[2], r[3], r[4],
                        r[5], r[6]);
        break;
    case 2:
        draw(r, 6, 99, 12, 28, 24, 60, 60);
        core_buf_printf(b, "\"20%02d-%02d-%02d %02d:%02d:%02d+01:00\"", r[0], 1 + r[1], 1 + r[2],
                        r[3], r[4], r[5]);
        break;
    default:
        draw(r, 4, 30, 60, 60, 1000);
        core_buf_printf(b, "\"2026-11-%02dT10:%02d:%02d.%03dZ\"", 1 + r[0], r[1], r[2], r[3]);
        break;
    }
}

/* A valid number for field i (ints integral; q within its bounds, r not
 * above its maximum). */
static void gen_good_number(core_buf_t *b, int i)
{
    int r[8];
    static const char *const ints[] = {
        "0", "-0", "7", "-12", "1.0", "250.000", "2E2", "123456789012345678", "-9007199254740993"};
    static const char *const reals[] = {"0",
                                        "-0.0",
                                        "1.5",
                                        "-2.25",
                                        "100.5",
                                        "1e-7",
                                        "3E+2",
                                        "0.1234567890123456",
                                        "12345678901234567",
                                        "99.999999999999999999"};
    if (i == F_ID || i == F_Q) {
        if (chance(60))
            core_buf_printf(b, "%d", (int)below(2000) - 1000);
        else
            put(b, ints[below(sizeof ints / sizeof ints[0])]);
        return;
    }
    if (chance(60)) {
        draw(r, 3, 200, 4, 1000);
        core_buf_printf(b, "%d.%0*d", r[0] - 100, 1 + r[1], r[2]);
    } else {
        put(b, reals[below(sizeof reals / sizeof reals[0])]);
    }
}

/* A value for field i that passes its checks. */
static void gen_good_value(core_buf_t *b, int i)
{
    int r[8];
    switch (i) {
    case F_ID:
    case F_PX:
    case F_Q:
    case F_R:
    case F_LONG:
        gen_good_number(b, i);
        break;
    case F_SYM:
    case F_U:
        if (chance(10)) { /* about the 40-byte cap */
            draw(r, 1, 12);
            core_buf_printf(b, "\"%0*d\"", 35 + r[0], 0);
            break;
        }
        put(b, chance(50) ? "\"SYM042\"" : chance(50) ? "\"a\\\"b\"" : "\"\xc3\xa9t\xc3\xa9\"");
        break;
    case F_SIDE:
        put(b, chance(50) ? "\"buy\"" : "\"sell\"");
        break;
    case F_CODE:
        put(b, chance(50) ? "\"AB12\"" : "\"ZZ0\"");
        break;
    case F_OK:
        put(b, chance(50) ? "true" : "false");
        break;
    case F_TS:
        draw(r, 4, 30, 60, 60, 1000);
        core_buf_printf(b, "\"2026-11-%02dT10:%02d:%02d.%03dZ\"", 1 + r[0], r[1], r[2], r[3]);
        break;
    case F_T2:
        if (chance(50))
            core_buf_printf(b, "%lld", (long long)(rnd() % 4000000000000ULL));
        else
            put(b, "\"2026-02-28 23:59:59.5+05:30\"");
        break;
    case F_OBJ:
        put(b, chance(70) ? "{\"k\":[1,{}]}" : "{}");
        break;
    default:
        put(b, chance(70) ? "[1,\"x\",null]" : "[]");
        break;
    }
}

/* A value for field i: its own type mostly, anything sometimes. */
static void gen_value(core_buf_t *b, int i)
{
    static const char *const others[] = {
        "null",      "true",          "false", "{}",  "[]",  "{\"x\":[1,{}]}",
        "[1,2,[3]]", "[[[[[[1]]]]]]", "tru",   "nul", "\"\""};
    if (chance(8)) {
        put(b, others[below(sizeof others / sizeof others[0])]);
        return;
    }
    if (chance(5)) {
        gen_number(b);
        return;
    }
    switch (i) {
    case F_ID:
    case F_PX:
    case F_Q:
    case F_R:
    case F_LONG:
        gen_number(b);
        break;
    case F_SYM:
    case F_U:
        gen_string(b, 12);
        break;
    case F_SIDE:
        put(b, chance(70) ? (chance(50) ? "\"buy\"" : "\"sell\"") : "\"hold\"");
        break;
    case F_CODE:
        put(b, chance(60) ? "\"AB12\"" : chance(50) ? "\"ab12\"" : "\"XY1234567\"");
        break;
    case F_OK:
        put(b, chance(50) ? "true" : "false");
        break;
    case F_TS:
    case F_T2:
        gen_timestamp(b);
        break;
    case F_OBJ:
        put(b, chance(70) ? "{\"k\":1}" : "{}");
        break;
    default:
        put(b, chance(70) ? "[1,\"x\"]" : "[]");
        break;
    }
}

/* One byte of b replaced, or one inserted, or b cut short. */
static void spoil(core_buf_t *b)
{
    static const char bytes[] = "{}[],:\" 0-.eE+\\ax\t";
    char c = bytes[below(sizeof bytes - 1)];
    size_t at = below((unsigned)b->len);
    switch (below(3)) {
    case 0:
        b->data[at] = (uint8_t)c;
        break;
    case 1:
        if (core_buf_append_u8(b, 0) == 0) {
            memmove(b->data + at + 1, b->data + at, b->len - at - 1);
            b->data[at] = (uint8_t)c;
        }
        break;
    default:
        b->len = at;
        break;
    }
}

/* A compact object with the fields in schema order: a clean one (valid,
 * every required field), or one perhaps spoiled anywhere. */
static void gen_doc(core_buf_t *b)
{
    int order[NF + 2], n = 0;
    if (chance(50)) {
        put(b, "{");
        for (int i = 0; i < NF; i++) {
            if (i != F_ID && i != F_SYM && i != F_TS && chance(30))
                continue;
            core_buf_printf(b, "%s\"%s\":", b->len > 1 ? "," : "", names[i]);
            if (chance(5) && i != F_ID && i != F_SYM && i != F_TS)
                put(b, "null");
            else
                gen_good_value(b, i);
        }
        put(b, "}");
        if (chance(30))
            spoil(b);
        return;
    }
    for (int i = 0; i < NF; i++)
        if (chance(85))
            order[n++] = i;
    if (n > 1 && chance(5)) { /* swapped */
        int k = (int)below((unsigned)n - 1), t = order[k];
        order[k] = order[k + 1];
        order[k + 1] = t;
    }
    if (n > 0 && chance(4)) { /* duplicated */
        int k = (int)below((unsigned)n);
        order[n++] = order[k];
    }
    put(b, "{");
    for (int k = 0; k < n; k++) {
        if (k > 0)
            put(b, ",");
        if (chance(2))
            put(b, "\"unknown\":1,");
        core_buf_printf(b, "\"%s\":", names[order[k]]);
        gen_value(b, order[k]);
    }
    put(b, "}");
    if (chance(15))
        spoil(b);
}

/* ---- oracle -------------------------------------------------------------- */

typedef struct {
    int rc;
    schema_error_t err;
    schema_value_t v[NF];
    char bytes[NF][64]; /* string, object and array bytes, copied */
} result_t;

static void decode(const schema_t *s, schema_row_t *row, const char *p, size_t n, result_t *r)
{
    memset(r, 0, sizeof *r);
    r->rc = schema_decode_json(s, p, n, row, &r->err);
    if (r->rc != 0)
        return;
    for (int i = 0; i < NF; i++) {
        r->v[i] = row->values[i];
        schema_type_t t = r->v[i].type;
        if (t == SCHEMA_STRING || t == SCHEMA_OBJECT || t == SCHEMA_ARRAY) {
            assert_true(r->v[i].v.s.len < sizeof r->bytes[i]);
            memcpy(r->bytes[i], r->v[i].v.s.p, r->v[i].v.s.len);
        }
    }
}

static void same(const result_t *a, const result_t *b, const char *doc)
{
    if (a->rc != b->rc || a->err.kind != b->err.kind || a->err.field != b->err.field) {
        fprintf(stderr, "doc: %s\n  ordered: %d %d %s\n  other:   %d %d %s\n", doc, a->rc,
                (int)a->err.kind, a->err.reason, b->rc, (int)b->err.kind, b->err.reason);
        fail();
    }
    if (a->rc != 0) {
        if (a->err.kind != SCHEMA_ERR_JSON && strcmp(a->err.reason, b->err.reason) != 0) {
            fprintf(stderr, "doc: %s\n  reasons: %s / %s\n", doc, a->err.reason, b->err.reason);
            fail();
        }
        return;
    }
    for (int i = 0; i < NF; i++) {
        const schema_value_t *x = &a->v[i], *y = &b->v[i];
        bool ok = x->type == y->type;
        if (ok && (x->type == SCHEMA_INT || x->type == SCHEMA_TIMESTAMP))
            ok = x->v.i == y->v.i;
        else if (ok && x->type == SCHEMA_FLOAT)
            ok = memcmp(&x->v.f, &y->v.f, sizeof x->v.f) == 0;
        else if (ok && x->type == SCHEMA_BOOL)
            ok = x->v.b == y->v.b;
        else if (ok && x->type != SCHEMA_NULL)
            ok = x->v.s.len == y->v.s.len && memcmp(a->bytes[i], b->bytes[i], x->v.s.len) == 0;
        if (!ok) {
            fprintf(stderr, "doc: %s\n  field %s differs\n", doc, names[i]);
            fail();
        }
    }
}

static void test_ordered_matches_the_other_paths(void **state)
{
    (void)state;
    schema_t *s = make_schema();
    schema_row_t row_a, row_b;
    assert_int_equal(schema_row_init(&row_a, s), 0);
    assert_int_equal(schema_row_init(&row_b, s), 0);
    core_buf_t doc;
    core_buf_init(&doc, CORE_MEM_TEST, 1 << 16);
    static result_t a, b;
    long accepted = 0;
    rng_state = seed ? seed : 1;
    for (long k = 0; k < n_docs; k++) {
        core_buf_reset(&doc);
        gen_doc(&doc);
        size_t n = doc.len;
        decode(s, &row_a, (const char *)doc.data, n, &a);
        put(&doc, " ");
        decode(s, &row_b, (const char *)doc.data, doc.len, &b);
        core_buf_append_u8(&doc, 0);
        same(&a, &b, (const char *)doc.data);
        accepted += a.rc == 0;
    }
    printf("ordered: %ld documents, %ld accepted (seed %#llx)\n", n_docs, accepted,
           (unsigned long long)seed);
    assert_true(accepted > n_docs / 20); /* the generator reaches acceptance */
    core_buf_fini(&doc);
    schema_row_fini(&row_a);
    schema_row_fini(&row_b);
    schema_destroy(s);
}

/* The bench's tick, decoded by the ordered path, field by field. */
static void test_tick(void **state)
{
    (void)state;
    schema_t *s = NULL;
    const struct {
        const char *name;
        schema_type_t type;
    } f[] = {{"symbol", SCHEMA_STRING}, {"price", SCHEMA_FLOAT}, {"bid", SCHEMA_FLOAT},
             {"ask", SCHEMA_FLOAT},     {"volume", SCHEMA_INT},  {"ts", SCHEMA_TIMESTAMP}};
    assert_int_equal(schema_create("tick", &s), 0);
    for (size_t i = 0; i < 6; i++) {
        schema_field_def_t d = {.name = f[i].name,
                                .type = f[i].type,
                                .required = true,
                                .min_length = -1,
                                .max_length = -1};
        assert_int_equal(schema_add_field(s, &d), 0);
    }
    assert_int_equal(schema_seal(s), 0);
    schema_row_t row;
    assert_int_equal(schema_row_init(&row, s), 0);
    const char *doc = "{\"symbol\":\"SYM042\",\"price\":123.45,\"bid\":-0.5,\"ask\":7,"
                      "\"volume\":905,\"ts\":\"2026-11-22T10:00:01.250Z\"}";
    schema_error_t err;
    assert_int_equal(schema_decode_json(s, doc, strlen(doc), &row, &err), 0);
    assert_int_equal(row.values[0].v.s.len, 6);
    assert_memory_equal(row.values[0].v.s.p, "SYM042", 6);
    assert_true(row.values[1].v.f == 123.45);
    assert_true(row.values[2].v.f == -0.5);
    assert_true(row.values[3].v.f == 7.0);
    assert_int_equal(row.values[4].v.i, 905);
    assert_int_equal(row.values[5].v.i, 1795341601250000LL);
    schema_row_fini(&row);
    schema_destroy(s);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seed = strtoull(argv[1], NULL, 0);
    if (argc > 2)
        n_docs = strtol(argv[2], NULL, 10);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ordered_matches_the_other_paths),
        cmocka_unit_test(test_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
