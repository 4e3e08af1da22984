/*
 * The batch layer's recompute (stream_recompute), over a seglog topic and a
 * SQLite store, next to the speed layer that ran first: events the speed
 * layer dropped as late appear once recomputed; a rerun writes the same
 * rows; windows outside the range (and sessions crossing its bounds) are
 * left alone; invalid records are not sent to the dlq again; partitions
 * merge into one complete row; queries serve batch rows (partition -1,
 * final) over the speed layer's, sessions included. Records that retention
 * removed from the log come from a source callback (source_fn), already
 * decoded, through the same checks and aggregation, below the log's start
 * only and in offset order.
 */
#include "kind_fixture.h"

static schema_t *tick_schema(void)
{
    schema_t *s;
    assert_int_equal(schema_create("tick", &s), 0);
    schema_field_def_t k = kf_field("k", SCHEMA_STRING, true);
    schema_field_def_t v = kf_field("v", SCHEMA_INT, true);
    schema_field_def_t ts = kf_field("ts", SCHEMA_TIMESTAMP, true);
    ts.format = "epoch_ms";
    assert_int_equal(schema_add_field(s, &k), 0);
    assert_int_equal(schema_add_field(s, &v), 0);
    assert_int_equal(schema_add_field(s, &ts), 0);
    assert_int_equal(schema_seal(s), 0);
    return s;
}

static const stream_agg_def_t aggs[] = {
    {"n", "count", "", 0},
    {"total", "sum", "v", 0},
    {"lo", "first", "v", 0},
    {"hi", "last", "v", 0},
};

/* No out-of-orderness and no lateness: an event behind the newest one of
 * its partition by a window is late for the speed layer. */
static stream_pipeline_def_t agg_def(const schema_t *s, stream_window_t w, int64_t size_ms,
                                     int64_t slide_ms)
{
    stream_pipeline_def_t d = {
        .name = "agg",
        .kind = STREAM_KIND_AGGREGATE,
        .topic = KF_TOPIC,
        .schema = s,
        .filter = "v <> 999",
        .key = "k",
        .event_time = "ts",
        .window = w,
        .size_ms = size_ms,
        .slide_ms = slide_ms,
        .gap_ms = size_ms,
        .emit = STREAM_EMIT_UPDATE,
        .view = "agg",
        .aggs = aggs,
        .naggs = 4,
        .commit_interval_ms = 5,
        .commit_records = 1000,
    };
    return d;
}

static void tick(kf_t *f, int32_t p, const char *k, int64_t v, int64_t ts_ms)
{
    char json[128];
    snprintf(json, sizeof json, "{\"k\":\"%s\",\"v\":%lld,\"ts\":%lld}", k, (long long)v,
             (long long)ts_ms);
    kf_produce(f, p, k, json, ts_ms);
}

static void speed(kf_t *f, const stream_pipeline_def_t *d)
{
    stream_stats_t st;
    assert_int_equal(kf_run(f, d, &st), 0);
}

typedef struct {
    int32_t partition[8];
    int64_t from[8], to[8];
    int n;
} ranges_t;

static int note_range(void *arg, int32_t partition, int64_t from, int64_t to)
{
    ranges_t *r = arg;
    assert_true(r->n < 8);
    r->partition[r->n] = partition;
    r->from[r->n] = from;
    r->to[r->n] = to;
    r->n++;
    return 0;
}

typedef struct {
    int64_t from_ms, to_ms, read_from_ms;
    size_t chunk;
    int threads; /* 0: the online CPUs */
    const int *stop;
    ranges_t *ranges;
} rc_args_t;

static int recompute_with(kf_t *f, const stream_pipeline_def_t *d, const rc_args_t *a,
                          stream_recompute_stats_t *st)
{
    stream_pipeline_t *p = NULL;
    store_t *s = NULL;
    assert_int_equal(stream_pipeline_compile(d, kf_error, NULL, &p), 0);
    assert_int_equal(store_open(f->url, &s), 0);
    assert_int_equal(store_migrate(s), 0);
    stream_recompute_opts_t o = {
        .from_us = a->from_ms * 1000,
        .to_us = a->to_ms * 1000,
        .read_from_ms = a->read_from_ms,
        .chunk_rows = a->chunk,
        .threads = a->threads,
        .stop = a->stop,
        .range_fn = a->ranges != NULL ? note_range : NULL,
        .arg = a->ranges,
    };
    int rc = stream_recompute(p, f->bus, s, &o, st);
    store_close(s);
    stream_pipeline_destroy(p);
    return rc;
}

static stream_recompute_stats_t recompute(kf_t *f, const stream_pipeline_def_t *d, int64_t from_ms,
                                          int64_t to_ms)
{
    stream_recompute_stats_t st;
    rc_args_t a = {.from_ms = from_ms, .to_ms = to_ms, .read_from_ms = INT64_MIN};
    int rc = recompute_with(f, d, &a, &st);
    if (rc != 0)
        fail_msg("recompute failed (%d): %s", rc, core_error_detail());
    return st;
}

/* ---- Merged rows as text: key|start_ms|end_ms|layer|final|values... */

static int add_view_row(void *arg, const stream_view_row_t *r)
{
    kf_rows_t *rows = arg;
    schema_value_t v[5 + 8];
    char head[256];
    snprintf(head, sizeof head, "%.*s|%lld|%lld|%s|%s", (int)r->key_len, r->key,
             (long long)(r->window_start / 1000), (long long)(r->window_end / 1000), r->layer,
             r->final ? "final" : "open");
    v[0] = (schema_value_t){.type = SCHEMA_STRING, .v.s = {head, strlen(head)}};
    assert_true(r->nvalues <= 8);
    for (size_t i = 0; i < r->nvalues; i++)
        v[1 + i] = r->values[i];
    return kf_collect(rows, v, 1 + r->nvalues);
}

static void view_rows_from(kf_t *f, bool include_open, int64_t from_us, kf_rows_t *out)
{
    store_t *s = NULL;
    memset(out, 0, sizeof *out);
    assert_int_equal(store_open(f->url, &s), 0);
    stream_view_query_t q = {.from_us = from_us, .to_us = INT64_MAX, .include_open = include_open};
    int rc = stream_view_query(s, "agg", &q, add_view_row, out);
    if (rc != 0)
        fail_msg("query failed (%d): %s", rc, core_error_detail());
    store_close(s);
}

static void view_rows(kf_t *f, bool include_open, kf_rows_t *out)
{
    view_rows_from(f, include_open, INT64_MIN, out);
}

static void assert_view(kf_t *f, const char *const *want, size_t n)
{
    kf_rows_t got;
    view_rows(f, true, &got);
    kf_assert_rows(&got, want, n);
    kf_rows_free(&got);
}

static int64_t count(kf_t *f, const char *sql)
{
    kf_rows_t r;
    kf_query(f, sql, NULL, &r);
    assert_int_equal(r.n, 1);
    long long n = 0;
    assert_int_equal(sscanf(r.rows[0], "%lld", &n), 1);
    kf_rows_free(&r);
    return n;
}

/* The stored rows of one layer, without updated_at. */
#define STORED(layer)                                                                              \
    "SELECT key, window_start / 1000, partition, window_end / 1000, \"final\", n, total_n, "       \
    "total, lo, lo_ts / 1000, lo_ord, hi, hi_ts / 1000, hi_ord FROM agg WHERE layer = '" layer     \
    "' ORDER BY key, window_start, partition"

/* Tumbling 10 s. Partition 0 sees a at 1 s and 12 s, then at 3 s (late:
 * [0, 10) closed when 12 s arrived), then 15 s; also a record that is not
 * JSON and one the filter drops. The speed layer sends the late one and
 * the invalid one to the dlq; the recompute counts all four events, writes
 * both windows as final batch rows, and adds nothing to the dlq. */
static void test_late_events_are_recomputed(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = tick_schema();
    tick(&f, 0, "a", 1, 1000);
    tick(&f, 0, "a", 2, 12000);
    tick(&f, 0, "a", 4, 3000);
    kf_produce(&f, 0, "a", "{not json", 13000);
    tick(&f, 0, "a", 999, 14000);
    tick(&f, 0, "a", 8, 15000);
    stream_pipeline_def_t d = agg_def(s, STREAM_WINDOW_TUMBLING, 10000, 0);
    speed(&f, &d);
    const char *before[] = {
        "a|0|10000|speed|final|1|1|1|1",
        "a|10000|20000|speed|open|2|10|2|8",
    };
    assert_view(&f, before, 2);
    assert_int_equal(count(&f, "SELECT count(*) FROM dlq WHERE kind = 'late'"), 1);
    assert_int_equal(count(&f, "SELECT count(*) FROM dlq"), 2);

    stream_recompute_stats_t st = recompute(&f, &d, 0, 20000);
    assert_int_equal(st.records, 6);
    assert_int_equal(st.valid, 4);
    assert_int_equal(st.invalid, 1);
    assert_int_equal(st.filtered, 1);
    assert_int_equal(st.outside, 0);
    assert_int_equal(st.windows, 2);
    assert_int_equal(st.rows, 2);
    assert_int_equal(st.deleted, 0);
    const char *after[] = {
        "a|0|10000|batch|final|2|5|1|4",
        "a|10000|20000|batch|final|2|10|2|8",
    };
    assert_view(&f, after, 2);
    const char *stored[] = {
        "a|0|-1|10000|1|2|2|5|1|1000|0|4|3000|2",
        "a|10000|-1|20000|1|2|2|10|2|12000|1|8|15000|5",
    };
    kf_rows_t got;
    kf_query(&f, STORED("batch"), NULL, &got);
    kf_assert_rows(&got, stored, 2);
    kf_rows_free(&got);
    assert_int_equal(count(&f, "SELECT count(*) FROM dlq"), 2);

    schema_destroy(s);
    kf_close(&f);
}

/* 30 keys x 3 windows, committed 7 rows at a time: a second run writes the
 * same rows, deletes nothing, and the query is unchanged. */
static void test_rerun_is_idempotent(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 2);
    schema_t *s = tick_schema();
    char key[16];
    for (int w = 0; w < 3; w++)
        for (int k = 0; k < 30; k++) {
            snprintf(key, sizeof key, "k%02d", k);
            tick(&f, k % 2, key, k + w, w * 10000 + k * 100);
            tick(&f, (k + 1) % 2, key, 2 * k + w, w * 10000 + k * 100 + 50);
        }
    tick(&f, 0, "k00", 7, 500); /* late */
    stream_pipeline_def_t d = agg_def(s, STREAM_WINDOW_TUMBLING, 10000, 0);
    speed(&f, &d);

    stream_recompute_stats_t st;
    rc_args_t a = {.from_ms = 0, .to_ms = 30000, .read_from_ms = INT64_MIN, .chunk = 7};
    assert_int_equal(recompute_with(&f, &d, &a, &st), 0);
    assert_int_equal(st.rows, 90);
    assert_int_equal(st.commits, 13);
    kf_rows_t first, first_view;
    kf_query(&f, STORED("batch"), NULL, &first);
    view_rows(&f, true, &first_view);
    assert_int_equal(first.n, 90);
    assert_int_equal(first_view.n, 90);
    assert_non_null(strstr(first_view.rows[0], "k00|0|10000|batch|final|3|7|0|7"));

    assert_int_equal(recompute_with(&f, &d, &a, &st), 0);
    assert_int_equal(st.rows, 90);
    assert_int_equal(st.deleted, 0);
    kf_rows_t second;
    kf_query(&f, STORED("batch"), NULL, &second);
    kf_assert_rows(&second, (const char *const *)first.rows, first.n);
    kf_rows_free(&second);
    view_rows(&f, true, &second);
    kf_assert_rows(&second, (const char *const *)first_view.rows, first_view.n);
    kf_rows_free(&second);
    kf_rows_free(&first);
    kf_rows_free(&first_view);
    schema_destroy(s);
    kf_close(&f);
}

/* Hopping 10 s / 5 s over events from 0 to 40 s, recomputed for [10, 30):
 * only the windows starting at 10, 15 and 20 s are written; those crossing
 * a bound ([5, 15), [25, 35)) and all the others stay the speed layer's,
 * untouched, and are what queries serve. */
static void test_windows_outside_the_range_are_untouched(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = tick_schema();
    for (int i = 0; i < 40; i += 2)
        tick(&f, 0, "h", i, i * 1000);
    tick(&f, 0, "h", 100, 16000); /* late for both its windows, [10, 20) and [15, 25) */
    stream_pipeline_def_t d = agg_def(s, STREAM_WINDOW_HOPPING, 10000, 5000);
    speed(&f, &d);
    kf_rows_t speed_before;
    kf_query(&f, "SELECT * FROM agg ORDER BY key, window_start", NULL, &speed_before);

    stream_recompute_stats_t st = recompute(&f, &d, 10000, 30000);
    assert_int_equal(st.rows, 3);
    assert_int_equal(st.outside, 10); /* 0 to 8 s and 30 to 38 s: no window in [10, 30) */
    kf_rows_t speed_after;
    kf_query(&f, "SELECT * FROM agg WHERE layer = 'speed' ORDER BY key, window_start", NULL,
             &speed_after);
    kf_assert_rows(&speed_after, (const char *const *)speed_before.rows, speed_before.n);
    kf_rows_free(&speed_after);
    kf_rows_free(&speed_before);
    const char *batch[] = {
        "h|10000|-1|20000|1|6|6|170|10|10000|5|18|18000|9",
        "h|15000|-1|25000|1|6|6|200|16|16000|8|24|24000|12",
        "h|20000|-1|30000|1|5|5|120|20|20000|10|28|28000|14",
    };
    kf_rows_t got;
    kf_query(&f, STORED("batch"), NULL, &got);
    kf_assert_rows(&got, batch, 3);
    kf_rows_free(&got);
    const char *view[] = {
        "h|-5000|5000|speed|final|3|6|0|4",      "h|0|10000|speed|final|5|20|0|8",
        "h|5000|15000|speed|final|5|50|6|14",    "h|10000|20000|batch|final|6|170|10|18",
        "h|15000|25000|batch|final|6|200|16|24", "h|20000|30000|batch|final|5|120|20|28",
        "h|25000|35000|speed|final|5|150|26|34", "h|30000|40000|speed|open|5|170|30|38",
        "h|35000|45000|speed|open|2|74|36|38",
    };
    assert_view(&f, view, 9);
    schema_destroy(s);
    kf_close(&f);
}

/* One key over three partitions, with equal event times across them:
 * the recompute writes one row (partition -1) holding the merge of all
 * three, equal to the speed layer's merged partials when nothing is late
 * (first and last break ties by partition and offset the same way). An
 * emit=final view shows it although the speed partials are still open. */
static void test_partitions_are_merged(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 3);
    schema_t *s = tick_schema();
    for (int i = 0; i < 12; i++)
        tick(&f, i % 3, "x", 10 * i + 1, 1000 * (i / 3));
    stream_pipeline_def_t d = agg_def(s, STREAM_WINDOW_TUMBLING, 10000, 0);
    d.emit = STREAM_EMIT_FINAL;
    speed(&f, &d);
    kf_rows_t open_rows;
    view_rows(&f, false, &open_rows);
    assert_int_equal(open_rows.n, 0);
    kf_rows_free(&open_rows);
    const char *merged_speed[] = {"x|0|10000|speed|open|12|672|1|111"};
    assert_view(&f, merged_speed, 1);

    stream_recompute_stats_t st = recompute(&f, &d, 0, 10000);
    assert_int_equal(st.rows, 1);
    assert_int_equal(count(&f, "SELECT count(*) FROM agg WHERE layer = 'batch'"), 1);
    assert_int_equal(count(&f, "SELECT count(*) FROM agg WHERE layer = 'speed'"), 3);
    kf_rows_t final_rows;
    view_rows(&f, false, &final_rows);
    const char *merged_batch[] = {"x|0|10000|batch|final|12|672|1|111"};
    kf_assert_rows(&final_rows, merged_batch, 1);
    kf_rows_free(&final_rows);
    schema_destroy(s);
    kf_close(&f);
}

/* Reading threads: 4 partitions, 40 keys spread over all of them, values
 * whose sums are exact in floating point. Tumbling and hopping windows are
 * recomputed with 1, 2, 3 (partitions 0 and 3 on one thread) and 4
 * threads: the stored batch rows are the same each time, as are the
 * figures. A stop request reaches every reading thread. */
static void test_threads_agree(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 4);
    schema_t *s = tick_schema();
    char key[16];
    for (int i = 0; i < 4000; i++) {
        int k = (i * 7) % 40;
        snprintf(key, sizeof key, "k%02d", k);
        tick(&f, (i / 3 + k) % 4, key, i % 97, (i * 37) % 60000);
    }
    tick(&f, 2, "k01", 999, 5000); /* filtered */
    kf_produce(&f, 3, "bad", "not json", 6000);
    for (int w = 0; w < 2; w++) {
        stream_pipeline_def_t d = agg_def(
            s, w == 0 ? STREAM_WINDOW_TUMBLING : STREAM_WINDOW_HOPPING, 10000, w == 0 ? 0 : 5000);
        kf_rows_t one = {0};
        stream_recompute_stats_t st1 = {0};
        for (int threads = 1; threads <= 4; threads++) {
            stream_recompute_stats_t st;
            rc_args_t a = {.from_ms = 0,
                           .to_ms = 60000,
                           .read_from_ms = INT64_MIN,
                           .chunk = 50,
                           .threads = threads};
            if (recompute_with(&f, &d, &a, &st) != 0)
                fail_msg("recompute with %d threads: %s", threads, core_error_detail());
            kf_rows_t got;
            kf_query(&f, STORED("batch"), NULL, &got);
            if (threads == 1) {
                one = got;
                st1 = st;
                assert_int_equal(st.records, 4002);
                assert_int_equal(st.valid, 4000);
                assert_int_equal(st.invalid, 1);
                assert_int_equal(st.filtered, 1);
                assert_int_equal(st.rows, w == 0 ? 6 * 40 : 11 * 40);
                continue;
            }
            kf_assert_rows(&got, (const char *const *)one.rows, one.n);
            kf_rows_free(&got);
            assert_int_equal(st.records, st1.records);
            assert_int_equal(st.valid, st1.valid);
            assert_int_equal(st.invalid, st1.invalid);
            assert_int_equal(st.filtered, st1.filtered);
            assert_int_equal(st.outside, st1.outside);
            assert_int_equal(st.windows, st1.windows);
            assert_int_equal(st.rows, st1.rows);
            assert_int_equal(st.deleted, 0);
        }
        kf_rows_free(&one);
    }
    stream_pipeline_def_t d = agg_def(s, STREAM_WINDOW_TUMBLING, 10000, 0);
    d.view = "agg_stopped";
    int stop = 1;
    rc_args_t a = {
        .from_ms = 0, .to_ms = 60000, .read_from_ms = INT64_MIN, .threads = 4, .stop = &stop};
    stream_recompute_stats_t st;
    assert_int_equal(recompute_with(&f, &d, &a, &st), CORE_ECLOSED);
    assert_non_null(strstr(core_error_detail(), "stopped"));
    assert_int_equal(st.rows, 0);
    assert_int_equal(count(&f, "SELECT count(*) FROM agg_stopped"), 0);
    schema_destroy(s);
    kf_close(&f);
}

/* Sessions (gap 10 s): the speed layer has [105, 118) and [140, 150) and
 * sent the event at 101 s to the dlq (its session had closed). The
 * recompute of [100, 130) writes the whole session [101, 118), which
 * hides the speed one inside it. An event at 95 s then moves the session's
 * start out of the range: a rerun writes no session and deletes the stale
 * row; a recompute of [90, 130) writes [95, 118). */
static void test_sessions(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = tick_schema();
    tick(&f, 0, "s", 1, 105000);
    tick(&f, 0, "s", 2, 108000);
    tick(&f, 0, "s", 3, 140000);
    tick(&f, 0, "s", 4, 101000);
    stream_pipeline_def_t d = agg_def(s, STREAM_WINDOW_SESSION, 10000, 0);
    speed(&f, &d);
    const char *speed_only[] = {
        "s|105000|118000|speed|final|2|3|1|2",
        "s|140000|150000|speed|open|1|3|3|3",
    };
    assert_view(&f, speed_only, 2);

    stream_recompute_stats_t st = recompute(&f, &d, 100000, 130000);
    assert_int_equal(st.rows, 1);
    assert_int_equal(st.outside, 1);
    const char *covered[] = {
        "s|101000|118000|batch|final|3|7|4|2",
        "s|140000|150000|speed|open|1|3|3|3",
    };
    assert_view(&f, covered, 2);
    /* From 103 s: the batch session began before, yet still hides the
     * speed session [105, 118) that it covers. */
    kf_rows_t later;
    view_rows_from(&f, true, 103000 * 1000, &later);
    kf_assert_rows(&later, covered + 1, 1);
    kf_rows_free(&later);

    tick(&f, 0, "s", 5, 95000);
    st = recompute(&f, &d, 100000, 130000);
    assert_int_equal(st.rows, 0);
    assert_int_equal(st.windows, 1);
    assert_int_equal(st.deleted, 1);
    assert_view(&f, speed_only, 2);

    st = recompute(&f, &d, 90000, 130000);
    assert_int_equal(st.rows, 1);
    const char *wider[] = {
        "s|95000|118000|batch|final|4|12|5|2",
        "s|140000|150000|speed|open|1|3|3|3",
    };
    assert_view(&f, wider, 2);
    schema_destroy(s);
    kf_close(&f);
}

/* The read starts at the first record whose timestamp is >= read_from_ms,
 * per partition, and ends at the end seen at the start; range_fn reports
 * both. */
static void test_read_range_and_lineage(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 2);
    schema_t *s = tick_schema();
    for (int i = 1; i <= 5; i++) {
        tick(&f, 0, "r", i, i * 1000);
        tick(&f, 1, "r", 10 * i, i * 1000 + 500);
    }
    stream_pipeline_def_t d = agg_def(s, STREAM_WINDOW_TUMBLING, 10000, 0);
    ranges_t rg = {0};
    rc_args_t a = {.from_ms = 0, .to_ms = 10000, .read_from_ms = 3000, .ranges = &rg};
    stream_recompute_stats_t st;
    assert_int_equal(recompute_with(&f, &d, &a, &st), 0);
    assert_int_equal(rg.n, 2);
    assert_int_equal(rg.partition[0], 0);
    assert_int_equal(rg.from[0], 2);
    assert_int_equal(rg.to[0], 5);
    assert_int_equal(rg.partition[1], 1);
    assert_int_equal(rg.from[1], 2);
    assert_int_equal(rg.to[1], 5);
    assert_int_equal(st.records, 6);
    const char *rows[] = {"r|0|10000|batch|final|6|132|3|50"};
    assert_view(&f, rows, 1);
    schema_destroy(s);
    kf_close(&f);
}

/* A table pipeline cannot be recomputed, an empty range is refused, and a
 * stop request ends the run before anything is written. */
static void test_refusals_and_stop(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = tick_schema();
    tick(&f, 0, "a", 1, 1000);
    stream_pipeline_def_t t = {
        .name = "tbl",
        .kind = STREAM_KIND_TABLE,
        .topic = KF_TOPIC,
        .schema = s,
        .table = "tbl",
    };
    stream_recompute_stats_t st;
    rc_args_t a = {.from_ms = 0, .to_ms = 10000, .read_from_ms = INT64_MIN};
    assert_int_equal(recompute_with(&f, &t, &a, &st), CORE_EINVAL);
    stream_pipeline_def_t d = agg_def(s, STREAM_WINDOW_TUMBLING, 10000, 0);
    rc_args_t empty = {.from_ms = 10000, .to_ms = 10000, .read_from_ms = INT64_MIN};
    assert_int_equal(recompute_with(&f, &d, &empty, &st), CORE_EINVAL);
    int stop = 1;
    rc_args_t stopped = {.from_ms = 0, .to_ms = 10000, .read_from_ms = INT64_MIN, .stop = &stop};
    assert_int_equal(recompute_with(&f, &d, &stopped, &st), CORE_ECLOSED);
    assert_int_equal(st.rows, 0);
    assert_int_equal(count(&f, "SELECT count(*) FROM agg"), 0);
    schema_destroy(s);
    kf_close(&f);
}

/* ---- Records below the log's start (source_fn). */

#define OLD_TOPIC "old"
#define OLD_N     40

/* Partition p of topic "old": OLD_N records, key "a" (p 0) or "b" (p 1),
 * v = i (+100 on p 1), ts = i s, i = 1..OLD_N; 1 KiB segments; then
 * retention by record time deletes every sealed segment (the records are
 * from 1970). Returns the log's start per partition. */
static void old_topic(kf_t *f, int64_t start[2])
{
    seglog_topic_config_t c;
    seglog_topic_config_default(&c);
    c.partitions = 2;
    c.flush = SEGLOG_FLUSH_NEVER;
    c.segment_bytes = 1024;
    c.retention_ms = 24 * 3600 * 1000;
    assert_int_equal(seglog_topic_create(f->log, OLD_TOPIC, &c), 0);
    for (int32_t p = 0; p < 2; p++) {
        for (int i = 1; i <= OLD_N; i++) {
            char json[128];
            snprintf(json, sizeof json, "{\"k\":\"%s\",\"v\":%d,\"ts\":%d}", p ? "b" : "a",
                     i + 100 * p, i * 1000);
            bus_message_t m = {.key = p ? "b" : "a",
                               .key_len = 1,
                               .value = json,
                               .value_len = strlen(json),
                               .timestamp_ms = i * 1000};
            assert_int_equal(bus_produce(f->bus, OLD_TOPIC, p, &m, 1, false, NULL), 0);
        }
        seglog_part_t *part = seglog_partition(seglog_topic_get(f->log, OLD_TOPIC), p);
        assert_true(seglog_retention_run(part, core_wall_ms()) > 0);
        int64_t end;
        assert_int_equal(bus_offsets(f->bus, OLD_TOPIC, p, &start[p], &end), 0);
        assert_true(start[p] > 0 && start[p] < OLD_N);
        assert_int_equal(end, OLD_N);
    }
}

/* A source holding every record, as the lake would; `mode` makes it
 * misbehave. */
typedef struct {
    int calls;
    int32_t partition[4];
    int64_t log_start[4], read_from[4];
    int mode; /* 0 good, 1 an offset at the log start, 2 a repeated offset,
               * 3 a value of the wrong type, 4 an error of its own,
               * 5 a null required field and a filtered record */
} src_t;

static int old_source(void *arg, int32_t partition, int64_t log_start, int64_t read_from_ms,
                      stream_recompute_feed_fn feed, void *ctx)
{
    src_t *s = arg;
    assert_true(s->calls < 4);
    s->partition[s->calls] = partition;
    s->log_start[s->calls] = log_start;
    s->read_from[s->calls] = read_from_ms;
    s->calls++;
    if (s->mode == 4)
        return core_error(CORE_EIO, "the source failed");
    int64_t last = s->mode == 1 ? log_start : log_start - 1;
    for (int64_t off = 0; off <= last; off++) {
        int i = (int)off + 1;
        if (i * 1000 < read_from_ms)
            continue;
        schema_value_t v[3] = {
            {.type = SCHEMA_STRING, .v.s = {partition ? "b" : "a", 1}},
            {.type = SCHEMA_INT, .v.i = i + 100 * partition},
            {.type = SCHEMA_TIMESTAMP, .v.i = (int64_t)i * 1000 * 1000},
        };
        if (s->mode == 3 && off == 2)
            v[1] = (schema_value_t){.type = SCHEMA_FLOAT, .v.f = 1.5};
        if (s->mode == 5 && off == 0)
            v[0] = (schema_value_t){.type = SCHEMA_NULL};
        if (s->mode == 5 && off == 1)
            v[1].v.i = 999; /* the filter drops it */
        stream_recompute_record_t rec = {.values = v,
                                         .key = partition ? "b" : "a",
                                         .key_len = 1,
                                         .offset = off,
                                         .timestamp_ms = i * 1000};
        int rc = feed(ctx, &rec);
        if (rc == 0 && s->mode == 2 && off == 3)
            rc = feed(ctx, &rec);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int recompute_old(kf_t *f, src_t *src, int64_t read_from_ms, stream_recompute_stats_t *st)
{
    schema_t *s = tick_schema();
    stream_pipeline_def_t d = agg_def(s, STREAM_WINDOW_TUMBLING, 10000, 0);
    d.topic = OLD_TOPIC;
    stream_pipeline_t *p = NULL;
    store_t *store = NULL;
    assert_int_equal(stream_pipeline_compile(&d, kf_error, NULL, &p), 0);
    assert_int_equal(store_open(f->url, &store), 0);
    assert_int_equal(store_migrate(store), 0);
    stream_recompute_opts_t o = {
        .from_us = 0,
        .to_us = 50000 * 1000LL,
        .read_from_ms = read_from_ms,
        .source_fn = old_source,
        .arg = src,
    };
    int rc = stream_recompute(p, f->bus, store, &o, st);
    store_close(store);
    stream_pipeline_destroy(p);
    schema_destroy(s);
    return rc;
}

/* Retention left each partition's log from some offset S on; the source
 * supplies offsets 0..S-1. The rows are those of every record, each
 * partition's source is called once with its S, and nothing is read
 * twice. */
static void test_source_below_log_start(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    int64_t start[2];
    old_topic(&f, start);
    src_t src = {0};
    stream_recompute_stats_t st;
    assert_int_equal(recompute_old(&f, &src, INT64_MIN, &st), 0);
    assert_int_equal(src.calls, 2);
    for (int k = 0; k < 2; k++) {
        assert_int_equal(src.partition[k], k);
        assert_int_equal(src.log_start[k], start[k]);
        assert_int_equal(src.read_from[k], INT64_MIN);
    }
    assert_int_equal(st.records, 2 * OLD_N);
    assert_int_equal(st.sourced, start[0] + start[1]);
    assert_int_equal(st.valid, 2 * OLD_N);
    const char *rows[] = {
        "a|0|10000|batch|final|9|45|1|9",
        "a|10000|20000|batch|final|10|145|10|19",
        "a|20000|30000|batch|final|10|245|20|29",
        "a|30000|40000|batch|final|10|345|30|39",
        "a|40000|50000|batch|final|1|40|40|40",
        "b|0|10000|batch|final|9|945|101|109",
        "b|10000|20000|batch|final|10|1145|110|119",
        "b|20000|30000|batch|final|10|1245|120|129",
        "b|30000|40000|batch|final|10|1345|130|139",
        "b|40000|50000|batch|final|1|140|140|140",
    };
    assert_view(&f, rows, 10);
    kf_close(&f);
}

/* The source is asked only where the log starts at its first stored
 * offset for read_from: a read_from past the log's first record (which the
 * log can seek to) needs no source; and the source gets read_from to skip
 * older records. */
static void test_source_only_when_needed(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    int64_t start[2];
    old_topic(&f, start);
    src_t src = {0};
    stream_recompute_stats_t st;
    int64_t late = (start[0] + 3) * 1000; /* record start[0] + 2 of partition 0 */
    assert_int_equal(recompute_old(&f, &src, late, &st), 0);
    assert_int_equal(src.calls, 0);
    assert_int_equal(st.sourced, 0);
    assert_int_equal(st.records, 2 * OLD_N - 2 * (start[0] + 2));
    /* read_from below the log's start: asked, and it skips records. */
    memset(&src, 0, sizeof src);
    assert_int_equal(recompute_old(&f, &src, 3000, &st), 0);
    assert_int_equal(src.calls, 2);
    assert_int_equal(src.read_from[0], 3000);
    assert_int_equal(st.sourced, start[0] + start[1] - 4);
    kf_close(&f);
}

/* What feed refuses, and a source's own error: each stops the run. */
static void test_source_misuse(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    int64_t start[2];
    old_topic(&f, start);
    stream_recompute_stats_t st;
    for (int mode = 1; mode <= 4; mode++) {
        src_t src = {.mode = mode};
        int rc = recompute_old(&f, &src, INT64_MIN, &st);
        assert_int_equal(rc, mode == 4 ? CORE_EIO : CORE_EINVAL);
        assert_int_equal(st.rows, 0);
        if (mode == 3)
            assert_non_null(strstr(core_error_detail(), "field v"));
        if (mode == 1 || mode == 2)
            assert_non_null(strstr(core_error_detail(), "below the log's start"));
    }
    /* A null required field is invalid, a filtered record filtered: as
     * for records read from the log. */
    src_t src = {.mode = 5};
    assert_int_equal(recompute_old(&f, &src, INT64_MIN, &st), 0);
    assert_int_equal(st.invalid, 2);
    assert_int_equal(st.filtered, 2);
    assert_int_equal(st.valid, 2 * OLD_N - 4);
    kf_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_late_events_are_recomputed),
        cmocka_unit_test(test_rerun_is_idempotent),
        cmocka_unit_test(test_windows_outside_the_range_are_untouched),
        cmocka_unit_test(test_partitions_are_merged),
        cmocka_unit_test(test_threads_agree),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_read_range_and_lineage),
        cmocka_unit_test(test_refusals_and_stop),
        cmocka_unit_test(test_source_below_log_start),
        cmocka_unit_test(test_source_only_when_needed),
        cmocka_unit_test(test_source_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
