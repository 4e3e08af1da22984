/*
 * Fault injection, SQLite-style: make the Nth allocation fail, once and
 * then persistently, for N = 1, 2, ... while opening a log, creating a
 * topic, appending, reading and closing. Every step may fail, but none may
 * crash, leak (ASan's leak checker runs on this binary) or corrupt the log:
 * after each round, with allocation working again, the log must reopen and
 * hold exactly the batches whose appends reported success.
 */
#include "testutil.h"

typedef struct {
    int64_t acked; /* records whose append returned 0 */
} round_t;

static void run_round(const char *dir, round_t *r)
{
    seglog_t *log;
    if (seglog_open(dir, &log) != 0)
        return;
    seglog_topic_config_t c;
    seglog_topic_config_default(&c);
    c.segment_bytes = 2048;
    c.flush = SEGLOG_FLUSH_NEVER;
    seglog_topic_t *t = seglog_topic_get(log, "f");
    if (t == NULL && seglog_topic_create(log, "f", &c) == 0)
        t = seglog_topic_get(log, "f");
    seglog_part_t *p = t ? seglog_partition(t, 0) : NULL;
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 1 << 16);
    for (int i = 0; p != NULL && i < 12; i++) {
        record_builder_reset(&b);
        char value[64];
        int n = snprintf(value, sizeof value, "v%lld-padding-padding-padding", (long long)r->acked);
        uint8_t *batch;
        size_t len;
        int64_t base;
        if (record_builder_add(&b, i, NULL, -1, value, n, NULL, 0) != 0 ||
            record_builder_finish(&b, &batch, &len) != 0)
            continue;
        if (seglog_append(p, batch, len, &base) == 0) {
            assert_int_equal(base, r->acked);
            r->acked++;
        }
    }
    record_builder_fini(&b);
    if (p != NULL) {
        core_buf_t buf;
        core_buf_init(&buf, CORE_MEM_TEST, 1 << 20);
        (void)seglog_read(p, 0, 1 << 16, &buf);
        int64_t off;
        (void)seglog_offset_for_time(p, 5, &off);
        core_buf_fini(&buf);
    }
    seglog_close(log);
}

static void check_log(const char *dir, int64_t acked)
{
    seglog_t *log;
    assert_int_equal(seglog_open(dir, &log), 0);
    seglog_topic_t *t = seglog_topic_get(log, "f");
    if (t == NULL) {
        assert_int_equal(acked, 0);
    } else {
        seglog_part_t *p = seglog_partition(t, 0);
        if (seglog_part_error(p) != NULL)
            fail_msg("partition failed after injected faults: %s", seglog_part_error(p));
        assert_int_equal(seglog_log_end(p), acked);
        assert_int_equal(tu_verify(p, 0), acked);
    }
    seglog_close(log);
}

static int64_t total_allocs(void)
{
    int64_t sum = 0;
    for (int tag = 0; tag < CORE_MEM__COUNT; tag++) {
        core_mem_stats_t st;
        core_mem_stats((core_mem_tag_t)tag, &st);
        sum += st.total_allocs;
    }
    return sum;
}

/* Counts the allocations of one undisturbed round, then fails each of them
 * in turn. */
static void fault_loop(bool persist)
{
    char *dir = tu_mkdtemp();
    round_t r = {0};
    int64_t before = total_allocs();
    run_round(dir, &r);
    int64_t per_round = total_allocs() - before;
    assert_true(per_round > 20);
    for (long n = 1; n <= per_round + 5; n++) {
        core_mem_fail_at(n, persist);
        run_round(dir, &r);
        core_mem_fail_at(0, false);
        check_log(dir, r.acked);
        core_mem_stats_t st;
        core_mem_stats(CORE_MEM_SEGLOG, &st);
        if (st.allocs != 0)
            fail_msg("failing allocation %ld leaked %lld seglog blocks", n, (long long)st.allocs);
    }
    assert_true(r.acked > 12);
    tu_rmdir(dir);
}

static void test_fail_once(void **state)
{
    (void)state;
    fault_loop(false);
}

static void test_fail_persistently(void **state)
{
    (void)state;
    fault_loop(true);
}

int main(void)
{
    core_log_set_level(CORE_LOG_OFF); /* thousands of expected failures */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_once),
        cmocka_unit_test(test_fail_persistently),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
