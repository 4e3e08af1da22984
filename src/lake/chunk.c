/*
 * chunk.c - one column chunk of a row group: the values a column holds as
 * added (lake_colbuf_t, filled by writer.c) encoded into pages, the pages
 * compressed and written, and the chunk's ColumnChunk metadata.
 *
 * The whole chunk is known before its first page is encoded, so every
 * decision sees all of its values:
 *   - strings with the dictionary on: values go into the dictionary in
 *     order until one would pass dictionary_bytes; values [0, k) are then
 *     dictionary-encoded and the rest PLAIN (the "fallback"). A page never
 *     mixes the two: the page holding value k-1 ends there.
 *   - INT64, DOUBLE and TIMESTAMP with dictionary_numbers: a dictionary
 *     for the whole chunk when it has at most a quarter as many entries as
 *     the chunk has values (and fits dictionary_bytes), else PLAIN.
 *   - anything else: PLAIN.
 * A page is RLE_DICTIONARY only if it holds at least one non-null value;
 * the dictionary page (PLAIN) is written first, and only when k > 0.
 *
 * Page layout (data page v1): [definition levels: 4-byte length + RLE
 * hybrid, bit width 1; OPTIONAL columns only] [values]. Values are PLAIN
 * (booleans bit-packed), or one byte of bit width and the RLE hybrid of
 * the dictionary indices. No repetition levels: every column is flat. A
 * page closes once its estimated size (levels at one bit per row, indices
 * at the chunk's bit width) reaches page_bytes, or at LAKE_PAGE_MAX_VALUES
 * rows. The PLAIN body of a REQUIRED column is a slice of the added
 * values, compressed in place.
 *
 * Output: page headers and bodies are emitted at x->pos through x->out, a
 * write-combining buffer of OUT_CAP bytes (a body over half of that is
 * written directly); writer.c flushes it after each row group.
 *
 * Statistics cover the chunk's non-null values; NaN is counted in
 * nan_count and never becomes min or max.
 *
 * Threading: the thread that owns the encoder (lake_ctx_t) at the time:
 * the writer's own, or its background thread.
 */
#include "lake/lake_int.h"

#include <errno.h>
#include <math.h>
#include <snappy-c.h>
#include <string.h>
#include <zstd.h>

#define OUT_CAP ((size_t)1 << 20)

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* b's byte at off, or NULL while b holds nothing. */
static inline const uint8_t *byte_at(const core_buf_t *b, size_t off)
{
    return b->data == NULL ? NULL : b->data + off;
}

static inline uint32_t load_le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

void lake_ctx_init(lake_ctx_t *x, const lake_writer_options_t *o, const char *path)
{
    memset(x, 0, sizeof *x);
    x->codec = o->codec;
    x->zstd_level = o->zstd_level;
    x->path = path;
    x->fd = -1;
    x->page_bytes = o->page_bytes;
    x->dict_bytes = o->dictionary_bytes;
    /* A page body holds at most page_bytes plus one value and its levels;
     * a dictionary page at most dictionary_bytes. Compression adds less
     * than a quarter (snappy's and zstd's bounds). */
    size_t body =
        CORE_MAX(o->page_bytes + LAKE_MAX_VALUE_BYTES + ((size_t)1 << 20), o->dictionary_bytes);
    core_buf_init(&x->payload, CORE_MEM_LAKE, body);
    core_buf_init(&x->comp, CORE_MEM_LAKE, body + body / 4 + 1024);
    core_buf_init(&x->header, CORE_MEM_LAKE, 1024);
    core_buf_init(&x->out, CORE_MEM_LAKE, OUT_CAP);
    /* a string adds at least 4 bytes to its row group, a number 8 */
    core_buf_init(&x->indices, CORE_MEM_LAKE, o->row_group_bytes + LAKE_MAX_VALUE_BYTES + 64);
    lake_dict_init(&x->dict, o->dictionary_bytes);
    lake_numdict_init(&x->ndict, 0);
}

void lake_ctx_fini(lake_ctx_t *x)
{
    ZSTD_freeCCtx(x->zstd);
    x->zstd = NULL;
    core_buf_fini(&x->payload);
    core_buf_fini(&x->comp);
    core_buf_fini(&x->header);
    core_buf_fini(&x->out);
    core_buf_fini(&x->indices);
    lake_dict_fini(&x->dict);
    lake_numdict_fini(&x->ndict);
}

/* ------------------------------------------------------------------------
 * Output
 * ------------------------------------------------------------------------ */

static int write_at(lake_ctx_t *x, const void *p, size_t n, int64_t off)
{
    if (core_pwrite_all(x->fd, p, n, off) != 0)
        return core_error(CORE_EIO, "lake: %s: writing %zu bytes at offset %lld: %s", x->path, n,
                          (long long)off, strerror(errno));
    return 0;
}

int lake_ctx_flush(lake_ctx_t *x)
{
    if (x->out.len == 0)
        return 0;
    int rc = write_at(x, x->out.data, x->out.len, x->pos - (int64_t)x->out.len);
    core_buf_reset(&x->out);
    return rc;
}

/* Appends n bytes to the file at x->pos (through x->out). */
static int emit(lake_ctx_t *x, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = 0;
    if (n > OUT_CAP - x->out.len)
        rc = lake_ctx_flush(x);
    if (rc == 0 && n > OUT_CAP / 2)
        rc = write_at(x, p, n, x->pos);
    else if (rc == 0)
        rc = core_buf_append(&x->out, p, n);
    if (rc == 0)
        x->pos += (int64_t)n;
    return rc;
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

/* Compresses body, serializes its PageHeader and emits both; *unc and
 * *stored get the page's sizes with its header. */
static int emit_page(lake_ctx_t *x, int type, const uint8_t *body, size_t n, uint32_t nvalues,
                     int encoding, int64_t *unc, int64_t *stored)
{
    const uint8_t *cp = NULL;
    size_t cn = 0;
    int rc = lake_compress(x, body, n, &cp, &cn);
    if (rc != 0)
        return rc;
    if (n > INT32_MAX || cn > INT32_MAX)
        return core_error(CORE_ETOOBIG, "lake: %s: page of %zu bytes is too large", x->path, n);
    core_buf_reset(&x->header);
    lake_thrift_t t;
    lake_thrift_init(&t, &x->header);
    lake_thrift_field_i32(&t, 1, type);
    lake_thrift_field_i32(&t, 2, (int32_t)n);
    lake_thrift_field_i32(&t, 3, (int32_t)cn);
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
    rc = lake_thrift_end(&t);
    if (rc == 0)
        rc = emit(x, x->header.data, x->header.len);
    if (rc == 0)
        rc = emit(x, cp, cn);
    *unc += (int64_t)(x->header.len + n);
    *stored += (int64_t)(x->header.len + cn);
    return rc;
}

/* ------------------------------------------------------------------------
 * One chunk's encoding state
 * ------------------------------------------------------------------------ */

typedef struct {
    const lake_col_t *c;
    const lake_colbuf_t *b;
    uint32_t rows;
    /* the dictionary: values [0, k) are encoded by their index */
    uint32_t k;
    uint32_t dict_count;
    unsigned width; /* bit width of the indices */
    size_t k_off;   /* byte offset of value k in b->values */
    /* the cursor: the next page starts at row `row`, value `value`, which
     * is at byte `off` of b->values */
    uint32_t row, value;
    size_t off;
    /* sizes of the pages emitted, headers included */
    int64_t unc, stored;
    uint32_t dict_pages, plain_pages;
    /* statistics of the non-null values */
    bool has_minmax;
    int64_t imin, imax; /* BOOL (0/1), INT64, TIMESTAMP */
    double dmin, dmax;
    const uint8_t *smin, *smax; /* borrowed from b or the dictionary */
    size_t sminn, smaxn;
    int64_t nan_count;
} chunk_t;

static bool is_number(lake_col_type_t t)
{
    return t == LAKE_COL_INT64 || t == LAKE_COL_DOUBLE || t == LAKE_COL_TIMESTAMP;
}

/* ------------------------------------------------------------------------
 * Statistics
 * ------------------------------------------------------------------------ */

/* Bounds of n 8-byte values; four lanes so that the compare chains of
 * neighbouring values overlap. */
static void minmax_i64(const uint8_t *v, uint32_t n, int64_t *min, int64_t *max)
{
    int64_t lo[4] = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
    int64_t hi[4] = {INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN};
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        for (int k = 0; k < 4; k++) {
            int64_t x = (int64_t)load_le64(v + 8 * ((size_t)i + (size_t)k));
            lo[k] = x < lo[k] ? x : lo[k];
            hi[k] = x > hi[k] ? x : hi[k];
        }
    }
    for (; i < n; i++) {
        int64_t x = (int64_t)load_le64(v + 8 * (size_t)i);
        lo[0] = x < lo[0] ? x : lo[0];
        hi[0] = x > hi[0] ? x : hi[0];
    }
    *min = CORE_MIN(CORE_MIN(lo[0], lo[1]), CORE_MIN(lo[2], lo[3]));
    *max = CORE_MAX(CORE_MAX(hi[0], hi[1]), CORE_MAX(hi[2], hi[3]));
}

static void stats_int(chunk_t *e)
{
    const uint8_t *v = e->b->values.data;
    uint32_t n = e->b->nvalues;
    e->has_minmax = n > 0;
    if (n == 0)
        return;
    if (e->c->type != LAKE_COL_BOOL) {
        minmax_i64(v, n, &e->imin, &e->imax);
        return;
    }
    uint8_t any = 0, all = 1;
    for (uint32_t i = 0; i < n; i++) {
        any |= v[i];
        all &= v[i];
    }
    e->imin = all;
    e->imax = any;
}

/* NaN is counted and skipped: it fails both comparisons. Which zero a
 * zero bound keeps does not matter, stat_value() writes -0.0 / +0.0. */
static void stats_double(chunk_t *e)
{
    const uint8_t *v = e->b->values.data;
    uint32_t n = e->b->nvalues, i = 0;
    double lo[4] = {INFINITY, INFINITY, INFINITY, INFINITY};
    double hi[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    int64_t nan = 0;
    for (; i < n; i++) {
        uint64_t bits = load_le64(v + 8 * (size_t)i);
        double d;
        memcpy(&d, &bits, sizeof d);
        nan += isnan(d) ? 1 : 0;
        lo[i & 3] = d < lo[i & 3] ? d : lo[i & 3];
        hi[i & 3] = d > hi[i & 3] ? d : hi[i & 3];
    }
    e->nan_count = nan;
    e->has_minmax = n > nan;
    e->dmin = fmin(fmin(lo[0], lo[1]), fmin(lo[2], lo[3]));
    e->dmax = fmax(fmax(hi[0], hi[1]), fmax(hi[2], hi[3]));
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

/* Folds the PLAIN strings in p[0..len) (length-prefixed) into the bounds. */
static void stats_strings(chunk_t *e, const uint8_t *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        size_t n = load_le32(p + off);
        const uint8_t *s = p + off + 4;
        off += 4 + n;
        if (!e->has_minmax) {
            e->has_minmax = true;
            e->smin = e->smax = s;
            e->sminn = e->smaxn = n;
            continue;
        }
        if (bytes_cmp(s, n, e->smin, e->sminn) < 0) {
            e->smin = s;
            e->sminn = n;
        }
        if (bytes_cmp(s, n, e->smax, e->smaxn) > 0) {
            e->smax = s;
            e->smaxn = n;
        }
    }
}

/* After the dictionary was chosen: dictionary-encoded strings through the
 * dictionary's entries (each distinct value once), the rest one by one. */
static void stats(chunk_t *e, const lake_ctx_t *x)
{
    const lake_colbuf_t *b = e->b;
    switch (e->c->type) {
    case LAKE_COL_BOOL:
    case LAKE_COL_INT64:
    case LAKE_COL_TIMESTAMP:
        stats_int(e);
        return;
    case LAKE_COL_DOUBLE:
        stats_double(e);
        return;
    case LAKE_COL_STRING:
        if (e->k > 0)
            stats_strings(e, x->dict.plain.data, x->dict.plain.len);
        stats_strings(e, byte_at(&b->values, e->k_off), b->values.len - e->k_off);
        return;
    }
}

/* ------------------------------------------------------------------------
 * Dictionaries
 * ------------------------------------------------------------------------ */

/* Strings: into the dictionary in order until one does not fit. */
static int dict_strings(chunk_t *e, lake_ctx_t *x)
{
    const lake_colbuf_t *b = e->b;
    lake_dict_reset(&x->dict);
    core_buf_reset(&x->indices);
    int rc = core_buf_reserve(&x->indices, (size_t)b->nvalues * sizeof(uint32_t));
    if (rc != 0)
        return rc;
    uint32_t *idx = (uint32_t *)(void *)x->indices.data;
    size_t off = 0;
    uint32_t i = 0;
    for (; i < b->nvalues; i++) {
        size_t n = load_le32(b->values.data + off);
        bool added;
        rc = lake_dict_put(&x->dict, b->values.data + off + 4, n, &idx[i], &added);
        if (rc < 0)
            return rc;
        if (rc == LAKE_DICT_FULL)
            break;
        off += 4 + n;
    }
    e->k = i;
    e->k_off = off;
    e->dict_count = x->dict.count;
    return 0;
}

/* Numbers: a dictionary for the whole chunk, or none. */
static int dict_numbers(chunk_t *e, lake_ctx_t *x)
{
    const lake_colbuf_t *b = e->b;
    uint32_t max = (uint32_t)CORE_MIN(b->nvalues / 4, x->dict_bytes / 8);
    lake_numdict_reset(&x->ndict, max);
    if (max == 0)
        return 0;
    core_buf_reset(&x->indices);
    int rc = core_buf_reserve(&x->indices, (size_t)b->nvalues * sizeof(uint32_t));
    if (rc != 0)
        return rc;
    uint32_t *idx = (uint32_t *)(void *)x->indices.data;
    for (uint32_t i = 0; i < b->nvalues; i++) {
        rc = lake_numdict_put(&x->ndict, load_le64(b->values.data + 8 * (size_t)i), &idx[i]);
        if (rc < 0)
            return rc;
        if (rc == LAKE_DICT_FULL)
            return 0; /* too many distinct values: PLAIN */
    }
    e->k = b->nvalues;
    e->k_off = b->values.len;
    e->dict_count = x->ndict.count;
    return 0;
}

static int choose_dictionary(chunk_t *e, lake_ctx_t *x)
{
    int rc = 0;
    if (e->c->dictionary && e->c->type == LAKE_COL_STRING)
        rc = dict_strings(e, x);
    else if (e->c->dictionary && is_number(e->c->type))
        rc = dict_numbers(e, x);
    if (rc == 0 && e->k > 0) {
        unsigned w = lake_bit_width(e->dict_count - 1);
        e->width = w == 0 ? 1 : w;
    }
    return rc;
}

/* The dictionary page: the entries PLAIN. */
static int dict_page(chunk_t *e, lake_ctx_t *x)
{
    if (e->c->type == LAKE_COL_STRING)
        return emit_page(x, LAKE_PAGE_DICTIONARY, x->dict.plain.data, x->dict.plain.len,
                         e->dict_count, LAKE_ENC_PLAIN, &e->unc, &e->stored);
    const uint8_t *body = (const uint8_t *)x->ndict.keys;
    size_t n = (size_t)e->dict_count * 8;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    core_buf_reset(&x->payload);
    int rc = core_buf_reserve(&x->payload, n);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < e->dict_count; i++)
        lake_store_le64(x->payload.data + 8 * (size_t)i, x->ndict.keys[i]);
    body = x->payload.data;
#endif
    return emit_page(x, LAKE_PAGE_DICTIONARY, body, n, e->dict_count, LAKE_ENC_PLAIN, &e->unc,
                     &e->stored);
}

/* ------------------------------------------------------------------------
 * Data pages
 * ------------------------------------------------------------------------ */

typedef struct {
    uint32_t rows, values;
    size_t bytes; /* the values' bytes in b->values (strings: only for
                   * PLAIN pages) */
    bool dict;    /* RLE_DICTIONARY */
} page_t;

/* Bytes one added value takes in b->values (not strings). */
static size_t raw_width(lake_col_type_t t)
{
    return t == LAKE_COL_BOOL ? 1 : 8;
}

/* Bits one value takes in a page's size estimate (fixed-width values). */
static size_t value_bits(const chunk_t *e, bool dict)
{
    if (dict)
        return e->width;
    return e->c->type == LAKE_COL_BOOL ? 1 : 64;
}

/* The estimate the page closes on: levels at one bit per row (with their
 * length prefix), a dictionary page's indices at the chunk's bit width
 * (with the bit width byte), PLAIN values at their size. */
static size_t estimate(const chunk_t *e, const page_t *p)
{
    size_t n = e->c->optional ? 4 + p->rows / 8 : 0;
    if (p->dict)
        return n + 1 + ((size_t)p->values * e->width + 7) / 8;
    if (e->c->type == LAKE_COL_STRING)
        return n + p->bytes;
    return n + ((size_t)p->values * value_bits(e, false) + 7) / 8;
}

/* REQUIRED fixed-width values: the smallest count whose estimate reaches
 * page_bytes, without walking them. */
static uint32_t fixed_count(const chunk_t *e, bool dict, size_t page_bytes, uint32_t left)
{
    size_t bits = value_bits(e, dict), base = dict ? 1 : 0;
    size_t n = 1;
    if (base + (bits + 7) / 8 < page_bytes) {
        size_t target = page_bytes - base; /* ceil(n * bits / 8) >= target */
        n = (8 * (target - 1)) / bits + 1;
    }
    n = CORE_MIN(n, (size_t)LAKE_PAGE_MAX_VALUES);
    return (uint32_t)CORE_MIN(n, (size_t)left);
}

/* Where the next page ends. A dictionary page stops before value k. */
static void next_page(const chunk_t *e, const lake_ctx_t *x, page_t *p)
{
    const lake_colbuf_t *b = e->b;
    memset(p, 0, sizeof *p);
    p->dict = e->value < e->k;
    uint32_t vend = p->dict ? e->k : b->nvalues;
    if (!e->c->optional && e->c->type != LAKE_COL_STRING) {
        p->rows = p->values = fixed_count(e, p->dict, x->page_bytes, vend - e->value);
        p->bytes = (size_t)p->values * raw_width(e->c->type);
        return;
    }
    const uint8_t *lv = e->c->optional ? b->levels.data : NULL;
    bool walk = e->c->type == LAKE_COL_STRING && !p->dict;
    size_t off = e->off;
    for (uint32_t r = e->row; r < e->rows;) {
        if (lv == NULL || lv[r]) {
            if (e->value + p->values >= vend)
                break;
            if (walk) {
                size_t n = 4 + (size_t)load_le32(b->values.data + off);
                off += n;
                p->bytes += n;
            }
            p->values++;
        }
        r++;
        p->rows++;
        if (p->rows >= LAKE_PAGE_MAX_VALUES || estimate(e, p) >= x->page_bytes)
            break;
    }
    if (e->c->type != LAKE_COL_STRING)
        p->bytes = (size_t)p->values * raw_width(e->c->type);
}

/* The page's body; *body points into x->payload or, for a REQUIRED PLAIN
 * column other than BOOL, straight at the added values. */
static int page_body(const chunk_t *e, lake_ctx_t *x, const page_t *p, const uint8_t **body,
                     size_t *n)
{
    const lake_colbuf_t *b = e->b;
    const uint8_t *vals = byte_at(&b->values, e->off);
    bool dict = p->dict && p->values > 0;
    if (!e->c->optional && !dict && e->c->type != LAKE_COL_BOOL) {
        *body = vals;
        *n = p->bytes;
        return 0;
    }
    core_buf_t *out = &x->payload;
    core_buf_reset(out);
    int rc = 0;
    if (e->c->optional) {
        uint8_t len[4] = {0};
        rc = core_buf_append(out, len, 4);
        if (rc == 0)
            rc = lake_rle_encode(out, b->levels.data + e->row, 1, p->rows, 1);
        if (rc != 0)
            return rc;
        lake_store_le32(out->data, (uint32_t)(out->len - 4));
    }
    if (dict) {
        const uint32_t *idx = (const uint32_t *)(const void *)x->indices.data + e->value;
        rc = core_buf_append_u8(out, (uint8_t)e->width);
        if (rc == 0)
            rc = lake_rle_encode(out, idx, 4, p->values, e->width);
    } else if (e->c->type == LAKE_COL_BOOL) {
        size_t nb = ((size_t)p->values + 7) / 8;
        rc = core_buf_reserve(out, nb);
        if (rc == 0) {
            uint8_t *d = out->data + out->len;
            memset(d, 0, nb);
            for (uint32_t i = 0; i < p->values; i++)
                d[i / 8] |= (uint8_t)((vals[i] & 1u) << (i % 8));
            out->len += nb;
        }
    } else if (p->bytes > 0) {
        rc = core_buf_append(out, vals, p->bytes);
    }
    *body = out->data;
    *n = out->len;
    return rc;
}

static int data_page(chunk_t *e, lake_ctx_t *x)
{
    page_t p;
    next_page(e, x, &p);
    const uint8_t *body;
    size_t n;
    int rc = page_body(e, x, &p, &body, &n);
    bool dict = p.dict && p.values > 0;
    if (rc == 0)
        rc = emit_page(x, LAKE_PAGE_DATA, body, n, p.rows,
                       dict ? LAKE_ENC_RLE_DICTIONARY : LAKE_ENC_PLAIN, &e->unc, &e->stored);
    if (rc != 0)
        return rc;
    if (dict)
        e->dict_pages++;
    else
        e->plain_pages++;
    e->row += p.rows;
    e->value += p.values;
    e->off = p.dict ? (e->value == e->k ? e->k_off : e->off) : e->off + p.bytes;
    return 0;
}

/* ------------------------------------------------------------------------
 * The ColumnChunk
 * ------------------------------------------------------------------------ */

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
static void stat_value(lake_thrift_t *t, int16_t id, const chunk_t *e, bool max)
{
    uint8_t b[8];
    double d;
    uint64_t bits;
    switch (e->c->type) {
    case LAKE_COL_BOOL:
        b[0] = (uint8_t)(max ? e->imax : e->imin);
        lake_thrift_field_binary(t, id, b, 1);
        return;
    case LAKE_COL_DOUBLE:
        /* A zero bound is written as -0.0 (min) or +0.0 (max). */
        d = max ? e->dmax : e->dmin;
        if (d == 0)
            d = max ? 0.0 : -0.0;
        memcpy(&bits, &d, sizeof bits);
        lake_store_le64(b, bits);
        lake_thrift_field_binary(t, id, b, 8);
        return;
    case LAKE_COL_STRING:
        if (max)
            lake_thrift_field_binary(t, id, e->smax, e->smaxn);
        else
            lake_thrift_field_binary(t, id, e->smin, e->sminn);
        return;
    default:
        lake_store_le64(b, (uint64_t)(max ? e->imax : e->imin));
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
static void write_stats(lake_thrift_t *t, const chunk_t *e)
{
    lake_col_type_t type = e->c->type;
    bool minmax = e->has_minmax;
    if (type == LAKE_COL_STRING &&
        (e->sminn > LAKE_STATS_MAX_BYTES || e->smaxn > LAKE_STATS_MAX_BYTES))
        minmax = false;
    if (type == LAKE_COL_DOUBLE && e->nan_count > 0)
        minmax = false;
    lake_thrift_field_struct(t, 12);
    if (minmax && type != LAKE_COL_STRING) {
        stat_value(t, 1, e, true);
        stat_value(t, 2, e, false);
    }
    lake_thrift_field_i64(t, 3, (int64_t)e->rows - e->b->nvalues);
    if (minmax) {
        stat_value(t, 5, e, true);
        stat_value(t, 6, e, false);
        lake_thrift_field_bool(t, 7, true);
        lake_thrift_field_bool(t, 8, true);
    }
    if (type == LAKE_COL_DOUBLE)
        lake_thrift_field_i64(t, 9, e->nan_count);
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
static void write_meta(lake_thrift_t *t, const chunk_t *e, const lake_ctx_t *x, int64_t dict_off,
                       int64_t data_off)
{
    const lake_col_t *c = e->c;
    bool dict = e->dict_pages > 0;
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
    lake_thrift_field_i64(t, 5, e->rows);
    lake_thrift_field_i64(t, 6, e->unc);
    lake_thrift_field_i64(t, 7, e->stored);
    lake_thrift_field_i64(t, 9, data_off);
    if (dict)
        lake_thrift_field_i64(t, 11, dict_off);
    write_stats(t, e);
    lake_thrift_field_list(t, 13, LAKE_CT_STRUCT,
                           (dict ? 2u : 0u) + (e->plain_pages > 0 ? 1u : 0u));
    if (dict) {
        page_stats(t, LAKE_PAGE_DICTIONARY, LAKE_ENC_PLAIN, 1);
        page_stats(t, LAKE_PAGE_DATA, LAKE_ENC_RLE_DICTIONARY, e->dict_pages);
    }
    if (e->plain_pages > 0)
        page_stats(t, LAKE_PAGE_DATA, LAKE_ENC_PLAIN, e->plain_pages);
    lake_thrift_struct_end(t); /* ColumnMetaData */
    lake_thrift_struct_end(t); /* ColumnChunk */
}

int lake_chunk_encode(const lake_col_t *c, const lake_colbuf_t *b, uint32_t rows, lake_ctx_t *x,
                      lake_thrift_t *t, int64_t *unc, int64_t *comp)
{
    chunk_t e = {.c = c, .b = b, .rows = rows};
    int rc = choose_dictionary(&e, x);
    if (rc != 0)
        return rc;
    stats(&e, x);
    int64_t dict_off = x->pos;
    if (e.k > 0)
        rc = dict_page(&e, x);
    int64_t data_off = x->pos;
    while (rc == 0 && e.row < rows) {
        if (x->cancel != NULL && atomic_load_explicit(x->cancel, memory_order_relaxed))
            return core_error(CORE_ECLOSED, "lake: %s: the writer was aborted", x->path);
        rc = data_page(&e, x);
    }
    if (rc != 0)
        return rc;
    write_meta(t, &e, x, dict_off, data_off);
    *unc += e.unc;
    *comp += e.stored;
    return t->rc;
}
