/*
 * writer.c - the Parquet writer's public API: options, rows, row groups,
 * the background thread, the footer and the file.
 *
 * File layout: "PAR1", then each row group's column chunks in column
 * order (each: [dictionary page] data pages), then the FileMetaData
 * (Thrift compact), its length (4 bytes little-endian) and "PAR1".
 *
 * Lifecycle: create (file created, "PAR1" written) -> add rows into the
 * filling batch (lake_batch_t: per column the levels and PLAIN values) ->
 * a full batch (row_group_rows or row_group_bytes) is encoded into a row
 * group -> finish (last row group, footer, fdatasync, close) or abort
 * (stop, close, unlink). Each RowGroup struct is serialized when its row
 * group is written and kept as bytes (`groups`), so the footer needs no
 * per-chunk state.
 *
 * Background (option `background`): a full batch is handed to the writer's
 * own thread, which encodes, compresses and writes it while rows fill the
 * other batch. State machine of the thread (bg_t, guarded by bg.lock):
 *   not started --first hand-off--> idle <--> busy (job != NULL)
 *   idle or busy --stop--> joined (a busy job finishes first; abort sets
 *   `cancel`, which cuts it short between pages).
 * The adding thread hands off only when the thread is idle (it waits for
 * the previous job), so at most one batch is in flight and the two batches
 * alternate. While a job runs the thread owns the encoder (`x`), `groups`
 * and the batch in flight; the adding thread owns the filling batch and
 * everything else. Handing over under the lock orders their accesses. If
 * the thread cannot be started, the writer encodes on the adding thread.
 *
 * Failure: lake_writer_add() checks every value of a row before adding
 * any, so a bad value leaves the writer as it was. A failure after that
 * (memory, a write, here or in the thread) is remembered: the thread's
 * first error and its detail wait in bg.rc / bg.detail, flagged by
 * bg.failed so that the next add sees it without taking the lock; the
 * writer then refuses further rows, and finish returns the error.
 *
 * Threading: a writer belongs to one thread, plus its background thread
 * as above.
 */
#include "lake/lake.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "lake/lake_int.h"

#define DEFAULT_PAGE_BYTES      ((size_t)1 << 20)
#define DEFAULT_ROW_GROUP_BYTES ((size_t)64 << 20)
#define DEFAULT_DICT_BYTES      ((size_t)1 << 20)
#define FORMAT_VERSION          2
#define CREATED_BY              "strata"

/* The background thread; see the state machine above. */
typedef struct {
    pthread_t thread;
    bool started;    /* the adding thread's: thread created, not joined */
    bool sync_ready; /* lock and cond initialized */
    pthread_mutex_t lock;
    pthread_cond_t cond;                /* broadcast on every change below */
    lake_batch_t *job;                  /* lock: the batch to encode, NULL when idle */
    bool stop;                          /* lock: leave once idle */
    int rc;                             /* lock: the thread's first failure */
    char detail[CORE_ERROR_DETAIL_MAX]; /* lock: its detail */
    int64_t pos;                        /* lock: the file's size after the last job */
    int64_t raw, stored;                /* lock: batch bytes and file bytes of the jobs done */
    atomic_bool failed;                 /* rc != 0, for a check without the lock */
    atomic_bool cancel;                 /* abort: stop encoding */
} bg_t;

struct lake_writer {
    char *path; /* owned */
    lake_writer_options_t opt;
    size_t ncols;
    lake_col_t *cols;
    lake_batch_t batch[2];
    lake_batch_t *fill; /* rows are added here */
    lake_ctx_t x;       /* the encoder (the thread's while a job runs) */
    core_buf_t groups;  /* serialized RowGroup structs (likewise) */
    uint32_t ngroups;   /* (likewise) */
    int64_t rows;       /* rows added */
    /* the file's size as the adding thread knows it, for lake_writer_bytes */
    int64_t known_pos;               /* after the last row group it saw written */
    int64_t known_raw, known_stored; /* batch bytes and file bytes of those */
    double ratio;                    /* known_stored / known_raw, or 1 */
    size_t flight;                   /* batch bytes handed off since */
    char *meta_key[LAKE_MAX_META];
    char *meta_val[LAKE_MAX_META]; /* NULL: no value */
    size_t nmeta;
    int failed; /* 0, or the error that stopped the writer */
    bg_t bg;
};

int lake_codec_parse(const char *name, lake_codec_t *out)
{
    static const char *const names[] = {"none", "snappy", "zstd"};
    for (size_t i = 0; name != NULL && i < CORE_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (lake_codec_t)i;
            return 0;
        }
    }
    return core_error(CORE_EINVAL, "lake: unknown codec '%s' (none, snappy, zstd)",
                      name ? name : "(null)");
}

const char *lake_codec_name(lake_codec_t c)
{
    switch (c) {
    case LAKE_CODEC_NONE:
        return "none";
    case LAKE_CODEC_SNAPPY:
        return "snappy";
    case LAKE_CODEC_ZSTD:
        return "zstd";
    }
    return "unknown";
}

void lake_writer_options_default(lake_writer_options_t *o)
{
    memset(o, 0, sizeof *o);
    o->codec = LAKE_CODEC_ZSTD;
    o->zstd_level = 0;
    o->page_bytes = DEFAULT_PAGE_BYTES;
    o->row_group_bytes = DEFAULT_ROW_GROUP_BYTES;
    o->row_group_rows = 0;
    o->dictionary = true;
    o->dictionary_bytes = DEFAULT_DICT_BYTES;
    o->dictionary_numbers = false;
    o->background = true;
}

/* ------------------------------------------------------------------------
 * Creation
 * ------------------------------------------------------------------------ */

static int check_size(const char *what, size_t *v, size_t dflt, size_t max)
{
    if (*v == 0)
        *v = dflt;
    if (*v > max)
        return core_error(CORE_EINVAL, "lake: %s %zu is above the limit %zu", what, *v, max);
    return 0;
}

static int check_options(const lake_writer_options_t *in, lake_writer_options_t *o)
{
    if (in == NULL)
        lake_writer_options_default(o);
    else
        *o = *in;
    if ((unsigned)o->codec > LAKE_CODEC_ZSTD)
        return core_error(CORE_EINVAL, "lake: unknown codec %d", (int)o->codec);
    if (o->zstd_level < ZSTD_minCLevel() || o->zstd_level > ZSTD_maxCLevel())
        return core_error(CORE_EINVAL, "lake: zstd_level %d is outside %d..%d", o->zstd_level,
                          ZSTD_minCLevel(), ZSTD_maxCLevel());
    if (o->row_group_rows < 0)
        return core_error(CORE_EINVAL, "lake: row_group_rows %lld is negative",
                          (long long)o->row_group_rows);
    int rc = check_size("page_bytes", &o->page_bytes, DEFAULT_PAGE_BYTES, LAKE_MAX_PAGE_BYTES);
    if (rc == 0)
        rc = check_size("row_group_bytes", &o->row_group_bytes, DEFAULT_ROW_GROUP_BYTES,
                        LAKE_MAX_ROW_GROUP_BYTES);
    if (rc == 0)
        rc = check_size("dictionary_bytes", &o->dictionary_bytes, DEFAULT_DICT_BYTES,
                        LAKE_MAX_DICT_BYTES);
    return rc;
}

static int check_columns(const lake_column_t *cols, size_t ncols)
{
    if (cols == NULL || ncols < 1 || ncols > LAKE_MAX_COLUMNS)
        return core_error(CORE_EINVAL, "lake: %zu columns (1..%d allowed)", ncols,
                          LAKE_MAX_COLUMNS);
    for (size_t i = 0; i < ncols; i++) {
        const char *name = cols[i].name;
        if (name == NULL || name[0] == '\0')
            return core_error(CORE_EINVAL, "lake: column %zu has no name", i + 1);
        size_t len = strlen(name);
        if (len > LAKE_MAX_NAME_BYTES || !core_utf8_valid(name, len))
            return core_error(CORE_EINVAL,
                              "lake: column %zu: the name is not UTF-8 of at most %d bytes", i + 1,
                              LAKE_MAX_NAME_BYTES);
        if ((unsigned)cols[i].type > LAKE_COL_TIMESTAMP)
            return core_error(CORE_EINVAL, "lake: column %s: unknown type %d", name,
                              (int)cols[i].type);
        for (size_t j = 0; j < i; j++)
            if (strcmp(cols[j].name, name) == 0)
                return core_error(CORE_EINVAL, "lake: column %s appears twice", name);
    }
    return 0;
}

static void batch_fini(lake_batch_t *b, size_t ncols)
{
    for (size_t i = 0; b->cols != NULL && i < ncols; i++) {
        core_buf_fini(&b->cols[i].levels);
        core_buf_fini(&b->cols[i].values);
    }
    core_free(b->cols);
    b->cols = NULL;
}

static void batch_reset(lake_batch_t *b, size_t ncols)
{
    for (size_t i = 0; i < ncols; i++) {
        core_buf_reset(&b->cols[i].levels);
        core_buf_reset(&b->cols[i].values);
        b->cols[i].nvalues = 0;
    }
    b->rows = 0;
    b->bytes = 0;
}

/* Caps: a row group's levels hold at most one byte per row and every row
 * adds a byte, so fewer than row_group_bytes before its last row; that row
 * adds at most one value (and its length) to each column. */
static int batch_init(lake_batch_t *b, const lake_writer_t *w)
{
    b->cols = core_calloc(CORE_MEM_LAKE, w->ncols, sizeof *b->cols);
    if (b->cols == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for a writer of %s", w->path);
    for (size_t i = 0; i < w->ncols; i++) {
        core_buf_init(&b->cols[i].levels, CORE_MEM_LAKE, w->opt.row_group_bytes + 1);
        core_buf_init(&b->cols[i].values, CORE_MEM_LAKE,
                      w->opt.row_group_bytes + 4 + LAKE_MAX_VALUE_BYTES);
    }
    return 0;
}

static void destroy(lake_writer_t *w)
{
    for (size_t i = 0; w->cols != NULL && i < w->ncols; i++)
        core_free(w->cols[i].name);
    for (size_t i = 0; i < 2; i++)
        batch_fini(&w->batch[i], w->ncols);
    for (size_t i = 0; i < w->nmeta; i++) {
        core_free(w->meta_key[i]);
        core_free(w->meta_val[i]);
    }
    if (w->x.fd >= 0)
        close(w->x.fd);
    if (w->bg.sync_ready) {
        pthread_mutex_destroy(&w->bg.lock);
        pthread_cond_destroy(&w->bg.cond);
    }
    lake_ctx_fini(&w->x);
    core_buf_fini(&w->groups);
    core_free(w->cols);
    core_free(w->path);
    core_free(w);
}

/* The schema types a column takes (lake.h, lake_writer_add). */
static uint32_t accepted(lake_col_type_t type, bool optional)
{
    uint32_t m = optional ? 1u << SCHEMA_NULL : 0;
    switch (type) {
    case LAKE_COL_BOOL:
        return m | 1u << SCHEMA_BOOL;
    case LAKE_COL_INT64:
    case LAKE_COL_TIMESTAMP:
        return m | 1u << SCHEMA_INT | 1u << SCHEMA_TIMESTAMP;
    case LAKE_COL_DOUBLE:
        return m | 1u << SCHEMA_INT | 1u << SCHEMA_FLOAT;
    case LAKE_COL_STRING:
        return m | 1u << SCHEMA_STRING | 1u << SCHEMA_OBJECT | 1u << SCHEMA_ARRAY;
    }
    return m;
}

static int make_columns(lake_writer_t *w, const lake_column_t *cols)
{
    w->cols = core_calloc(CORE_MEM_LAKE, w->ncols, sizeof *w->cols);
    if (w->cols == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for a writer of %s", w->path);
    for (size_t i = 0; i < w->ncols; i++) {
        lake_col_t *c = &w->cols[i];
        c->name = core_strdup(CORE_MEM_LAKE, cols[i].name);
        if (c->name == NULL)
            return core_error(CORE_ENOMEM, "lake: out of memory for column %s", cols[i].name);
        c->type = cols[i].type;
        c->optional = cols[i].optional;
        c->dictionary = c->type == LAKE_COL_STRING ? w->opt.dictionary
                        : c->type == LAKE_COL_BOOL ? false
                                                   : w->opt.dictionary_numbers;
        c->accept = accepted(c->type, c->optional);
    }
    return 0;
}

static int init_sync(lake_writer_t *w)
{
    if (!w->opt.background)
        return 0;
    if (pthread_mutex_init(&w->bg.lock, NULL) != 0)
        return core_error(CORE_ENOMEM, "lake: cannot make a lock for %s", w->path);
    if (pthread_cond_init(&w->bg.cond, NULL) != 0) {
        pthread_mutex_destroy(&w->bg.lock);
        return core_error(CORE_ENOMEM, "lake: cannot make a condition for %s", w->path);
    }
    w->bg.sync_ready = true;
    return 0;
}

static int open_file(lake_writer_t *w)
{
    w->x.fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->x.fd < 0)
        return core_error(CORE_EIO, "lake: cannot create %s: %s", w->path, strerror(errno));
    if (core_pwrite_all(w->x.fd, "PAR1", 4, 0) != 0)
        return core_error(CORE_EIO, "lake: %s: writing the header: %s", w->path, strerror(errno));
    w->x.pos = 4;
    w->known_pos = 4;
    w->ratio = 1.0;
    return 0;
}

int lake_writer_create(const char *path, const lake_column_t *cols, size_t ncols,
                       const lake_writer_options_t *o, lake_writer_t **out)
{
    *out = NULL;
    lake_writer_options_t opt;
    if (path == NULL || path[0] == '\0')
        return core_error(CORE_EINVAL, "lake: no file name");
    int rc = check_options(o, &opt);
    if (rc == 0)
        rc = check_columns(cols, ncols);
    if (rc != 0)
        return rc;
    lake_writer_t *w = core_calloc(CORE_MEM_LAKE, 1, sizeof *w);
    if (w == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for a writer of %s", path);
    w->opt = opt;
    w->ncols = ncols;
    w->path = core_strdup(CORE_MEM_LAKE, path);
    lake_ctx_init(&w->x, &opt, w->path);
    atomic_init(&w->bg.failed, false);
    atomic_init(&w->bg.cancel, false);
    w->x.cancel = &w->bg.cancel;
    core_buf_init(&w->groups, CORE_MEM_LAKE, LAKE_MAX_FOOTER_BYTES);
    w->fill = &w->batch[0];
    if (w->path == NULL)
        rc = core_error(CORE_ENOMEM, "lake: out of memory for a writer of %s", path);
    if (rc == 0)
        rc = make_columns(w, cols);
    if (rc == 0)
        rc = batch_init(&w->batch[0], w);
    if (rc == 0 && opt.background)
        rc = batch_init(&w->batch[1], w);
    if (rc == 0)
        rc = init_sync(w);
    if (rc == 0)
        rc = open_file(w);
    if (rc != 0) {
        if (w->x.fd >= 0)
            unlink(path);
        destroy(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* ------------------------------------------------------------------------
 * Rows
 * ------------------------------------------------------------------------ */

static int bad_value(const lake_writer_t *w, const lake_col_t *c, const schema_value_t *v)
{
    static const char *const want[] = {"bool", "int or timestamp", "float or int",
                                       "string, object or array", "timestamp or int"};
    return core_error(CORE_EINVAL, "lake: %s: column %s: expected %s%s, got %s", w->path, c->name,
                      want[c->type], c->optional ? " or null" : "", schema_type_name(v->type));
}

static int check_string(const lake_writer_t *w, const lake_col_t *c, const schema_value_t *v)
{
    size_t n = v->v.s.len;
    if (n > LAKE_MAX_VALUE_BYTES)
        return core_error(CORE_EINVAL, "lake: %s: column %s: a value of %zu bytes is above %zu",
                          w->path, c->name, n, LAKE_MAX_VALUE_BYTES);
    if (n > 0 && (v->v.s.p == NULL || !core_utf8_valid(v->v.s.p, n)))
        return core_error(CORE_EINVAL, "lake: %s: column %s: the value is not valid UTF-8", w->path,
                          c->name);
    return 0;
}

/* Checks one value against its column (the types in c->accept, strings'
 * size and UTF-8); adds nothing. */
static inline int check_value(const lake_writer_t *w, const lake_col_t *c, const schema_value_t *v)
{
    unsigned t = (unsigned)v->type;
    if (t >= 32 || (c->accept >> t & 1u) == 0)
        return bad_value(w, c, v);
    if (c->type == LAKE_COL_STRING && t != SCHEMA_NULL)
        return check_string(w, c, v);
    return 0;
}

/* Appends n bytes; the common case is one bounds check and a copy. */
static inline int put(core_buf_t *b, const void *p, size_t n)
{
    if (b->cap - b->len < n) {
        int rc = core_buf_reserve(b, n);
        if (rc != 0)
            return rc;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int put_le64(core_buf_t *b, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return put(b, &v, 8);
}

/* Appends one checked value to its column of the filling batch; returns
 * the bytes it added through *added. */
static int add_value(lake_colbuf_t *cb, const lake_col_t *c, const schema_value_t *v, size_t *added)
{
    bool null = v->type == SCHEMA_NULL;
    int rc = 0;
    if (c->optional) {
        uint8_t level = null ? 0 : 1;
        rc = put(&cb->levels, &level, 1);
        *added += 1;
    }
    if (null || rc != 0)
        return rc;
    uint64_t bits;
    uint8_t len[4];
    switch (c->type) {
    case LAKE_COL_BOOL:
        len[0] = v->v.b ? 1 : 0;
        rc = put(&cb->values, len, 1);
        *added += 1;
        break;
    case LAKE_COL_INT64:
    case LAKE_COL_TIMESTAMP:
        rc = put_le64(&cb->values, (uint64_t)v->v.i);
        *added += 8;
        break;
    case LAKE_COL_DOUBLE: {
        double d = v->type == SCHEMA_INT ? (double)v->v.i : v->v.f;
        memcpy(&bits, &d, sizeof bits);
        rc = put_le64(&cb->values, bits);
        *added += 8;
        break;
    }
    case LAKE_COL_STRING:
        lake_store_le32(len, (uint32_t)v->v.s.len);
        rc = core_buf_reserve(&cb->values, 4 + v->v.s.len);
        if (rc == 0) {
            memcpy(cb->values.data + cb->values.len, len, 4);
            if (v->v.s.len > 0)
                memcpy(cb->values.data + cb->values.len + 4, v->v.s.p, v->v.s.len);
            cb->values.len += 4 + v->v.s.len;
        }
        *added += 4 + v->v.s.len;
        break;
    }
    cb->nvalues++;
    return rc;
}

static int fail(lake_writer_t *w, int rc)
{
    w->failed = rc;
    return rc;
}

/* ------------------------------------------------------------------------
 * Row groups
 * ------------------------------------------------------------------------ */

/* Encodes batch b as the next row group: its chunks to the file, its
 * RowGroup struct to `groups`; then empties b. The encoder's thread. */
static int encode_group(lake_writer_t *w, lake_batch_t *b)
{
    lake_ctx_t *x = &w->x;
    size_t before = w->groups.len;
    int64_t first = x->pos, unc = 0, comp = 0;
    lake_thrift_t t;
    lake_thrift_init(&t, &w->groups);
    lake_thrift_field_list(&t, 1, LAKE_CT_STRUCT, (uint32_t)w->ncols);
    int rc = 0;
    for (size_t i = 0; i < w->ncols && rc == 0; i++)
        rc = lake_chunk_encode(&w->cols[i], &b->cols[i], b->rows, x, &t, &unc, &comp);
    if (rc == 0)
        rc = lake_ctx_flush(x);
    if (rc == 0) {
        lake_thrift_field_i64(&t, 2, unc);
        lake_thrift_field_i64(&t, 3, b->rows);
        lake_thrift_field_i64(&t, 5, first);
        lake_thrift_field_i64(&t, 6, comp);
        if (w->ngroups <= INT16_MAX)
            lake_thrift_field_i16(&t, 7, (int16_t)w->ngroups);
        rc = lake_thrift_end(&t);
        if (rc == CORE_ETOOBIG)
            rc = core_error(CORE_ETOOBIG,
                            "lake: %s: the footer would pass %zu bytes; roll files sooner", w->path,
                            LAKE_MAX_FOOTER_BYTES);
    }
    if (rc != 0) {
        w->groups.len = before;
        return rc;
    }
    w->ngroups++;
    batch_reset(b, w->ncols);
    return 0;
}

static void *bg_main(void *arg)
{
    lake_writer_t *w = arg;
    bg_t *g = &w->bg;
    pthread_mutex_lock(&g->lock);
    for (;;) {
        while (g->job == NULL && !g->stop)
            pthread_cond_wait(&g->cond, &g->lock);
        if (g->job == NULL)
            break;
        lake_batch_t *b = g->job;
        size_t raw = b->bytes;
        int64_t start = w->x.pos;
        pthread_mutex_unlock(&g->lock);
        int rc = encode_group(w, b);
        pthread_mutex_lock(&g->lock);
        if (rc != 0 && g->rc == 0) {
            g->rc = rc;
            snprintf(g->detail, sizeof g->detail, "%s", core_error_detail());
            atomic_store_explicit(&g->failed, true, memory_order_release);
        }
        if (rc == 0) {
            g->pos = w->x.pos;
            g->raw += (int64_t)raw;
            g->stored += w->x.pos - start;
        }
        g->job = NULL;
        pthread_cond_broadcast(&g->cond);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

/* Waits until the thread is idle; takes what it wrote into the known
 * sizes and returns its failure, if any, with its detail. */
static int bg_wait(lake_writer_t *w)
{
    bg_t *g = &w->bg;
    if (!g->started)
        return 0;
    char detail[CORE_ERROR_DETAIL_MAX];
    pthread_mutex_lock(&g->lock);
    while (g->job != NULL)
        pthread_cond_wait(&g->cond, &g->lock);
    int rc = g->rc;
    memcpy(detail, g->detail, sizeof detail);
    if (rc == 0) {
        w->known_pos = g->pos;
        w->known_raw = g->raw;
        w->known_stored = g->stored;
        w->flight = 0;
        w->ratio = g->raw > 0 ? (double)g->stored / (double)g->raw : 1.0;
    }
    pthread_mutex_unlock(&g->lock);
    if (rc == 0)
        return 0;
    detail[sizeof detail - 1] = '\0';
    if (detail[0] == '\0')
        return core_error(rc, "lake: %s: writing a row group: %s", w->path, core_strerror(rc));
    return core_error(rc, "%s", detail);
}

/* Stops and joins the thread; with cancel, a job in flight stops early. */
static void bg_stop(lake_writer_t *w, bool cancel)
{
    bg_t *g = &w->bg;
    if (!g->started)
        return;
    if (cancel)
        atomic_store_explicit(&g->cancel, true, memory_order_relaxed);
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    g->started = false;
}

/* Encodes the filling batch here, without the thread. */
static int encode_here(lake_writer_t *w)
{
    int64_t start = w->x.pos;
    size_t raw = w->fill->bytes;
    int rc = encode_group(w, w->fill);
    if (rc != 0)
        return rc;
    w->known_pos = w->x.pos;
    w->known_raw += (int64_t)raw;
    w->known_stored += w->x.pos - start;
    w->ratio = (double)w->known_stored / (double)w->known_raw;
    return 0;
}

/* The filling batch is full: encode it here, or hand it to the thread and
 * fill the other batch. */
static int hand_off(lake_writer_t *w)
{
    if (!w->opt.background)
        return encode_here(w);
    int rc = bg_wait(w);
    if (rc != 0)
        return rc;
    bg_t *g = &w->bg;
    if (!g->started) {
        g->pos = w->x.pos;
        g->raw = w->known_raw;
        g->stored = w->known_stored;
        if (pthread_create(&g->thread, NULL, bg_main, w) != 0) {
            w->opt.background = false; /* no thread: work here from now on */
            return encode_here(w);
        }
        g->started = true;
    }
    lake_batch_t *b = w->fill;
    w->flight = b->bytes;
    w->fill = b == &w->batch[0] ? &w->batch[1] : &w->batch[0];
    pthread_mutex_lock(&g->lock);
    g->job = b;
    pthread_cond_broadcast(&g->cond);
    pthread_mutex_unlock(&g->lock);
    return 0;
}

int lake_writer_add(lake_writer_t *w, const schema_value_t *vals)
{
    if (w == NULL || vals == NULL)
        return core_error(CORE_EINVAL, "lake: add without a writer or values");
    if (w->failed != 0)
        return core_error(w->failed, "lake: %s: the writer failed earlier", w->path);
    if (w->bg.started && atomic_load_explicit(&w->bg.failed, memory_order_acquire))
        return fail(w, bg_wait(w));
    for (size_t i = 0; i < w->ncols; i++) {
        int rc = check_value(w, &w->cols[i], &vals[i]);
        if (rc != 0)
            return rc;
    }
    lake_batch_t *b = w->fill;
    size_t added = 0;
    for (size_t i = 0; i < w->ncols; i++) {
        int rc = add_value(&b->cols[i], &w->cols[i], &vals[i], &added);
        if (rc != 0)
            return fail(w, rc);
    }
    w->rows++;
    b->rows++;
    b->bytes += added;
    if ((w->opt.row_group_rows > 0 && b->rows >= w->opt.row_group_rows) ||
        b->bytes >= w->opt.row_group_bytes) {
        int rc = hand_off(w);
        if (rc != 0)
            return fail(w, rc);
    }
    return 0;
}

int lake_writer_set_meta(lake_writer_t *w, const char *key, const char *value)
{
    if (w == NULL || key == NULL || key[0] == '\0')
        return core_error(CORE_EINVAL, "lake: metadata needs a writer and a key");
    size_t klen = strlen(key), vlen = value ? strlen(value) : 0;
    if (klen > LAKE_MAX_META_BYTES || vlen > LAKE_MAX_META_BYTES || !core_utf8_valid(key, klen) ||
        (value != NULL && !core_utf8_valid(value, vlen)))
        return core_error(CORE_EINVAL,
                          "lake: metadata %s: key and value must be UTF-8 of at most %zu bytes",
                          key, LAKE_MAX_META_BYTES);
    size_t i = 0;
    while (i < w->nmeta && strcmp(w->meta_key[i], key) != 0)
        i++;
    if (i == LAKE_MAX_META)
        return core_error(CORE_ETOOBIG, "lake: %s: more than %d metadata keys", w->path,
                          LAKE_MAX_META);
    char *v = value ? core_strdup(CORE_MEM_LAKE, value) : NULL;
    char *k = i == w->nmeta ? core_strdup(CORE_MEM_LAKE, key) : w->meta_key[i];
    if ((value != NULL && v == NULL) || k == NULL) {
        core_free(v);
        if (i == w->nmeta)
            core_free(k);
        return core_error(CORE_ENOMEM, "lake: out of memory for metadata %s", key);
    }
    if (i == w->nmeta) {
        w->meta_key[i] = k;
        w->meta_val[i] = NULL;
        w->nmeta++;
    }
    core_free(w->meta_val[i]);
    w->meta_val[i] = v;
    return 0;
}

int64_t lake_writer_rows(const lake_writer_t *w)
{
    return w ? w->rows : 0;
}

int64_t lake_writer_bytes(const lake_writer_t *w)
{
    if (w == NULL)
        return 0;
    return w->known_pos + (int64_t)((double)(w->flight + w->fill->bytes) * w->ratio);
}

/* ------------------------------------------------------------------------
 * Footer
 * ------------------------------------------------------------------------ */

/* One SchemaElement for a column, with its converted and logical types. */
static void schema_element(lake_thrift_t *t, const lake_col_t *c)
{
    static const int ptype[] = {LAKE_PT_BOOLEAN, LAKE_PT_INT64, LAKE_PT_DOUBLE, LAKE_PT_BYTE_ARRAY,
                                LAKE_PT_INT64};
    lake_thrift_elem_struct(t);
    lake_thrift_field_i32(t, 1, ptype[c->type]);
    lake_thrift_field_i32(t, 3, c->optional ? 1 : 0); /* OPTIONAL : REQUIRED */
    lake_thrift_field_binary(t, 4, c->name, strlen(c->name));
    switch (c->type) {
    case LAKE_COL_INT64:
        lake_thrift_field_i32(t, 6, LAKE_CONV_INT_64);
        lake_thrift_field_struct(t, 10); /* LogicalType */
        lake_thrift_field_struct(t, 10); /* INTEGER: IntType */
        lake_thrift_field_i8(t, 1, 64);
        lake_thrift_field_bool(t, 2, true);
        lake_thrift_struct_end(t);
        lake_thrift_struct_end(t);
        break;
    case LAKE_COL_STRING:
        lake_thrift_field_i32(t, 6, LAKE_CONV_UTF8);
        lake_thrift_field_struct(t, 10); /* LogicalType */
        lake_thrift_field_struct(t, 1);  /* STRING: StringType */
        lake_thrift_struct_end(t);
        lake_thrift_struct_end(t);
        break;
    case LAKE_COL_TIMESTAMP:
        lake_thrift_field_i32(t, 6, LAKE_CONV_TIMESTAMP_MICROS);
        lake_thrift_field_struct(t, 10); /* LogicalType */
        lake_thrift_field_struct(t, 8);  /* TIMESTAMP: TimestampType */
        lake_thrift_field_bool(t, 1, true);
        lake_thrift_field_struct(t, 2); /* unit: TimeUnit */
        lake_thrift_field_struct(t, 2); /* MICROS: MicroSeconds */
        lake_thrift_struct_end(t);
        lake_thrift_struct_end(t);
        lake_thrift_struct_end(t);
        lake_thrift_struct_end(t);
        break;
    default:
        break;
    }
    lake_thrift_struct_end(t);
}

static void file_metadata(lake_thrift_t *t, const lake_writer_t *w)
{
    lake_thrift_field_i32(t, 1, FORMAT_VERSION);
    lake_thrift_field_list(t, 2, LAKE_CT_STRUCT, (uint32_t)w->ncols + 1);
    lake_thrift_elem_struct(t); /* the root */
    lake_thrift_field_string(t, 4, "schema");
    lake_thrift_field_i32(t, 5, (int32_t)w->ncols);
    lake_thrift_struct_end(t);
    for (size_t i = 0; i < w->ncols; i++)
        schema_element(t, &w->cols[i]);
    lake_thrift_field_i64(t, 3, w->rows);
    lake_thrift_field_list(t, 4, LAKE_CT_STRUCT, w->ngroups);
    lake_thrift_raw(t, w->groups.data, w->groups.len);
    if (w->nmeta > 0) {
        lake_thrift_field_list(t, 5, LAKE_CT_STRUCT, (uint32_t)w->nmeta);
        for (size_t i = 0; i < w->nmeta; i++) {
            lake_thrift_elem_struct(t);
            lake_thrift_field_string(t, 1, w->meta_key[i]);
            if (w->meta_val[i] != NULL)
                lake_thrift_field_string(t, 2, w->meta_val[i]);
            lake_thrift_struct_end(t);
        }
    }
    lake_thrift_field_string(t, 6, CREATED_BY);
    lake_thrift_field_list(t, 7, LAKE_CT_STRUCT, (uint32_t)w->ncols);
    for (size_t i = 0; i < w->ncols; i++) {
        lake_thrift_elem_struct(t);     /* ColumnOrder */
        lake_thrift_field_struct(t, 1); /* TYPE_ORDER: TypeDefinedOrder */
        lake_thrift_struct_end(t);
        lake_thrift_struct_end(t);
    }
}

static int write_footer(lake_writer_t *w)
{
    core_buf_t f;
    core_buf_init(&f, CORE_MEM_LAKE, LAKE_MAX_FOOTER_BYTES + 8);
    lake_thrift_t t;
    lake_thrift_init(&t, &f);
    file_metadata(&t, w);
    int rc = lake_thrift_end(&t);
    if (rc == 0 && f.len > LAKE_MAX_FOOTER_BYTES)
        rc = CORE_ETOOBIG;
    if (rc == CORE_ETOOBIG)
        rc = core_error(CORE_ETOOBIG, "lake: %s: the footer passes %zu bytes", w->path,
                        LAKE_MAX_FOOTER_BYTES);
    uint8_t tail[8];
    lake_store_le32(tail, (uint32_t)f.len);
    memcpy(tail + 4, "PAR1", 4);
    if (rc == 0)
        rc = core_buf_append(&f, tail, sizeof tail);
    if (rc == 0 && core_pwrite_all(w->x.fd, f.data, f.len, w->x.pos) != 0)
        rc = core_error(CORE_EIO, "lake: %s: writing the footer: %s", w->path, strerror(errno));
    if (rc == 0)
        w->x.pos += (int64_t)f.len;
    core_buf_fini(&f);
    return rc;
}

int lake_writer_finish(lake_writer_t *w)
{
    if (w == NULL)
        return core_error(CORE_EINVAL, "lake: finish without a writer");
    int rc = w->failed;
    if (rc != 0)
        rc = core_error(rc, "lake: %s: the writer failed earlier", w->path);
    if (rc == 0)
        rc = bg_wait(w);
    bg_stop(w, false);
    if (rc == 0 && w->fill->rows > 0)
        rc = encode_here(w);
    if (rc == 0)
        rc = write_footer(w);
    if (rc == 0 && fdatasync(w->x.fd) != 0)
        rc = core_error(CORE_EIO, "lake: %s: fdatasync: %s", w->path, strerror(errno));
    int fd = w->x.fd;
    w->x.fd = -1;
    if (close(fd) != 0 && rc == 0)
        rc = core_error(CORE_EIO, "lake: %s: close: %s", w->path, strerror(errno));
    destroy(w);
    return rc;
}

void lake_writer_abort(lake_writer_t *w)
{
    if (w == NULL)
        return;
    bg_stop(w, true);
    if (w->x.fd >= 0) {
        close(w->x.fd);
        w->x.fd = -1;
        unlink(w->path);
    }
    destroy(w);
}
