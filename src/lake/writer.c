/*
 * writer.c - the Parquet writer's public API: options, rows, row groups,
 * the footer and the file.
 *
 * File layout: "PAR1", then each row group's column chunks in column
 * order (each: [dictionary page] data pages), then the FileMetaData
 * (Thrift compact), its length (4 bytes little-endian) and "PAR1".
 *
 * Lifecycle: create (file created, "PAR1" written) -> add rows (a row group
 * is written whenever it reaches row_group_rows or row_group_bytes) ->
 * finish (last row group, footer, fdatasync, close) or abort (close,
 * unlink). Each RowGroup struct is serialized when its row group is written
 * and kept as bytes (`groups`), so the footer needs no per-chunk state.
 *
 * Failure: lake_writer_add() checks and converts every value of a row
 * before adding any, so a bad value leaves the writer as it was. A failure
 * after that (memory, a write) may leave a row half added; the writer then
 * remembers the error (`failed`) and refuses further rows, and finish
 * returns it.
 *
 * Threading: a writer belongs to one thread.
 */
#include "lake/lake.h"

#include <errno.h>
#include <fcntl.h>
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

struct lake_writer {
    char *path; /* owned */
    lake_writer_options_t opt;
    lake_ctx_t x;
    size_t ncols;
    lake_chunk_t *cols;
    lake_value_t *row; /* the converted values of the row being added */
    int64_t rows;      /* rows added */
    int64_t rg_rows;   /* rows in the open row group */
    core_buf_t groups; /* serialized RowGroup structs */
    uint32_t ngroups;
    char *meta_key[LAKE_MAX_META];
    char *meta_val[LAKE_MAX_META]; /* NULL: no value */
    size_t nmeta;
    int failed; /* 0, or the error that stopped the writer */
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

static void destroy(lake_writer_t *w)
{
    if (w->cols != NULL)
        for (size_t i = 0; i < w->ncols; i++)
            lake_chunk_fini(&w->cols[i]);
    for (size_t i = 0; i < w->nmeta; i++) {
        core_free(w->meta_key[i]);
        core_free(w->meta_val[i]);
    }
    if (w->x.fd >= 0)
        close(w->x.fd);
    ZSTD_freeCCtx(w->x.zstd);
    core_buf_fini(&w->x.payload);
    core_buf_fini(&w->x.comp);
    core_buf_fini(&w->x.header);
    core_buf_fini(&w->groups);
    core_free(w->cols);
    core_free(w->row);
    core_free(w->path);
    core_free(w);
}

/* Buffer caps follow from the options: a data page holds at most
 * page_bytes plus one value (and its levels); a chunk holds less than a row
 * group's uncompressed bytes, which compression may at worst double (tiny
 * pages, where a zstd frame header outweighs the page), plus a page. */
static void init_ctx(lake_writer_t *w)
{
    lake_ctx_t *x = &w->x;
    x->codec = w->opt.codec;
    x->zstd_level = w->opt.zstd_level;
    x->path = w->path;
    x->fd = -1;
    x->page_bytes = w->opt.page_bytes;
    x->dict_bytes = w->opt.dictionary_bytes;
    x->page_cap = w->opt.page_bytes + LAKE_MAX_VALUE_BYTES + ((size_t)1 << 20);
    size_t payload = CORE_MAX(x->page_cap, x->dict_bytes);
    size_t comp = payload + payload / 4 + 1024; /* above snappy's and zstd's bounds */
    x->chunk_cap = 2 * w->opt.row_group_bytes + 2 * comp;
    core_buf_init(&x->payload, CORE_MEM_LAKE, payload);
    core_buf_init(&x->comp, CORE_MEM_LAKE, comp);
    core_buf_init(&x->header, CORE_MEM_LAKE, 1024);
    core_buf_init(&w->groups, CORE_MEM_LAKE, LAKE_MAX_FOOTER_BYTES);
}

static int open_file(lake_writer_t *w)
{
    w->x.fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->x.fd < 0)
        return core_error(CORE_EIO, "lake: cannot create %s: %s", w->path, strerror(errno));
    if (core_pwrite_all(w->x.fd, "PAR1", 4, 0) != 0)
        return core_error(CORE_EIO, "lake: %s: writing the header: %s", w->path, strerror(errno));
    w->x.pos = 4;
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
    init_ctx(w);
    w->cols = core_calloc(CORE_MEM_LAKE, ncols, sizeof *w->cols);
    w->row = core_calloc(CORE_MEM_LAKE, ncols, sizeof *w->row);
    if (w->path == NULL || w->cols == NULL || w->row == NULL) {
        rc = core_error(CORE_ENOMEM, "lake: out of memory for a writer of %s", path);
        goto fail;
    }
    for (size_t i = 0; i < ncols && rc == 0; i++)
        rc = lake_chunk_init(&w->cols[i], &cols[i], opt.dictionary, &w->x);
    if (rc == 0)
        rc = open_file(w);
    if (rc != 0)
        goto fail;
    *out = w;
    return 0;
fail:
    if (w->x.fd >= 0)
        unlink(path);
    destroy(w);
    return rc;
}

/* ------------------------------------------------------------------------
 * Rows
 * ------------------------------------------------------------------------ */

static int bad_value(const lake_writer_t *w, const lake_chunk_t *c, const schema_value_t *v)
{
    static const char *const want[] = {"bool", "int or timestamp", "float or int",
                                       "string, object or array", "timestamp or int"};
    return core_error(CORE_EINVAL, "lake: %s: column %s: expected %s%s, got %s", w->path, c->name,
                      want[c->type], c->optional ? " or null" : "", schema_type_name(v->type));
}

static int convert_string(const lake_writer_t *w, const lake_chunk_t *c, const schema_value_t *v,
                          lake_value_t *out)
{
    size_t n = v->v.s.len;
    if (n > LAKE_MAX_VALUE_BYTES)
        return core_error(CORE_EINVAL, "lake: %s: column %s: a value of %zu bytes is above %zu",
                          w->path, c->name, n, LAKE_MAX_VALUE_BYTES);
    if (n > 0 && (v->v.s.p == NULL || !core_utf8_valid(v->v.s.p, n)))
        return core_error(CORE_EINVAL, "lake: %s: column %s: the value is not valid UTF-8", w->path,
                          c->name);
    out->p = (const uint8_t *)v->v.s.p;
    out->n = n;
    return 0;
}

/* Checks one value against its column and converts it into *out. */
static int convert(const lake_writer_t *w, const lake_chunk_t *c, const schema_value_t *v,
                   lake_value_t *out)
{
    memset(out, 0, sizeof *out);
    schema_type_t t = v->type;
    if (t == SCHEMA_NULL) {
        out->null = true;
        return c->optional ? 0 : bad_value(w, c, v);
    }
    switch (c->type) {
    case LAKE_COL_BOOL:
        if (t != SCHEMA_BOOL)
            return bad_value(w, c, v);
        out->b = v->v.b;
        return 0;
    case LAKE_COL_INT64:
    case LAKE_COL_TIMESTAMP:
        if (t != SCHEMA_INT && t != SCHEMA_TIMESTAMP)
            return bad_value(w, c, v);
        out->i = v->v.i;
        return 0;
    case LAKE_COL_DOUBLE:
        if (t == SCHEMA_INT)
            out->d = (double)v->v.i;
        else if (t == SCHEMA_FLOAT)
            out->d = v->v.f;
        else
            return bad_value(w, c, v);
        return 0;
    case LAKE_COL_STRING:
        if (t != SCHEMA_STRING && t != SCHEMA_OBJECT && t != SCHEMA_ARRAY)
            return bad_value(w, c, v);
        return convert_string(w, c, v, out);
    }
    return bad_value(w, c, v);
}

static int fail(lake_writer_t *w, int rc)
{
    w->failed = rc;
    return rc;
}

static size_t buffered(const lake_writer_t *w)
{
    size_t n = 0;
    for (size_t i = 0; i < w->ncols; i++)
        n += lake_chunk_buffered(&w->cols[i]);
    return n;
}

/* Writes the open row group's chunks and keeps its RowGroup struct. */
static int flush_row_group(lake_writer_t *w)
{
    if (w->rg_rows == 0)
        return 0;
    size_t before = w->groups.len;
    int64_t first = w->x.pos, unc = 0, comp = 0;
    lake_thrift_t t;
    lake_thrift_init(&t, &w->groups);
    lake_thrift_field_list(&t, 1, LAKE_CT_STRUCT, (uint32_t)w->ncols);
    int rc = 0;
    for (size_t i = 0; i < w->ncols && rc == 0; i++)
        rc = lake_chunk_flush(&w->cols[i], &w->x, &t, &unc, &comp);
    if (rc == 0) {
        lake_thrift_field_i64(&t, 2, unc);
        lake_thrift_field_i64(&t, 3, w->rg_rows);
        lake_thrift_field_i64(&t, 5, first);
        lake_thrift_field_i64(&t, 6, comp);
        if (w->ngroups <= INT16_MAX)
            lake_thrift_field_i16(&t, 7, (int16_t)w->ngroups);
        rc = lake_thrift_end(&t);
    }
    if (rc == CORE_ETOOBIG)
        rc =
            core_error(CORE_ETOOBIG, "lake: %s: the footer would pass %zu bytes; roll files sooner",
                       w->path, LAKE_MAX_FOOTER_BYTES);
    if (rc != 0) {
        w->groups.len = before;
        return rc;
    }
    w->ngroups++;
    w->rg_rows = 0;
    return 0;
}

int lake_writer_add(lake_writer_t *w, const schema_value_t *vals)
{
    if (w == NULL || vals == NULL)
        return core_error(CORE_EINVAL, "lake: add without a writer or values");
    if (w->failed != 0)
        return core_error(w->failed, "lake: %s: the writer failed earlier", w->path);
    for (size_t i = 0; i < w->ncols; i++) {
        int rc = convert(w, &w->cols[i], &vals[i], &w->row[i]);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < w->ncols; i++) {
        int rc = lake_chunk_add(&w->cols[i], &w->row[i], &w->x);
        if (rc != 0)
            return fail(w, rc);
    }
    w->rows++;
    w->rg_rows++;
    if ((w->opt.row_group_rows > 0 && w->rg_rows >= w->opt.row_group_rows) ||
        buffered(w) >= w->opt.row_group_bytes) {
        int rc = flush_row_group(w);
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
    size_t n = 0;
    for (size_t i = 0; i < w->ncols; i++)
        n += lake_chunk_stored(&w->cols[i]);
    return w->x.pos + (int64_t)n;
}

/* ------------------------------------------------------------------------
 * Footer
 * ------------------------------------------------------------------------ */

/* One SchemaElement for a column, with its converted and logical types. */
static void schema_element(lake_thrift_t *t, const lake_chunk_t *c)
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
        rc = flush_row_group(w);
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
    if (w->x.fd >= 0) {
        close(w->x.fd);
        w->x.fd = -1;
        unlink(w->path);
    }
    destroy(w);
}
