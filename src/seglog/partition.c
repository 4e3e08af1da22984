/*
 * partition.c - one partition: append, group-commit sync, read, roll,
 * retention, and time lookup.
 *
 * Append (append_mu held throughout):
 *   1. validate the batch (magic, lengths, CRC32C) before taking any lock;
 *   2. roll the active segment if it is full or old (fsync it, write its
 *      indexes, create the next segment, fsync the folder, move the
 *      recovery point);
 *   3. rewrite BaseOffset and pwrite the batch at the segment's end; on a
 *      short or failed write, cut the file back so nothing half-written
 *      remains, and report the error: the batch was not appended;
 *   4. publish under seg_lock: indexes, sizes and log_end;
 *   5. under flush=always, wait for an fsync covering the batch.
 *
 * Group commit (seglog_sync): waiters on sync_mu; the first to find no sync
 * in flight becomes the syncer: it notes log_end and dups the active
 * segment's fd, drops the lock, runs one fdatasync, then advances
 * durable_end and wakes everyone. Waiters whose target is still not covered
 * go round again, so one fdatasync serves every batch written before it
 * started. Older segments need nothing: a roll fsyncs a segment before the
 * next one exists.
 *
 * Failure: an fsync error, or a failed attempt to undo a short write, fails
 * the partition for good (as PostgreSQL PANICs): after a failed fsync the
 * kernel may have dropped the dirty pages, so retrying could report success
 * for lost data. Appends, reads and syncs then return CORE_EFAILED.
 */
#include "seglog/seglog_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int seglog_part_create(seglog_topic_t *t, int32_t id, bool create_dir, seglog_part_t **out)
{
    seglog_part_t *p = core_calloc(CORE_MEM_SEGLOG, 1, sizeof *p);
    if (p == NULL)
        return CORE_ENOMEM;
    p->topic = t;
    p->id = id;
    char name[SEGLOG_TOPIC_NAME_MAX + 16];
    snprintf(name, sizeof name, "%s-%" PRId32, t->name, id);
    p->name = core_strdup(CORE_MEM_SEGLOG, name);
    p->dir = seglog_path_join(t->log->topics_dir, name);
    pthread_mutex_init(&p->append_mu, NULL);
    pthread_rwlock_init(&p->seg_lock, NULL);
    pthread_mutex_init(&p->sync_mu, NULL);
    pthread_cond_init(&p->sync_cv, NULL);
    p->last_flush_ms = core_mono_ms();
    if (p->name == NULL || p->dir == NULL) {
        seglog_part_destroy(p);
        return CORE_ENOMEM;
    }
    if (create_dir && mkdir(p->dir, 0755) != 0 && errno != EEXIST) {
        int rc = core_error(CORE_EIO, "%s: mkdir failed: %s", p->dir, strerror(errno));
        seglog_part_destroy(p);
        return rc;
    }
    *out = p;
    return 0;
}

void seglog_part_destroy(seglog_part_t *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < p->n_segs; i++)
        seglog_segment_close(p->segs[i]);
    core_free(p->segs);
    pthread_mutex_destroy(&p->append_mu);
    pthread_rwlock_destroy(&p->seg_lock);
    pthread_mutex_destroy(&p->sync_mu);
    pthread_cond_destroy(&p->sync_cv);
    core_free(p->error);
    core_free(p->dir);
    core_free(p->name);
    core_free(p);
}

void seglog_part_fail(seglog_part_t *p, const char *fmt, ...)
{
    char msg[CORE_ERROR_DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&p->sync_mu);
    if (!p->failed) {
        p->error = core_strdup(CORE_MEM_SEGLOG, msg);
        atomic_store_explicit(&p->failed, true, memory_order_release);
        core_log(CORE_LOG_ERROR, "seglog", "%s: partition failed: %s", p->name, msg);
    }
    pthread_cond_broadcast(&p->sync_cv);
    pthread_mutex_unlock(&p->sync_mu);
}

bool seglog_part_is_failed(seglog_part_t *p)
{
    return atomic_load_explicit(&p->failed, memory_order_acquire);
}

int seglog_part_failed_error(seglog_part_t *p)
{
    pthread_mutex_lock(&p->sync_mu);
    int rc = core_error(CORE_EFAILED, "%s: partition failed: %s", p->name,
                        p->error ? p->error : "unknown");
    pthread_mutex_unlock(&p->sync_mu);
    return rc;
}

seglog_segment_t *seglog_part_active(seglog_part_t *p)
{
    return p->segs[p->n_segs - 1];
}

int seglog_part_push_segment(seglog_part_t *p, seglog_segment_t *s)
{
    if (p->n_segs == p->cap_segs) {
        size_t cap = p->cap_segs ? p->cap_segs * 2 : 8;
        seglog_segment_t **n = core_realloc(CORE_MEM_SEGLOG, p->segs, cap * sizeof *n);
        if (n == NULL)
            return CORE_ENOMEM;
        p->segs = n;
        p->cap_segs = cap;
    }
    p->segs[p->n_segs++] = s;
    return 0;
}

/* Seals the active segment and starts a new one. Caller holds append_mu. */
static int roll(seglog_part_t *p)
{
    seglog_segment_t *old = seglog_part_active(p);
    if (fdatasync(old->fd) != 0) {
        seglog_part_fail(p, "fdatasync of %s.log failed: %s", old->path, strerror(errno));
        return seglog_part_failed_error(p);
    }
    int rc = seglog_segment_write_indexes(old);
    seglog_segment_t *s = NULL;
    if (rc == 0)
        rc = seglog_segment_create(p->dir, old->next_offset, &s);
    if (rc != 0)
        return core_error(rc, "%s: %s rolling to a new segment (%s); nothing was appended", p->name,
                          rc == CORE_ENOSPC ? "disk full" : "I/O error", core_error_detail());
    pthread_rwlock_wrlock(&p->seg_lock);
    rc = seglog_part_push_segment(p, s);
    pthread_rwlock_unlock(&p->seg_lock);
    if (rc != 0) {
        seglog_segment_unlink(s);
        seglog_segment_close(s);
        return rc;
    }
    pthread_mutex_lock(&p->sync_mu);
    if (p->durable_end < s->base_offset)
        p->durable_end = s->base_offset;
    pthread_mutex_unlock(&p->sync_mu);
    /* A failed checkpoint only widens the next recovery scan. */
    if (seglog_recovery_point_write(p->dir, s->base_offset) != 0)
        core_log(CORE_LOG_WARN, "seglog", "%s: %s", p->name, core_error_detail());
    return 0;
}

static bool needs_roll(seglog_part_t *p, size_t len, int32_t last_delta)
{
    const seglog_segment_t *s = seglog_part_active(p);
    const seglog_topic_config_t *c = &p->topic->cfg;
    if (s->size == 0)
        return false;
    if (s->size + (int64_t)len > c->segment_bytes)
        return true;
    if ((s->next_offset - s->base_offset) + last_delta >= (int64_t)UINT32_MAX)
        return true;
    return core_wall_ms() - s->created_ms >= c->segment_ms;
}

/* Writes the batch at the end of the active segment. Caller holds append_mu. */
static int write_batch(seglog_part_t *p, seglog_segment_t *s, const uint8_t *batch, size_t len)
{
    int rc = core_pwrite_all(s->fd, batch, len, s->size);
    if (rc == 0)
        return 0;
    int err = errno;
    if (ftruncate(s->fd, s->size) != 0) {
        seglog_part_fail(p, "cannot undo a failed write to %s.log: %s", s->path, strerror(errno));
        return seglog_part_failed_error(p);
    }
    return core_error(rc, "%s: %s writing %s.log at byte %" PRId64 "; nothing was appended",
                      p->name, rc == CORE_ENOSPC ? "disk full" : strerror(err), s->path, s->size);
}

int seglog_append(seglog_part_t *p, uint8_t *batch, size_t len, int64_t *base_offset)
{
    int64_t end;
    int rc = seglog_append_nowait(p, batch, len, base_offset, &end);
    if (rc == 0 && p->topic->cfg.flush == SEGLOG_FLUSH_ALWAYS)
        rc = seglog_sync(p, end);
    return rc;
}

static void call_hook(seglog_part_t *p)
{
    seglog_t *log = p->topic->log;
    pthread_rwlock_rdlock(&log->hook_lock);
    for (int i = 0; i < log->nhooks; i++)
        log->hooks[i].fn(log->hooks[i].arg, p);
    pthread_rwlock_unlock(&log->hook_lock);
}

int seglog_append_nowait(seglog_part_t *p, uint8_t *batch, size_t len, int64_t *base_offset,
                         int64_t *end_offset)
{
    const seglog_topic_config_t *c = &p->topic->cfg;
    if (len > (size_t)c->max_message_bytes)
        return core_error(CORE_ETOOBIG, "%s: batch of %zu bytes exceeds max.message.bytes %" PRId32,
                          p->name, len, c->max_message_bytes);
    record_batch_header_t h;
    int rc = record_batch_parse(batch, len, true, &h);
    if (rc != 0)
        return core_error(rc == CORE_ENOMEM ? rc : CORE_ECORRUPT, "%s: rejected batch: %s", p->name,
                          core_error_detail());
    if (record_batch_size(&h) != len)
        return core_error(CORE_ECORRUPT, "%s: %zu bytes given for a batch of %zu", p->name, len,
                          record_batch_size(&h));
    pthread_mutex_lock(&p->append_mu);
    if (seglog_part_is_failed(p)) {
        pthread_mutex_unlock(&p->append_mu);
        return seglog_part_failed_error(p);
    }
    if (!seglog_offsets_fit(p->log_end, h.last_offset_delta)) {
        pthread_mutex_unlock(&p->append_mu);
        return core_error(CORE_ERANGE, "%s: offsets would pass 2^63-1", p->name);
    }
    if (needs_roll(p, len, h.last_offset_delta) && (rc = roll(p)) != 0) {
        pthread_mutex_unlock(&p->append_mu);
        return rc;
    }
    seglog_segment_t *s = seglog_part_active(p);
    int64_t pos = s->size;
    h.base_offset = p->log_end;
    record_batch_set_base_offset(batch, h.base_offset);
    rc = write_batch(p, s, batch, len);
    if (rc == 0) {
        pthread_rwlock_wrlock(&p->seg_lock);
        seglog_segment_index_batch(s, &h, pos, c->index_interval_bytes);
        p->log_end = s->next_offset;
        pthread_rwlock_unlock(&p->seg_lock);
    }
    int64_t end = p->log_end;
    pthread_mutex_unlock(&p->append_mu);
    if (rc != 0)
        return rc;
    *base_offset = h.base_offset;
    *end_offset = end;
    atomic_fetch_add_explicit(&p->in_records, (int64_t)h.records_count, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->in_bytes, (int64_t)len, memory_order_relaxed);
    call_hook(p);
    return 0;
}

void seglog_part_traffic(seglog_part_t *p, seglog_traffic_t *out)
{
    out->in_records = atomic_load_explicit(&p->in_records, memory_order_relaxed);
    out->in_bytes = atomic_load_explicit(&p->in_bytes, memory_order_relaxed);
    out->out_records = atomic_load_explicit(&p->out_records, memory_order_relaxed);
    out->out_bytes = atomic_load_explicit(&p->out_bytes, memory_order_relaxed);
}

void seglog_part_count_out(seglog_part_t *p, const uint8_t *batches, size_t len)
{
    int64_t records = 0;
    size_t off = 0;
    while (off < len) {
        record_batch_header_t h;
        if (record_batch_parse_header(batches + off, len - off, &h) != 0)
            break;
        size_t size = record_batch_size(&h);
        if (size == 0 || size > len - off)
            break;
        records += h.records_count;
        off += size;
    }
    atomic_fetch_add_explicit(&p->out_records, records, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->out_bytes, (int64_t)len, memory_order_relaxed);
}

seglog_topic_t *seglog_part_topic(seglog_part_t *p)
{
    return p->topic;
}

int32_t seglog_part_id(const seglog_part_t *p)
{
    return p->id;
}

/* One fdatasync on behalf of every waiter. Called with sync_mu held; drops
 * and retakes it. */
static void sync_round(seglog_part_t *p)
{
    p->syncing = true;
    pthread_mutex_unlock(&p->sync_mu);
    pthread_rwlock_rdlock(&p->seg_lock);
    int64_t end = p->log_end;
    seglog_segment_t *s = seglog_part_active(p);
    int fd = dup(s->fd);
    char path[SEGLOG_PATH_MAX];
    snprintf(path, sizeof path, "%s.log", s->path);
    pthread_rwlock_unlock(&p->seg_lock);
    int err = 0;
    if (fd < 0 || fdatasync(fd) != 0)
        err = errno;
    if (fd >= 0)
        close(fd);
    if (err != 0)
        seglog_part_fail(p, "fdatasync of %s failed: %s", path, strerror(err));
    pthread_mutex_lock(&p->sync_mu);
    p->syncing = false;
    if (err == 0 && end > p->durable_end)
        p->durable_end = end;
    p->last_flush_ms = core_mono_ms();
    pthread_cond_broadcast(&p->sync_cv);
}

int seglog_sync(seglog_part_t *p, int64_t end_offset)
{
    /* log_end only grows, so checking before the wait is enough. */
    int64_t log_end = seglog_log_end(p);
    if (end_offset > log_end)
        return core_error(CORE_ERANGE, "%s: sync to offset %" PRId64 " beyond the log end %" PRId64,
                          p->name, end_offset, log_end);
    pthread_mutex_lock(&p->sync_mu);
    while (!p->failed && p->durable_end < end_offset) {
        if (p->syncing)
            pthread_cond_wait(&p->sync_cv, &p->sync_mu);
        else
            sync_round(p);
    }
    bool failed = p->failed;
    pthread_mutex_unlock(&p->sync_mu);
    return failed ? seglog_part_failed_error(p) : 0;
}

int64_t seglog_part_flush_tick(seglog_part_t *p, int64_t now_ms)
{
    const seglog_topic_config_t *c = &p->topic->cfg;
    if (c->flush != SEGLOG_FLUSH_INTERVAL)
        return INT64_MAX;
    pthread_mutex_lock(&p->sync_mu);
    int64_t due = p->last_flush_ms + c->flush_interval_ms;
    bool idle = p->failed || p->syncing;
    pthread_mutex_unlock(&p->sync_mu);
    if (idle)
        return c->flush_interval_ms;
    if (now_ms < due)
        return due - now_ms;
    int64_t end = seglog_log_end(p);
    pthread_mutex_lock(&p->sync_mu);
    if (p->durable_end < end && !p->syncing && !p->failed)
        sync_round(p);
    else
        p->last_flush_ms = now_ms;
    pthread_mutex_unlock(&p->sync_mu);
    return c->flush_interval_ms;
}

int seglog_part_close_clean(seglog_part_t *p)
{
    if (seglog_part_is_failed(p))
        return seglog_part_failed_error(p);
    int rc = seglog_sync(p, seglog_log_end(p));
    pthread_mutex_lock(&p->append_mu);
    seglog_segment_t *s = seglog_part_active(p);
    if (rc == 0)
        rc = seglog_segment_write_indexes(s);
    if (rc == 0)
        rc = seglog_recovery_point_write(p->dir, p->log_end);
    pthread_mutex_unlock(&p->append_mu);
    return rc;
}
