/*
 * Tests of the detect kind (src/stream/kind_detect.c), through real
 * pipelines: a seglog topic, stream_pipeline_run_once() and a SQLite
 * store. Threshold rules with and without a value; z-scores checked by
 * hand and against an independent two-pass computation on generated data
 * (the anomalous value joining the history, constant histories,
 * min_history); velocity windows checked by hand (one anomaly per window,
 * out-of-order events of an earlier window ignored) and against a
 * reference model; a run split across restarts writing exactly the
 * anomalies of one uninterrupted run (state reloaded from strata_state);
 * and an oversized key going to the dlq with no anomaly.
 */
#include "kind_fixture.h"

#include <math.h>

/* xorshift64*: a small deterministic generator. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static schema_t *make_schema(void)
{
    schema_t *s = NULL;
    assert_int_equal(schema_create("payment", &s), 0);
    schema_field_def_t f[] = {
        kf_field("card", SCHEMA_STRING, true),
        kf_field("amount", SCHEMA_FLOAT, false),
        kf_field("ts", SCHEMA_TIMESTAMP, false),
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(f); i++)
        assert_int_equal(schema_add_field(s, &f[i]), 0);
    assert_int_equal(schema_seal(s), 0);
    return s;
}

static stream_pipeline_def_t detect_def(const char *name, const schema_t *s,
                                        const stream_rule_def_t *rules, size_t n)
{
    stream_pipeline_def_t d = {
        .name = name,
        .kind = STREAM_KIND_DETECT,
        .topic = KF_TOPIC,
        .schema = s,
        .key = "card",
        .rules = rules,
        .nrules = n,
        .commit_records = 3,
        .commit_interval_ms = 60000,
    };
    return d;
}

static void produce_payment(kf_t *f, const char *card, const char *amount, int64_t ts_ms)
{
    core_buf_t v;
    core_buf_init(&v, CORE_MEM_TEST, 4096);
    assert_int_equal(core_buf_printf(&v, "{\"card\":\"%s\",", card), 0);
    if (amount != NULL)
        assert_int_equal(core_buf_printf(&v, "\"amount\":%s,", amount), 0);
    assert_int_equal(core_buf_printf(&v, "\"ts\":%" PRId64 "}", ts_ms), 0);
    assert_int_equal(core_buf_append_u8(&v, 0), 0);
    kf_produce(f, 0, card, (const char *)v.data, ts_ms);
    core_buf_fini(&v);
}

#define ANOMALIES_SQL                                                                              \
    "SELECT rule, key, value, score, \"offset\", detail FROM anomalies WHERE pipeline = ?1 "       \
    "ORDER BY \"offset\", rule"

#define T0 INT64_C(1700000000000) /* 2023-11-14T22:13:20Z, a whole second */

static void test_threshold(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = make_schema();
    stream_rule_def_t rules[] = {
        {.name = "big",
         .kind = STREAM_RULE_THRESHOLD,
         .when = "amount > 100",
         .value = "amount * 2"},
        {.name = "huge", .kind = STREAM_RULE_THRESHOLD, .when = "amount > 1000"},
    };
    produce_payment(&f, "a", "50", T0);
    produce_payment(&f, "b", "150.5", T0 + 1);
    produce_payment(&f, "a", "2000", T0 + 2);
    produce_payment(&f, "c", NULL, T0 + 3); /* NULL is not > 100 */
    stream_pipeline_def_t d = detect_def("thr", s, rules, 2);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    kf_rows_t r;
    kf_query(&f, ANOMALIES_SQL, "thr", &r);
    const char *want[] = {
        "big|b|301|NULL|1|{\"when\":\"amount > 100\"}",
        "big|a|4000|NULL|2|{\"when\":\"amount > 100\"}",
        "huge|a|NULL|NULL|2|{\"when\":\"amount > 1000\"}",
    };
    kf_assert_rows(&r, want, CORE_ARRAY_LEN(want));
    kf_rows_free(&r);
    /* the event time is the record's (no event_time configured) */
    kf_query(&f, "SELECT event_time, topic, partition FROM anomalies WHERE rule = 'huge'", NULL,
             &r);
    const char *want_time[] = {"1700000000002000|events|0"};
    kf_assert_rows(&r, want_time, 1);
    kf_rows_free(&r);
    assert_int_equal(st.anomalies, 3);
    assert_int_equal(st.valid, 4);
    assert_int_equal(st.invalid, 0);
    schema_destroy(s);
    kf_close(&f);
}

static void test_zscore_by_hand(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = make_schema();
    stream_rule_def_t rules[] = {
        {.name = "z",
         .kind = STREAM_RULE_ZSCORE,
         .field = "amount",
         .threshold = 3,
         .min_history = 3},
    };
    /* clang-format off */
    const char *in[][2] = {
        {"a", "10"}, {"a", "12"}, {"a", "11"}, /* mean 11, stddev 1 */
        {"a", "30"},   /* offset 3: z = 19 */
        {"a", "30"},   /* the 30 above is history now: z = 1.49, no anomaly */
        {"k", "5"}, {"k", "5"}, {"k", "5"}, {"k", "100"}, /* stddev 0: never */
        {"m", "1"}, {"m", "2"}, {"m", "1000"}, /* n = 2 < min_history: not scored */
        {"a", NULL},   /* NULL: skipped, not history */
        {"a", "-100"}, /* offset 13: z against 5 values */
    };
    /* clang-format on */
    for (size_t i = 0; i < CORE_ARRAY_LEN(in); i++)
        produce_payment(&f, in[i][0], in[i][1], T0 + (int64_t)i);
    stream_pipeline_def_t d = detect_def("zs", s, rules, 1);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    /* history of a before offset 13: 10 12 11 30 30 */
    double h[] = {10, 12, 11, 30, 30}, mean = 18.6, m2 = 0;
    for (size_t i = 0; i < 5; i++)
        m2 += (h[i] - mean) * (h[i] - mean);
    double z = (-100 - mean) / sqrt(m2 / 4);
    kf_rows_t r;
    kf_query(&f, ANOMALIES_SQL, "zs", &r);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.rows[0],
                        "z|a|30|19|3|{\"mean\":11.0,\"stddev\":1.0,\"n\":3,\"threshold\":3.0}");
    double score = 0;
    assert_int_equal(sscanf(r.rows[1], "z|a|-100|%lf|13|", &score), 1);
    assert_true(fabs(score - z) < 1e-12 * fabs(z));
    assert_non_null(strstr(r.rows[1], "\"n\":5"));
    kf_rows_free(&r);
    assert_int_equal(st.anomalies, 2);
    schema_destroy(s);
    kf_close(&f);
}

/* ---- Generated data against independent models. */

typedef struct {
    char card[8];
    bool has_amount;
    double amount;
    int64_t ts_ms;
} gen_t;

#define GEN_N    600
#define GEN_KEYS 4

/* Values around 100 with rare spikes; event times mostly increasing with
 * some going back by up to 2.5 s; some amounts missing. */
static void generate(gen_t *g, size_t n, uint64_t seed)
{
    rng_state = seed;
    int64_t now = T0;
    for (size_t i = 0; i < n; i++) {
        snprintf(g[i].card, sizeof g[i].card, "c%d", (int)(rng_next() % GEN_KEYS));
        g[i].has_amount = rng_unit() > 0.05;
        double spike = rng_unit() < 0.04 ? (rng_unit() < 0.5 ? -60 : 60) : 0;
        g[i].amount = 100 + (rng_unit() - 0.5) * 10 + spike;
        now += (int64_t)(rng_unit() * 300);
        g[i].ts_ms = rng_unit() < 0.1 ? now - (int64_t)(rng_unit() * 2500) : now;
    }
}

static void produce_gen(kf_t *f, const gen_t *g, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        char amount[64];
        snprintf(amount, sizeof amount, "%.17g", g[i].amount);
        produce_payment(f, g[i].card, g[i].has_amount ? amount : NULL, g[i].ts_ms);
    }
}

static int key_index(const char *card)
{
    return card[1] - '0';
}

static void test_zscore_against_two_pass(void **state)
{
    (void)state;
    static gen_t g[GEN_N];
    generate(g, GEN_N, 0x5eed1234abcdull);
    kf_t f;
    kf_open(&f, 1);
    produce_gen(&f, g, 0, GEN_N);
    schema_t *s = make_schema();
    stream_rule_def_t rules[] = {
        {.name = "z",
         .kind = STREAM_RULE_ZSCORE,
         .field = "amount",
         .threshold = 2.5,
         .min_history = 10},
    };
    stream_pipeline_def_t d = detect_def("zs", s, rules, 1);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    kf_rows_t r;
    kf_query(&f, "SELECT key, value, score, \"offset\" FROM anomalies ORDER BY \"offset\"", NULL,
             &r);
    static double hist[GEN_KEYS][GEN_N];
    size_t nh[GEN_KEYS] = {0}, got = 0;
    for (size_t i = 0; i < GEN_N; i++) {
        int k = key_index(g[i].card);
        if (!g[i].has_amount)
            continue;
        if (nh[k] >= 10) {
            double mean = 0, ss = 0;
            for (size_t j = 0; j < nh[k]; j++)
                mean += hist[k][j];
            mean /= (double)nh[k];
            for (size_t j = 0; j < nh[k]; j++)
                ss += (hist[k][j] - mean) * (hist[k][j] - mean);
            double z = (g[i].amount - mean) / sqrt(ss / (double)(nh[k] - 1));
            /* values too close to the threshold to call with rounding are
             * not expected either way */
            bool near = fabs(fabs(z) - 2.5) < 1e-9;
            if (fabs(z) > 2.5 && !near) {
                assert_true(got < r.n);
                char card[8];
                double value = 0, score = 0;
                long long off = -1;
                assert_int_equal(
                    sscanf(r.rows[got], "%7[^|]|%lf|%lf|%lld", card, &value, &score, &off), 4);
                assert_string_equal(card, g[i].card);
                assert_int_equal(off, (long long)i);
                assert_true(value == g[i].amount);
                assert_true(fabs(score - z) < 1e-9 * fabs(z));
                got++;
            }
        }
        hist[k][nh[k]++] = g[i].amount;
    }
    assert_true(got >= 10); /* the data has spikes: the test is not vacuous */
    assert_int_equal(got, r.n);
    assert_int_equal(st.anomalies, (int64_t)got);
    kf_rows_free(&r);
    schema_destroy(s);
    kf_close(&f);
}

static void test_velocity_by_hand(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = make_schema();
    stream_rule_def_t rules[] = {
        {.name = "burst", .kind = STREAM_RULE_VELOCITY, .window_ms = 1000, .limit = 2},
    };
    const struct {
        const char *card;
        int64_t dt;
    } in[] = {
        {"a", 0},    {"a", 100},  {"a", 200}, /* offset 2: third in [0, 1000) */
        {"a", 300},                           /* fourth: no second anomaly */
        {"b", 250},                           /* another key */
        {"a", 1500},                          /* a new window */
        {"a", 900},                           /* an earlier window than a's current: ignored */
        {"a", 1600}, {"a", 1999},             /* offset 8: third in [1000, 2000) */
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(in); i++)
        produce_payment(&f, in[i].card, "1", T0 + in[i].dt);
    stream_pipeline_def_t d = detect_def("vel", s, rules, 1);
    d.event_time = "ts";
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    kf_rows_t r;
    kf_query(&f, ANOMALIES_SQL, "vel", &r);
    const char *want[] = {
        "burst|a|3|3|2|{\"window_start\":\"2023-11-14T22:13:20Z\",\"window_end\":"
        "\"2023-11-14T22:13:21Z\",\"count\":3,\"limit\":2}",
        "burst|a|3|3|8|{\"window_start\":\"2023-11-14T22:13:21Z\",\"window_end\":"
        "\"2023-11-14T22:13:22Z\",\"count\":3,\"limit\":2}",
    };
    kf_assert_rows(&r, want, CORE_ARRAY_LEN(want));
    kf_rows_free(&r);
    kf_query(&f, "SELECT event_time FROM anomalies WHERE \"offset\" = 8", NULL, &r);
    const char *want_time[] = {"1700000001999000"};
    kf_assert_rows(&r, want_time, 1);
    kf_rows_free(&r);
    schema_destroy(s);
    kf_close(&f);
}

static void test_velocity_against_model(void **state)
{
    (void)state;
    static gen_t g[GEN_N];
    generate(g, GEN_N, 0xfeedbeef77ull);
    kf_t f;
    kf_open(&f, 1);
    produce_gen(&f, g, 0, GEN_N);
    schema_t *s = make_schema();
    stream_rule_def_t rules[] = {
        {.name = "v", .kind = STREAM_RULE_VELOCITY, .window_ms = 2000, .limit = 3},
    };
    stream_pipeline_def_t d = detect_def("vel", s, rules, 1);
    d.event_time = "ts";
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    kf_rows_t r;
    kf_query(&f, "SELECT key, value, \"offset\" FROM anomalies ORDER BY \"offset\"", NULL, &r);
    int64_t start[GEN_KEYS], count[GEN_KEYS];
    for (int k = 0; k < GEN_KEYS; k++)
        start[k] = INT64_MIN, count[k] = 0;
    size_t got = 0;
    for (size_t i = 0; i < GEN_N; i++) {
        int k = key_index(g[i].card);
        int64_t ws = g[i].ts_ms / 2000 * 2000; /* positive times */
        if (ws < start[k])
            continue;
        if (ws > start[k])
            start[k] = ws, count[k] = 0;
        if (++count[k] != 4)
            continue;
        char want[64];
        snprintf(want, sizeof want, "%.7s|4|%zu", g[i].card, i);
        assert_true(got < r.n);
        assert_string_equal(r.rows[got], want);
        got++;
    }
    assert_true(got >= 5);
    assert_int_equal(got, r.n);
    kf_rows_free(&r);
    schema_destroy(s);
    kf_close(&f);
}

/* ---- Restarts. */

static const stream_rule_def_t restart_rules[] = {
    {.name = "z", .kind = STREAM_RULE_ZSCORE, .field = "amount", .threshold = 2, .min_history = 8},
    {.name = "v", .kind = STREAM_RULE_VELOCITY, .window_ms = 3000, .limit = 4},
    {.name = "t", .kind = STREAM_RULE_THRESHOLD, .when = "amount > 150", .value = "amount"},
};

#define RESTART_SQL                                                                                \
    "SELECT rule, key, value, score, \"offset\", event_time, detail FROM anomalies WHERE "         \
    "pipeline = ?1 ORDER BY \"offset\", rule"

/* Runs the records in three runs (each a fresh task that reloads its state
 * from the store) and checks the anomalies are exactly those of one run. */
static void test_restarts_give_the_same_anomalies(void **state)
{
    (void)state;
    static gen_t g[GEN_N];
    generate(g, GEN_N, 0xabad1dea5ull);
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = make_schema();
    stream_pipeline_def_t split = detect_def("split", s, restart_rules, 3);
    split.event_time = "ts";
    split.commit_records = 7;
    stream_stats_t st;
    const size_t cut[] = {0, 40, 333, GEN_N};
    int64_t total = 0;
    for (size_t i = 0; i + 1 < CORE_ARRAY_LEN(cut); i++) {
        produce_gen(&f, g, cut[i], cut[i + 1]);
        assert_int_equal(kf_run(&f, &split, &st), 0);
        assert_int_equal(st.records, (int64_t)(cut[i + 1] - cut[i]));
        total += st.anomalies;
    }
    stream_pipeline_def_t whole = detect_def("whole", s, restart_rules, 3);
    whole.event_time = "ts";
    whole.commit_records = 100000;
    assert_int_equal(kf_run(&f, &whole, &st), 0);
    kf_rows_t a, b;
    kf_query(&f, RESTART_SQL, "split", &a);
    kf_query(&f, RESTART_SQL, "whole", &b);
    assert_true(b.n >= 20);
    assert_int_equal(st.anomalies, (int64_t)b.n);
    assert_int_equal(total, (int64_t)a.n);
    kf_assert_rows(&a, (const char *const *)b.rows, b.n);
    /* every rule kind fired, and some zscore anomaly needed the history of
     * an earlier run (the first run alone is shorter than min_history for
     * some key that fires in the second) */
    for (size_t i = 0; i < CORE_ARRAY_LEN(restart_rules); i++) {
        bool seen = false;
        for (size_t j = 0; j < b.n; j++)
            seen |= b.rows[j][0] == restart_rules[i].name[0];
        assert_true(seen);
    }
    kf_rows_free(&a);
    kf_rows_free(&b);
    /* one state row per (stateful rule, key) */
    kf_query(&f, "SELECT count(*) FROM strata_state WHERE pipeline = ?1", "split", &a);
    const char *want[] = {"8"};
    kf_assert_rows(&a, want, 1);
    kf_rows_free(&a);
    schema_destroy(s);
    kf_close(&f);
}

/* A renamed rule does not inherit the old rule's state. */
static void test_renamed_rule_starts_afresh(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = make_schema();
    stream_rule_def_t rules[] = {
        {.name = "v1", .kind = STREAM_RULE_VELOCITY, .window_ms = 60000, .limit = 2},
    };
    stream_pipeline_def_t d = detect_def("ren", s, rules, 1);
    produce_payment(&f, "a", "1", T0);
    produce_payment(&f, "a", "1", T0 + 1);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    produce_payment(&f, "a", "1", T0 + 2);
    rules[0].name = "v2"; /* v1 would fire now; v2 has seen one event */
    assert_int_equal(kf_run(&f, &d, &st), 0);
    assert_int_equal(st.anomalies, 0);
    produce_payment(&f, "a", "1", T0 + 3);
    rules[0].name = "v1"; /* v1's stored count (2) is still there */
    assert_int_equal(kf_run(&f, &d, &st), 0);
    assert_int_equal(st.anomalies, 1);
    kf_rows_t r;
    kf_query(&f, "SELECT rule, \"offset\" FROM anomalies", NULL, &r);
    const char *want[] = {"v1|3"};
    kf_assert_rows(&r, want, 1);
    kf_rows_free(&r);
    schema_destroy(s);
    kf_close(&f);
}

/* Stored state that cannot be read (or is of another rule kind) is ignored:
 * the key starts afresh instead of the task failing. */
static void test_unreadable_state_is_ignored(void **state)
{
    (void)state;
    /* W: the window of the events below, in microseconds; each bad state
     * would, if it were read, make the second event fire or be ignored */
    static const char *const bad[] = {
        "garbage",
        "z 1 0x1p+0 0x0p+0",      /* a zscore state for a velocity rule */
        "v 1699999980000001 9",   /* W + 1: not a window of this size */
        "v 1699999980000000 -1",  /* a negative count */
        "v 1699999980000000 1 2", /* trailing text */
        "v 1699999980000000 1 ",  /* trailing space */
        "v  1699999980000000 1",  /* two spaces */
        "v 1699999980000000 0x1", /* not decimal */
    };
    for (size_t i = 0; i < CORE_ARRAY_LEN(bad); i++) {
        kf_t f;
        kf_open(&f, 1);
        schema_t *s = make_schema();
        stream_rule_def_t rules[] = {
            {.name = "v", .kind = STREAM_RULE_VELOCITY, .window_ms = 60000, .limit = 1},
        };
        stream_pipeline_def_t d = detect_def("bad", s, rules, 1);
        stream_stats_t st;
        produce_payment(&f, "a", "1", T0);
        assert_int_equal(kf_run(&f, &d, &st), 0);
        store_t *db = NULL;
        assert_int_equal(store_open(f.url, &db), 0);
        schema_value_t v = {.type = SCHEMA_STRING, .v.s = {bad[i], strlen(bad[i])}};
        int64_t changed = 0;
        assert_int_equal(
            store_exec(db, "UPDATE strata_state SET state = ?1", &v, 1, NULL, NULL, &changed), 0);
        assert_int_equal(changed, 1);
        store_close(db);
        produce_payment(&f, "a", "1", T0 + 1); /* the second event: fires unless reset */
        assert_int_equal(kf_run(&f, &d, &st), 0);
        assert_int_equal(st.anomalies, 0);
        produce_payment(&f, "a", "1", T0 + 2); /* the state written after the reset is good */
        assert_int_equal(kf_run(&f, &d, &st), 0);
        assert_int_equal(st.anomalies, 1);
        schema_destroy(s);
        kf_close(&f);
    }
}

static void test_oversized_key_goes_to_the_dlq(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = make_schema();
    stream_rule_def_t rules[] = {
        {.name = "all", .kind = STREAM_RULE_THRESHOLD, .when = "amount > 0"},
    };
    stream_pipeline_def_t d = detect_def("big", s, rules, 1);
    d.key = "card || card"; /* 2 x 40000 bytes: over the 64 KiB key limit */
    size_t n = 40000;
    char *v = core_alloc(CORE_MEM_TEST, n + 64);
    assert_non_null(v);
    memcpy(v, "{\"card\":\"", 9);
    memset(v + 9, 'x', n);
    snprintf(v + 9 + n, 64, "\",\"amount\":5}");
    kf_produce(&f, 0, NULL, v, T0);
    core_free(v);
    produce_payment(&f, "ok", "5", T0 + 1);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    kf_rows_t r;
    kf_query(&f, "SELECT \"offset\", kind FROM dlq WHERE pipeline = 'big'", NULL, &r);
    const char *want[] = {"0|too_big"};
    kf_assert_rows(&r, want, 1);
    kf_rows_free(&r);
    kf_query(&f, "SELECT key, \"offset\" FROM anomalies", NULL, &r);
    const char *want_anom[] = {"okok|1"};
    kf_assert_rows(&r, want_anom, 1);
    kf_rows_free(&r);
    assert_int_equal(st.anomalies, 1);
    schema_destroy(s);
    kf_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold),
        cmocka_unit_test(test_zscore_by_hand),
        cmocka_unit_test(test_zscore_against_two_pass),
        cmocka_unit_test(test_velocity_by_hand),
        cmocka_unit_test(test_velocity_against_model),
        cmocka_unit_test(test_restarts_give_the_same_anomalies),
        cmocka_unit_test(test_renamed_rule_starts_afresh),
        cmocka_unit_test(test_unreadable_state_is_ignored),
        cmocka_unit_test(test_oversized_key_goes_to_the_dlq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
