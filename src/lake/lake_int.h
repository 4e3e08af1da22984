/* lake_int.h - internals of the Parquet writer, shared by its files:
 *   thrift.c  the Thrift compact protocol encoder (footer and page headers)
 *   encode.c  RLE/bit-packed hybrid runs, bit widths, the string and
 *             number dictionaries
 *   chunk.c   one column chunk: values -> pages (levels, encodings,
 *             compression), statistics, the chunk's bytes and metadata
 *   writer.c  the public API: rows, row groups, the background thread,
 *             the footer, the file
 *
 * Everything here belongs to one writer, and each piece to one thread at a
 * time (see "Column chunks" below).
 */
#ifndef STRATA_LAKE_LAKE_INT_H
#define STRATA_LAKE_LAKE_INT_H

#include <stdatomic.h>
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

/* The dictionary of one INT64, DOUBLE or TIMESTAMP column chunk: distinct
 * 64-bit values (a double's bits) in first-seen order, which stored
 * little-endian are the dictionary page body. Same table as lake_dict_t. */
typedef struct {
    uint64_t *keys;  /* entry i's value */
    uint32_t *slots; /* 0 = empty, else entry index + 1 */
    size_t nslots;   /* a power of two, or 0 before the first put */
    uint32_t count;  /* entries */
    uint32_t room;   /* entries keys can hold */
    uint32_t max;    /* entries allowed */
} lake_numdict_t;

void lake_numdict_init(lake_numdict_t *d, uint32_t max_entries);
void lake_numdict_fini(lake_numdict_t *d);
/* Empties the dictionary, keeping its memory; max_entries as in init. */
void lake_numdict_reset(lake_numdict_t *d, uint32_t max_entries);
/* Finds v or adds it: 0 with *idx set, LAKE_DICT_FULL when adding it would
 * pass max entries (unchanged), or CORE_ENOMEM. */
int lake_numdict_put(lake_numdict_t *d, uint64_t v, uint32_t *idx);

/* ------------------------------------------------------------------------
 * Column chunks (chunk.c)
 *
 * A row group is first held as added (lake_batch_t: per column, the
 * definition levels and the PLAIN bytes of the non-null values), then
 * encoded column by column (lake_chunk_encode): statistics, the dictionary
 * decision, pages, compression, and the bytes to the file. Adding and
 * encoding may run on different threads (writer.c hands a full batch to
 * its background thread); a batch and the encoder state belong to one
 * thread at a time, handed over under the writer's lock.
 * ------------------------------------------------------------------------ */

/* One column of a writer; fixed after lake_writer_create(). */
typedef struct {
    char *name; /* owned */
    lake_col_type_t type;
    bool optional;
    bool dictionary; /* try a dictionary (strings: the option `dictionary`;
                      * INT64, DOUBLE, TIMESTAMP: `dictionary_numbers`) */
    uint32_t accept; /* bit t set: a value of schema type t is accepted */
} lake_col_t;

/* One column's share of a row group, as added. */
typedef struct {
    core_buf_t levels; /* OPTIONAL columns: one byte per row, 1 = a value */
    core_buf_t values; /* the non-null values, PLAIN: 8 bytes little-endian
                        * (INT64, TIMESTAMP, DOUBLE), one byte 0/1 (BOOL),
                        * or a 4-byte length and the bytes (STRING) */
    uint32_t nvalues;  /* non-null values */
} lake_colbuf_t;

/* A row group as added. rows <= bytes: every row adds at least one byte. */
typedef struct {
    lake_colbuf_t *cols; /* one per column */
    uint32_t rows;
    size_t bytes; /* levels and values of every column */
} lake_batch_t;

/* The encoder of a writer: codec, scratch buffers, and the file. */
typedef struct {
    lake_codec_t codec;
    int zstd_level;
    void *zstd;                /* ZSTD_CCtx, created on first use, reused */
    core_buf_t payload;        /* a page body before compression (when it is not
                                * a slice of the batch) */
    core_buf_t comp;           /* a page after compression */
    core_buf_t header;         /* a page header */
    core_buf_t out;            /* bytes emitted but not yet written; they belong
                                * at file offset pos - out.len */
    core_buf_t indices;        /* dictionary indices of a chunk, uint32_t each */
    lake_dict_t dict;          /* string chunks */
    lake_numdict_t ndict;      /* number chunks */
    const char *path;          /* borrowed, for error details */
    int fd;                    /* the file */
    int64_t pos;               /* bytes emitted (written or in out) */
    size_t page_bytes;         /* target uncompressed data page size */
    size_t dict_bytes;         /* dictionary cap per chunk */
    const atomic_bool *cancel; /* NULL, or set when the encode should stop
                                * early (the writer is aborted) */
} lake_ctx_t;

/* Sets up x's buffers (caps from the options); no allocation. */
void lake_ctx_init(lake_ctx_t *x, const lake_writer_options_t *o, const char *path);
void lake_ctx_fini(lake_ctx_t *x);

/* Encodes column c of a row group of `rows` rows (its values b) into pages
 * emitted at x->pos: [dictionary page] data pages. Appends the
 * ColumnChunk struct as a list element to t and adds the chunk's
 * uncompressed and stored sizes to *unc and *comp. b is only read.
 * Errors: CORE_EIO (a write; detail names the file and offset),
 * CORE_ENOMEM, CORE_ETOOBIG, CORE_EFAILED (a compressor), CORE_ECLOSED
 * (cancelled). */
int lake_chunk_encode(const lake_col_t *c, const lake_colbuf_t *b, uint32_t rows, lake_ctx_t *x,
                      lake_thrift_t *t, int64_t *unc, int64_t *comp);

/* Writes the emitted bytes still in x->out. CORE_EIO. */
int lake_ctx_flush(lake_ctx_t *x);

/* Compresses src[0..n) with x->codec; *out points at x->comp, or at src
 * for LAKE_CODEC_NONE. */
int lake_compress(lake_ctx_t *x, const uint8_t *src, size_t n, const uint8_t **out, size_t *out_n);

/* ------------------------------------------------------------------------
 * Uploading to S3: AWS Signature Version 4 (sigv4.c) and the pieces of the
 * client (s3.c) that tests reach directly. Pure functions; thread-safe.
 * ------------------------------------------------------------------------ */

/* HMAC-SHA256 (RFC 2104) of msg[0..n) under key[0..klen). */
void lake_hmac_sha256(const void *key, size_t klen, const void *msg, size_t n, uint8_t out[32]);

/* Appends AWS's URI encoding of s[0..n): every byte but A-Z a-z 0-9 - . _ ~
 * (and '/' when keep_slash) as %XX, upper-case hex. Errors: the buffer's. */
int lake_uri_encode(core_buf_t *out, const char *s, size_t n, bool keep_slash);

#define LAKE_AMZ_DATE_LEN 16 /* "20130524T000000Z" */
/* x-amz-date of a Unix time in seconds (UTC). */
void lake_sigv4_date(int64_t unix_s, char out[LAKE_AMZ_DATE_LEN + 1]);

/* The signing key of (secret, YYYYMMDD, region, service). */
void lake_sigv4_signing_key(const char *secret, const char *date8, const char *region,
                            const char *service, uint8_t out[32]);

typedef struct {
    const char *name; /* a token (A-Z a-z 0-9 - . _ ~), any case */
    const char *value;
} lake_sigv4_header_t;

typedef struct {
    const char *name;  /* raw: encoded here */
    const char *value; /* raw; NULL or "" for a parameter without a value */
} lake_sigv4_param_t;

/* One request to sign. Everything is borrowed for the call. */
typedef struct {
    const char *method;                 /* "PUT" */
    const char *path;                   /* the canonical URI, already encoded:
                                         * "/bucket/a%3D1/b.parquet" */
    const lake_sigv4_param_t *params;   /* the query, raw; any order */
    size_t nparams;                     /* at most 32 */
    const lake_sigv4_header_t *headers; /* every signed header, host and
                                         * x-amz-date included; 1 to 32,
                                         * names distinct in any case */
    size_t nheaders;
    const char *payload_hash;     /* hex SHA-256 of the body (S3 wants it in
                                   * x-amz-content-sha256 too), or
                                   * "UNSIGNED-PAYLOAD" */
    const char *amz_date;         /* LAKE_AMZ_DATE_LEN characters */
    const char *region, *service; /* "us-east-1", "s3" */
    const char *access_key_id;
    const char *secret_access_key; /* at most 256 bytes */
} lake_sigv4_request_t;

/* Appends the canonical query string of params to out: names and values
 * encoded, sorted by name then value, "name=value" joined by '&'.
 * CORE_EINVAL (more than 32, a parameter without a name), the buffer's. */
int lake_sigv4_query(const lake_sigv4_param_t *params, size_t n, core_buf_t *out);

/* Appends the Authorization header's value to auth:
 *   AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request,
 *   SignedHeaders=a;b;c, Signature=HEX
 * and, when creq and sts are not NULL, the canonical request and the string
 * to sign (for tests and for a server's error messages; they hold no
 * secret). No detail ever holds the secret. CORE_EINVAL (a missing part, a
 * bad date, header name or count), CORE_ETOOBIG/CORE_ENOMEM (buffers). */
int lake_sigv4_sign(const lake_sigv4_request_t *r, core_buf_t *auth, core_buf_t *creq,
                    core_buf_t *sts);

/* The S3 error code and message of an error response body (XML such as
 * <Error><Code>NoSuchBucket</Code><Message>...</Message>...), as
 * "NoSuchBucket: The specified bucket does not exist" into out (cap > 0,
 * always NUL-terminated; printable ASCII only, the rest as '?'). Reads at
 * most n bytes of body and never past them; "" when neither is found.
 * Decodes outside bytes: fuzzed (tests/fuzz/lake_s3_error.c). */
void lake_s3_error_text(const char *body, size_t n, char *out, size_t cap);

/* Where a PUT of key goes (s3.c), each NUL-terminated: url gets the URL,
 * path the canonical URI it carries (the key encoded once, '/' kept),
 * host the Host header. Path-style: scheme://endpoint/bucket/key; virtual-
 * hosted: scheme://bucket.endpoint/key. Errors: the buffers'. */
int lake_s3_target(const lake_s3_t *s, const char *key, core_buf_t *url, core_buf_t *path,
                   core_buf_t *host);

/* One entry line of the upload journal (s3_upload.c), without its '\n':
 * "<size> <mtime_ns> <name>". Returns true with the fields set (*name
 * borrowed from line, *nlen bytes, not NUL-terminated) when the line is
 * well formed: two non-negative decimal integers, a name of 1 to 4095
 * bytes without NUL, no ".." part and no leading '/'. Fuzzed with the
 * above. */
bool lake_s3_journal_line(const char *line, size_t n, int64_t *size, int64_t *mtime_ns,
                          const char **name, size_t *nlen);

#endif /* STRATA_LAKE_LAKE_INT_H */
