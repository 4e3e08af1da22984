/*
 * Kappa replay (stream_replay, src/stream/replay.c) over a seglog topic and
 * a SQLite store: the new version equals the original view row by row; the
 * old table is gone, the registry switched, offsets and dlq rows handed
 * over exactly once; batch rows carried over; a stopped replay leaves
 * nothing behind; a live runtime keeps running across the switch and later
 * events land in the new version exactly once, while concurrent readers
 * only ever see one whole version; a real zombie still stops.
 */
#include "kind_fixture.h"

#include <pthread.h>
#include <time.h>

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
};

static stream_pipeline_def_t count_def(const schema_t *s)
{
    stream_pipeline_def_t d = {
        .name = "counts",
        .kind = STREAM_KIND_AGGREGATE,
        .topic = KF_TOPIC,
        .schema = s,
        .key = "k",
        .event_time = "ts",
        .window = STREAM_WINDOW_TUMBLING,
        .size_ms = 10000,
        .emit = STREAM_EMIT_UPDATE,
        .view = "counts",
        .aggs = aggs,
        .naggs = 2,
        .commit_interval_ms = 5,
        .commit_records = 7,
    };
    return d;
}

static stream_pipeline_t *compile(const stream_pipeline_def_t *d)
{
    stream_pipeline_t *p = NULL;
    assert_int_equal(stream_pipeline_compile(d, kf_error, NULL, &p), 0);
    return p;
}

static void tick_json(char *out, size_t cap, const char *k, int64_t v, int64_t ts_ms)
{
    snprintf(out, cap, "{\"k\":\"%s\",\"v\":%lld,\"ts\":%lld}", k, (long long)v, (long long)ts_ms);
}

static void produce_tick(kf_t *f, int32_t p, const char *k, int64_t v, int64_t ts_ms)
{
    char json[128];
    tick_json(json, sizeof json, k, v, ts_ms);
    kf_produce(f, p, k, json, ts_ms);
}

static const char *const KEYS[] = {"a", "b", "c"};

/* Event i of the steady stream: partition i % 2, key i % 3, value i, event
 * time i * 250 ms (in order within each partition: nothing is late). */
static void produce_event(kf_t *f, int i)
{
    produce_tick(f, i % 2, KEYS[i % 3], i, (int64_t)i * 250);
}

static void nap_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* One text row per query row, "|"-joined; rows in query order. */
static void rows_of(kf_t *f, const char *sql, kf_rows_t *out)
{
    kf_query(f, sql, NULL, out);
}

static void assert_same_rows(const kf_rows_t *a, const kf_rows_t *b)
{
    for (size_t i = 0; i < a->n && i < b->n; i++)
        if (strcmp(a->rows[i], b->rows[i]) != 0)
            fail_msg("row %zu: before \"%s\", after \"%s\"", i, a->rows[i], b->rows[i]);
    assert_int_equal(a->n, b->n);
}

static int64_t query_int(kf_t *f, const char *sql, const char *param)
{
    kf_rows_t r;
    kf_query(f, sql, param, &r);
    assert_int_equal(r.n, 1);
    int64_t v = 0;
    assert_int_equal(core_parse_i64(r.rows[0], INT64_MIN, INT64_MAX, &v), 0);
    kf_rows_free(&r);
    return v;
}

/* Every column of the view but updated_at (a wall-clock stamp), in key
 * order. */
#define VIEW_ROWS_SQL                                                                              \
    "SELECT key, window_start, layer, partition, window_end, \"final\", n, total_n, total "        \
    "FROM counts ORDER BY key, window_start, layer, partition"
#define DLQ_ROWS_SQL                                                                               \
    "SELECT pipeline, topic, partition, \"offset\", kind, reason, hex(key), hex(value), "          \
    "event_time FROM dlq ORDER BY pipeline, topic, partition, \"offset\""
#define OFFSETS_SQL                                                                                \
    "SELECT pipeline, partition, next_offset, watermark FROM strata_offsets "                      \
    "ORDER BY pipeline, partition"

static int64_t table_count(kf_t *f, const char *name)
{
    return query_int(f, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                     name);
}

/* ---- The replay equals the original view. */

static void produce_mixed(kf_t *f)
{
    for (int i = 0; i < 60; i++)
        produce_event(f, i);
    kf_produce(f, 0, "a", "{not json", 16000);             /* invalid */
    kf_produce(f, 1, "b", "{\"k\":\"b\",\"v\":1}", 16000); /* no ts */
    produce_tick(f, 0, "a", 1000, 100);                    /* late: [0, 10 s) closed */
    for (int i = 60; i < 80; i++)
        produce_event(f, i);
}

static void test_replay_equals_the_original(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 2);
    schema_t *s = tick_schema();
    stream_pipeline_def_t d = count_def(s);
    produce_mixed(&f);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    assert_int_equal(st.late, 1);
    assert_int_equal(st.invalid, 2);
    /* A batch layer row, as a recompute would have written it. */
    kf_rows_t ignore;
    kf_query(&f, "INSERT INTO counts VALUES ('z', 0, 'batch', -1, 10000000, 1, 0, 5, 5, 50.0)",
             NULL, &ignore);
    kf_rows_free(&ignore);
    kf_rows_t view0, dlq0, off0;
    rows_of(&f, VIEW_ROWS_SQL, &view0);
    rows_of(&f, DLQ_ROWS_SQL, &dlq0);
    rows_of(&f, OFFSETS_SQL, &off0);
    int64_t epochs0 = query_int(&f, "SELECT SUM(epoch) FROM strata_offsets", NULL);
    assert_true(view0.n > 10);

    stream_pipeline_t *p = compile(&d);
    stream_replay_stats_t rs;
    assert_int_equal(stream_replay(p, f.bus, f.url, NULL, &rs), 0);
    assert_string_equal(stream_pipeline_name(p), "counts"); /* restored */
    assert_int_equal(rs.version, 2);
    assert_int_equal(rs.records, 83);
    assert_int_equal(rs.late, 1);
    assert_int_equal(rs.invalid, 2);
    assert_int_equal(rs.batch_rows, 1);

    kf_rows_t view1, dlq1, off1;
    rows_of(&f, VIEW_ROWS_SQL, &view1);
    rows_of(&f, DLQ_ROWS_SQL, &dlq1);
    rows_of(&f, OFFSETS_SQL, &off1);
    assert_same_rows(&view0, &view1); /* every row, the batch row included */
    assert_same_rows(&dlq0, &dlq1);   /* no duplicates, none under the replay's name */
    assert_same_rows(&off0, &off1);   /* the same offsets and watermarks, only under "counts" */
    /* One epoch bump per partition: a running task of "counts" is fenced. */
    assert_int_equal(query_int(&f, "SELECT SUM(epoch) FROM strata_offsets", NULL), epochs0 + 2);
    assert_int_equal(query_int(&f, "SELECT version FROM strata_views WHERE name = ?1", "counts"),
                     2);
    assert_int_equal(table_count(&f, "counts__v2"), 0);
    assert_int_equal(table_count(&f, "counts"), 1);

    /* A second replay: version 3, still the same rows. */
    assert_int_equal(stream_replay(p, f.bus, f.url, NULL, &rs), 0);
    assert_int_equal(rs.version, 3);
    kf_rows_t view2;
    rows_of(&f, VIEW_ROWS_SQL, &view2);
    assert_same_rows(&view0, &view2);
    assert_int_equal(table_count(&f, "counts__v3"), 0);
    kf_rows_free(&view0);
    kf_rows_free(&view1);
    kf_rows_free(&view2);
    kf_rows_free(&dlq0);
    kf_rows_free(&dlq1);
    kf_rows_free(&off0);
    kf_rows_free(&off1);
    stream_pipeline_destroy(p);
    schema_destroy(s);
    kf_close(&f);
}

/* ---- Stopped, crashed and refused replays leave nothing behind. */

static void stop_at_first_report(void *arg, const stream_replay_progress_t *pr)
{
    (void)pr;
    __atomic_store_n((int *)arg, 1, __ATOMIC_RELAXED);
}

static void test_stopped_replay_drops_the_new_version(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 2);
    schema_t *s = tick_schema();
    stream_pipeline_def_t d = count_def(s);
    produce_mixed(&f);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    kf_rows_t view0;
    rows_of(&f, VIEW_ROWS_SQL, &view0);
    /* What a crashed attempt would have left: the table and derived rows. */
    kf_rows_t ignore;
    kf_query(&f, "CREATE TABLE counts__v2 (x INTEGER)", NULL, &ignore);
    kf_rows_free(&ignore);
    kf_query(&f,
             "INSERT INTO strata_offsets VALUES ('counts@v2', 'events', 0, 40, 3, 0, 0); "
             "INSERT INTO dlq (pipeline, topic, partition, \"offset\", kind, created_at) "
             "VALUES ('counts@v2', 'events', 0, 99, 'late', 0)",
             NULL, &ignore);
    kf_rows_free(&ignore);

    stream_pipeline_t *p = compile(&d);
    int stop = 0;
    stream_replay_opts_t o = {.stop = &stop, .progress = stop_at_first_report, .arg = &stop};
    stream_replay_stats_t rs;
    assert_int_equal(stream_replay(p, f.bus, f.url, &o, &rs), CORE_ECLOSED);
    assert_int_equal(rs.version, 1);
    assert_int_equal(table_count(&f, "counts__v2"), 0);
    assert_int_equal(
        query_int(&f, "SELECT COUNT(*) FROM strata_offsets WHERE pipeline = ?1", "counts@v2"), 0);
    assert_int_equal(query_int(&f, "SELECT COUNT(*) FROM dlq WHERE pipeline = ?1", "counts@v2"), 0);
    assert_int_equal(query_int(&f, "SELECT version FROM strata_views WHERE name = ?1", "counts"),
                     1);
    kf_rows_t view1;
    rows_of(&f, VIEW_ROWS_SQL, &view1);
    assert_same_rows(&view0, &view1);

    /* Refused: not an aggregate; a view name with no room for "__v2". */
    stream_pipeline_def_t t = {
        .name = "t", .kind = STREAM_KIND_TABLE, .topic = KF_TOPIC, .schema = s, .table = "t_rows"};
    stream_pipeline_t *tp = compile(&t);
    assert_int_equal(stream_replay(tp, f.bus, f.url, NULL, NULL), CORE_EINVAL);
    stream_pipeline_destroy(tp);
    stream_pipeline_def_t l = count_def(s);
    l.view = "a_view_name_that_is_exactly_sixty_three_bytes_long_xxxxxxxxxxxx";
    assert_int_equal(strlen(l.view), 63);
    stream_pipeline_t *lp = compile(&l);
    assert_int_equal(stream_replay(lp, f.bus, f.url, NULL, NULL), CORE_EINVAL);
    assert_non_null(strstr(core_error_detail(), "too long"));
    stream_pipeline_destroy(lp);

    kf_rows_free(&view0);
    kf_rows_free(&view1);
    stream_pipeline_destroy(p);
    schema_destroy(s);
    kf_close(&f);
}

/* ---- A live runtime across the switch, with concurrent readers. */

typedef struct {
    kf_t *f;
    int stop;
    /* reader */
    int64_t queries, errors, empty, decreases, last_total;
    int64_t want, wrong; /* want > 0: every answer must be exactly want */
    char error[256];
    /* producer */
    int next, until;
    int64_t produce_errors;
} live_t;

static int sum_n(void *arg, const stream_view_row_t *row)
{
    int64_t *total = arg;
    if (row->nvalues > 0 && row->values[0].type == SCHEMA_INT)
        *total += row->values[0].v.i;
    return 0;
}

/* Queries the merged view over and over on one connection: every answer
 * must be whole (the count over every window never goes down) and never
 * fail. */
static void *reader_main(void *arg)
{
    live_t *l = arg;
    store_t *s = NULL;
    if (store_open(l->f->url, &s) != 0) {
        l->errors++;
        return NULL;
    }
    stream_view_query_t q = {.from_us = INT64_MIN, .to_us = INT64_MAX};
    while (!__atomic_load_n(&l->stop, __ATOMIC_RELAXED)) {
        int64_t total = 0;
        int rc = stream_view_query(s, "counts", &q, sum_n, &total);
        l->queries++;
        if (rc != 0) {
            if (l->errors++ == 0)
                snprintf(l->error, sizeof l->error, "%s", core_error_detail());
            continue;
        }
        if (total == 0)
            l->empty++;
        if (total < l->last_total)
            l->decreases++;
        if (l->want > 0 && total != l->want)
            l->wrong++;
        l->last_total = total;
    }
    store_close(s);
    return NULL;
}

/* Produces events next .. until-1 (atomically published), a few at a time. */
static void *producer_main(void *arg)
{
    live_t *l = arg;
    while (l->next < l->until && !__atomic_load_n(&l->stop, __ATOMIC_RELAXED)) {
        int i = l->next;
        char json[128];
        tick_json(json, sizeof json, KEYS[i % 3], i, (int64_t)i * 250);
        bus_message_t m = {.key = KEYS[i % 3],
                           .key_len = 1,
                           .value = json,
                           .value_len = strlen(json),
                           .timestamp_ms = (int64_t)i * 250};
        if (bus_produce(l->f->bus, KF_TOPIC, i % 2, &m, 1, false, NULL) != 0)
            l->produce_errors++;
        __atomic_store_n(&l->next, i + 1, __ATOMIC_RELEASE);
        if (i % 16 == 0)
            nap_ms(1);
    }
    return NULL;
}

/* The merged view must hold events 0 .. n-1 exactly once: per key and
 * 10 s window, the count and the sum of the values. */
#define MAX_WINDOWS 128

typedef struct {
    int64_t n[3][MAX_WINDOWS], sum[3][MAX_WINDOWS];
    bool bad;
} expect_t;

static int check_row(void *arg, const stream_view_row_t *row)
{
    expect_t *e = arg;
    int k = row->key_len == 1 ? row->key[0] - 'a' : -1;
    int64_t w = row->window_start / 10000000;
    if (k < 0 || k > 2 || w < 0 || w >= MAX_WINDOWS || row->values[0].type != SCHEMA_INT ||
        row->values[0].v.i != e->n[k][w] || row->values[1].type != SCHEMA_FLOAT ||
        row->values[1].v.f != (double)e->sum[k][w])
        e->bad = true;
    if (k >= 0 && k <= 2 && w >= 0 && w < MAX_WINDOWS)
        e->n[k][w] = -1; /* seen */
    return 0;
}

static bool view_holds(kf_t *f, int n)
{
    expect_t e = {0};
    for (int i = 0; i < n; i++) {
        e.n[i % 3][i / 40]++; /* 40 events of 250 ms per 10 s window */
        e.sum[i % 3][i / 40] += i;
    }
    store_t *s = NULL;
    assert_int_equal(store_open(f->url, &s), 0);
    stream_view_query_t q = {.from_us = INT64_MIN, .to_us = INT64_MAX};
    int rc = stream_view_query(s, "counts", &q, check_row, &e);
    store_close(s);
    for (int k = 0; k < 3; k++)
        for (int w = 0; w < MAX_WINDOWS; w++)
            if (e.n[k][w] > 0)
                e.bad = true; /* a window missing */
    return rc == 0 && !e.bad;
}

static bool wait_view(kf_t *f, int n)
{
    for (int i = 0; i < 2000; i++) {
        if (view_holds(f, n))
            return true;
        nap_ms(10);
    }
    return false;
}

static stream_runtime_t *start(kf_t *f, const stream_pipeline_def_t *d)
{
    stream_runtime_t *rt;
    assert_int_equal(stream_runtime_create(f->bus, f->url, &rt), 0);
    assert_int_equal(stream_runtime_add(rt, compile(d)), 0);
    assert_int_equal(stream_runtime_start(rt), 0);
    return rt;
}

static void wait_running(stream_runtime_t *rt)
{
    stream_stats_t st = {0};
    for (int i = 0; i < 2000 && !st.running; i++) {
        stream_runtime_stats(rt, 0, &st);
        if (!st.running)
            nap_ms(10);
    }
    assert_true(st.running);
}

static void test_live_runtime_survives_the_switch(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 2);
    schema_t *s = tick_schema();
    stream_pipeline_def_t d = count_def(s);
    for (int i = 0; i < 1500; i++)
        produce_event(&f, i);
    stream_runtime_t *rt = start(&f, &d);
    wait_running(rt);
    assert_true(wait_view(&f, 1500));

    /* Events keep coming and readers keep reading during the replay. */
    live_t l = {.f = &f, .next = 1500, .until = 3000};
    pthread_t reader, producer;
    assert_int_equal(pthread_create(&reader, NULL, reader_main, &l), 0);
    assert_int_equal(pthread_create(&producer, NULL, producer_main, &l), 0);
    while (__atomic_load_n(&l.next, __ATOMIC_ACQUIRE) < 1600)
        nap_ms(1);
    stream_pipeline_t *p = compile(&d);
    stream_replay_stats_t rs;
    int rc = stream_replay(p, f.bus, f.url, NULL, &rs);
    assert_int_equal(pthread_join(producer, NULL), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(rs.version, 2);
    assert_true(rs.records >= 1600);

    /* Later events land in the new version, once. */
    for (int i = 3000; i < 3500; i++)
        produce_event(&f, i);
    bool whole = wait_view(&f, 3500);
    __atomic_store_n(&l.stop, 1, __ATOMIC_RELAXED);
    assert_int_equal(pthread_join(reader, NULL), 0);
    assert_true(whole);
    assert_int_equal(l.produce_errors, 0);
    if (l.errors > 0)
        fail_msg("%lld of %lld queries failed: %s", (long long)l.errors, (long long)l.queries,
                 l.error);
    assert_int_equal(l.empty, 0);
    assert_int_equal(l.decreases, 0);
    assert_true(l.queries > 0);

    stream_stats_t st;
    stream_runtime_stats(rt, 0, &st);
    assert_false(st.failed);
    assert_true(st.running);
    assert_true(st.commit_errors >= 1); /* it was fenced by the switch, and reopened */
    assert_int_equal(st.view_version, 2);
    assert_int_equal(query_int(&f, "SELECT version FROM strata_views WHERE name = ?1", "counts"),
                     2);
    assert_int_equal(table_count(&f, "counts__v2"), 0);

    /* A real zombie still stops: another runtime claims the partitions. */
    stream_runtime_t *b = start(&f, &d);
    wait_running(b);
    for (int i = 3500; i < 3600; i++)
        produce_event(&f, i);
    for (int i = 0; i < 2000; i++) {
        stream_runtime_stats(rt, 0, &st);
        if (st.failed)
            break;
        nap_ms(10);
    }
    assert_true(st.failed);
    assert_non_null(strstr(st.error, "fenced"));
    assert_true(wait_view(&f, 3600));
    stream_runtime_destroy(rt);
    stream_runtime_destroy(b);
    assert_true(view_holds(&f, 3600));
    stream_pipeline_destroy(p);
    schema_destroy(s);
    kf_close(&f);
}

/* ---- Readers see one version whole, replay after replay. */

static void test_switch_is_atomic_for_readers(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 2);
    schema_t *s = tick_schema();
    stream_pipeline_def_t d = count_def(s);
    for (int i = 0; i < 600; i++)
        produce_event(&f, i);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    live_t l = {.f = &f, .want = 600};
    pthread_t reader;
    assert_int_equal(pthread_create(&reader, NULL, reader_main, &l), 0);
    stream_pipeline_t *p = compile(&d);
    for (int64_t v = 2; v <= 6; v++) {
        stream_replay_stats_t rs;
        assert_int_equal(stream_replay(p, f.bus, f.url, NULL, &rs), 0);
        assert_int_equal(rs.version, v);
    }
    int64_t before = l.queries;
    for (int i = 0; i < 500 && l.queries == before; i++)
        nap_ms(2);
    __atomic_store_n(&l.stop, 1, __ATOMIC_RELAXED);
    assert_int_equal(pthread_join(reader, NULL), 0);
    if (l.errors > 0)
        fail_msg("%lld of %lld queries failed: %s", (long long)l.errors, (long long)l.queries,
                 l.error);
    assert_int_equal(l.empty, 0);
    assert_int_equal(l.decreases, 0);
    assert_int_equal(l.wrong, 0); /* every answer: all 600 events, never fewer or more */
    assert_true(view_holds(&f, 600));
    assert_int_equal(query_int(&f, "SELECT version FROM strata_views WHERE name = ?1", "counts"),
                     6);
    stream_pipeline_destroy(p);
    schema_destroy(s);
    kf_close(&f);
}

/* ---- A pipeline that never ran: its view is registered (version 1,
 * empty), then replaced by version 2, and the pipeline starts where the
 * replay ended. */

static void test_replay_before_the_first_run(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 2);
    schema_t *s = tick_schema();
    stream_pipeline_def_t d = count_def(s);
    for (int i = 0; i < 200; i++)
        produce_event(&f, i);
    stream_pipeline_t *p = compile(&d);
    stream_replay_stats_t rs;
    assert_int_equal(stream_replay(p, f.bus, f.url, NULL, &rs), 0);
    assert_int_equal(rs.version, 2);
    assert_true(view_holds(&f, 200));
    assert_int_equal(
        query_int(&f, "SELECT SUM(next_offset) FROM strata_offsets WHERE pipeline = ?1", "counts"),
        200);
    /* The pipeline's first run reads nothing again, then the next events. */
    for (int i = 200; i < 260; i++)
        produce_event(&f, i);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    assert_int_equal(st.records, 60);
    assert_true(view_holds(&f, 260));
    stream_pipeline_destroy(p);
    schema_destroy(s);
    kf_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_equals_the_original),
        cmocka_unit_test(test_stopped_replay_drops_the_new_version),
        cmocka_unit_test(test_live_runtime_survives_the_switch),
        cmocka_unit_test(test_switch_is_atomic_for_readers),
        cmocka_unit_test(test_replay_before_the_first_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
