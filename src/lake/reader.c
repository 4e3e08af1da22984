/*
 * reader.c - the Parquet reader's public API (lake.h, "Reading the lake"):
 * the file, its footer (FileMetaData), the schema, row groups, statistics,
 * key/value metadata, and loading a row group's columns (decoded in
 * reader_page.c).
 *
 * Supported: flat schemas (a root and leaf columns, REQUIRED or OPTIONAL)
 * of BOOLEAN, INT64 (plain, INTEGER(64, signed), or TIMESTAMP in millis,
 * micros or nanos), DOUBLE and BYTE_ARRAY (text: STRING, UTF8, ENUM, JSON
 * or no annotation); data page v1 and dictionary pages; codecs
 * UNCOMPRESSED, SNAPPY and ZSTD. Anything else is refused with
 * CORE_EUNSUPP and a detail naming the file and column: nested or repeated
 * columns, other types and annotations, encrypted files, column data in
 * other files; at load time other codecs, encodings and data page v2.
 *
 * Input is outside bytes. Every offset and size from the footer is checked
 * against the file before use, and the caps of lake_read_limits_t bound
 * every allocation: the footer, counts of columns, row groups and chunks
 * (a chunk takes at least 3 footer bytes, checked before allocating), and
 * the decoded size of a loaded row group.
 *
 * Lifecycle: open (footer read and decoded; fd kept) -> stats, metadata,
 * load(g) and value() as often as wanted -> close. The footer bytes are
 * kept: statistics and metadata borrow them.
 *
 * Threading: a reader belongs to one thread.
 */
#include "lake/lake.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lake/read_int.h"

#define DEFAULT_PAGE_BYTES  ((size_t)512 << 20)
#define DEFAULT_PAGE_VALUES ((uint32_t)1 << 24)
#define DEFAULT_GROUP_BYTES ((size_t)2 << 30)
#define DEFAULT_ROW_GROUPS  1000000
#define MIN_CHUNK_BYTES     3 /* a ColumnChunk with its meta_data struct, in the footer */
#define WHAT_CAP            4200

/* Converted types (parquet.thrift ConvertedType). */
enum {
    CONV_UTF8 = 0,
    CONV_ENUM = 4,
    CONV_TS_MILLIS = 9,
    CONV_TS_MICROS = 10,
    CONV_INT_64 = 18,
    CONV_JSON = 19,
};
/* LogicalType union members. */
enum {
    LOG_STRING = 1,
    LOG_ENUM = 4,
    LOG_TIMESTAMP = 8,
    LOG_INTEGER = 10,
    LOG_JSON = 12,
};

typedef struct {
    char *key, *value; /* value NULL: none */
} meta_t;

struct lake_reader {
    char *path;
    int fd;
    int64_t size;
    lake_read_limits_t lim;
    uint8_t *footer; /* the FileMetaData bytes, kept: stats borrow them */
    size_t footer_len;
    int64_t data_end; /* first byte of the footer: chunks lie before it */
    char what[WHAT_CAP];

    size_t ncols;
    lake_rd_column_t *cols;
    lake_column_t *pub; /* the public view of cols */
    int64_t nrows;
    size_t ngroups;
    lake_rd_group_t *groups;
    lake_rd_chunk_t *chunks; /* ngroups * ncols */
    meta_t *meta;
    size_t nmeta;

    /* the loaded row group */
    size_t loaded_group; /* SIZE_MAX: none */
    lake_rd_values_t *vals;
    core_buf_t bytes; /* one chunk's bytes as read */
    lake_rd_ctx_t ctx;
};

void lake_read_limits_default(lake_read_limits_t *l)
{
    memset(l, 0, sizeof *l);
    l->max_footer_bytes = LAKE_MAX_FOOTER_BYTES;
    l->max_page_bytes = DEFAULT_PAGE_BYTES;
    l->max_page_values = DEFAULT_PAGE_VALUES;
    l->max_value_bytes = LAKE_MAX_VALUE_BYTES;
    l->max_group_bytes = DEFAULT_GROUP_BYTES;
    l->max_columns = LAKE_MAX_COLUMNS;
    l->max_row_groups = DEFAULT_ROW_GROUPS;
}

static void fill_limits(const lake_read_limits_t *in, lake_read_limits_t *out)
{
    lake_read_limits_t d;
    lake_read_limits_default(&d);
    *out = in != NULL ? *in : d;
    if (out->max_footer_bytes == 0)
        out->max_footer_bytes = d.max_footer_bytes;
    if (out->max_page_bytes == 0)
        out->max_page_bytes = d.max_page_bytes;
    if (out->max_page_values == 0)
        out->max_page_values = d.max_page_values;
    if (out->max_value_bytes == 0)
        out->max_value_bytes = d.max_value_bytes;
    if (out->max_group_bytes == 0)
        out->max_group_bytes = d.max_group_bytes;
    if (out->max_columns == 0)
        out->max_columns = d.max_columns;
    if (out->max_row_groups == 0)
        out->max_row_groups = d.max_row_groups;
}

/* ------------------------------------------------------------------------
 * Schema
 * ------------------------------------------------------------------------ */

/* What a SchemaElement says. */
typedef struct {
    int32_t type, repetition, num_children, converted;
    bool has_type, has_children;
    const uint8_t *name;
    size_t name_len;
    int logical;  /* LogicalType member id, 0: none */
    int ts_unit;  /* TIMESTAMP: 1 millis, 2 micros, 3 nanos */
    int int_bits; /* INTEGER */
    bool int_signed;
} element_t;

/* A union struct: the id of its one set member (its body skipped), except
 * TIMESTAMP and INTEGER, whose bodies are read. */
static int logical_type(lake_tr_t *t, element_t *e)
{
    int16_t id;
    int type, rc = lake_tr_enter(t);
    while (rc == 0 && (rc = lake_tr_field(t, &id, &type)) == 1) {
        e->logical = id;
        if (type != LAKE_TR_STRUCT || (id != LOG_TIMESTAMP && id != LOG_INTEGER)) {
            rc = lake_tr_skip(t, type);
            continue;
        }
        int16_t fid;
        int ft;
        rc = lake_tr_enter(t);
        while (rc == 0 && (rc = lake_tr_field(t, &fid, &ft)) == 1) {
            if (id == LOG_INTEGER && fid == 1)
                rc = lake_tr_i32(t, ft, &e->int_bits);
            else if (id == LOG_INTEGER && fid == 2)
                rc = lake_tr_bool(t, ft, &e->int_signed);
            else if (id == LOG_TIMESTAMP && fid == 2 && ft == LAKE_TR_STRUCT) {
                int16_t uid;
                int ut;
                rc = lake_tr_enter(t);
                while (rc == 0 && (rc = lake_tr_field(t, &uid, &ut)) == 1) {
                    e->ts_unit = uid;
                    rc = lake_tr_skip(t, ut);
                }
                lake_tr_leave(t);
            } else
                rc = lake_tr_skip(t, ft);
        }
        lake_tr_leave(t);
    }
    lake_tr_leave(t);
    return rc < 0 ? rc : 0;
}

static int schema_element(lake_tr_t *t, element_t *e)
{
    memset(e, 0, sizeof *e);
    e->converted = -1;
    int16_t id;
    int type, rc = lake_tr_enter(t);
    while (rc == 0 && (rc = lake_tr_field(t, &id, &type)) == 1) {
        switch (id) {
        case 1:
            rc = lake_tr_i32(t, type, &e->type);
            e->has_type = true;
            break;
        case 3:
            rc = lake_tr_i32(t, type, &e->repetition);
            break;
        case 4:
            rc = lake_tr_binary(t, type, &e->name, &e->name_len);
            break;
        case 5:
            rc = lake_tr_i32(t, type, &e->num_children);
            e->has_children = true;
            break;
        case 6:
            rc = lake_tr_i32(t, type, &e->converted);
            break;
        case 10:
            rc = type == LAKE_TR_STRUCT ? logical_type(t, e) : lake_tr_skip(t, type);
            break;
        default:
            rc = lake_tr_skip(t, type);
            break;
        }
    }
    lake_tr_leave(t);
    return rc < 0 ? rc : 0;
}

static int unsupported(const lake_reader_t *r, const char *col, const char *why)
{
    return core_error(CORE_EUNSUPP, "lake: %s: column %s: %s", r->path, col, why);
}

/* Maps INT64 annotations to INT64 or TIMESTAMP. */
static int int64_type(const lake_reader_t *r, const element_t *e, lake_rd_column_t *c)
{
    int unit = 0;
    if (e->logical == LOG_TIMESTAMP)
        unit = e->ts_unit;
    else if (e->logical == 0 && e->converted == CONV_TS_MILLIS)
        unit = 1;
    else if (e->logical == 0 && e->converted == CONV_TS_MICROS)
        unit = 2;
    if (unit != 0) {
        c->type = LAKE_COL_TIMESTAMP;
        c->ts_mul = unit == 1 ? 1000 : 1;
        c->ts_div = unit == 3 ? 1000 : 1;
        if (unit < 1 || unit > 3)
            return unsupported(r, c->name, "a timestamp of unknown unit");
        return 0;
    }
    c->type = LAKE_COL_INT64;
    if (e->logical == LOG_INTEGER && (e->int_bits != 64 || !e->int_signed))
        return unsupported(r, c->name, "INT64 annotated as an integer other than signed 64-bit");
    if (e->logical != 0 && e->logical != LOG_INTEGER)
        return unsupported(r, c->name, "an INT64 logical type other than INTEGER or TIMESTAMP");
    if (e->converted >= 0 && e->converted != CONV_INT_64 && e->logical == 0)
        return unsupported(r, c->name, "an INT64 converted type other than INT_64 or TIMESTAMP");
    return 0;
}

static int column_type(const lake_reader_t *r, const element_t *e, lake_rd_column_t *c)
{
    c->physical = e->type;
    c->ts_mul = c->ts_div = 1;
    switch (e->type) {
    case LAKE_RD_PT_BOOLEAN:
        c->type = LAKE_COL_BOOL;
        return 0;
    case LAKE_RD_PT_INT64:
        return int64_type(r, e, c);
    case LAKE_RD_PT_DOUBLE:
        c->type = LAKE_COL_DOUBLE;
        return 0;
    case LAKE_RD_PT_BYTE_ARRAY:
        c->type = LAKE_COL_STRING;
        if (e->logical == 0 || e->logical == LOG_STRING || e->logical == LOG_ENUM ||
            e->logical == LOG_JSON)
            if (e->converted < 0 || e->converted == CONV_UTF8 || e->converted == CONV_ENUM ||
                e->converted == CONV_JSON)
                return 0;
        return unsupported(r, c->name, "BYTE_ARRAY that is not text (STRING, ENUM, JSON)");
    default:
        break;
    }
    char why[96];
    snprintf(why, sizeof why, "physical type %d (BOOLEAN, INT64, DOUBLE and BYTE_ARRAY are read)",
             (int)e->type);
    return unsupported(r, c->name, why);
}

static int add_column(lake_reader_t *r, size_t i, const element_t *e)
{
    lake_rd_column_t *c = &r->cols[i];
    if (e->name == NULL || e->name_len == 0 || e->name_len > LAKE_MAX_NAME_BYTES ||
        !core_utf8_valid(e->name, e->name_len))
        return core_error(CORE_ECORRUPT, "lake: %s: column %zu has no valid name", r->path, i + 1);
    c->name = core_calloc(CORE_MEM_LAKE, 1, e->name_len + 1);
    if (c->name == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory reading %s", r->path);
    memcpy(c->name, e->name, e->name_len);
    if (e->has_children && e->num_children != 0)
        return unsupported(r, c->name, "nested columns are not read");
    if (!e->has_type)
        return core_error(CORE_ECORRUPT, "lake: %s: column %s has no type", r->path, c->name);
    if (e->repetition == 2)
        return unsupported(r, c->name, "repeated columns are not read");
    if (e->repetition != 0 && e->repetition != 1)
        return core_error(CORE_ECORRUPT, "lake: %s: column %s: repetition %d", r->path, c->name,
                          (int)e->repetition);
    c->optional = e->repetition == 1;
    for (size_t j = 0; j < i; j++)
        if (strcmp(r->cols[j].name, c->name) == 0)
            return core_error(CORE_ECORRUPT, "lake: %s: column %s appears twice", r->path, c->name);
    int rc = column_type(r, e, c);
    r->pub[i] = (lake_column_t){c->name, c->type, c->optional};
    return rc;
}

static int parse_schema(lake_reader_t *r, lake_tr_t *t, int type)
{
    int elem;
    uint32_t n;
    int rc = lake_tr_list(t, type, &elem, &n);
    if (rc != 0)
        return rc;
    if (elem != LAKE_TR_STRUCT || n < 1)
        return lake_tr_fail(t, "schema is not a list of elements");
    if (r->cols != NULL)
        return lake_tr_fail(t, "two schemas");
    element_t root;
    if ((rc = schema_element(t, &root)) != 0)
        return rc;
    if (!root.has_children || root.num_children < 1 || (uint32_t)root.num_children != n - 1)
        return core_error(root.num_children >= 1 ? CORE_EUNSUPP : CORE_ECORRUPT,
                          "lake: %s: the schema is not flat (root with %d children, %u elements)",
                          r->path, (int)root.num_children, n);
    r->ncols = n - 1;
    if (r->ncols > r->lim.max_columns)
        return core_error(CORE_ETOOBIG, "lake: %s: %zu columns, above the cap of %zu", r->path,
                          r->ncols, r->lim.max_columns);
    r->cols = core_calloc(CORE_MEM_LAKE, r->ncols, sizeof *r->cols);
    r->pub = core_calloc(CORE_MEM_LAKE, r->ncols, sizeof *r->pub);
    if (r->cols == NULL || r->pub == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory reading %s", r->path);
    for (size_t i = 0; i < r->ncols && rc == 0; i++) {
        element_t e;
        rc = schema_element(t, &e);
        if (rc == 0)
            rc = add_column(r, i, &e);
    }
    return rc;
}

/* ------------------------------------------------------------------------
 * Row groups and column chunks
 * ------------------------------------------------------------------------ */

static int parse_stats(lake_tr_t *t, lake_rd_stats_t *s)
{
    const uint8_t *old_min = NULL, *old_max = NULL;
    size_t old_min_len = 0, old_max_len = 0;
    int16_t id;
    int type, rc = lake_tr_enter(t);
    while (rc == 0 && (rc = lake_tr_field(t, &id, &type)) == 1) {
        if (id == 1)
            rc = lake_tr_binary(t, type, &old_max, &old_max_len);
        else if (id == 2)
            rc = lake_tr_binary(t, type, &old_min, &old_min_len);
        else if (id == 3)
            rc = lake_tr_i64(t, type, &s->null_count);
        else if (id == 5 && (rc = lake_tr_binary(t, type, &s->max, &s->max_len)) == 0)
            s->has_max = true;
        else if (id == 6 && (rc = lake_tr_binary(t, type, &s->min, &s->min_len)) == 0)
            s->has_min = true;
        else if (id != 5 && id != 6)
            rc = lake_tr_skip(t, type);
    }
    lake_tr_leave(t);
    /* The deprecated pair, used only where the new one is missing; the
     * caller keeps them for signed types only. */
    if (!s->has_min && !s->has_max && old_min != NULL && old_max != NULL) {
        s->min = old_min;
        s->min_len = old_min_len;
        s->max = old_max;
        s->max_len = old_max_len;
        s->has_min = s->has_max = true;
        s->deprecated = true;
    }
    return rc < 0 ? rc : 0;
}

/* path_in_schema must be the column's name alone. */
static int check_path(lake_tr_t *t, int type, const lake_rd_column_t *c)
{
    int elem;
    uint32_t n;
    int rc = lake_tr_list(t, type, &elem, &n);
    const uint8_t *p = NULL;
    size_t len = 0;
    if (rc == 0 && n == 1)
        rc = lake_tr_elem_binary(t, elem, &p, &len);
    if (rc != 0)
        return rc;
    if (n != 1 || len != strlen(c->name) || memcmp(p, c->name, len) != 0)
        return lake_tr_fail(t, "a column chunk's path is not column %s", c->name);
    return 0;
}

typedef struct {
    int64_t data_off, dict_off, unc, comp;
    int32_t type;
    bool has_type, has_path;
} chunk_meta_t;

static int column_meta(lake_tr_t *t, const lake_rd_column_t *c, lake_rd_chunk_t *k, chunk_meta_t *m)
{
    int16_t id;
    int type, rc = lake_tr_enter(t);
    while (rc == 0 && (rc = lake_tr_field(t, &id, &type)) == 1) {
        switch (id) {
        case 1:
            rc = lake_tr_i32(t, type, &m->type);
            m->has_type = true;
            break;
        case 3:
            rc = check_path(t, type, c);
            m->has_path = true;
            break;
        case 4:
            rc = lake_tr_i32(t, type, &k->codec);
            break;
        case 5:
            rc = lake_tr_i64(t, type, &k->num_values);
            break;
        case 7:
            rc = lake_tr_i64(t, type, &m->comp);
            break;
        case 9:
            rc = lake_tr_i64(t, type, &m->data_off);
            break;
        case 11:
            rc = lake_tr_i64(t, type, &m->dict_off);
            break;
        case 12:
            rc = type == LAKE_TR_STRUCT ? parse_stats(t, &k->stats) : lake_tr_skip(t, type);
            break;
        default:
            rc = lake_tr_skip(t, type);
            break;
        }
    }
    lake_tr_leave(t);
    return rc < 0 ? rc : 0;
}

/* Checks a chunk's byte range and type against the file and the column. */
static int place_chunk(lake_reader_t *r, lake_tr_t *t, const lake_rd_column_t *c,
                       lake_rd_chunk_t *k, const chunk_meta_t *m)
{
    if (!m->has_type || !m->has_path || m->data_off <= 0 || m->comp <= 0)
        return lake_tr_fail(t, "column %s: a chunk lacks its type, path, offset or size", c->name);
    if (m->type != c->physical)
        return lake_tr_fail(t, "column %s: a chunk of physical type %d", c->name, (int)m->type);
    k->start = m->data_off;
    if (m->dict_off > 0 && m->dict_off < m->data_off)
        k->start = m->dict_off;
    k->length = m->comp;
    if (k->start < 4 || k->start > r->data_end || k->length > r->data_end - k->start)
        return lake_tr_fail(t, "column %s: a chunk at %lld of %lld bytes lies outside the data",
                            c->name, (long long)k->start, (long long)k->length);
    if (k->num_values < 0)
        return lake_tr_fail(t, "column %s: negative num_values", c->name);
    /* The deprecated min/max are in signed order: right for the numeric
     * types, not for strings. */
    if (k->stats.deprecated && c->type == LAKE_COL_STRING)
        k->stats.has_min = k->stats.has_max = false;
    return 0;
}

static int column_chunk(lake_reader_t *r, lake_tr_t *t, const lake_rd_column_t *c,
                        lake_rd_chunk_t *k)
{
    chunk_meta_t m = {0};
    bool has_meta = false;
    k->stats.null_count = -1;
    k->codec = -1;
    int16_t id;
    int type, rc = lake_tr_enter(t);
    while (rc == 0 && (rc = lake_tr_field(t, &id, &type)) == 1) {
        if (id == 1)
            rc = unsupported(r, c->name, "column data in another file (file_path)");
        else if (id == 3 && type == LAKE_TR_STRUCT) {
            rc = column_meta(t, c, k, &m);
            has_meta = true;
        } else if (id == 8)
            rc = unsupported(r, c->name, "encrypted column");
        else
            rc = lake_tr_skip(t, type);
    }
    lake_tr_leave(t);
    if (rc < 0)
        return rc;
    if (!has_meta)
        return lake_tr_fail(t, "column %s: a chunk without metadata", c->name);
    return place_chunk(r, t, c, k, &m);
}

static int row_group(lake_reader_t *r, lake_tr_t *t, size_t g)
{
    lake_rd_group_t *grp = &r->groups[g];
    grp->chunks = &r->chunks[g * r->ncols];
    bool has_cols = false, has_rows = false;
    int16_t id;
    int type, rc = lake_tr_enter(t);
    while (rc == 0 && (rc = lake_tr_field(t, &id, &type)) == 1) {
        if (id == 1) {
            int elem;
            uint32_t n;
            rc = lake_tr_list(t, type, &elem, &n);
            if (rc == 0 && (elem != LAKE_TR_STRUCT || n != r->ncols || has_cols))
                rc = lake_tr_fail(t, "row group %zu has %u column chunks for %zu columns", g, n,
                                  r->ncols);
            for (size_t i = 0; rc == 0 && i < r->ncols; i++)
                rc = column_chunk(r, t, &r->cols[i], &grp->chunks[i]);
            has_cols = true;
        } else if (id == 3) {
            rc = lake_tr_i64(t, type, &grp->num_rows);
            has_rows = true;
        } else {
            rc = lake_tr_skip(t, type);
        }
    }
    lake_tr_leave(t);
    if (rc < 0)
        return rc;
    if (!has_cols || !has_rows || grp->num_rows < 0)
        return lake_tr_fail(t, "row group %zu lacks its columns or row count", g);
    return 0;
}

static int parse_groups(lake_reader_t *r, lake_tr_t *t, int type)
{
    int elem;
    uint32_t n;
    int rc = lake_tr_list(t, type, &elem, &n);
    if (rc != 0)
        return rc;
    if (elem != LAKE_TR_STRUCT)
        return lake_tr_fail(t, "row groups are not structs");
    if (n > r->lim.max_row_groups)
        return core_error(CORE_ETOOBIG, "lake: %s: %u row groups, above the cap of %zu", r->path, n,
                          r->lim.max_row_groups);
    if (r->ncols > 0 && (size_t)n > r->footer_len / MIN_CHUNK_BYTES / r->ncols)
        return lake_tr_fail(t, "%u row groups of %zu columns cannot fit the footer", n, r->ncols);
    r->ngroups = n;
    r->groups = core_calloc(CORE_MEM_LAKE, (size_t)n + 1, sizeof *r->groups);
    r->chunks = core_calloc(CORE_MEM_LAKE, (size_t)n * r->ncols + 1, sizeof *r->chunks);
    if (r->groups == NULL || r->chunks == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory reading %s", r->path);
    for (size_t g = 0; g < n && rc == 0; g++)
        rc = row_group(r, t, g);
    return rc;
}

/* ------------------------------------------------------------------------
 * FileMetaData
 * ------------------------------------------------------------------------ */

static int add_meta(lake_reader_t *r, lake_tr_t *t)
{
    meta_t *m = &r->meta[r->nmeta];
    const uint8_t *k = NULL, *v = NULL;
    size_t kn = 0, vn = 0;
    int16_t id;
    int type, rc = lake_tr_enter(t);
    while (rc == 0 && (rc = lake_tr_field(t, &id, &type)) == 1) {
        if (id == 1)
            rc = lake_tr_binary(t, type, &k, &kn);
        else if (id == 2)
            rc = lake_tr_binary(t, type, &v, &vn);
        else
            rc = lake_tr_skip(t, type);
    }
    lake_tr_leave(t);
    if (rc < 0 || k == NULL)
        return rc;
    m->key = core_calloc(CORE_MEM_LAKE, 1, kn + 1);
    m->value = v != NULL ? core_calloc(CORE_MEM_LAKE, 1, vn + 1) : NULL;
    if (m->key == NULL || (v != NULL && m->value == NULL)) {
        core_free(m->key);
        core_free(m->value);
        return core_error(CORE_ENOMEM, "lake: out of memory reading %s", r->path);
    }
    memcpy(m->key, k, kn);
    if (v != NULL)
        memcpy(m->value, v, vn);
    r->nmeta++;
    return 0;
}

static int parse_meta(lake_reader_t *r, lake_tr_t *t, int type)
{
    int elem;
    uint32_t n;
    int rc = lake_tr_list(t, type, &elem, &n);
    if (rc != 0)
        return rc;
    if (elem != LAKE_TR_STRUCT || r->meta != NULL)
        return lake_tr_fail(t, "bad key/value metadata");
    r->meta = core_calloc(CORE_MEM_LAKE, (size_t)n + 1, sizeof *r->meta);
    if (r->meta == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory reading %s", r->path);
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = add_meta(r, t);
    return rc;
}

/* Row groups may come before the schema in field order: their list is
 * remembered and decoded once the whole struct has been read. */
static int parse_footer(lake_reader_t *r)
{
    lake_tr_t t;
    lake_tr_init(&t, r->footer, r->footer_len, r->what);
    const uint8_t *groups_at = NULL;
    int groups_type = 0;
    bool has_rows = false;
    int16_t id;
    int type, rc;
    while ((rc = lake_tr_field(&t, &id, &type)) == 1) {
        if (id == 2)
            rc = parse_schema(r, &t, type);
        else if (id == 3 && (rc = lake_tr_i64(&t, type, &r->nrows)) == 0)
            has_rows = true;
        else if (id == 4 && groups_at == NULL) {
            groups_at = t.p;
            groups_type = type;
            rc = lake_tr_skip(&t, type);
        } else if (id == 5)
            rc = parse_meta(r, &t, type);
        else if (id == 8)
            rc = core_error(CORE_EUNSUPP, "lake: %s: encrypted files are not read", r->path);
        else
            rc = lake_tr_skip(&t, type);
        if (rc != 0)
            break;
    }
    if (rc < 0)
        return rc;
    if (r->cols == NULL || !has_rows || groups_at == NULL || r->nrows < 0)
        return core_error(CORE_ECORRUPT,
                          "lake: %s: the footer lacks its schema, rows or row groups", r->path);
    lake_tr_t g;
    lake_tr_init(&g, groups_at, (size_t)(r->footer + r->footer_len - groups_at), r->what);
    g.depth = 1;
    rc = parse_groups(r, &g, groups_type);
    int64_t sum = 0;
    for (size_t i = 0; rc == 0 && i < r->ngroups; i++) {
        if (r->groups[i].num_rows > INT64_MAX - sum)
            return core_error(CORE_ECORRUPT, "lake: %s: row counts overflow", r->path);
        sum += r->groups[i].num_rows;
    }
    if (rc == 0 && sum != r->nrows)
        return core_error(CORE_ECORRUPT,
                          "lake: %s: row groups hold %lld rows, the footer says %lld", r->path,
                          (long long)sum, (long long)r->nrows);
    return rc;
}

static int read_footer(lake_reader_t *r)
{
    uint8_t tail[8], head[4];
    if (r->size < 12)
        return core_error(CORE_ECORRUPT, "lake: %s: %lld bytes is too short for Parquet", r->path,
                          (long long)r->size);
    if (core_pread_all(r->fd, head, 4, 0) != 0 || core_pread_all(r->fd, tail, 8, r->size - 8) != 0)
        return core_error(CORE_EIO, "lake: %s: read: %s", r->path, strerror(errno));
    if (memcmp(head, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0)
        return core_error(memcmp(tail + 4, "PARE", 4) == 0 ? CORE_EUNSUPP : CORE_ECORRUPT,
                          "lake: %s: not a Parquet file (no PAR1 magic at both ends)%s", r->path,
                          memcmp(tail + 4, "PARE", 4) == 0 ? "; encrypted footers are not read"
                                                           : "");
    uint32_t len = (uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
                   (uint32_t)tail[3] << 24;
    if (len == 0 || (int64_t)len > r->size - 12)
        return core_error(CORE_ECORRUPT, "lake: %s: footer length %u does not fit the file",
                          r->path, len);
    if (len > r->lim.max_footer_bytes)
        return core_error(CORE_ETOOBIG, "lake: %s: footer of %u bytes, above the cap of %zu",
                          r->path, len, r->lim.max_footer_bytes);
    r->footer_len = len;
    r->data_end = r->size - 8 - len;
    r->footer = core_alloc(CORE_MEM_LAKE, len);
    if (r->footer == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for the footer of %s", r->path);
    if (core_pread_all(r->fd, r->footer, len, r->data_end) != 0)
        return core_error(CORE_EIO, "lake: %s: reading the footer: %s", r->path, strerror(errno));
    return parse_footer(r);
}

/* ------------------------------------------------------------------------
 * Open and close
 * ------------------------------------------------------------------------ */

void lake_reader_close(lake_reader_t *r)
{
    if (r == NULL)
        return;
    if (r->fd >= 0)
        close(r->fd);
    for (size_t i = 0; r->cols != NULL && i < r->ncols; i++) {
        core_free(r->cols[i].name);
        if (r->vals != NULL)
            lake_rd_values_fini(&r->vals[i]);
    }
    for (size_t i = 0; i < r->nmeta; i++) {
        core_free(r->meta[i].key);
        core_free(r->meta[i].value);
    }
    lake_rd_ctx_fini(&r->ctx);
    core_buf_fini(&r->bytes);
    core_free(r->meta);
    core_free(r->vals);
    core_free(r->cols);
    core_free(r->pub);
    core_free(r->groups);
    core_free(r->chunks);
    core_free(r->footer);
    core_free(r->path);
    core_free(r);
}

int lake_reader_open(const char *path, const lake_read_limits_t *lim, lake_reader_t **out)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return core_error(CORE_EINVAL, "lake: no file name");
    lake_reader_t *r = core_calloc(CORE_MEM_LAKE, 1, sizeof *r);
    if (r == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory opening %s", path);
    r->fd = -1;
    r->loaded_group = SIZE_MAX;
    fill_limits(lim, &r->lim);
    lake_rd_ctx_init(&r->ctx, &r->lim);
    core_buf_init(&r->bytes, CORE_MEM_LAKE, r->lim.max_group_bytes);
    snprintf(r->what, sizeof r->what, "lake: %s: footer", path);
    int rc = 0;
    struct stat st;
    if ((r->path = core_strdup(CORE_MEM_LAKE, path)) == NULL)
        rc = core_error(CORE_ENOMEM, "lake: out of memory opening %s", path);
    else if ((r->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        rc = core_error(errno == ENOENT ? CORE_ENOENT : CORE_EIO, "lake: cannot open %s: %s", path,
                        strerror(errno));
    else if (fstat(r->fd, &st) != 0)
        rc = core_error(CORE_EIO, "lake: %s: fstat: %s", path, strerror(errno));
    if (rc == 0) {
        r->size = st.st_size;
        rc = read_footer(r);
    }
    if (rc == 0) {
        r->vals = core_calloc(CORE_MEM_LAKE, r->ncols, sizeof *r->vals);
        if (r->vals == NULL)
            rc = core_error(CORE_ENOMEM, "lake: out of memory opening %s", path);
    }
    if (rc != 0) {
        lake_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ------------------------------------------------------------------------
 * Accessors
 * ------------------------------------------------------------------------ */

const char *lake_reader_path(const lake_reader_t *r)
{
    return r->path;
}

size_t lake_reader_ncolumns(const lake_reader_t *r)
{
    return r->ncols;
}

const lake_column_t *lake_reader_column(const lake_reader_t *r, size_t i)
{
    return i < r->ncols ? &r->pub[i] : NULL;
}

int lake_reader_find(const lake_reader_t *r, const char *name)
{
    for (size_t i = 0; name != NULL && i < r->ncols; i++)
        if (strcmp(r->cols[i].name, name) == 0)
            return (int)i;
    return -1;
}

int64_t lake_reader_nrows(const lake_reader_t *r)
{
    return r->nrows;
}

size_t lake_reader_ngroups(const lake_reader_t *r)
{
    return r->ngroups;
}

int64_t lake_reader_group_rows(const lake_reader_t *r, size_t g)
{
    return g < r->ngroups ? r->groups[g].num_rows : 0;
}

const char *lake_reader_meta(const lake_reader_t *r, const char *key)
{
    for (size_t i = 0; key != NULL && i < r->nmeta; i++)
        if (strcmp(r->meta[i].key, key) == 0)
            return r->meta[i].value;
    return NULL;
}

static int64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return (int64_t)v;
}

/* One bound as a value of the column's type; false when malformed. */
static bool stat_value(const lake_rd_column_t *c, const uint8_t *p, size_t n, schema_value_t *v)
{
    switch (c->type) {
    case LAKE_COL_BOOL:
        *v = (schema_value_t){.type = SCHEMA_BOOL, .v.b = n == 1 && p[0] != 0};
        return n == 1 && p[0] <= 1;
    case LAKE_COL_INT64:
        *v = (schema_value_t){.type = SCHEMA_INT, .v.i = n == 8 ? le64(p) : 0};
        return n == 8;
    case LAKE_COL_TIMESTAMP:
        if (n != 8)
            return false;
        *v = (schema_value_t){.type = SCHEMA_TIMESTAMP};
        return lake_rd_timestamp(c, le64(p), &v->v.i) == 0;
    case LAKE_COL_DOUBLE:
        *v = (schema_value_t){.type = SCHEMA_FLOAT};
        if (n != 8)
            return false;
        uint64_t bits = (uint64_t)le64(p);
        memcpy(&v->v.f, &bits, sizeof bits);
        return v->v.f == v->v.f; /* a NaN bound says nothing */
    case LAKE_COL_STRING:
        *v = (schema_value_t){.type = SCHEMA_STRING, .v.s = {(const char *)p, n}};
        return core_utf8_valid(p, n);
    }
    return false;
}

bool lake_reader_stats(const lake_reader_t *r, size_t g, size_t c, lake_read_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->null_count = -1;
    if (g >= r->ngroups || c >= r->ncols)
        return false;
    const lake_rd_stats_t *s = &r->groups[g].chunks[c].stats;
    out->null_count = s->null_count;
    if (s->has_min && s->has_max)
        out->has_minmax = stat_value(&r->cols[c], s->min, s->min_len, &out->min) &&
                          stat_value(&r->cols[c], s->max, s->max_len, &out->max);
    return out->has_minmax || out->null_count >= 0;
}

/* ------------------------------------------------------------------------
 * Loading a row group
 * ------------------------------------------------------------------------ */

static int load_column(lake_reader_t *r, size_t g, size_t c)
{
    const lake_rd_chunk_t *k = &r->groups[g].chunks[c];
    lake_rd_where_t w = {r->path, g, r->cols[c].name, 0};
    if ((uint64_t)k->length > r->lim.max_group_bytes)
        return core_error(CORE_ETOOBIG,
                          "lake: %s: row group %zu, column %s: a chunk of %lld bytes is above the "
                          "cap of %zu",
                          r->path, g, r->cols[c].name, (long long)k->length,
                          r->lim.max_group_bytes);
    core_buf_reset(&r->bytes);
    int rc = core_buf_reserve(&r->bytes, (size_t)k->length);
    if (rc != 0)
        return rc;
    if (core_pread_all(r->fd, r->bytes.data, (size_t)k->length, k->start) != 0)
        return core_error(CORE_EIO, "lake: %s: row group %zu, column %s: read: %s", r->path, g,
                          r->cols[c].name, strerror(errno));
    r->bytes.len = (size_t)k->length;
    return lake_rd_chunk_decode(&r->ctx, &r->cols[c], k, r->bytes.data, r->bytes.len,
                                r->groups[g].num_rows, &w, &r->vals[c]);
}

int lake_reader_load(lake_reader_t *r, size_t g, const bool *want)
{
    if (g >= r->ngroups)
        return core_error(CORE_EINVAL, "lake: %s: no row group %zu (%zu)", r->path, g, r->ngroups);
    r->loaded_group = SIZE_MAX;
    r->ctx.used = 0;
    for (size_t c = 0; c < r->ncols; c++)
        r->vals[c].loaded = false;
    int rc = 0;
    for (size_t c = 0; c < r->ncols && rc == 0; c++)
        if (want == NULL || want[c])
            rc = load_column(r, g, c);
    if (rc != 0) {
        for (size_t c = 0; c < r->ncols; c++)
            r->vals[c].loaded = false;
        return rc;
    }
    r->loaded_group = g;
    return 0;
}

void lake_reader_value(const lake_reader_t *r, size_t c, int64_t row, schema_value_t *out)
{
    out->type = SCHEMA_NULL;
    if (r->loaded_group == SIZE_MAX || c >= r->ncols || row < 0 ||
        row >= r->groups[r->loaded_group].num_rows || !r->vals[c].loaded ||
        !r->vals[c].defined[row])
        return;
    const lake_rd_values_t *v = &r->vals[c];
    switch (r->cols[c].type) {
    case LAKE_COL_BOOL:
        *out = (schema_value_t){.type = SCHEMA_BOOL, .v.b = v->i[row] != 0};
        return;
    case LAKE_COL_INT64:
        *out = (schema_value_t){.type = SCHEMA_INT, .v.i = v->i[row]};
        return;
    case LAKE_COL_TIMESTAMP:
        *out = (schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = v->i[row]};
        return;
    case LAKE_COL_DOUBLE:
        *out = (schema_value_t){.type = SCHEMA_FLOAT, .v.f = v->d[row]};
        return;
    case LAKE_COL_STRING:
        out->type = SCHEMA_STRING;
        out->v.s.p = v->slen[row] > 0 ? (const char *)v->str.data + v->soff[row] : "";
        out->v.s.len = v->slen[row];
        return;
    }
}
