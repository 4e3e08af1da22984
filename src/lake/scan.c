/*
 * scan.c - one partition of an archive, read in offset order (lake.h, "A
 * partition of an archive in offset order").
 *
 * Plan (lake_scan_open): list <dir>/<topic>/date=.../hour=.../ for the
 * partition's files whose name's first offset is below `before`; open each
 * one, check its columns, and keep one descriptor per row group from the
 * statistics of _offset and _timestamp (min offset: the statistic, or the
 * file's first offset when missing; max offset unknown: INT64_MAX; a group
 * without _timestamp bounds is never "old"). Then the start (lake.h) and
 * the groups to read, sorted by min offset. Files are closed after the
 * plan; each group is opened again when the merge reaches it.
 *
 * Merge (lake_scan_next): a heap of cursors, one per loaded row group,
 * keyed by the offset of its current row. A pending group is loaded when
 * the merge reaches its min offset, so cursors are open only while their
 * offset ranges overlap the position (at most max_open). The row returned
 * borrows its cursor's reader, so the cursor moves on at the next call.
 *
 * Invariants: offsets returned strictly increase (a row below the last one
 * returned means a statistic lied: CORE_ECORRUPT; an equal one is a
 * duplicate, skipped and counted); every cursor's rows lie in [start,
 * before).
 *
 * Threading: a scan belongs to one thread.
 */
#include "lake/lake.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_CAP         4096
#define DEFAULT_MAX_OPEN 256
#define OWN_COLS         3 /* _offset, _timestamp, _key */

typedef struct {
    char *path;
    int64_t first; /* from the name */
    bool read;
    int64_t needed;
} scan_file_t;

typedef struct {
    size_t file;
    size_t group;
    int64_t min_off, max_off;
    bool old; /* max(_timestamp) < from_us */
} scan_group_t;

typedef struct {
    lake_reader_t *r;
    const scan_group_t *g;
    int64_t row, rows;
    int col[OWN_COLS]; /* _offset, _timestamp, _key */
    int *fcol;         /* the fields' columns */
    int64_t off, ts;   /* of the current row */
} cursor_t;

struct lake_scan {
    lake_scan_config_t c;
    lake_read_limits_t lim;
    char *dir, *topic;
    lake_column_t *fields;
    scan_file_t *files;
    size_t nfiles, capfiles;
    scan_group_t *groups; /* to read, by min offset */
    size_t ngroups, capgroups, next_group;
    int64_t start;
    cursor_t **heap;
    size_t nheap;
    cursor_t *advance; /* the cursor of the row last returned */
    int64_t last;      /* offset last returned; -1 */
    int64_t duplicates;
    schema_value_t *vals;
};

/* ------------------------------------------------------------------------
 * Listing the files
 * ------------------------------------------------------------------------ */

/* "<topic>+<partition>+<first>.parquet" -> first, or -1. */
static int64_t name_first(const lake_scan_t *s, const char *name)
{
    char prefix[PATH_CAP];
    int n = snprintf(prefix, sizeof prefix, "%s+%" PRId32 "+", s->topic, s->c.partition);
    if (n < 0 || (size_t)n >= sizeof prefix || strncmp(name, prefix, (size_t)n) != 0)
        return -1;
    const char *digits = name + n;
    const char *dot = strchr(digits, '.');
    if (dot == NULL || strcmp(dot, ".parquet") != 0 || dot == digits || dot - digits > 19)
        return -1;
    char num[24];
    memcpy(num, digits, (size_t)(dot - digits));
    num[dot - digits] = '\0';
    int64_t v;
    return core_parse_i64(num, 0, INT64_MAX, &v) == 0 ? v : -1;
}

static int add_file(lake_scan_t *s, const char *dir, const char *name, int64_t first)
{
    char path[PATH_CAP];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return core_error(CORE_EINVAL, "lake: path too long: %.200s/%.200s", dir, name);
    int rc =
        core_grow(CORE_MEM_LAKE, (void **)&s->files, &s->capfiles, s->nfiles + 1, sizeof *s->files);
    if (rc != 0)
        return rc;
    scan_file_t *f = &s->files[s->nfiles];
    memset(f, 0, sizeof *f);
    f->first = first;
    if ((f->path = core_strdup(CORE_MEM_LAKE, path)) == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for a scan");
    s->nfiles++;
    return 0;
}

/* Calls fn for each entry of dir whose name starts with prefix (NULL: any
 * name not starting with '_' or '.'). A missing dir is empty when `quiet`. */
static int each_entry(lake_scan_t *s, const char *dir, const char *prefix, bool quiet,
                      int (*fn)(lake_scan_t *s, const char *dir, const char *name))
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (quiet && errno == ENOENT)
            return 0;
        return core_error(CORE_EIO, "lake: cannot read folder %s: %s", dir, strerror(errno));
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (name[0] == '_' || name[0] == '.')
            continue;
        if (prefix != NULL && strncmp(name, prefix, strlen(prefix)) != 0)
            continue;
        rc = fn(s, dir, name);
    }
    closedir(d);
    return rc;
}

static int on_file(lake_scan_t *s, const char *dir, const char *name)
{
    int64_t first = name_first(s, name);
    if (first < 0 || first >= s->c.before)
        return 0;
    return add_file(s, dir, name, first);
}

static int on_hour(lake_scan_t *s, const char *dir, const char *name)
{
    char path[PATH_CAP];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return core_error(CORE_EINVAL, "lake: path too long: %.200s/%.200s", dir, name);
    return each_entry(s, path, NULL, true, on_file);
}

static int on_date(lake_scan_t *s, const char *dir, const char *name)
{
    char path[PATH_CAP];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return core_error(CORE_EINVAL, "lake: path too long: %.200s/%.200s", dir, name);
    return each_entry(s, path, "hour=", true, on_hour);
}

static int file_cmp(const void *a, const void *b)
{
    const scan_file_t *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int list_files(lake_scan_t *s)
{
    char topic_dir[PATH_CAP];
    int n = snprintf(topic_dir, sizeof topic_dir, "%s/%s", s->dir, s->topic);
    if (n < 0 || (size_t)n >= sizeof topic_dir)
        return core_error(CORE_EINVAL, "lake: path too long: %.200s", s->dir);
    int rc = each_entry(s, topic_dir, "date=", true, on_date);
    if (rc == 0 && s->nfiles > 1)
        qsort(s->files, s->nfiles, sizeof *s->files, file_cmp);
    return rc;
}

/* ------------------------------------------------------------------------
 * Columns and the plan
 * ------------------------------------------------------------------------ */

static int find_col(const lake_reader_t *r, const char *name, lake_col_type_t type, int *out)
{
    int i = lake_reader_find(r, name);
    if (i < 0)
        return core_error(CORE_EINVAL, "lake: %s has no column %s", lake_reader_path(r), name);
    const lake_column_t *c = lake_reader_column(r, (size_t)i);
    if (c->type != type)
        return core_error(CORE_EINVAL, "lake: %s: column %s has another type than expected",
                          lake_reader_path(r), name);
    *out = i;
    return 0;
}

/* Column indices of the archive's own columns and of the fields. */
static int columns(const lake_scan_t *s, const lake_reader_t *r, cursor_t *k)
{
    static const char *const own[OWN_COLS] = {"_offset", "_timestamp", "_key"};
    static const lake_col_type_t types[OWN_COLS] = {LAKE_COL_INT64, LAKE_COL_TIMESTAMP,
                                                    LAKE_COL_STRING};
    int rc = 0;
    for (size_t i = 0; i < OWN_COLS && rc == 0; i++)
        rc = find_col(r, own[i], types[i], &k->col[i]);
    for (size_t i = 0; i < s->c.nfields && rc == 0; i++)
        rc = find_col(r, s->fields[i].name, s->fields[i].type, &k->fcol[i]);
    return rc;
}

static int add_group(lake_scan_t *s, const lake_reader_t *r, const cursor_t *k, size_t f, size_t g)
{
    if (lake_reader_group_rows(r, g) == 0)
        return 0;
    lake_read_stats_t st;
    scan_group_t d = {.file = f, .group = g, .min_off = s->files[f].first, .max_off = INT64_MAX};
    if (lake_reader_stats(r, g, (size_t)k->col[0], &st) && st.has_minmax) {
        d.min_off = st.min.v.i;
        d.max_off = st.max.v.i;
    }
    if (lake_reader_stats(r, g, (size_t)k->col[1], &st) && st.has_minmax)
        d.old = st.max.v.i < s->c.from_us;
    if (d.min_off >= s->c.before)
        return 0;
    int rc = core_grow(CORE_MEM_LAKE, (void **)&s->groups, &s->capgroups, s->ngroups + 1,
                       sizeof *s->groups);
    if (rc == 0)
        s->groups[s->ngroups++] = d;
    return rc;
}

static int plan_file(lake_scan_t *s, size_t f, int *fcol)
{
    lake_reader_t *r = NULL;
    cursor_t k = {.fcol = fcol};
    int rc = lake_reader_open(s->files[f].path, &s->lim, &r);
    if (rc == 0)
        rc = columns(s, r, &k);
    for (size_t g = 0; rc == 0 && g < lake_reader_ngroups(r); g++)
        rc = add_group(s, r, &k, f, g);
    lake_reader_close(r);
    return rc;
}

static int group_cmp(const void *a, const void *b)
{
    const scan_group_t *x = a, *y = b;
    if (x->min_off != y->min_off)
        return x->min_off < y->min_off ? -1 : 1;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return x->group < y->group ? -1 : x->group > y->group ? 1 : 0;
}

/* The start, and the groups that may hold rows at or after it. */
static void plan_groups(lake_scan_t *s)
{
    int64_t first_new = s->c.before;
    for (size_t i = 0; i < s->ngroups; i++)
        if (!s->groups[i].old)
            first_new = CORE_MIN(first_new, s->groups[i].min_off);
    int64_t last_old = -1;
    for (size_t i = 0; i < s->ngroups; i++)
        if (s->groups[i].old && s->groups[i].max_off < first_new)
            last_old = CORE_MAX(last_old, s->groups[i].max_off);
    s->start = last_old + 1;
    size_t keep = 0;
    for (size_t i = 0; i < s->ngroups; i++)
        if (s->groups[i].max_off >= s->start)
            s->groups[keep++] = s->groups[i];
    s->ngroups = keep;
    if (keep > 1)
        qsort(s->groups, keep, sizeof *s->groups, group_cmp);
}

/* ------------------------------------------------------------------------
 * The merge
 * ------------------------------------------------------------------------ */

static void cursor_close(cursor_t *k)
{
    if (k == NULL)
        return;
    lake_reader_close(k->r);
    core_free(k->fcol);
    core_free(k);
}

static bool heap_less(const cursor_t *a, const cursor_t *b)
{
    return a->off < b->off;
}

static void heap_down(lake_scan_t *s, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < s->nheap && heap_less(s->heap[l], s->heap[m]))
            m = l;
        if (r < s->nheap && heap_less(s->heap[r], s->heap[m]))
            m = r;
        if (m == i)
            return;
        cursor_t *t = s->heap[i];
        s->heap[i] = s->heap[m];
        s->heap[m] = t;
        i = m;
    }
}

static void heap_push(lake_scan_t *s, cursor_t *k)
{
    size_t i = s->nheap++;
    s->heap[i] = k;
    while (i > 0 && heap_less(s->heap[i], s->heap[(i - 1) / 2])) {
        cursor_t *t = s->heap[i];
        s->heap[i] = s->heap[(i - 1) / 2];
        s->heap[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

/* Reads the current row's offset and timestamp. false past the group's end
 * or its first offset at or past `before`. */
static int cursor_fetch(const lake_scan_t *s, cursor_t *k, bool *more)
{
    *more = false;
    if (k->row >= k->rows)
        return 0;
    schema_value_t o, t;
    lake_reader_value(k->r, (size_t)k->col[0], k->row, &o);
    lake_reader_value(k->r, (size_t)k->col[1], k->row, &t);
    if (o.type != SCHEMA_INT || t.type != SCHEMA_TIMESTAMP)
        return core_error(CORE_ECORRUPT,
                          "lake: %s: row group %zu, row %lld: null _offset or "
                          "_timestamp",
                          s->files[k->g->file].path, k->g->group, (long long)k->row);
    if (k->row > 0 && o.v.i <= k->off)
        return core_error(CORE_ECORRUPT,
                          "lake: %s: row group %zu: _offset does not increase at row %lld",
                          s->files[k->g->file].path, k->g->group, (long long)k->row);
    k->off = o.v.i;
    k->ts = t.v.i;
    *more = k->off < s->c.before;
    return 0;
}

/* Loads group g into a new cursor positioned at its first row >= start. */
static int activate(lake_scan_t *s, const scan_group_t *g)
{
    if (s->nheap >= s->c.max_open)
        return core_error(CORE_ETOOBIG,
                          "lake: scan of %s partition %" PRId32
                          ": more than %zu row groups overlap "
                          "in offsets",
                          s->topic, s->c.partition, s->c.max_open);
    cursor_t *k = core_calloc(CORE_MEM_LAKE, 1, sizeof *k);
    bool *want = NULL;
    int rc = k == NULL ? core_error(CORE_ENOMEM, "lake: out of memory for a scan") : 0;
    if (rc == 0 &&
        (k->fcol = core_calloc(CORE_MEM_LAKE, s->c.nfields + 1, sizeof *k->fcol)) == NULL)
        rc = core_error(CORE_ENOMEM, "lake: out of memory for a scan");
    if (rc == 0)
        rc = lake_reader_open(s->files[g->file].path, &s->lim, &k->r);
    if (rc == 0)
        rc = columns(s, k->r, k);
    if (rc == 0 && (want = core_calloc(CORE_MEM_LAKE, lake_reader_ncolumns(k->r) + 1, 1)) == NULL)
        rc = core_error(CORE_ENOMEM, "lake: out of memory for a scan");
    if (rc == 0) {
        want[k->col[0]] = want[k->col[1]] = true;
        for (size_t i = 0; !g->old && i < OWN_COLS; i++)
            want[k->col[i]] = true;
        for (size_t i = 0; !g->old && i < s->c.nfields; i++)
            want[k->fcol[i]] = true;
        rc = lake_reader_load(k->r, g->group, want);
    }
    core_free(want);
    bool more = false;
    if (rc == 0) {
        k->g = g;
        k->rows = lake_reader_group_rows(k->r, g->group);
        s->files[g->file].read = true;
        rc = cursor_fetch(s, k, &more);
        while (rc == 0 && more && k->off < s->start) {
            k->row++;
            rc = cursor_fetch(s, k, &more);
        }
    }
    if (rc != 0 || !more) {
        cursor_close(k);
        return rc;
    }
    heap_push(s, k);
    return 0;
}

/* Moves the cursor of the last row on (closing it at its end). */
static int advance(lake_scan_t *s)
{
    cursor_t *k = s->advance;
    s->advance = NULL;
    if (k == NULL)
        return 0;
    bool more = false;
    k->row++;
    int rc = cursor_fetch(s, k, &more);
    if (rc != 0 || !more) {
        cursor_close(k);
        return rc;
    }
    heap_push(s, k);
    return 0;
}

static void fill_row(lake_scan_t *s, cursor_t *k, lake_scan_row_t *row)
{
    memset(row, 0, sizeof *row);
    row->offset = k->off;
    row->timestamp_us = k->ts;
    row->file = k->g->file;
    row->needed = k->ts >= s->c.from_us;
    if (!row->needed)
        return;
    for (size_t i = 0; i < s->c.nfields; i++)
        lake_reader_value(k->r, (size_t)k->fcol[i], k->row, &s->vals[i]);
    schema_value_t key;
    lake_reader_value(k->r, (size_t)k->col[2], k->row, &key);
    if (key.type == SCHEMA_STRING) {
        row->key = key.v.s.p;
        row->key_len = key.v.s.len;
    }
    row->values = s->vals;
    s->files[k->g->file].needed++;
}

int lake_scan_next(lake_scan_t *s, lake_scan_row_t *row)
{
    int rc = advance(s);
    while (rc == 0) {
        while (rc == 0 && s->next_group < s->ngroups &&
               (s->nheap == 0 || s->groups[s->next_group].min_off <= s->heap[0]->off))
            rc = activate(s, &s->groups[s->next_group++]);
        if (rc != 0 || s->nheap == 0)
            return rc;
        cursor_t *k = s->heap[0];
        s->heap[0] = s->heap[--s->nheap];
        heap_down(s, 0);
        s->advance = k;
        if (k->off == s->last) {
            s->duplicates++;
            rc = advance(s);
            continue;
        }
        if (k->off < s->last)
            return core_error(CORE_ECORRUPT,
                              "lake: %s: row group %zu holds offset %lld below its statistics' "
                              "minimum",
                              s->files[k->g->file].path, k->g->group, (long long)k->off);
        if (k->g->old && k->ts >= s->c.from_us)
            return core_error(CORE_ECORRUPT,
                              "lake: %s: row group %zu holds a _timestamp above its statistics' "
                              "maximum",
                              s->files[k->g->file].path, k->g->group);
        s->last = k->off;
        fill_row(s, k, row);
        return 1;
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Open, accessors, close
 * ------------------------------------------------------------------------ */

static int copy_config(lake_scan_t *s, const lake_scan_config_t *c)
{
    s->c = *c;
    s->c.max_open = c->max_open != 0 ? c->max_open : DEFAULT_MAX_OPEN;
    lake_read_limits_default(&s->lim);
    if (c->limits != NULL)
        s->lim = *c->limits;
    s->last = -1;
    s->dir = core_strdup(CORE_MEM_LAKE, c->dir);
    s->topic = core_strdup(CORE_MEM_LAKE, c->topic);
    s->fields = core_calloc(CORE_MEM_LAKE, c->nfields + 1, sizeof *s->fields);
    s->vals = core_calloc(CORE_MEM_LAKE, c->nfields + 1, sizeof *s->vals);
    s->heap = core_calloc(CORE_MEM_LAKE, s->c.max_open + 1, sizeof *s->heap);
    if (s->dir == NULL || s->topic == NULL || s->fields == NULL || s->vals == NULL ||
        s->heap == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for a scan");
    for (size_t i = 0; i < c->nfields; i++) {
        s->fields[i] = c->fields[i];
        if ((s->fields[i].name = core_strdup(CORE_MEM_LAKE, c->fields[i].name)) == NULL)
            return core_error(CORE_ENOMEM, "lake: out of memory for a scan");
    }
    s->c.dir = s->dir;
    s->c.topic = s->topic;
    s->c.fields = s->fields;
    s->c.limits = NULL;
    return 0;
}

int lake_scan_open(const lake_scan_config_t *c, lake_scan_t **out)
{
    *out = NULL;
    if (c == NULL || c->dir == NULL || c->topic == NULL || (c->nfields > 0 && c->fields == NULL))
        return core_error(CORE_EINVAL, "lake: a scan needs a folder, a topic and its fields");
    lake_scan_t *s = core_calloc(CORE_MEM_LAKE, 1, sizeof *s);
    if (s == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for a scan");
    int rc = copy_config(s, c);
    int *fcol = rc == 0 ? core_calloc(CORE_MEM_LAKE, c->nfields + 1, sizeof *fcol) : NULL;
    if (rc == 0 && fcol == NULL)
        rc = core_error(CORE_ENOMEM, "lake: out of memory for a scan");
    if (rc == 0)
        rc = list_files(s);
    for (size_t f = 0; rc == 0 && f < s->nfiles; f++)
        rc = plan_file(s, f, fcol);
    core_free(fcol);
    if (rc != 0) {
        lake_scan_close(s);
        return rc;
    }
    plan_groups(s);
    *out = s;
    return 0;
}

int64_t lake_scan_start(const lake_scan_t *s)
{
    return s->start;
}

size_t lake_scan_nfiles(const lake_scan_t *s)
{
    return s->nfiles;
}

const char *lake_scan_file(const lake_scan_t *s, size_t i, bool *read, int64_t *needed)
{
    if (i >= s->nfiles)
        return NULL;
    if (read != NULL)
        *read = s->files[i].read;
    if (needed != NULL)
        *needed = s->files[i].needed;
    return s->files[i].path;
}

int64_t lake_scan_duplicates(const lake_scan_t *s)
{
    return s->duplicates;
}

void lake_scan_close(lake_scan_t *s)
{
    if (s == NULL)
        return;
    cursor_close(s->advance);
    for (size_t i = 0; i < s->nheap; i++)
        cursor_close(s->heap[i]);
    for (size_t i = 0; i < s->nfiles; i++)
        core_free(s->files[i].path);
    for (size_t i = 0; s->fields != NULL && i < s->c.nfields; i++)
        core_free((char *)s->fields[i].name);
    core_free(s->files);
    core_free(s->groups);
    core_free(s->heap);
    core_free(s->fields);
    core_free(s->vals);
    core_free(s->dir);
    core_free(s->topic);
    core_free(s);
}
