/* lake_int.h - internals of the Parquet writer, shared by its files:
 *   thrift.c  the Thrift compact protocol encoder (footer and page headers)
 *   encode.c  RLE/bit-packed hybrid runs, bit widths, the string dictionary
 *   chunk.c   one column chunk: values -> pages (levels, encodings,
 *             compression), statistics, the chunk's bytes and metadata
 *   writer.c  the public API: rows, row groups, the footer, the file
 *
 * Everything here belongs to one writer and so to one thread.
 */
#ifndef STRATA_LAKE_LAKE_INT_H
#define STRATA_LAKE_LAKE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "lake/lake.h"

/* ------------------------------------------------------------------------
 * Limits (docs/lake.md lists them for users).
 * ------------------------------------------------------------------------ */
#define LAKE_MAX_VALUE_BYTES     ((size_t)16 << 20)  /* one string value */
#define LAKE_MAX_NAME_BYTES      4096                /* one column name */
#define LAKE_PAGE_MAX_VALUES     ((uint32_t)1 << 17) /* rows in one data page */
#define LAKE_MAX_PAGE_BYTES      ((size_t)256 << 20) /* option page_bytes */
#define LAKE_MAX_ROW_GROUP_BYTES ((size_t)1 << 30)   /* option row_group_bytes */
#define LAKE_MAX_DICT_BYTES      ((size_t)64 << 20)  /* option dictionary_bytes */
#define LAKE_MAX_FOOTER_BYTES    ((size_t)256 << 20) /* serialized FileMetaData */
#define LAKE_STATS_MAX_BYTES     4096                /* longer string min/max are left out */
#define LAKE_MAX_META            64
#define LAKE_MAX_META_BYTES      ((size_t)1 << 20) /* one key or value */

/* Parquet enum values (parquet.thrift). */
enum {
    LAKE_PT_BOOLEAN = 0,
    LAKE_PT_INT64 = 2,
    LAKE_PT_DOUBLE = 5,
    LAKE_PT_BYTE_ARRAY = 6,
};
enum {
    LAKE_ENC_PLAIN = 0,
    LAKE_ENC_RLE = 3,
    LAKE_ENC_RLE_DICTIONARY = 8,
};
enum {
    LAKE_PAGE_DATA = 0,
    LAKE_PAGE_DICTIONARY = 2,
};
enum {
    LAKE_CONV_UTF8 = 0,
    LAKE_CONV_TIMESTAMP_MICROS = 10,
    LAKE_CONV_INT_64 = 18,
};

static inline void lake_store_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void lake_store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ------------------------------------------------------------------------
 * Thrift compact protocol encoder (thrift.c)
 *
 * Appends to a borrowed core_buf_t. The encoder starts inside a struct
 * (the outermost one); fields must be written in increasing id order only
 * by convention, any order encodes correctly. The first buffer error is
 * sticky: later calls do nothing and lake_thrift_end() returns it.
 * ------------------------------------------------------------------------ */
enum {
    LAKE_CT_STOP = 0,
    LAKE_CT_TRUE = 1,
    LAKE_CT_FALSE = 2,
    LAKE_CT_I8 = 3,
    LAKE_CT_I16 = 4,
    LAKE_CT_I32 = 5,
    LAKE_CT_I64 = 6,
    LAKE_CT_DOUBLE = 7,
    LAKE_CT_BINARY = 8,
    LAKE_CT_LIST = 9,
    LAKE_CT_STRUCT = 12,
};

#define LAKE_THRIFT_MAX_DEPTH 16

typedef struct {
    core_buf_t *out;                     /* borrowed */
    int16_t last[LAKE_THRIFT_MAX_DEPTH]; /* last field id per open struct */
    int depth;                           /* open structs; 1 after init */
    int rc;                              /* sticky first error */
} lake_thrift_t;

/* Starts encoding one struct (the outermost) into out. */
void lake_thrift_init(lake_thrift_t *t, core_buf_t *out);
/* Closes the outermost struct (its STOP byte). Returns 0 or the sticky
 * error; CORE_EINVAL if nested structs are still open. */
int lake_thrift_end(lake_thrift_t *t);

void lake_thrift_field_bool(lake_thrift_t *t, int16_t id, bool v);
void lake_thrift_field_i8(lake_thrift_t *t, int16_t id, int8_t v);
void lake_thrift_field_i16(lake_thrift_t *t, int16_t id, int16_t v);
void lake_thrift_field_i32(lake_thrift_t *t, int16_t id, int32_t v);
void lake_thrift_field_i64(lake_thrift_t *t, int16_t id, int64_t v);
void lake_thrift_field_double(lake_thrift_t *t, int16_t id, double v);
void lake_thrift_field_binary(lake_thrift_t *t, int16_t id, const void *p, size_t n);
void lake_thrift_field_string(lake_thrift_t *t, int16_t id, const char *s);
/* A struct-typed field: writes the header and opens the struct; close it
 * with lake_thrift_struct_end(). */
void lake_thrift_field_struct(lake_thrift_t *t, int16_t id);
void lake_thrift_struct_end(lake_thrift_t *t);
/* A list-typed field of n elements of compact type elem; then write
 * exactly n elements with the lake_thrift_elem_* calls. */
void lake_thrift_field_list(lake_thrift_t *t, int16_t id, int elem, uint32_t n);
void lake_thrift_elem_i32(lake_thrift_t *t, int32_t v);
void lake_thrift_elem_binary(lake_thrift_t *t, const void *p, size_t n);
/* A struct element of a list: opens it; close with lake_thrift_struct_end. */
void lake_thrift_elem_struct(lake_thrift_t *t);
/* Appends bytes already encoded (whole list elements) as they are. */
void lake_thrift_raw(lake_thrift_t *t, const void *p, size_t n);

/* ------------------------------------------------------------------------
 * Encodings (encode.c)
 * ------------------------------------------------------------------------ */

/* Bits needed to hold max (0 for 0). */
unsigned lake_bit_width(uint32_t max);

/* Appends the RLE/bit-packed hybrid encoding of n values to out, without
 * the 4-byte length prefix. vals holds uint8_t (elem_size 1) or uint32_t
 * (elem_size 4) values, each < 2^bit_width; bit_width is 1..32. Runs of 8
 * or more equal values become RLE runs, the rest bit-packed runs of whole
 * groups of 8 (the last group padded with zeros). Errors: the buffer's. */
int lake_rle_encode(core_buf_t *out, const void *vals, size_t elem_size, size_t n,
                    unsigned bit_width);

/* The dictionary of one string column chunk: distinct values in first-seen
 * order, held PLAIN-encoded (4-byte length, bytes) so `plain` is the
 * dictionary page body as it stands. An open-addressing table of entry
 * indices finds values; it keeps at most half its slots used. */
typedef struct {
    core_buf_t plain;  /* the dictionary page body; capped at max_bytes */
    uint32_t *offsets; /* entry i's 4-byte length is at plain.data+offsets[i] */
    uint64_t *hashes;  /* entry i's hash */
    uint32_t *slots;   /* 0 = empty, else entry index + 1 */
    size_t nslots;     /* a power of two, or 0 before the first put */
    uint32_t count;    /* entries */
    uint32_t room;     /* entries offsets/hashes can hold */
} lake_dict_t;

#define LAKE_DICT_FULL 1

void lake_dict_init(lake_dict_t *d, size_t max_bytes);
void lake_dict_fini(lake_dict_t *d);
/* Empties the dictionary, keeping its memory. */
void lake_dict_reset(lake_dict_t *d);
/* Finds p[0..n) or adds it. Returns 0 with *idx set and *added telling
 * whether the value is new, LAKE_DICT_FULL when adding it would pass
 * max_bytes (the dictionary is unchanged), or CORE_ENOMEM. */
int lake_dict_put(lake_dict_t *d, const void *p, size_t n, uint32_t *idx, bool *added);

/* ------------------------------------------------------------------------
 * Column chunks (chunk.c)
 * ------------------------------------------------------------------------ */

/* One cell of a row after lake_writer_add() checked and converted it. */
typedef struct {
    bool null;
    bool b;
    int64_t i; /* INT64 and TIMESTAMP */
    double d;
    const uint8_t *p; /* STRING bytes, borrowed for the call */
    size_t n;
} lake_value_t;

/* State every chunk of a writer shares: the codec, scratch buffers for
 * one page, and the file being written. */
typedef struct {
    lake_codec_t codec;
    int zstd_level;
    void *zstd;         /* ZSTD_CCtx, created on first use */
    core_buf_t payload; /* a page before compression */
    core_buf_t comp;    /* a page after compression */
    core_buf_t header;  /* a page header */
    const char *path;   /* borrowed, for error details */
    int fd;             /* the file */
    int64_t pos;        /* bytes written to it */
    size_t page_bytes;  /* target uncompressed data page size */
    size_t dict_bytes;  /* dictionary cap per chunk */
    size_t page_cap;    /* largest data page payload */
    size_t chunk_cap;   /* largest column chunk held in memory */
} lake_ctx_t;

typedef struct {
    char *name; /* owned */
    lake_col_type_t type;
    bool optional;
    bool dictionary; /* the writer's option, for string columns */

    /* the open data page */
    core_buf_t levels;    /* definition levels, one byte each (optional) */
    core_buf_t values;    /* PLAIN values (bool: bit-packed) */
    core_buf_t indices;   /* dictionary indices, uint32_t each */
    uint32_t page_rows;   /* values in the page, nulls included */
    uint32_t page_values; /* non-null values in the page */

    /* the open chunk */
    core_buf_t pages; /* data pages, header and compressed body each */
    lake_dict_t dict;
    bool use_dict;      /* new values go to the dictionary */
    int64_t num_values; /* nulls included */
    int64_t null_count;
    int64_t unc_bytes;   /* data pages with headers, uncompressed */
    int64_t comp_bytes;  /* data pages with headers, as stored */
    uint32_t dict_pages; /* data pages encoded RLE_DICTIONARY */
    uint32_t plain_pages;

    /* statistics of the chunk's non-null values (NaN excluded) */
    bool has_minmax;
    int64_t imin, imax; /* BOOL (0/1), INT64, TIMESTAMP */
    double dmin, dmax;
    core_buf_t smin, smax;
    int64_t nan_count;
} lake_chunk_t;

/* Sets up a chunk for column col (name copied). CORE_ENOMEM. */
int lake_chunk_init(lake_chunk_t *c, const lake_column_t *col, bool dictionary,
                    const lake_ctx_t *x);
void lake_chunk_fini(lake_chunk_t *c);
/* Adds one checked value. Errors (CORE_ENOMEM, CORE_ETOOBIG) leave the
 * chunk inconsistent: the caller fails the writer. */
int lake_chunk_add(lake_chunk_t *c, const lake_value_t *v, lake_ctx_t *x);
/* Bytes the chunk holds for its row group, uncompressed: finished pages
 * with their headers, the open page and the dictionary. */
size_t lake_chunk_buffered(const lake_chunk_t *c);
/* As stored: finished pages as compressed, the rest uncompressed. */
size_t lake_chunk_stored(const lake_chunk_t *c);
/* Finishes the chunk: closes the open page, writes the dictionary page
 * (if any page used it) and the data pages at x->pos, appends the
 * ColumnChunk struct as a list element to t, and adds the chunk's sizes to
 * *unc and *comp. Then resets the chunk for the next row group. Errors:
 * CORE_EIO (detail names the file), CORE_ENOMEM, CORE_ETOOBIG. */
int lake_chunk_flush(lake_chunk_t *c, lake_ctx_t *x, lake_thrift_t *t, int64_t *unc, int64_t *comp);

/* Compresses src[0..n) with x->codec; *out points at x->comp, or at src
 * for LAKE_CODEC_NONE. */
int lake_compress(lake_ctx_t *x, const uint8_t *src, size_t n, const uint8_t **out, size_t *out_n);

#endif /* STRATA_LAKE_LAKE_INT_H */
