/*
 * tests/fuzz/seglog_recovery.c - libFuzzer target for seglog recovery: the
 * input becomes the files of one partition folder, and the log must open
 * it without crashing and end up in a state its contract allows.
 *
 * Input layout (missing bytes read as zero):
 *   [0]      flags: bit 0 two segments; bits 1-2 index files (0 none,
 *            1 garbage from the input, 2 derived from the .log, 3 derived
 *            then one byte flipped); bit 3 clean-shutdown marker; bit 4
 *            recovery-point file; bit 5 recompute each batch's CRC (so the
 *            fuzzer can explore header fields behind the checksum); bit 6
 *            relocate (add the segment base to every BaseOffset); bit 7
 *            perturb the second segment's base by the signed byte [12]
 *   [1]      bits 0-2 first segment base (table below), bits 3-4
 *            segment.bytes, bits 5-7 index.interval.bytes
 *   [2..9]   timestamp for seglog_offset_for_time (big-endian)
 *   [10..11] split point of the payload between the two segments
 *   [12]     parameter: base perturbation, recovery-point choice, garbage
 *            index length, flipped byte
 *   [13..]   payload: the .log bytes (and garbage index bytes at its end)
 *
 * Per input: wipe a per-process temp folder (mkdtemp once, on /dev/shm when
 * it exists), write DATA/topics/fz.topic and the files of fz-0, open,
 * read every partition from log start to end, ask offset_for_time, append
 * one batch, close, reopen, check, close. Violations call abort().
 *
 * Invariants. Always: open never crashes; the appended batch (if the
 * partition did not fail) gets base == the old log end and reads back
 * byte-identical after a clean close and reopen, and the log end survives
 * that reopen; a read below the log end returns at least one whole batch
 * or an error, never an empty success; offset_for_time answers inside the
 * log. When nothing can make recovery trust unscanned bytes (no
 * marker, and no recovery point vouching for a sealed segment with index
 * files), a model computed here with record_batch_parse() predicts the
 * outcome exactly: a corrupt sealed segment or a gap fails the partition;
 * otherwise the partition holds exactly the valid, dense prefix of the
 * input (byte-identical) and reads back from start to end with CRCs and
 * dense offsets; when every batch's records decode (recovery checks only
 * headers and CRCs, and the fuzzer can forge CRCs) they iterate cleanly, and
 * when each batch's MaxTimestamp also matches its records, offset_for_time
 * gives the first record at or after the probe.
 *
 * Threading: single-threaded, like libFuzzer's driver (seglog runs its own
 * flusher thread between open and close).
 */
#include "record/record.h"
#include "seglog/seglog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR            13
#define TOPIC          "fz"
#define APPEND_RECORDS 3
#define READ_MAX       (64u * 1024)
#define MAX_BATCHES    100000

static const int64_t k_bases[8] = {
    0,
    1,
    4096,
    INT32_MAX,
    (int64_t)UINT32_MAX - 2,
    (int64_t)1 << 40,
    INT64_MAX - (1 << 20),
    INT64_MAX - 2,
};
static const int64_t k_segment_bytes[4] = {1024, 4096, 65536, (int64_t)1 << 30};
static const int32_t k_index_interval[8] = {1, 13, 61, 128, 512, 1024, 4096, 1 << 20};

static char g_root[4096];

#define VIOLATION(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "seglog_recovery invariant violated (%s:%d): ", __FILE__, __LINE__);       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)
#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            VIOLATION(__VA_ARGS__);                                                                \
    } while (0)

/* ------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------ */

#define PATH_CAP 4096

/* Formats a path; a path that does not fit is a harness failure. */
static void path_fmt(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_fmt(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, PATH_CAP, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_CAP)
        abort();
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_root(void)
{
    if (g_root[0] != '\0')
        nftw(g_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup_once(void)
{
    if (g_root[0] != '\0')
        return;
    core_log_set_level(CORE_LOG_OFF);
    struct stat st;
    const char *tmp = getenv("TMPDIR");
    const char *base =
        stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
            ? "/dev/shm"
            : (tmp && *tmp ? tmp : "/tmp");
    snprintf(g_root, sizeof g_root, "%s/strata-fuzz-seglog-XXXXXX", base);
    if (mkdtemp(g_root) == NULL) {
        perror("mkdtemp");
        abort();
    }
    atexit(remove_root);
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || (n > 0 && write(fd, p, n) != (ssize_t)n)) {
        perror(path);
        abort();
    }
    close(fd);
}

static void segment_file(char *out, const char *dir, int64_t base, const char *ext)
{
    path_fmt(out, "%s/%020" PRId64 "%s", dir, base, ext);
}

/* ------------------------------------------------------------------------
 * Preparing segment bytes and the model of what recovery must keep
 * ------------------------------------------------------------------------ */

typedef struct {
    uint8_t *bytes; /* the .log contents, owned */
    size_t len;
    int64_t base;
    size_t valid_len; /* bytes of the valid, dense prefix */
    int64_t next;     /* offset after the valid prefix */
    bool whole;       /* the whole file is valid */
    bool records_ok;  /* every valid batch's records decode */
    bool time_exact;  /* ... and each holds >= 1 record, the largest time
                       * of which is its header's MaxTimestamp */
} seg_t;

static int64_t wrap_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

/* Walks the batch frames (Length only) of the payload, fixing CRCs and
 * adding `base` to every BaseOffset as the flags ask. One pass over the
 * whole payload, before it is split, so both segments move together. */
static void massage(uint8_t *p, size_t len, int64_t base, bool fix_crc, bool relocate)
{
    size_t pos = 0;
    while (len - pos >= RECORD_BATCH_HEADER_SIZE) {
        uint8_t *b = p + pos;
        int32_t length = (int32_t)core_load_be32(b + RECORD_OFF_LENGTH);
        if (length < RECORD_BATCH_HEADER_SIZE - RECORD_BATCH_LOG_OVERHEAD)
            break;
        size_t size = (size_t)length + RECORD_BATCH_LOG_OVERHEAD;
        if (size > len - pos)
            break;
        if (relocate)
            core_store_be64(b, (uint64_t)wrap_add((int64_t)core_load_be64(b), base));
        if (fix_crc)
            core_store_be32(b + RECORD_OFF_CRC, core_crc32c(0, b + RECORD_OFF_ATTRIBUTES,
                                                            size - RECORD_OFF_ATTRIBUTES));
        pos += size;
    }
}

/* Computes the valid prefix the way recovery's scan must: whole frames,
 * a header and CRC that record_batch_parse() accepts, dense offsets.
 * Recovery never decodes records, and the fuzzer can forge CRCs (its
 * comparison tracing hands it the computed value), so record validity is
 * tracked apart, for the checks that depend on it. */
static void model(seg_t *s)
{
    size_t pos = 0;
    int64_t next = s->base;
    s->records_ok = s->time_exact = true;
    while (pos < s->len) {
        size_t left = s->len - pos, size;
        record_batch_header_t h;
        if (record_batch_peek_size(s->bytes + pos, left, (size_t)INT32_MAX, &size) != 0 ||
            size > left || record_batch_parse(s->bytes + pos, size, true, &h) != 0 ||
            h.base_offset != next)
            break;
        if (h.base_offset > INT64_MAX - 1 - h.last_offset_delta)
            break; /* the next offset must fit in an int64 */
        record_iter_t it;
        record_t r;
        int32_t count = 0;
        int64_t max_ts = INT64_MIN;
        int rc = record_iter_init(&it, s->bytes + pos, size, false);
        while (rc == 0 && (rc = record_iter_next(&it, &r)) == 1) {
            rc = 0;
            count++;
            max_ts = CORE_MAX(max_ts, r.timestamp);
        }
        if (rc != 0)
            s->records_ok = false;
        if (rc != 0 || count == 0 || max_ts != h.max_timestamp)
            s->time_exact = false;
        next = h.base_offset + h.last_offset_delta + 1;
        pos += size;
    }
    s->valid_len = pos;
    s->next = next;
    s->whole = pos == s->len;
}

/* Index files derived from the .log: one offset entry per batch, one time
 * entry whenever the running largest timestamp grows. */
static void derive_indexes(const seg_t *s, uint8_t **oidx, size_t *olen, uint8_t **tidx,
                           size_t *tlen)
{
    size_t cap = s->len / RECORD_BATCH_HEADER_SIZE + 1;
    *oidx = calloc(cap, 8);
    *tidx = calloc(cap, 12);
    if (*oidx == NULL || *tidx == NULL)
        abort();
    *olen = *tlen = 0;
    size_t pos = 0;
    int64_t max_ts = INT64_MIN;
    while (s->len - pos >= RECORD_BATCH_HEADER_SIZE) {
        const uint8_t *b = s->bytes + pos;
        int32_t length = (int32_t)core_load_be32(b + RECORD_OFF_LENGTH);
        if (length < RECORD_BATCH_HEADER_SIZE - RECORD_BATCH_LOG_OVERHEAD ||
            (size_t)length + RECORD_BATCH_LOG_OVERHEAD > s->len - pos)
            break;
        uint32_t rel = (uint32_t)((uint64_t)core_load_be64(b) - (uint64_t)s->base);
        core_store_be32(*oidx + *olen, rel);
        core_store_be32(*oidx + *olen + 4, (uint32_t)pos);
        *olen += 8;
        int64_t ts = (int64_t)core_load_be64(b + RECORD_OFF_MAX_TIMESTAMP);
        if (ts > max_ts) {
            max_ts = ts;
            core_store_be64(*tidx + *tlen, (uint64_t)ts);
            core_store_be32(*tidx + *tlen + 8, rel);
            *tlen += 12;
        }
        pos += (size_t)length + RECORD_BATCH_LOG_OVERHEAD;
    }
}

typedef struct {
    uint8_t flags, sel, param;
    int64_t ts;
    uint16_t split;
    bool two, marker, rp, fix_crc, relocate, perturb;
    int index_mode;
    const uint8_t *payload;
    size_t payload_len;
    const uint8_t *garbage; /* garbage index bytes (index mode 1) */
    size_t garbage_len;
} input_t;

static void parse_input(const uint8_t *data, size_t size, input_t *in)
{
    uint8_t h[HDR] = {0};
    memcpy(h, data, CORE_MIN(size, (size_t)HDR));
    memset(in, 0, sizeof *in);
    in->flags = h[0];
    in->sel = h[1];
    in->ts = (int64_t)core_load_be64(h + 2);
    in->split = core_load_be16(h + 10);
    in->param = h[12];
    in->two = h[0] & 1;
    in->index_mode = (h[0] >> 1) & 3;
    in->marker = h[0] & 8;
    in->rp = h[0] & 16;
    in->fix_crc = h[0] & 32;
    in->relocate = h[0] & 64;
    in->perturb = h[0] & 128;
    in->payload = size > HDR ? data + HDR : data;
    in->payload_len = size > HDR ? size - HDR : 0;
    if (in->index_mode == 1) {
        in->garbage_len = CORE_MIN((size_t)in->param * 4, in->payload_len / 2);
        in->payload_len -= in->garbage_len;
        in->garbage = in->payload + in->payload_len;
    }
}

static void seg_init(seg_t *s, const uint8_t *p, size_t n, int64_t base)
{
    s->bytes = malloc(n ? n : 1);
    if (s->bytes == NULL)
        abort();
    if (n > 0)
        memcpy(s->bytes, p, n);
    s->len = n;
    s->base = base;
    model(s);
}

static void write_indexes(const char *dir, const seg_t *s, const input_t *in)
{
    char path[PATH_CAP];
    if (in->index_mode == 0)
        return;
    if (in->index_mode == 1) {
        size_t half = in->garbage_len / 2;
        segment_file(path, dir, s->base, ".index");
        write_file(path, in->garbage, half);
        segment_file(path, dir, s->base, ".timeindex");
        write_file(path, in->garbage + half, in->garbage_len - half);
        return;
    }
    uint8_t *o, *t;
    size_t ol, tl;
    derive_indexes(s, &o, &ol, &t, &tl);
    if (in->index_mode == 3) {
        uint8_t *victim = (in->param & 1) ? t : o;
        size_t vlen = (in->param & 1) ? tl : ol;
        if (vlen > 0)
            victim[(in->param >> 1) % vlen] ^= (uint8_t)(1u << (in->param % 8));
    }
    segment_file(path, dir, s->base, ".index");
    write_file(path, o, ol);
    segment_file(path, dir, s->base, ".timeindex");
    write_file(path, t, tl);
    free(o);
    free(t);
}

/* ------------------------------------------------------------------------
 * Checking the opened log
 * ------------------------------------------------------------------------ */

typedef struct {
    seg_t seg[2];
    int nseg;
    bool strict;
    bool expect_failed;
    int64_t expect_start, expect_end;
    uint8_t *expect_bytes; /* the valid bytes recovery must keep, in order */
    size_t expect_len;
} plan_t;

/* Reads the partition from log start to end. In strict mode every read must
 * succeed and reproduce expect_bytes; otherwise errors are allowed but must
 * be reported as codes, not crashes. Returns the bytes read (free with
 * core_free). */
static uint8_t *read_all(seglog_part_t *part, bool strict, bool records_must_parse, size_t *out_len)
{
    seglog_part_info_t info;
    seglog_part_info(part, &info);
    core_buf_t all, buf;
    core_buf_init(&all, CORE_MEM_TEST, SIZE_MAX);
    core_buf_init(&buf, CORE_MEM_TEST, 64u << 20);
    int64_t next = info.log_start;
    for (int guard = 0; next < info.log_end && guard < MAX_BATCHES; guard++) {
        core_buf_reset(&buf);
        int rc = seglog_read(part, next, READ_MAX, &buf);
        /* Below the log end a read returns at least one whole batch or an
         * error, in every mode: an empty success would spin a consumer. */
        REQUIRE(rc != 0 || buf.len > 0,
                "read at %" PRId64 " below log end %" PRId64 " succeeded with no bytes", next,
                info.log_end);
        if (rc != 0) {
            REQUIRE(!strict, "read at %" PRId64 " of [%" PRId64 ", %" PRId64 "): rc %d: %s", next,
                    info.log_start, info.log_end, rc, core_error_detail());
            break;
        }
        size_t at = 0;
        bool stop = false;
        while (at < buf.len) {
            record_batch_header_t h;
            if (record_batch_parse(buf.data + at, buf.len - at, true, &h) != 0) {
                REQUIRE(!strict, "batch at offset %" PRId64 " fails its check: %s", next,
                        core_error_detail());
                stop = true;
                break;
            }
            if (h.base_offset != next || h.base_offset > INT64_MAX - 1 - h.last_offset_delta) {
                REQUIRE(!strict, "batch base %" PRId64 " where %" PRId64 " was expected",
                        h.base_offset, next);
                stop = true;
                break;
            }
            size_t size = record_batch_size(&h);
            record_iter_t it;
            record_t r;
            int irc = record_iter_init(&it, buf.data + at, size, true);
            while (irc == 0 && (irc = record_iter_next(&it, &r)) == 1) {
                REQUIRE(!strict ||
                            (r.offset >= h.base_offset && r.offset <= record_batch_last_offset(&h)),
                        "record offset %" PRId64 " outside its batch", r.offset);
                irc = 0;
            }
            REQUIRE(!strict || !records_must_parse || irc == 0,
                    "records of batch %" PRId64 " do not parse: %s", h.base_offset,
                    core_error_detail());
            if (core_buf_append(&all, buf.data + at, size) != 0)
                abort();
            next = record_batch_last_offset(&h) + 1;
            at += size;
        }
        if (stop)
            break;
    }
    REQUIRE(!strict || next == info.log_end, "batches end at %" PRId64 ", log end %" PRId64, next,
            info.log_end);
    core_buf_fini(&buf);
    return core_buf_take(&all, out_len);
}

/* The exact answer of offset_for_time over the expected bytes. */
static int64_t model_time(const plan_t *pl, int64_t ts)
{
    size_t pos = 0;
    while (pos < pl->expect_len) {
        record_iter_t it;
        record_t r;
        if (record_iter_init(&it, pl->expect_bytes + pos, pl->expect_len - pos, false) != 0)
            abort(); /* the model only admits valid batches */
        while (record_iter_next(&it, &r) == 1)
            if (r.timestamp >= ts)
                return r.offset;
        pos += record_batch_size(&it.h);
    }
    return pl->expect_end;
}

static void check_first_open(seglog_t *log, const plan_t *pl, const input_t *in,
                             seglog_part_t *part)
{
    REQUIRE(seglog_recovered(log) == !in->marker, "seglog_recovered() is %d with marker %d",
            seglog_recovered(log), in->marker);
    seglog_part_info_t info;
    seglog_part_info(part, &info);
    if (!pl->strict) {
        if (!info.failed) {
            REQUIRE(info.log_start <= info.log_end, "log start %" PRId64 " > log end %" PRId64,
                    info.log_start, info.log_end);
            size_t n = 0;
            core_free(read_all(part, false, false, &n));
        }
        int64_t off = -1;
        int rc = seglog_offset_for_time(part, in->ts, &off);
        REQUIRE(rc != 0 || info.failed || (off >= info.log_start && off <= info.log_end),
                "offset_for_time answered %" PRId64 " outside the log", off);
        return;
    }
    REQUIRE(info.failed == pl->expect_failed, "partition failed=%d, expected %d (%s)", info.failed,
            pl->expect_failed, info.failed ? seglog_part_error(part) : "");
    if (info.failed) {
        int64_t off;
        REQUIRE(seglog_read(part, 0, 1, &(core_buf_t){0}) == CORE_EFAILED,
                "a failed partition served a read");
        REQUIRE(seglog_offset_for_time(part, 0, &off) == CORE_EFAILED,
                "a failed partition answered offset_for_time");
        return;
    }
    REQUIRE(info.log_start == pl->expect_start && info.log_end == pl->expect_end,
            "log [%" PRId64 ", %" PRId64 "), expected [%" PRId64 ", %" PRId64 ")", info.log_start,
            info.log_end, pl->expect_start, pl->expect_end);
    bool exact = pl->seg[0].time_exact && (pl->nseg < 2 || pl->seg[1].time_exact);
    bool records_ok = pl->seg[0].records_ok && (pl->nseg < 2 || pl->seg[1].records_ok);
    size_t n = 0;
    uint8_t *got = read_all(part, true, records_ok, &n);
    REQUIRE(n == pl->expect_len && (n == 0 || memcmp(got, pl->expect_bytes, n) == 0),
            "the log holds %zu bytes that differ from the %zu valid input bytes", n,
            pl->expect_len);
    core_free(got);
    int64_t off = -1;
    int rc = seglog_offset_for_time(part, in->ts, &off);
    REQUIRE(rc == 0, "offset_for_time: %s", core_error_detail());
    if (exact) {
        int64_t want = model_time(pl, in->ts);
        REQUIRE(off == want, "offset_for_time(%" PRId64 ") = %" PRId64 ", expected %" PRId64,
                in->ts, off, want);
    }
}

/* Appends one batch; returns its bytes (caller frees) or NULL when the
 * partition is failed or the offsets would pass INT64_MAX. */
static uint8_t *append_one(seglog_part_t *part, int64_t ts, size_t *len_out, int64_t *base_out)
{
    seglog_part_info_t info;
    seglog_part_info(part, &info);
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 1 << 20);
    for (int i = 0; i < APPEND_RECORDS; i++) {
        char v[32];
        int n = snprintf(v, sizeof v, "fuzz-append-%d", i);
        if (record_builder_add(&b, wrap_add(ts, i), "k", 1, v, n, NULL, 0) != 0)
            abort();
    }
    uint8_t *batch;
    size_t len;
    if (record_builder_finish(&b, &batch, &len) != 0)
        abort();
    int64_t base = -1;
    int rc = seglog_append(part, batch, len, &base);
    uint8_t *copy = NULL;
    if (info.failed) {
        REQUIRE(rc == CORE_EFAILED, "append to a failed partition returned %d", rc);
    } else if (info.log_end > INT64_MAX - APPEND_RECORDS) {
        REQUIRE(rc != 0, "append past offset INT64_MAX succeeded at base %" PRId64, base);
    } else {
        REQUIRE(rc == 0, "append to a healthy partition: %s", core_error_detail());
        REQUIRE(base == info.log_end, "append got base %" PRId64 ", log end was %" PRId64, base,
                info.log_end);
        REQUIRE(seglog_log_end(part) == base + APPEND_RECORDS,
                "log end %" PRId64 " after appending at %" PRId64, seglog_log_end(part), base);
        copy = malloc(len);
        if (copy == NULL)
            abort();
        memcpy(copy, batch, len);
        *len_out = len;
        *base_out = base;
    }
    record_builder_fini(&b);
    return copy;
}

static void check_reopen(seglog_t *log, seglog_part_t *part, const seglog_part_info_t *before,
                         const plan_t *pl, const uint8_t *appended, size_t alen, int64_t abase)
{
    seglog_part_info_t info;
    seglog_part_info(part, &info);
    REQUIRE(seglog_recovered(log) == before->failed,
            "after a clean close seglog_recovered() is %d (partition failed before: %d)",
            seglog_recovered(log), before->failed);
    if (before->failed)
        return;
    REQUIRE(!info.failed, "healthy before a clean close, failed after: %s",
            seglog_part_error(part));
    REQUIRE(info.log_start == before->log_start && info.log_end == before->log_end,
            "log [%" PRId64 ", %" PRId64 ") after reopening, [%" PRId64 ", %" PRId64 ") before",
            info.log_start, info.log_end, before->log_start, before->log_end);
    if (appended == NULL)
        return;
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_TEST, 64u << 20);
    int rc = seglog_read(part, abase, READ_MAX, &buf);
    REQUIRE(rc == 0 && buf.len >= alen && memcmp(buf.data, appended, alen) == 0,
            "the appended batch at %" PRId64 " does not read back (rc %d, %zu bytes): %s", abase,
            rc, buf.len, rc ? core_error_detail() : "");
    core_buf_fini(&buf);
    if (!pl->strict)
        return;
    /* Strict: the whole partition is the valid input plus the new batch. */
    size_t n = 0;
    uint8_t *got = read_all(part, true, false, &n);
    REQUIRE(n == pl->expect_len + alen && memcmp(got, pl->expect_bytes, pl->expect_len) == 0 &&
                memcmp(got + pl->expect_len, appended, alen) == 0,
            "after a clean reopen the log holds %zu bytes, expected %zu + %zu", n, pl->expect_len,
            alen);
    core_free(got);
}

/* ------------------------------------------------------------------------
 * One input
 * ------------------------------------------------------------------------ */

static void build_plan(plan_t *pl, const input_t *in)
{
    int64_t base = k_bases[in->sel & 7];
    size_t split = in->two ? in->split % (in->payload_len + 1) : in->payload_len;
    uint8_t *payload = malloc(in->payload_len ? in->payload_len : 1);
    if (payload == NULL)
        abort();
    if (in->payload_len > 0)
        memcpy(payload, in->payload, in->payload_len);
    massage(payload, in->payload_len, base, in->fix_crc, in->relocate);
    seg_init(&pl->seg[0], payload, split, base);
    pl->nseg = 1;
    if (in->two) {
        int64_t b2 = pl->seg[0].next; /* where the first segment's batches end */
        if (in->perturb)
            b2 = wrap_add(b2, (int8_t)in->param);
        if (b2 <= base)
            b2 = base == INT64_MAX ? base : base + 1;
        if (b2 > base) {
            seg_init(&pl->seg[1], payload + split, in->payload_len - split, b2);
            pl->nseg = 2;
        }
    }
    free(payload);
    /* Recovery trusts unscanned bytes only after a clean shutdown, or for a
     * sealed segment below the recovery point whose index files load. */
    pl->strict = !in->marker && !(in->rp && pl->nseg == 2 && in->index_mode != 0);
    const seg_t *a = &pl->seg[0], *b = &pl->seg[1];
    pl->expect_start = a->base;
    if (pl->nseg == 1) {
        pl->expect_failed = false;
        pl->expect_end = a->next;
        pl->expect_len = a->valid_len;
    } else {
        pl->expect_failed = !a->whole || a->next != b->base;
        pl->expect_end = b->next;
        pl->expect_len = a->valid_len + b->valid_len;
    }
    pl->expect_bytes = malloc(pl->expect_len ? pl->expect_len : 1);
    if (pl->expect_bytes == NULL)
        abort();
    memcpy(pl->expect_bytes, a->bytes, a->valid_len);
    if (pl->nseg == 2)
        memcpy(pl->expect_bytes + a->valid_len, b->bytes, b->valid_len);
}

static void write_layout(const plan_t *pl, const input_t *in, const char *data_dir,
                         const char *part_dir)
{
    char path[PATH_CAP];
    path_fmt(path, "%s/topics", data_dir);
    if (mkdir(data_dir, 0755) != 0 || mkdir(path, 0755) != 0 || mkdir(part_dir, 0755) != 0)
        abort();
    char cfg[512];
    int n = snprintf(cfg, sizeof cfg,
                     "# strata topic config\npartitions=1\nflush=never\nsegment.bytes=%" PRId64
                     "\nsegment.ms=604800000\nretention.bytes=-1\nretention.ms=-1\n"
                     "max.message.bytes=1048588\nindex.interval.bytes=%" PRId32 "\n",
                     k_segment_bytes[(in->sel >> 3) & 3], k_index_interval[(in->sel >> 5) & 7]);
    path_fmt(path, "%s/topics/%s.topic", data_dir, TOPIC);
    write_file(path, cfg, (size_t)n);
    for (int i = 0; i < pl->nseg; i++) {
        segment_file(path, part_dir, pl->seg[i].base, ".log");
        write_file(path, pl->seg[i].bytes, pl->seg[i].len);
        write_indexes(part_dir, &pl->seg[i], in);
    }
    if (in->rp) {
        char text[32];
        int64_t rp = pl->nseg == 2 ? pl->seg[1].base : pl->seg[0].next;
        int m = (in->param & 3) == 0   ? snprintf(text, sizeof text, "%" PRId64 "\n", rp)
                : (in->param & 3) == 1 ? snprintf(text, sizeof text, "%" PRId64 "\n", INT64_MAX)
                : (in->param & 3) == 2 ? snprintf(text, sizeof text, "0\n")
                                       : snprintf(text, sizeof text, "x%02x\n", in->param);
        path_fmt(path, "%s/recovery-point", part_dir);
        write_file(path, text, (size_t)m);
    }
    if (in->marker) {
        path_fmt(path, "%s/.clean-shutdown", data_dir);
        write_file(path, "", 0);
    }
}

static seglog_part_t *open_part(const char *data_dir, seglog_t **log)
{
    int rc = seglog_open(data_dir, log);
    REQUIRE(rc == 0, "seglog_open: %s", core_error_detail());
    seglog_topic_t *t = seglog_topic_get(*log, TOPIC);
    REQUIRE(t != NULL, "topic '%s' did not load", TOPIC);
    seglog_part_t *part = seglog_partition(t, 0);
    REQUIRE(part != NULL, "partition 0 is missing");
    return part;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    input_t in;
    parse_input(data, size, &in);
    plan_t pl;
    memset(&pl, 0, sizeof pl);
    build_plan(&pl, &in);

    char data_dir[PATH_CAP], part_dir[PATH_CAP];
    nftw(g_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(g_root, 0700) != 0 && errno != EEXIST)
        abort();
    path_fmt(data_dir, "%s/data", g_root);
    path_fmt(part_dir, "%s/topics/%s-0", data_dir, TOPIC);
    write_layout(&pl, &in, data_dir, part_dir);

    seglog_t *log = NULL;
    seglog_part_t *part = open_part(data_dir, &log);
    check_first_open(log, &pl, &in, part);
    size_t alen = 0;
    int64_t abase = -1;
    uint8_t *appended = append_one(part, in.ts, &alen, &abase);
    seglog_part_info_t before;
    seglog_part_info(part, &before);
    seglog_close(log);

    part = open_part(data_dir, &log);
    check_reopen(log, part, &before, &pl, appended, alen, abase);
    seglog_close(log);

    free(appended);
    free(pl.expect_bytes);
    for (int i = 0; i < pl.nseg; i++)
        free(pl.seg[i].bytes);
    return 0;
}
