/* lake: the Parquet writer, and (later in this header) the `archive` sink
 * that plugs into the stream runtime.
 *
 * The writer is written from the Apache Parquet format specification: file
 * = "PAR1", column chunks, FileMetaData (Thrift compact protocol), footer
 * length, "PAR1". Every column is a flat (non-nested) field, REQUIRED or
 * OPTIONAL; OPTIONAL columns carry RLE/bit-packed definition levels
 * (bit width 1). Values are PLAIN-encoded or, for strings, dictionary-
 * encoded (a PLAIN dictionary page, then RLE_DICTIONARY data pages) with a
 * fallback to PLAIN when the dictionary outgrows its cap. Pages are data
 * page v1, compressed with snappy, zstd or nothing. Each column chunk has
 * statistics: null_count, and min_value and max_value (the spec's order
 * for the logical type) except for a double chunk holding a NaN (readers
 * would prune wrongly; nan_count is written instead) and a string chunk
 * whose bound is longer than 4096 bytes.
 *
 * Threading: a writer is owned by one thread. Functions on distinct writers
 * may run concurrently.
 */
#ifndef STRATA_LAKE_LAKE_H
#define STRATA_LAKE_LAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema/schema.h"
#include "stream/stream.h"

/* Column types and their Parquet mapping. */
typedef enum {
    LAKE_COL_BOOL,      /* BOOLEAN */
    LAKE_COL_INT64,     /* INT64 (logical INTEGER(64, signed)) */
    LAKE_COL_DOUBLE,    /* DOUBLE */
    LAKE_COL_STRING,    /* BYTE_ARRAY, logical STRING (converted UTF8) */
    LAKE_COL_TIMESTAMP, /* INT64, logical TIMESTAMP(isAdjustedToUTC=true,
                         * MICROS) (converted TIMESTAMP_MICROS) */
} lake_col_type_t;

typedef enum {
    LAKE_CODEC_NONE,   /* UNCOMPRESSED */
    LAKE_CODEC_SNAPPY, /* SNAPPY */
    LAKE_CODEC_ZSTD,   /* ZSTD */
} lake_codec_t;

/* "none", "snappy", "zstd" -> codec; CORE_EINVAL for anything else. */
int lake_codec_parse(const char *name, lake_codec_t *out);
const char *lake_codec_name(lake_codec_t c);

typedef struct {
    const char *name; /* borrowed; copied by lake_writer_create */
    lake_col_type_t type;
    bool optional; /* nulls allowed (definition levels) */
} lake_column_t;

typedef struct {
    lake_codec_t codec;
    int zstd_level;          /* 0 = zstd's default */
    size_t page_bytes;       /* target uncompressed size of a data page;
                              * 0 = 1 MiB */
    size_t row_group_bytes;  /* a row group closes when its buffered
                              * (uncompressed) size reaches this; 0 = 64 MiB */
    int64_t row_group_rows;  /* and after this many rows; 0 = no row cap */
    bool dictionary;         /* dictionary-encode string columns */
    size_t dictionary_bytes; /* dictionary cap per column chunk before the
                              * chunk falls back to PLAIN; 0 = 1 MiB */
} lake_writer_options_t;

/* Fills *o with the defaults: zstd, dictionary on, the sizes above. */
void lake_writer_options_default(lake_writer_options_t *o);

typedef struct lake_writer lake_writer_t;

/* Creates PATH (O_CREAT|O_TRUNC, mode 0644) and a writer for NCOLS columns
 * (1..LAKE_MAX_COLUMNS). Names must be distinct and non-empty. COLS and O
 * are borrowed; O may be NULL for the defaults. Errors: CORE_EINVAL (bad
 * columns or options, detail names the column), CORE_EIO (detail names the
 * file), CORE_ENOMEM. */
#define LAKE_MAX_COLUMNS 1024
int lake_writer_create(const char *path, const lake_column_t *cols, size_t ncols,
                       const lake_writer_options_t *o, lake_writer_t **out);

/* Adds one row: VALS has one value per column, in column order, borrowed
 * for the call only (strings are copied). Accepted value types:
 *   BOOL column      SCHEMA_BOOL
 *   INT64 column     SCHEMA_INT (SCHEMA_TIMESTAMP also accepted)
 *   DOUBLE column    SCHEMA_FLOAT or SCHEMA_INT (converted)
 *   STRING column    SCHEMA_STRING, or SCHEMA_OBJECT / SCHEMA_ARRAY (their
 *                    JSON text)
 *   TIMESTAMP column SCHEMA_TIMESTAMP or SCHEMA_INT (microseconds)
 * SCHEMA_NULL is accepted for optional columns only; strings must be
 * valid UTF-8 of at most 16 MiB. Anything else is CORE_EINVAL with a
 * detail naming the column, and the row is not added (the writer stays
 * usable). Failures after a row was checked are sticky (later adds and
 * finish return them; abort removes the file): CORE_EIO (a write, a full
 * disk included), CORE_ENOMEM, CORE_ETOOBIG (the footer cap),
 * CORE_EFAILED (a compressor). */
int lake_writer_add(lake_writer_t *w, const schema_value_t *vals);

/* Sets a key/value pair of the footer's key_value_metadata (both copied;
 * a later set of the same key replaces it). At most 64 pairs. */
int lake_writer_set_meta(lake_writer_t *w, const char *key, const char *value);

/* Rows added so far, and bytes written to the file so far plus those
 * buffered for the open row group (for roll-by-size decisions). */
int64_t lake_writer_rows(const lake_writer_t *w);
int64_t lake_writer_bytes(const lake_writer_t *w);

/* Flushes the open row group, writes the footer, fdatasyncs and closes the
 * file, then destroys the writer (also on error). A file with zero rows is
 * still a valid Parquet file. Errors: CORE_EIO (detail names the file). */
int lake_writer_finish(lake_writer_t *w);

/* Closes and unlinks the file and destroys the writer. NULL is a no-op. */
void lake_writer_abort(lake_writer_t *w);

/* ---- The archive sink (archive.c; docs/lake.md, "The archive sink").
 *
 * A pipeline of kind `archive` writes its topic's valid records, decoded
 * by its schema, to Parquet files in Hive-style partitions by event time:
 *
 *   <dir>/<topic>/date=YYYY-MM-DD/hour=HH/<topic>+<partition>+<first offset>.parquet
 *
 * Columns: the schema's fields in order (string STRING, int INT64, float
 * DOUBLE, bool BOOL, timestamp TIMESTAMP, object and array STRING holding
 * their JSON text; optional unless required), then _key (STRING,
 * optional), _partition (INT64), _offset (INT64) and _timestamp
 * (TIMESTAMP, the record's). Every record is in exactly one file, also
 * across crashes; a file appears in the lake whole, after the commit that
 * covers it. When the pipeline's watermark has passed an hour's end on
 * every partition and the hour's files are all in the lake, the hour's
 * directory gets a `_SUCCESS` file.
 *
 * Use: lake_archive_create() -> the sink of one compiled pipeline
 * (stream_pipeline_def_t.sink_ops = &lake_archive_ops, .sink = the
 * archive, which the pipeline takes) -> the stream runtime drives it.
 * Creating touches no file: `strata check` compiles pipelines too.
 *
 * Threading: an archive and its parts belong to their pipeline's thread. */

#define LAKE_ARCHIVE_MAX_OPEN 64

typedef struct {
    const char *dir;     /* the lake directory; copied */
    lake_codec_t codec;  /* default zstd */
    int64_t roll_rows;   /* a file closes after this many rows; default 1,000,000 */
    int64_t roll_bytes;  /* ... once lake_writer_bytes() reaches this; default 128 MiB */
    int64_t roll_age_ms; /* ... once it has been open this long; default 5 min */
    int32_t max_open;    /* open files per partition, 1..LAKE_ARCHIVE_MAX_OPEN (default 8):
                          * a record that needs one more closes the oldest */
} lake_archive_config_t;

void lake_archive_config_default(lake_archive_config_t *c);

typedef struct lake_archive lake_archive_t;

/* Checks c and creates an archive sink. CORE_EINVAL (detail names the
 * setting), CORE_ENOMEM. */
int lake_archive_create(const lake_archive_config_t *c, lake_archive_t **out);
/* Frees an archive whose parts are closed. NULL is ignored. */
void lake_archive_destroy(lake_archive_t *a);

/* The sink interface, for stream_pipeline_def_t.sink_ops. */
extern const stream_sink_ops_t lake_archive_ops;

#endif
