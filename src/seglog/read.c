/*
 * read.c - the read side of a partition: reads by offset, lookups by time,
 * partition info, and retention.
 *
 * Readers hold seg_lock for reading from the moment they pick a segment
 * until their last pread, so retention (which takes it for writing) cannot
 * delete a segment under them. They see a segment only up to its published
 * size, so a batch being written is invisible until it is whole.
 *
 * A read serves one segment, like Kafka's fetch: it returns the batch that
 * contains the offset and the whole batches after it, up to max_bytes but
 * at least one batch.
 */
#include "seglog/seglog_int.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define READ_WINDOW (8u << 10) /* covers index.interval.bytes' default twice */

/* Index of the segment holding offset (log_start <= offset < log_end). */
static size_t find_segment(const seglog_part_t *p, int64_t offset)
{
    size_t lo = 0, hi = p->n_segs;
    while (lo < hi) { /* first segment with base > offset */
        size_t mid = lo + (hi - lo) / 2;
        if (p->segs[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : lo - 1;
}

/* Finds the position of the batch containing `offset`, starting from the
 * index hint and walking headers through a window read in one pread. */
static int locate(const seglog_segment_t *s, int64_t offset, uint8_t *win, int64_t *pos_out,
                  record_batch_header_t *h)
{
    int64_t pos = seglog_segment_lookup(s, offset);
    while (pos < s->size) {
        size_t n = (size_t)CORE_MIN((int64_t)READ_WINDOW, s->size - pos);
        int rc = core_pread_all(s->fd, win, n, pos);
        if (rc != 0)
            return core_error(rc, "%s.log: read at byte %" PRId64 " failed", s->path, pos);
        size_t at = 0;
        while (at + RECORD_BATCH_HEADER_SIZE <= n) {
            rc = record_batch_parse_header(win + at, n - at, h);
            if (rc != 0 || h->base_offset < s->base_offset)
                return core_error(CORE_ECORRUPT, "%s.log: bad batch header at byte %" PRId64,
                                  s->path, pos + (int64_t)at);
            if (record_batch_last_offset(h) >= offset) {
                *pos_out = pos + (int64_t)at;
                return 0;
            }
            at += record_batch_size(h);
        }
        if (at == 0) /* a header straddles nothing readable: corrupt */
            return core_error(CORE_ECORRUPT, "%s.log: truncated batch at byte %" PRId64, s->path,
                              pos);
        pos += (int64_t)at;
    }
    return core_error(CORE_ECORRUPT, "%s.log: offset %" PRId64 " not found below byte %" PRId64,
                      s->path, offset, s->size);
}

/* Trims out's new bytes [start, out->len) back to whole batches. The first
 * batch is known to be whole. */
static int trim_to_batches(core_buf_t *out, size_t start, const char *path)
{
    size_t at = start;
    while (at + RECORD_BATCH_LOG_OVERHEAD <= out->len) {
        size_t size;
        int rc = record_batch_peek_size(out->data + at, out->len - at, (size_t)INT32_MAX, &size);
        if (rc != 0)
            return core_error(CORE_ECORRUPT, "%s.log: bad batch length in read", path);
        if (at + size > out->len)
            break;
        at += size;
    }
    out->len = at;
    return 0;
}

static int read_locked(seglog_part_t *p, int64_t offset, size_t max_bytes, core_buf_t *out)
{
    if (offset < p->log_start || offset > p->log_end)
        return core_error(CORE_ERANGE,
                          "%s: offset %" PRId64 " is outside [%" PRId64 ", %" PRId64 "]", p->name,
                          offset, p->log_start, p->log_end);
    if (offset == p->log_end)
        return 0;
    const seglog_segment_t *s = p->segs[find_segment(p, offset)];
    uint8_t win[READ_WINDOW];
    int64_t pos = 0;
    record_batch_header_t h;
    int rc = locate(s, offset, win, &pos, &h);
    if (rc != 0)
        return rc;
    if (pos + (int64_t)record_batch_size(&h) > s->size)
        return core_error(CORE_ECORRUPT, "%s.log: batch at byte %" PRId64 " runs past the end",
                          s->path, pos);
    size_t want = CORE_MAX(record_batch_size(&h), max_bytes);
    want = (size_t)CORE_MIN((int64_t)want, s->size - pos);
    size_t start = out->len;
    rc = core_buf_reserve(out, want);
    if (rc != 0)
        return rc;
    rc = core_pread_all(s->fd, out->data + start, want, pos);
    if (rc != 0)
        return core_error(rc, "%s.log: read at byte %" PRId64 " failed", s->path, pos);
    out->len = start + want;
    return trim_to_batches(out, start, s->path);
}

int seglog_read(seglog_part_t *p, int64_t offset, size_t max_bytes, core_buf_t *out)
{
    if (seglog_part_is_failed(p))
        return seglog_part_failed_error(p);
    pthread_rwlock_rdlock(&p->seg_lock);
    int rc = read_locked(p, offset, max_bytes, out);
    pthread_rwlock_unlock(&p->seg_lock);
    return rc;
}

/* The first record offset with timestamp >= ts in batch b, or -1. */
static int64_t first_in_batch(const uint8_t *b, size_t len, int64_t ts)
{
    record_iter_t it;
    if (record_iter_init(&it, b, len, false) != 0)
        return -1; /* compressed: the batch's first offset is a safe answer */
    record_t r;
    while (record_iter_next(&it, &r) == 1)
        if (r.timestamp >= ts)
            return r.offset;
    return -1;
}

/* Scans segment s from its time-index hint for the first record >= ts. */
static int scan_time(const seglog_segment_t *s, int64_t ts, core_buf_t *buf, int64_t *found)
{
    int64_t pos = seglog_segment_lookup_time(s, ts);
    while (pos < s->size) {
        record_batch_header_t h;
        int rc = seglog_segment_read_header(s, pos, &h);
        if (rc != 0)
            return rc;
        size_t size = record_batch_size(&h);
        if (h.max_timestamp >= ts) {
            core_buf_reset(buf);
            rc = core_buf_reserve(buf, size);
            if (rc == 0)
                rc = core_pread_all(s->fd, buf->data, size, pos);
            if (rc != 0)
                return rc;
            int64_t off = first_in_batch(buf->data, size, ts);
            *found = off >= 0 ? off : h.base_offset;
            /* A segment trusted without a scan (clean shutdown) may still
             * hold a damaged batch: never answer outside the segment. */
            if (*found < s->base_offset || *found >= s->next_offset)
                return core_error(CORE_ECORRUPT,
                                  "%s.log: the batch at byte %lld gives offset %lld, outside the "
                                  "segment's [%lld, %lld)",
                                  s->path, (long long)pos, (long long)*found,
                                  (long long)s->base_offset, (long long)s->next_offset);
            return 0;
        }
        pos += (int64_t)size;
    }
    *found = -1;
    return 0;
}

int seglog_offset_for_time(seglog_part_t *p, int64_t ts, int64_t *offset)
{
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_SEGLOG, (size_t)INT32_MAX);
    if (seglog_part_is_failed(p))
        return seglog_part_failed_error(p);
    pthread_rwlock_rdlock(&p->seg_lock);
    int rc = 0;
    int64_t found = -1;
    for (size_t i = 0; rc == 0 && found < 0 && i < p->n_segs; i++) {
        const seglog_segment_t *s = p->segs[i];
        if (s->max_ts != SEGLOG_TS_NONE && s->max_ts >= ts)
            rc = scan_time(s, ts, &buf, &found);
    }
    int64_t end = p->log_end;
    pthread_rwlock_unlock(&p->seg_lock);
    core_buf_fini(&buf);
    if (rc == 0)
        *offset = found >= 0 ? found : end;
    return rc;
}

void seglog_part_info(seglog_part_t *p, seglog_part_info_t *out)
{
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&p->seg_lock);
    out->log_start = p->log_start;
    out->log_end = p->log_end;
    out->segments = (int32_t)p->n_segs;
    for (size_t i = 0; i < p->n_segs; i++)
        out->size_bytes += p->segs[i]->size;
    pthread_rwlock_unlock(&p->seg_lock);
    pthread_mutex_lock(&p->sync_mu);
    out->durable_end = p->durable_end;
    out->failed = p->failed;
    pthread_mutex_unlock(&p->sync_mu);
}

int64_t seglog_log_start(seglog_part_t *p)
{
    pthread_rwlock_rdlock(&p->seg_lock);
    int64_t v = p->log_start;
    pthread_rwlock_unlock(&p->seg_lock);
    return v;
}

int64_t seglog_log_end(seglog_part_t *p)
{
    pthread_rwlock_rdlock(&p->seg_lock);
    int64_t v = p->log_end;
    pthread_rwlock_unlock(&p->seg_lock);
    return v;
}

const char *seglog_part_error(seglog_part_t *p)
{
    pthread_mutex_lock(&p->sync_mu);
    const char *e = p->failed ? p->error : NULL; /* set once, never freed while open */
    pthread_mutex_unlock(&p->sync_mu);
    return e;
}

const char *seglog_part_name(const seglog_part_t *p)
{
    return p->name;
}

/* How many leading sealed segments retention removes. Caller holds locks. */
static size_t retention_count(const seglog_part_t *p, int64_t now_ms)
{
    const seglog_topic_config_t *c = &p->topic->cfg;
    int64_t total = 0;
    for (size_t i = 0; i < p->n_segs; i++)
        total += p->segs[i]->size;
    size_t n = 0;
    while (n + 1 < p->n_segs) {
        const seglog_segment_t *s = p->segs[n];
        bool by_size = c->retention_bytes >= 0 && total - s->size >= c->retention_bytes;
        bool by_time = c->retention_ms >= 0 && s->max_ts != SEGLOG_TS_NONE &&
                       now_ms - s->max_ts > c->retention_ms;
        if (!by_size && !by_time)
            break;
        total -= s->size;
        n++;
    }
    return n;
}

int seglog_retention_run(seglog_part_t *p, int64_t now_ms)
{
    if (seglog_part_is_failed(p))
        return seglog_part_failed_error(p);
    pthread_mutex_lock(&p->append_mu);
    pthread_rwlock_wrlock(&p->seg_lock);
    size_t n = retention_count(p, now_ms);
    seglog_segment_t *doomed[64]; /* at most 64 a run; the next run takes more */
    n = CORE_MIN(n, CORE_ARRAY_LEN(doomed));
    for (size_t i = 0; i < n; i++)
        doomed[i] = p->segs[i];
    memmove(p->segs, p->segs + n, (p->n_segs - n) * sizeof *p->segs);
    p->n_segs -= n;
    p->log_start = p->segs[0]->base_offset;
    pthread_rwlock_unlock(&p->seg_lock);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        core_log(CORE_LOG_INFO, "seglog", "%s: retention deletes segment %s.log", p->name,
                 doomed[i]->path);
        if (seglog_segment_unlink(doomed[i]) != 0 && rc == 0)
            rc = CORE_EIO;
        seglog_segment_close(doomed[i]);
    }
    if (n > 0 && core_fsync_dir(p->dir) != 0 && rc == 0)
        rc = CORE_EIO;
    pthread_mutex_unlock(&p->append_mu);
    return rc != 0 ? rc : (int)n;
}
