/*
 * Unit tests of idempotent-producer deduplication: duplicates answered with
 * their original offset, sequence gaps and fenced epochs refused, the
 * five-batch window, epoch bumps, and non-idempotent batches untouched.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "kafka/producers_int.h"

/* Partition handles are only compared, never dereferenced. */
static const seglog_part_t *const P0 = (const seglog_part_t *)(uintptr_t)0x1000;
static const seglog_part_t *const P1 = (const seglog_part_t *)(uintptr_t)0x2000;

static record_batch_header_t batch(int64_t pid, int16_t epoch, int32_t seq, int32_t count)
{
    record_batch_header_t h;
    memset(&h, 0, sizeof h);
    h.producer_id = pid;
    h.producer_epoch = epoch;
    h.base_sequence = seq;
    h.last_offset_delta = count - 1;
    h.records_count = count;
    return h;
}

/* Appends (records) the batch at base if the check says so; returns the
 * check's verdict. */
static int16_t offer(kafka_producers_t *ps, const seglog_part_t *p, record_batch_header_t h,
                     int64_t base, int64_t *dup)
{
    int16_t err = kafka_producers_check(ps, p, &h, dup);
    if (err == KAFKA_ERR_NONE)
        assert_int_equal(kafka_producers_record(ps, p, &h, base), 0);
    return err;
}

static void test_duplicates_and_gaps(void **state)
{
    (void)state;
    kafka_producers_t *ps;
    assert_int_equal(kafka_producers_create(&ps), 0);
    int64_t dup = -1;
    assert_int_equal(offer(ps, P0, batch(7, 0, 0, 10), 100, &dup), KAFKA_ERR_NONE);
    assert_int_equal(offer(ps, P0, batch(7, 0, 10, 5), 110, &dup), KAFKA_ERR_NONE);
    /* A retry of the first batch is answered with its offset. */
    assert_int_equal(offer(ps, P0, batch(7, 0, 0, 10), 999, &dup),
                     KAFKA_ERR_DUPLICATE_SEQUENCE_NUMBER);
    assert_int_equal(dup, 100);
    assert_int_equal(offer(ps, P0, batch(7, 0, 10, 5), 999, &dup),
                     KAFKA_ERR_DUPLICATE_SEQUENCE_NUMBER);
    assert_int_equal(dup, 110);
    /* A gap is refused; the next in order is accepted. */
    assert_int_equal(offer(ps, P0, batch(7, 0, 16, 1), 115, &dup),
                     KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert_int_equal(offer(ps, P0, batch(7, 0, 15, 1), 115, &dup), KAFKA_ERR_NONE);
    /* Partitions are independent. */
    assert_int_equal(offer(ps, P1, batch(7, 0, 0, 10), 0, &dup), KAFKA_ERR_NONE);
    kafka_producers_destroy(ps);
}

static void test_window_of_five(void **state)
{
    (void)state;
    kafka_producers_t *ps;
    assert_int_equal(kafka_producers_create(&ps), 0);
    int64_t dup;
    for (int i = 0; i < 6; i++)
        assert_int_equal(offer(ps, P0, batch(9, 0, i * 2, 2), 1000 + i * 2, &dup), KAFKA_ERR_NONE);
    /* Batches 1..5 are remembered; batch 0 has left the window. */
    for (int i = 1; i < 6; i++) {
        assert_int_equal(offer(ps, P0, batch(9, 0, i * 2, 2), -1, &dup),
                         KAFKA_ERR_DUPLICATE_SEQUENCE_NUMBER);
        assert_int_equal(dup, 1000 + i * 2);
    }
    assert_int_equal(offer(ps, P0, batch(9, 0, 0, 2), -1, &dup),
                     KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    kafka_producers_destroy(ps);
}

static void test_epochs(void **state)
{
    (void)state;
    kafka_producers_t *ps;
    assert_int_equal(kafka_producers_create(&ps), 0);
    int64_t dup;
    assert_int_equal(offer(ps, P0, batch(3, 1, 0, 4), 0, &dup), KAFKA_ERR_NONE);
    assert_int_equal(offer(ps, P0, batch(3, 0, 4, 1), 4, &dup), KAFKA_ERR_INVALID_PRODUCER_EPOCH);
    /* librdkafka bumps the epoch and restarts at sequence 0. */
    assert_int_equal(offer(ps, P0, batch(3, 2, 0, 1), 4, &dup), KAFKA_ERR_NONE);
    assert_int_equal(offer(ps, P0, batch(3, 2, 1, 1), 5, &dup), KAFKA_ERR_NONE);
    assert_int_equal(offer(ps, P0, batch(3, 1, 4, 1), 6, &dup), KAFKA_ERR_INVALID_PRODUCER_EPOCH);
    /* Sequence numbers wrap at INT32_MAX. */
    assert_int_equal(offer(ps, P1, batch(4, 0, INT32_MAX - 1, 2), 0, &dup), KAFKA_ERR_NONE);
    assert_int_equal(offer(ps, P1, batch(4, 0, 0, 1), 2, &dup), KAFKA_ERR_NONE);
    kafka_producers_destroy(ps);
}

static void test_plain_and_unknown(void **state)
{
    (void)state;
    kafka_producers_t *ps;
    assert_int_equal(kafka_producers_create(&ps), 0);
    int64_t dup;
    /* Non-idempotent batches are never deduplicated. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(offer(ps, P0, batch(-1, -1, -1, 5), i * 5, &dup), KAFKA_ERR_NONE);
    /* A producer unknown here starts at any sequence (state lost on restart). */
    assert_int_equal(offer(ps, P0, batch(11, 0, 500, 5), 15, &dup), KAFKA_ERR_NONE);
    int64_t a = kafka_producers_new_id(ps), b = kafka_producers_new_id(ps);
    assert_true(a > 0 && b > a);
    kafka_producers_destroy(ps);
}

/* Appends one idempotent batch of n records; returns its base offset. */
static int64_t append_idem(seglog_part_t *p, int64_t pid, int32_t seq, int n,
                           record_batch_header_t *h)
{
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 1 << 20);
    record_builder_set_producer(&b, pid, 0, seq);
    for (int i = 0; i < n; i++)
        assert_int_equal(record_builder_add(&b, 1000 + i, NULL, -1, "v", 1, NULL, 0), 0);
    uint8_t *batch;
    size_t len;
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    int64_t base = -1;
    assert_int_equal(seglog_append(p, batch, len, &base), 0);
    assert_int_equal(record_batch_parse(batch, len, true, h), 0);
    h->base_offset = base;
    record_builder_fini(&b);
    return base;
}

/* After a restart the state is rebuilt from the log: a retry of a batch
 * written before the crash is still a duplicate. */
static void test_rebuilt_from_log(void **state)
{
    (void)state;
    char dir[] = "/tmp/strata-producers-XXXXXX";
    assert_non_null(mkdtemp(dir));
    seglog_t *log;
    assert_int_equal(seglog_open(dir, &log), 0);
    seglog_topic_config_t c;
    seglog_topic_config_default(&c);
    assert_int_equal(seglog_topic_create(log, "idem", &c), 0);
    seglog_part_t *p = seglog_partition(seglog_topic_get(log, "idem"), 0);
    record_batch_header_t h1, h2, h3;
    append_idem(p, 77, 0, 4, &h1);
    int64_t base2 = append_idem(p, 77, 4, 2, &h2);
    append_idem(p, -1, -1, 3, &h3); /* a plain batch in between */
    kafka_producers_t *ps;
    assert_int_equal(kafka_producers_create(&ps), 0); /* a fresh broker */
    kafka_producers_load(ps, p);
    int64_t dup = -1;
    assert_int_equal(kafka_producers_check(ps, p, &h2, &dup), KAFKA_ERR_DUPLICATE_SEQUENCE_NUMBER);
    assert_int_equal(dup, base2);
    record_batch_header_t next = h2;
    next.base_sequence = 6;
    assert_int_equal(kafka_producers_check(ps, p, &next, &dup), KAFKA_ERR_NONE);
    next.base_sequence = 9;
    assert_int_equal(kafka_producers_check(ps, p, &next, &dup),
                     KAFKA_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    kafka_producers_forget_part(ps, p); /* forgets the state and the replay */
    assert_int_equal(kafka_producers_check(ps, p, &h2, &dup), KAFKA_ERR_NONE);
    kafka_producers_destroy(ps);
    seglog_close(log);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicates_and_gaps),
        cmocka_unit_test(test_window_of_five),
        cmocka_unit_test(test_epochs),
        cmocka_unit_test(test_plain_and_unknown),
        cmocka_unit_test(test_rebuilt_from_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
