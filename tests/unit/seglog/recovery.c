/*
 * Unit tests of crash recovery: torn tails cut at every byte position,
 * every byte of the last batch flipped, garbage and mismatched indexes
 * rebuilt, a corrupt sealed segment failing its partition without losing a
 * byte, the clean-shutdown marker, and leftovers of interrupted topic
 * operations.
 */
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char *path_of(const char *dir, const char *rel)
{
    char *p = core_alloc(CORE_MEM_TEST, 4300);
    snprintf(p, 4300, "%s/%s", dir, rel);
    return p;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *buf = core_alloc(CORE_MEM_TEST, (size_t)st.st_size + 1);
    assert_int_equal(core_pread_all(fd, buf, (size_t)st.st_size, 0), 0);
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

static void write_file(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(core_pwrite_all(fd, p, len, 0), 0);
    close(fd);
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Makes a log of 5 batches of 3 records in topic "torn", closed cleanly.
 * Returns the byte position and base offset of the last batch. */
static void make_log(const char *dir, int64_t *last_pos, int64_t *last_base)
{
    seglog_t *log;
    assert_int_equal(seglog_open(dir, &log), 0);
    seglog_part_t *p = tu_topic(log, "torn", 1, 1 << 20);
    for (int i = 0; i < 5; i++)
        tu_append(p, i * 3, 3, 100 + i, 30);
    seglog_part_info_t info;
    seglog_part_info(p, &info);
    seglog_close(log);
    *last_base = 12;
    *last_pos = info.size_bytes / 5 * 4; /* equal-sized batches */
}

/* Opens after a simulated crash and checks the partition holds exactly
 * `want_end` records with intact bytes. */
static void expect_recovered(const char *dir, int64_t want_end, off_t want_size)
{
    char *marker = path_of(dir, ".clean-shutdown");
    unlink(marker);
    core_free(marker);
    seglog_t *log;
    assert_int_equal(seglog_open(dir, &log), 0);
    assert_true(seglog_recovered(log));
    seglog_part_t *p = seglog_partition(seglog_topic_get(log, "torn"), 0);
    assert_non_null(p);
    assert_null(seglog_part_error(p));
    assert_int_equal(seglog_log_end(p), want_end);
    assert_int_equal(tu_verify(p, 0), want_end);
    seglog_close(log);
    char *seg = path_of(dir, "topics/torn-0/00000000000000000000.log");
    assert_int_equal(file_size(seg), want_size);
    core_free(seg);
}

static void test_torn_tail_every_length(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    int64_t last_pos, last_base;
    make_log(dir, &last_pos, &last_base);
    char *seg = path_of(dir, "topics/torn-0/00000000000000000000.log");
    size_t len;
    uint8_t *pristine = read_file(seg, &len);
    for (size_t cut = (size_t)last_pos; cut < len; cut++) {
        write_file(seg, pristine, cut);
        expect_recovered(dir, last_base, (off_t)last_pos);
    }
    /* Garbage after the last whole batch is cut too. */
    uint8_t *longer = core_alloc(CORE_MEM_TEST, len + 7);
    memcpy(longer, pristine, len);
    memset(longer + len, 0xAB, 7);
    write_file(seg, longer, len + 7);
    expect_recovered(dir, 15, (off_t)len);
    core_free(longer);
    core_free(pristine);
    core_free(seg);
    tu_rmdir(dir);
}

/* Flips every bit pattern 0xFF into each byte of the last batch. Bytes 12-15
 * (PartitionLeaderEpoch) sit outside the CRC by the format's definition, so
 * a batch with a changed epoch is still valid and kept; any other flip must
 * cut the batch. */
static void test_torn_tail_every_flip(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    int64_t last_pos, last_base;
    make_log(dir, &last_pos, &last_base);
    char *seg = path_of(dir, "topics/torn-0/00000000000000000000.log");
    size_t len;
    uint8_t *pristine = read_file(seg, &len);
    uint8_t *copy = core_alloc(CORE_MEM_TEST, len);
    for (size_t i = (size_t)last_pos; i < len; i++) {
        memcpy(copy, pristine, len);
        copy[i] ^= 0xFF;
        write_file(seg, copy, len);
        size_t rel = i - (size_t)last_pos;
        bool epoch = rel >= RECORD_OFF_LEADER_EPOCH && rel < RECORD_OFF_MAGIC;
        if (epoch)
            expect_recovered(dir, 15, (off_t)len);
        else
            expect_recovered(dir, last_base, (off_t)last_pos);
    }
    core_free(copy);
    core_free(pristine);
    core_free(seg);
    tu_rmdir(dir);
}

static void test_garbage_indexes_rebuilt(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    seglog_t *log;
    assert_int_equal(seglog_open(dir, &log), 0);
    seglog_part_t *p = tu_topic(log, "idx", 1, 4096);
    for (int i = 0; i < 60; i++)
        tu_append(p, i * 4, 4, i * 10, 40);
    seglog_close(log);
    const char *files[] = {"topics/idx-0/00000000000000000000.index",
                           "topics/idx-0/00000000000000000000.timeindex"};
    uint8_t garbage[40];
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (uint8_t)(i * 37 + 11);
    for (size_t f = 0; f < 2; f++) {
        for (size_t n = 0; n < sizeof garbage; n += 7) {
            char *path = path_of(dir, files[f]);
            write_file(path, garbage, n);
            core_free(path);
            assert_int_equal(seglog_open(dir, &log), 0); /* clean open: indexes trusted */
            p = seglog_partition(seglog_topic_get(log, "idx"), 0);
            assert_null(seglog_part_error(p));
            assert_int_equal(tu_verify(p, 0), 240);
            int64_t off = -1;
            assert_int_equal(seglog_offset_for_time(p, 205, &off), 0);
            assert_int_equal(off, 84);
            seglog_close(log);
        }
    }
    tu_rmdir(dir);
}

/* An index whose structure is fine but whose positions point at the wrong
 * bytes is detected and rebuilt. */
static void test_mismatched_index_rebuilt(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    seglog_t *log;
    assert_int_equal(seglog_open(dir, &log), 0);
    seglog_part_t *p = tu_topic(log, "mm", 1, 1 << 20);
    for (int i = 0; i < 40; i++)
        tu_append(p, i * 2, 2, i, 100);
    seglog_close(log);
    char *path = path_of(dir, "topics/mm-0/00000000000000000000.index");
    size_t len;
    uint8_t *idx = read_file(path, &len);
    assert_true(len >= 16);
    core_store_be32(idx + len - 4, core_load_be32(idx + len - 4) + 1); /* shift one entry */
    write_file(path, idx, len);
    core_free(idx);
    core_free(path);
    assert_int_equal(seglog_open(dir, &log), 0);
    p = seglog_partition(seglog_topic_get(log, "mm"), 0);
    assert_null(seglog_part_error(p));
    assert_int_equal(tu_verify(p, 0), 80);
    seglog_close(log);
    tu_rmdir(dir);
}

/* A bad batch inside a sealed segment after a crash fails the partition,
 * names the file, and cuts nothing. Other partitions keep working. */
static void test_corrupt_sealed_segment_fails(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    seglog_t *log;
    assert_int_equal(seglog_open(dir, &log), 0);
    seglog_topic_config_t c;
    seglog_topic_config_default(&c);
    c.partitions = 2;
    c.segment_bytes = 2048;
    c.flush = SEGLOG_FLUSH_NEVER;
    assert_int_equal(seglog_topic_create(log, "bad", &c), 0);
    seglog_topic_t *t = seglog_topic_get(log, "bad");
    for (int part = 0; part < 2; part++)
        for (int i = 0; i < 40; i++)
            tu_append(seglog_partition(t, part), i * 2, 2, i, 60);
    seglog_close(log);
    /* Make the recovery point cover nothing, then corrupt segment 0. */
    char *rp = path_of(dir, "topics/bad-0/recovery-point");
    write_file(rp, "0\n", 2);
    core_free(rp);
    char *seg = path_of(dir, "topics/bad-0/00000000000000000000.log");
    size_t len;
    uint8_t *bytes = read_file(seg, &len);
    bytes[len / 2] ^= 0x40;
    write_file(seg, bytes, len);
    char *marker = path_of(dir, ".clean-shutdown");
    unlink(marker);
    assert_int_equal(seglog_open(dir, &log), 0);
    t = seglog_topic_get(log, "bad");
    seglog_part_t *p0 = seglog_partition(t, 0), *p1 = seglog_partition(t, 1);
    assert_non_null(seglog_part_error(p0));
    assert_non_null(strstr(seglog_part_error(p0), "00000000000000000000.log"));
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_TEST, 1 << 20);
    assert_int_equal(seglog_read(p0, 0, 100, &buf), CORE_EFAILED);
    int64_t base;
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 1 << 20);
    tu_batch(&b, 0, 1, 0, 10);
    uint8_t *batch;
    size_t blen;
    assert_int_equal(record_builder_finish(&b, &batch, &blen), 0);
    assert_int_equal(seglog_append(p0, batch, blen, &base), CORE_EFAILED);
    record_builder_fini(&b);
    core_buf_fini(&buf);
    assert_null(seglog_part_error(p1));
    assert_int_equal(tu_verify(p1, 0), 80);
    seglog_close(log);
    assert_int_equal(file_size(seg), (off_t)len); /* nothing was cut */
    /* The failed partition kept the marker away: the next open rescans. */
    assert_int_not_equal(access(marker, F_OK), 0);
    core_free(marker);
    core_free(bytes);
    core_free(seg);
    tu_rmdir(dir);
}

static void test_marker_and_leftovers(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp();
    seglog_t *log;
    assert_int_equal(seglog_open(dir, &log), 0);
    assert_true(seglog_recovered(log)); /* a new folder has no marker */
    tu_topic(log, "keep", 1, 1 << 20);
    char *marker = path_of(dir, ".clean-shutdown");
    assert_int_not_equal(access(marker, F_OK), 0);
    seglog_close(log);
    assert_int_equal(access(marker, F_OK), 0);
    /* An interrupted create leaves a partition folder without a config. */
    char *orphan = path_of(dir, "topics/ghost-0");
    assert_int_equal(mkdir(orphan, 0755), 0);
    assert_int_equal(seglog_open(dir, &log), 0);
    assert_false(seglog_recovered(log));
    assert_int_not_equal(access(marker, F_OK), 0); /* consumed at open */
    assert_int_not_equal(access(orphan, F_OK), 0);
    assert_null(seglog_topic_get(log, "ghost"));
    assert_non_null(seglog_topic_get(log, "keep"));
    seglog_close(log);
    /* A topic whose partition folder vanished opens with that partition failed. */
    char *gone = path_of(dir, "topics/keep-0");
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", gone);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(seglog_open(dir, &log), 0);
    assert_non_null(seglog_part_error(seglog_partition(seglog_topic_get(log, "keep"), 0)));
    seglog_close(log);
    core_free(gone);
    core_free(orphan);
    core_free(marker);
    tu_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torn_tail_every_length),
        cmocka_unit_test(test_torn_tail_every_flip),
        cmocka_unit_test(test_garbage_indexes_rebuilt),
        cmocka_unit_test(test_mismatched_index_rebuilt),
        cmocka_unit_test(test_corrupt_sealed_segment_fails),
        cmocka_unit_test(test_marker_and_leftovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
