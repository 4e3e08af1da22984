/*
 * testutil.h - helpers shared by the seglog unit tests: temporary data
 * folders, batch building, and reading a partition back.
 */
#ifndef STRATA_TEST_SEGLOG_UTIL_H
#define STRATA_TEST_SEGLOG_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "record/record.h"
#include "seglog/seglog.h"

/* A fresh folder under $TMPDIR; removed by tu_rmdir(). */
static inline char *tu_mkdtemp(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *path = core_alloc(CORE_MEM_TEST, 4096);
    assert_non_null(path);
    snprintf(path, 4096, "%s/strata-test-XXXXXX", base);
    assert_non_null(mkdtemp(path));
    return path;
}

static inline void tu_rmdir(char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
    core_free(path);
}

/* Builds a batch of n records whose values are "v<first+i>" padded to
 * value_len bytes, with timestamps ts, ts+1, ... */
static inline void tu_batch(record_builder_t *b, int first, int n, int64_t ts, int value_len)
{
    record_builder_reset(b);
    char value[4096];
    assert_true(value_len < (int)sizeof value);
    for (int i = 0; i < n; i++) {
        memset(value, 'x', (size_t)value_len);
        int w = snprintf(value, sizeof value, "v%d", first + i);
        if (w < value_len)
            value[w] = '-';
        assert_int_equal(record_builder_add(b, ts + i, NULL, -1, value, value_len, NULL, 0), 0);
    }
}

/* Appends n records (values from `first`) as one batch; returns the base. */
static inline int64_t tu_append(seglog_part_t *p, int first, int n, int64_t ts, int value_len)
{
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 1 << 20);
    tu_batch(&b, first, n, ts, value_len);
    uint8_t *batch;
    size_t len;
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    int64_t base = -1;
    int rc = seglog_append(p, batch, len, &base);
    if (rc != 0)
        fail_msg("append failed: %s: %s", core_strerror(rc), core_error_detail());
    record_builder_fini(&b);
    return base;
}

/* Reads the whole partition and checks that offsets are dense from log start
 * and that record at offset o has value "v<o + value_base>". Returns the
 * number of records read. */
static inline int64_t tu_verify(seglog_part_t *p, int64_t value_base)
{
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_TEST, 64 << 20);
    int64_t next = seglog_log_start(p), end = seglog_log_end(p), count = 0;
    while (next < end) {
        core_buf_reset(&buf);
        int rc = seglog_read(p, next, 16384, &buf);
        if (rc != 0)
            fail_msg("read at %lld: %s", (long long)next, core_error_detail());
        assert_true(buf.len > 0);
        size_t at = 0;
        while (at < buf.len) {
            record_iter_t it;
            assert_int_equal(record_iter_init(&it, buf.data + at, buf.len - at, true), 0);
            record_t r;
            while (record_iter_next(&it, &r) == 1) {
                if (r.offset < next)
                    continue; /* the batch that contains `next` starts earlier */
                assert_int_equal(r.offset, next);
                char want[32];
                int w = snprintf(want, sizeof want, "v%lld", (long long)(r.offset + value_base));
                assert_true(r.value_len >= w);
                assert_memory_equal(r.value, want, (size_t)w);
                next++;
                count++;
            }
            at += record_batch_size(&it.h);
        }
    }
    core_buf_fini(&buf);
    assert_int_equal(next, end);
    return count;
}

static inline seglog_part_t *tu_topic(seglog_t *log, const char *name, int partitions,
                                      int64_t segment_bytes)
{
    seglog_topic_config_t c;
    seglog_topic_config_default(&c);
    c.partitions = partitions;
    c.segment_bytes = segment_bytes;
    c.flush = SEGLOG_FLUSH_NEVER;
    c.index_interval_bytes = 256;
    int rc = seglog_topic_create(log, name, &c);
    if (rc != 0)
        fail_msg("create %s: %s", name, core_error_detail());
    return seglog_partition(seglog_topic_get(log, name), 0);
}

#endif
