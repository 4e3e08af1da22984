/* batch CSV reader (internal to batch/): RFC 4180 records streamed from a
 * file or a memory block, with bounded memory.
 *
 * What it reads:
 *   - fields separated by a one-byte delimiter (',' by default);
 *   - records ended by LF or CRLF (a lone CR inside a field is data; a CR
 *     right before the end of the input is dropped);
 *   - quoted fields: "..." with "" for a quote, holding delimiters, CR and
 *     LF; a quote inside an unquoted field is kept as a literal character
 *     (lenient, as most writers and readers are);
 *   - an optional UTF-8 byte order mark at the very start;
 *   - empty lines are skipped (they are not records).
 * A record that breaks a rule (a character after a closing quote, an
 * unterminated quote at the end of the input, a record over the length
 * cap, more fields than the field cap) is still returned, with `fault`
 * set and `error` saying what and where; reading goes on with the next
 * record. Only I/O errors stop the reader.
 *
 * Line numbers are physical lines (LF count + 1) where a record starts,
 * 1-based; the byte order mark does not count.
 *
 * Memory: one read buffer (256 KiB) plus, per record, the decoded fields
 * and the raw bytes, each capped at max_record bytes, and the field table,
 * capped at max_fields entries. Most records are returned in place: their
 * fields and raw bytes point into the read buffer, and only fields with
 * "" escapes are copied.
 *
 * Threading: a reader belongs to one thread.
 */
#ifndef STRATA_BATCH_CSV_INT_H
#define STRATA_BATCH_CSV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define BATCH_CSV_MAX_RECORD (1u << 20) /* default cap: bytes of one record */
#define BATCH_CSV_MAX_FIELDS 4096       /* default cap: fields of one record */

typedef struct batch_csv batch_csv_t;

typedef struct {
    char delimiter;    /* 0: ','; '"', CR and LF are refused */
    size_t max_record; /* 0: BATCH_CSV_MAX_RECORD */
    size_t max_fields; /* 0: BATCH_CSV_MAX_FIELDS */
    bool reference;    /* tests: read every record with the byte-at-a-time
                        * reference reader (same results, slower) */
} batch_csv_opts_t;

typedef enum {
    BATCH_CSV_OK = 0,
    BATCH_CSV_BAD_QUOTE,    /* a character other than a delimiter or line end
                             * after a closing quote (kept as data) */
    BATCH_CSV_UNTERMINATED, /* the input ended inside a quoted field */
    BATCH_CSV_TOO_LONG,     /* the record exceeds max_record bytes */
    BATCH_CSV_TOO_MANY      /* the record has more than max_fields fields */
} batch_csv_fault_t;

typedef struct {
    const char *p; /* decoded bytes (quotes removed, "" made "); borrowed */
    size_t len;
    bool quoted; /* the field was written in quotes */
} batch_csv_field_t;

/* One record. Everything borrowed from the reader until its next call. */
typedef struct {
    const batch_csv_field_t *fields;
    size_t nfields; /* for a faulty record, the fields read before the cap */
    int64_t line;   /* physical line where the record starts (1-based) */
    int64_t start;  /* byte offset of its first byte in the input */
    int64_t end;    /* byte offset just past its line terminator */
    const char *raw;
    size_t raw_len; /* the record's bytes without the terminator, at most
                     * max_record (cut for BATCH_CSV_TOO_LONG) */
    batch_csv_fault_t fault;
    char error[200]; /* "line 7: ..." when fault is set, else "" */
} batch_csv_record_t;

/* Opens PATH for reading. CORE_ENOENT / CORE_EIO (detail names the path),
 * CORE_EINVAL for bad options, CORE_ENOMEM. */
int batch_csv_open(const char *path, const batch_csv_opts_t *opts, batch_csv_t **out);
/* Reads p[0..n) (borrowed; must outlive the reader). NAME (copied) stands
 * for the file in errors. */
int batch_csv_open_mem(const char *name, const void *p, size_t n, const batch_csv_opts_t *opts,
                       batch_csv_t **out);
void batch_csv_close(batch_csv_t *c); /* NULL is ignored */

/* The next record: 1 with *rec filled (check rec->fault), 0 at the end of
 * the input, or CORE_EIO / CORE_ENOMEM (detail names the file). */
int batch_csv_next(batch_csv_t *c, batch_csv_record_t *rec);

/* Moves forward to byte OFFSET, which must be a record boundary at or
 * after the current position (a record's `end`), numbering the next
 * record's line from LINE. The bytes skipped are read (and hashed).
 * CORE_EINVAL if OFFSET is behind the position, CORE_ETRUNC if the input
 * ends first, CORE_EIO. */
int batch_csv_skip_to(batch_csv_t *c, int64_t offset, int64_t line);

/* The physical line of the next unread byte: after a record, the line
 * that follows it (what batch_csv_skip_to takes with the record's end). */
int64_t batch_csv_line(const batch_csv_t *c);

/* Bytes read so far, and the SHA-256 of them: after batch_csv_next has
 * returned 0, the digest of the whole input. */
int64_t batch_csv_bytes_read(const batch_csv_t *c);
void batch_csv_digest(const batch_csv_t *c, uint8_t out[32]);

#endif
