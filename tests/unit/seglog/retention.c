/*
 * Unit tests of retention: by size and by record time, whole segments only,
 * oldest first, never the active segment; the log start moves and reads
 * below it are out of range.
 */
#include "testutil.h"

static seglog_part_t *make(seglog_t *log, const char *name, int64_t retention_bytes,
                           int64_t retention_ms)
{
    seglog_topic_config_t c;
    seglog_topic_config_default(&c);
    c.segment_bytes = 2048;
    c.flush = SEGLOG_FLUSH_NEVER;
    c.retention_bytes = retention_bytes;
    c.retention_ms = retention_ms;
    assert_int_equal(seglog_topic_create(log, name, &c), 0);
    return seglog_partition(seglog_topic_get(log, name), 0);
}

static void test_retention_by_size(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    seglog_t *log;
    assert_int_equal(seglog_open(dir, &log), 0);
    seglog_part_t *p = make(log, "size", 5000, -1);
    for (int i = 0; i < 100; i++)
        tu_append(p, i * 3, 3, 1000 + i, 50);
    seglog_part_info_t before, after;
    seglog_part_info(p, &before);
    assert_true(before.segments > 5);
    int deleted = seglog_retention_run(p, 0);
    assert_true(deleted > 0);
    seglog_part_info(p, &after);
    assert_int_equal(after.segments, before.segments - deleted);
    assert_true(after.size_bytes >= 5000);       /* keeps at least retention.bytes */
    assert_true(after.size_bytes - 2048 < 5000); /* and not a whole segment more */
    assert_true(after.log_start > 0);
    assert_int_equal(after.log_end, 300);
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_TEST, 1 << 20);
    assert_int_equal(seglog_read(p, after.log_start - 1, 100, &buf), CORE_ERANGE);
    core_buf_fini(&buf);
    assert_int_equal(tu_verify(p, 0), 300 - after.log_start);
    assert_int_equal(seglog_retention_run(p, 0), 0); /* nothing more to do */
    seglog_close(log);

    assert_int_equal(seglog_open(dir, &log), 0); /* the new start survives a reopen */
    p = seglog_partition(seglog_topic_get(log, "size"), 0);
    assert_int_equal(seglog_log_start(p), after.log_start);
    assert_int_equal(tu_verify(p, 0), 300 - after.log_start);
    seglog_close(log);
    tu_rmdir(dir);
}

static void test_retention_never_active(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    seglog_t *log;
    assert_int_equal(seglog_open(dir, &log), 0);
    seglog_part_t *p = make(log, "zero", 0, 0);
    for (int i = 0; i < 50; i++)
        tu_append(p, i * 3, 3, 1000 + i, 50);
    assert_true(seglog_retention_run(p, 1000000) > 0);
    seglog_part_info_t info;
    seglog_part_info(p, &info);
    assert_int_equal(info.segments, 1);
    assert_int_equal(info.log_end, 150);
    assert_true(info.size_bytes > 0);
    assert_int_equal(tu_verify(p, 0), 150 - info.log_start);
    tu_append(p, 150, 1, 5000, 50); /* still appendable */
    assert_int_equal(seglog_log_end(p), 151);
    seglog_close(log);
    tu_rmdir(dir);
}

static void test_retention_by_time(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    seglog_t *log;
    assert_int_equal(seglog_open(dir, &log), 0);
    seglog_part_t *p = make(log, "time", -1, 10000);
    /* Record times 0..99 s; segments hold about 10 batches each. */
    for (int i = 0; i < 100; i++)
        tu_append(p, i * 3, 3, (int64_t)i * 1000, 50);
    seglog_part_info_t before;
    seglog_part_info(p, &before);
    /* At now = 50 s, segments whose newest record is older than 40 s go. */
    int deleted = seglog_retention_run(p, 50000);
    assert_true(deleted > 0);
    int64_t start = seglog_log_start(p);
    int64_t ts_first_kept = start / 3 * 1000;
    assert_true(ts_first_kept <= 40000);
    /* The segment before the new start ended after the cutoff? It must not:
     * the batch just before the start is older than 40 s. */
    assert_true((start / 3 - 1) * 1000 + 2 < 40000);
    assert_int_equal(seglog_retention_run(p, 50000), 0);
    assert_true(seglog_retention_run(p, 10000000) > 0); /* far future: all sealed go */
    seglog_part_info_t after;
    seglog_part_info(p, &after);
    assert_int_equal(after.segments, 1);
    assert_int_equal(after.log_end, 300);
    seglog_close(log);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retention_by_size),
        cmocka_unit_test(test_retention_never_active),
        cmocka_unit_test(test_retention_by_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
