/*
 * gen_run into a real seglog topic: every record lands in the partition
 * bus_partition_for_key gives its key, so all of a key's records share one
 * partition; each partition holds exactly the generator's records for it,
 * in generation order, with the event time as record timestamp; the
 * counters add up; a missing topic is CORE_ENOENT; a stop request ends an
 * unbounded run; a small max.message.bytes splits batches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <cmocka.h>

#include "bus/bus.h"
#include "gen/gen.h"
#include "seglog/seglog.h"

typedef struct {
    char dir[64];
    seglog_t *log;
    bus_t *bus;
} fixture_t;

static void fixture_open(fixture_t *f, const char *topic, int32_t parts, int32_t max_bytes)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/strata-gen-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(seglog_open(f->dir, &f->log), 0);
    seglog_topic_config_t cfg;
    seglog_topic_config_default(&cfg);
    cfg.partitions = parts;
    cfg.flush = SEGLOG_FLUSH_NEVER;
    if (max_bytes > 0)
        cfg.max_message_bytes = max_bytes;
    assert_int_equal(seglog_topic_create(f->log, topic, &cfg), 0);
    assert_int_equal(bus_open_seglog(f->log, &f->bus), 0);
}

static void fixture_close(fixture_t *f)
{
    bus_close(f->bus);
    seglog_close(f->log);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

static gen_options_t opts(const char *kind)
{
    gen_options_t o = {.kind = kind,
                       .seed = 99,
                       .start_ms = 1795000000000LL,
                       .rate = 1000,
                       .invalid_ratio = 0.05,
                       .late_ratio = 0.05,
                       .anomaly_ratio = 0.05};
    return o;
}

/* Reads partition p of topic from the start and compares it with the
 * records of a fresh generator that fall into p. Returns the count. */
static int64_t check_partition(fixture_t *f, const char *topic, const char *kind, int32_t p,
                               int32_t parts, int64_t total)
{
    gen_options_t o = opts(kind);
    gen_t *g = NULL;
    assert_int_equal(gen_create(&o, &g), 0);
    bus_reader_t *r = NULL;
    assert_int_equal(bus_reader_open(f->bus, topic, p, 0, &r), 0);
    int64_t seen = 0, generated = 0;
    for (;;) {
        bus_record_t recs[64];
        size_t n = 0;
        assert_int_equal(bus_reader_poll(r, recs, 64, &n, 0), 0);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++, seen++) {
            gen_record_t want;
            do { /* the next generated record that belongs to p */
                assert_true(generated < total);
                gen_next(g, &want);
                generated++;
            } while (bus_partition_for_key(want.key, want.key_len, parts) != p);
            assert_int_equal(recs[i].key_len, want.key_len);
            assert_memory_equal(recs[i].key, want.key, want.key_len);
            assert_int_equal(recs[i].value_len, want.value_len);
            assert_memory_equal(recs[i].value, want.value, want.value_len);
            assert_int_equal(recs[i].timestamp_ms, want.timestamp_ms);
            assert_int_equal(recs[i].partition, p);
        }
    }
    /* No record of p is missing at the end either. */
    gen_record_t rest;
    while (generated < total) {
        gen_next(g, &rest);
        generated++;
        assert_int_not_equal(bus_partition_for_key(rest.key, rest.key_len, parts), p);
    }
    bus_reader_close(r);
    gen_destroy(g);
    return seen;
}

static void run_kind(const char *kind, int32_t parts, int32_t max_bytes)
{
    fixture_t f;
    fixture_open(&f, "t", parts, max_bytes);
    gen_options_t o = opts(kind);
    gen_t *g = NULL;
    assert_int_equal(gen_create(&o, &g), 0);
    gen_stats_t st;
    memset(&st, 0, sizeof st);
    const int64_t total = 20000;
    assert_int_equal(gen_run(g, f.bus, "t", 0, total, NULL, &st), 0);
    gen_destroy(g);
    assert_int_equal(st.produced, total);
    assert_int_equal(st.by_class[0] + st.by_class[1] + st.by_class[2] + st.by_class[3], total);
    assert_true(st.by_class[GEN_CLASS_INVALID] > 0 && st.by_class[GEN_CLASS_LATE] > 0);
    assert_true(st.batches >= parts);
    int64_t sum = 0;
    for (int32_t p = 0; p < parts; p++)
        sum += check_partition(&f, "t", kind, p, parts, total);
    assert_int_equal(sum, total);
    fixture_close(&f);
}

static void test_keys_stay_in_their_partition(void **state)
{
    (void)state;
    for (const char *const *k = gen_kinds(); *k != NULL; k++)
        run_kind(*k, 5, 0);
}

static void test_small_batches_split(void **state)
{
    (void)state;
    run_kind("transactions", 2, 4096);
}

static void test_missing_topic(void **state)
{
    (void)state;
    fixture_t f;
    fixture_open(&f, "t", 1, 0);
    gen_options_t o = opts("stocks");
    gen_t *g = NULL;
    assert_int_equal(gen_create(&o, &g), 0);
    assert_int_equal(gen_run(g, f.bus, "nope", 0, 10, NULL, NULL), CORE_ENOENT);
    assert_int_equal(gen_run(g, f.bus, "t", -1, 10, NULL, NULL), CORE_EINVAL);
    gen_destroy(g);
    fixture_close(&f);
}

typedef struct {
    int stop;
    gen_stats_t st;
    bus_t *bus;
} stopper_t;

static int64_t topic_end(bus_t *bus)
{
    int64_t sum = 0;
    for (int32_t p = 0; p < 3; p++) {
        int64_t start = 0, end = 0;
        assert_int_equal(bus_offsets(bus, "t", p, &start, &end), 0);
        sum += end;
    }
    return sum;
}

static void *stop_later(void *arg)
{
    stopper_t *s = arg;
    /* Wait until the run has produced something, then ask it to stop. */
    while (topic_end(s->bus) < 5000) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void test_stop(void **state)
{
    (void)state;
    fixture_t f;
    fixture_open(&f, "t", 3, 0);
    gen_options_t o = opts("app");
    gen_t *g = NULL;
    assert_int_equal(gen_create(&o, &g), 0);
    /* Stopped before it starts: nothing. */
    stopper_t s;
    memset(&s, 0, sizeof s);
    s.stop = 1;
    assert_int_equal(gen_run(g, f.bus, "t", 0, -1, &s.stop, &s.st), 0);
    assert_int_equal(s.st.produced, 0);
    /* Unbounded, stopped by another thread. */
    memset(&s, 0, sizeof s);
    s.bus = f.bus;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_later, &s), 0);
    assert_int_equal(gen_run(g, f.bus, "t", 0, -1, &s.stop, &s.st), 0);
    pthread_join(th, NULL);
    assert_true(s.st.produced >= 5000);
    gen_destroy(g);
    fixture_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_stay_in_their_partition),
        cmocka_unit_test(test_small_batches_split),
        cmocka_unit_test(test_missing_topic),
        cmocka_unit_test(test_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
