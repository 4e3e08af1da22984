/*
 * Differential test of schema decoding against jansson.
 *
 * A seeded PRNG (the seed is printed; pass it back as argv[1] to replay,
 * argv[2] sets the document count) generates JSON objects for a fixed
 * schema with a field of every type: right types of every shape, wrong
 * types, nulls, escaped member names, unknown members, duplicates, long
 * strings past the value cap, nesting past the depth cap. Each document and
 * several mutations of it (byte flips, insertions, deletions, truncations)
 * go to schema_decode_json() and to json_loadb(). From jansson's tree an
 * oracle derives, field by field, which outcomes are allowed (accepted with
 * a value, or a failure of a given kind), and checks that:
 *   - we accept exactly when every field allows acceptance, no field must
 *     fail and the required field is present; when jansson rejects the
 *     text, we report SCHEMA_ERR_JSON;
 *   - a failure we report is one the oracle allows for that field (the
 *     first failure in document order is ours to pick);
 *   - accepted values agree: bools and ints exactly, floats bit for bit
 *     (jansson's reals) or as jansson's integer converted, strings byte for
 *     byte after decoding, objects and arrays json_equal() once our raw text
 *     is parsed by jansson, timestamps from numbers to the microsecond
 *     (within a double's rounding for reals).
 *
 * Classes where the two legitimately differ are excluded and counted, as in
 * tests/unit/core/json_diff.c: integers outside int64 and reals that
 * overflow (jansson rejects valid JSON), \u0000 in member names (jansson's
 * C-string keys), documents our scanner and jansson disagree on (the
 * core scanner's own differential test owns those). Whether a real is an
 * integer is decided on its decimal text (jansson's double may have
 * rounded a fraction away), and int values of 2^53 and more, which jansson
 * holds rounded, are compared only for acceptance. Duplicate
 * member names are found with JSON_REJECT_DUPLICATES; jansson keeps the
 * last one, we reject a duplicated schema field.
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
#include <math.h>

#include <cmocka.h>
#include <jansson.h>

#include "schema/schema.h"
#include "../test_rng.h"

#define MAX_VALUE 64
#define MAX_DEPTH 32

enum { F_B, F_I, F_F, F_S, F_T, F_O, F_A, F_U, NF };
static const char *const names[NF] = {"b", "i", "f", "s", "t", "o", "a", "\xc3\xbc"};
static const schema_type_t types[NF] = {SCHEMA_BOOL,   SCHEMA_INT,       SCHEMA_FLOAT,
                                        SCHEMA_STRING, SCHEMA_TIMESTAMP, SCHEMA_OBJECT,
                                        SCHEMA_ARRAY,  SCHEMA_STRING};

static uint64_t seed = 0x5eed5c4e3a2024ULL;
static long n_docs = 20000;

/* ---- generator ---------------------------------------------------------- */

typedef struct {
    core_buf_t b;
    int dup[NF]; /* times each schema field was emitted at the top level */
} gen_t;

static void put(gen_t *g, const char *s)
{
    core_buf_append_str(&g->b, s);
}

static void ws(gen_t *g)
{
    static const char *const w[] = {" ", "\n", "\t", "\r", "  "};
    if (chance(20))
        put(g, w[below(5)]);
}

static void gen_string_body(gen_t *g, unsigned max_len)
{
    static const char *const esc[] = {"\\n", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r", "\\t"};
    unsigned n = chance(10) ? 50 + below(60) : below(max_len + 1);
    for (unsigned k = 0; k < n; k++) {
        unsigned c = below(100);
        if (c < 55) {
            core_buf_append_u8(&g->b, (uint8_t)('a' + below(26)));
        } else if (c < 65) {
            put(g, esc[below(8)]);
        } else if (c < 72) {
            unsigned cp = 1 + below(0xD7FF);
            core_buf_printf(&g->b, "\\u%04x", cp);
        } else if (c < 76) {
            core_buf_printf(&g->b, "\\u%04X\\u%04X", 0xD800 + below(0x400), 0xDC00 + below(0x400));
        } else if (c < 78) {
            put(g, "\\u0000");
        } else if (c < 86) {
            put(g, "\xc3\xa9");
        } else if (c < 92) {
            put(g, "\xe2\x82\xac");
        } else if (c < 96) {
            put(g, "\xf0\x9f\x98\x80");
        } else {
            put(g, " ");
        }
    }
}

static void gen_int(gen_t *g)
{
    int64_t v;
    switch (below(5)) {
    case 0:
        v = (int64_t)below(100) - 50;
        break;
    case 1:
        v = (int64_t)(rnd() % 4294967296u) - 2147483648LL;
        break;
    case 2:
        v = (int64_t)(rnd() % (1ULL << 54)) - (1LL << 53);
        break;
    case 3:
        v = INT64_MAX - (int64_t)below(1000);
        break;
    default:
        v = INT64_MIN + (int64_t)below(1000);
        break;
    }
    core_buf_printf(&g->b, "%lld", (long long)v);
}

static void gen_real(gen_t *g)
{
    switch (below(7)) {
    case 0: /* an integral real */
        core_buf_printf(&g->b, "%d.0", (int)below(2000) - 1000);
        break;
    case 1:
        core_buf_printf(&g->b, "%de%d", (int)below(100), (int)below(5));
        break;
    case 2:
        core_buf_printf(&g->b, "%d.%02d", (int)below(20000) - 10000, (int)below(100));
        break;
    case 3:
        core_buf_printf(&g->b, "%d.%de-%d", (int)below(10), (int)below(1000), (int)below(30));
        break;
    case 4: {
        double d = ldexp((double)(rnd() >> 11), (int)below(200) - 120);
        core_buf_printf(&g->b, "%.17g", chance(50) ? -d : d);
        break;
    }
    case 5:
        put(g, chance(50) ? "-0" : "-0.0");
        break;
    default:
        core_buf_printf(&g->b, "%.*g", 1 + (int)below(17), (double)rnd() / 3.0e12);
        break;
    }
}

static void gen_any(gen_t *g, int depth);

static void gen_container(gen_t *g, int depth, bool object)
{
    put(g, object ? "{" : "[");
    unsigned n = depth > 2 ? 0 : below(3);
    for (unsigned k = 0; k < n; k++) {
        if (k)
            put(g, ",");
        if (object) {
            core_buf_printf(&g->b, "\"%c\":", 'k' + (int)k);
        }
        gen_any(g, depth + 1);
    }
    put(g, object ? "}" : "]");
}

/* Any short value (containers stay well below MAX_VALUE bytes). */
static void gen_any(gen_t *g, int depth)
{
    switch (below(depth > 2 ? 6 : 8)) {
    case 0:
        put(g, "null");
        break;
    case 1:
        put(g, chance(50) ? "true" : "false");
        break;
    case 2:
        gen_int(g);
        break;
    case 3:
        gen_real(g);
        break;
    case 4:
    case 5:
        put(g, "\"");
        core_buf_printf(&g->b, "%c%d", 'a' + (int)below(26), (int)below(100));
        put(g, "\"");
        break;
    case 6:
        gen_container(g, depth, true);
        break;
    default:
        gen_container(g, depth, false);
        break;
    }
}

static void gen_timestamp(gen_t *g)
{
    char iso[33];
    switch (below(6)) {
    case 0:
        core_buf_printf(&g->b, "%lld", (long long)(rnd() % 4000000000000ULL) - 1000000000000LL);
        break;
    case 1:
        core_buf_printf(&g->b, "%lld.%d", (long long)(rnd() % 2000000000000ULL), (int)below(1000));
        break;
    case 2:
    case 3:
        schema_format_timestamp((int64_t)(rnd() % (1ULL << 52)) - (1LL << 51), iso);
        core_buf_printf(&g->b, "\"%s\"", iso);
        break;
    case 4:
        put(g, chance(50) ? "\"2023-02-29\"" : "\"2024-02-29T12:00:00+05:30\"");
        break;
    default:
        core_buf_printf(&g->b, "\"%lld\"", (long long)(rnd() % 2000000000000ULL));
        break;
    }
}

static void gen_field_value(gen_t *g, int f, bool clean)
{
    if (!clean && chance(10)) {
        put(g, "null");
        return;
    }
    if (!clean && chance(12)) {
        gen_any(g, 1);
        return;
    }
    switch (types[f]) {
    case SCHEMA_BOOL:
        put(g, chance(50) ? "true" : "false");
        break;
    case SCHEMA_INT:
        if (chance(75))
            gen_int(g);
        else
            gen_real(g);
        break;
    case SCHEMA_FLOAT:
        if (chance(50))
            gen_int(g);
        else
            gen_real(g);
        break;
    case SCHEMA_STRING:
        put(g, "\"");
        gen_string_body(g, 12);
        put(g, "\"");
        break;
    case SCHEMA_TIMESTAMP:
        gen_timestamp(g);
        break;
    default:
        gen_container(g, 1, types[f] == SCHEMA_OBJECT);
        break;
    }
}

/* A member name: a schema field's (sometimes \u-escaped) or an unknown one. */
static void gen_key(gen_t *g)
{
    static const char *const unknown[] = {"x", "S", "i2", "", "b ", "\xc3\xbd", "\\u0000"};
    put(g, "\"");
    if (chance(80)) {
        int f = (int)below(NF);
        g->dup[f]++;
        if (chance(15) && f == F_U) { /* escape the name */
            put(g, "\\u00fc");
        } else if (chance(15) && f != F_U) {
            core_buf_printf(&g->b, "\\u%04x", names[f][0]);
        } else {
            put(g, names[f]);
        }
        put(g, "\":");
        ws(g);
        gen_field_value(g, f, false);
        return;
    }
    put(g, unknown[chance(2) ? 6 : below(6)]); /* jansson cannot hold \u0000 in keys */
    put(g, "\":");
    ws(g);
    gen_any(g, 1);
}

static void gen_doc(gen_t *g)
{
    core_buf_reset(&g->b);
    memset(g->dup, 0, sizeof(g->dup));
    if (chance(2)) { /* deep nesting, around the cap */
        int depth = MAX_DEPTH - 2 + (int)below(5);
        put(g, "{\"a\":");
        for (int k = 1; k < depth; k++)
            put(g, "[");
        for (int k = 1; k < depth; k++)
            put(g, "]");
        put(g, "}");
        g->dup[F_A] = 1;
        return;
    }
    ws(g);
    put(g, "{");
    if (chance(50)) { /* a clean record: each field once, of its type */
        int order[NF], n = 0;
        for (int f = 0; f < NF; f++) {
            if (f == F_S || chance(70))
                order[n++] = f;
        }
        for (int k = n - 1; k > 0; k--) {
            int j = (int)below((unsigned)k + 1), t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
        for (int k = 0; k < n; k++) {
            core_buf_printf(&g->b, "%s\"%s\":", k ? "," : "", names[order[k]]);
            ws(g);
            gen_field_value(g, order[k], true);
            g->dup[order[k]]++;
        }
        put(g, "}");
        return;
    }
    unsigned n = below(10);
    for (unsigned k = 0; k < n; k++) {
        if (k)
            put(g, ",");
        ws(g);
        gen_key(g);
        ws(g);
    }
    put(g, "}");
    ws(g);
}

static void mutate(core_buf_t *b)
{
    static const char interesting[] = "\"\\{}[],:0e.- u\x00\xff\xc3";
    if (b->len == 0)
        return;
    size_t at = rnd() % b->len;
    switch (below(4)) {
    case 0:
        b->data[at] = (uint8_t)interesting[below(sizeof(interesting) - 1)];
        break;
    case 1:
        memmove(b->data + at, b->data + at + 1, b->len - at - 1);
        b->len--;
        break;
    case 2:
        if (core_buf_append_u8(b, 0) == 0) {
            memmove(b->data + at + 1, b->data + at, b->len - at - 1);
            b->data[at] = (uint8_t)interesting[below(sizeof(interesting) - 1)];
        }
        break;
    default:
        b->len = at;
        break;
    }
}

/* ---- oracle -------------------------------------------------------------- */

#define K(kind) (1u << (kind))
#define OK_     K(SCHEMA_ERR_NONE)

typedef struct {
    unsigned allow[NF];  /* allowed outcomes per field */
    bool skip_value[NF]; /* accepted values not comparable (ambiguous class) */
    bool required_fails;
    bool deep; /* nesting beyond MAX_DEPTH */
    bool dups_unknown;
} expect_t;

static long n_checked, n_rejected_both, n_excluded, n_accepted, n_field_fail;

static int tree_depth(const json_t *v)
{
    int d = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            int c = tree_depth(m);
            d = c > d ? c : d;
        }
        return d + 1;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int c = tree_depth(json_array_get(v, i));
            d = c > d ? c : d;
        }
        return d + 1;
    }
    return 0;
}

/* The raw text of the last member called `name` (jansson keeps the last),
 * through core's scanner, which has its own differential test against
 * jansson: jansson keeps no raw text. */
static bool raw_member(const char *doc, size_t len, const char *name, core_json_value_t *v)
{
    core_json_iter_t it;
    core_json_value_t k, val;
    bool found = false;
    if (core_json_iter_init(&it, doc, len, 4096, NULL) < 0)
        return false;
    while (core_json_object_next(&it, &k, &val) > 0) {
        if (core_json_string_eq(&k, name, strlen(name))) {
            *v = val;
            found = true;
        }
    }
    return found;
}

/* Whether the raw number token of member `name` is an integer, decided on
 * its decimal text (a double may round a fraction away: 1e-400 is 0.0). */
static bool raw_integral(const char *doc, size_t len, const char *name)
{
    core_json_value_t v = {.type = CORE_JSON_NULL};
    if (!raw_member(doc, len, name, &v) || v.type != CORE_JSON_NUMBER) {
        fail_msg("no raw number for %s", name);
        return false;
    }
    char digits[512];
    size_t nd = 0, nfrac = 0, i = 0;
    bool frac = false;
    long exp = 0;
    for (; i < v.len && v.p[i] != 'e' && v.p[i] != 'E'; i++) {
        if (v.p[i] == '.')
            frac = true;
        else if (v.p[i] >= '0' && v.p[i] <= '9' && nd < sizeof(digits)) {
            digits[nd++] = v.p[i];
            nfrac += frac;
        }
    }
    if (i < v.len)
        exp = strtol(v.p + i + 1, NULL, 10); /* saturates: fine either way */
    long drop = (long)nfrac - exp;           /* trailing digits right of the point */
    for (long k = 0; k < drop && k < (long)nd; k++) {
        if (digits[nd - 1 - (size_t)k] != '0')
            return false;
    }
    return true;
}

static void expect_int(expect_t *e, int f, const json_t *v, const char *doc, size_t len)
{
    if (json_is_integer(v)) {
        e->allow[f] = OK_;
        return;
    }
    if (!json_is_real(v)) {
        e->allow[f] = K(SCHEMA_ERR_TYPE);
        return;
    }
    double r = fabs(json_real_value(v));
    if (!raw_integral(doc, len, names[f]) || r > 9.3e18) {
        e->allow[f] = K(SCHEMA_ERR_TYPE);
    } else if (r < 9.2e18) {
        e->allow[f] = OK_;
        e->skip_value[f] = r >= 9007199254740992.0; /* the double is rounded */
    } else {                                        /* rounding at the edge of int64 */
        e->allow[f] = OK_ | K(SCHEMA_ERR_TYPE);
        e->skip_value[f] = true;
    }
}

static void expect_timestamp(expect_t *e, int f, const json_t *v)
{
    int64_t us;
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        e->allow[f] = n > INT64_MAX / 1000 || n < INT64_MIN / 1000 ? K(SCHEMA_ERR_TYPE) : OK_;
    } else if (json_is_real(v)) {
        double x = json_real_value(v) * 1000.0;
        if (fabs(x) < 9.2e18) {
            e->allow[f] = OK_;
        } else if (fabs(x) > 9.3e18) {
            e->allow[f] = K(SCHEMA_ERR_TYPE);
        } else {
            e->allow[f] = OK_ | K(SCHEMA_ERR_TYPE);
            e->skip_value[f] = true;
        }
    } else if (json_is_string(v)) {
        int rc = schema_parse_timestamp(SCHEMA_TS_AUTO, NULL, json_string_value(v),
                                        json_string_length(v), &us);
        e->allow[f] = rc == 0 ? OK_ : K(SCHEMA_ERR_TYPE);
    } else {
        e->allow[f] = K(SCHEMA_ERR_TYPE);
    }
}

static void expect_field(expect_t *e, int f, const json_t *v, const char *doc, size_t len)
{
    if (v == NULL || json_is_null(v)) {
        e->allow[f] = OK_;
        if (f == F_S)
            e->required_fails = true;
        return;
    }
    switch (types[f]) {
    case SCHEMA_BOOL:
        e->allow[f] = json_is_boolean(v) ? OK_ : K(SCHEMA_ERR_TYPE);
        break;
    case SCHEMA_INT:
        expect_int(e, f, v, doc, len);
        break;
    case SCHEMA_FLOAT:
        e->allow[f] = json_is_number(v) ? OK_ : K(SCHEMA_ERR_TYPE);
        break;
    case SCHEMA_STRING:
        if (!json_is_string(v))
            e->allow[f] = K(SCHEMA_ERR_TYPE);
        else
            e->allow[f] = json_string_length(v) > MAX_VALUE ? K(SCHEMA_ERR_TOOBIG) : OK_;
        break;
    case SCHEMA_TIMESTAMP:
        expect_timestamp(e, f, v);
        break;
    case SCHEMA_OBJECT:
    case SCHEMA_ARRAY: {
        core_json_value_t raw;
        if (types[f] == SCHEMA_OBJECT ? !json_is_object(v) : !json_is_array(v))
            e->allow[f] = K(SCHEMA_ERR_TYPE);
        else if (!raw_member(doc, len, names[f], &raw))
            fail_msg("no raw text for %s", names[f]);
        else
            e->allow[f] = raw.len > MAX_VALUE ? K(SCHEMA_ERR_TOOBIG) : OK_;
        break;
    }
    default:
        fail();
    }
}

static void compare_value(int f, const json_t *v, const schema_value_t *ours)
{
    if (v == NULL || json_is_null(v)) {
        assert_int_equal(ours->type, SCHEMA_NULL);
        return;
    }
    assert_int_equal(ours->type, types[f]);
    switch (types[f]) {
    case SCHEMA_BOOL:
        assert_int_equal(ours->v.b, json_is_true(v));
        break;
    case SCHEMA_INT:
        if (json_is_integer(v))
            assert_int_equal(ours->v.i, json_integer_value(v));
        else
            assert_true((double)ours->v.i == json_real_value(v));
        break;
    case SCHEMA_FLOAT:
        if (json_is_integer(v)) {
            assert_true(ours->v.f == (double)json_integer_value(v));
        } else {
            double want = json_real_value(v);
            assert_memory_equal(&ours->v.f, &want, sizeof(want));
        }
        break;
    case SCHEMA_STRING:
        assert_int_equal(ours->v.s.len, json_string_length(v));
        assert_memory_equal(ours->v.s.p, json_string_value(v), ours->v.s.len);
        break;
    case SCHEMA_TIMESTAMP:
        if (json_is_integer(v)) {
            assert_int_equal(ours->v.i, json_integer_value(v) * 1000);
        } else if (json_is_real(v)) {
            double x = json_real_value(v) * 1000.0;
            assert_true(fabs((double)ours->v.i - x) <= 1.0 + fabs(x) * 1e-15);
        } else {
            int64_t us;
            assert_int_equal(schema_parse_timestamp(SCHEMA_TS_AUTO, NULL, json_string_value(v),
                                                    json_string_length(v), &us),
                             0);
            assert_int_equal(ours->v.i, us);
        }
        break;
    default: {
        json_error_t je;
        json_t *back = json_loadb(ours->v.s.p, ours->v.s.len, JSON_ALLOW_NUL, &je);
        assert_non_null(back);
        assert_true(json_equal(back, (json_t *)v));
        json_decref(back);
        break;
    }
    }
}

static void dump_failure(const char *doc, size_t len, const schema_error_t *err)
{
    fprintf(stderr, "seed %llu: document (%zu bytes): %.*s\nours: %s field %d: %s\n",
            (unsigned long long)seed, len, (int)len, doc, schema_err_kind_name(err->kind),
            err->field, err->reason);
}

/* True when jansson's rejection falls in an excluded class. */
static bool excluded_rejection(const json_error_t *je)
{
    return strstr(je->text, "too big") != NULL || strstr(je->text, "overflow") != NULL ||
           strstr(je->text, "NUL") != NULL;
}

static void check_rejection(const char *doc, size_t len, const expect_t *e,
                            const schema_error_t *err, const json_t *root)
{
    if (!json_is_object(root)) { /* an array or scalar root */
        assert_int_equal(err->kind, SCHEMA_ERR_JSON);
        assert_int_equal(err->field, -1);
        return;
    }
    if (err->kind == SCHEMA_ERR_TOOBIG && err->field < 0) {
        if (!e->deep)
            fail_msg("depth failure on a shallow document");
        return;
    }
    if (e->deep)
        fail_msg("deep document not reported as too deep");
    if (err->kind == SCHEMA_ERR_REQUIRED) {
        assert_int_equal(err->field, F_S);
        assert_true(e->required_fails);
        for (int f = 0; f < NF; f++) {
            if (!(e->allow[f] & OK_)) {
                dump_failure(doc, len, err);
                fail_msg("required reported, but field %s must fail", names[f]);
            }
        }
        return;
    }
    if (e->dups_unknown)
        return; /* a duplicated member may have failed first: any field may fail */
    if (err->kind == SCHEMA_ERR_JSON) {
        assert_true(err->field >= 0);
        assert_non_null(strstr(err->reason, "duplicate"));
        assert_true(e->dups_unknown || (e->allow[err->field] & K(SCHEMA_ERR_JSON)));
        return;
    }
    assert_true(err->field >= 0 && err->field < NF);
    if (!(e->allow[err->field] & K(err->kind))) {
        dump_failure(doc, len, err);
        fail_msg("field %s: failure not allowed by the oracle", names[err->field]);
    }
    n_field_fail++;
}

/* What the oracle allows, field by field, for the document jansson parsed
 * into root. dup: the generator's count of each schema field (NULL for
 * mutated documents). */
static void build_expect(expect_t *e, const json_t *root, const char *doc, size_t len,
                         const int *dup)
{
    memset(e, 0, sizeof(*e));
    e->deep = tree_depth(root) > MAX_DEPTH;
    if (json_is_object(root)) {
        json_error_t je2;
        json_t *strict =
            json_loadb(doc, len, JSON_ALLOW_NUL | JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je2);
        e->dups_unknown = strict == NULL && dup == NULL;
        json_decref(strict);
        for (int f = 0; f < NF; f++) {
            expect_field(e, f, json_object_get(root, names[f]), doc, len);
            if (dup != NULL && dup[f] > 1)
                e->allow[f] = K(SCHEMA_ERR_JSON) | K(SCHEMA_ERR_TYPE) | K(SCHEMA_ERR_TOOBIG);
        }
    }
}

static void check_doc(const schema_t *s, schema_row_t *row, const char *doc, size_t len,
                      const int *dup)
{
    schema_error_t err;
    json_error_t je;
    int rc = schema_decode_json(s, doc, len, row, &err);
    json_t *root = json_loadb(doc, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &je);
    bool ours_valid = core_json_validate(doc, len, 4096, NULL) == 0;
    n_checked++;
    if (root == NULL) {
        if (rc == 0 || ours_valid) {
            if (excluded_rejection(&je)) {
                n_excluded++;
                return;
            }
            dump_failure(doc, len, &err);
            fail_msg("jansson rejects (%s) but we do not", je.text);
        }
        assert_true(err.kind == SCHEMA_ERR_JSON ||
                    (err.kind == SCHEMA_ERR_TOOBIG && err.field < 0));
        n_rejected_both++;
        return;
    }
    if (!ours_valid) { /* the core scanner's differential test owns these */
        n_excluded++;
        json_decref(root);
        return;
    }
    expect_t e;
    build_expect(&e, root, doc, len, dup);
    if (rc != 0) {
        check_rejection(doc, len, &e, &err, root);
        json_decref(root);
        return;
    }
    /* Accepted: every field must allow it, and the values agree. */
    if (!json_is_object(root) || e.deep || e.required_fails) {
        dump_failure(doc, len, &err);
        fail_msg("accepted a document the oracle rejects");
    }
    for (int f = 0; f < NF; f++) {
        if (!(e.allow[f] & OK_)) {
            dump_failure(doc, len, &err);
            fail_msg("field %s accepted, the oracle expects a failure", names[f]);
        }
        if (!e.skip_value[f])
            compare_value(f, json_object_get(root, names[f]), &row->values[f]);
    }
    n_accepted++;
    json_decref(root);
}

static schema_t *make_schema(void)
{
    schema_t *s;
    assert_int_equal(schema_create("diff", &s), 0);
    for (int f = 0; f < NF; f++) {
        schema_field_def_t d = {.name = names[f],
                                .type = types[f],
                                .required = f == F_S,
                                .min_length = -1,
                                .max_length = -1};
        assert_int_equal(schema_add_field(s, &d), 0);
    }
    schema_set_limits(s, MAX_VALUE, MAX_DEPTH);
    assert_int_equal(schema_seal(s), 0);
    return s;
}

static void test_generated_and_mutated(void **state)
{
    (void)state;
    schema_t *s = make_schema();
    schema_row_t row;
    gen_t g;
    core_buf_t m;
    assert_int_equal(schema_row_init(&row, s), 0);
    core_buf_init(&g.b, CORE_MEM_TEST, SIZE_MAX);
    core_buf_init(&m, CORE_MEM_TEST, SIZE_MAX);
    rng_state = (seed + 1) * 0x9E3779B97F4A7C15ULL | 1;
    fprintf(stderr, "json_diff: seed %llu, %ld documents\n", (unsigned long long)seed, n_docs);
    for (long d = 0; d < n_docs; d++) {
        gen_doc(&g);
        check_doc(s, &row, (const char *)g.b.data, g.b.len, g.dup);
        for (int k = 0; k < 3; k++) {
            core_buf_reset(&m);
            core_buf_append(&m, g.b.data, g.b.len);
            for (unsigned r = 1 + below(2); r > 0; r--)
                mutate(&m);
            check_doc(s, &row, (const char *)m.data, m.len, NULL);
        }
    }
    fprintf(stderr,
            "json_diff: %ld checked: %ld accepted, %ld field failures, %ld rejected by both, "
            "%ld excluded\n",
            n_checked, n_accepted, n_field_fail, n_rejected_both, n_excluded);
    /* The generator reaches every outcome. */
    assert_true(n_accepted > n_docs / 20);
    assert_true(n_field_fail > n_docs / 20);
    assert_true(n_rejected_both > n_docs / 4);
    core_buf_fini(&g.b);
    core_buf_fini(&m);
    schema_row_fini(&row);
    schema_destroy(s);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seed = strtoull(argv[1], NULL, 0);
    if (argc > 2)
        n_docs = strtol(argv[2], NULL, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_and_mutated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
