/*
 * chunk.c - one column chunk of the open row group: values go into the
 * open data page; full pages are encoded, compressed and kept in memory
 * until the row group is flushed, because a chunk's dictionary page must
 * come before its data pages and is only complete at the end.
 *
 * Page layout (data page v1): [definition levels: 4-byte length + RLE
 * hybrid, bit width 1; OPTIONAL columns only] [values]. Values are PLAIN,
 * or for dictionary-encoded pages one byte of bit width and the RLE hybrid
 * of the indices. No repetition levels: every column is flat.
 *
 * Dictionary state machine, per chunk (string columns with the option on):
 *   use_dict --(a new value would pass dictionary_bytes: the open page is
 *   closed as RLE_DICTIONARY)--> plain --(row group flushed)--> use_dict.
 * A page is RLE_DICTIONARY only if it holds at least one non-null value
 * and was filled in use_dict; the dictionary page is written only if some
 * page refers to it.
 *
 * Invariants:
 *   - page_rows >= page_values; levels.len == page_rows for OPTIONAL
 *     columns; indices hold page_values entries in use_dict.
 *   - unc_bytes/comp_bytes count exactly the bytes in `pages` (headers
 *     included), uncompressed and as stored.
 *   - Statistics cover the non-null values of the chunk; NaN is counted in
 *     nan_count and never becomes min or max.
 *
 * Threading: a chunk belongs to its writer's thread.
 */
#include "lake/lake_int.h"

#include <errno.h>
#include <math.h>
#include <snappy-c.h>
#include <string.h>
#include <zstd.h>

int lake_chunk_init(lake_chunk_t *c, const lake_column_t *col, bool dictionary, const lake_ctx_t *x)
{
    memset(c, 0, sizeof *c);
    c->name = core_strdup(CORE_MEM_LAKE, col->name);
    if (c->name == NULL)
        return core_error(CORE_ENOMEM, "lake: out of memory for column %s", col->name);
    c->type = col->type;
    c->optional = col->optional;
    c->dictionary = dictionary && col->type == LAKE_COL_STRING;
    c->use_dict = c->dictionary;
    core_buf_init(&c->levels, CORE_MEM_LAKE, LAKE_PAGE_MAX_VALUES);
    core_buf_init(&c->values, CORE_MEM_LAKE, x->page_cap);
    core_buf_init(&c->indices, CORE_MEM_LAKE, (size_t)LAKE_PAGE_MAX_VALUES * sizeof(uint32_t));
    core_buf_init(&c->pages, CORE_MEM_LAKE, x->chunk_cap);
    core_buf_init(&c->smin, CORE_MEM_LAKE, LAKE_MAX_VALUE_BYTES);
    core_buf_init(&c->smax, CORE_MEM_LAKE, LAKE_MAX_VALUE_BYTES);
    lake_dict_init(&c->dict, x->dict_bytes);
    return 0;
}

void lake_chunk_fini(lake_chunk_t *c)
{
    core_free(c->name);
    core_buf_fini(&c->levels);
    core_buf_fini(&c->values);
    core_buf_fini(&c->indices);
    core_buf_fini(&c->pages);
    core_buf_fini(&c->smin);
    core_buf_fini(&c->smax);
    lake_dict_fini(&c->dict);
    memset(c, 0, sizeof *c);
}

/* ------------------------------------------------------------------------
 * Compression and page headers
 * ------------------------------------------------------------------------ */

int lake_compress(lake_ctx_t *x, const uint8_t *src, size_t n, const uint8_t **out, size_t *out_n)
{
    if (x->codec == LAKE_CODEC_NONE) {
        *out = src;
        *out_n = n;
        return 0;
    }
    core_buf_reset(&x->comp);
    size_t bound =
        x->codec == LAKE_CODEC_SNAPPY ? snappy_max_compressed_length(n) : ZSTD_compressBound(n);
    int rc = core_buf_reserve(&x->comp, bound);
    if (rc != 0)
        return rc;
    size_t got = bound;
    if (x->codec == LAKE_CODEC_SNAPPY) {
        if (snappy_compress((const char *)src, n, (char *)x->comp.data, &got) != SNAPPY_OK)
            return core_error(CORE_EFAILED, "lake: %s: snappy failed on %zu bytes", x->path, n);
    } else {
        if (x->zstd == NULL && (x->zstd = ZSTD_createCCtx()) == NULL)
            return core_error(CORE_ENOMEM, "lake: out of memory for a zstd context");
        got = ZSTD_compressCCtx(x->zstd, x->comp.data, bound, src, n, x->zstd_level);
        if (ZSTD_isError(got))
            return core_error(CORE_EFAILED, "lake: %s: zstd: %s", x->path, ZSTD_getErrorName(got));
    }
    x->comp.len = got;
    *out = x->comp.data;
    *out_n = got;
    return 0;
}

/* Compresses body and serializes its PageHeader into x->header. */
static int encode_page(lake_ctx_t *x, int type, const uint8_t *body, size_t n, uint32_t nvalues,
                       int encoding, const uint8_t **cp, size_t *cn)
{
    int rc = lake_compress(x, body, n, cp, cn);
    if (rc != 0)
        return rc;
    if (n > INT32_MAX || *cn > INT32_MAX)
        return core_error(CORE_ETOOBIG, "lake: %s: page of %zu bytes is too large", x->path, n);
    core_buf_reset(&x->header);
    lake_thrift_t t;
    lake_thrift_init(&t, &x->header);
    lake_thrift_field_i32(&t, 1, type);
    lake_thrift_field_i32(&t, 2, (int32_t)n);
    lake_thrift_field_i32(&t, 3, (int32_t)*cn);
    if (type == LAKE_PAGE_DATA) {
        lake_thrift_field_struct(&t, 5); /* DataPageHeader */
        lake_thrift_field_i32(&t, 1, (int32_t)nvalues);
        lake_thrift_field_i32(&t, 2, encoding);
        lake_thrift_field_i32(&t, 3, LAKE_ENC_RLE); /* definition levels */
        lake_thrift_field_i32(&t, 4, LAKE_ENC_RLE); /* repetition levels */
    } else {
        lake_thrift_field_struct(&t, 7); /* DictionaryPageHeader */
        lake_thrift_field_i32(&t, 1, (int32_t)nvalues);
        lake_thrift_field_i32(&t, 2, encoding);
    }
    lake_thrift_struct_end(&t);
    return lake_thrift_end(&t);
}

/* ------------------------------------------------------------------------
 * Data pages
 * ------------------------------------------------------------------------ */

static unsigned dict_width(const lake_chunk_t *c)
{
    unsigned w = lake_bit_width(c->dict.count > 0 ? c->dict.count - 1 : 0);
    return w == 0 ? 1 : w;
}

/* Uncompressed size of the open page, near enough to decide when it is
 * full: levels at one bit each, indices at the current bit width. */
static size_t page_estimate(const lake_chunk_t *c)
{
    if (c->page_rows == 0)
        return 0;
    size_t n = c->optional ? 4 + c->page_rows / 8 : 0;
    if (c->use_dict)
        return n + 1 + ((size_t)c->page_values * dict_width(c) + 7) / 8;
    return n + c->values.len;
}

/* Builds the open page's body into x->payload; *encoding gets its value
 * encoding. */
static int page_body(lake_chunk_t *c, lake_ctx_t *x, int *encoding)
{
    core_buf_t *p = &x->payload;
    core_buf_reset(p);
    int rc = 0;
    if (c->optional) {
        uint8_t len[4] = {0};
        rc = core_buf_append(p, len, 4);
        if (rc == 0)
            rc = lake_rle_encode(p, c->levels.data, 1, c->page_rows, 1);
        if (rc != 0)
            return rc;
        lake_store_le32(p->data, (uint32_t)(p->len - 4));
    }
    if (c->use_dict && c->page_values > 0) {
        unsigned w = dict_width(c);
        *encoding = LAKE_ENC_RLE_DICTIONARY;
        rc = core_buf_append_u8(p, (uint8_t)w);
        return rc != 0 ? rc : lake_rle_encode(p, c->indices.data, 4, c->page_values, w);
    }
    *encoding = LAKE_ENC_PLAIN;
    return c->values.len == 0 ? 0 : core_buf_append(p, c->values.data, c->values.len);
}

/* Closes the open page (if it has rows) into c->pages. */
static int flush_page(lake_chunk_t *c, lake_ctx_t *x)
{
    if (c->page_rows == 0)
        return 0;
    int encoding;
    const uint8_t *cp;
    size_t cn;
    int rc = page_body(c, x, &encoding);
    if (rc == 0)
        rc = encode_page(x, LAKE_PAGE_DATA, x->payload.data, x->payload.len, c->page_rows, encoding,
                         &cp, &cn);
    if (rc == 0)
        rc = core_buf_reserve(&c->pages, x->header.len + cn);
    if (rc != 0)
        return rc;
    core_buf_append(&c->pages, x->header.data, x->header.len);
    core_buf_append(&c->pages, cp, cn);
    c->unc_bytes += (int64_t)(x->header.len + x->payload.len);
    c->comp_bytes += (int64_t)(x->header.len + cn);
    if (encoding == LAKE_ENC_RLE_DICTIONARY)
        c->dict_pages++;
    else
        c->plain_pages++;
    core_buf_reset(&c->levels);
    core_buf_reset(&c->values);
    core_buf_reset(&c->indices);
    c->page_rows = 0;
    c->page_values = 0;
    return 0;
}

size_t lake_chunk_buffered(const lake_chunk_t *c)
{
    return (size_t)c->unc_bytes + page_estimate(c) + c->dict.plain.len;
}

size_t lake_chunk_stored(const lake_chunk_t *c)
{
    return (size_t)c->comp_bytes + page_estimate(c) + c->dict.plain.len;
}

/* ------------------------------------------------------------------------
 * Values and statistics
 * ------------------------------------------------------------------------ */

static void stat_int(lake_chunk_t *c, int64_t v)
{
    if (!c->has_minmax) {
        c->imin = c->imax = v;
        c->has_minmax = true;
    } else if (v < c->imin) {
        c->imin = v;
    } else if (v > c->imax) {
        c->imax = v;
    }
}

static void stat_double(lake_chunk_t *c, double v)
{
    if (isnan(v)) {
        c->nan_count++;
    } else if (!c->has_minmax) {
        c->dmin = c->dmax = v;
        c->has_minmax = true;
    } else if (v < c->dmin) {
        c->dmin = v;
    } else if (v > c->dmax) {
        c->dmax = v;
    }
}

/* Unsigned lexicographic byte order, a prefix sorting first. */
static int bytes_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = CORE_MIN(an, bn);
    int r = n == 0 ? 0 : memcmp(a, b, n);
    if (r != 0)
        return r;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

static int set_bytes(core_buf_t *b, const uint8_t *p, size_t n)
{
    core_buf_reset(b);
    return n == 0 ? 0 : core_buf_append(b, p, n);
}

static int stat_bytes(lake_chunk_t *c, const uint8_t *p, size_t n)
{
    int rc = 0;
    if (!c->has_minmax) {
        c->has_minmax = true;
        rc = set_bytes(&c->smin, p, n);
        return rc != 0 ? rc : set_bytes(&c->smax, p, n);
    }
    if (bytes_cmp(p, n, c->smin.data, c->smin.len) < 0)
        rc = set_bytes(&c->smin, p, n);
    if (rc == 0 && bytes_cmp(p, n, c->smax.data, c->smax.len) > 0)
        rc = set_bytes(&c->smax, p, n);
    return rc;
}

static int append_le64(core_buf_t *b, uint64_t v)
{
    uint8_t le[8];
    lake_store_le64(le, v);
    return core_buf_append(b, le, 8);
}

/* A string value: its dictionary index (idx >= 0) or PLAIN bytes. A new
 * dictionary entry updates the statistics; a repeated one cannot change
 * them. */
static int add_string(lake_chunk_t *c, const lake_value_t *v, int64_t idx, bool added)
{
    if (idx >= 0) {
        uint32_t i = (uint32_t)idx;
        int rc = core_buf_append(&c->indices, &i, sizeof i);
        return rc != 0 || !added ? rc : stat_bytes(c, v->p, v->n);
    }
    uint8_t len[4];
    lake_store_le32(len, (uint32_t)v->n);
    int rc = core_buf_reserve(&c->values, 4 + v->n);
    if (rc != 0)
        return rc;
    core_buf_append(&c->values, len, 4);
    if (v->n > 0)
        core_buf_append(&c->values, v->p, v->n);
    return stat_bytes(c, v->p, v->n);
}

static int add_value(lake_chunk_t *c, const lake_value_t *v, int64_t idx, bool added)
{
    uint64_t bits;
    switch (c->type) {
    case LAKE_COL_BOOL:
        if (c->page_values % 8 == 0) {
            int rc = core_buf_append_u8(&c->values, 0);
            if (rc != 0)
                return rc;
        }
        if (v->b)
            c->values.data[c->values.len - 1] |= (uint8_t)(1u << (c->page_values % 8));
        stat_int(c, v->b ? 1 : 0);
        return 0;
    case LAKE_COL_INT64:
    case LAKE_COL_TIMESTAMP:
        stat_int(c, v->i);
        return append_le64(&c->values, (uint64_t)v->i);
    case LAKE_COL_DOUBLE:
        memcpy(&bits, &v->d, sizeof bits);
        stat_double(c, v->d);
        return append_le64(&c->values, bits);
    case LAKE_COL_STRING:
        return add_string(c, v, idx, added);
    }
    return core_error(CORE_EINVAL, "lake: column %s has an unknown type", c->name);
}

/* Looks the value up in the dictionary (*idx = -1 when the chunk is
 * PLAIN). If the dictionary cannot take it, closes the open page (still
 * dictionary-encoded) and switches the chunk to PLAIN for good. */
static int dict_lookup(lake_chunk_t *c, const lake_value_t *v, lake_ctx_t *x, int64_t *idx,
                       bool *added)
{
    *idx = -1;
    *added = false;
    if (!c->use_dict || v->null)
        return 0;
    uint32_t i;
    int rc = lake_dict_put(&c->dict, v->n > 0 ? v->p : (const uint8_t *)"", v->n, &i, added);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        *idx = i;
        return 0;
    }
    rc = flush_page(c, x);
    c->use_dict = false;
    return rc;
}

int lake_chunk_add(lake_chunk_t *c, const lake_value_t *v, lake_ctx_t *x)
{
    int64_t idx;
    bool added;
    int rc = dict_lookup(c, v, x, &idx, &added);
    if (rc == 0 && c->optional)
        rc = core_buf_append_u8(&c->levels, v->null ? 0 : 1);
    if (rc == 0 && !v->null)
        rc = add_value(c, v, idx, added);
    if (rc != 0)
        return rc;
    if (v->null)
        c->null_count++;
    else
        c->page_values++;
    c->page_rows++;
    c->num_values++;
    if (c->page_rows >= LAKE_PAGE_MAX_VALUES || page_estimate(c) >= x->page_bytes)
        return flush_page(c, x);
    return 0;
}

/* ------------------------------------------------------------------------
 * Flushing the chunk: bytes to the file, ColumnChunk to the footer
 * ------------------------------------------------------------------------ */

static int write_bytes(lake_ctx_t *x, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (core_pwrite_all(x->fd, p, n, x->pos) != 0)
        return core_error(CORE_EIO, "lake: %s: writing %zu bytes at offset %lld: %s", x->path, n,
                          (long long)x->pos, strerror(errno));
    x->pos += (int64_t)n;
    return 0;
}

static int physical_type(lake_col_type_t t)
{
    switch (t) {
    case LAKE_COL_BOOL:
        return LAKE_PT_BOOLEAN;
    case LAKE_COL_DOUBLE:
        return LAKE_PT_DOUBLE;
    case LAKE_COL_STRING:
        return LAKE_PT_BYTE_ARRAY;
    default:
        return LAKE_PT_INT64;
    }
}

static int codec_enum(lake_codec_t c)
{
    return c == LAKE_CODEC_SNAPPY ? 1 : c == LAKE_CODEC_ZSTD ? 6 : 0;
}

/* A statistic value, PLAIN-encoded without a length prefix. */
static void stat_value(lake_thrift_t *t, int16_t id, const lake_chunk_t *c, bool max)
{
    uint8_t b[8];
    double d;
    uint64_t bits;
    switch (c->type) {
    case LAKE_COL_BOOL:
        b[0] = (uint8_t)(max ? c->imax : c->imin);
        lake_thrift_field_binary(t, id, b, 1);
        return;
    case LAKE_COL_DOUBLE:
        /* A zero bound is written as -0.0 (min) or +0.0 (max). */
        d = max ? c->dmax : c->dmin;
        if (d == 0)
            d = max ? 0.0 : -0.0;
        memcpy(&bits, &d, sizeof bits);
        lake_store_le64(b, bits);
        lake_thrift_field_binary(t, id, b, 8);
        return;
    case LAKE_COL_STRING:
        if (max)
            lake_thrift_field_binary(t, id, c->smax.data, c->smax.len);
        else
            lake_thrift_field_binary(t, id, c->smin.data, c->smin.len);
        return;
    default:
        lake_store_le64(b, (uint64_t)(max ? c->imax : c->imin));
        lake_thrift_field_binary(t, id, b, 8);
        return;
    }
}

/* Statistics (field 12 of ColumnMetaData). The deprecated min/max (1, 2)
 * are written only where their signed order is the type's order, i.e. not
 * for strings. Bounds are left out when a string bound is longer than
 * LAKE_STATS_MAX_BYTES, and for doubles when the chunk holds a NaN: the
 * spec allows bounds that skip NaN when nan_count is set, but readers that
 * ignore nan_count (DuckDB orders NaN above every number) would then skip
 * row groups that match `d > x` or `d = 'NaN'`. */
static void write_stats(lake_thrift_t *t, const lake_chunk_t *c)
{
    bool minmax = c->has_minmax;
    if (c->type == LAKE_COL_STRING &&
        (c->smin.len > LAKE_STATS_MAX_BYTES || c->smax.len > LAKE_STATS_MAX_BYTES))
        minmax = false;
    if (c->type == LAKE_COL_DOUBLE && c->nan_count > 0)
        minmax = false;
    lake_thrift_field_struct(t, 12);
    if (minmax && c->type != LAKE_COL_STRING) {
        stat_value(t, 1, c, true);
        stat_value(t, 2, c, false);
    }
    lake_thrift_field_i64(t, 3, c->null_count);
    if (minmax) {
        stat_value(t, 5, c, true);
        stat_value(t, 6, c, false);
        lake_thrift_field_bool(t, 7, true);
        lake_thrift_field_bool(t, 8, true);
    }
    if (c->type == LAKE_COL_DOUBLE)
        lake_thrift_field_i64(t, 9, c->nan_count);
    lake_thrift_struct_end(t);
}

static void page_stats(lake_thrift_t *t, int page_type, int encoding, uint32_t count)
{
    lake_thrift_elem_struct(t);
    lake_thrift_field_i32(t, 1, page_type);
    lake_thrift_field_i32(t, 2, encoding);
    lake_thrift_field_i32(t, 3, (int32_t)count);
    lake_thrift_struct_end(t);
}

/* One ColumnChunk, as a list element. */
static void write_meta(lake_thrift_t *t, const lake_chunk_t *c, const lake_ctx_t *x,
                       int64_t dict_off, int64_t data_off, int64_t unc, int64_t comp)
{
    bool dict = c->dict_pages > 0;
    int32_t enc[3];
    uint32_t nenc = 0;
    enc[nenc++] = LAKE_ENC_PLAIN;
    if (c->optional)
        enc[nenc++] = LAKE_ENC_RLE;
    if (dict)
        enc[nenc++] = LAKE_ENC_RLE_DICTIONARY;
    lake_thrift_elem_struct(t);
    lake_thrift_field_i64(t, 2, 0); /* file_offset: deprecated, 0 */
    lake_thrift_field_struct(t, 3); /* ColumnMetaData */
    lake_thrift_field_i32(t, 1, physical_type(c->type));
    lake_thrift_field_list(t, 2, LAKE_CT_I32, nenc);
    for (uint32_t i = 0; i < nenc; i++)
        lake_thrift_elem_i32(t, enc[i]);
    lake_thrift_field_list(t, 3, LAKE_CT_BINARY, 1);
    lake_thrift_elem_binary(t, c->name, strlen(c->name));
    lake_thrift_field_i32(t, 4, codec_enum(x->codec));
    lake_thrift_field_i64(t, 5, c->num_values);
    lake_thrift_field_i64(t, 6, unc);
    lake_thrift_field_i64(t, 7, comp);
    lake_thrift_field_i64(t, 9, data_off);
    if (dict)
        lake_thrift_field_i64(t, 11, dict_off);
    write_stats(t, c);
    lake_thrift_field_list(t, 13, LAKE_CT_STRUCT,
                           (dict ? 2u : 0u) + (c->plain_pages > 0 ? 1u : 0u));
    if (dict) {
        page_stats(t, LAKE_PAGE_DICTIONARY, LAKE_ENC_PLAIN, 1);
        page_stats(t, LAKE_PAGE_DATA, LAKE_ENC_RLE_DICTIONARY, c->dict_pages);
    }
    if (c->plain_pages > 0)
        page_stats(t, LAKE_PAGE_DATA, LAKE_ENC_PLAIN, c->plain_pages);
    lake_thrift_struct_end(t); /* ColumnMetaData */
    lake_thrift_struct_end(t); /* ColumnChunk */
}

static void reset_chunk(lake_chunk_t *c)
{
    core_buf_reset(&c->pages);
    lake_dict_reset(&c->dict);
    c->use_dict = c->dictionary;
    c->num_values = c->null_count = 0;
    c->unc_bytes = c->comp_bytes = 0;
    c->dict_pages = c->plain_pages = 0;
    c->has_minmax = false;
    c->nan_count = 0;
    core_buf_reset(&c->smin);
    core_buf_reset(&c->smax);
}

int lake_chunk_flush(lake_chunk_t *c, lake_ctx_t *x, lake_thrift_t *t, int64_t *unc, int64_t *comp)
{
    int rc = flush_page(c, x);
    if (rc != 0)
        return rc;
    int64_t dict_off = x->pos, dict_unc = 0, dict_comp = 0;
    if (c->dict_pages > 0) {
        const uint8_t *cp;
        size_t cn;
        rc = encode_page(x, LAKE_PAGE_DICTIONARY, c->dict.plain.data, c->dict.plain.len,
                         c->dict.count, LAKE_ENC_PLAIN, &cp, &cn);
        if (rc == 0)
            rc = write_bytes(x, x->header.data, x->header.len);
        if (rc == 0)
            rc = write_bytes(x, cp, cn);
        if (rc != 0)
            return rc;
        dict_unc = (int64_t)(x->header.len + c->dict.plain.len);
        dict_comp = (int64_t)(x->header.len + cn);
    }
    int64_t data_off = x->pos;
    rc = write_bytes(x, c->pages.data, c->pages.len);
    if (rc != 0)
        return rc;
    write_meta(t, c, x, dict_off, data_off, c->unc_bytes + dict_unc, c->comp_bytes + dict_comp);
    *unc += c->unc_bytes + dict_unc;
    *comp += c->comp_bytes + dict_comp;
    reset_chunk(c);
    return t->rc;
}
