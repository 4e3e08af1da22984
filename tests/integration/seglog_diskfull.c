/*
 * seglog_diskfull.c - the commit log on a full disk.
 *
 * Mounts a 2 MiB tmpfs (exit 77, "SKIP", when the process may not mount),
 * puts two 256 KiB filler files on it, and runs the scenario in a forked
 * child so that the parent always unmounts (umount2 MNT_DETACH) and removes
 * its folders, whatever the child does. Where it may, the parent first
 * moves into a private mount namespace, so even a killed test leaks no
 * mount.
 *
 * Topic "full" (1 partition, flush=always, 64 KiB segments) is filled with
 * batches of deterministic records until seglog_append() fails, then a
 * "topup" file eats the last free pages. The test asserts:
 *   - every append that returned 0 reads back at its offset with identical
 *     bytes, and offsets stay dense;
 *   - every failed append returns CORE_ENOSPC, leaves the log end, the
 *     partition's byte count and the .log files on disk unchanged, and its
 *     error detail names the partition and says "disk full" - also when the
 *     failing append had to roll the segment first;
 *   - creating a topic on the full disk fails with an error naming the
 *     topic, and leaves no topic behind;
 *   - after a filler is deleted, appends succeed again and the partition
 *     never failed; the same topic can then be created;
 *   - a log closed while the disk is full reopens, while it is still full,
 *     with every partition usable and every acknowledged record readable;
 *   - after space returns, close + reopen recovers everything, and a clean
 *     close + reopen reports seglog_recovered() == false with the same data.
 *
 * Checks report "FAIL file:line: ..." and the run continues where it can,
 * so one run shows every broken promise; the exit status is 1 if any check
 * failed. Threading: single-threaded (seglog's flusher aside).
 */
#include "record/record.h"
#include "seglog/seglog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TOPIC         "full"
#define OTHER         "other"
#define MOUNT_SIZE    "size=2m"
#define FILLER_BYTES  (256 * 1024)
#define SEGMENT_BYTES (64 * 1024)
#define KEY_LEN       12
#define VALUE_MAX     2048
#define BASE_TS       1700000000000LL
#define APPEND_LIMIT  100000 /* appends per fill loop; a 2 MiB disk fills long before */

static int g_failures;
static int g_refused; /* appends that failed with CORE_ENOSPC */

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            g_failures++;                                                                          \
        }                                                                                          \
    } while (0)

/* ------------------------------------------------------------------------
 * Deterministic records
 * ------------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* The value of record seq, at most vmax bytes; -1 means null. */
static int32_t make_value(uint64_t seq, int32_t vmax, uint8_t *out)
{
    uint64_t h = mix64(seq);
    if (h % 29 == 0)
        return -1;
    int32_t len = (int32_t)((h >> 16) % (uint64_t)(vmax + 1));
    uint64_t s = h;
    for (int32_t i = 0; i < len; i++) {
        if (i % 8 == 0)
            s = mix64(s + (uint64_t)i);
        out[i] = (uint8_t)(s >> (8 * (i % 8)));
    }
    return len;
}

typedef struct {
    int64_t base;
    int32_t count;
    int32_t vmax;
    uint64_t seq;
} batch_rec_t;

/* What one partition must hold: its batches in offset order. */
typedef struct {
    seglog_part_t *part;
    batch_rec_t *v;
    size_t n, cap;
    int64_t end; /* log end the batches imply */
} expect_t;

static uint64_t g_seq = 1;

static int build(record_builder_t *b, uint64_t seq, int32_t n, int32_t vmax, uint8_t **batch,
                 size_t *len)
{
    uint8_t key[KEY_LEN], value[VALUE_MAX];
    record_builder_reset(b);
    for (int32_t i = 0; i < n; i++) {
        uint64_t s = seq + (uint64_t)i;
        core_store_be64(key, s);
        core_store_be32(key + 8, (uint32_t)vmax);
        int32_t vlen = make_value(s, vmax, value);
        int rc = record_builder_add(b, BASE_TS + (int64_t)s, key, KEY_LEN, vlen < 0 ? NULL : value,
                                    vlen, NULL, 0);
        if (rc != 0)
            return rc;
    }
    return record_builder_finish(b, batch, len);
}

/* ------------------------------------------------------------------------
 * Checks
 * ------------------------------------------------------------------------ */

/* Bytes in the partition folder's .log files. */
static int64_t log_bytes_on_disk(seglog_part_t *part, const char *topics_dir)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", topics_dir, seglog_part_name(part));
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".log") != 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, 0) == 0)
            total += st.st_size;
    }
    closedir(d);
    return total;
}

/* Checks one batch read back against its record. */
static void verify_batch(const expect_t *x, const batch_rec_t *r, const uint8_t *b, size_t len)
{
    const char *name = seglog_part_name(x->part);
    record_iter_t it;
    if (record_iter_init(&it, b, len, true) != 0) {
        EXPECT(false, "%s batch %lld: %s", name, (long long)r->base, core_error_detail());
        return;
    }
    EXPECT(it.h.base_offset == r->base && it.h.records_count == r->count,
           "%s: batch at %lld with %d records, expected %lld with %d", name,
           (long long)it.h.base_offset, it.h.records_count, (long long)r->base, r->count);
    uint8_t want[VALUE_MAX];
    record_t rec;
    int32_t i = 0;
    int rc;
    while ((rc = record_iter_next(&it, &rec)) == 1) {
        uint64_t s = r->seq + (uint64_t)i;
        int32_t wlen = make_value(s, r->vmax, want);
        bool key_ok = rec.key_len == KEY_LEN && core_load_be64(rec.key) == s;
        bool value_ok =
            rec.value_len == wlen && (wlen <= 0 || memcmp(rec.value, want, (size_t)wlen) == 0);
        EXPECT(rec.offset == r->base + i && key_ok && value_ok &&
                   rec.timestamp == BASE_TS + (int64_t)s,
               "%s offset %lld: record differs from what was appended (seq %" PRIu64 ")", name,
               (long long)rec.offset, s);
        i++;
    }
    EXPECT(rc == 0 && i == r->count, "%s batch %lld: %d records iterated, rc %d: %s", name,
           (long long)r->base, i, rc, rc ? core_error_detail() : "");
}

/* Reads the whole partition: exactly the expected batches, dense. */
static void verify(const expect_t *x, const char *when)
{
    const char *name = seglog_part_name(x->part);
    seglog_part_info_t info;
    seglog_part_info(x->part, &info);
    if (info.failed) {
        EXPECT(false, "%s: %s: partition failed: %s", when, name, seglog_part_error(x->part));
        return;
    }
    EXPECT(info.log_start == 0 && info.log_end == x->end,
           "%s: %s: log [%lld, %lld), expected [0, %lld)", when, name, (long long)info.log_start,
           (long long)info.log_end, (long long)x->end);
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_TEST, 16u << 20);
    size_t bi = 0;
    int64_t next = 0;
    while (next < info.log_end && bi < x->n) {
        core_buf_reset(&buf);
        int rc = seglog_read(x->part, next, 64 * 1024, &buf);
        if (rc != 0 || buf.len == 0) {
            EXPECT(false, "%s: %s: read at %lld: rc %d, %zu bytes: %s", when, name, (long long)next,
                   rc, buf.len, core_error_detail());
            break;
        }
        size_t at = 0;
        while (at < buf.len && bi < x->n) {
            record_batch_header_t h;
            if (record_batch_parse(buf.data + at, buf.len - at, true, &h) != 0) {
                EXPECT(false, "%s: %s: bad batch at %lld: %s", when, name, (long long)next,
                       core_error_detail());
                goto out;
            }
            if (h.base_offset != next || h.base_offset != x->v[bi].base) {
                EXPECT(false, "%s: %s: batch at %lld, expected %lld (acknowledged at %lld)", when,
                       name, (long long)h.base_offset, (long long)next, (long long)x->v[bi].base);
                goto out;
            }
            verify_batch(x, &x->v[bi], buf.data + at, record_batch_size(&h));
            next = record_batch_last_offset(&h) + 1;
            at += record_batch_size(&h);
            bi++;
        }
    }
    EXPECT(bi == x->n && next == x->end,
           "%s: %s: read %zu of %zu acknowledged batches, up to "
           "offset %lld of %lld",
           when, name, bi, x->n, (long long)next, (long long)x->end);
out:
    core_buf_fini(&buf);
}

/* Checks a failed append: ENOSPC, a clear detail, nothing left behind. */
static void check_failed_append(const expect_t *x, int rc, const char *detail,
                                const seglog_part_info_t *before, const char *topics_dir)
{
    const char *name = seglog_part_name(x->part);
    g_refused += rc == CORE_ENOSPC;
    EXPECT(rc == CORE_ENOSPC, "%s: append failed with %s (%d), expected CORE_ENOSPC: %s", name,
           core_strerror(rc), rc, detail);
    EXPECT(strstr(detail, name) != NULL && strstr(detail, "disk full") != NULL,
           "%s: the error detail does not name the partition and say \"disk full\": \"%s\"", name,
           detail);
    seglog_part_info_t after;
    seglog_part_info(x->part, &after);
    EXPECT(!after.failed, "%s: a full disk failed the partition: %s", name,
           seglog_part_error(x->part));
    EXPECT(after.log_end == before->log_end && after.size_bytes == before->size_bytes,
           "%s: the failed append changed the log: end %lld -> %lld, bytes %lld -> %lld", name,
           (long long)before->log_end, (long long)after.log_end, (long long)before->size_bytes,
           (long long)after.size_bytes);
    int64_t disk = log_bytes_on_disk(x->part, topics_dir);
    EXPECT(disk == after.size_bytes,
           "%s: %lld bytes in .log files, the partition counts %lld: "
           "the failed append left bytes behind",
           name, (long long)disk, (long long)after.size_bytes);
}

/* One append of n records; records it on success, checks it on failure.
 * Returns the seglog code. */
static int append_one(expect_t *x, record_builder_t *b, int32_t n, int32_t vmax,
                      const char *topics_dir)
{
    uint8_t *batch;
    size_t len;
    uint64_t seq = g_seq;
    int rc = build(b, seq, n, vmax, &batch, &len);
    if (rc != 0) {
        EXPECT(false, "building a batch: %s", core_error_detail());
        return rc;
    }
    g_seq += (uint64_t)n;
    seglog_part_info_t before;
    seglog_part_info(x->part, &before);
    int64_t base = -1;
    core_error_clear();
    rc = seglog_append(x->part, batch, len, &base);
    if (rc != 0) {
        char detail[CORE_ERROR_DETAIL_MAX];
        snprintf(detail, sizeof detail, "%s", core_error_detail());
        check_failed_append(x, rc, detail, &before, topics_dir);
        return rc;
    }
    EXPECT(base == x->end, "%s: append got base %lld, expected %lld", seglog_part_name(x->part),
           (long long)base, (long long)x->end);
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 256;
        batch_rec_t *v = realloc(x->v, cap * sizeof *v);
        if (v == NULL) {
            EXPECT(false, "out of memory");
            return CORE_ENOMEM;
        }
        x->v = v;
        x->cap = cap;
    }
    x->v[x->n++] = (batch_rec_t){base, n, vmax, seq};
    x->end = base + n;
    return 0;
}

/* Appends batches of up to max_n records until one fails; returns how many
 * succeeded, or -1 if none failed within APPEND_LIMIT or one failed with
 * something other than CORE_ENOSPC. */
static long fill(expect_t *x, record_builder_t *b, int32_t max_n, int32_t vmax,
                 const char *topics_dir)
{
    for (long i = 0; i < APPEND_LIMIT; i++) {
        int32_t n = 1 + (int32_t)(mix64(g_seq) % (uint64_t)max_n);
        int rc = append_one(x, b, n, vmax, topics_dir);
        if (rc == CORE_ENOSPC)
            return i;
        if (rc != 0)
            return -1;
    }
    EXPECT(false, "%s: %d appends succeeded on a 2 MiB disk", seglog_part_name(x->part),
           APPEND_LIMIT);
    return -1;
}

/* ------------------------------------------------------------------------
 * Files that take up space
 * ------------------------------------------------------------------------ */

static int write_filler(const char *path, size_t bytes)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    static uint8_t chunk[64 * 1024];
    memset(chunk, 0xAB, sizeof chunk);
    int rc = 0;
    for (size_t done = 0; rc == 0 && done < bytes;) {
        ssize_t n = write(fd, chunk, CORE_MIN(sizeof chunk, bytes - done));
        if (n < 0 && errno != EINTR)
            rc = -errno;
        else if (n > 0)
            done += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* Writes into path until the disk refuses; 0 if that ended with ENOSPC. */
static int eat_free_space(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno == ENOSPC ? 0 : -errno;
    static uint8_t chunk[4096];
    int rc = 0;
    for (size_t step = sizeof chunk; step > 0; step /= 2) {
        for (;;) {
            ssize_t n = write(fd, chunk, step);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = errno == ENOSPC ? 0 : -errno;
                break;
            }
        }
        if (rc != 0)
            break;
    }
    close(fd);
    return rc;
}

/* ------------------------------------------------------------------------
 * The scenario
 * ------------------------------------------------------------------------ */

typedef struct {
    char data[4200], topics[4300], filler1[4200], filler2[4200], topup[4200];
} paths_t;

static void topic_config(seglog_topic_config_t *c, int32_t partitions)
{
    seglog_topic_config_default(c);
    c->partitions = partitions;
    c->flush = SEGLOG_FLUSH_ALWAYS;
    c->segment_bytes = SEGMENT_BYTES;
    c->index_interval_bytes = 1024;
}

/* Fills the disk: big batches, then smaller ones, then the last pages. */
static void fill_disk(expect_t *x, record_builder_t *b, const paths_t *ps, const char *when)
{
    long big = fill(x, b, 50, 1500, ps->topics);
    long mid = big >= 0 ? fill(x, b, 10, 100, ps->topics) : -1;
    long small = mid >= 0 ? fill(x, b, 1, 0, ps->topics) : -1;
    EXPECT(big > 0 && mid >= 0 && small >= 0,
           "%s: filling the disk went wrong (%ld, %ld, %ld "
           "appends)",
           when, big, mid, small);
    EXPECT(eat_free_space(ps->topup) == 0, "%s: filling %s: %s", when, ps->topup, strerror(errno));
    /* The disk is now full to the page: a batch too big for the active
     * segment must roll first, and the roll must fail as cleanly. */
    int rc = append_one(x, b, 60, 2000, ps->topics);
    EXPECT(rc == CORE_ENOSPC, "%s: a 60-record append on a full disk returned %d", when, rc);
    /* Single records may still fit in a page's slack; each must either
     * succeed and read back, or fail cleanly. */
    long tail = fill(x, b, 1, 0, ps->topics);
    EXPECT(tail >= 0, "%s: single-record appends on a full disk misbehaved", when);
    verify(x, when);
}

static int open_log(const paths_t *ps, seglog_t **log, expect_t *x, expect_t *o)
{
    int rc = seglog_open(ps->data, log);
    if (rc != 0) {
        EXPECT(false, "seglog_open(%s): %s", ps->data, core_error_detail());
        return -1;
    }
    seglog_topic_t *t = seglog_topic_get(*log, TOPIC);
    if (t == NULL) {
        EXPECT(false, "topic '%s' is gone after reopening", TOPIC);
        return -1;
    }
    x->part = seglog_partition(t, 0);
    seglog_topic_t *ot = o ? seglog_topic_get(*log, OTHER) : NULL;
    if (o != NULL && ot == NULL) {
        EXPECT(false, "topic '%s' is gone after reopening", OTHER);
        return -1;
    }
    for (int32_t p = 0; o != NULL && p < 2; p++)
        o[p].part = seglog_partition(ot, p);
    return 0;
}

static void append_some(expect_t *x, record_builder_t *b, int count, const paths_t *ps,
                        const char *when)
{
    for (int i = 0; i < count; i++) {
        int rc = append_one(x, b, 1 + i % 20, 200, ps->topics);
        EXPECT(rc == 0, "%s: %s: append %d failed: %s", when, seglog_part_name(x->part), i,
               core_error_detail());
    }
}

static int scenario(const paths_t *ps)
{
    expect_t x = {0}, other[2] = {{0}, {0}};
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 1 << 20);
    seglog_t *log = NULL;
    seglog_topic_config_t c;
    int rc;
    if (write_filler(ps->filler1, FILLER_BYTES) != 0 || write_filler(ps->filler2, FILLER_BYTES)) {
        EXPECT(false, "cannot write the filler files: %s", strerror(errno));
        goto out;
    }
    if ((rc = seglog_open(ps->data, &log)) != 0) {
        EXPECT(false, "seglog_open: %s", core_error_detail());
        goto out;
    }
    topic_config(&c, 1);
    if ((rc = seglog_topic_create(log, TOPIC, &c)) != 0) {
        EXPECT(false, "creating '%s': %s", TOPIC, core_error_detail());
        goto out;
    }
    x.part = seglog_partition(seglog_topic_get(log, TOPIC), 0);

    /* 1. Fill the disk; every append either lands whole or leaves nothing. */
    fill_disk(&x, &b, ps, "full disk");

    /* 2. Creating a topic on the full disk fails clearly. */
    topic_config(&c, 2);
    core_error_clear();
    rc = seglog_topic_create(log, OTHER, &c);
    EXPECT(rc == CORE_ENOSPC || rc == CORE_EIO, "creating '%s' on a full disk returned %d (%s)",
           OTHER, rc, core_strerror(rc));
    EXPECT(rc == 0 || strstr(core_error_detail(), OTHER) != NULL,
           "the error for creating '%s' on a full disk does not name the topic: \"%s\"", OTHER,
           core_error_detail());
    EXPECT(rc != 0 || seglog_topic_get(log, OTHER) != NULL, "create returned 0 but no topic");
    if (rc != 0)
        EXPECT(seglog_topic_get(log, OTHER) == NULL, "a failed create left topic '%s'", OTHER);
    else
        seglog_topic_delete(log, OTHER);
    verify(&x, "after the failed topic create");

    /* 3. Make room: the partition takes appends again; the topic can be made. */
    EXPECT(unlink(ps->filler1) == 0 && unlink(ps->topup) == 0, "unlink: %s", strerror(errno));
    append_some(&x, &b, 10, ps, "after making room");
    rc = seglog_topic_create(log, OTHER, &c);
    EXPECT(rc == 0, "creating '%s' after making room: %s", OTHER, core_error_detail());
    if (rc != 0)
        goto out;
    for (int32_t p = 0; p < 2; p++) {
        other[p].part = seglog_partition(seglog_topic_get(log, OTHER), p);
        append_some(&other[p], &b, 3, ps, "new topic");
    }
    verify(&x, "after making room");

    /* 4. Fill again, close on the full disk, reopen on the full disk. */
    fill_disk(&x, &b, ps, "full again");
    seglog_close(log);
    log = NULL;
    if (open_log(ps, &log, &x, other) != 0)
        goto out;
    verify(&x, "reopened on a full disk");
    for (int32_t p = 0; p < 2; p++)
        verify(&other[p], "reopened on a full disk");
    if (seglog_part_error(x.part) == NULL) {
        rc = append_one(&x, &b, 60, 2000, ps->topics);
        EXPECT(rc == CORE_ENOSPC, "a 60-record append after reopening on a full disk: %d", rc);
    }

    /* 5. Room again: reopen, append, close cleanly, reopen without recovery. */
    EXPECT(unlink(ps->filler2) == 0 && unlink(ps->topup) == 0, "unlink: %s", strerror(errno));
    seglog_close(log);
    log = NULL;
    if (open_log(ps, &log, &x, other) != 0)
        goto out;
    verify(&x, "reopened with room");
    append_some(&x, &b, 10, ps, "reopened with room");
    seglog_close(log);
    log = NULL;
    if (open_log(ps, &log, &x, other) != 0)
        goto out;
    EXPECT(!seglog_recovered(log), "reopen after a clean close reports seglog_recovered()");
    verify(&x, "after a clean close");
    for (int32_t p = 0; p < 2; p++)
        verify(&other[p], "after a clean close");
    printf("seglog_diskfull: %zu batches (%lld records) verified in '%s', %d appends refused "
           "with CORE_ENOSPC\n",
           x.n, (long long)x.end, TOPIC, g_refused);
out:
    seglog_close(log);
    record_builder_fini(&b);
    free(x.v);
    free(other[0].v);
    free(other[1].v);
    return g_failures == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------
 * Mount, run in a child, always unmount
 * ------------------------------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int build_paths(paths_t *ps, const char *mnt)
{
    int n = snprintf(ps->data, sizeof ps->data, "%s/data", mnt);
    n |= snprintf(ps->topics, sizeof ps->topics, "%s/topics", ps->data);
    n |= snprintf(ps->filler1, sizeof ps->filler1, "%s/filler1", mnt);
    n |= snprintf(ps->filler2, sizeof ps->filler2, "%s/filler2", mnt);
    n |= snprintf(ps->topup, sizeof ps->topup, "%s/topup", mnt);
    return n < 0 ? -1 : 0;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char root[4096], mnt[4200];
    snprintf(root, sizeof root, "%s/strata-diskfull-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(root) == NULL) {
        fprintf(stderr, "FAIL: mkdtemp %s: %s\n", root, strerror(errno));
        return 1;
    }
    snprintf(mnt, sizeof mnt, "%s/mnt", root);
    if (mkdir(mnt, 0755) != 0) {
        fprintf(stderr, "FAIL: mkdir %s: %s\n", mnt, strerror(errno));
        rmdir(root);
        return 1;
    }
    /* A private mount namespace, when allowed, makes the mount vanish with
     * us even if we are killed; without one we still unmount below. */
    if (unshare(CLONE_NEWNS) == 0)
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    if (mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, MOUNT_SIZE) != 0) {
        int err = errno;
        rmdir(mnt);
        rmdir(root);
        printf("SKIP: cannot mount a tmpfs: %s\n", strerror(err));
        return 77;
    }
    paths_t ps;
    int status = 1;
    if (build_paths(&ps, mnt) == 0) {
        core_log_set_level(CORE_LOG_OFF); /* the failures below are provoked */
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            int r = scenario(&ps);
            fflush(NULL);
            _exit(r);
        }
        int ws = 0;
        while (pid > 0 && waitpid(pid, &ws, 0) < 0 && errno == EINTR)
            ;
        if (pid < 0)
            fprintf(stderr, "FAIL: fork: %s\n", strerror(errno));
        else if (WIFSIGNALED(ws))
            fprintf(stderr, "FAIL: the scenario died of signal %d\n", WTERMSIG(ws));
        else
            status = WEXITSTATUS(ws);
    }
    if (umount2(mnt, MNT_DETACH) != 0)
        fprintf(stderr, "warning: umount2 %s: %s\n", mnt, strerror(errno));
    nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (status != 0)
        fprintf(stderr, "seglog_diskfull: FAILED\n");
    return status == 0 ? 0 : 1;
}
