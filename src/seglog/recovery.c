/*
 * recovery.c - opening a partition folder and bringing it to a valid state.
 *
 * Rules, as in Kafka's LogLoader, except that strata has no replicas to
 * refill what it cuts, so it cuts only a torn tail:
 *
 *  1. Segment files are found by name (20-digit base offset + ".log");
 *     stray index files and temporaries are removed.
 *  2. After a clean shutdown (marker present), each segment's indexes are
 *     loaded and checked; an index that does not match is rebuilt by a scan.
 *  3. After a crash, every segment from the one holding the recovery point
 *     onward is scanned batch by batch: header, CRC32C, and dense offsets
 *     (each batch starts where the previous ended). Indexes are rebuilt.
 *  4. An invalid batch in the last segment is a torn tail: the file is cut
 *     back to the end of the last valid batch and fsynced.
 *  5. An invalid batch in any earlier segment, or a gap between segments,
 *     fails the partition with an error naming the file and byte. Nothing is
 *     cut, so no acknowledged record can vanish silently.
 *
 * Threading: runs in seglog_open() before the partition is visible to
 * anyone else.
 */
#include "seglog/seglog_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCAN_CHUNK (1u << 20)

/* Reads the batch at pos into buf (growing it) and validates it fully. */
static int scan_one(seglog_segment_t *s, int64_t pos, int64_t file_size, core_buf_t *buf,
                    record_batch_header_t *h)
{
    uint8_t head[RECORD_BATCH_LOG_OVERHEAD];
    if (file_size - pos < RECORD_BATCH_LOG_OVERHEAD)
        return core_error(CORE_ETRUNC, "truncated batch header");
    int rc = core_pread_all(s->fd, head, sizeof head, pos);
    if (rc != 0)
        return rc;
    size_t size;
    rc = record_batch_peek_size(head, sizeof head, (size_t)INT32_MAX, &size);
    if (rc != 0)
        return rc;
    if ((int64_t)size > file_size - pos)
        return core_error(CORE_ETRUNC, "batch of %zu bytes runs past the end of the file", size);
    core_buf_reset(buf);
    rc = core_buf_reserve(buf, size);
    if (rc != 0)
        return rc;
    rc = core_pread_all(s->fd, buf->data, size, pos);
    if (rc != 0)
        return rc;
    buf->len = size;
    return record_batch_parse(buf->data, size, true, h);
}

int seglog_segment_scan(seglog_segment_t *s, int32_t interval_bytes, int64_t *valid_end)
{
    off_t file_size = lseek(s->fd, 0, SEEK_END);
    if (file_size < 0)
        return core_error(CORE_EIO, "%s.log: seek failed: %s", s->path, strerror(errno));
    seglog_segment_index_clear(s);
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_SEGLOG, (size_t)INT32_MAX);
    int64_t pos = 0;
    int rc = 0;
    while (pos < file_size) {
        record_batch_header_t h;
        rc = scan_one(s, pos, file_size, &buf, &h);
        if (rc == 0 && !seglog_offsets_fit(h.base_offset, h.last_offset_delta))
            rc = core_error(CORE_ECORRUPT, "batch offsets %" PRId64 "+%" PRId32 " overflow",
                            h.base_offset, h.last_offset_delta);
        if (rc == 0 && h.base_offset != s->next_offset)
            rc = core_error(CORE_ECORRUPT,
                            "batch base offset %" PRId64 " where %" PRId64 " was expected",
                            h.base_offset, s->next_offset);
        if (rc == CORE_ENOMEM)
            break;
        if (rc != 0) {
            rc = core_error(CORE_ECORRUPT, "%s.log: invalid batch at byte %" PRId64 ": %s", s->path,
                            pos, core_error_detail());
            break;
        }
        seglog_segment_index_batch(s, &h, pos, interval_bytes);
        pos += (int64_t)record_batch_size(&h);
    }
    core_buf_fini(&buf);
    *valid_end = pos;
    return rc;
}

int64_t seglog_recovery_point_read(const char *dir)
{
    char *path = seglog_path_join(dir, SEGLOG_RECOVERY_POINT);
    if (path == NULL)
        return 0;
    char text[32] = {0};
    int64_t offset = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, text, sizeof text - 1);
        close(fd);
        char *nl = n > 0 ? memchr(text, '\n', (size_t)n) : NULL;
        if (nl != NULL) {
            *nl = '\0';
            if (core_parse_i64(text, 0, INT64_MAX, &offset) != 0)
                offset = 0; /* garbage: recover everything */
        }
    }
    core_free(path);
    return offset;
}

int seglog_recovery_point_write(const char *dir, int64_t offset)
{
    char *path = seglog_path_join(dir, SEGLOG_RECOVERY_POINT);
    char *tmp = seglog_path_join(dir, SEGLOG_RECOVERY_POINT ".tmp");
    int rc = path && tmp ? 0 : CORE_ENOMEM;
    char text[32];
    int n = snprintf(text, sizeof text, "%" PRId64 "\n", offset);
    int fd = rc == 0 ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (rc == 0 && fd < 0)
        rc = core_error(CORE_EIO, "%s: open failed: %s", tmp, strerror(errno));
    if (rc == 0)
        rc = core_pwrite_all(fd, text, (size_t)n, 0);
    if (rc == 0 && fdatasync(fd) != 0)
        rc = core_error(CORE_EIO, "%s: fdatasync failed: %s", tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = core_error(CORE_EIO, "%s: rename failed: %s", path, strerror(errno));
    if (rc == 0)
        rc = core_fsync_dir(dir);
    core_free(path);
    core_free(tmp);
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Parses "<20 digits>.log"; returns true with *base set. */
static bool parse_segment_name(const char *name, int64_t *base)
{
    if (strlen(name) != SEGLOG_NAME_DIGITS + 4 || strcmp(name + SEGLOG_NAME_DIGITS, ".log") != 0)
        return false;
    char digits[SEGLOG_NAME_DIGITS + 1];
    memcpy(digits, name, SEGLOG_NAME_DIGITS);
    digits[SEGLOG_NAME_DIGITS] = '\0';
    for (int i = 0; i < SEGLOG_NAME_DIGITS; i++)
        if (digits[i] < '0' || digits[i] > '9')
            return false;
    return core_parse_i64(digits, 0, INT64_MAX, base) == 0;
}

/* Collects the sorted base offsets of the folder's segments, removing
 * leftovers (*.tmp, and indexes whose .log is gone). */
static int list_segments(seglog_part_t *p, int64_t **bases, size_t *count)
{
    DIR *d = opendir(p->dir);
    if (d == NULL)
        return core_error(CORE_EIO, "%s: cannot open partition folder: %s", p->dir,
                          strerror(errno));
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        int64_t base;
        size_t len = strlen(e->d_name);
        if (parse_segment_name(e->d_name, &base)) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                int64_t *nv = core_realloc(CORE_MEM_SEGLOG, v, cap * sizeof *v);
                if (nv == NULL) {
                    rc = CORE_ENOMEM;
                    break;
                }
                v = nv;
            }
            v[n++] = base;
        } else if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0) {
            unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
    if (rc != 0) {
        core_free(v);
        return rc;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_i64);
    *bases = v;
    *count = n;
    return 0;
}

/* Recovers one segment after a crash. A bad batch in the last segment is cut;
 * anywhere else it fails the partition. */
static int recover_segment(seglog_part_t *p, seglog_segment_t *s, bool last, bool clean)
{
    int64_t valid_end;
    int rc = seglog_segment_scan(s, p->topic->cfg.index_interval_bytes, &valid_end);
    if (rc == CORE_ENOMEM || rc == 0)
        return rc;
    /* After a clean shutdown every byte was synced: a bad batch anywhere is
     * damage, not a torn write, and cutting it would lose acknowledged
     * records. */
    if (clean)
        return core_error(CORE_ECORRUPT,
                          "%s: corrupt data after a clean shutdown (%s); "
                          "refusing to cut acknowledged data: restore the file or move it "
                          "away to continue",
                          p->name, core_error_detail());
    if (!last)
        return core_error(CORE_ECORRUPT,
                          "%s: sealed segment is corrupt (%s); refusing to cut "
                          "acknowledged data: restore the file or move it away to continue",
                          p->name, core_error_detail());
    core_log(CORE_LOG_WARN, "seglog", "%s: cutting torn tail at byte %lld of %s.log: %s", p->name,
             (long long)valid_end, s->path, core_error_detail());
    if (ftruncate(s->fd, valid_end) != 0 || fdatasync(s->fd) != 0)
        return core_error(CORE_EIO, "%s.log: cannot cut torn tail: %s", s->path, strerror(errno));
    return 0;
}

static int load_segment(seglog_part_t *p, int64_t base, bool clean, int64_t recovery_point,
                        int64_t next_base, bool last)
{
    seglog_segment_t *s;
    int rc = seglog_segment_open(p->dir, base, &s);
    if (rc != 0)
        return rc;
    bool scanned = false;
    /* A segment that ends at or below the recovery point was fsynced whole. */
    bool trusted = clean || (next_base >= 0 && next_base <= recovery_point);
    if (trusted) {
        rc = seglog_segment_load_indexes(s);
        if (rc == CORE_ECORRUPT) {
            core_log(CORE_LOG_WARN, "seglog", "%s: rebuilding index: %s", p->name,
                     core_error_detail());
            rc = recover_segment(p, s, last, clean);
            scanned = true;
        }
    } else {
        rc = recover_segment(p, s, last, clean);
        scanned = true;
    }
    /* Rebuilt indexes are hints: failing to store them (a full disk) must not
     * make the data unreadable. */
    if (rc == 0 && scanned && (!last || clean) && seglog_segment_write_indexes(s) != 0)
        core_log(CORE_LOG_WARN, "seglog", "%s: cannot store a rebuilt index: %s", p->name,
                 core_error_detail());
    if (rc == 0)
        rc = seglog_part_push_segment(p, s);
    if (rc != 0)
        seglog_segment_close(s);
    return rc;
}

/* Checks that segments join up: each ends where the next begins. */
static int check_chain(seglog_part_t *p)
{
    for (size_t i = 0; i + 1 < p->n_segs; i++) {
        seglog_segment_t *a = p->segs[i], *b = p->segs[i + 1];
        if (a->next_offset != b->base_offset)
            return core_error(CORE_ECORRUPT,
                              "%s: segment %s.log ends at offset %" PRId64
                              " but the next starts at %" PRId64 ": records are missing",
                              p->name, a->path, a->next_offset, b->base_offset);
    }
    return 0;
}

int seglog_part_load(seglog_part_t *p, bool clean)
{
    int64_t *bases = NULL;
    size_t n = 0;
    int rc = list_segments(p, &bases, &n);
    if (rc != 0)
        return rc;
    int64_t recovery_point = clean ? INT64_MAX : seglog_recovery_point_read(p->dir);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int64_t next_base = i + 1 < n ? bases[i + 1] : -1;
        rc = load_segment(p, bases[i], clean, recovery_point, next_base, i + 1 == n);
    }
    core_free(bases);
    if (rc == 0 && p->n_segs == 0) {
        seglog_segment_t *s;
        rc = seglog_segment_create(p->dir, 0, &s);
        if (rc == 0 && (rc = seglog_part_push_segment(p, s)) != 0)
            seglog_segment_close(s);
    }
    if (rc == 0)
        rc = check_chain(p);
    if (rc != 0)
        return rc;
    p->log_start = p->segs[0]->base_offset;
    p->log_end = seglog_part_active(p)->next_offset;
    /* After a crash the tail may sit only in the page cache: sync it, so that
     * durable_end below tells the truth. */
    seglog_segment_t *active = seglog_part_active(p);
    if (!clean && fdatasync(active->fd) != 0)
        return core_error(CORE_EIO, "%s.log: fdatasync failed: %s", active->path, strerror(errno));
    p->durable_end = p->log_end;
    if (!clean && seglog_recovery_point_write(p->dir, active->base_offset) != 0)
        core_log(CORE_LOG_WARN, "seglog", "%s: cannot store the recovery point: %s", p->name,
                 core_error_detail());
    return 0;
}
