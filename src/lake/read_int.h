/* read_int.h - internals of the Parquet reader, shared by its files:
 *   thrift_read.c  the Thrift compact protocol decoder (footer, page headers)
 *   reader.c       the file: footer, schema, row groups, statistics
 *   reader_page.c  one column chunk of a row group: pages, levels,
 *                  encodings, decompression, the decoded values
 *   scan.c         a partition of an archive, in offset order
 *
 * The reader decodes outside bytes: every length and count is checked
 * against what is left of its buffer and against the caps of
 * lake_read_limits_t before it is used.
 *
 * Everything here belongs to one reader and so to one thread.
 */
#ifndef STRATA_LAKE_READ_INT_H
#define STRATA_LAKE_READ_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "lake/lake.h"
#include "lake/lake_int.h"

/* ------------------------------------------------------------------------
 * Thrift compact protocol decoder (thrift_read.c)
 *
 * A cursor over a borrowed byte range. Structs are read field by field:
 * lake_tr_field() returns the next field's id and compact type, or STOP;
 * the caller reads the value with the lake_tr_* call of its type or skips
 * it with lake_tr_skip(). Nested structs are entered with lake_tr_enter()
 * and left after their STOP with lake_tr_leave(), which track the depth
 * (capped at LAKE_TR_MAX_DEPTH) and the previous field id of each open
 * struct. Every error is sticky: the first one is kept in rc (with the core
 * error detail set) and every later call returns it.
 * ------------------------------------------------------------------------ */
#define LAKE_TR_MAX_DEPTH 32

/* Compact types (besides LAKE_CT_* in lake_int.h). */
enum {
    LAKE_TR_STOP = 0,
    LAKE_TR_TRUE = 1,
    LAKE_TR_FALSE = 2,
    LAKE_TR_I8 = 3,
    LAKE_TR_I16 = 4,
    LAKE_TR_I32 = 5,
    LAKE_TR_I64 = 6,
    LAKE_TR_DOUBLE = 7,
    LAKE_TR_BINARY = 8,
    LAKE_TR_LIST = 9,
    LAKE_TR_SET = 10,
    LAKE_TR_MAP = 11,
    LAKE_TR_STRUCT = 12,
    LAKE_TR_UUID = 13,
};

typedef struct {
    const uint8_t *p, *end;
    const char *what; /* borrowed: names the bytes in errors ("file x: footer") */
    int16_t last[LAKE_TR_MAX_DEPTH];
    int depth; /* open structs; 1 after init */
    int rc;
} lake_tr_t;

void lake_tr_init(lake_tr_t *r, const void *p, size_t n, const char *what);
/* Bytes consumed so far from the start given to init. */
size_t lake_tr_used(const lake_tr_t *r, const void *start);

/* The next field of the innermost open struct: 1 with *id and *type set, 0
 * at its STOP (the STOP is consumed), or the error. */
int lake_tr_field(lake_tr_t *r, int16_t *id, int *type);
/* Opens a nested struct (after its field header or as a list element). */
int lake_tr_enter(lake_tr_t *r);
/* Closes it; call after lake_tr_field() returned 0 for it. */
void lake_tr_leave(lake_tr_t *r);

/* Values of the field just read (type is the field's compact type, checked
 * against the call: an i32 field also accepts i8 and i16). */
int lake_tr_i32(lake_tr_t *r, int type, int32_t *v);
int lake_tr_i64(lake_tr_t *r, int type, int64_t *v);
int lake_tr_bool(lake_tr_t *r, int type, bool *v);
/* A binary; *p borrows the input. */
int lake_tr_binary(lake_tr_t *r, int type, const uint8_t **p, size_t *n);
/* A list header: element type and count (count <= bytes left). */
int lake_tr_list(lake_tr_t *r, int type, int *elem, uint32_t *n);
/* One element of a list of i32 / binary / struct (struct: enter it). */
int lake_tr_elem_i32(lake_tr_t *r, int elem, int32_t *v);
int lake_tr_elem_binary(lake_tr_t *r, int elem, const uint8_t **p, size_t *n);
/* Skips one value of compact type `type` (a field's body or a list
 * element), nested structs, lists, sets and maps included. */
int lake_tr_skip(lake_tr_t *r, int type);
/* Fails the cursor with CORE_ECORRUPT and a detail "<what>: <reason>". */
int lake_tr_fail(lake_tr_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------------
 * The reader (reader.c, reader_page.c)
 * ------------------------------------------------------------------------ */

/* Parquet enums the reader knows (parquet.thrift). */
enum {
    LAKE_RD_PT_BOOLEAN = 0,
    LAKE_RD_PT_INT32 = 1,
    LAKE_RD_PT_INT64 = 2,
    LAKE_RD_PT_INT96 = 3,
    LAKE_RD_PT_FLOAT = 4,
    LAKE_RD_PT_DOUBLE = 5,
    LAKE_RD_PT_BYTE_ARRAY = 6,
    LAKE_RD_PT_FIXED = 7,
};
enum {
    LAKE_RD_ENC_PLAIN = 0,
    LAKE_RD_ENC_PLAIN_DICTIONARY = 2,
    LAKE_RD_ENC_RLE = 3,
    LAKE_RD_ENC_BIT_PACKED = 4,
    LAKE_RD_ENC_RLE_DICTIONARY = 8,
};
enum {
    LAKE_RD_PAGE_DATA = 0,
    LAKE_RD_PAGE_INDEX = 1,
    LAKE_RD_PAGE_DICTIONARY = 2,
    LAKE_RD_PAGE_DATA_V2 = 3,
};
enum {
    LAKE_RD_CODEC_NONE = 0,
    LAKE_RD_CODEC_SNAPPY = 1,
    LAKE_RD_CODEC_ZSTD = 6,
};

/* Statistics of one column chunk as stored (bytes borrow the footer). */
typedef struct {
    int64_t null_count; /* -1: absent */
    const uint8_t *min, *max;
    size_t min_len, max_len;
    bool has_min, has_max;
    bool deprecated; /* min/max came from the deprecated fields 1 and 2 */
} lake_rd_stats_t;

/* One column chunk's metadata. */
typedef struct {
    int32_t codec;
    int64_t num_values;
    int64_t start; /* first byte: the dictionary page, else the first data page */
    int64_t length;
    lake_rd_stats_t stats;
} lake_rd_chunk_t;

typedef struct {
    int64_t num_rows;
    lake_rd_chunk_t *chunks; /* one per column */
} lake_rd_group_t;

/* A loaded column of the loaded row group. */
typedef struct {
    bool ready;       /* str initialised */
    bool loaded;      /* holds the loaded row group's values */
    uint8_t *defined; /* 1 per row: not null */
    int64_t *i;       /* BOOL (0/1), INT64, TIMESTAMP (microseconds) */
    double *d;
    size_t *soff, *slen; /* STRING: bytes at str.data + soff */
    core_buf_t str;
    size_t rows_cap;
} lake_rd_values_t;

/* A column as the file declares it. */
typedef struct {
    char *name;
    lake_col_type_t type;
    bool optional;
    int32_t physical;
    int64_t ts_div, ts_mul; /* TIMESTAMP: value * mul / div = microseconds */
} lake_rd_column_t;

/* Scratch shared by the chunks of a reader: decompressed page bytes, the
 * levels or dictionary indices of one page, the dictionary, a zstd context, and the bytes
 * the loaded row group's values take (checked against max_group_bytes). */
typedef struct {
    const lake_read_limits_t *lim; /* borrowed */
    core_buf_t page;               /* a decompressed page */
    core_buf_t indices;            /* uint32_t per value of a page: levels, indices */
    core_buf_t dict;               /* the dictionary: int64/double, or (off, len) pairs */
    uint32_t dict_count;
    void *zstd;  /* ZSTD_DCtx, created on first use */
    size_t used; /* bytes of the loaded row group's values */
} lake_rd_ctx_t;

void lake_rd_ctx_init(lake_rd_ctx_t *x, const lake_read_limits_t *lim);
void lake_rd_ctx_fini(lake_rd_ctx_t *x);

/* A stored timestamp in microseconds (*us); CORE_ERANGE when millis
 * overflow. */
int lake_rd_timestamp(const lake_rd_column_t *c, int64_t raw, int64_t *us);

/* Where an error happened, for details: "<file>: row group G, column C,
 * page P". */
typedef struct {
    const char *path;
    size_t group;
    const char *column;
    size_t page;
} lake_rd_where_t;

/* Decodes the column chunk bytes[0..n) (all its pages) into v for rows
 * rows, with the limits lim. CORE_ECORRUPT (malformed), CORE_EUNSUPP (a
 * feature the reader does not implement), CORE_ETOOBIG (a cap), each with
 * a detail naming *w (w->page is kept up to date); CORE_ENOMEM. Sets
 * v->loaded on success. */
int lake_rd_chunk_decode(lake_rd_ctx_t *x, const lake_rd_column_t *col,
                         const lake_rd_chunk_t *chunk, const uint8_t *bytes, size_t n, int64_t rows,
                         lake_rd_where_t *w, lake_rd_values_t *v);
void lake_rd_values_fini(lake_rd_values_t *v);

#endif /* STRATA_LAKE_READ_INT_H */
