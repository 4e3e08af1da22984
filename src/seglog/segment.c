/*
 * segment.c - one segment of a partition: its .log file and sparse indexes.
 *
 * The .log file holds RecordBatch v2 bytes back to back. The indexes live in
 * memory while the segment is open and are written whole when it is sealed
 * or the log closes cleanly:
 *
 *   .index      entries of (relative offset u32, position u32), big-endian,
 *               one for the first batch and then one whenever at least
 *               index.interval.bytes have been appended since the last;
 *   .timeindex  entries of (timestamp i64, relative offset u32): the largest
 *               record time of every batch up to and including the batch at
 *               that offset. Entries strictly increase in both fields.
 *
 * An index on disk is a hint, never the truth: a file that is short, out of
 * order or points at something that is not the batch it names is discarded
 * and rebuilt from the .log (recovery.c).
 *
 * Threading: a segment belongs to its partition, whose locks cover it (see
 * seglog_int.h).
 */
#include "seglog/seglog_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *segment_path(const char *dir, int64_t base_offset)
{
    char name[SEGLOG_NAME_DIGITS + 1];
    snprintf(name, sizeof name, "%020lld", (long long)base_offset);
    return seglog_path_join(dir, name);
}

static int segment_new(const char *dir, int64_t base_offset, seglog_segment_t **out)
{
    seglog_segment_t *s = core_calloc(CORE_MEM_SEGLOG, 1, sizeof *s);
    if (s == NULL)
        return CORE_ENOMEM;
    s->path = segment_path(dir, base_offset);
    if (s->path == NULL) {
        core_free(s);
        return CORE_ENOMEM;
    }
    s->base_offset = base_offset;
    s->next_offset = base_offset;
    s->max_ts = SEGLOG_TS_NONE;
    s->max_ts_offset = base_offset;
    s->created_ms = core_wall_ms();
    s->fd = -1;
    *out = s;
    return 0;
}

static int open_file(const seglog_segment_t *s, const char *ext, int flags, int *fd_out)
{
    char path[SEGLOG_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s%s", s->path, ext);
    if (n < 0 || (size_t)n >= sizeof path)
        return core_error(CORE_EINVAL, "%s%s: path too long", s->path, ext);
    int fd = open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        int code = errno == ENOENT ? CORE_ENOENT : errno == ENOSPC ? CORE_ENOSPC : CORE_EIO;
        return core_error(code, "%s: open failed: %s", path, strerror(errno));
    }
    *fd_out = fd;
    return 0;
}

int seglog_segment_create(const char *dir, int64_t base_offset, seglog_segment_t **out)
{
    seglog_segment_t *s;
    int rc = segment_new(dir, base_offset, &s);
    if (rc != 0)
        return rc;
    rc = open_file(s, ".log", O_RDWR | O_CREAT | O_EXCL, &s->fd);
    if (rc == 0 && (rc = core_fsync_dir(dir)) != 0)
        (void)seglog_segment_unlink(s); /* so the next roll can retry */
    if (rc != 0) {
        seglog_segment_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int seglog_segment_open(const char *dir, int64_t base_offset, seglog_segment_t **out)
{
    seglog_segment_t *s;
    int rc = segment_new(dir, base_offset, &s);
    if (rc != 0)
        return rc;
    rc = open_file(s, ".log", O_RDWR, &s->fd);
    if (rc != 0) {
        seglog_segment_close(s);
        return rc;
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0) {
        rc = core_error(CORE_EIO, "%s.log: stat failed: %s", s->path, strerror(errno));
        seglog_segment_close(s);
        return rc;
    }
    s->size = st.st_size;
    *out = s;
    return 0;
}

void seglog_segment_close(seglog_segment_t *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    core_free(s->oidx);
    core_free(s->tidx);
    core_free(s->path);
    core_free(s);
}

int seglog_segment_unlink(seglog_segment_t *s)
{
    static const char *const exts[] = {".index", ".timeindex", ".log"};
    int rc = 0;
    for (size_t i = 0; i < CORE_ARRAY_LEN(exts); i++) {
        char path[SEGLOG_PATH_MAX];
        snprintf(path, sizeof path, "%s%s", s->path, exts[i]);
        if (unlink(path) != 0 && errno != ENOENT)
            rc = core_error(CORE_EIO, "%s: unlink failed: %s", path, strerror(errno));
    }
    return rc;
}

static int push_oidx(seglog_segment_t *s, uint32_t rel, uint32_t pos)
{
    int rc =
        core_grow(CORE_MEM_SEGLOG, (void **)&s->oidx, &s->cap_oidx, s->n_oidx + 1, sizeof *s->oidx);
    if (rc == 0)
        s->oidx[s->n_oidx++] = (seglog_oidx_t){rel, pos};
    return rc;
}

static int push_tidx(seglog_segment_t *s, int64_t ts, uint32_t rel)
{
    if (s->n_tidx > 0) {
        seglog_tidx_t *last = &s->tidx[s->n_tidx - 1];
        if (ts <= last->ts || rel < last->rel_offset) /* never out of order */
            return 0;
        if (rel == last->rel_offset) {
            last->ts = ts;
            return 0;
        }
    }
    int rc =
        core_grow(CORE_MEM_SEGLOG, (void **)&s->tidx, &s->cap_tidx, s->n_tidx + 1, sizeof *s->tidx);
    if (rc == 0)
        s->tidx[s->n_tidx++] = (seglog_tidx_t){ts, rel};
    return rc;
}

void seglog_segment_index_batch(seglog_segment_t *s, const record_batch_header_t *h, int64_t pos,
                                int32_t interval_bytes)
{
    int64_t size = (int64_t)record_batch_size(h);
    uint32_t rel = (uint32_t)(h->base_offset - s->base_offset);
    if (h->max_timestamp > s->max_ts) {
        s->max_ts = h->max_timestamp;
        s->max_ts_offset = h->base_offset;
    }
    /* Entries are hints: if one cannot be stored (out of memory), lookups
     * just scan further, so the batch is still published. */
    if ((s->n_oidx == 0 || s->since_index >= interval_bytes) &&
        push_oidx(s, rel, (uint32_t)pos) == 0) {
        if (s->max_ts != SEGLOG_TS_NONE)
            (void)push_tidx(s, s->max_ts, (uint32_t)(s->max_ts_offset - s->base_offset));
        s->since_index = 0;
    }
    s->since_index += size;
    s->size = pos + size;
    s->next_offset = record_batch_last_offset(h) + 1;
}

void seglog_segment_index_clear(seglog_segment_t *s)
{
    s->n_oidx = 0;
    s->n_tidx = 0;
    s->since_index = 0;
    s->size = 0;
    s->next_offset = s->base_offset;
    s->max_ts = SEGLOG_TS_NONE;
    s->max_ts_offset = s->base_offset;
}

static int write_file(const seglog_segment_t *s, const char *ext, const uint8_t *p, size_t n)
{
    int fd;
    int rc = open_file(s, ext, O_WRONLY | O_CREAT | O_TRUNC, &fd);
    if (rc != 0)
        return rc;
    rc = core_pwrite_all(fd, p, n, 0);
    if (rc == 0 && fdatasync(fd) != 0)
        rc = core_error(CORE_EIO, "%s%s: fdatasync failed: %s", s->path, ext, strerror(errno));
    else if (rc != 0)
        rc = core_error(rc, "%s%s: write failed: %s", s->path, ext, strerror(errno));
    close(fd);
    return rc;
}

int seglog_segment_write_indexes(seglog_segment_t *s)
{
    /* The final time entry records the segment's largest timestamp, so a
     * clean reopen knows it without a scan. */
    if (s->max_ts != SEGLOG_TS_NONE) {
        int rc = push_tidx(s, s->max_ts, (uint32_t)(s->max_ts_offset - s->base_offset));
        if (rc != 0)
            return rc;
    }
    size_t on = s->n_oidx * SEGLOG_OIDX_ENTRY, tn = s->n_tidx * SEGLOG_TIDX_ENTRY;
    uint8_t *buf = core_alloc(CORE_MEM_SEGLOG, CORE_MAX(on, tn) + 1);
    if (buf == NULL)
        return CORE_ENOMEM;
    for (size_t i = 0; i < s->n_oidx; i++) {
        core_store_be32(buf + i * 8, s->oidx[i].rel_offset);
        core_store_be32(buf + i * 8 + 4, s->oidx[i].pos);
    }
    int rc = write_file(s, ".index", buf, on);
    for (size_t i = 0; rc == 0 && i < s->n_tidx; i++) {
        core_store_be64(buf + i * 12, (uint64_t)s->tidx[i].ts);
        core_store_be32(buf + i * 12 + 8, s->tidx[i].rel_offset);
    }
    if (rc == 0)
        rc = write_file(s, ".timeindex", buf, tn);
    core_free(buf);
    return rc;
}

static int read_whole(const seglog_segment_t *s, const char *ext, uint8_t **out, size_t *len)
{
    int fd;
    int rc = open_file(s, ext, O_RDONLY, &fd);
    if (rc != 0)
        return rc;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size > INT32_MAX) {
        close(fd);
        return core_error(CORE_ECORRUPT, "%s%s: unreadable or oversized index", s->path, ext);
    }
    uint8_t *buf = core_alloc(CORE_MEM_SEGLOG, (size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return CORE_ENOMEM;
    }
    rc = core_pread_all(fd, buf, (size_t)st.st_size, 0);
    close(fd);
    if (rc != 0) {
        core_free(buf);
        return core_error(CORE_ECORRUPT, "%s%s: read failed", s->path, ext);
    }
    *out = buf;
    *len = (size_t)st.st_size;
    return 0;
}

static int load_oidx(seglog_segment_t *s, const uint8_t *p, size_t n)
{
    if (n % SEGLOG_OIDX_ENTRY != 0)
        return core_error(CORE_ECORRUPT, "%s.index: size %zu is not a multiple of %d", s->path, n,
                          SEGLOG_OIDX_ENTRY);
    for (size_t i = 0; i < n / SEGLOG_OIDX_ENTRY; i++) {
        uint32_t rel = core_load_be32(p + i * 8), pos = core_load_be32(p + i * 8 + 4);
        bool ordered = s->n_oidx == 0 ? rel == 0 && pos == 0
                                      : rel > s->oidx[s->n_oidx - 1].rel_offset &&
                                            pos > s->oidx[s->n_oidx - 1].pos;
        if (!ordered || (int64_t)pos >= s->size || !seglog_offsets_fit(s->base_offset, rel))
            return core_error(CORE_ECORRUPT, "%s.index: entry %zu (%u, %u) out of order or range",
                              s->path, i, rel, pos);
        if (push_oidx(s, rel, pos) != 0)
            return CORE_ENOMEM;
    }
    if (s->size > 0 && s->n_oidx == 0)
        return core_error(CORE_ECORRUPT, "%s.index: empty for a non-empty segment", s->path);
    return 0;
}

static int load_tidx(seglog_segment_t *s, const uint8_t *p, size_t n)
{
    if (n % SEGLOG_TIDX_ENTRY != 0)
        return core_error(CORE_ECORRUPT, "%s.timeindex: size %zu is not a multiple of %d", s->path,
                          n, SEGLOG_TIDX_ENTRY);
    for (size_t i = 0; i < n / SEGLOG_TIDX_ENTRY; i++) {
        int64_t ts = (int64_t)core_load_be64(p + i * 12);
        uint32_t rel = core_load_be32(p + i * 12 + 8);
        bool ordered = s->n_tidx == 0 ||
                       (ts > s->tidx[s->n_tidx - 1].ts && rel >= s->tidx[s->n_tidx - 1].rel_offset);
        if (!ordered || ts == SEGLOG_TS_NONE || !seglog_offsets_fit(s->base_offset, rel))
            return core_error(CORE_ECORRUPT, "%s.timeindex: entry %zu out of order", s->path, i);
        if (core_grow(CORE_MEM_SEGLOG, (void **)&s->tidx, &s->cap_tidx, s->n_tidx + 1,
                      sizeof *s->tidx) != 0)
            return CORE_ENOMEM;
        s->tidx[s->n_tidx++] = (seglog_tidx_t){ts, rel};
    }
    return 0;
}

/* Checks that the segment's first batch starts at its base offset, then
 * walks batch headers from the last index entry to the end of the file,
 * which checks that the last entry names a real batch and finds
 * next_offset. (The batches in between are trusted, as Kafka trusts them
 * after a clean shutdown: reading them all would make opening a large log
 * slow.) */
static int check_tail(seglog_segment_t *s)
{
    if (s->size == 0)
        return 0;
    record_batch_header_t first;
    int rc = seglog_segment_read_header(s, 0, &first);
    if (rc != 0 || first.base_offset != s->base_offset)
        return core_error(CORE_ECORRUPT,
                          "%s: the first batch does not start at the segment's base offset %lld",
                          s->path, (long long)s->base_offset);
    const seglog_oidx_t *last = &s->oidx[s->n_oidx - 1];
    int64_t pos = last->pos, expect = s->base_offset + last->rel_offset;
    while (pos < s->size) {
        record_batch_header_t h;
        rc = seglog_segment_read_header(s, pos, &h);
        if (rc != 0 || h.base_offset != expect || pos + (int64_t)record_batch_size(&h) > s->size ||
            !seglog_offsets_fit(h.base_offset, h.last_offset_delta))
            return core_error(CORE_ECORRUPT, "%s: index does not match the batch at byte %lld",
                              s->path, (long long)pos);
        expect = record_batch_last_offset(&h) + 1;
        pos += (int64_t)record_batch_size(&h);
    }
    s->next_offset = expect;
    s->since_index = s->size - last->pos;
    return 0;
}

int seglog_segment_load_indexes(seglog_segment_t *s)
{
    uint8_t *p = NULL;
    size_t n = 0;
    seglog_segment_index_clear(s);
    struct stat st;
    if (fstat(s->fd, &st) != 0)
        return core_error(CORE_EIO, "%s.log: stat failed: %s", s->path, strerror(errno));
    s->size = st.st_size;
    int rc = read_whole(s, ".index", &p, &n);
    if (rc == 0)
        rc = load_oidx(s, p, n);
    core_free(p);
    p = NULL;
    if (rc == 0)
        rc = read_whole(s, ".timeindex", &p, &n);
    if (rc == 0)
        rc = load_tidx(s, p, n);
    core_free(p);
    if (rc == 0)
        rc = check_tail(s);
    /* Time entries name offsets of this segment's batches: one past the
     * end would later be followed by smaller offsets (an index this log
     * could not read back). */
    if (rc == 0 && s->n_tidx > 0 &&
        s->base_offset + s->tidx[s->n_tidx - 1].rel_offset >= s->next_offset)
        rc = core_error(CORE_ECORRUPT, "%s.timeindex: offset %lld is past the segment's end %lld",
                        s->path, (long long)(s->base_offset + s->tidx[s->n_tidx - 1].rel_offset),
                        (long long)s->next_offset);
    if (rc == 0 && s->n_tidx > 0) {
        s->max_ts = s->tidx[s->n_tidx - 1].ts;
        s->max_ts_offset = s->base_offset + s->tidx[s->n_tidx - 1].rel_offset;
    }
    if (rc != 0) {
        int64_t size = s->size;
        seglog_segment_index_clear(s);
        s->size = size;
        return rc == CORE_ENOMEM ? rc : CORE_ECORRUPT;
    }
    return 0;
}

int64_t seglog_segment_lookup(const seglog_segment_t *s, int64_t offset)
{
    size_t lo = 0, hi = s->n_oidx;
    uint64_t rel = (uint64_t)(offset - s->base_offset);
    while (lo < hi) { /* first entry with rel_offset > rel */
        size_t mid = lo + (hi - lo) / 2;
        if (s->oidx[mid].rel_offset <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : s->oidx[lo - 1].pos;
}

int64_t seglog_segment_lookup_time(const seglog_segment_t *s, int64_t ts)
{
    size_t lo = 0, hi = s->n_tidx;
    while (lo < hi) { /* first entry with ts >= target */
        size_t mid = lo + (hi - lo) / 2;
        if (s->tidx[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Every batch up to entry lo-1 has max_ts < ts: start at that batch. */
    if (lo == 0)
        return 0;
    return seglog_segment_lookup(s, s->base_offset + s->tidx[lo - 1].rel_offset);
}

int seglog_segment_read_header(const seglog_segment_t *s, int64_t pos, record_batch_header_t *h)
{
    uint8_t buf[RECORD_BATCH_HEADER_SIZE];
    if (pos + RECORD_BATCH_HEADER_SIZE > s->size)
        return core_error(CORE_ETRUNC, "%s.log: batch header at byte %lld runs past the end",
                          s->path, (long long)pos);
    int rc = core_pread_all(s->fd, buf, sizeof buf, pos);
    if (rc != 0)
        return core_error(rc, "%s.log: read at byte %lld failed", s->path, (long long)pos);
    rc = record_batch_parse_header(buf, sizeof buf, h);
    if (rc != 0)
        return core_error(CORE_ECORRUPT, "%s.log: bad batch header at byte %lld: %s", s->path,
                          (long long)pos, core_error_detail());
    return 0;
}
