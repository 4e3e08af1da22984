/*
 * archive.c - the `archive` sink: a topic's valid records as Parquet files
 * in Hive-style hour partitions, exactly once (lake.h; docs/lake.md).
 *
 * One part per partition task. A record goes to the open file of its hour
 * (event time), one open file per hour, at most max_open per part (the
 * oldest closes to make room). A file lives in three places in turn:
 *
 *   open       being written in the part's staging folder
 *              <dir>/<topic>/_staging/<partition>/<hour>+<first>+<epoch>.parquet.tmp
 *   closed     finished (fdatasynced) in staging; "staged" until a flush puts
 *              it in a commit ("flushed"), then "committed"
 *   published  renamed to <dir>/<topic>/date=../hour=../<topic>+<p>+<first>.parquet
 *              and the folder fsynced, right after its commit succeeded
 *
 * Files close when they reach roll_rows or roll_bytes, when they have been
 * open roll_age, when the watermark passes the end of their hour (files
 * opened for an hour the watermark had already passed, late records, roll
 * by rows, size and age only; not those a restart writes again), and at the
 * final tick.
 *
 * State committed with the offset (strata_state, name "sink"):
 *   "f<hour>:<first>" -> "<epoch>"  a closed file the commit covers; it is
 *       renamed into place after the commit (again at the next open if the
 *       process died first) and the entry deleted by the next commit;
 *   "h<hour>" -> "<done> <open> <marked>"  per hour with data: the last
 *       offset of the hour in a committed file (-1: none), the first offset
 *       of the hour's open file when committed (-1: none), and whether the
 *       hour's _SUCCESS was written.
 *
 * Invariants:
 *  1. Within a partition, an hour's records go to its files in offset
 *     order, and each file holds every record of its hour between its first
 *     and last offset (but those refused to the dlq). So the records of
 *     hour H that are durable are exactly those at offsets <= done(H).
 *  2. The committed offset is at most the first offset of every open file
 *     (hold()). After a restart the records from it come again; a record of
 *     H at an offset <= done(H) is skipped, the others are written again,
 *     and a file that was open restarts at its own first offset (its name).
 *  3. Only committed files reach the lake, under a name no other file of
 *     the partition ever has (the hour and first offset). A crash leaves
 *     in staging only files that no commit covers (deleted at the next
 *     open) or committed ones (published at the next open): nothing partial
 *     is ever visible and nothing is in two files. Staging names carry the
 *     task's epoch, so a fenced zombie never writes over its successor's.
 *  4. `_SUCCESS` goes into an hour's folder when, on the pipeline's thread,
 *     every partition's part is open, the lowest of their watermarks is at
 *     or past the hour's end, and no part has a file of the hour that is
 *     open, not yet published, or (after a restart) still to be written
 *     again (`blocked` until the committed offset passes it). Records later
 *     than that still go to their hour, in a new file; the marker is written
 *     again once that file is published.
 *
 * Upload: with S3 settings, each file published and each marker written is
 * handed to the archive's uploader (s3_upload.c), whose own thread uploads
 * it; nothing here waits for the network.
 *
 * Threading: an archive and its parts belong to the pipeline's thread.
 */
#include "lake/lake.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOUR_US        3600000000LL
#define PATH_CAP       4096
#define EXTRA_COLS     4 /* _key, _partition, _offset, _timestamp */
#define STAGING_DIR    "_staging"
#define MARKER         "_SUCCESS"
#define GROUP_MAX      ((int64_t)8 << 20) /* row group size cap: memory per open file */
#define VALUE_CAP      64
#define KEY_CAP        64
#define DEFAULT_ROWS   1000000
#define DEFAULT_BYTES  ((int64_t)128 << 20)
#define DEFAULT_AGE_MS (5 * 60 * 1000)
#define DEFAULT_OPEN   8
#define MAX_HOURS      4096 /* hour entries kept per partition */

typedef enum { F_STAGED, F_FLUSHED, F_COMMITTED } file_state_t;

typedef struct {
    int64_t hour;
    int64_t first, last; /* offsets of its first and last row */
    int64_t rows;        /* -1: unknown (restored from the state) */
    int64_t opened_ms;   /* monotonic */
    int64_t epoch;       /* of the task that wrote it: part of its staging name */
    bool late;           /* opened after the watermark passed its hour */
    lake_writer_t *w;    /* open files */
    file_state_t state;  /* closed files */
} arc_file_t;

typedef struct {
    int64_t hour, first;
} arc_ref_t;

typedef struct {
    int64_t hour;
    int64_t done;    /* last offset in a committed file; -1: none */
    int64_t blocked; /* restored open file's first offset; -1: none */
    bool marked;
    bool stored;           /* the store has a row for it ... */
    char saved[VALUE_CAP]; /* ... holding this */
} arc_hour_t;

typedef struct arc_part arc_part_t;

struct lake_archive {
    char *dir;
    lake_codec_t codec;
    int64_t roll_rows, roll_bytes, roll_age_ms;
    size_t max_open;
    arc_part_t **parts; /* the open parts */
    size_t nparts, capparts;
    int32_t partitions;
    lake_uploader_t *up; /* NULL: no upload (lake.h, "Uploading to S3") */
};

struct arc_part {
    lake_archive_t *a;
    int32_t partition;
    int64_t epoch;
    char *topic;
    char *topic_dir; /* <dir>/<topic> */
    char *staging;   /* <topic_dir>/_staging/<partition> */
    size_t nfields;
    lake_column_t *cols;
    size_t ncols;
    schema_value_t *vals; /* one row */
    arc_file_t *open;     /* max_open, in the order they opened */
    size_t nopen;
    arc_file_t *closed;
    size_t nclosed, capclosed;
    arc_ref_t *forget; /* published: "f" entries to delete */
    size_t nforget, capforget;
    arc_hour_t *hours;
    size_t nhours, caphours;
    int64_t wm, committed;
    int64_t *rows;
    int64_t fail_hold; /* the first offset of a file lost to an error */
    int error;         /* from committed(); returned by every later call */
    char error_text[256];
};

/* ---- Small helpers. */

static int64_t hour_of(int64_t us)
{
    int64_t h = us / HOUR_US;
    return us % HOUR_US < 0 ? h - 1 : h;
}

/* The hour's end in microseconds, saturated. */
static int64_t hour_end(int64_t hour)
{
    return hour >= INT64_MAX / HOUR_US - 1 ? INT64_MAX : (hour + 1) * HOUR_US;
}

/* "date=YYYY-MM-DD/hour=HH" of an hour. CORE_EINVAL past what the calendar
 * functions take. */
static int hour_name(int64_t hour, char *out, size_t cap)
{
    struct tm tm;
    if (hour > INT64_MAX / 3600 || hour < INT64_MIN / 3600)
        return core_error(CORE_EINVAL, "archive: event time out of range");
    time_t secs = (time_t)(hour * 3600);
    if (gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
        return core_error(CORE_EINVAL, "archive: event time out of range (years 0 to 9999)");
    snprintf(out, cap, "date=%04d-%02d-%02d/hour=%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour);
    return 0;
}

static int path_fmt(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int path_fmt(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, PATH_CAP, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_CAP)
        return core_error(CORE_EINVAL, "archive: path too long: %.200s...", out);
    return 0;
}

static int hour_dir(const arc_part_t *p, int64_t hour, char *out)
{
    char name[64];
    int rc = hour_name(hour, name, sizeof name);
    return rc != 0 ? rc : path_fmt(out, "%s/%s", p->topic_dir, name);
}

static int final_path(const arc_part_t *p, int64_t hour, int64_t first, char *out)
{
    char dir[PATH_CAP];
    int rc = hour_dir(p, hour, dir);
    return rc != 0 ? rc
                   : path_fmt(out, "%s/%s+%" PRId32 "+%" PRId64 ".parquet", dir, p->topic,
                              p->partition, first);
}

static int staging_name(int64_t hour, int64_t first, int64_t epoch, char *out, size_t cap)
{
    int n =
        snprintf(out, cap, "%" PRId64 "+%" PRId64 "+%" PRId64 ".parquet.tmp", hour, first, epoch);
    return n < 0 || (size_t)n >= cap ? core_error(CORE_EINVAL, "archive: name too long") : 0;
}

static int staging_path(const arc_part_t *p, const arc_file_t *f, char *out)
{
    char name[128];
    int rc = staging_name(f->hour, f->first, f->epoch, name, sizeof name);
    return rc != 0 ? rc : path_fmt(out, "%s/%s", p->staging, name);
}

/* mkdir -p; every folder it creates is made durable in its parent. */
static int make_dirs(const char *path)
{
    char buf[PATH_CAP];
    size_t n = strnlen(path, PATH_CAP);
    if (n == 0 || n >= PATH_CAP)
        return core_error(CORE_EINVAL, "archive: bad folder name");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) == 0) {
            char *slash = strrchr(buf, '/');
            int rc = 0;
            if (slash == NULL) {
                rc = core_fsync_dir(".");
            } else if (slash == buf) {
                rc = core_fsync_dir("/");
            } else {
                *slash = '\0';
                rc = core_fsync_dir(buf);
                *slash = '/';
            }
            if (rc != 0)
                return rc;
        } else if (errno != EEXIST) {
            return core_error(CORE_EIO, "archive: cannot create folder %s: %s", buf,
                              strerror(errno));
        }
        buf[i] = c;
    }
    return 0;
}

static int write_marker(const char *dir)
{
    char path[PATH_CAP];
    int rc = path_fmt(path, "%s/%s", dir, MARKER);
    if (rc != 0)
        return rc;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return core_error(CORE_EIO, "archive: cannot write %s: %s", path, strerror(errno));
    if (fsync(fd) != 0)
        rc = core_error(CORE_EIO, "archive: fsync %s: %s", path, strerror(errno));
    close(fd);
    return rc != 0 ? rc : core_fsync_dir(dir);
}

/* Hands a file or marker now in the lake (path, under the topic folder) to
 * the uploader, if any: it never waits for the network. */
static void upload(const arc_part_t *p, const char *path)
{
    size_t n = strlen(p->topic_dir);
    if (p->a->up != NULL && strncmp(path, p->topic_dir, n) == 0 && path[n] == '/')
        lake_uploader_enqueue(p->a->up, path + n + 1);
}

/* Remembers an error of committed() for every later call (never as
 * CORE_EINVAL, which write() would turn into dlq rows). */
static void keep_error(arc_part_t *p, int rc)
{
    if (p->error != 0 || rc == 0)
        return;
    p->error = rc == CORE_EINVAL ? CORE_EIO : rc;
    snprintf(p->error_text, sizeof p->error_text, "%s", core_error_detail());
}

static int kept_error(const arc_part_t *p)
{
    return core_error(p->error, "%s", p->error_text);
}

/* ---- Hours. */

static arc_hour_t *find_hour(arc_part_t *p, int64_t hour)
{
    for (size_t i = p->nhours; i-- > 0;)
        if (p->hours[i].hour == hour)
            return &p->hours[i];
    return NULL;
}

static arc_hour_t *add_hour(arc_part_t *p, int64_t hour)
{
    if (core_grow(CORE_MEM_LAKE, (void **)&p->hours, &p->caphours, p->nhours + 1,
                  sizeof *p->hours) != 0)
        return NULL;
    arc_hour_t *h = &p->hours[p->nhours++];
    memset(h, 0, sizeof *h);
    h->hour = hour;
    h->done = -1;
    h->blocked = -1;
    return h;
}

static arc_file_t *find_open(arc_part_t *p, int64_t hour)
{
    for (size_t i = 0; i < p->nopen; i++)
        if (p->open[i].hour == hour)
            return &p->open[i];
    return NULL;
}

/* A closed file of the hour that is not yet in the lake. */
static bool listed(const arc_part_t *p, int64_t hour)
{
    for (size_t i = 0; i < p->nclosed; i++)
        if (p->closed[i].hour == hour)
            return true;
    return false;
}

/* ---- Files. */

static int push_closed(arc_part_t *p, const arc_file_t *f)
{
    int rc = core_grow(CORE_MEM_LAKE, (void **)&p->closed, &p->capclosed, p->nclosed + 1,
                       sizeof *p->closed);
    if (rc == 0)
        p->closed[p->nclosed++] = *f;
    return rc;
}

static void drop_open(arc_part_t *p, size_t i)
{
    memmove(&p->open[i], &p->open[i + 1], (p->nopen - i - 1) * sizeof *p->open);
    p->nopen--;
}

/* Finishes open file i (fdatasync) and stages it. On failure its records
 * are lost to this run: the part holds the committed offset at its first
 * offset for good, and the error stops the pipeline. */
static int close_file(arc_part_t *p, size_t i)
{
    arc_file_t f = p->open[i];
    char meta[64];
    snprintf(meta, sizeof meta, "%" PRId64 "-%" PRId64, f.first, f.last);
    int rc = lake_writer_set_meta(f.w, "strata.offsets", meta);
    if (rc != 0) {
        lake_writer_abort(f.w);
    } else {
        rc = lake_writer_finish(f.w);
    }
    f.w = NULL;
    drop_open(p, i);
    if (rc == 0) {
        f.state = F_STAGED;
        rc = push_closed(p, &f);
    }
    if (rc != 0)
        p->fail_hold = CORE_MIN(p->fail_hold, f.first);
    return rc;
}

/* rewrite: the hour's file was open at the last commit (restored `blocked`),
 * so this one is not late even though the restored watermark is past it. */
static int open_file(arc_part_t *p, int64_t hour, int64_t first, bool rewrite, arc_file_t **out)
{
    char name[64], path[PATH_CAP];
    int rc = hour_name(hour, name, sizeof name); /* refuses hours without a folder name */
    if (rc != 0)
        return rc;
    if (p->nopen == p->a->max_open && (rc = close_file(p, 0)) != 0)
        return rc;
    arc_file_t f = {
        .hour = hour,
        .first = first,
        .last = first,
        .opened_ms = core_mono_ms(),
        .epoch = p->epoch,
        .late = hour_end(hour) <= p->wm && !rewrite,
    };
    lake_writer_options_t o;
    lake_writer_options_default(&o);
    o.codec = p->a->codec;
    o.dictionary_numbers = true; /* few distinct numbers (prices, sizes, flags) */
    o.row_group_bytes = (size_t)CORE_MAX(1, CORE_MIN(p->a->roll_bytes, GROUP_MAX));
    rc = staging_path(p, &f, path);
    if (rc == 0)
        rc = lake_writer_create(path, p->cols, p->ncols, &o, &f.w);
    char part[16];
    snprintf(part, sizeof part, "%" PRId32, p->partition);
    if (rc == 0)
        rc = lake_writer_set_meta(f.w, "strata.topic", p->topic);
    if (rc == 0)
        rc = lake_writer_set_meta(f.w, "strata.partition", part);
    if (rc != 0) {
        lake_writer_abort(f.w);
        return rc == CORE_EINVAL ? core_error(CORE_EIO, "%s", core_error_detail()) : rc;
    }
    p->open[p->nopen] = f;
    *out = &p->open[p->nopen++];
    return 0;
}

static void fill_row(arc_part_t *p, const stream_sink_record_t *r)
{
    memcpy(p->vals, r->values, p->nfields * sizeof *p->vals);
    schema_value_t *x = &p->vals[p->nfields];
    x[0] = r->key != NULL ? (schema_value_t){.type = SCHEMA_STRING, .v.s = {r->key, r->key_len}}
                          : (schema_value_t){.type = SCHEMA_NULL};
    x[1] = (schema_value_t){.type = SCHEMA_INT, .v.i = r->partition};
    x[2] = (schema_value_t){.type = SCHEMA_INT, .v.i = r->offset};
    x[3] = (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = r->timestamp_us};
}

/* Renames every committed file into the lake, fsyncs its folder, and
 * queues its state entry for deletion. count: add the rows to the figure. */
static int publish(arc_part_t *p, bool count)
{
    char from[PATH_CAP], to[PATH_CAP], dir[PATH_CAP];
    size_t keep = 0;
    int rc = 0;
    for (size_t i = 0; i < p->nclosed; i++) {
        arc_file_t *f = &p->closed[i];
        if (f->state != F_COMMITTED || rc != 0) {
            p->closed[keep++] = *f;
            continue;
        }
        rc = staging_path(p, f, from);
        if (rc == 0)
            rc = final_path(p, f->hour, f->first, to);
        if (rc == 0)
            rc = hour_dir(p, f->hour, dir);
        if (rc == 0)
            rc = make_dirs(dir);
        if (rc == 0 && rename(from, to) != 0) {
            struct stat st;
            if (errno == ENOENT && stat(to, &st) == 0)
                ; /* published before a crash; its entry outlived it */
            else if (errno == ENOENT)
                core_log(CORE_LOG_WARN, "lake",
                         "archive: committed file %s is neither in staging nor in the lake "
                         "(removed since?)",
                         to);
            else
                rc =
                    core_error(CORE_EIO, "archive: rename %s to %s: %s", from, to, strerror(errno));
        }
        if (rc == 0)
            rc = core_fsync_dir(dir);
        if (rc == 0)
            upload(p, to);
        if (rc == 0)
            rc = core_grow(CORE_MEM_LAKE, (void **)&p->forget, &p->capforget, p->nforget + 1,
                           sizeof *p->forget);
        if (rc != 0) {
            p->closed[keep++] = *f;
            continue;
        }
        p->forget[p->nforget++] = (arc_ref_t){f->hour, f->first};
        if (count && f->rows > 0 && p->rows != NULL)
            *p->rows += f->rows;
    }
    p->nclosed = keep;
    return rc;
}

/* ---- _SUCCESS markers (invariant 4). */

static int64_t low_watermark(const lake_archive_t *a)
{
    if (a->partitions <= 0 || a->nparts < (size_t)a->partitions)
        return INT64_MIN;
    int64_t low = INT64_MAX;
    for (size_t i = 0; i < a->nparts; i++)
        low = CORE_MIN(low, a->parts[i]->wm);
    return low;
}

/* Whether some part still has a file of the hour to publish; *data: some
 * part's files of the hour are in the lake. */
static bool hour_busy(lake_archive_t *a, int64_t hour, bool *data)
{
    *data = false;
    for (size_t i = 0; i < a->nparts; i++) {
        arc_part_t *q = a->parts[i];
        arc_hour_t *h = find_hour(q, hour);
        if (find_open(q, hour) != NULL || listed(q, hour) || (h != NULL && h->blocked >= 0))
            return true;
        if (h != NULL && h->done >= 0)
            *data = true;
    }
    return false;
}

static int mark_hour(lake_archive_t *a, arc_part_t *p, int64_t hour)
{
    bool data = false;
    if (hour_busy(a, hour, &data))
        return 0;
    if (data) {
        char dir[PATH_CAP];
        int rc = hour_dir(p, hour, dir);
        if (rc == 0)
            rc = write_marker(dir);
        if (rc != 0)
            return rc;
        char marker[PATH_CAP];
        if (path_fmt(marker, "%s/%s", dir, MARKER) == 0)
            upload(p, marker);
    }
    for (size_t i = 0; i < a->nparts; i++) {
        arc_hour_t *h = find_hour(a->parts[i], hour);
        if (h != NULL)
            h->marked = true;
    }
    return 0;
}

static int write_markers(lake_archive_t *a)
{
    int64_t low = low_watermark(a);
    if (low == INT64_MIN)
        return 0;
    for (size_t i = 0; i < a->nparts; i++) {
        arc_part_t *p = a->parts[i];
        for (size_t j = 0; j < p->nhours; j++) {
            if (p->hours[j].marked || hour_end(p->hours[j].hour) > low)
                continue;
            int rc = mark_hour(a, p, p->hours[j].hour);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* ---- Opening a part: columns, folders, the committed state, recovery. */

static const char *const extra_names[EXTRA_COLS] = {"_key", "_partition", "_offset", "_timestamp"};

static int make_columns(arc_part_t *p, const schema_t *s)
{
    static const lake_col_type_t types[] = {
        [SCHEMA_BOOL] = LAKE_COL_BOOL,           [SCHEMA_INT] = LAKE_COL_INT64,
        [SCHEMA_FLOAT] = LAKE_COL_DOUBLE,        [SCHEMA_STRING] = LAKE_COL_STRING,
        [SCHEMA_TIMESTAMP] = LAKE_COL_TIMESTAMP, [SCHEMA_OBJECT] = LAKE_COL_STRING,
        [SCHEMA_ARRAY] = LAKE_COL_STRING,
    };
    p->nfields = schema_field_count(s);
    p->ncols = p->nfields + EXTRA_COLS;
    p->cols = core_calloc(CORE_MEM_LAKE, p->ncols, sizeof *p->cols);
    p->vals = core_calloc(CORE_MEM_LAKE, p->ncols, sizeof *p->vals);
    if (p->cols == NULL || p->vals == NULL)
        return core_error(CORE_ENOMEM, "archive: out of memory");
    for (size_t i = 0; i < p->nfields; i++) {
        const schema_field_t *f = schema_field(s, i);
        for (size_t j = 0; j < EXTRA_COLS; j++)
            if (strcmp(f->name, extra_names[j]) == 0)
                return core_error(CORE_EINVAL,
                                  "archive of topic %s: schema field '%s' clashes with the "
                                  "archive's own column of that name",
                                  p->topic, f->name);
        p->cols[i] = (lake_column_t){f->name, types[f->type], !f->required};
    }
    lake_column_t *x = &p->cols[p->nfields];
    x[0] = (lake_column_t){extra_names[0], LAKE_COL_STRING, true};
    x[1] = (lake_column_t){extra_names[1], LAKE_COL_INT64, false};
    x[2] = (lake_column_t){extra_names[2], LAKE_COL_INT64, false};
    x[3] = (lake_column_t){extra_names[3], LAKE_COL_TIMESTAMP, false};
    return 0;
}

/* Parses "<int> <int> ..." (n numbers) from s. */
static bool parse_ints(const char *s, int64_t *v, size_t n)
{
    char buf[VALUE_CAP];
    snprintf(buf, sizeof buf, "%s", s);
    char *at = buf;
    for (size_t i = 0; i < n; i++) {
        char *end = strchr(at, i + 1 < n ? ' ' : '\0');
        if (end == NULL)
            return false;
        *end = '\0';
        if (core_parse_i64(at, INT64_MIN, INT64_MAX, &v[i]) != 0)
            return false;
        at = end + 1;
    }
    return true;
}

/* One committed entry: "h<hour>" or "f<hour>:<first>". */
static int restore_entry(arc_part_t *p, const stream_sink_entry_t *e)
{
    char key[KEY_CAP], val[VALUE_CAP];
    if (e->key_len == 0 || e->key_len >= sizeof key || e->state_len >= sizeof val)
        goto bad;
    memcpy(key, e->key, e->key_len);
    key[e->key_len] = '\0';
    memcpy(val, e->state, e->state_len);
    val[e->state_len] = '\0';
    int64_t v[3];
    if (key[0] == 'h' && parse_ints(key + 1, v, 1)) {
        int64_t hour = v[0];
        if (!parse_ints(val, v, 3) || find_hour(p, hour) != NULL)
            goto bad;
        arc_hour_t *h = add_hour(p, hour);
        if (h == NULL)
            return CORE_ENOMEM;
        h->done = v[0];
        h->blocked = v[1];
        h->marked = v[2] != 0;
        h->stored = true;
        snprintf(h->saved, sizeof h->saved, "%s", val);
        return 0;
    }
    char *colon = strchr(key, ':');
    if (key[0] == 'f' && colon != NULL) {
        *colon = ' ';
        if (!parse_ints(key + 1, v, 2) || !parse_ints(val, &v[2], 1))
            goto bad;
        arc_file_t f = {.hour = v[0], .first = v[1], .epoch = v[2], .rows = -1};
        f.state = F_COMMITTED;
        return push_closed(p, &f);
    }
bad:
    core_log(CORE_LOG_WARN, "lake",
             "archive of %s, partition %" PRId32 ": ignored an unreadable "
             "state entry",
             p->topic, p->partition);
    return 0;
}

/* Whether name is the staging name of a committed file. */
static bool committed_name(const arc_part_t *p, const char *name)
{
    char want[128];
    for (size_t i = 0; i < p->nclosed; i++) {
        const arc_file_t *f = &p->closed[i];
        if (staging_name(f->hour, f->first, f->epoch, want, sizeof want) == 0 &&
            strcmp(want, name) == 0)
            return true;
    }
    return false;
}

/* Deletes what a crash left in staging, except the committed files. */
static int clean_staging(arc_part_t *p)
{
    DIR *d = opendir(p->staging);
    if (d == NULL)
        return core_error(CORE_EIO, "archive: cannot read %s: %s", p->staging, strerror(errno));
    struct dirent *de;
    int rc = 0;
    char path[PATH_CAP];
    while (rc == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            committed_name(p, de->d_name))
            continue;
        rc = path_fmt(path, "%s/%s", p->staging, de->d_name);
        if (rc == 0 && unlink(path) != 0 && errno != ENOENT)
            rc = core_error(CORE_EIO, "archive: cannot delete %s: %s", path, strerror(errno));
    }
    closedir(d);
    return rc != 0 ? rc : core_fsync_dir(p->staging);
}

static int register_part(arc_part_t *p, int32_t partitions)
{
    lake_archive_t *a = p->a;
    int rc =
        core_grow(CORE_MEM_LAKE, (void **)&a->parts, &a->capparts, a->nparts + 1, sizeof *a->parts);
    if (rc != 0)
        return rc;
    a->parts[a->nparts++] = p;
    a->partitions = partitions;
    return 0;
}

static void unregister_part(arc_part_t *p)
{
    lake_archive_t *a = p->a;
    for (size_t i = 0; i < a->nparts; i++) {
        if (a->parts[i] == p) {
            a->parts[i] = a->parts[--a->nparts];
            return;
        }
    }
}

static int part_paths(arc_part_t *p, const char *topic)
{
    char buf[PATH_CAP];
    p->topic = core_strdup(CORE_MEM_LAKE, topic);
    int rc = p->topic == NULL ? core_error(CORE_ENOMEM, "archive: out of memory") : 0;
    if (rc == 0)
        rc = path_fmt(buf, "%s/%s", p->a->dir, topic);
    if (rc == 0 && (p->topic_dir = core_strdup(CORE_MEM_LAKE, buf)) == NULL)
        rc = core_error(CORE_ENOMEM, "archive: out of memory");
    if (rc == 0)
        rc = path_fmt(buf, "%s/%s/%" PRId32, p->topic_dir, STAGING_DIR, p->partition);
    if (rc == 0 && (p->staging = core_strdup(CORE_MEM_LAKE, buf)) == NULL)
        rc = core_error(CORE_ENOMEM, "archive: out of memory");
    return rc;
}

static void part_free(arc_part_t *p)
{
    for (size_t i = 0; i < p->nopen; i++)
        lake_writer_abort(p->open[i].w);
    core_free(p->topic);
    core_free(p->topic_dir);
    core_free(p->staging);
    core_free(p->cols);
    core_free(p->vals);
    core_free(p->open);
    core_free(p->closed);
    core_free(p->forget);
    core_free(p->hours);
    core_free(p);
}

static int arc_open(void *sink, const stream_sink_open_t *info, void **out)
{
    lake_archive_t *a = sink;
    arc_part_t *p = core_calloc(CORE_MEM_LAKE, 1, sizeof *p);
    if (p == NULL)
        return core_error(CORE_ENOMEM, "archive: out of memory");
    p->a = a;
    p->partition = info->partition;
    p->epoch = info->epoch;
    p->wm = info->watermark_us;
    p->committed = info->committed;
    p->rows = info->rows;
    p->fail_hold = INT64_MAX;
    p->open = core_calloc(CORE_MEM_LAKE, a->max_open, sizeof *p->open);
    int rc = p->open == NULL ? core_error(CORE_ENOMEM, "archive: out of memory") : 0;
    if (rc == 0)
        rc = part_paths(p, info->topic);
    if (rc == 0)
        rc = make_columns(p, info->schema);
    if (rc == 0)
        rc = make_dirs(p->staging);
    for (size_t i = 0; rc == 0 && i < info->nstate; i++)
        rc = restore_entry(p, &info->state[i]);
    if (rc == 0)
        rc = clean_staging(p);
    if (rc == 0 && a->up != NULL) /* its first start scans for files not yet uploaded */
        rc = lake_uploader_start(a->up, info->topic);
    if (rc == 0)
        rc = publish(p, false); /* what the last commit covered, if the crash came first */
    if (rc == 0)
        rc = register_part(p, info->partitions);
    if (rc != 0) {
        part_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* ---- The sink interface. */

static int arc_write(void *part, const stream_sink_record_t *r)
{
    arc_part_t *p = part;
    if (p->error != 0)
        return kept_error(p);
    int64_t hour = hour_of(r->event_us);
    arc_hour_t *h = find_hour(p, hour);
    if (h != NULL && r->offset <= h->done)
        return 0; /* already in a committed file (invariant 2) */
    if (r->key != NULL && !core_utf8_valid(r->key, r->key_len))
        return core_error(CORE_EINVAL, "archive: the record's key is not valid UTF-8 (column _key "
                                       "holds text)");
    arc_file_t *f = find_open(p, hour);
    bool fresh = f == NULL;
    int rc = fresh ? open_file(p, hour, r->offset, h != NULL && h->blocked >= 0, &f) : 0;
    if (rc != 0)
        return rc;
    fill_row(p, r);
    rc = lake_writer_add(f->w, p->vals);
    if (rc == CORE_EINVAL && fresh) { /* refused: no file for it */
        lake_writer_abort(f->w);
        drop_open(p, (size_t)(f - p->open));
    }
    if (rc != 0)
        return rc;
    f->rows++;
    f->last = r->offset;
    if (h == NULL && (h = add_hour(p, hour)) == NULL)
        return CORE_ENOMEM;
    h->marked = false; /* a late record reopens a marked hour: marked again once published */
    if (f->rows >= p->a->roll_rows || lake_writer_bytes(f->w) >= p->a->roll_bytes)
        rc = close_file(p, (size_t)(f - p->open));
    return rc;
}

static bool has_staged(const arc_part_t *p)
{
    for (size_t i = 0; i < p->nclosed; i++)
        if (p->closed[i].state == F_STAGED)
            return true;
    return false;
}

static int arc_tick(void *part, int64_t watermark_us, bool final)
{
    arc_part_t *p = part;
    p->wm = watermark_us;
    if (p->error != 0)
        return kept_error(p);
    int64_t now = core_mono_ms();
    for (size_t i = 0; i < p->nopen;) {
        const arc_file_t *f = &p->open[i];
        bool due = final || now - f->opened_ms >= p->a->roll_age_ms ||
                   (!f->late && hour_end(f->hour) <= watermark_us);
        if (!due) {
            i++;
            continue;
        }
        int rc = close_file(p, i);
        if (rc != 0)
            return rc;
    }
    return has_staged(p) || p->nforget > 0 ? 1 : 0;
}

static int put_files(arc_part_t *p, stream_sink_put_fn put, void *ctx)
{
    char key[KEY_CAP], val[VALUE_CAP];
    int rc = 0;
    if (has_staged(p))
        rc = core_fsync_dir(p->staging); /* the files' names, before the commit */
    for (size_t i = 0; rc == 0 && i < p->nclosed; i++) {
        arc_file_t *f = &p->closed[i];
        if (f->state != F_STAGED)
            continue;
        snprintf(key, sizeof key, "f%" PRId64 ":%" PRId64, f->hour, f->first);
        snprintf(val, sizeof val, "%" PRId64, f->epoch);
        rc = put(ctx, key, strlen(key), val, strlen(val));
        f->state = F_FLUSHED;
        arc_hour_t *h = find_hour(p, f->hour);
        if (h != NULL)
            h->done = CORE_MAX(h->done, f->last);
    }
    for (size_t i = 0; rc == 0 && i < p->nforget; i++) {
        snprintf(key, sizeof key, "f%" PRId64 ":%" PRId64, p->forget[i].hour, p->forget[i].first);
        rc = put(ctx, key, strlen(key), NULL, 0);
    }
    if (rc == 0)
        p->nforget = 0;
    return rc;
}

/* Puts the hours whose entry changed; drops those no longer needed: marked,
 * nothing of theirs pending, and every record of theirs before the
 * committed offset (no restart reads one again). Past MAX_HOURS entries
 * (markers that cannot be written, e.g. partitions in other processes),
 * the oldest such hours are dropped unmarked. */
static int put_hours(arc_part_t *p, stream_sink_put_fn put, void *ctx)
{
    char key[KEY_CAP], val[VALUE_CAP];
    size_t keep = 0;
    int rc = 0;
    for (size_t i = 0; i < p->nhours; i++) {
        arc_hour_t *h = &p->hours[i];
        const arc_file_t *f = find_open(p, h->hour);
        int64_t open = f != NULL ? f->first : h->blocked;
        snprintf(key, sizeof key, "h%" PRId64, h->hour);
        bool full = p->nhours - (i - keep) > MAX_HOURS;
        bool drop = rc == 0 && (h->marked || full) && open < 0 && h->done < p->committed &&
                    !listed(p, h->hour);
        if (drop) {
            rc = h->stored ? put(ctx, key, strlen(key), NULL, 0) : 0;
            if (rc == 0)
                continue;
        }
        snprintf(val, sizeof val, "%" PRId64 " %" PRId64 " %d", h->done, open, h->marked ? 1 : 0);
        if (rc == 0 && (!h->stored || strcmp(val, h->saved) != 0)) {
            rc = put(ctx, key, strlen(key), val, strlen(val));
            h->stored = true;
            snprintf(h->saved, sizeof h->saved, "%s", val);
        }
        p->hours[keep++] = *h;
    }
    p->nhours = keep;
    return rc;
}

static int arc_flush(void *part, stream_sink_put_fn put, void *ctx)
{
    arc_part_t *p = part;
    if (p->error != 0)
        return kept_error(p);
    int rc = put_files(p, put, ctx);
    return rc != 0 ? rc : put_hours(p, put, ctx);
}

static int64_t arc_hold(void *part)
{
    arc_part_t *p = part;
    int64_t hold = p->fail_hold;
    for (size_t i = 0; i < p->nopen; i++)
        hold = CORE_MIN(hold, p->open[i].first);
    return hold;
}

static void arc_committed(void *part, int64_t next_offset, int64_t watermark_us)
{
    arc_part_t *p = part;
    p->committed = next_offset;
    p->wm = watermark_us;
    for (size_t i = 0; i < p->nhours; i++)
        if (p->hours[i].blocked >= 0 && next_offset > p->hours[i].blocked)
            p->hours[i].blocked = -1;
    for (size_t i = 0; i < p->nclosed; i++)
        if (p->closed[i].state == F_FLUSHED)
            p->closed[i].state = F_COMMITTED;
    keep_error(p, publish(p, true));
    keep_error(p, write_markers(p->a));
}

static void arc_close(void *part)
{
    arc_part_t *p = part;
    if (p == NULL)
        return;
    unregister_part(p);
    part_free(p); /* open files are dropped; staging is cleaned at the next open */
}

static void arc_destroy(void *sink)
{
    lake_archive_destroy(sink);
}

const stream_sink_ops_t lake_archive_ops = {
    .open = arc_open,
    .write = arc_write,
    .tick = arc_tick,
    .flush = arc_flush,
    .hold = arc_hold,
    .committed = arc_committed,
    .close = arc_close,
    .destroy = arc_destroy,
};

/* ---- The archive. */

void lake_archive_config_default(lake_archive_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->codec = LAKE_CODEC_ZSTD;
    c->roll_rows = DEFAULT_ROWS;
    c->roll_bytes = DEFAULT_BYTES;
    c->roll_age_ms = DEFAULT_AGE_MS;
    c->max_open = DEFAULT_OPEN;
}

int lake_archive_create(const lake_archive_config_t *c, lake_archive_t **out)
{
    *out = NULL;
    if (c->dir == NULL || c->dir[0] == '\0' || strlen(c->dir) > PATH_CAP / 2)
        return core_error(CORE_EINVAL,
                          "archive: the lake folder must be a path of at most %d "
                          "bytes",
                          PATH_CAP / 2);
    if (c->roll_rows < 1 || c->roll_bytes < 1 || c->roll_age_ms < 0)
        return core_error(CORE_EINVAL, "archive: roll rows and bytes must be positive, the age "
                                       "not negative");
    if (c->max_open < 1 || c->max_open > LAKE_ARCHIVE_MAX_OPEN)
        return core_error(CORE_EINVAL, "archive: open files per partition must be 1 to %d",
                          LAKE_ARCHIVE_MAX_OPEN);
    if (c->codec != LAKE_CODEC_NONE && c->codec != LAKE_CODEC_SNAPPY && c->codec != LAKE_CODEC_ZSTD)
        return core_error(CORE_EINVAL, "archive: unknown codec");
    lake_archive_t *a = core_calloc(CORE_MEM_LAKE, 1, sizeof *a);
    if (a == NULL || (a->dir = core_strdup(CORE_MEM_LAKE, c->dir)) == NULL) {
        core_free(a);
        return core_error(CORE_ENOMEM, "archive: out of memory");
    }
    a->codec = c->codec;
    a->roll_rows = c->roll_rows;
    a->roll_bytes = c->roll_bytes;
    a->roll_age_ms = c->roll_age_ms;
    a->max_open = (size_t)c->max_open;
    int rc = c->s3 != NULL ? lake_uploader_create(c->s3, c->dir, &a->up) : 0;
    if (rc != 0) {
        lake_archive_destroy(a);
        return rc;
    }
    *out = a;
    return 0;
}

void lake_archive_destroy(lake_archive_t *a)
{
    if (a == NULL)
        return;
    lake_uploader_destroy(a->up); /* queued uploads get drain_timeout */
    core_free(a->parts);
    core_free(a->dir);
    core_free(a);
}

const char *lake_archive_dir(const lake_archive_t *a)
{
    return a->dir;
}
