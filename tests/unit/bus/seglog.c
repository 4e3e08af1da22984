/*
 * The bus over the embedded seglog (src/bus/bus_seglog.c): readers over a
 * partition of multi-record batches, plain and compressed (every codec),
 * polled with every size from 1 up and from every start offset.
 *
 * Checks that each record comes exactly once, in offset order, with its
 * key, value and timestamp intact; that every record a poll hands out is
 * still intact when the poll returns (a poll may span several batches,
 * some decompressed: none may move another's bytes); and that a reader
 * polled at the end returns nothing and stays at the end. Also: a topic
 * deleted (as Kafka DeleteTopics does) while other threads produce to it,
 * read it and ask for its offsets: they see it or CORE_ENOENT, never freed
 * memory (the bus pins the log around each use).
 *
 * Threading: single-threaded, except test_delete_while_in_use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>

#include "bus/bus.h"
#include "record/record.h"
#include "seglog/seglog.h"

#define TOPIC   "t"
#define RECORDS 120

typedef struct {
    char dir[64];
    seglog_t *log;
    bus_t *bus;
} fixture_t;

/* Batches of these sizes and codecs, in this order (RECORDS in all). */
static const struct {
    int count;
    record_codec_t codec;
} layout[] = {
    {10, RECORD_CODEC_NONE}, {13, RECORD_CODEC_LZ4},   {1, RECORD_CODEC_NONE},
    {17, RECORD_CODEC_ZSTD}, {9, RECORD_CODEC_SNAPPY}, {8, RECORD_CODEC_ZSTD},
    {20, RECORD_CODEC_NONE}, {12, RECORD_CODEC_GZIP},  {5, RECORD_CODEC_NONE},
    {15, RECORD_CODEC_LZ4},  {10, RECORD_CODEC_NONE},
};

/* The value of record o: long and repetitive, so every codec compresses
 * it (a batch that would not shrink is stored plain). */
static int value_of(int64_t o, char *buf, size_t n)
{
    return snprintf(buf, n, "{\"offset\":%lld,\"pad\":\"%s\"}", (long long)o,
                    "abcdefghabcdefghabcdefghabcdefghabcdefghabcdefgh");
}

static void append_batch(fixture_t *f, int64_t first, int count, record_codec_t codec)
{
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 1 << 20);
    record_builder_set_codec(&b, codec);
    for (int i = 0; i < count; i++) {
        char key[32], value[128];
        int kn = snprintf(key, sizeof key, "k%lld", (long long)(first + i));
        int vn = value_of(first + i, value, sizeof value);
        assert_int_equal(record_builder_add(&b, 1000 + first + i, key, kn, value, vn, NULL, 0), 0);
    }
    uint8_t *batch;
    size_t len;
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    assert_int_equal(batch[RECORD_OFF_ATTRIBUTES + 1] & RECORD_ATTR_CODEC_MASK, (int)codec);
    seglog_part_t *p = seglog_partition(seglog_topic_get(f->log, TOPIC), 0);
    int64_t base = -1;
    assert_int_equal(seglog_append(p, batch, len, &base), 0);
    assert_int_equal(base, first);
    record_builder_fini(&b);
}

static void fixture_open(fixture_t *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/strata-busseg-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(seglog_open(f->dir, &f->log), 0);
    seglog_topic_config_t c;
    seglog_topic_config_default(&c);
    c.partitions = 1;
    c.flush = SEGLOG_FLUSH_NEVER;
    assert_int_equal(seglog_topic_create(f->log, TOPIC, &c), 0);
    assert_int_equal(bus_open_seglog(f->log, &f->bus), 0);
    int64_t at = 0;
    for (size_t i = 0; i < sizeof layout / sizeof layout[0]; i++) {
        append_batch(f, at, layout[i].count, layout[i].codec);
        at += layout[i].count;
    }
    assert_int_equal(at, RECORDS);
}

static void fixture_close(fixture_t *f)
{
    bus_close(f->bus);
    seglog_close(f->log);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

/* Record r is record o, byte for byte. */
static void check_record(const bus_record_t *r, int64_t o)
{
    char key[32], value[128];
    int kn = snprintf(key, sizeof key, "k%lld", (long long)o);
    int vn = value_of(o, value, sizeof value);
    assert_int_equal(r->offset, o);
    assert_int_equal(r->timestamp_ms, 1000 + o);
    assert_int_equal(r->partition, 0);
    /* memcmp, not cmocka's compare: a sanitizer sees these reads */
    assert_int_equal(r->key_len, (size_t)kn);
    assert_int_equal(memcmp(r->key, key, (size_t)kn), 0);
    assert_int_equal(r->value_len, (size_t)vn);
    assert_int_equal(memcmp(r->value, value, (size_t)vn), 0);
}

/* Reads from `from` to the end in polls of `max`, checking each poll's
 * records only once the poll has returned. */
static void read_all(fixture_t *f, int64_t from, size_t max)
{
    bus_reader_t *r;
    bus_record_t recs[RECORDS];
    assert_int_equal(bus_reader_open(f->bus, TOPIC, 0, from, &r), 0);
    int64_t next = from;
    size_t n;
    do {
        n = 0;
        assert_int_equal(bus_reader_poll(r, recs, max, &n, 0), 0);
        assert_true(n <= max);
        for (size_t i = 0; i < n; i++)
            check_record(&recs[i], next++);
        assert_int_equal(bus_reader_position(r), next);
    } while (n > 0);
    assert_int_equal(next, RECORDS);
    n = 0;
    assert_int_equal(bus_reader_poll(r, recs, max, &n, 0), 0);
    assert_int_equal(n, 0);
    assert_int_equal(bus_reader_position(r), RECORDS);
    bus_reader_close(r);
}

static void test_every_poll_size_and_start(void **state)
{
    (void)state;
    fixture_t f;
    fixture_open(&f);
    for (size_t max = 1; max <= 40; max++)
        for (int64_t from = 0; from <= RECORDS; from += (max % 7) + 1)
            read_all(&f, from, max);
    read_all(&f, 0, RECORDS); /* everything in one poll */
    fixture_close(&f);
}

/* A reader that stops inside a batch goes on from the right record after
 * more batches are appended behind it. */
static void test_poll_then_append(void **state)
{
    (void)state;
    fixture_t f;
    fixture_open(&f);
    bus_reader_t *r;
    bus_record_t recs[8];
    size_t n = 0;
    assert_int_equal(bus_reader_open(f.bus, TOPIC, 0, RECORDS - 7, &r), 0);
    assert_int_equal(bus_reader_poll(r, recs, 3, &n, 0), 0);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        check_record(&recs[i], RECORDS - 7 + (int64_t)i);
    append_batch(&f, RECORDS, 6, RECORD_CODEC_ZSTD);
    int64_t next = RECORDS - 4;
    do {
        n = 0;
        assert_int_equal(bus_reader_poll(r, recs, 8, &n, 0), 0);
        for (size_t i = 0; i < n; i++)
            check_record(&recs[i], next++);
    } while (n > 0);
    assert_int_equal(next, RECORDS + 6);
    bus_reader_close(r);
    fixture_close(&f);
}

/* ---- A topic deleted while in use. */

#define CHURN        "churn"
#define CHURN_ROUNDS 300
#define USERS        2

typedef struct {
    fixture_t *f;
    atomic_bool stop;
    atomic_long found, missing; /* calls that saw the topic, and did not */
    atomic_int bad;             /* any other outcome */
} churn_t;

static void tally(churn_t *c, int rc)
{
    if (rc == 0)
        atomic_fetch_add(&c->found, 1);
    else if (rc == CORE_ENOENT)
        atomic_fetch_add(&c->missing, 1);
    else
        atomic_fetch_add(&c->bad, 1);
}

static void *churn_user(void *arg)
{
    churn_t *c = arg;
    bus_t *bus = c->f->bus;
    for (long i = 0; !atomic_load(&c->stop); i++) {
        bus_message_t m = {.key = "k",
                           .key_len = 1,
                           .value = "churn-value",
                           .value_len = 11,
                           .timestamp_ms = 1000 + i};
        tally(c, bus_produce(bus, CHURN, (int32_t)(i % 2), &m, 1, i % 8 == 0, NULL));
        int64_t start, end, off;
        tally(c, bus_offsets(bus, CHURN, 1, &start, &end));
        tally(c, bus_offset_for_time(bus, CHURN, 0, 1000, &off));
        bus_reader_t *r = NULL;
        int rc = bus_reader_open(bus, CHURN, 0, 0, &r);
        tally(c, rc);
        for (int k = 0; rc == 0 && k < 3; k++) {
            bus_record_t recs[16];
            size_t n = 0;
            rc = bus_reader_poll(r, recs, 16, &n, 0);
            tally(c, rc);
            for (size_t j = 0; rc == 0 && j < n; j++)
                if (recs[j].value_len != 11 || memcmp(recs[j].value, "churn-value", 11) != 0)
                    atomic_fetch_add(&c->bad, 1);
        }
        bus_reader_close(r);
    }
    return NULL;
}

static void test_delete_while_in_use(void **state)
{
    (void)state;
    fixture_t f;
    fixture_open(&f);
    churn_t c = {.f = &f};
    atomic_init(&c.stop, false);
    atomic_init(&c.found, 0);
    atomic_init(&c.missing, 0);
    atomic_init(&c.bad, 0);
    pthread_t users[USERS];
    for (int i = 0; i < USERS; i++)
        assert_int_equal(pthread_create(&users[i], NULL, churn_user, &c), 0);
    seglog_topic_config_t cfg;
    seglog_topic_config_default(&cfg);
    cfg.partitions = 2;
    cfg.flush = SEGLOG_FLUSH_NEVER;
    cfg.segment_bytes = 4096;
    for (int round = 0; round < CHURN_ROUNDS; round++) {
        assert_int_equal(seglog_topic_create(f.log, CHURN, &cfg), 0);
        for (int k = 0; k < 20; k++) {
            bus_message_t m = {.key = "k",
                               .key_len = 1,
                               .value = "churn-value",
                               .value_len = 11,
                               .timestamp_ms = 1000 + k};
            assert_int_equal(bus_produce(f.bus, CHURN, k % 2, &m, 1, false, NULL), 0);
        }
        usleep(100);
        assert_int_equal(seglog_topic_delete(f.log, CHURN), 0);
    }
    atomic_store(&c.stop, true);
    for (int i = 0; i < USERS; i++)
        assert_int_equal(pthread_join(users[i], NULL), 0);
    assert_int_equal(atomic_load(&c.bad), 0);
    assert_true(atomic_load(&c.found) > 0);   /* they used the topic */
    assert_true(atomic_load(&c.missing) > 0); /* and saw it gone */
    fixture_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_poll_size_and_start),
        cmocka_unit_test(test_poll_then_append),
        cmocka_unit_test(test_delete_while_in_use),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
