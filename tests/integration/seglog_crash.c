/*
 * seglog_crash.c - kill -9 crash test for the commit log.
 *
 * Usage: test_seglog_crash CYCLES [SEED]
 *
 * One data folder lives through CYCLES kill cycles. In each cycle the parent
 * forks a child that opens the log, creates topic "crash" (3 partitions,
 * flush=always, 64 KiB segments, so rolls are frequent) if it is missing,
 * and appends batches of 1..50 records from 2-4 threads. Every record is a
 * pure function of a sequence number: key = be64(seq) be32(partition),
 * value and timestamp derived from (partition, seq), so the parent can
 * recompute its exact bytes. After each seglog_append() that returns 0 the
 * child writes "P BASE COUNT SEQ\n" to a pipe with one write(2) (atomic):
 * that line is the acknowledgement.
 *
 * After a seeded random delay the parent sends SIGKILL, drains the pipe and
 * opens the log itself. It then checks, per partition:
 *   - the log opened as recovered (once the child had opened it) and the
 *     partition did not fail;
 *   - every acknowledged batch sits at its acknowledged base offset with the
 *     acknowledged record count and byte-identical keys, values and
 *     timestamps;
 *   - offsets are dense from log start to log end: every batch read back
 *     with seglog_read() parses with its CRC checked, starts at the previous
 *     batch's last offset + 1, and iterates cleanly (so no half-written
 *     batch is readable); unacknowledged batches that survived must also be
 *     exact copies of what the child built;
 *   - the log end is at least the end of every acknowledged batch;
 *   - seglog_offset_for_time() gives the first offset with a record time at
 *     or after the probe, for probes drawn from the records themselves.
 * Then it closes the log cleanly. Every fifth cycle it also reopens at once
 * and checks that the open did not recover and that nothing changed. Every
 * eighth cycle skips the parent's open, so the next child starts on an
 * uncleanly closed log and may itself be killed during recovery (the
 * KAFKA-15375 lesson). One cycle in five measures the delay from fork, not
 * from the child's "ready" line, so some kills land inside seglog_open().
 *
 * Everything random comes from the seed printed at start; a failure prints
 * FAIL lines and exits 1. The data folder is removed on every exit path.
 * Threading: the parent is single-threaded whenever it forks (its log is
 * closed, so the flusher thread is gone); the child runs appender threads.
 */
#include "record/record.h"
#include "seglog/seglog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOPIC            "crash"
#define PARTS            3
#define SEGMENT_BYTES    (64 * 1024)
#define INDEX_INTERVAL   1024
#define MAX_RECORDS      50
#define KEY_LEN          12
#define VALUE_MAX        240
#define BASE_TS          1700000000000LL
#define READ_MAX         (128u * 1024)
#define READY_TIMEOUT_MS 30000
#define TIME_PROBES      16

/* ------------------------------------------------------------------------
 * Deterministic randomness and record contents
 * ------------------------------------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r)
{
    r->s += 0x9E3779B97F4A7C15ULL;
    return mix64(r->s);
}

static uint64_t rng_below(rng_t *r, uint64_t n)
{
    return rng_next(r) % n;
}

static void make_key(int32_t p, uint64_t seq, uint8_t key[KEY_LEN])
{
    core_store_be64(key, seq);
    core_store_be32(key + 8, (uint32_t)p);
}

/* Fills out (VALUE_MAX bytes) with the value of record seq; returns its
 * length, or -1 for a null value. */
static int32_t make_value(int32_t p, uint64_t seq, uint8_t *out)
{
    uint64_t h = mix64(seq * 0x100000001B3ULL ^ (uint64_t)p);
    if (h % 23 == 0)
        return -1;
    int32_t len = (int32_t)((h >> 16) % (VALUE_MAX + 1));
    uint64_t s = h;
    for (int32_t i = 0; i < len; i++) {
        if (i % 8 == 0)
            s = mix64(s + (uint64_t)i);
        out[i] = (uint8_t)(s >> (8 * (i % 8)));
    }
    return len;
}

/* Timestamps rise with seq but jitter, so record times are not ordered. */
static int64_t record_ts(uint64_t seq)
{
    return BASE_TS + (int64_t)(seq / 4) + (int64_t)(mix64(~seq) % 1000);
}

/* ------------------------------------------------------------------------
 * Child: append and acknowledge until killed
 * ------------------------------------------------------------------------ */

typedef struct {
    seglog_part_t *parts[PARTS];
    int ack_fd;
    uint64_t seed;
    _Atomic uint64_t *next_seq;
} appender_t;

static void write_line(int fd, const char *line, size_t len)
{
    ssize_t n;
    do {
        n = write(fd, line, len);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)len)
        _exit(4); /* the parent reads until it kills us: this cannot happen */
}

static _Noreturn void child_fail(int ack_fd, const char *what, int rc)
{
    char line[CORE_ERROR_DETAIL_MAX + 128];
    int n = snprintf(line, sizeof line, "error %s: %s: %s\n", what, core_strerror(rc),
                     core_error_detail());
    if (n < 0 || (size_t)n >= sizeof line) {
        n = (int)sizeof line - 1;
        line[n - 1] = '\n';
    }
    write_line(ack_fd, line, (size_t)n);
    _exit(3);
}

static void *appender_main(void *arg)
{
    appender_t *a = arg;
    rng_t r = {a->seed};
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 1 << 20);
    uint8_t key[KEY_LEN], value[VALUE_MAX];
    for (;;) {
        int32_t p = (int32_t)rng_below(&r, PARTS);
        int32_t n = 1 + (int32_t)rng_below(&r, MAX_RECORDS);
        uint64_t seq = atomic_fetch_add(a->next_seq, (uint64_t)n);
        record_builder_reset(&b);
        for (int32_t i = 0; i < n; i++) {
            uint64_t s = seq + (uint64_t)i;
            make_key(p, s, key);
            int32_t vlen = make_value(p, s, value);
            int rc = record_builder_add(&b, record_ts(s), key, KEY_LEN, vlen < 0 ? NULL : value,
                                        vlen, NULL, 0);
            if (rc != 0)
                child_fail(a->ack_fd, "record_builder_add", rc);
        }
        uint8_t *batch;
        size_t len;
        int rc = record_builder_finish(&b, &batch, &len);
        if (rc != 0)
            child_fail(a->ack_fd, "record_builder_finish", rc);
        int64_t base = -1;
        rc = seglog_append(a->parts[p], batch, len, &base);
        if (rc != 0)
            child_fail(a->ack_fd, "seglog_append", rc);
        char line[96];
        int m = snprintf(line, sizeof line, "%" PRId32 " %" PRId64 " %" PRId32 " %" PRIu64 "\n", p,
                         base, n, seq);
        write_line(a->ack_fd, line, (size_t)m);
    }
    return NULL;
}

static void topic_config(seglog_topic_config_t *c)
{
    seglog_topic_config_default(c);
    c->partitions = PARTS;
    c->flush = SEGLOG_FLUSH_ALWAYS;
    c->segment_bytes = SEGMENT_BYTES;
    c->index_interval_bytes = INDEX_INTERVAL;
}

static _Noreturn void child_run(const char *dir, int ack_fd, uint64_t seed, int cycle)
{
    seglog_t *log = NULL;
    int rc = seglog_open(dir, &log);
    if (rc != 0)
        child_fail(ack_fd, "seglog_open", rc);
    seglog_topic_t *t = seglog_topic_get(log, TOPIC);
    if (t == NULL) {
        seglog_topic_config_t c;
        topic_config(&c);
        rc = seglog_topic_create(log, TOPIC, &c);
        if (rc != 0)
            child_fail(ack_fd, "seglog_topic_create", rc);
        t = seglog_topic_get(log, TOPIC);
    }
    if (t == NULL || seglog_topic_config(t)->partitions != PARTS)
        child_fail(ack_fd, "topic lookup", CORE_ENOENT);
    write_line(ack_fd, "ready\n", 6);

    static _Atomic uint64_t next_seq;
    atomic_store(&next_seq, (uint64_t)(cycle + 1) << 32);
    int threads = 2 + (int)(mix64(seed ^ 0xA5A5) % 3);
    static appender_t apps[4];
    pthread_t tids[4];
    for (int i = 0; i < threads; i++) {
        for (int32_t p = 0; p < PARTS; p++)
            apps[i].parts[p] = seglog_partition(t, p);
        apps[i].ack_fd = ack_fd;
        apps[i].seed = mix64(seed + (uint64_t)i * 7919);
        apps[i].next_seq = &next_seq;
        if (pthread_create(&tids[i], NULL, appender_main, &apps[i]) != 0)
            child_fail(ack_fd, "pthread_create", CORE_EIO);
    }
    for (;;)
        pause(); /* the parent's SIGKILL ends us */
}

/* ------------------------------------------------------------------------
 * Parent: bookkeeping of acknowledgements
 * ------------------------------------------------------------------------ */

typedef struct {
    int64_t base;
    int32_t count;
    uint64_t seq;
} ack_t;

typedef struct {
    ack_t *v;
    size_t n, cap;
    bool sorted;
} ack_list_t;

static ack_list_t g_acks[PARTS];
static pid_t g_child = -1;
static char g_dir[4096];

static int ack_push(ack_list_t *l, ack_t a)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        ack_t *v = realloc(l->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = a;
    l->sorted = false;
    return 0;
}

static int cmp_ack(const void *a, const void *b)
{
    const ack_t *x = a, *y = b;
    return (x->base > y->base) - (x->base < y->base);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        return -1;                                                                                 \
    } while (0)
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            FAIL(__VA_ARGS__);                                                                     \
    } while (0)

typedef struct {
    bool ready;      /* the child finished seglog_open() */
    size_t acks;     /* acknowledgements this cycle */
    char line[8192]; /* partial line carried between reads */
    size_t line_len;
} cycle_io_t;

static int parse_line(cycle_io_t *io, const char *line)
{
    if (strcmp(line, "ready") == 0) {
        io->ready = true;
        return 0;
    }
    if (strncmp(line, "error ", 6) == 0)
        FAIL("child reported an %s", line);
    int32_t p;
    int64_t base;
    int32_t count;
    uint64_t seq;
    char extra;
    int n = sscanf(line, "%" SCNd32 " %" SCNd64 " %" SCNd32 " %" SCNu64 "%c", &p, &base, &count,
                   &seq, &extra);
    CHECK(n == 4 && p >= 0 && p < PARTS && base >= 0 && count >= 1 && count <= MAX_RECORDS,
          "malformed acknowledgement line '%s'", line);
    CHECK(ack_push(&g_acks[p], (ack_t){base, count, seq}) == 0, "out of memory");
    io->acks++;
    return 0;
}

/* Reads what the pipe holds; returns 1 at EOF, 0 otherwise, -1 on failure. */
static int pump(int fd, cycle_io_t *io)
{
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    CHECK(n >= 0, "read from the child's pipe: %s", strerror(errno));
    if (n == 0)
        return 1;
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] != '\n') {
            CHECK(io->line_len + 1 < sizeof io->line, "overlong line from the child");
            io->line[io->line_len++] = buf[i];
            continue;
        }
        io->line[io->line_len] = '\0';
        io->line_len = 0;
        if (parse_line(io, io->line) != 0)
            return -1;
    }
    return 0;
}

/* Runs one child until the kill; fills io. */
static int run_child(int cycle, rng_t *rng, cycle_io_t *io)
{
    int fds[2];
    CHECK(pipe2(fds, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
    uint64_t child_seed = rng_next(rng);
    int64_t delay = 5 + (int64_t)rng_below(rng, 76);
    bool from_fork = rng_below(rng, 5) == 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        FAIL("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        child_run(g_dir, fds[1], child_seed, cycle);
    }
    g_child = pid;
    close(fds[1]);
    int64_t start = core_mono_ms();
    int64_t deadline = from_fork ? start + delay : start + READY_TIMEOUT_MS;
    bool armed = from_fork;
    int rc = 0;
    while (rc == 0) {
        int64_t now = core_mono_ms();
        if (now >= deadline)
            break;
        struct pollfd pfd = {fds[0], POLLIN, 0};
        int pr = poll(&pfd, 1, (int)(deadline - now));
        if (pr > 0)
            rc = pump(fds[0], io);
        if (!armed && io->ready) {
            armed = true;
            deadline = core_mono_ms() + delay;
        }
    }
    if (rc == 0 && !armed)
        fprintf(stderr, "FAIL: child not ready after %d ms\n", READY_TIMEOUT_MS), rc = -1;
    kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    g_child = -1;
    while (rc == 0 && (rc = pump(fds[0], io)) == 0)
        ;
    close(fds[0]);
    if (rc < 0)
        return -1;
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
          "cycle %d: the child ended on its own (status 0x%x) before the kill", cycle, status);
    return 0;
}

/* ------------------------------------------------------------------------
 * Parent: verification
 * ------------------------------------------------------------------------ */

typedef struct {
    int64_t *ts; /* record time by offset - log_start */
    size_t n, cap;
} ts_list_t;

typedef struct {
    size_t acked_batches;
    size_t extra_batches; /* survived without an acknowledgement */
    size_t records;
} verify_stats_t;

static int ts_push(ts_list_t *l, int64_t ts)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        int64_t *v = realloc(l->ts, cap * sizeof *v);
        if (v == NULL)
            return -1;
        l->ts = v;
        l->cap = cap;
    }
    l->ts[l->n++] = ts;
    return 0;
}

/* Checks every record of one batch against what the child built. */
static int verify_batch(int32_t p, const uint8_t *b, size_t len, int64_t base, uint64_t *first_seq,
                        ts_list_t *ts)
{
    record_iter_t it;
    int rc = record_iter_init(&it, b, len, true);
    CHECK(rc == 0, "p%d batch %lld: %s", p, (long long)base, core_error_detail());
    record_t r;
    int32_t i = 0;
    uint8_t want[VALUE_MAX];
    while ((rc = record_iter_next(&it, &r)) == 1) {
        CHECK(r.offset == base + i, "p%d batch %lld: record %d has offset %lld", p, (long long)base,
              i, (long long)r.offset);
        CHECK(r.key_len == KEY_LEN && r.key != NULL, "p%d offset %lld: key of %d bytes", p,
              (long long)r.offset, r.key_len);
        uint64_t seq = core_load_be64(r.key);
        int32_t kp = (int32_t)core_load_be32(r.key + 8);
        if (i == 0)
            *first_seq = seq;
        CHECK(kp == p && seq == *first_seq + (uint64_t)i,
              "p%d offset %lld: key names partition %d seq %" PRIu64 ", expected seq %" PRIu64, p,
              (long long)r.offset, kp, seq, *first_seq + (uint64_t)i);
        int32_t wlen = make_value(p, seq, want);
        CHECK(r.value_len == wlen && (wlen <= 0 || memcmp(r.value, want, (size_t)wlen) == 0),
              "p%d offset %lld (seq %" PRIu64 "): value differs (%d bytes, expected %d)", p,
              (long long)r.offset, seq, r.value_len, wlen);
        CHECK(r.timestamp == record_ts(seq), "p%d offset %lld: timestamp %lld, expected %lld", p,
              (long long)r.offset, (long long)r.timestamp, (long long)record_ts(seq));
        CHECK(ts_push(ts, r.timestamp) == 0, "out of memory");
        i++;
    }
    CHECK(rc == 0, "p%d batch %lld: record %d: %s", p, (long long)base, i, core_error_detail());
    CHECK(i == it.h.records_count && i == it.h.last_offset_delta + 1,
          "p%d batch %lld: %d records, header says %d (last delta %d)", p, (long long)base, i,
          it.h.records_count, it.h.last_offset_delta);
    return 0;
}

/* Checks seglog_offset_for_time() against the record times read back. */
static int verify_time(seglog_part_t *part, int32_t p, const ts_list_t *ts, int64_t start,
                       int64_t end, rng_t *rng)
{
    for (int q = 0; q < TIME_PROBES; q++) {
        int64_t probe;
        if (q == 0 || ts->n == 0)
            probe = BASE_TS - 1;
        else if (q == 1)
            probe = INT64_MAX;
        else
            probe = ts->ts[rng_below(rng, ts->n)] + (int64_t)rng_below(rng, 3) - 1;
        int64_t want = end;
        for (size_t i = 0; i < ts->n; i++) {
            if (ts->ts[i] >= probe) {
                want = start + (int64_t)i;
                break;
            }
        }
        int64_t got = -1;
        int rc = seglog_offset_for_time(part, probe, &got);
        CHECK(rc == 0, "p%d offset_for_time(%lld): %s", p, (long long)probe, core_error_detail());
        CHECK(got == want,
              "p%d offset_for_time(%lld) = %lld, but the first record at or after "
              "that time is at offset %lld",
              p, (long long)probe, (long long)got, (long long)want);
    }
    return 0;
}

/* Reads partition p whole and checks it against the acknowledgements. */
static int verify_partition(seglog_part_t *part, int32_t p, rng_t *rng, verify_stats_t *st,
                            int64_t *end_out)
{
    ack_list_t *acks = &g_acks[p];
    if (!acks->sorted) {
        qsort(acks->v, acks->n, sizeof *acks->v, cmp_ack);
        acks->sorted = true;
    }
    seglog_part_info_t info;
    seglog_part_info(part, &info);
    CHECK(!info.failed, "p%d failed: %s", p, seglog_part_error(part));
    CHECK(info.log_start == 0, "p%d: log start %lld", p, (long long)info.log_start);
    CHECK(info.durable_end == info.log_end, "p%d: durable end %lld != log end %lld after open", p,
          (long long)info.durable_end, (long long)info.log_end);
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_TEST, 64u << 20);
    ts_list_t ts = {0};
    size_t ai = 0;
    int64_t next = info.log_start;
    int rc = 0;
    while (rc == 0 && next < info.log_end) {
        core_buf_reset(&buf);
        rc = seglog_read(part, next, READ_MAX, &buf);
        if (rc != 0 || buf.len == 0) {
            fprintf(stderr, "FAIL: p%d read at %lld (log end %lld): rc %d, %zu bytes: %s\n", p,
                    (long long)next, (long long)info.log_end, rc, buf.len, core_error_detail());
            rc = -1;
            break;
        }
        for (size_t at = 0; rc == 0 && at < buf.len;) {
            record_batch_header_t h;
            if (record_batch_parse(buf.data + at, buf.len - at, true, &h) != 0) {
                fprintf(stderr, "FAIL: p%d batch at offset %lld: %s\n", p, (long long)next,
                        core_error_detail());
                rc = -1;
                break;
            }
            if (h.base_offset != next) {
                fprintf(stderr,
                        "FAIL: p%d: batch base %lld where %lld was expected (offsets "
                        "not dense)\n",
                        p, (long long)h.base_offset, (long long)next);
                rc = -1;
                break;
            }
            uint64_t first_seq = 0;
            rc = verify_batch(p, buf.data + at, record_batch_size(&h), h.base_offset, &first_seq,
                              &ts);
            if (rc != 0)
                break;
            if (ai < acks->n && acks->v[ai].base < h.base_offset) {
                fprintf(stderr,
                        "FAIL: p%d: acknowledged batch at %lld (%d records, seq %" PRIu64
                        ") is missing; the log has a batch at %lld\n",
                        p, (long long)acks->v[ai].base, acks->v[ai].count, acks->v[ai].seq,
                        (long long)h.base_offset);
                rc = -1;
                break;
            }
            if (ai < acks->n && acks->v[ai].base == h.base_offset) {
                const ack_t *a = &acks->v[ai];
                if (a->count != h.records_count || a->seq != first_seq) {
                    fprintf(stderr,
                            "FAIL: p%d offset %lld: acknowledged %d records from seq %" PRIu64
                            ", found %d from seq %" PRIu64 "\n",
                            p, (long long)a->base, a->count, a->seq, h.records_count, first_seq);
                    rc = -1;
                    break;
                }
                ai++;
                st->acked_batches++;
            } else {
                st->extra_batches++;
            }
            st->records += (size_t)h.records_count;
            next = record_batch_last_offset(&h) + 1;
            at += record_batch_size(&h);
        }
    }
    if (rc == 0 && next != info.log_end) {
        fprintf(stderr, "FAIL: p%d: batches end at %lld, log end is %lld\n", p, (long long)next,
                (long long)info.log_end);
        rc = -1;
    }
    if (rc == 0 && ai < acks->n) {
        const ack_t *a = &acks->v[ai];
        fprintf(stderr,
                "FAIL: p%d: acknowledged batch at %lld (%d records) lost: log end is "
                "%lld, %zu acknowledged batches missing\n",
                p, (long long)a->base, a->count, (long long)info.log_end, acks->n - ai);
        rc = -1;
    }
    if (rc == 0) {
        core_buf_reset(&buf);
        int r1 = seglog_read(part, info.log_end, READ_MAX, &buf);
        size_t got = buf.len;
        int r2 = seglog_read(part, info.log_end + 1, READ_MAX, &buf);
        if (r1 != 0 || got != 0 || r2 != CORE_ERANGE) {
            fprintf(stderr, "FAIL: p%d: read at log end gave rc %d and %zu bytes; past it rc %d\n",
                    p, r1, got, r2);
            rc = -1;
        }
    }
    if (rc == 0)
        rc = verify_time(part, p, &ts, info.log_start, info.log_end, rng);
    core_buf_fini(&buf);
    free(ts.ts);
    *end_out = info.log_end;
    return rc;
}

static int verify_log(seglog_t *log, rng_t *rng, verify_stats_t *st, int64_t ends[PARTS])
{
    seglog_topic_t *t = seglog_topic_get(log, TOPIC);
    if (t == NULL) {
        for (int32_t p = 0; p < PARTS; p++)
            CHECK(g_acks[p].n == 0, "topic '%s' is gone but p%d has acknowledged batches", TOPIC,
                  p);
        for (int32_t p = 0; p < PARTS; p++)
            ends[p] = -1;
        return 0;
    }
    CHECK(seglog_topic_config(t)->partitions == PARTS, "topic has %d partitions",
          seglog_topic_config(t)->partitions);
    for (int32_t p = 0; p < PARTS; p++)
        if (verify_partition(seglog_partition(t, p), p, rng, st, &ends[p]) != 0)
            return -1;
    return 0;
}

/* Size of the newest .log in each partition folder (-1 if none), to count
 * torn tails that recovery cuts. */
static void last_segment_sizes(int64_t sizes[PARTS], char names[PARTS][64])
{
    for (int32_t p = 0; p < PARTS; p++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/topics/%s-%d", g_dir, TOPIC, (int)p);
        sizes[p] = -1;
        names[p][0] = '\0';
        DIR *d = opendir(dir);
        if (d == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len != 24 || strcmp(e->d_name + 20, ".log") != 0)
                continue;
            if (names[p][0] == '\0' || strcmp(e->d_name, names[p]) > 0)
                snprintf(names[p], 64, "%s", e->d_name);
        }
        closedir(d);
        if (names[p][0] != '\0') {
            char path[4300];
            struct stat sb;
            snprintf(path, sizeof path, "%s/%s", dir, names[p]);
            if (stat(path, &sb) == 0)
                sizes[p] = sb.st_size;
        }
    }
}

static int count_cut_tails(int64_t before[PARTS], char names[PARTS][64])
{
    int64_t after[PARTS];
    char names_after[PARTS][64];
    last_segment_sizes(after, names_after);
    int cut = 0;
    for (int32_t p = 0; p < PARTS; p++)
        if (before[p] >= 0 && strcmp(names[p], names_after[p]) == 0 && after[p] < before[p])
            cut++;
    return cut;
}

/* Opens after a kill, verifies, closes cleanly; every fifth cycle reopens
 * to check the clean path too. */
static int verify_cycle(int cycle, bool dirty, rng_t *rng, verify_stats_t *st, int *cut)
{
    int64_t sizes[PARTS];
    char names[PARTS][64];
    last_segment_sizes(sizes, names);
    seglog_t *log = NULL;
    int rc = seglog_open(g_dir, &log);
    CHECK(rc == 0, "cycle %d: seglog_open after the kill: %s", cycle, core_error_detail());
    *cut += count_cut_tails(sizes, names);
    if (dirty && !seglog_recovered(log)) {
        seglog_close(log);
        FAIL("cycle %d: the log was not closed cleanly, but seglog_recovered() is false", cycle);
    }
    int64_t ends[PARTS];
    memset(st, 0, sizeof *st);
    rc = verify_log(log, rng, st, ends);
    seglog_close(log);
    if (rc != 0) {
        fprintf(stderr, "FAIL: cycle %d: verification after the kill failed\n", cycle);
        return -1;
    }
    if (cycle % 5 != 4)
        return 0;
    rc = seglog_open(g_dir, &log);
    CHECK(rc == 0, "cycle %d: clean reopen: %s", cycle, core_error_detail());
    if (seglog_recovered(log)) {
        seglog_close(log);
        FAIL("cycle %d: reopen after a clean close reports seglog_recovered() == true", cycle);
    }
    int64_t again[PARTS];
    verify_stats_t st2 = {0};
    rc = verify_log(log, rng, &st2, again);
    seglog_close(log);
    CHECK(rc == 0, "cycle %d: verification after a clean reopen failed", cycle);
    for (int32_t p = 0; p < PARTS; p++)
        CHECK(again[p] == ends[p],
              "cycle %d: p%d log end %lld after the clean reopen, %lld "
              "before",
              cycle, p, (long long)again[p], (long long)ends[p]);
    CHECK(st2.records == st->records && st2.acked_batches == st->acked_batches,
          "cycle %d: clean reopen changed the data", cycle);
    return 0;
}

/* ------------------------------------------------------------------------
 * Main
 * ------------------------------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void)
{
    if (g_child > 0) {
        kill(g_child, SIGKILL);
        waitpid(g_child, NULL, 0);
        g_child = -1;
    }
    if (g_dir[0] != '\0') {
        nftw(g_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        g_dir[0] = '\0';
    }
    for (int32_t p = 0; p < PARTS; p++) {
        free(g_acks[p].v);
        g_acks[p] = (ack_list_t){0};
    }
}

static int run(int cycles, uint64_t seed)
{
    rng_t rng = {seed};
    verify_stats_t st = {0};
    int cut = 0;
    size_t acked_total = 0;
    bool dirty = false; /* no clean-shutdown marker since a child opened the log */
    for (int cycle = 0; cycle < cycles; cycle++) {
        cycle_io_t *io = calloc(1, sizeof *io);
        CHECK(io != NULL, "out of memory");
        int rc = run_child(cycle, &rng, io);
        bool ready = io->ready;
        acked_total += io->acks;
        free(io);
        if (rc != 0) {
            fprintf(stderr, "FAIL: cycle %d: child run failed\n", cycle);
            return -1;
        }
        dirty = dirty || ready;
        if (cycle % 8 == 6 && cycle + 1 < cycles)
            continue; /* the next child recovers an unclean log itself */
        if (verify_cycle(cycle, dirty, &rng, &st, &cut) != 0)
            return -1;
        dirty = false;
    }
    core_mem_stats_t ms;
    core_mem_stats(CORE_MEM_SEGLOG, &ms);
    CHECK(ms.bytes == 0, "seglog still holds %lld bytes after its last close", (long long)ms.bytes);
    printf("seglog_crash: %d kill cycles, %zu acked batches verified (%zu acknowledged in "
           "total), %zu unacknowledged batches survived whole, %zu records, %d torn tails cut\n",
           cycles, st.acked_batches, acked_total, st.extra_batches, st.records, cut);
    CHECK(st.acked_batches == acked_total, "%zu acknowledgements but %zu acked batches verified",
          acked_total, st.acked_batches);
    return 0;
}

int main(int argc, char **argv)
{
    int64_t cycles = 0;
    int64_t seed_arg = 0;
    if (argc < 2 || argc > 3 || core_parse_i64(argv[1], 1, 100000, &cycles) != 0 ||
        (argc == 3 && core_parse_i64(argv[2], 0, INT64_MAX, &seed_arg) != 0)) {
        fprintf(stderr, "usage: %s CYCLES [SEED]\n", argv[0]);
        return 2;
    }
    uint64_t seed = argc == 3 ? (uint64_t)seed_arg
                              : (uint64_t)(core_wall_us() ^ ((int64_t)getpid() << 20)) >> 1;
    printf("seglog_crash: seed %" PRIu64 " (rerun: %s %lld %" PRIu64 ")\n", seed, argv[0],
           (long long)cycles, seed);
    fflush(stdout);
    core_log_set_level(CORE_LOG_ERROR); /* torn-tail warnings are expected here */
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/strata-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        fprintf(stderr, "FAIL: mkdtemp %s: %s\n", g_dir, strerror(errno));
        g_dir[0] = '\0';
        return 1;
    }
    int rc = run((int)cycles, seed);
    cleanup();
    if (rc != 0) {
        fprintf(stderr, "seglog_crash: FAILED (seed %" PRIu64 ")\n", seed);
        return 1;
    }
    return 0;
}
