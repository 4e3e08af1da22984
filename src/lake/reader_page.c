/*
 * reader_page.c - one column chunk of a row group, decoded: page headers,
 * decompression, definition levels, and values (PLAIN, dictionary pages
 * with PLAIN_DICTIONARY / RLE_DICTIONARY data pages, RLE booleans).
 *
 * A chunk is [dictionary page] data pages (data page v1). The values of a
 * row group's column land in arrays with one slot per row: `defined` (not
 * null) and the value (int64 for BOOL, INT64 and TIMESTAMP in
 * microseconds; double; or the offset and length of a string in `str`).
 * Dictionary entries are decoded once (strings into `str`, which rows then
 * share).
 *
 * Input is outside bytes. Every count is checked against the row group's
 * rows and max_page_values before anything is sized by it; sizes against
 * what is left of the page and max_page_bytes; decompressed sizes must be
 * exactly what the header declares; dictionary indices against the
 * dictionary; strings against max_value_bytes and UTF-8; the values'
 * memory against max_group_bytes.
 *
 * Threading: the reader's thread.
 */
#include <snappy-c.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#include "lake/read_int.h"

#define WHAT_CAP 4400

void lake_rd_ctx_init(lake_rd_ctx_t *x, const lake_read_limits_t *lim)
{
    memset(x, 0, sizeof *x);
    x->lim = lim;
    core_buf_init(&x->page, CORE_MEM_LAKE, lim->max_page_bytes);
    core_buf_init(&x->indices, CORE_MEM_LAKE, (size_t)lim->max_page_values * sizeof(uint32_t));
    core_buf_init(&x->dict, CORE_MEM_LAKE, (size_t)lim->max_page_values * 2 * sizeof(size_t));
}

void lake_rd_ctx_fini(lake_rd_ctx_t *x)
{
    core_buf_fini(&x->page);
    core_buf_fini(&x->indices);
    core_buf_fini(&x->dict);
    ZSTD_freeDCtx(x->zstd);
    x->zstd = NULL;
}

void lake_rd_values_fini(lake_rd_values_t *v)
{
    core_free(v->defined);
    core_free(v->i);
    core_free(v->d);
    core_free(v->soff);
    core_free(v->slen);
    if (v->ready)
        core_buf_fini(&v->str);
    memset(v, 0, sizeof *v);
}

int lake_rd_timestamp(const lake_rd_column_t *c, int64_t raw, int64_t *us)
{
    if (c->ts_mul > 1) {
        if (raw > INT64_MAX / c->ts_mul || raw < INT64_MIN / c->ts_mul)
            return CORE_ERANGE;
        *us = raw * c->ts_mul;
    } else if (c->ts_div > 1) {
        int64_t q = raw / c->ts_div;
        *us = raw % c->ts_div < 0 ? q - 1 : q;
    } else {
        *us = raw;
    }
    return 0;
}

static int fail(const lake_rd_where_t *w, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(const lake_rd_where_t *w, int code, const char *fmt, ...)
{
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return core_error(code, "lake: %s: row group %zu, column %s, page %zu: %s", w->path, w->group,
                      w->column, w->page, why);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return (int64_t)v;
}

/* ------------------------------------------------------------------------
 * The RLE / bit-packed hybrid
 * ------------------------------------------------------------------------ */

/* Unpacks need values of bw bits (least significant bit first) from p. */
static void unpack(const uint8_t *p, unsigned bw, uint32_t *out, size_t need)
{
    uint64_t acc = 0, mask = bw == 32 ? 0xffffffffu : ((uint64_t)1 << bw) - 1;
    unsigned nb = 0;
    for (size_t k = 0; k < need; k++) {
        while (nb < bw) {
            acc |= (uint64_t)*p++ << nb;
            nb += 8;
        }
        out[k] = (uint32_t)(acc & mask);
        acc >>= bw;
        nb -= bw;
    }
}

/* Decodes n values of bit width bw (0..32) from p[0..len) into out. A
 * bit-packed run may end early when it holds the last values (writers
 * pad or cut the final group). */
static int hybrid(const uint8_t *p, size_t len, unsigned bw, uint32_t *out, size_t n,
                  const lake_rd_where_t *w)
{
    size_t pos = 0, i = 0;
    unsigned vbytes = (bw + 7) / 8;
    while (i < n) {
        uint64_t h;
        int used = core_uvarint_get(p + pos, len - pos, &h);
        if (used <= 0)
            return fail(w, CORE_ECORRUPT, "RLE/bit-packed runs end after %zu of %zu values", i, n);
        pos += (size_t)used;
        if ((h & 1) == 0) {
            uint64_t run = h >> 1;
            if (vbytes > len - pos)
                return fail(w, CORE_ECORRUPT, "an RLE run is truncated");
            uint32_t v = 0;
            for (unsigned b = 0; b < vbytes; b++)
                v |= (uint32_t)p[pos + b] << (8 * b);
            pos += vbytes;
            if (bw < 32 && (v >> bw) != 0)
                return fail(w, CORE_ECORRUPT, "an RLE value %u is wider than %u bits", v, bw);
            size_t take = (size_t)CORE_MIN(run, (uint64_t)(n - i));
            for (size_t k = 0; k < take; k++)
                out[i + k] = v;
            i += take;
            continue;
        }
        uint64_t groups = h >> 1;
        if (groups > ((uint64_t)1 << 40))
            return fail(w, CORE_ECORRUPT, "a bit-packed run of %llu groups",
                        (unsigned long long)groups);
        size_t need = (size_t)CORE_MIN(groups * 8, (uint64_t)(n - i));
        size_t bytes = (size_t)((groups * 8 * bw + 7) / 8);
        size_t avail = len - pos;
        if ((need * bw + 7) / 8 > avail)
            return fail(w, CORE_ECORRUPT, "a bit-packed run is truncated");
        unpack(p + pos, bw, out + i, need);
        i += need;
        pos += CORE_MIN(bytes, avail);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

/* Where decoded values go: one slot per value (dictionary) or per row with
 * `defs` saying which slots take a value (data pages). */
typedef struct {
    const uint8_t *defs; /* NULL: every slot */
    size_t slots;
    int64_t *i;
    double *d;
    size_t *soff, *slen;
    core_buf_t *str;
    size_t str_budget; /* bytes str may hold in all */
} sink_t;

static int plain_string(const lake_rd_ctx_t *x, sink_t *s, size_t k, const uint8_t *p, size_t len,
                        size_t *pos, const lake_rd_where_t *w)
{
    if (len - *pos < 4)
        return fail(w, CORE_ECORRUPT, "PLAIN values end early");
    uint32_t n = le32(p + *pos);
    *pos += 4;
    if (n > len - *pos)
        return fail(w, CORE_ECORRUPT, "a string of %u bytes with %zu left", n, len - *pos);
    if (n > x->lim->max_value_bytes)
        return fail(w, CORE_ETOOBIG, "a string of %u bytes is above the cap of %zu", n,
                    x->lim->max_value_bytes);
    if (!core_utf8_valid(p + *pos, n))
        return fail(w, CORE_ECORRUPT, "a string value is not valid UTF-8");
    if (s->str->len + n > s->str_budget)
        return fail(w, CORE_ETOOBIG, "the row group's values pass the cap of %zu bytes",
                    x->lim->max_group_bytes);
    s->soff[k] = s->str->len;
    s->slen[k] = n;
    int rc = n > 0 ? core_buf_append(s->str, p + *pos, n) : 0;
    *pos += n;
    return rc;
}

static int plain_value(const lake_rd_ctx_t *x, const lake_rd_column_t *col, sink_t *s, size_t k,
                       const uint8_t *p, size_t len, size_t *pos, size_t nth,
                       const lake_rd_where_t *w)
{
    uint64_t bits;
    switch (col->type) {
    case LAKE_COL_BOOL:
        if (nth / 8 >= len)
            return fail(w, CORE_ECORRUPT, "PLAIN booleans end early");
        s->i[k] = (p[nth / 8] >> (nth % 8)) & 1;
        *pos = nth / 8 + 1;
        return 0;
    case LAKE_COL_INT64:
    case LAKE_COL_TIMESTAMP:
    case LAKE_COL_DOUBLE:
        if (len - *pos < 8)
            return fail(w, CORE_ECORRUPT, "PLAIN values end early");
        bits = (uint64_t)le64(p + *pos);
        *pos += 8;
        if (col->type == LAKE_COL_DOUBLE)
            memcpy(&s->d[k], &bits, sizeof bits);
        else if (col->type == LAKE_COL_INT64)
            s->i[k] = (int64_t)bits;
        else if (lake_rd_timestamp(col, (int64_t)bits, &s->i[k]) != 0)
            return fail(w, CORE_ERANGE, "a timestamp is out of range");
        return 0;
    case LAKE_COL_STRING:
        return plain_string(x, s, k, p, len, pos, w);
    }
    return fail(w, CORE_EINVAL, "unknown column type");
}

/* PLAIN values into the defined slots of s. */
static int plain(const lake_rd_ctx_t *x, const lake_rd_column_t *col, sink_t *s, const uint8_t *p,
                 size_t len, const lake_rd_where_t *w)
{
    size_t pos = 0, nth = 0;
    for (size_t k = 0; k < s->slots; k++) {
        if (s->defs != NULL && !s->defs[k])
            continue;
        int rc = plain_value(x, col, s, k, p, len, &pos, nth++, w);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Indices (a bit-width byte, then the hybrid) into the defined slots. */
static int dict_values(lake_rd_ctx_t *x, const lake_rd_column_t *col, sink_t *s, size_t nonnull,
                       const uint8_t *p, size_t len, const lake_rd_where_t *w)
{
    if (len < 1)
        return fail(w, CORE_ECORRUPT, "dictionary indices without a bit width");
    unsigned bw = p[0];
    if (bw > 32)
        return fail(w, CORE_ECORRUPT, "dictionary index bit width %u", bw);
    core_buf_reset(&x->indices);
    int rc = core_buf_reserve(&x->indices, nonnull * sizeof(uint32_t) + 1);
    if (rc != 0)
        return rc;
    uint32_t *idx = (uint32_t *)(void *)x->indices.data;
    rc = hybrid(p + 1, len - 1, bw, idx, nonnull, w);
    const int64_t *di = (const int64_t *)(const void *)x->dict.data;
    const double *dd = (const double *)(const void *)x->dict.data;
    const size_t *ds = (const size_t *)(const void *)x->dict.data;
    size_t j = 0;
    for (size_t k = 0; rc == 0 && k < s->slots; k++) {
        if (s->defs != NULL && !s->defs[k])
            continue;
        uint32_t e = idx[j++];
        if (e >= x->dict_count)
            return fail(w, CORE_ECORRUPT, "dictionary index %u of %u entries", e, x->dict_count);
        if (col->type == LAKE_COL_DOUBLE)
            s->d[k] = dd[e];
        else if (col->type == LAKE_COL_STRING) {
            s->soff[k] = ds[2 * e];
            s->slen[k] = ds[2 * e + 1];
        } else
            s->i[k] = di[e];
    }
    return rc;
}

/* RLE-encoded booleans: a 4-byte length, then the hybrid of width 1. */
static int rle_bools(lake_rd_ctx_t *x, sink_t *s, size_t nonnull, const uint8_t *p, size_t len,
                     const lake_rd_where_t *w)
{
    if (len < 4 || le32(p) > len - 4)
        return fail(w, CORE_ECORRUPT, "RLE booleans with a bad length");
    core_buf_reset(&x->indices);
    int rc = core_buf_reserve(&x->indices, nonnull * sizeof(uint32_t) + 1);
    if (rc != 0)
        return rc;
    uint32_t *v = (uint32_t *)(void *)x->indices.data;
    rc = hybrid(p + 4, le32(p), 1, v, nonnull, w);
    size_t j = 0;
    for (size_t k = 0; rc == 0 && k < s->slots; k++)
        if (s->defs == NULL || s->defs[k])
            s->i[k] = v[j++];
    return rc;
}

/* ------------------------------------------------------------------------
 * Pages
 * ------------------------------------------------------------------------ */

typedef struct {
    int32_t type, unc, comp;
    int32_t nvalues, encoding, def_enc;
    bool has_data, has_dict;
} page_hdr_t;

static int sub_header(lake_tr_t *t, page_hdr_t *h, bool dict)
{
    int16_t id;
    int type, rc = lake_tr_enter(t);
    while (rc == 0 && (rc = lake_tr_field(t, &id, &type)) == 1) {
        if (id == 1)
            rc = lake_tr_i32(t, type, &h->nvalues);
        else if (id == 2)
            rc = lake_tr_i32(t, type, &h->encoding);
        else if (id == 3 && !dict)
            rc = lake_tr_i32(t, type, &h->def_enc);
        else
            rc = lake_tr_skip(t, type);
    }
    lake_tr_leave(t);
    return rc < 0 ? rc : 0;
}

static int page_header(lake_tr_t *t, page_hdr_t *h)
{
    memset(h, 0, sizeof *h);
    h->type = h->unc = h->comp = -1;
    h->def_enc = 3; /* RLE, should a writer leave it out */
    int16_t id;
    int type, rc;
    while ((rc = lake_tr_field(t, &id, &type)) == 1) {
        if (id == 1)
            rc = lake_tr_i32(t, type, &h->type);
        else if (id == 2)
            rc = lake_tr_i32(t, type, &h->unc);
        else if (id == 3)
            rc = lake_tr_i32(t, type, &h->comp);
        else if ((id == 5 || id == 7) && type == LAKE_TR_STRUCT) {
            rc = sub_header(t, h, id == 7);
            h->has_data |= id == 5;
            h->has_dict |= id == 7;
        } else
            rc = lake_tr_skip(t, type);
        if (rc != 0)
            break;
    }
    return rc < 0 ? rc : 0;
}

static const char *encoding_name(int32_t e)
{
    static const char *const names[] = {
        "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
        "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return e >= 0 && (size_t)e < CORE_ARRAY_LEN(names) ? names[e] : "unknown";
}

static const char *codec_name(int32_t c)
{
    static const char *const names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                        "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
    return c >= 0 && (size_t)c < CORE_ARRAY_LEN(names) ? names[c] : "unknown";
}

/* The page body, decompressed: *out points into x->page or at body. */
static int decompress(lake_rd_ctx_t *x, int32_t codec, const uint8_t *body, size_t comp, size_t unc,
                      const uint8_t **out, const lake_rd_where_t *w)
{
    if (codec == LAKE_RD_CODEC_NONE) {
        if (comp != unc)
            return fail(w, CORE_ECORRUPT, "uncompressed page of %zu bytes declares %zu", comp, unc);
        *out = body;
        return 0;
    }
    if (codec != LAKE_RD_CODEC_SNAPPY && codec != LAKE_RD_CODEC_ZSTD)
        return fail(w, CORE_EUNSUPP, "codec %s (%d) is not read (UNCOMPRESSED, SNAPPY, ZSTD are)",
                    codec_name(codec), (int)codec);
    core_buf_reset(&x->page);
    int rc = core_buf_reserve(&x->page, unc + 1);
    if (rc != 0)
        return rc;
    size_t got = unc;
    if (codec == LAKE_RD_CODEC_SNAPPY) {
        size_t claim = 0;
        if (snappy_uncompressed_length((const char *)body, comp, &claim) != SNAPPY_OK ||
            claim != unc ||
            snappy_uncompress((const char *)body, comp, (char *)x->page.data, &got) != SNAPPY_OK ||
            got != unc)
            return fail(w, CORE_ECORRUPT, "snappy page does not decompress to %zu bytes", unc);
    } else {
        if (x->zstd == NULL && (x->zstd = ZSTD_createDCtx()) == NULL)
            return core_error(CORE_ENOMEM, "lake: out of memory for a zstd context");
        got = ZSTD_decompressDCtx(x->zstd, x->page.data, unc, body, comp);
        if (ZSTD_isError(got) || got != unc)
            return fail(w, CORE_ECORRUPT, "zstd page does not decompress to %zu bytes%s%s", unc,
                        ZSTD_isError(got) ? ": " : "",
                        ZSTD_isError(got) ? ZSTD_getErrorName(got) : "");
    }
    *out = x->page.data;
    return 0;
}

static int dict_page(lake_rd_ctx_t *x, const lake_rd_column_t *col, lake_rd_values_t *v,
                     const page_hdr_t *h, const uint8_t *p, size_t len, size_t budget,
                     const lake_rd_where_t *w)
{
    if (h->encoding != LAKE_RD_ENC_PLAIN && h->encoding != LAKE_RD_ENC_PLAIN_DICTIONARY)
        return fail(w, CORE_EUNSUPP, "a dictionary page encoded %s (%d)",
                    encoding_name(h->encoding), (int)h->encoding);
    if (h->nvalues < 0 || (uint32_t)h->nvalues > x->lim->max_page_values)
        return fail(w, h->nvalues < 0 ? CORE_ECORRUPT : CORE_ETOOBIG,
                    "a dictionary of %d entries (cap %u)", (int)h->nvalues,
                    x->lim->max_page_values);
    size_t n = (size_t)h->nvalues;
    core_buf_reset(&x->dict);
    int rc = core_buf_reserve(&x->dict, n * 2 * sizeof(size_t) + 1);
    if (rc != 0)
        return rc;
    size_t *pairs = (size_t *)(void *)x->dict.data;
    sink_t s = {
        .slots = n,
        .i = (int64_t *)(void *)x->dict.data,
        .d = (double *)(void *)x->dict.data,
        .str = &v->str,
        .str_budget = budget,
    };
    if (col->type == LAKE_COL_STRING) {
        /* entry k: its offset in the values' bytes at pairs[2k], its length
         * at pairs[2k + 1] */
        size_t pos = 0, off = 0, slen = 0;
        s.soff = &off;
        s.slen = &slen;
        s.slots = 1;
        for (size_t k = 0; rc == 0 && k < n; k++) {
            rc = plain_string(x, &s, 0, p, len, &pos, w);
            pairs[2 * k] = off;
            pairs[2 * k + 1] = slen;
        }
    } else {
        rc = plain(x, col, &s, p, len, w);
    }
    x->dict_count = (uint32_t)n;
    return rc;
}

static int levels(lake_rd_ctx_t *x, const page_hdr_t *h, const uint8_t *p, size_t len,
                  uint8_t *defs, size_t n, size_t *used, size_t *nonnull, const lake_rd_where_t *w)
{
    if (h->def_enc != LAKE_RD_ENC_RLE)
        return fail(w, CORE_EUNSUPP, "definition levels encoded %s (%d) (RLE is read)",
                    encoding_name(h->def_enc), (int)h->def_enc);
    if (len < 4 || le32(p) > len - 4)
        return fail(w, CORE_ECORRUPT, "definition levels with a bad length");
    core_buf_reset(&x->indices);
    int rc = core_buf_reserve(&x->indices, n * sizeof(uint32_t) + 1);
    if (rc != 0)
        return rc;
    uint32_t *lv = (uint32_t *)(void *)x->indices.data;
    rc = hybrid(p + 4, le32(p), 1, lv, n, w);
    *nonnull = 0;
    for (size_t k = 0; rc == 0 && k < n; k++) {
        defs[k] = (uint8_t)lv[k];
        *nonnull += lv[k];
    }
    *used = 4 + le32(p);
    return rc;
}

static int data_page(lake_rd_ctx_t *x, const lake_rd_column_t *col, lake_rd_values_t *v,
                     const page_hdr_t *h, const uint8_t *p, size_t len, int64_t at, int64_t rows,
                     size_t budget, const lake_rd_where_t *w)
{
    if (h->nvalues < 0 || h->nvalues > rows - at)
        return fail(w, CORE_ECORRUPT, "a page of %d values where %lld rows remain", (int)h->nvalues,
                    (long long)(rows - at));
    if ((uint32_t)h->nvalues > x->lim->max_page_values)
        return fail(w, CORE_ETOOBIG, "a page of %d values is above the cap of %u", (int)h->nvalues,
                    x->lim->max_page_values);
    size_t n = (size_t)h->nvalues, used = 0, nonnull = n;
    uint8_t *defs = v->defined + at;
    int rc = 0;
    if (col->optional)
        rc = levels(x, h, p, len, defs, n, &used, &nonnull, w);
    else
        memset(defs, 1, n);
    if (rc != 0)
        return rc;
    sink_t s = {
        .defs = defs,
        .slots = n,
        .i = v->i != NULL ? v->i + at : NULL,
        .d = v->d != NULL ? v->d + at : NULL,
        .soff = v->soff != NULL ? v->soff + at : NULL,
        .slen = v->slen != NULL ? v->slen + at : NULL,
        .str = &v->str,
        .str_budget = budget,
    };
    for (size_t k = 0; k < n; k++) { /* nulls read as zero */
        if (defs[k])
            continue;
        if (s.i != NULL)
            s.i[k] = 0;
        if (s.d != NULL)
            s.d[k] = 0;
        if (s.slen != NULL)
            s.soff[k] = s.slen[k] = 0;
    }
    p += used;
    len -= used;
    switch (h->encoding) {
    case LAKE_RD_ENC_PLAIN:
        return plain(x, col, &s, p, len, w);
    case LAKE_RD_ENC_PLAIN_DICTIONARY:
    case LAKE_RD_ENC_RLE_DICTIONARY:
        if (x->dict_count == 0 && nonnull > 0)
            return fail(w, CORE_ECORRUPT, "dictionary-encoded values without a dictionary");
        return nonnull > 0 ? dict_values(x, col, &s, nonnull, p, len, w) : 0;
    case LAKE_RD_ENC_RLE:
        if (col->type == LAKE_COL_BOOL)
            return rle_bools(x, &s, nonnull, p, len, w);
        break;
    default:
        break;
    }
    return fail(w, CORE_EUNSUPP,
                "values encoded %s (%d) are not read (PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY, "
                "RLE for booleans are)",
                encoding_name(h->encoding), (int)h->encoding);
}

/* Sizes v's arrays for rows rows and charges them to the row group. */
static int prepare(lake_rd_ctx_t *x, const lake_rd_column_t *col, lake_rd_values_t *v, int64_t rows,
                   const lake_rd_where_t *w)
{
    size_t per_row = 1 + (col->type == LAKE_COL_STRING ? 2 * sizeof(size_t) : 8);
    size_t left = x->lim->max_group_bytes - CORE_MIN(x->used, x->lim->max_group_bytes);
    if (rows < 0 || (uint64_t)rows > left / per_row)
        return fail(w, CORE_ETOOBIG, "%lld rows pass the cap of %zu bytes per row group",
                    (long long)rows, x->lim->max_group_bytes);
    x->used += (size_t)rows * per_row;
    if (!v->ready) {
        core_buf_init(&v->str, CORE_MEM_LAKE, x->lim->max_group_bytes);
        v->ready = true;
    }
    core_buf_reset(&v->str);
    v->loaded = false;
    if ((size_t)rows <= v->rows_cap && v->defined != NULL)
        return 0;
    size_t n = (size_t)rows + 1;
    lake_rd_values_t fresh = *v;
    fresh.defined = core_realloc(CORE_MEM_LAKE, v->defined, n);
    if (fresh.defined != NULL)
        v->defined = fresh.defined;
    bool ok = fresh.defined != NULL;
    if (ok && col->type == LAKE_COL_STRING) {
        size_t *a = core_realloc(CORE_MEM_LAKE, v->soff, n * sizeof *a);
        if (a != NULL)
            v->soff = a;
        size_t *b = a != NULL ? core_realloc(CORE_MEM_LAKE, v->slen, n * sizeof *b) : NULL;
        if (b != NULL)
            v->slen = b;
        ok = a != NULL && b != NULL;
    } else if (ok && col->type == LAKE_COL_DOUBLE) {
        double *d = core_realloc(CORE_MEM_LAKE, v->d, n * sizeof *d);
        if (d != NULL)
            v->d = d;
        ok = d != NULL;
    } else if (ok) {
        int64_t *i = core_realloc(CORE_MEM_LAKE, v->i, n * sizeof *i);
        if (i != NULL)
            v->i = i;
        ok = i != NULL;
    }
    if (!ok)
        return core_error(CORE_ENOMEM, "lake: out of memory for %lld rows of %s", (long long)rows,
                          w->column);
    v->rows_cap = (size_t)rows;
    return 0;
}

/* One page at bytes[*pos..n): its header and body. */
static int next_page(const uint8_t *bytes, size_t n, size_t *pos, page_hdr_t *h,
                     const uint8_t **body, const lake_read_limits_t *lim, const lake_rd_where_t *w)
{
    char what[WHAT_CAP];
    snprintf(what, sizeof what, "lake: %s: row group %zu, column %s, page %zu: page header",
             w->path, w->group, w->column, w->page);
    lake_tr_t t;
    lake_tr_init(&t, bytes + *pos, n - *pos, what);
    int rc = page_header(&t, h);
    if (rc != 0)
        return rc;
    *pos += lake_tr_used(&t, bytes + *pos);
    if (h->type < 0 || h->unc < 0 || h->comp < 0)
        return fail(w, CORE_ECORRUPT, "a page header without its type or sizes");
    if ((size_t)h->comp > n - *pos)
        return fail(w, CORE_ECORRUPT, "a page of %d bytes with %zu left in the chunk", (int)h->comp,
                    n - *pos);
    if ((size_t)h->comp > lim->max_page_bytes || (size_t)h->unc > lim->max_page_bytes)
        return fail(w, CORE_ETOOBIG, "a page of %d bytes (%d uncompressed) is above the cap of %zu",
                    (int)h->comp, (int)h->unc, lim->max_page_bytes);
    *body = bytes + *pos;
    *pos += (size_t)h->comp;
    return 0;
}

int lake_rd_chunk_decode(lake_rd_ctx_t *x, const lake_rd_column_t *col,
                         const lake_rd_chunk_t *chunk, const uint8_t *bytes, size_t n, int64_t rows,
                         lake_rd_where_t *w, lake_rd_values_t *v)
{
    w->page = 0;
    if (chunk->num_values != rows)
        return fail(w, CORE_ECORRUPT, "the chunk holds %lld values for %lld rows",
                    (long long)chunk->num_values, (long long)rows);
    int rc = prepare(x, col, v, rows, w);
    size_t budget = x->lim->max_group_bytes - CORE_MIN(x->used, x->lim->max_group_bytes);
    size_t pos = 0;
    int64_t done = 0;
    x->dict_count = 0;
    bool dict_seen = false;
    while (rc == 0 && (done < rows || pos < n)) {
        page_hdr_t h;
        const uint8_t *body, *page = NULL;
        if (pos >= n)
            return fail(w, CORE_ECORRUPT, "the chunk ends after %lld of %lld values",
                        (long long)done, (long long)rows);
        rc = next_page(bytes, n, &pos, &h, &body, x->lim, w);
        if (rc == 0 && (h.type == LAKE_RD_PAGE_DATA || h.type == LAKE_RD_PAGE_DICTIONARY))
            rc = decompress(x, chunk->codec, body, (size_t)h.comp, (size_t)h.unc, &page, w);
        if (rc != 0)
            break;
        if (h.type == LAKE_RD_PAGE_DICTIONARY) {
            if (dict_seen || done > 0 || !h.has_dict)
                return fail(w, CORE_ECORRUPT, "a dictionary page that is not the chunk's first");
            rc = dict_page(x, col, v, &h, page, (size_t)h.unc, budget, w);
            dict_seen = true;
        } else if (h.type == LAKE_RD_PAGE_DATA) {
            if (!h.has_data)
                return fail(w, CORE_ECORRUPT, "a data page without its header");
            rc = data_page(x, col, v, &h, page, (size_t)h.unc, done, rows, budget, w);
            done += h.nvalues;
        } else if (h.type == LAKE_RD_PAGE_DATA_V2) {
            return fail(w, CORE_EUNSUPP, "data page v2 is not read (write data page v1)");
        } else if (h.type != LAKE_RD_PAGE_INDEX) {
            return fail(w, CORE_ECORRUPT, "unknown page type %d", (int)h.type);
        }
        w->page++;
        if (rc == 0 && done == rows && pos < n && h.type == LAKE_RD_PAGE_DATA)
            return fail(w, CORE_ECORRUPT, "the chunk has bytes after its %lld values",
                        (long long)rows);
    }
    if (rc != 0)
        return rc;
    x->used += v->str.len;
    v->loaded = true;
    return 0;
}
