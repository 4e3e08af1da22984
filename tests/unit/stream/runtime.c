/*
 * The pipeline runtime's own behaviour, with real threads, a seglog topic
 * and a SQLite store: idle partitions stop holding windows open; a zombie
 * runtime is fenced once another claims its partitions, and every event is
 * still counted once; a restart resumes from the committed offset and
 * watermark; the bus reader hands out records from any offset.
 */
#include "kind_fixture.h"

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

static stream_pipeline_def_t count_def(const schema_t *s, int64_t idle_ms)
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
        .idle_timeout_ms = idle_ms,
        .emit = STREAM_EMIT_UPDATE,
        .view = "counts",
        .aggs = aggs,
        .naggs = 2,
        .commit_interval_ms = 5,
        .commit_records = 7,
    };
    return d;
}

static void produce_tick(kf_t *f, int32_t p, const char *k, int64_t v, int64_t ts_ms)
{
    char json[128];
    snprintf(json, sizeof json, "{\"k\":\"%s\",\"v\":%lld,\"ts\":%lld}", k, (long long)v,
             (long long)ts_ms);
    kf_produce(f, p, k, json, ts_ms);
}

static void nap_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Rows of view `counts` as "key|window_start|final|n|total", or fewer
 * columns; polled until `want` rows match or ~20 s pass. */
static bool wait_rows(kf_t *f, const char *sql, const char *const *want, size_t n)
{
    for (int i = 0; i < 2000; i++) {
        kf_rows_t got;
        kf_query(f, sql, NULL, &got);
        bool same = got.n == n;
        for (size_t j = 0; same && j < n; j++)
            same = strcmp(got.rows[j], want[j]) == 0;
        kf_rows_free(&got);
        if (same)
            return true;
        nap_ms(10);
    }
    return false;
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

static stream_runtime_t *start(kf_t *f, const stream_pipeline_def_t *d)
{
    stream_runtime_t *rt;
    stream_pipeline_t *p;
    assert_int_equal(stream_pipeline_compile(d, kf_error, NULL, &p), 0);
    assert_int_equal(stream_runtime_create(f->bus, f->url, &rt), 0);
    assert_int_equal(stream_runtime_add(rt, p), 0);
    assert_int_equal(stream_runtime_start(rt), 0);
    return rt;
}

#define VIEW_SQL                                                                                   \
    "SELECT key, window_start / 1000, \"final\", n, total FROM counts ORDER BY key, window_start"

/* Partition 1 gets two events and then nothing; partition 0 moves on. With
 * an idle timeout, partition 1's window closes (final) although no event of
 * its own passed it; without one (run once, no time to be idle) it stays
 * open. */
static void test_idle_partition_closes_its_windows(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 2);
    schema_t *s = tick_schema();
    produce_tick(&f, 1, "b", 1, 1000);
    produce_tick(&f, 1, "b", 2, 2000);
    for (int i = 0; i < 30; i++)
        produce_tick(&f, 0, "a", 1, 1000 * i * 5);

    stream_pipeline_def_t d = count_def(s, 3600 * 1000);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    const char *open_b[] = {"b|0|0|2|3"};
    assert_true(wait_rows(&f,
                          "SELECT key, window_start / 1000, \"final\", n, total FROM counts "
                          "WHERE key = 'b'",
                          open_b, 1));

    d = count_def(s, 50);
    stream_runtime_t *rt = start(&f, &d);
    const char *closed_b[] = {"b|0|1|2|3"};
    bool closed = wait_rows(&f,
                            "SELECT key, window_start / 1000, \"final\", n, total FROM counts "
                            "WHERE key = 'b'",
                            closed_b, 1);
    stream_runtime_destroy(rt);
    assert_true(closed);
    schema_destroy(s);
    kf_close(&f);
}

/* A second runtime claims the partitions (new epochs): the first one's
 * next commit is refused, it stops with the fence in its error, and every
 * event is counted exactly once by the survivor. */
static void test_zombie_is_fenced(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = tick_schema();
    stream_pipeline_def_t d = count_def(s, 0);
    for (int i = 0; i < 20; i++)
        produce_tick(&f, 0, "a", 1, 100 * i);
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0); /* creates the tables */
    stream_runtime_t *a = start(&f, &d);
    const char *first[] = {"a|0|0|20|20"};
    assert_true(wait_rows(&f, VIEW_SQL, first, 1));

    /* Each runtime runs once it holds its claim: a must claim before b, and
     * b before the events come, or a would commit them unfenced. */
    wait_running(a);
    stream_runtime_t *b = start(&f, &d);
    wait_running(b);
    for (int i = 20; i < 50; i++)
        produce_tick(&f, 0, "a", 1, 100 * i);
    const char *all[] = {"a|0|0|50|50"};
    assert_true(wait_rows(&f, VIEW_SQL, all, 1));
    stream_stats_t sa;
    for (int i = 0; i < 2000; i++) {
        stream_runtime_stats(a, 0, &sa);
        if (sa.failed)
            break;
        nap_ms(10);
    }
    assert_true(sa.failed);
    assert_non_null(strstr(sa.error, "fenced"));
    stream_runtime_destroy(a);
    stream_runtime_destroy(b);
    /* Still exactly 50 after both stopped. */
    const char *after[] = {"a|0|0|50|50"};
    assert_true(wait_rows(&f, VIEW_SQL, after, 1));
    schema_destroy(s);
    kf_close(&f);
}

/* Stop and start again between events: the committed watermark comes
 * back, so an event for a window closed before the restart is late (dlq)
 * rather than reopening it. */
static void test_restart_keeps_the_watermark(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    schema_t *s = tick_schema();
    stream_pipeline_def_t d = count_def(s, 3600 * 1000);
    produce_tick(&f, 0, "a", 1, 1000);
    produce_tick(&f, 0, "a", 1, 25000); /* closes [0, 10 s) */
    stream_stats_t st;
    assert_int_equal(kf_run(&f, &d, &st), 0);
    produce_tick(&f, 0, "a", 1, 2000); /* late after the restart */
    assert_int_equal(kf_run(&f, &d, &st), 0);
    assert_int_equal(st.late, 1);
    kf_rows_t got;
    kf_query(&f, VIEW_SQL, NULL, &got);
    const char *want[] = {"a|0|1|1|1", "a|20000|0|1|1"};
    kf_assert_rows(&got, want, 2);
    kf_rows_free(&got);
    kf_query(&f, "SELECT \"offset\", kind FROM dlq", NULL, &got);
    const char *dlq[] = {"2|late"};
    kf_assert_rows(&got, dlq, 1);
    kf_rows_free(&got);
    schema_destroy(s);
    kf_close(&f);
}

/* The bus reader: from any offset, across compressed and plain batches,
 * with small poll sizes. */
static void test_bus_reader_offsets(void **state)
{
    (void)state;
    kf_t f;
    kf_open(&f, 1);
    for (int i = 0; i < 100; i++)
        produce_tick(&f, 0, "k", i, i);
    for (int64_t from = 0; from <= 100; from += 7) {
        bus_reader_t *r;
        assert_int_equal(bus_reader_open(f.bus, KF_TOPIC, 0, from, &r), 0);
        bus_record_t recs[3];
        int64_t next = from;
        size_t n;
        do {
            assert_int_equal(bus_reader_poll(r, recs, 3, &n, 0), 0);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(recs[i].offset, next++);
        } while (n > 0);
        assert_int_equal(next, 100);
        assert_int_equal(bus_reader_position(r), 100);
        bus_reader_close(r);
    }
    bus_reader_t *r;
    assert_int_equal(bus_reader_open(f.bus, "nope", 0, 0, &r), CORE_ENOENT);
    kf_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_partition_closes_its_windows),
        cmocka_unit_test(test_zombie_is_fenced),
        cmocka_unit_test(test_restart_keeps_the_watermark),
        cmocka_unit_test(test_bus_reader_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
