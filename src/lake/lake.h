/* lake: the Parquet writer, and (later in this header) the `archive` sink
 * that plugs into the stream runtime.
 *
 * The writer is written from the Apache Parquet format specification: file
 * = "PAR1", column chunks, FileMetaData (Thrift compact protocol), footer
 * length, "PAR1". Every column is a flat (non-nested) field, REQUIRED or
 * OPTIONAL; OPTIONAL columns carry RLE/bit-packed definition levels
 * (bit width 1). Values are PLAIN-encoded or, for strings (and, with the
 * option dictionary_numbers, numbers with few distinct values), dictionary-
 * encoded (a PLAIN dictionary page, then RLE_DICTIONARY data pages); a
 * string chunk falls back to PLAIN when the dictionary outgrows its cap. Pages are data
 * page v1, compressed with snappy, zstd or nothing. Each column chunk has
 * statistics: null_count, and min_value and max_value (the spec's order
 * for the logical type) except for a double chunk holding a NaN (readers
 * would prune wrongly; nan_count is written instead) and a string chunk
 * whose bound is longer than 4096 bytes.
 *
 * Threading: a writer is owned by one thread. Functions on distinct writers
 * may run concurrently. With the option `background`, a writer also runs a
 * thread of its own (started at its first full row group, joined by
 * finish or abort) that encodes and writes row groups; its errors come
 * back through the owner's next add or finish.
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
    size_t row_group_bytes;  /* a row group closes when its buffered size
                              * (its values PLAIN, plus a byte per row of
                              * each optional column) reaches this;
                              * 0 = 64 MiB */
    int64_t row_group_rows;  /* and after this many rows; 0 = no row cap */
    bool dictionary;         /* dictionary-encode string columns */
    size_t dictionary_bytes; /* dictionary cap per column chunk before the
                              * chunk falls back to PLAIN; 0 = 1 MiB */
    bool dictionary_numbers; /* also INT64, DOUBLE and TIMESTAMP chunks with
                              * few distinct values (at most a quarter of
                              * the chunk's values; else PLAIN) */
    bool background;         /* encode, compress and write each full row
                              * group on a thread of the writer's own while
                              * the next one fills (at most one row group in
                              * flight: twice the buffered memory) */
} lake_writer_options_t;

/* Fills *o with the defaults: zstd, dictionary on for strings only,
 * background on, the sizes above. */
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
 * CORE_EFAILED (a compressor). With `background`, a failure of the
 * background thread is returned by the next add (or finish) after it
 * happened, with the thread's detail. */
int lake_writer_add(lake_writer_t *w, const schema_value_t *vals);

/* Sets a key/value pair of the footer's key_value_metadata (both copied;
 * a later set of the same key replaces it). At most 64 pairs. */
int lake_writer_set_meta(lake_writer_t *w, const char *key, const char *value);

/* Rows added so far, and an estimate of the file's size for roll-by-size
 * decisions: bytes written so far, plus the row groups not yet written
 * (buffered or in flight) at the compression ratio seen so far (1 before
 * the first row group is written). Exact after a row group was written
 * without `background`. */
int64_t lake_writer_rows(const lake_writer_t *w);
int64_t lake_writer_bytes(const lake_writer_t *w);

/* Waits for the background thread, flushes the open row group, writes the
 * footer, fdatasyncs and closes the file, then destroys the writer (also on
 * error). A file with zero rows is still a valid Parquet file. Errors:
 * CORE_EIO (detail names the file), and any failure lake_writer_add()
 * may return. */
int lake_writer_finish(lake_writer_t *w);

/* Stops and joins the background thread (a row group being written is
 * cut short), closes and unlinks the file and destroys the writer. NULL is
 * a no-op. */
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
    const struct lake_s3_config *s3; /* NULL: no upload; else published files and
                                      * markers are uploaded (lake_uploader_t,
                                      * below); copied */
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

/* ---- Uploading to S3 (sigv4.c, s3.c, s3_upload.c; docs/lake.md,
 * "Uploading to S3").
 *
 * A client PUTs files to a bucket of an S3-compatible endpoint (AWS, MinIO)
 * over libcurl, signed with AWS Signature Version 4, one request per file
 * (no multipart: at most LAKE_S3_MAX_OBJECT bytes). An uploader runs a
 * client on a thread of its own for an archive: the archive hands it each
 * file it publishes and each _SUCCESS marker it writes, and never waits for
 * the network. Keys mirror the lake: <prefix>/<topic>/date=.../hour=.../<file>.
 *
 * Secrets (the secret access key, the session token) and signatures never
 * appear in an error detail or a log line. */

#define LAKE_S3_MAX_OBJECT ((int64_t)5 << 30) /* S3's limit for one PUT */

typedef struct lake_s3_config {
    const char *endpoint;          /* "http://host[:port]" or "https://host[:port]"; required */
    const char *region;            /* required, e.g. "us-east-1" */
    const char *bucket;            /* required; S3's bucket name rule */
    const char *prefix;            /* keys start "<prefix>/"; NULL or "": no prefix.
                                    * No leading or trailing '/'. */
    const char *access_key_id;     /* required */
    const char *secret_access_key; /* required */
    const char *session_token;     /* NULL: none (x-amz-security-token) */
    bool path_style;               /* endpoint/bucket/key; false: bucket.host/key */
    int64_t connect_timeout_ms;    /* default 10 s */
    int64_t stall_timeout_ms;      /* a request that moves no byte this long fails; 60 s */
    int32_t max_attempts;          /* tries of one request on network errors and
                                    * 5xx (1..100); default 4 */
    int64_t retry_backoff_ms;      /* wait before the first retry, doubling; default 1 s */
    int64_t retry_backoff_max_ms;  /* the longest wait; default 60 s */
    int64_t drain_timeout_ms;      /* uploader: how long stopping may spend on queued
                                    * uploads; default 10 s */
} lake_s3_config_t;

void lake_s3_config_default(lake_s3_config_t *c);

typedef struct lake_s3 lake_s3_t;

/* Checks c (CORE_EINVAL, the detail names the setting, never a secret's
 * value) and creates a client holding copies of its strings. Touches no
 * file and no network. CORE_ENOMEM. */
int lake_s3_create(const lake_s3_config_t *c, lake_s3_t **out);
void lake_s3_destroy(lake_s3_t *s); /* NULL is ignored */

/* The object key of name (a path under the topic folder, "date=.../x") in
 * topic: "<prefix>/<topic>/<name>". Into out (cap bytes); CORE_ETOOBIG. */
int lake_s3_key(const lake_s3_t *s, const char *topic, const char *name, char *out, size_t cap);

/* PUTs the file at path as object key (as lake_s3_key() makes it),
 * streamed from the file (read twice: once for its SHA-256, once to send),
 * retrying network errors and 5xx answers up to max_attempts with backoff.
 * Returns 0 when the server took it, or, with a detail naming the
 * endpoint, bucket and key:
 *   CORE_EIO      every attempt failed (network, timeout, 5xx): try later;
 *   CORE_EFAILED  the server refused it (4xx, or a redirect): its status,
 *                 S3 error code and message are in the detail;
 *   CORE_ENOENT   no such file; CORE_ETOOBIG over LAKE_S3_MAX_OBJECT;
 *   CORE_ECLOSED  the deadline (lake_s3_set_deadline) passed;
 *   CORE_ENOMEM.
 * One request at a time per client (one thread). */
int lake_s3_put_file(lake_s3_t *s, const char *key, const char *path);

/* After monotonic time mono_ms (core_mono_ms), requests and backoff waits
 * of s end early with CORE_ECLOSED. INT64_MAX: never (the default).
 * Thread-safe: meant for another thread than the one in put_file. */
void lake_s3_set_deadline(lake_s3_t *s, int64_t mono_ms);

/* The uploader of one archive. Lifecycle: create (copies c; no thread, no
 * file: `strata check` creates archives too) -> start(topic) at the first
 * part's open -> enqueue(name) per file -> destroy.
 *
 * Restarts: each upload that succeeds appends the file's name, size and
 * modification time to a journal, <lake_dir>/<topic>/_s3_journal, whose
 * first line names the destination (endpoint, bucket, prefix). At start
 * the thread scans the topic's date=/hour= folders and queues every
 * .parquet file and _SUCCESS marker the journal does not list as it is
 * now: files published but not uploaded when strata stopped (or died) go
 * after the next start, markers rewritten since go again, and a new
 * destination gets everything. The journal is then rewritten with the
 * entries of files that still exist.
 *
 * Failures: network errors and 5xx are retried without end (backoff up to
 * retry_backoff_max); a refused upload (4xx) is logged as an error and
 * left for the next start. Nothing here fails the archive. */
typedef struct lake_uploader lake_uploader_t;

/* CORE_EINVAL (as lake_s3_create, or no lake_dir), CORE_ENOMEM. */
int lake_uploader_create(const lake_s3_config_t *c, const char *lake_dir, lake_uploader_t **out);
/* Starts the thread for topic; later calls with the same topic do nothing.
 * CORE_EINVAL (another topic), CORE_EIO (no thread). Caller: the archive's
 * thread. */
int lake_uploader_start(lake_uploader_t *u, const char *topic);
/* Queues name (copied), a path under the topic folder such as
 * "date=2024-05-01/hour=13/t+0+42.parquet". Never waits for I/O; past
 * 65,536 queued names the rest is found by a rescan of the folders once
 * the queue is empty. Thread-safe. */
void lake_uploader_enqueue(lake_uploader_t *u, const char *name);
/* Gives queued uploads up to drain_timeout, then stops the thread (an
 * upload in flight is abandoned) and frees u. NULL is ignored. */
void lake_uploader_destroy(lake_uploader_t *u);

/* ---- Reading the lake (reader.c, reader_page.c, thrift_read.c, scan.c;
 * docs/lake.md, "Reading the lake").
 *
 * A reader of the Parquet files the writer above produces and of what
 * DuckDB writes for the same types: flat schemas of BOOLEAN, INT64 (plain,
 * INTEGER(64, signed), TIMESTAMP in millis, micros or nanos, read as
 * microseconds), DOUBLE and BYTE_ARRAY text (STRING, UTF8, ENUM, JSON, or
 * no annotation; values must be UTF-8); REQUIRED or OPTIONAL columns; data
 * page v1, PLAIN values, dictionary pages with PLAIN_DICTIONARY or
 * RLE_DICTIONARY data pages, RLE booleans; codecs UNCOMPRESSED, SNAPPY and
 * ZSTD. Anything else is refused with CORE_EUNSUPP and a detail naming the
 * file and column (and row group and page when found while loading):
 * nested or repeated columns, other types, encrypted files, other codecs
 * and encodings, data page v2.
 *
 * Files are outside bytes: malformed ones give CORE_ECORRUPT, files past a
 * cap (lake_read_limits_t) CORE_ETOOBIG, each with a detail naming the
 * file, row group, column and page; never a crash.
 *
 * Lifecycle: lake_reader_open() (the footer is read and checked) ->
 * statistics, metadata, lake_reader_load() of row groups and
 * lake_reader_value() -> lake_reader_close().
 *
 * Threading: a reader (and a scan) belongs to one thread; distinct readers
 * may be used concurrently. */
typedef struct {
    size_t max_footer_bytes;  /* FileMetaData; 0: 256 MiB (the writer's cap) */
    size_t max_page_bytes;    /* one page, compressed and uncompressed; 0: 512 MiB */
    uint32_t max_page_values; /* values of one page, entries of a dictionary; 0: 2^24 */
    size_t max_value_bytes;   /* one string; 0: 16 MiB (the writer's cap) */
    size_t max_group_bytes;   /* a loaded row group: its chunks' bytes, and its values
                               * decoded (per row 9 bytes, 17 for strings, plus the
                               * strings); 0: 2 GiB */
    size_t max_columns;       /* 0: LAKE_MAX_COLUMNS */
    size_t max_row_groups;    /* 0: 1,000,000 */
} lake_read_limits_t;

/* Fills *l with the defaults above. */
void lake_read_limits_default(lake_read_limits_t *l);

typedef struct lake_reader lake_reader_t;

/* Opens PATH and decodes its footer, checking every column chunk's place
 * in the file. lim is copied (NULL: defaults; a 0 field: its default).
 * Errors: CORE_ENOENT (no such file), CORE_EIO, CORE_ECORRUPT,
 * CORE_EUNSUPP, CORE_ETOOBIG (each with the file in the detail),
 * CORE_ENOMEM. */
int lake_reader_open(const char *path, const lake_read_limits_t *lim, lake_reader_t **out);
/* NULL is ignored. */
void lake_reader_close(lake_reader_t *r);

const char *lake_reader_path(const lake_reader_t *r);
size_t lake_reader_ncolumns(const lake_reader_t *r);
/* Column i as a lake column (name borrowed from the reader), NULL past
 * the end. */
const lake_column_t *lake_reader_column(const lake_reader_t *r, size_t i);
/* Index of the column called name, or -1. */
int lake_reader_find(const lake_reader_t *r, const char *name);
int64_t lake_reader_nrows(const lake_reader_t *r);
size_t lake_reader_ngroups(const lake_reader_t *r);
int64_t lake_reader_group_rows(const lake_reader_t *r, size_t g);
/* The footer's key/value metadata: the value of key (borrowed), or NULL
 * when the key is absent or has no value. */
const char *lake_reader_meta(const lake_reader_t *r, const char *key);

/* Statistics of column c in row group g, as the file states them. */
typedef struct {
    int64_t null_count;      /* -1: not stated */
    bool has_minmax;         /* min and max are set (a NaN bound counts as absent) */
    schema_value_t min, max; /* of the column's type (TIMESTAMP in microseconds);
                              * strings borrow the reader */
} lake_read_stats_t;
/* Fills *out; false when the file states nothing for the chunk. */
bool lake_reader_stats(const lake_reader_t *r, size_t g, size_t c, lake_read_stats_t *out);

/* Reads and decodes row group g's columns for which want[c] is true (want
 * NULL: every column), replacing what an earlier load held. Errors as for
 * open (details name row group, column and page); after an error nothing
 * is loaded. */
int lake_reader_load(lake_reader_t *r, size_t g, const bool *want);
/* The value of column c at row `row` of the loaded row group: SCHEMA_BOOL,
 * SCHEMA_INT, SCHEMA_FLOAT, SCHEMA_STRING or SCHEMA_TIMESTAMP
 * (microseconds) by the column's type, SCHEMA_NULL for a null or a column
 * that was not loaded. Strings borrow the reader until the next load. */
void lake_reader_value(const lake_reader_t *r, size_t c, int64_t row, schema_value_t *out);

/* ---- A partition of an archive in offset order (scan.c).
 *
 * Reads the files of one partition of a topic's archive (see "The archive
 * sink" above: <dir>/<topic>/date=.../hour=.../<topic>+<partition>+<first>
 * .parquet; names starting with '_' or '.' are ignored) and returns
 * their rows with _offset < before in offset order, merged across files
 * and row groups. Rows with _timestamp >= from_us are `needed` and come
 * with their values; the others only with offset and timestamp.
 *
 * Statistics decide what is read: files whose name's first offset is at or
 * past `before` are not opened; row groups with min(_offset) >= before are
 * skipped; row groups with max(_timestamp) < from_us are "old": of these,
 * only the ones that may hold offsets at or after the scan's start are
 * read, and only their _offset and _timestamp columns. The start is the
 * offset just past the last old row group that ends before the first row
 * group that is not old (0 if none): rows before it are neither needed
 * nor reported, on the assumption (the log's own, for seeking by time)
 * that record timestamps grow with offsets. Every row at or after the
 * start below `before` is reported.
 *
 * Each file must have the columns _offset (INT64), _timestamp (TIMESTAMP),
 * _key (STRING) and every column of `fields` with its type; rows within a
 * row group must have increasing offsets. An offset found twice (two files
 * holding one record) is returned once and counted in `duplicates`. */
typedef struct {
    const char *dir; /* the lake folder (an archive's lake_dir) */
    const char *topic;
    int32_t partition;
    int64_t before;              /* rows with _offset < before */
    int64_t from_us;             /* needed: _timestamp >= from_us */
    const lake_column_t *fields; /* the columns returned for needed rows */
    size_t nfields;
    const lake_read_limits_t *limits; /* per file; NULL: defaults */
    size_t max_open;                  /* row groups loaded at once (their offset ranges
                                       * overlap); 0: 256 */
} lake_scan_config_t;

typedef struct {
    int64_t offset;
    int64_t timestamp_us;
    bool needed;
    /* needed rows only: nfields values in the order of `fields` (as
     * lake_reader_value gives them), and the key (NULL: a null key).
     * Borrowed until the next call. */
    const schema_value_t *values;
    const char *key;
    size_t key_len;
    size_t file; /* lake_scan_file() index of the row's file */
} lake_scan_row_t;

typedef struct lake_scan lake_scan_t;

/* Lists the partition's files, reads their footers and plans the read.
 * Copies what it keeps of c. Errors: the reader's (named by file),
 * CORE_EIO (a folder cannot be read), CORE_EINVAL (a file lacks a column
 * or has it with another type), CORE_ENOMEM. A topic folder that does not
 * exist is an empty scan. */
int lake_scan_open(const lake_scan_config_t *c, lake_scan_t **out);
/* The first offset the scan reports rows from (see above). */
int64_t lake_scan_start(const lake_scan_t *s);
/* The next row: 1 with *row set, 0 at the end, or an error (the reader's;
 * CORE_ECORRUPT when offsets do not grow within a row group or the
 * statistics misstate them; CORE_ETOOBIG past max_open). */
int lake_scan_next(lake_scan_t *s, lake_scan_row_t *row);
/* Files of the scan: path (borrowed), whether rows of it were read, and
 * its needed rows returned so far. */
size_t lake_scan_nfiles(const lake_scan_t *s);
const char *lake_scan_file(const lake_scan_t *s, size_t i, bool *read, int64_t *needed);
/* Offsets found in two files (returned once). */
int64_t lake_scan_duplicates(const lake_scan_t *s);
/* NULL is ignored. */
void lake_scan_close(lake_scan_t *s);

/* The lake folder of an archive sink (its config's dir; borrowed). */
const char *lake_archive_dir(const lake_archive_t *a);

#endif
