/*
 * The generators (src/gen): option checks; the same options give the same
 * bytes and another seed other bytes; every kind's valid records are JSON
 * objects with a key; the requested shares of invalid, late and anomalous
 * records come out (100,000 records, within 4 standard deviations); late
 * records lie beyond the kind's lag and reuse a key of a recent on-time
 * record, while all other records move forward in event time; bursts; the
 * cdc kind only updates and deletes rows that exist, with `before` equal
 * to the row as last written; the Nexmark mix and references; the batches
 * of the external kind; and invalid Nexmark and external records miss a
 * required field, have a wrongly typed one, or are not JSON.
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

#include "gen/gen_int.h"
#include "schema/schema.h"

#define START_MS 1795000000000LL /* 2026-11-18 */

/* A copy of a generated stream. */
typedef struct {
    char *key, *value;
    size_t key_len, value_len;
    int64_t ts;
    gen_class_t cls;
    const char *hint;
} rec_t;

static gen_options_t opts(const char *kind, uint64_t seed, double inv, double late, double anom)
{
    gen_options_t o = {.kind = kind,
                       .seed = seed,
                       .start_ms = START_MS,
                       .rate = 1000,
                       .invalid_ratio = inv,
                       .late_ratio = late,
                       .anomaly_ratio = anom};
    return o;
}

static rec_t *generate(const gen_options_t *o, size_t n)
{
    gen_t *g = NULL;
    assert_int_equal(gen_create(o, &g), 0);
    rec_t *recs = calloc(n, sizeof *recs);
    assert_non_null(recs);
    for (size_t i = 0; i < n; i++) {
        gen_record_t r;
        gen_next(g, &r);
        assert_true(r.value_len > 0 && r.value_len <= GEN_VALUE_MAX);
        assert_true(r.key_len > 0 && r.key_len <= GEN_KEY_MAX);
        recs[i].key = strndup(r.key, r.key_len);
        recs[i].value = strndup(r.value, r.value_len);
        assert_int_equal(strlen(recs[i].value), r.value_len); /* no NUL inside */
        recs[i].key_len = r.key_len;
        recs[i].value_len = r.value_len;
        recs[i].ts = r.timestamp_ms;
        recs[i].cls = r.cls;
        recs[i].hint = r.topic_hint;
    }
    gen_destroy(g);
    return recs;
}

static void release(rec_t *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(recs[i].key);
        free(recs[i].value);
    }
    free(recs);
}

static bool is_object(const rec_t *r)
{
    core_json_value_t root;
    return core_json_parse(r->value, r->value_len, 0, &root, NULL) == 0 &&
           root.type == CORE_JSON_OBJECT;
}

/* Field `name` of r's JSON (which must parse). */
static bool field(const rec_t *r, const char *name, core_json_value_t *v)
{
    core_json_value_t root;
    if (core_json_parse(r->value, r->value_len, 0, &root, NULL) != 0)
        return false;
    return core_json_find(&root, name, strlen(name), v) == 0;
}

static int64_t field_i64(const rec_t *r, const char *name)
{
    core_json_value_t v;
    int64_t out = 0;
    assert_true(field(r, name, &v));
    assert_int_equal(core_json_to_i64(&v, &out), 0);
    return out;
}

/* ------------------------------------------------------------------------ */

static void test_kinds(void **state)
{
    (void)state;
    size_t n = 0;
    for (const char *const *k = gen_kinds(); *k != NULL; k++, n++) {
        gen_options_t o = opts(*k, 1, 0, 0, 0);
        gen_t *g = NULL;
        assert_int_equal(gen_create(&o, &g), 0);
        gen_record_t r;
        gen_next(g, &r);
        if (strcmp(*k, "nexmark") != 0)
            assert_string_equal(r.topic_hint, *k);
        gen_destroy(g);
    }
    assert_int_equal(n, 8);
    gen_destroy(NULL);
}

static void expect_einval(gen_options_t o, const char *detail_part)
{
    gen_t *g = (gen_t *)&o; /* must be reset to NULL */
    assert_int_equal(gen_create(&o, &g), CORE_EINVAL);
    assert_null(g);
    assert_non_null(strstr(core_error_detail(), detail_part));
}

static void test_create_errors(void **state)
{
    (void)state;
    expect_einval(opts("stock", 1, 0, 0, 0), "kinds: transactions, stocks, app");
    expect_einval(opts(NULL, 1, 0, 0, 0), "unknown kind");
    expect_einval(opts("stocks", 1, -0.1, 0, 0), "invalid ratio");
    expect_einval(opts("stocks", 1, 0, 1.5, 0), "late ratio");
    expect_einval(opts("stocks", 1, 0, 0, NAN), "anomaly ratio");
    expect_einval(opts("stocks", 1, 0.5, 0.3, 0.3), "sum to");
    gen_options_t o = opts("stocks", 1, 0, 0, 0);
    o.rate = -5;
    expect_einval(o, "rate");
    /* The whole share may go to one class, and to all three together. */
    gen_t *g = NULL;
    o = opts("transactions", 1, 0.2, 0.3, 0.5);
    assert_int_equal(gen_create(&o, &g), 0);
    gen_destroy(g);
}

static bool same_stream(const rec_t *a, const rec_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].key, b[i].key) != 0 || strcmp(a[i].value, b[i].value) != 0 ||
            a[i].ts != b[i].ts || a[i].cls != b[i].cls || strcmp(a[i].hint, b[i].hint) != 0)
            return false;
    return true;
}

static void test_deterministic(void **state)
{
    (void)state;
    const size_t n = 20000;
    for (const char *const *k = gen_kinds(); *k != NULL; k++) {
        gen_options_t o = opts(*k, 42, 0.05, 0.05, 0.05);
        rec_t *a = generate(&o, n), *b = generate(&o, n);
        assert_true(same_stream(a, b, n));
        o.seed = 43;
        rec_t *c = generate(&o, n);
        size_t differ = 0;
        for (size_t i = 0; i < n; i++)
            differ += strcmp(a[i].value, c[i].value) != 0;
        assert_true(differ > n / 2);
        release(a, n);
        release(b, n);
        release(c, n);
    }
}

/* A binomial count within 4 sigma (false alarm about 6e-5 per check). With
 * bursts, records come in clusters of up to L, which multiplies the
 * variance by at most L (design effect), so sigma grows by sqrt(L). */
static void expect_share(const char *kind, const char *what, size_t got, size_t n, double p,
                         int burst_len)
{
    double mean = p * (double)n;
    double sigma = sqrt((double)n * p * (1 - p) * (double)burst_len);
    if (fabs((double)got - mean) > 4 * sigma + 1)
        fail_msg("%s: %s: %zu records, expected %.0f +- %.0f", kind, what, got, mean, 4 * sigma);
}

static void test_shares(void **state)
{
    (void)state;
    const size_t n = 100000;
    const double p_inv = 0.05, p_late = 0.03, p_anom = 0.04;
    for (size_t ki = 0; gen_kinds()[ki] != NULL; ki++) {
        const char *kind = gen_kinds()[ki];
        gen_options_t o = opts(kind, 7 + ki, p_inv, p_late, p_anom);
        gen_t *g = NULL;
        assert_int_equal(gen_create(&o, &g), 0);
        int burst = g->kind->burst_share > 0 ? g->kind->burst_len : 1;
        size_t count[4] = {0};
        for (size_t i = 0; i < n; i++) {
            gen_record_t r;
            gen_next(g, &r);
            count[r.cls]++;
        }
        gen_destroy(g);
        expect_share(kind, "invalid", count[GEN_CLASS_INVALID], n, p_inv, burst);
        expect_share(kind, "late", count[GEN_CLASS_LATE], n, p_late, burst);
        expect_share(kind, "anomaly", count[GEN_CLASS_ANOMALY], n, p_anom, burst);
        /* Zero means none at all. */
        o = opts(kind, 3, 0, 0, 0);
        assert_int_equal(gen_create(&o, &g), 0);
        for (size_t i = 0; i < 20000; i++) {
            gen_record_t r;
            gen_next(g, &r);
            assert_int_equal(r.cls, GEN_CLASS_NORMAL);
        }
        gen_destroy(g);
    }
}

/* Valid records are JSON objects; on-time records never go back in event
 * time; a late one is at least the kind's lag behind the next on-time
 * record (the event time it was stamped against lies between the two) and
 * at most the lag (plus slack) behind the previous one, and (where the kind
 * keeps recent entities) it reuses a key of one of the two latest on-time
 * records. */
static void check_times(const char *kind, const rec_t *recs, size_t n, bool recent_keys,
                        int64_t needed_ms)
{
    const gen_kind_t *gk = NULL;
    const gen_kind_t *all[] = {&gen_kind_transactions, &gen_kind_stocks,      &gen_kind_app,
                               &gen_kind_web,          &gen_kind_clickstream, &gen_kind_cdc,
                               &gen_kind_external,     &gen_kind_nexmark};
    for (size_t i = 0; i < CORE_ARRAY_LEN(all); i++)
        if (strcmp(all[i]->name, kind) == 0)
            gk = all[i];
    assert_non_null(gk);
    assert_true(gk->late_min_ms >= needed_ms);
    int64_t newest = INT64_MIN;
    const char *last[2] = {NULL, NULL};
    size_t late = 0;
    for (size_t i = 0; i < n; i++) {
        const rec_t *r = &recs[i];
        if (r->cls != GEN_CLASS_INVALID && !is_object(r))
            fail_msg("%s: record %zu is not a JSON object: %s", kind, i, r->value);
        if (r->cls == GEN_CLASS_LATE) {
            late++;
            size_t next = i + 1;
            while (next < n && recs[next].cls == GEN_CLASS_LATE)
                next++;
            if (next < n)
                assert_true(recs[next].ts - r->ts >= gk->late_min_ms);
            assert_true(newest - r->ts >= gk->late_min_ms - 1000);
            assert_true(newest - r->ts <= gk->late_max_ms + 1000);
            if (recent_keys)
                assert_true((last[0] != NULL && strcmp(r->key, last[0]) == 0) ||
                            (last[1] != NULL && strcmp(r->key, last[1]) == 0));
            continue;
        }
        assert_true(r->ts >= newest);
        newest = r->ts;
        if (r->cls == GEN_CLASS_NORMAL || r->cls == GEN_CLASS_ANOMALY) {
            last[1] = last[0];
            last[0] = r->key;
        }
    }
    assert_true(late > 0);
}

static void test_times_and_keys(void **state)
{
    (void)state;
    /* The least lag that makes a record late in every windowed pipeline of
     * the example configs: the longest window plus its allowed lateness
     * plus its max_out_of_orderness (customer_daily: 1d + 1h + 1m;
     * ohlc_1m: 1m + 10s + 5s; app_hourly and the other hourly views: 1h +
     * 10s, sessions 30m). */
    static const struct {
        const char *kind;
        bool recent;
        int64_t needed_ms;
    } kinds[] = {
        {"transactions", true, 25 * 3600000LL + 60000},
        {"stocks", true, 75000},
        {"app", true, 3610000},
        {"web", true, 3610000},
        {"clickstream", true, 3610000},
        {"cdc", false, 0},
        {"external", false, 0},
        {"nexmark", false, 0},
    };
    const size_t n = 30000;
    for (size_t i = 0; i < CORE_ARRAY_LEN(kinds); i++) {
        gen_options_t o = opts(kinds[i].kind, 5, 0.05, 0.05, 0.05);
        rec_t *recs = generate(&o, n);
        check_times(kinds[i].kind, recs, n, kinds[i].recent, kinds[i].needed_ms);
        release(recs, n);
    }
}

/* A late draw before the first on-time record is postponed, not lost. */
static void test_late_first(void **state)
{
    (void)state;
    gen_options_t o = opts("stocks", 9, 0, 1.0, 0);
    gen_t *g = NULL;
    assert_int_equal(gen_create(&o, &g), 0);
    gen_record_t r;
    gen_next(g, &r);
    assert_int_equal(r.cls, GEN_CLASS_NORMAL); /* nothing recent to be late for */
    for (int i = 0; i < 100; i++) {
        gen_next(g, &r);
        assert_int_equal(r.cls, GEN_CLASS_LATE);
    }
    gen_destroy(g);
}

static void test_bursts(void **state)
{
    (void)state;
    const size_t n = 50000;
    static const struct {
        const char *kind;
        int len;
    } kinds[] = {{"transactions", 8}, {"clickstream", 10}, {"cdc", 6}};
    for (size_t k = 0; k < CORE_ARRAY_LEN(kinds); k++) {
        gen_options_t o = opts(kinds[k].kind, 11, 0, 0, 0.05);
        rec_t *recs = generate(&o, n);
        size_t bursts = 0;
        for (size_t i = 0; i + (size_t)kinds[k].len <= n; i++) {
            int run = 0;
            while (run < kinds[k].len && recs[i + (size_t)run].cls == GEN_CLASS_ANOMALY &&
                   strcmp(recs[i + (size_t)run].key, recs[i].key) == 0)
                run++;
            if (run == kinds[k].len) {
                bursts++;
                i += (size_t)run - 1;
            }
        }
        assert_true(bursts > 50);
        release(recs, n);
    }
}

/* ---- cdc: the generator's table is consistent with its change events. */

typedef struct {
    char *image; /* the last `after`, raw JSON; NULL when the row is absent */
} cdc_row_t;

static char *member_text(const rec_t *r, const char *name, core_json_type_t *type)
{
    core_json_value_t v;
    assert_true(field(r, name, &v));
    *type = v.type;
    return strndup(v.p, v.len);
}

static void test_cdc_state(void **state)
{
    (void)state;
    const size_t n = 60000;
    gen_options_t o = opts("cdc", 13, 0.05, 0.02, 0.05);
    rec_t *recs = generate(&o, n);
    cdc_row_t *rows = calloc(300000, sizeof *rows);
    size_t counts[4] = {0}; /* c/r, u, d, live */
    for (size_t i = 0; i < n; i++) {
        const rec_t *r = &recs[i];
        if (r->cls == GEN_CLASS_INVALID)
            continue;
        core_json_value_t op;
        assert_true(field(r, "op", &op));
        char letter = op.p[0];
        int64_t id = strtoll(r->key, NULL, 10);
        assert_true(id >= 1001 && id < 1001 + 300000);
        cdc_row_t *row = &rows[id - 1001];
        core_json_type_t bt, at;
        char *before = member_text(r, "before", &bt), *after = member_text(r, "after", &at);
        if (letter == 'c' || letter == 'r') {
            assert_null(row->image);
            assert_int_equal(bt, CORE_JSON_NULL);
            free(before);
            row->image = after;
            counts[0]++;
        } else {
            assert_true(letter == 'u' || letter == 'd');
            assert_non_null(row->image); /* only rows that exist */
            assert_string_equal(before, row->image);
            free(before);
            free(row->image);
            row->image = letter == 'u' ? after : NULL;
            if (letter == 'd') {
                assert_int_equal(at, CORE_JSON_NULL);
                free(after);
            }
            counts[letter == 'u' ? 1 : 2]++;
        }
    }
    assert_true(counts[0] > 1000 && counts[1] > 1000 && counts[2] > 1000);
    for (size_t i = 0; i < 300000; i++)
        free(rows[i].image);
    free(rows);
    release(recs, n);
}

/* ---- nexmark and external: shapes, and what invalid means for them. */

typedef struct {
    const char *name;
    core_json_type_t type;
} want_field_t;

/* True if the record is missing one of `fields`, has one with another
 * type, or is not JSON. */
static bool breaks_shape(const rec_t *r, const want_field_t *fields, size_t n)
{
    if (!is_object(r))
        return true;
    for (size_t i = 0; i < n; i++) {
        core_json_value_t v;
        const char *name = fields[i].name;
        if (!field(r, name, &v) || v.type != fields[i].type)
            return true;
        int64_t x = 0, us = 0;
        if (v.type == CORE_JSON_NUMBER && strcmp(name, "value") != 0 &&
            (core_json_to_i64(&v, &x) != 0 || x < 0))
            return true; /* ids, prices, counts: whole numbers >= 0 */
        bool is_time = strcmp(name, "dateTime") == 0 || strcmp(name, "expires") == 0 ||
                       strcmp(name, "ts") == 0;
        if (is_time && schema_parse_timestamp(SCHEMA_TS_ISO8601, NULL, v.p, v.len, &us) != 0)
            return true;
    }
    /* A duplicated member: count the occurrences of each wanted name. */
    for (size_t i = 0; i < n; i++) {
        char pat[64];
        snprintf(pat, sizeof pat, "\"%s\":", fields[i].name);
        const char *p = strstr(r->value, pat);
        if (p != NULL && strstr(p + 1, pat) != NULL)
            return true;
    }
    return false;
}

static void test_nexmark(void **state)
{
    (void)state;
    static const want_field_t person[] = {
        {"id", CORE_JSON_NUMBER},           {"name", CORE_JSON_STRING},
        {"emailAddress", CORE_JSON_STRING}, {"creditCard", CORE_JSON_STRING},
        {"city", CORE_JSON_STRING},         {"state", CORE_JSON_STRING},
        {"dateTime", CORE_JSON_STRING},
    };
    static const want_field_t auction[] = {
        {"id", CORE_JSON_NUMBER},          {"itemName", CORE_JSON_STRING},
        {"description", CORE_JSON_STRING}, {"initialBid", CORE_JSON_NUMBER},
        {"reserve", CORE_JSON_NUMBER},     {"dateTime", CORE_JSON_STRING},
        {"expires", CORE_JSON_STRING},     {"seller", CORE_JSON_NUMBER},
        {"category", CORE_JSON_NUMBER},
    };
    static const want_field_t bid[] = {
        {"auction", CORE_JSON_NUMBER}, {"bidder", CORE_JSON_NUMBER}, {"price", CORE_JSON_NUMBER},
        {"channel", CORE_JSON_STRING}, {"url", CORE_JSON_STRING},    {"dateTime", CORE_JSON_STRING},
    };
    const size_t n = 50000;
    gen_options_t o = opts("nexmark", 17, 0.04, 0.02, 0.02);
    rec_t *recs = generate(&o, n);
    size_t types[3] = {0};
    int64_t persons = 0, auctions = 0;
    for (size_t i = 0; i < n; i++) {
        const rec_t *r = &recs[i];
        size_t t = i % 50 == 0 ? 0 : i % 50 <= 3 ? 1 : 2;
        static const char *const hints[] = {"person", "auction", "bid"};
        assert_string_equal(r->hint, hints[t]);
        types[t]++;
        const want_field_t *w = t == 0 ? person : t == 1 ? auction : bid;
        size_t nw = t == 0   ? CORE_ARRAY_LEN(person)
                    : t == 1 ? CORE_ARRAY_LEN(auction)
                             : CORE_ARRAY_LEN(bid);
        bool broken = breaks_shape(r, w, nw);
        assert_int_equal(broken, r->cls == GEN_CLASS_INVALID);
        if (broken)
            continue;
        core_json_value_t type;
        assert_true(field(r, "type", &type) &&
                    core_json_string_eq(&type, hints[t], strlen(hints[t])));
        if (t == 0)
            persons = field_i64(r, "id") + 1;
        else if (t == 1)
            auctions = field_i64(r, "id") + 1;
        else {
            assert_true(field_i64(r, "auction") < auctions); /* existing auctions */
            assert_true(field_i64(r, "bidder") < persons);
            assert_int_equal(field_i64(r, "auction"), strtoll(r->key, NULL, 10));
        }
    }
    assert_int_equal(types[0] * 3, types[1]);
    assert_int_equal(types[0] * 46, types[2]);
    release(recs, n);
}

static void test_external(void **state)
{
    (void)state;
    static const want_field_t reading[] = {
        {"feed", CORE_JSON_STRING},  {"source", CORE_JSON_STRING}, {"metric", CORE_JSON_STRING},
        {"value", CORE_JSON_NUMBER}, {"unit", CORE_JSON_STRING},   {"batch", CORE_JSON_NUMBER},
        {"ts", CORE_JSON_STRING},
    };
    const size_t n = 39 * 1000; /* 24 + 7 + 8 readings per round of the three feeds */
    gen_options_t o = opts("external", 19, 0.03, 0.03, 0.03);
    rec_t *recs = generate(&o, n);
    static const size_t sizes[] = {24, 7, 8};
    size_t i = 0;
    int64_t prev_batch_ts = INT64_MIN;
    for (int64_t b = 0; i < n; b++) {
        size_t size = sizes[b % 3];
        int64_t ts = INT64_MIN;
        for (size_t k = 0; k < size; k++, i++) {
            const rec_t *r = &recs[i];
            bool broken = breaks_shape(r, reading, CORE_ARRAY_LEN(reading));
            assert_int_equal(broken, r->cls == GEN_CLASS_INVALID);
            if (!broken)
                assert_int_equal(field_i64(r, "batch"), b);
            if (r->cls == GEN_CLASS_LATE)
                continue;
            if (ts == INT64_MIN)
                ts = r->ts;
            assert_int_equal(r->ts, ts); /* one timestamp per batch */
        }
        if (ts != INT64_MIN) {
            assert_true(ts > prev_batch_ts);
            prev_batch_ts = ts;
        }
    }
    release(recs, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),          cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_deterministic),  cmocka_unit_test(test_shares),
        cmocka_unit_test(test_times_and_keys), cmocka_unit_test(test_late_first),
        cmocka_unit_test(test_bursts),         cmocka_unit_test(test_cdc_state),
        cmocka_unit_test(test_nexmark),        cmocka_unit_test(test_external),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
