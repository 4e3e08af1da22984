/*
 * bench/seglog.c - the commit-log benchmark.
 *
 * Measures one partition of seglog in a fresh data directory and prints every
 * figure beside a reference measured in the same run (STYLE rule 13):
 *
 *   1. flush=never append of 100-byte records in batches of 1000,
 *      (a) with the batches built beforehand, so only seglog_append is timed,
 *      (b) encoding each batch with record_builder_t, then appending it.
 *      Reference: write() of the same bytes in the same chunks to a plain
 *      file (page cache, no sync). Target: >= 2M records/s on one core.
 *   2. Read-back of topic (a) from offset 0 to the end: seglog_read with
 *      1 MiB max_bytes, then record_iter_next over every record. No CRC is
 *      checked (seglog_read checks lengths only; the iterator is called with
 *      check_crc false). Reference: pread of the same segment files in 1 MiB
 *      chunks.
 *   3. flush=interval:100 append of prebuilt batches, timed up to the return
 *      of a final seglog_sync. Reference: an equal-size file written with
 *      write() in the same chunk size, then fdatasync, timed including the
 *      fdatasync. Target: >= 70% of the reference.
 *   4. flush=always append-to-return latency of 1-record batches, with 1, 4
 *      and 16 appender threads on the same partition. Reference, measured
 *      just before each level: a 4 KiB pwrite (appending) + fdatasync loop on
 *      a plain file in the same directory. Target: with 16 appenders, p99 at
 *      most 2x the bare fdatasync p99.
 *
 * Records have an 8-byte key (big-endian sequence number), a 100-byte value
 * and no headers. MB/s counts the batch bytes written, MB = 10^6 bytes.
 * Phases 1-3 run in rounds (3 by default); each figure, seglog's and the
 * reference's alike, is the median of its rounds. Each round starts with an
 * untimed warm-up write, and each timed writer reuses the page-cache memory
 * the one before it freed, so no figure pays for first-touched memory
 * (several times slower in a VM) while its reference does not. Percentiles
 * are nearest-rank over all samples. "cpu" is process CPU time over wall
 * time (100% = one core busy). A missed target prints MISS; the exit status
 * is non-zero only when something fails.
 *
 * Run:
 *   build/release/bench/bench_seglog [--dir DIR] [--records N] [--appends N]
 *                                    [--rounds N] [--quick]
 * DIR (default $TMPDIR, else /var/tmp) should be on the disk under test, not
 * tmpfs. The benchmark works in a fresh DIR/strata-bench-seglog-XXXXXX and
 * removes it at the end. --records sets the flush=never count (default
 * 5,000,000; flush=interval uses 2/5 of it); --appends the flush=always
 * appends per thread-count level (default 5000, split across the threads).
 * --quick runs tiny sizes in one round, in a few seconds: a smoke test that
 * keeps this program from rotting.
 *
 * Threading: the main thread runs every phase. Phase 4 starts appender
 * threads; each owns its batch and its slice of the latency array, and the
 * main thread reads the slices only after joining them.
 */
#include "seglog/seglog.h"
#include "record/record.h"
#include "bench_common.h"
#include "core/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define KEY_BYTES        8
#define VALUE_BYTES      100
#define BATCH_RECORDS    1000
#define POOL_BATCHES     8 /* distinct prebuilt batches, reused in turn */
#define BATCH_MAX_BYTES  1048588
#define READ_MAX_BYTES   (1u << 20)
#define READ_BUF_MAX     (4u << 20) /* one read may exceed max_bytes by a batch */
#define INTERVAL_MS      100
#define BARE_BLOCK_BYTES 4096
#define MAX_APPENDERS    16
#define MAX_ROUNDS       9
#define MB               1e6

#define TARGET_NEVER_REC_S     2e6
#define TARGET_INTERVAL_RATIO  0.70
#define TARGET_ALWAYS_P99_MULT 2.0

static const int appender_levels[] = {1, 4, MAX_APPENDERS};

typedef struct {
    const char *base_dir;
    int64_t never_records;
    int64_t interval_records;
    int64_t always_appends; /* per level, split across the threads */
    int rounds;             /* of phases 1 and 3; the median is reported */
    bool quick;
} options_t;

/* The whole run; owned by the main thread. */
typedef struct {
    options_t opt;
    char dir[PATH_MAX];      /* fresh working directory, removed at the end */
    char data_dir[PATH_MAX]; /* dir/data: the seglog */
    bool made_dir;           /* dir exists and is ours to remove */
    seglog_t *log;
    uint8_t value[VALUE_BYTES];
    int targets;
    int targets_met;
} bench_t;

/* One timed run of appends, reads or writes. */
typedef struct {
    int64_t records;
    int64_t bytes;
    int64_t ns;
    int64_t cpu_ns;
} run_t;

/* Prebuilt batches: the first full_batches batches cycle through batch[],
 * then the shorter tail (if any) carries the remainder. */
typedef struct {
    uint8_t *batch[POOL_BATCHES];
    size_t len[POOL_BATCHES];
    int64_t full_batches;
    uint8_t *tail;
    size_t tail_len;
    int64_t records;
} pool_t;

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------ */

static int fail(int rc, const char *what)
{
    const char *detail = core_error_detail();
    fprintf(stderr, "bench_seglog: %s: %s%s%s\n", what, core_strerror(rc), *detail ? ": " : "",
            detail);
    return rc;
}

static int sys_fail(const char *what, const char *path)
{
    fprintf(stderr, "bench_seglog: %s %s: %s\n", what, path, strerror(errno));
    return errno == ENOSPC ? CORE_ENOSPC : CORE_EIO;
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

static double run_rec_s(const run_t *r)
{
    return r->ns > 0 ? (double)r->records / secs(r->ns) : 0.0;
}

static double run_mb_s(const run_t *r)
{
    return r->ns > 0 ? (double)r->bytes / MB / secs(r->ns) : 0.0;
}

static double run_cpu_pct(const run_t *r)
{
    return r->ns > 0 ? 100.0 * (double)r->cpu_ns / (double)r->ns : 0.0;
}

/* "3.12M", "845.0k" or "12". */

static const char *verdict(bench_t *b, bool ok)
{
    b->targets++;
    b->targets_met += ok;
    return ok ? "[ok]" : "[MISS]";
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p% of samples <= it. */

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Batches
 * ------------------------------------------------------------------------ */

/* Encodes records seq .. seq+n-1 into one batch in the builder's buffer. */
static int encode_batch(record_builder_t *bld, int64_t seq, int32_t n, const uint8_t *value,
                        uint8_t **batch, size_t *len)
{
    int64_t ts = core_wall_ms();
    uint8_t key[KEY_BYTES];
    record_builder_reset(bld);
    for (int32_t i = 0; i < n; i++) {
        core_store_be64(key, (uint64_t)(seq + i));
        int rc = record_builder_add(bld, ts, key, KEY_BYTES, value, VALUE_BYTES, NULL, 0);
        if (rc != 0)
            return rc;
    }
    return record_builder_finish(bld, batch, len);
}

static uint8_t *copy_bytes(const uint8_t *p, size_t n)
{
    uint8_t *c = core_alloc(CORE_MEM_APP, n);
    if (c != NULL)
        memcpy(c, p, n);
    return c;
}

static void pool_fini(pool_t *pl)
{
    for (int i = 0; i < POOL_BATCHES; i++)
        core_free(pl->batch[i]);
    core_free(pl->tail);
    memset(pl, 0, sizeof *pl);
}

static int pool_init(pool_t *pl, const uint8_t *value, int64_t records)
{
    record_builder_t bld;
    uint8_t *batch;
    size_t len;
    int rc = 0;
    memset(pl, 0, sizeof *pl);
    pl->records = records;
    pl->full_batches = records / BATCH_RECORDS;
    record_builder_init(&bld, CORE_MEM_APP, BATCH_MAX_BYTES);
    for (int64_t i = 0; i < pl->full_batches && i < POOL_BATCHES; i++) {
        rc = encode_batch(&bld, i * BATCH_RECORDS, BATCH_RECORDS, value, &batch, &len);
        if (rc == 0 && (pl->batch[i] = copy_bytes(batch, len)) == NULL)
            rc = CORE_ENOMEM;
        if (rc != 0)
            goto done;
        pl->len[i] = len;
    }
    if (records % BATCH_RECORDS != 0) {
        int32_t n = (int32_t)(records % BATCH_RECORDS);
        rc = encode_batch(&bld, records - n, n, value, &batch, &len);
        if (rc == 0 && (pl->tail = copy_bytes(batch, len)) == NULL)
            rc = CORE_ENOMEM;
        pl->tail_len = len;
    }
done:
    record_builder_fini(&bld);
    if (rc != 0)
        pool_fini(pl);
    return rc;
}

static int64_t pool_count(const pool_t *pl)
{
    return pl->full_batches + (pl->tail != NULL);
}

static void pool_get(pool_t *pl, int64_t i, uint8_t **batch, size_t *len)
{
    if (i < pl->full_batches) {
        *batch = pl->batch[i % POOL_BATCHES];
        *len = pl->len[i % POOL_BATCHES];
    } else {
        *batch = pl->tail;
        *len = pl->tail_len;
    }
}

/* ------------------------------------------------------------------------
 * Timed runs
 * ------------------------------------------------------------------------ */

static int topic_open(bench_t *b, const char *name, seglog_flush_t flush, seglog_part_t **out)
{
    seglog_topic_config_t cfg;
    seglog_topic_config_default(&cfg);
    cfg.flush = flush;
    cfg.flush_interval_ms = INTERVAL_MS;
    int rc = seglog_topic_create(b->log, name, &cfg);
    if (rc != 0)
        return fail(rc, "seglog_topic_create");
    seglog_topic_t *t = seglog_topic_get(b->log, name);
    *out = t != NULL ? seglog_partition(t, 0) : NULL;
    if (*out == NULL) {
        fprintf(stderr, "bench_seglog: topic %s has no partition 0 after create\n", name);
        return CORE_ENOENT;
    }
    return 0;
}

static int check_end(seglog_part_t *p, int64_t want)
{
    int64_t end = seglog_log_end(p);
    if (end != want) {
        fprintf(stderr, "bench_seglog: %s: log end %lld after appending %lld records\n",
                seglog_part_name(p), (long long)end, (long long)want);
        return CORE_ECORRUPT;
    }
    return 0;
}

/* Appends every batch of the pool; with `sync`, ends with seglog_sync. */
static int append_prebuilt(seglog_part_t *p, pool_t *pl, bool sync, run_t *r)
{
    int64_t base, n = pool_count(pl);
    uint8_t *batch;
    size_t len;
    int rc = 0;
    memset(r, 0, sizeof *r);
    int64_t t0 = core_mono_ns(), c0 = bench_cpu_ns();
    for (int64_t i = 0; i < n && rc == 0; i++) {
        pool_get(pl, i, &batch, &len);
        rc = seglog_append(p, batch, len, &base);
        r->bytes += (int64_t)len;
    }
    if (rc == 0 && sync)
        rc = seglog_sync(p, seglog_log_end(p));
    r->ns = core_mono_ns() - t0;
    r->cpu_ns = bench_cpu_ns() - c0;
    r->records = pl->records;
    if (rc != 0)
        return fail(rc, sync ? "seglog_append/seglog_sync" : "seglog_append");
    return check_end(p, pl->records);
}

/* Encodes and appends `records` records, a builder batch at a time. */
static int append_encoded(seglog_part_t *p, const uint8_t *value, int64_t records, run_t *r)
{
    record_builder_t bld;
    uint8_t *batch;
    size_t len;
    int64_t base;
    int rc = 0;
    memset(r, 0, sizeof *r);
    record_builder_init(&bld, CORE_MEM_APP, BATCH_MAX_BYTES);
    int64_t t0 = core_mono_ns(), c0 = bench_cpu_ns();
    for (int64_t seq = 0; seq < records && rc == 0; seq += BATCH_RECORDS) {
        int32_t n = (int32_t)CORE_MIN(BATCH_RECORDS, records - seq);
        rc = encode_batch(&bld, seq, n, value, &batch, &len);
        if (rc == 0)
            rc = seglog_append(p, batch, len, &base);
        r->bytes += (int64_t)len;
    }
    r->ns = core_mono_ns() - t0;
    r->cpu_ns = bench_cpu_ns() - c0;
    r->records = records;
    record_builder_fini(&bld);
    if (rc != 0)
        return fail(rc, "encode/seglog_append");
    return check_end(p, records);
}

/* Writes the pool's bytes, in its chunks, to a new plain file with write();
 * with `datasync`, the timing includes a final fdatasync. */
static int write_reference(bench_t *b, pool_t *pl, bool datasync, run_t *r)
{
    char path[PATH_MAX];
    uint8_t *batch;
    size_t len;
    int rc = bench_path_join(path, sizeof path, b->dir, "reference-write");
    if (rc != 0)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sys_fail("open", path);
    memset(r, 0, sizeof *r);
    int64_t t0 = core_mono_ns(), c0 = bench_cpu_ns();
    for (int64_t i = 0; i < pool_count(pl) && rc == 0; i++) {
        pool_get(pl, i, &batch, &len);
        if (write_all(fd, batch, len) != 0)
            rc = sys_fail("write", path);
        r->bytes += (int64_t)len;
    }
    if (rc == 0 && datasync && fdatasync(fd) != 0)
        rc = sys_fail("fdatasync", path);
    r->ns = core_mono_ns() - t0;
    r->cpu_ns = bench_cpu_ns() - c0;
    r->records = pl->records;
    close(fd);
    unlink(path);
    return rc;
}

/* Flushes everything dirty in the directory's file system, so that one
 * phase's writeback does not land in the next phase's timing. */
static void settle(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        syncfs(fd);
        close(fd);
    }
}

/* ------------------------------------------------------------------------
 * Phase 1 and 2: flush=never, and read-back
 * ------------------------------------------------------------------------ */

/* Reads the partition from 0 to its end, visiting every record. */
static int read_seglog(seglog_part_t *p, run_t *r)
{
    core_buf_t buf;
    record_iter_t it;
    record_t rec;
    int64_t off = 0, end = seglog_log_end(p);
    uint64_t sum = 0;
    int rc = 0;
    memset(r, 0, sizeof *r);
    core_buf_init(&buf, CORE_MEM_APP, READ_BUF_MAX);
    int64_t t0 = core_mono_ns(), c0 = bench_cpu_ns();
    while (off < end && rc == 0) {
        core_buf_reset(&buf);
        rc = seglog_read(p, off, READ_MAX_BYTES, &buf);
        if (rc == 0 && buf.len == 0)
            rc = core_error(CORE_ETRUNC, "seglog_read returned nothing at offset %lld of %lld",
                            (long long)off, (long long)end);
        r->bytes += (int64_t)buf.len;
        for (size_t pos = 0; pos < buf.len && rc == 0;) {
            rc = record_iter_init(&it, buf.data + pos, buf.len - pos, false);
            if (rc != 0)
                break;
            while ((rc = record_iter_next(&it, &rec)) == 1) {
                sum += rec.value_len > 0 ? rec.value[rec.value_len - 1] : 0;
                r->records++;
            }
            pos += record_batch_size(&it.h);
            off = record_batch_last_offset(&it.h) + 1;
        }
    }
    r->ns = core_mono_ns() - t0;
    r->cpu_ns = bench_cpu_ns() - c0;
    core_buf_fini(&buf);
    if (rc != 0)
        return fail(rc, "seglog_read/record_iter");
    if (r->records != end || sum == 0) {
        fprintf(stderr, "bench_seglog: read back %lld records of %lld\n", (long long)r->records,
                (long long)end);
        return CORE_ECORRUPT;
    }
    return 0;
}

static int keep_log_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && strcmp(d->d_name + n - 4, ".log") == 0;
}

static int pread_file(const char *path, uint8_t *buf, run_t *r)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sys_fail("open", path);
    int rc = 0;
    for (off_t off = 0;;) {
        ssize_t n = pread(fd, buf, READ_MAX_BYTES, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = sys_fail("pread", path);
        if (n <= 0)
            break;
        off += n;
        r->bytes += n;
    }
    close(fd);
    return rc;
}

/* The reference for read-back: pread of the partition's segment files. */
static int read_plain(bench_t *b, seglog_part_t *p, run_t *r)
{
    char topics[PATH_MAX], part_dir[PATH_MAX], path[PATH_MAX];
    struct dirent **names = NULL;
    int rc = bench_path_join(topics, sizeof topics, b->data_dir, "topics");
    if (rc == 0)
        rc = bench_path_join(part_dir, sizeof part_dir, topics, seglog_part_name(p));
    if (rc != 0)
        return rc;
    int n = scandir(part_dir, &names, keep_log_file, alphasort);
    if (n < 0)
        return sys_fail("scandir", part_dir);
    uint8_t *buf = core_alloc(CORE_MEM_APP, READ_MAX_BYTES);
    rc = buf == NULL ? CORE_ENOMEM : 0;
    memset(r, 0, sizeof *r);
    int64_t t0 = core_mono_ns(), c0 = bench_cpu_ns();
    for (int i = 0; i < n && rc == 0; i++) {
        rc = bench_path_join(path, sizeof path, part_dir, names[i]->d_name);
        if (rc == 0)
            rc = pread_file(path, buf, r);
    }
    r->ns = core_mono_ns() - t0;
    r->cpu_ns = bench_cpu_ns() - c0;
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    core_free(buf);
    return rc;
}

static void print_never(bench_t *b, const char *label, const run_t *r, const run_t *ref)
{
    char rate[32];
    double ratio = run_mb_s(ref) > 0 ? run_mb_s(r) / run_mb_s(ref) : 0.0;
    printf("flush=never    %-19s %7s rec/s %7.1f MB/s  cpu %3.0f%%   vs write() %7.1f MB/s "
           " ratio %.2f   target >= 2M rec/s  %s\n",
           label, bench_fmt_count(rate, sizeof rate, run_rec_s(r)), run_mb_s(r), run_cpu_pct(r),
           run_mb_s(ref), ratio, verdict(b, run_rec_s(r) >= TARGET_NEVER_REC_S));
    fflush(stdout);
}

static void print_read(const run_t *rd, const run_t *ref)
{
    char rate[32];
    double ratio = run_mb_s(ref) > 0 ? run_mb_s(rd) / run_mb_s(ref) : 0.0;
    printf("read-back      seglog_read + iter  %7s rec/s %7.1f MB/s  cpu %3.0f%%   vs pread  "
           "%8.1f MB/s  ratio %.2f   (1 MiB reads, page cache, no CRC check)\n",
           bench_fmt_count(rate, sizeof rate, run_rec_s(rd)), run_mb_s(rd), run_cpu_pct(rd),
           run_mb_s(ref), ratio);
    fflush(stdout);
}

static int topic_drop(bench_t *b, const char *name)
{
    int rc = seglog_topic_delete(b->log, name);
    return rc != 0 ? fail(rc, "seglog_topic_delete") : 0;
}

/* The round with the median time. Every round moves the same records and
 * bytes, so this is also the median rate. */
static run_t median_run(const run_t *runs, int n)
{
    run_t sorted[MAX_ROUNDS];
    memcpy(sorted, runs, (size_t)n * sizeof *runs);
    for (int i = 1; i < n; i++) {
        for (int j = i; j > 0 && sorted[j].ns < sorted[j - 1].ns; j--) {
            run_t t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    }
    return sorted[n / 2];
}

/* Every timed run of phase 1, one slot per round. */
typedef struct {
    run_t ref[MAX_ROUNDS];
    run_t pre[MAX_ROUNDS];
    run_t enc[MAX_ROUNDS];
    run_t rd[MAX_ROUNDS];
    run_t rd_ref[MAX_ROUNDS];
} never_runs_t;

/* Every timed writer should find page-cache memory in the same state (in a
 * VM, first-touched memory is several times slower): an untimed warm-up
 * frees pages for the reference, the reference frees pages for topic (a),
 * and deleting (a) frees pages for topic (b). Deleting also drops the dirty
 * pages, so no writeback spills into later work. */
static int never_round(bench_t *b, pool_t *pl, int i, never_runs_t *r)
{
    char name_a[32], name_b[32];
    run_t warm;
    seglog_part_t *pa, *pb;
    snprintf(name_a, sizeof name_a, "never-prebuilt-%d", i);
    snprintf(name_b, sizeof name_b, "never-encoded-%d", i);
    int rc = write_reference(b, pl, false, &warm);
    if (rc == 0)
        rc = write_reference(b, pl, false, &r->ref[i]);
    if (rc == 0)
        rc = topic_open(b, name_a, SEGLOG_FLUSH_NEVER, &pa);
    if (rc == 0)
        rc = append_prebuilt(pa, pl, false, &r->pre[i]);
    if (rc == 0)
        rc = read_seglog(pa, &r->rd[i]);
    if (rc == 0)
        rc = read_plain(b, pa, &r->rd_ref[i]);
    if (rc == 0)
        rc = topic_drop(b, name_a);
    if (rc == 0)
        rc = topic_open(b, name_b, SEGLOG_FLUSH_NEVER, &pb);
    if (rc == 0)
        rc = append_encoded(pb, b->value, b->opt.never_records, &r->enc[i]);
    if (rc == 0)
        rc = topic_drop(b, name_b);
    return rc;
}

static int phase_never(bench_t *b)
{
    pool_t pool;
    never_runs_t runs;
    int n = b->opt.rounds;
    int rc = pool_init(&pool, b->value, b->opt.never_records);
    if (rc != 0)
        return fail(rc, "building the batches");
    for (int i = 0; i < n && rc == 0; i++)
        rc = never_round(b, &pool, i, &runs);
    pool_fini(&pool);
    if (rc != 0)
        return rc;
    run_t ref = median_run(runs.ref, n), pre = median_run(runs.pre, n);
    run_t enc = median_run(runs.enc, n), rd = median_run(runs.rd, n);
    run_t rd_ref = median_run(runs.rd_ref, n);
    print_never(b, "append (prebuilt)", &pre, &ref);
    print_never(b, "encode + append", &enc, &ref);
    print_read(&rd, &rd_ref);
    return 0;
}

/* ------------------------------------------------------------------------
 * Phase 3: flush=interval
 * ------------------------------------------------------------------------ */

/* As in never_round: a warm-up write frees pages for the reference, whose
 * freed pages serve the topic. */
static int interval_round(bench_t *b, pool_t *pl, int i, run_t *ref, run_t *run)
{
    char name[32];
    run_t warm;
    seglog_part_t *p;
    snprintf(name, sizeof name, "interval-%d", i);
    settle(b->dir);
    int rc = write_reference(b, pl, false, &warm);
    if (rc == 0)
        rc = write_reference(b, pl, true, ref);
    settle(b->dir);
    if (rc == 0)
        rc = topic_open(b, name, SEGLOG_FLUSH_INTERVAL, &p);
    if (rc == 0)
        rc = append_prebuilt(p, pl, true, run);
    if (rc == 0)
        rc = topic_drop(b, name);
    return rc;
}

static int phase_interval(bench_t *b)
{
    pool_t pool;
    run_t refs[MAX_ROUNDS], runs[MAX_ROUNDS];
    int n = b->opt.rounds;
    int rc = pool_init(&pool, b->value, b->opt.interval_records);
    if (rc != 0)
        return fail(rc, "building the batches");
    for (int i = 0; i < n && rc == 0; i++)
        rc = interval_round(b, &pool, i, &refs[i], &runs[i]);
    pool_fini(&pool);
    if (rc != 0)
        return rc;
    run_t ref = median_run(refs, n), run = median_run(runs, n);
    double ratio = run_mb_s(&ref) > 0 ? run_mb_s(&run) / run_mb_s(&ref) : 0.0;
    char rate[32];
    printf("flush=interval append + sync       %7s rec/s %7.1f MB/s  cpu %3.0f%%   vs "
           "write+fdatasync %.1f MB/s  ratio %.2f  target >= %.2f  %s\n",
           bench_fmt_count(rate, sizeof rate, run_rec_s(&run)), run_mb_s(&run), run_cpu_pct(&run),
           run_mb_s(&ref), ratio, TARGET_INTERVAL_RATIO,
           verdict(b, ratio >= TARGET_INTERVAL_RATIO));
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------------------------------
 * Phase 4: flush=always latency
 * ------------------------------------------------------------------------ */

/* Releases the appenders together. state: 0 closed, 1 open, -1 cancelled.
 * Guarded by mu. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;
} gate_t;

/* One appender thread's work; owned by that thread until it is joined. */
typedef struct {
    seglog_part_t *part;
    gate_t *gate;
    const uint8_t *value;
    int64_t *lat; /* n samples, this thread's slice */
    int64_t n;
    int32_t id;
    int rc;
    char err[CORE_ERROR_DETAIL_MAX];
} appender_t;

static void gate_set(gate_t *g, int state)
{
    pthread_mutex_lock(&g->mu);
    g->state = state;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int gate_wait(gate_t *g)
{
    pthread_mutex_lock(&g->mu);
    while (g->state == 0)
        pthread_cond_wait(&g->cv, &g->mu);
    int state = g->state;
    pthread_mutex_unlock(&g->mu);
    return state;
}

static void *appender_main(void *arg)
{
    appender_t *a = arg;
    record_builder_t bld;
    uint8_t *batch = NULL;
    size_t len = 0;
    int64_t base;
    record_builder_init(&bld, CORE_MEM_APP, BATCH_MAX_BYTES);
    a->rc = encode_batch(&bld, a->id, 1, a->value, &batch, &len);
    if (gate_wait(a->gate) < 0)
        a->n = 0;
    for (int64_t i = 0; i < a->n && a->rc == 0; i++) {
        int64_t t0 = core_mono_ns();
        a->rc = seglog_append(a->part, batch, len, &base);
        a->lat[i] = core_mono_ns() - t0;
    }
    if (a->rc != 0)
        snprintf(a->err, sizeof a->err, "%s: %s", core_strerror(a->rc), core_error_detail());
    record_builder_fini(&bld);
    return NULL;
}

/* Runs `threads` appenders of `per_thread` appends each; lat receives
 * threads * per_thread samples, *wall_ns the time from release to the last
 * join. */
static int run_appenders(bench_t *b, seglog_part_t *p, int threads, int64_t per_thread,
                         int64_t *lat, int64_t *wall_ns)
{
    appender_t a[MAX_APPENDERS];
    pthread_t tid[MAX_APPENDERS];
    gate_t gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    int started = 0, rc = 0;
    for (; started < threads; started++) {
        a[started] = (appender_t){.part = p,
                                  .gate = &gate,
                                  .value = b->value,
                                  .lat = lat + started * per_thread,
                                  .n = per_thread,
                                  .id = started};
        if (pthread_create(&tid[started], NULL, appender_main, &a[started]) != 0) {
            fprintf(stderr, "bench_seglog: pthread_create: %s\n", strerror(errno));
            rc = CORE_EIO;
            break;
        }
    }
    int64_t t0 = core_mono_ns();
    gate_set(&gate, rc == 0 ? 1 : -1);
    for (int i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    *wall_ns = core_mono_ns() - t0;
    for (int i = 0; i < started && rc == 0; i++) {
        if (a[i].rc != 0) {
            fprintf(stderr, "bench_seglog: appender %d: seglog_append: %s\n", i, a[i].err);
            rc = a[i].rc;
        }
    }
    return rc;
}

/* The reference: 4 KiB appending pwrite + fdatasync on a plain file. */
static int bare_fdatasync(bench_t *b, int64_t n, int64_t *lat)
{
    char path[PATH_MAX];
    uint8_t block[BARE_BLOCK_BYTES];
    int rc = bench_path_join(path, sizeof path, b->dir, "reference-fdatasync");
    if (rc != 0)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sys_fail("open", path);
    memset(block, 0xa5, sizeof block);
    for (int64_t i = 0; i < n && rc == 0; i++) {
        int64_t t0 = core_mono_ns();
        rc = core_pwrite_all(fd, block, sizeof block, i * BARE_BLOCK_BYTES);
        if (rc != 0)
            rc = fail(rc, "pwrite reference-fdatasync");
        else if (fdatasync(fd) != 0)
            rc = sys_fail("fdatasync", path);
        lat[i] = core_mono_ns() - t0;
    }
    close(fd);
    unlink(path);
    return rc;
}

static int always_level(bench_t *b, int threads, int64_t *lat)
{
    char topic[32];
    seglog_part_t *p;
    int64_t per_thread = CORE_MAX(1, b->opt.always_appends / threads);
    size_t n = (size_t)(per_thread * threads);
    int64_t wall_ns;
    int rc = bare_fdatasync(b, (int64_t)n, lat);
    if (rc != 0)
        return rc;
    qsort(lat, n, sizeof *lat, cmp_i64);
    double bare50 = bench_percentile_ms(lat, n, 50), bare99 = bench_percentile_ms(lat, n, 99);
    snprintf(topic, sizeof topic, "always-%d", threads);
    rc = topic_open(b, topic, SEGLOG_FLUSH_ALWAYS, &p);
    if (rc == 0)
        rc = run_appenders(b, p, threads, per_thread, lat, &wall_ns);
    if (rc == 0)
        rc = check_end(p, (int64_t)n);
    if (rc == 0)
        rc = topic_drop(b, topic);
    if (rc != 0)
        return rc;
    qsort(lat, n, sizeof *lat, cmp_i64);
    double p50 = bench_percentile_ms(lat, n, 50), p99 = bench_percentile_ms(lat, n, 99);
    double ratio = bare99 > 0 ? p99 / bare99 : 0.0;
    printf("flush=always  %2d appender%s  p50 %6.3f ms  p99 %6.3f ms  %6.0f appends/s   bare "
           "fdatasync p50 %.3f p99 %.3f   p99 ratio %.2f",
           threads, threads == 1 ? " " : "s", p50, p99, (double)n / secs(wall_ns), bare50, bare99,
           ratio);
    if (threads == MAX_APPENDERS)
        printf("  target <= %.1f  %s", TARGET_ALWAYS_P99_MULT,
               verdict(b, ratio <= TARGET_ALWAYS_P99_MULT));
    printf("\n");
    fflush(stdout);
    return 0;
}

static int phase_always(bench_t *b)
{
    int64_t *lat =
        core_calloc(CORE_MEM_APP, (size_t)b->opt.always_appends + MAX_APPENDERS, sizeof *lat);
    if (lat == NULL)
        return fail(CORE_ENOMEM, "latency array");
    settle(b->dir);
    int rc = 0;
    for (size_t i = 0; i < CORE_ARRAY_LEN(appender_levels) && rc == 0; i++)
        rc = always_level(b, appender_levels[i], lat);
    core_free(lat);
    return rc;
}

/* ------------------------------------------------------------------------
 * Setup, teardown and main
 * ------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_seglog [--dir DIR] [--records N] [--appends N] [--rounds N] "
               "[--quick]\n"
               "  --dir DIR      where to work (default $TMPDIR, else /var/tmp); use a disk\n"
               "  --records N    flush=never records (default 5000000); interval uses 2/5\n"
               "  --appends N    flush=always appends per thread-count level (default 5000)\n"
               "  --rounds N     rounds of the throughput phases, median shown (default 3)\n"
               "  --quick        tiny sizes, a few seconds (smoke test)\n");
}

static int parse_options(int argc, char **argv, options_t *o)
{
    int64_t records = -1, appends = -1, rounds = -1;
    const char *tmp = getenv("TMPDIR");
    *o = (options_t){.base_dir = tmp != NULL && *tmp ? tmp : "/var/tmp"};
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(argv[i], "--dir") == 0 && next != NULL) {
            o->base_dir = next;
            i++;
        } else if (strcmp(argv[i], "--records") == 0) {
            rc = bench_parse_count("--records", next, 1, 1000000000, &records);
            i++;
        } else if (strcmp(argv[i], "--appends") == 0) {
            rc = bench_parse_count("--appends", next, MAX_APPENDERS, 1000000000, &appends);
            i++;
        } else if (strcmp(argv[i], "--rounds") == 0) {
            rc = bench_parse_count("--rounds", next, 1, MAX_ROUNDS, &rounds);
            i++;
        } else if (strcmp(argv[i], "--quick") == 0)
            o->quick = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout), 1;
        else
            rc = CORE_EINVAL;
        if (rc != 0)
            return usage(stderr), -1;
    }
    o->never_records = records > 0 ? records : o->quick ? 20000 : 5000000;
    o->interval_records = CORE_MAX(1, o->never_records * 2 / 5);
    o->always_appends = appends > 0 ? appends : o->quick ? 64 : 5000;
    o->rounds = (int)(rounds > 0 ? rounds : o->quick ? 1 : 3);
    return 0;
}

static int setup(bench_t *b)
{
    bool tmpfs;
    int rc = bench_path_join(b->dir, sizeof b->dir, b->opt.base_dir, "strata-bench-seglog-XXXXXX");
    if (rc != 0)
        return rc;
    if (mkdtemp(b->dir) == NULL)
        return sys_fail("mkdtemp", b->dir);
    b->made_dir = true;
    rc = bench_path_join(b->data_dir, sizeof b->data_dir, b->dir, "data");
    if (rc != 0)
        return rc;
    for (int i = 0; i < VALUE_BYTES; i++)
        b->value[i] = (uint8_t)(i * 151 + 17); /* fixed filler; no codec looks at it */
    const char *fs = bench_fs_name(b->dir, &tmpfs);
    printf("seglog bench: %lld records x %d B values + %d B keys, batches of %d, dir %s (%s)\n",
           (long long)b->opt.never_records, VALUE_BYTES, KEY_BYTES, BATCH_RECORDS, b->dir, fs);
    if (tmpfs)
        printf("WARNING: %s is in memory, not on a disk: fdatasync figures mean nothing here\n",
               b->dir);
    printf("interval: %lld records, flush=interval:%d; always: %lld appends of 1 record per "
           "level; throughput phases: median of %d round(s); MB = 10^6 B of batch bytes\n",
           (long long)b->opt.interval_records, INTERVAL_MS, (long long)b->opt.always_appends,
           b->opt.rounds);
    fflush(stdout);
    rc = seglog_open(b->data_dir, &b->log);
    return rc != 0 ? fail(rc, "seglog_open") : 0;
}

int main(int argc, char **argv)
{
    bench_set_name("bench_seglog");
    bench_t b;
    memset(&b, 0, sizeof b);
    int rc = parse_options(argc, argv, &b.opt);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    int64_t t0 = core_mono_ns();
    rc = setup(&b);
    if (rc == 0)
        rc = phase_never(&b);
    if (rc == 0)
        rc = phase_interval(&b);
    if (rc == 0)
        rc = phase_always(&b);
    seglog_close(b.log);
    if (b.made_dir)
        bench_remove_tree(b.dir);
    if (rc != 0)
        return 1;
    printf("targets met: %d of %d; total %.1f s\n", b.targets_met, b.targets,
           secs(core_mono_ns() - t0));
    return 0;
}
