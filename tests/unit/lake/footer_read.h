/*
 * footer_read.h - a small, independent reader of Parquet footers for the
 * lake tests (unit tests and the lake_writer fuzz target). It is written
 * from the format, not from the writer: a generic Thrift compact protocol
 * skipper plus the few FileMetaData fields the tests look at.
 *
 * Every read is bounds-checked; nesting is capped; malformed input makes
 * footer_read() return -1, never crash. Chunks past FOOTER_MAX_CHUNKS are
 * counted but not kept.
 *
 * Header-only (static functions); single-threaded.
 */
#ifndef STRATA_TESTS_LAKE_FOOTER_READ_H
#define STRATA_TESTS_LAKE_FOOTER_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FOOTER_MAX_CHUNKS 4096
#define FOOTER_MAX_DEPTH  32

typedef struct {
    bool present;
    size_t len;       /* full length */
    uint8_t data[16]; /* first bytes */
} footer_bin_t;

typedef struct {
    int64_t file_offset;
    int32_t type, codec;
    int64_t num_values, unc, comp, data_off;
    int64_t dict_off;              /* -1 when absent */
    int64_t null_count, nan_count; /* -1 when absent */
    footer_bin_t min, max, min_value, max_value;
    uint32_t nencodings;
    int32_t encodings[8];
    char path[64];
} footer_chunk_t;

typedef struct {
    int32_t version;
    int64_t num_rows;
    int64_t schema_elements;
    int64_t row_groups;
    int64_t rows_in_groups; /* sum of RowGroup.num_rows */
    int64_t kv_pairs;
    int64_t column_orders;
    char created_by[64];
    size_t nchunks; /* all chunks seen; chunks[] holds the first ones */
    footer_chunk_t chunks[FOOTER_MAX_CHUNKS];
    int64_t footer_start; /* file offset of the FileMetaData */
} footer_info_t;

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    int depth;
    bool bad;
} footer_rd_t;

static uint8_t fr_u8(footer_rd_t *r)
{
    if (r->pos >= r->len) {
        r->bad = true;
        return 0;
    }
    return r->p[r->pos++];
}

static uint64_t fr_uvarint(footer_rd_t *r)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && !r->bad; shift += 7) {
        uint8_t b = fr_u8(r);
        v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0)
            return v;
    }
    r->bad = true;
    return 0;
}

static int64_t fr_zigzag(footer_rd_t *r)
{
    uint64_t v = fr_uvarint(r);
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A binary's bytes: returns its start (NULL if bad) and length. */
static const uint8_t *fr_binary(footer_rd_t *r, size_t *n)
{
    uint64_t len = fr_uvarint(r);
    if (r->bad || len > r->len - r->pos) {
        r->bad = true;
        *n = 0;
        return NULL;
    }
    const uint8_t *p = r->p + r->pos;
    r->pos += (size_t)len;
    *n = (size_t)len;
    return p;
}

static void fr_skip(footer_rd_t *r, int type);

static uint32_t fr_list_header(footer_rd_t *r, int *elem)
{
    uint8_t h = fr_u8(r);
    *elem = h & 0x0f;
    uint64_t n = h >> 4;
    if (n == 15)
        n = fr_uvarint(r);
    if (n > r->len) /* every element takes at least a byte, bools aside */
        r->bad = true;
    return r->bad ? 0 : (uint32_t)n;
}

/* Next field of a struct: false at STOP (or when bad). */
static bool fr_field(footer_rd_t *r, int16_t *last, int16_t *id, int *type)
{
    uint8_t h = fr_u8(r);
    if (r->bad || h == 0)
        return false;
    *type = h & 0x0f;
    if (h >> 4)
        *id = (int16_t)(*last + (h >> 4));
    else
        *id = (int16_t)fr_zigzag(r);
    *last = *id;
    return !r->bad;
}

static void fr_skip_struct(footer_rd_t *r)
{
    int16_t last = 0, id;
    int type;
    if (++r->depth > FOOTER_MAX_DEPTH) {
        r->bad = true;
        return;
    }
    while (fr_field(r, &last, &id, &type))
        fr_skip(r, type);
    r->depth--;
}

/* Skips one value of compact type `type` (a list element for bools). */
static void fr_skip(footer_rd_t *r, int type)
{
    size_t n;
    int elem;
    switch (type) {
    case 1:
    case 2: /* a bool field: the value is in the header */
        return;
    case 3:
        fr_u8(r);
        return;
    case 4:
    case 5:
    case 6:
        fr_uvarint(r);
        return;
    case 7:
        if (r->len - r->pos < 8)
            r->bad = true;
        else
            r->pos += 8;
        return;
    case 8:
        fr_binary(r, &n);
        return;
    case 9:
    case 10: {
        uint32_t count = fr_list_header(r, &elem);
        if (++r->depth > FOOTER_MAX_DEPTH)
            r->bad = true;
        for (uint32_t i = 0; i < count && !r->bad; i++)
            fr_skip(r, elem == 1 || elem == 2 ? 3 : elem);
        r->depth--;
        return;
    }
    case 11: {
        uint64_t count = fr_uvarint(r);
        uint8_t kv = count ? fr_u8(r) : 0;
        if (count > r->len || ++r->depth > FOOTER_MAX_DEPTH)
            r->bad = true;
        for (uint64_t i = 0; i < count && !r->bad; i++) {
            fr_skip(r, (kv >> 4) == 1 || (kv >> 4) == 2 ? 3 : kv >> 4);
            fr_skip(r, (kv & 15) == 1 || (kv & 15) == 2 ? 3 : kv & 15);
        }
        r->depth--;
        return;
    }
    case 12:
        fr_skip_struct(r);
        return;
    default:
        r->bad = true;
        return;
    }
}

static void fr_bin(footer_rd_t *r, int type, footer_bin_t *out)
{
    if (type != 8) {
        r->bad = true;
        return;
    }
    size_t n;
    const uint8_t *p = fr_binary(r, &n);
    if (p == NULL)
        return;
    out->present = true;
    out->len = n;
    memcpy(out->data, p, n < sizeof out->data ? n : sizeof out->data);
}

static int64_t fr_int(footer_rd_t *r, int type)
{
    if (type < 4 || type > 6) {
        r->bad = true;
        return 0;
    }
    return fr_zigzag(r);
}

static void fr_stats(footer_rd_t *r, footer_chunk_t *c)
{
    int16_t last = 0, id;
    int type;
    while (fr_field(r, &last, &id, &type)) {
        if (id == 1)
            fr_bin(r, type, &c->max);
        else if (id == 2)
            fr_bin(r, type, &c->min);
        else if (id == 3)
            c->null_count = fr_int(r, type);
        else if (id == 5)
            fr_bin(r, type, &c->max_value);
        else if (id == 6)
            fr_bin(r, type, &c->min_value);
        else if (id == 9)
            c->nan_count = fr_int(r, type);
        else
            fr_skip(r, type);
    }
}

static void fr_column_meta(footer_rd_t *r, footer_chunk_t *c)
{
    int16_t last = 0, id;
    int type, elem;
    while (fr_field(r, &last, &id, &type)) {
        if (id == 1) {
            c->type = (int32_t)fr_int(r, type);
        } else if (id == 2 && type == 9) {
            uint32_t n = fr_list_header(r, &elem);
            for (uint32_t i = 0; i < n && !r->bad; i++) {
                int64_t e = fr_int(r, elem);
                if (c->nencodings < 8)
                    c->encodings[c->nencodings++] = (int32_t)e;
            }
        } else if (id == 3 && type == 9) {
            uint32_t n = fr_list_header(r, &elem);
            for (uint32_t i = 0; i < n && !r->bad; i++) {
                size_t len;
                const uint8_t *p = elem == 8 ? fr_binary(r, &len) : NULL;
                if (p == NULL)
                    r->bad = true;
                else if (i == 0 && len < sizeof c->path)
                    memcpy(c->path, p, len);
            }
        } else if (id == 4) {
            c->codec = (int32_t)fr_int(r, type);
        } else if (id == 5) {
            c->num_values = fr_int(r, type);
        } else if (id == 6) {
            c->unc = fr_int(r, type);
        } else if (id == 7) {
            c->comp = fr_int(r, type);
        } else if (id == 9) {
            c->data_off = fr_int(r, type);
        } else if (id == 11) {
            c->dict_off = fr_int(r, type);
        } else if (id == 12 && type == 12) {
            fr_stats(r, c);
        } else {
            fr_skip(r, type);
        }
    }
}

static void fr_chunk(footer_rd_t *r, footer_info_t *fi)
{
    footer_chunk_t scratch,
        *c = fi->nchunks < FOOTER_MAX_CHUNKS ? &fi->chunks[fi->nchunks] : &scratch;
    memset(c, 0, sizeof *c);
    c->dict_off = c->null_count = c->nan_count = -1;
    fi->nchunks++;
    int16_t last = 0, id;
    int type;
    while (fr_field(r, &last, &id, &type)) {
        if (id == 2)
            c->file_offset = fr_int(r, type);
        else if (id == 3 && type == 12)
            fr_column_meta(r, c);
        else
            fr_skip(r, type);
    }
}

static void fr_row_group(footer_rd_t *r, footer_info_t *fi)
{
    int16_t last = 0, id;
    int type, elem;
    while (fr_field(r, &last, &id, &type)) {
        if (id == 1 && type == 9) {
            uint32_t n = fr_list_header(r, &elem);
            for (uint32_t i = 0; i < n && !r->bad; i++) {
                if (elem != 12)
                    r->bad = true;
                else
                    fr_chunk(r, fi);
            }
        } else if (id == 3) {
            fi->rows_in_groups += fr_int(r, type);
        } else {
            fr_skip(r, type);
        }
    }
}

/* Counts a list field's elements and skips them. */
static int64_t fr_count_list(footer_rd_t *r, int type)
{
    int elem;
    if (type != 9) {
        r->bad = true;
        return 0;
    }
    uint32_t n = fr_list_header(r, &elem);
    for (uint32_t i = 0; i < n && !r->bad; i++)
        fr_skip(r, elem);
    return n;
}

static void fr_file_metadata(footer_rd_t *r, footer_info_t *fi)
{
    int16_t last = 0, id;
    int type, elem;
    while (fr_field(r, &last, &id, &type)) {
        if (id == 1) {
            fi->version = (int32_t)fr_int(r, type);
        } else if (id == 2) {
            fi->schema_elements = fr_count_list(r, type);
        } else if (id == 3) {
            fi->num_rows = fr_int(r, type);
        } else if (id == 4 && type == 9) {
            uint32_t n = fr_list_header(r, &elem);
            fi->row_groups = n;
            for (uint32_t i = 0; i < n && !r->bad; i++) {
                if (elem != 12)
                    r->bad = true;
                else
                    fr_row_group(r, fi);
            }
        } else if (id == 5) {
            fi->kv_pairs = fr_count_list(r, type);
        } else if (id == 6 && type == 8) {
            size_t n;
            const uint8_t *p = fr_binary(r, &n);
            if (p != NULL && n < sizeof fi->created_by)
                memcpy(fi->created_by, p, n);
        } else if (id == 7) {
            fi->column_orders = fr_count_list(r, type);
        } else {
            fr_skip(r, type);
        }
    }
}

/* Parses the footer of the whole file f[0..len). 0, or -1 if malformed. */
static int footer_read(const uint8_t *f, size_t len, footer_info_t *fi)
{
    memset(fi, 0, sizeof *fi);
    if (len < 12 || memcmp(f, "PAR1", 4) != 0 || memcmp(f + len - 4, "PAR1", 4) != 0)
        return -1;
    const uint8_t *t = f + len - 8;
    uint32_t flen =
        (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 | (uint32_t)t[3] << 24;
    if (flen > len - 12)
        return -1;
    footer_rd_t r = {f + len - 8 - flen, flen, 0, 0, false};
    fi->footer_start = (int64_t)(len - 8 - flen);
    fr_file_metadata(&r, fi);
    return r.bad || r.pos != r.len ? -1 : 0;
}

/* True if the kept chunks, in footer order, cover the file from byte 4 to
 * the footer exactly, each starting at its dictionary page (if any) else
 * its first data page, the dictionary page before the data pages. */
static bool footer_chunks_tile(const footer_info_t *fi)
{
    if (fi->nchunks > FOOTER_MAX_CHUNKS)
        return false;
    int64_t pos = 4;
    for (size_t i = 0; i < fi->nchunks; i++) {
        const footer_chunk_t *c = &fi->chunks[i];
        int64_t start = c->dict_off >= 0 ? c->dict_off : c->data_off;
        if (start != pos || (c->dict_off >= 0 && c->dict_off >= c->data_off) || c->comp <= 0 ||
            c->data_off >= start + c->comp)
            return false;
        pos = start + c->comp;
    }
    return pos == fi->footer_start;
}

#endif
