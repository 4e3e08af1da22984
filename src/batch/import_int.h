/* batch import internals: turning one CSV record into one topic record
 * (import_map.c), used by the import job kind (import.c).
 *
 * A map is built per file from its header row and the job's column
 * mapping: each schema field takes a CSV column (by header name), an
 * expression over the CSV columns, or nothing (null). A record then goes
 * through: field conversion and checks (schema_decode_text), required
 * fields, the schema's rules, and becomes a JSON object, a key and a
 * timestamp, or a rejection with a dlq kind and reason.
 *
 * Threading: a map belongs to one thread.
 */
#ifndef STRATA_BATCH_IMPORT_INT_H
#define STRATA_BATCH_IMPORT_INT_H

#include "batch/batch.h"
#include "batch/csv_int.h"
#include "core/core.h"

/* The largest JSON value of one imported row. Below the default
 * max_message_bytes of a topic (1048588), so a batch of one record always
 * fits a default topic. */
#define IMPORT_VALUE_MAX 1000000

typedef struct import_map import_map_t;

/* Builds the map of file PATH (for messages) from its HEADER record and
 * JOB (borrowed; job->schema must outlive the map). Errors, each naming
 * the file: CORE_EINVAL (a faulty header, a duplicate header name, a
 * mapped column missing from the header, a required field with no
 * source, an expression or rule that does not compile, a key_field or
 * time_field the schema lacks), CORE_ENOMEM. */
int import_map_create(const batch_job_def_t *job, const char *path,
                      const batch_csv_record_t *header, import_map_t **out);
void import_map_destroy(import_map_t *m); /* NULL is ignored */

/* What a record became. */
typedef struct {
    bool valid;
    /* valid: the value is appended to the caller's buffer; the key too,
     * before it, unless it is null. */
    bool has_key;
    size_t key_len, value_len;
    int64_t timestamp_ms; /* from time_field, or -1: now */
    /* invalid: the dlq kind (static) and reason ("PATH line N: ...") */
    const char *kind;
    char reason[512];
    int64_t event_us; /* time_field's value when known, else INT64_MIN */
} import_row_t;

/* Converts REC. A valid row appends [key][value] to OUT. Returns 0 (valid
 * or not), or CORE_ENOMEM / an OUT buffer error (fatal). */
int import_map_row(import_map_t *m, const batch_csv_record_t *rec, core_buf_t *out,
                   import_row_t *row);

/* Number of columns of the header. */
size_t import_map_columns(const import_map_t *m);

/* Renders timestamp US as field F's format writes it (an epoch format: a
 * decimal number, *number set; "auto" and "iso8601": ISO 8601 UTC; a
 * strptime pattern: that pattern, zone "Z"). A pattern may not hold every
 * part of US (no %S, or %y for a year outside 1969-2068): callers that
 * need the same instant back parse the text and compare. Returns the
 * length; CAP must be at least 160. */
size_t import_render_timestamp(const schema_field_t *f, int64_t us, char *buf, size_t cap,
                               bool *number);

#endif
