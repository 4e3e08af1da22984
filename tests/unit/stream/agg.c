/*
 * Unit tests for the aggregate partial states (src/stream/agg.c): names,
 * add and result of every kind, NULL results of empty states, NaN inputs,
 * first/last tie-breaking, merge of random splits against adding
 * everything to one state (fixed seed), commutativity, the store column
 * layout and the value round trip, and rejection of bad stored values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "stream/window_int.h"

static const stream_agg_kind_t all_kinds[] = {
    STREAM_AGG_COUNT, STREAM_AGG_SUM,   STREAM_AGG_MIN,  STREAM_AGG_MAX,
    STREAM_AGG_AVG,   STREAM_AGG_FIRST, STREAM_AGG_LAST, STREAM_AGG_STDDEV,
};

/* xorshift64*: a small deterministic generator. */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static uint64_t rng_below(uint64_t n)
{
    return rng_next() % n;
}

static double rng_double(double lo, double hi)
{
    return lo + (hi - lo) * ((double)(rng_next() >> 11) / 9007199254740992.0);
}

static void assert_rel(double got, double want, double tol)
{
    double scale = fabs(want) > 1 ? fabs(want) : 1;
    if (fabs(got - want) > tol * scale)
        fail_msg("got %.17g, want %.17g", got, want);
}

static stream_agg_state_t fold(stream_agg_kind_t k, const double *x, const int64_t *ts,
                               const int64_t *ord, size_t n)
{
    stream_agg_state_t s;
    stream_agg_init(&s);
    for (size_t i = 0; i < n; i++)
        stream_agg_add(k, &s, x[i], ts[i], ord[i]);
    return s;
}

static void test_names(void **state)
{
    (void)state;
    for (size_t i = 0; i < CORE_ARRAY_LEN(all_kinds); i++) {
        const char *name = stream_agg_name(all_kinds[i]);
        stream_agg_kind_t k;
        assert_int_equal(stream_agg_parse(name, strlen(name), &k), 0);
        assert_int_equal(k, all_kinds[i]);
    }
    stream_agg_kind_t k = STREAM_AGG_SUM;
    assert_string_equal(stream_agg_name(STREAM_AGG_STDDEV), "stddev");
    assert_int_equal(stream_agg_parse("AVG", 3, &k), 0);
    assert_int_equal(k, STREAM_AGG_AVG);
    /* the length bounds the name: "counter" with length 5 is "count" */
    assert_int_equal(stream_agg_parse("counter", 5, &k), 0);
    assert_int_equal(k, STREAM_AGG_COUNT);
    assert_int_equal(stream_agg_parse("counter", 7, &k), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "counter"));
    assert_int_equal(stream_agg_parse("", 0, &k), CORE_EINVAL);
    assert_int_equal(stream_agg_parse("median", 6, &k), CORE_EINVAL);
}

static void test_add_and_result(void **state)
{
    (void)state;
    const double x[] = {3, 1, 4, 1, 5};
    const int64_t ts[] = {30, 10, 40, 50, 20};
    const int64_t ord[] = {0, 1, 2, 3, 4};
    double r = 0;
    stream_agg_state_t s = fold(STREAM_AGG_COUNT, x, ts, ord, 5);
    assert_true(stream_agg_result(STREAM_AGG_COUNT, &s, &r));
    assert_true(r == 5);
    s = fold(STREAM_AGG_SUM, x, ts, ord, 5);
    assert_true(stream_agg_result(STREAM_AGG_SUM, &s, &r));
    assert_true(r == 14);
    s = fold(STREAM_AGG_AVG, x, ts, ord, 5);
    assert_true(stream_agg_result(STREAM_AGG_AVG, &s, &r));
    assert_rel(r, 2.8, 1e-15);
    assert_true(s.a == 14 && s.n == 5); /* the partial is the sum */
    s = fold(STREAM_AGG_MIN, x, ts, ord, 5);
    assert_true(stream_agg_result(STREAM_AGG_MIN, &s, &r));
    assert_true(r == 1);
    s = fold(STREAM_AGG_MAX, x, ts, ord, 5);
    assert_true(stream_agg_result(STREAM_AGG_MAX, &s, &r));
    assert_true(r == 5);
    s = fold(STREAM_AGG_FIRST, x, ts, ord, 5);
    assert_true(stream_agg_result(STREAM_AGG_FIRST, &s, &r));
    assert_true(r == 1 && s.ts == 10 && s.ord == 1); /* smallest time, not first added */
    s = fold(STREAM_AGG_LAST, x, ts, ord, 5);
    assert_true(stream_agg_result(STREAM_AGG_LAST, &s, &r));
    assert_true(r == 1 && s.ts == 50 && s.ord == 3);
    s = fold(STREAM_AGG_STDDEV, x, ts, ord, 5);
    assert_true(stream_agg_result(STREAM_AGG_STDDEV, &s, &r));
    /* sample stddev: sum of squared deviations 12.8 over n - 1 = 4 */
    assert_rel(r, sqrt(3.2), 1e-14);
    assert_rel(s.a, 2.8, 1e-15);
    assert_rel(s.b, 12.8, 1e-14);
}

static void test_empty_and_nan(void **state)
{
    (void)state;
    for (size_t i = 0; i < CORE_ARRAY_LEN(all_kinds); i++) {
        stream_agg_kind_t k = all_kinds[i];
        stream_agg_state_t s;
        stream_agg_init(&s);
        double r = -1;
        if (k == STREAM_AGG_COUNT) {
            assert_true(stream_agg_result(k, &s, &r));
            assert_true(r == 0);
            continue;
        }
        assert_false(stream_agg_result(k, &s, &r));
        stream_agg_add(k, &s, NAN, 5, 1); /* NaN is a NULL input */
        assert_int_equal(s.n, 0);
        assert_false(stream_agg_result(k, &s, &r));
        stream_agg_add(k, &s, 7.5, 5, 1);
        if (k == STREAM_AGG_STDDEV) {
            assert_false(stream_agg_result(k, &s, &r)); /* n = 1: NULL */
            stream_agg_add(k, &s, 9.5, 6, 2);
            assert_true(stream_agg_result(k, &s, &r));
            assert_rel(r, sqrt(2.0), 1e-15);
        } else {
            assert_true(stream_agg_result(k, &s, &r));
            assert_true(r == 7.5);
        }
        stream_agg_add(k, &s, NAN, 1, 0);
        double r2 = 0;
        assert_true(stream_agg_result(k, &s, &r2));
        assert_true(r2 == r);
    }
    /* count counts calls whatever the input */
    stream_agg_state_t c;
    stream_agg_init(&c);
    stream_agg_add(STREAM_AGG_COUNT, &c, NAN, 0, 0);
    assert_int_equal(c.n, 1);
}

static void test_first_last_ties(void **state)
{
    (void)state;
    /* equal event times: the ord (partition, offset) decides */
    stream_agg_state_t f, l;
    stream_agg_init(&f);
    stream_agg_init(&l);
    const int64_t ords[] = {STREAM_AGG_ORD(1, 7), STREAM_AGG_ORD(0, 900), STREAM_AGG_ORD(1, 3)};
    const double vals[] = {10, 20, 30};
    for (int i = 0; i < 3; i++) {
        stream_agg_add(STREAM_AGG_FIRST, &f, vals[i], 100, ords[i]);
        stream_agg_add(STREAM_AGG_LAST, &l, vals[i], 100, ords[i]);
    }
    double r = 0;
    assert_true(stream_agg_result(STREAM_AGG_FIRST, &f, &r));
    assert_true(r == 20); /* partition 0 sorts before partition 1 */
    assert_true(stream_agg_result(STREAM_AGG_LAST, &l, &r));
    assert_true(r == 10); /* (1, 7) is the largest */
    assert_true(STREAM_AGG_ORD(1, 0) > STREAM_AGG_ORD(0, (1LL << 40) - 1));

    /* the same split two ways merges to the same answer */
    stream_agg_state_t a, b;
    stream_agg_init(&a);
    stream_agg_init(&b);
    stream_agg_add(STREAM_AGG_FIRST, &a, 30, 100, ords[2]);
    stream_agg_add(STREAM_AGG_FIRST, &b, 20, 100, ords[1]);
    stream_agg_add(STREAM_AGG_FIRST, &b, 10, 100, ords[0]);
    stream_agg_state_t ab = a, ba = b;
    stream_agg_merge(STREAM_AGG_FIRST, &ab, &b);
    stream_agg_merge(STREAM_AGG_FIRST, &ba, &a);
    assert_true(ab.a == 20 && ba.a == 20 && ab.n == 3 && ba.n == 3);
}

/* Random inputs, then random splits merged in random order, must give what
 * adding everything to one state gives. */
#define NIN 300

static void check_same(stream_agg_kind_t k, const stream_agg_state_t *got,
                       const stream_agg_state_t *want)
{
    double rg = 0, rw = 0;
    bool hg = stream_agg_result(k, got, &rg), hw = stream_agg_result(k, want, &rw);
    assert_int_equal(got->n, want->n);
    assert_int_equal(hg, hw);
    if (!hw)
        return;
    if (k == STREAM_AGG_SUM || k == STREAM_AGG_AVG || k == STREAM_AGG_STDDEV) {
        assert_rel(rg, rw, 1e-9);
    } else {
        assert_true(rg == rw);
        if (k == STREAM_AGG_FIRST || k == STREAM_AGG_LAST)
            assert_true(got->ts == want->ts && got->ord == want->ord);
    }
}

static stream_agg_state_t merge_random_split(stream_agg_kind_t k, const double *x,
                                             const int64_t *ts, const int64_t *ord, size_t n)
{
    enum { MAXP = 9 };
    size_t parts = 1 + (size_t)rng_below(MAXP);
    stream_agg_state_t p[MAXP];
    for (size_t i = 0; i < parts; i++)
        stream_agg_init(&p[i]);
    /* visit inputs in a random order, each to a random part */
    size_t idx[NIN];
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(i), t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
    for (size_t i = 0; i < n; i++) {
        size_t e = idx[i];
        stream_agg_add(k, &p[rng_below(parts)], x[e], ts[e], ord[e]);
    }
    /* merge random pairs until one is left (a random merge tree) */
    while (parts > 1) {
        size_t a = (size_t)rng_below(parts), b = (size_t)rng_below(parts - 1);
        if (b >= a)
            b++;
        stream_agg_merge(k, &p[a], &p[b]);
        p[b] = p[--parts];
    }
    return p[0];
}

static void test_merge_random_splits(void **state)
{
    (void)state;
    double x[NIN];
    int64_t ts[NIN], ord[NIN];
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t)rng_below(NIN + 1);
        double center = rng_double(-1e4, 1e4);
        for (size_t i = 0; i < n; i++) {
            x[i] = center + rng_double(-100, 100);
            if (rng_below(8) == 0)
                x[i] = (double)(int)x[i];        /* duplicates for min, max, first, last */
            ts[i] = (int64_t)rng_below(20) - 10; /* many equal times */
            ord[i] = STREAM_AGG_ORD(rng_below(4), i);
        }
        for (size_t kk = 0; kk < CORE_ARRAY_LEN(all_kinds); kk++) {
            stream_agg_kind_t k = all_kinds[kk];
            stream_agg_state_t whole = fold(k, x, ts, ord, n);
            for (int t = 0; t < 4; t++) {
                stream_agg_state_t merged = merge_random_split(k, x, ts, ord, n);
                check_same(k, &merged, &whole);
            }
        }
    }
}

static void test_merge_commutes(void **state)
{
    (void)state;
    for (int round = 0; round < 500; round++) {
        for (size_t kk = 0; kk < CORE_ARRAY_LEN(all_kinds); kk++) {
            stream_agg_kind_t k = all_kinds[kk];
            stream_agg_state_t a, b;
            stream_agg_init(&a);
            stream_agg_init(&b);
            size_t na = (size_t)rng_below(4), nb = (size_t)rng_below(4);
            for (size_t i = 0; i < na + nb; i++) {
                double v = (double)rng_below(5);
                int64_t t = (int64_t)rng_below(3);
                stream_agg_add(k, i < na ? &a : &b, v, t, (int64_t)rng_below(2));
            }
            stream_agg_state_t ab = a, ba = b;
            stream_agg_merge(k, &ab, &b);
            stream_agg_merge(k, &ba, &a);
            check_same(k, &ab, &ba);
            if (k != STREAM_AGG_SUM && k != STREAM_AGG_AVG && k != STREAM_AGG_STDDEV)
                assert_true(ab.a == ba.a);
        }
    }
}

static void test_columns(void **state)
{
    (void)state;
    store_column_t cols[STREAM_AGG_MAX_COLS];
    char names[STREAM_AGG_MAX_COLS][STREAM_AGG_COL_NAME];
    struct {
        stream_agg_kind_t k;
        size_t n;
        const char *names[4];
        schema_type_t types[4];
    } want[] = {
        {STREAM_AGG_COUNT, 1, {"v"}, {SCHEMA_INT}},
        {STREAM_AGG_SUM, 2, {"v_n", "v"}, {SCHEMA_INT, SCHEMA_FLOAT}},
        {STREAM_AGG_AVG, 2, {"v_n", "v"}, {SCHEMA_INT, SCHEMA_FLOAT}},
        {STREAM_AGG_MIN, 2, {"v_n", "v"}, {SCHEMA_INT, SCHEMA_FLOAT}},
        {STREAM_AGG_MAX, 2, {"v_n", "v"}, {SCHEMA_INT, SCHEMA_FLOAT}},
        {STREAM_AGG_FIRST,
         4,
         {"v_n", "v", "v_ts", "v_ord"},
         {SCHEMA_INT, SCHEMA_FLOAT, SCHEMA_TIMESTAMP, SCHEMA_INT}},
        {STREAM_AGG_LAST,
         4,
         {"v_n", "v", "v_ts", "v_ord"},
         {SCHEMA_INT, SCHEMA_FLOAT, SCHEMA_TIMESTAMP, SCHEMA_INT}},
        {STREAM_AGG_STDDEV, 3, {"v_n", "v_mean", "v_m2"}, {SCHEMA_INT, SCHEMA_FLOAT, SCHEMA_FLOAT}},
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(want); i++) {
        size_t n = stream_agg_columns(want[i].k, "v", cols, names);
        assert_int_equal(n, want[i].n);
        for (size_t c = 0; c < n; c++) {
            assert_string_equal(cols[c].name, want[i].names[c]);
            assert_ptr_equal(cols[c].name, names[c]);
            assert_int_equal(cols[c].type, want[i].types[c]);
        }
    }
    /* long names come back whole up to the buffer: the store rejects them */
    char longname[100];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[99] = '\0';
    assert_int_equal(stream_agg_columns(STREAM_AGG_STDDEV, longname, cols, names), 3);
    assert_int_equal(strlen(cols[1].name), STREAM_AGG_COL_NAME - 1);
}

static void roundtrip(stream_agg_kind_t k, const stream_agg_state_t *s)
{
    schema_value_t vals[STREAM_AGG_MAX_COLS];
    store_column_t cols[STREAM_AGG_MAX_COLS];
    char names[STREAM_AGG_MAX_COLS][STREAM_AGG_COL_NAME];
    size_t n = stream_agg_to_values(k, s, vals);
    assert_int_equal(n, stream_agg_columns(k, "x", cols, names));
    for (size_t i = 0; i < n; i++) {
        if (vals[i].type != SCHEMA_NULL)
            assert_int_equal(vals[i].type, cols[i].type);
        else
            assert_int_equal(s->n, 0); /* only an empty state stores NULLs */
    }
    stream_agg_state_t back;
    memset(&back, 0xab, sizeof(back));
    assert_int_equal(stream_agg_from_values(k, vals, &back), 0);
    assert_int_equal(back.n, s->n);
    double r1 = 0, r2 = 0;
    assert_int_equal(stream_agg_result(k, &back, &r1), stream_agg_result(k, s, &r2));
    assert_true(r1 == r2);
    if (s->n > 0 && k != STREAM_AGG_COUNT) {
        assert_true(back.a == s->a);
        if (k == STREAM_AGG_STDDEV)
            assert_true(back.b == s->b);
        if (k == STREAM_AGG_FIRST || k == STREAM_AGG_LAST)
            assert_true(back.ts == s->ts && back.ord == s->ord);
    }
    /* a restored partial keeps merging like the original */
    stream_agg_state_t m1 = back, m2 = *s, extra;
    stream_agg_init(&extra);
    stream_agg_add(k, &extra, 2.5, 7, 9);
    stream_agg_merge(k, &m1, &extra);
    stream_agg_merge(k, &m2, &extra);
    check_same(k, &m1, &m2);
}

static void test_values_roundtrip(void **state)
{
    (void)state;
    for (size_t kk = 0; kk < CORE_ARRAY_LEN(all_kinds); kk++) {
        stream_agg_kind_t k = all_kinds[kk];
        stream_agg_state_t s;
        stream_agg_init(&s);
        roundtrip(k, &s);
        for (int i = 0; i < 5; i++) {
            stream_agg_add(k, &s, rng_double(-50, 50), (int64_t)rng_below(1000) - 500,
                           STREAM_AGG_ORD(2, i));
            roundtrip(k, &s);
        }
    }
}

static void test_values_rejected(void **state)
{
    (void)state;
    stream_agg_state_t s, out;
    stream_agg_init(&s);
    stream_agg_add(STREAM_AGG_LAST, &s, 4, 10, 1);
    schema_value_t vals[STREAM_AGG_MAX_COLS];
    stream_agg_to_values(STREAM_AGG_LAST, &s, vals);

    schema_value_t bad[STREAM_AGG_MAX_COLS];
    memcpy(bad, vals, sizeof(bad));
    bad[0].type = SCHEMA_FLOAT; /* the count must be an int */
    assert_int_equal(stream_agg_from_values(STREAM_AGG_LAST, bad, &out), CORE_EINVAL);
    memcpy(bad, vals, sizeof(bad));
    bad[0].v.i = -1;
    assert_int_equal(stream_agg_from_values(STREAM_AGG_LAST, bad, &out), CORE_EINVAL);
    memcpy(bad, vals, sizeof(bad));
    bad[1].type = SCHEMA_NULL; /* NULL value with n > 0 */
    assert_int_equal(stream_agg_from_values(STREAM_AGG_LAST, bad, &out), CORE_EINVAL);
    memcpy(bad, vals, sizeof(bad));
    bad[2].type = SCHEMA_STRING;
    bad[2].v.s.p = "x";
    bad[2].v.s.len = 1;
    assert_int_equal(stream_agg_from_values(STREAM_AGG_LAST, bad, &out), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "ts"));
    memcpy(bad, vals, sizeof(bad));
    bad[3].type = SCHEMA_BOOL;
    assert_int_equal(stream_agg_from_values(STREAM_AGG_LAST, bad, &out), CORE_EINVAL);

    /* tolerated: an int in a float column (a store may return one) */
    memcpy(bad, vals, sizeof(bad));
    bad[1].type = SCHEMA_INT;
    bad[1].v.i = 4;
    assert_int_equal(stream_agg_from_values(STREAM_AGG_LAST, bad, &out), 0);
    assert_true(out.a == 4 && out.n == 1 && out.ts == 10 && out.ord == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_add_and_result),
        cmocka_unit_test(test_empty_and_nan),
        cmocka_unit_test(test_first_last_ties),
        cmocka_unit_test(test_merge_random_splits),
        cmocka_unit_test(test_merge_commutes),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_values_roundtrip),
        cmocka_unit_test(test_values_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
