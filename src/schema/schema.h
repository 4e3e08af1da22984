/*
 * schema: record schemas, validation rules, and decoding of JSON (and CSV
 * text fields) into typed rows.
 *
 * A schema is an ordered list of fields. Each field has a type, optional
 * checks (required, enum, min/max, min_length/max_length, pattern) and, for
 * timestamps, a format. Cross-field rules are expressions; the schema only
 * keeps their text, and the stream runtime compiles and evaluates them
 * (expressions live in stream/, above this module).
 *
 * Lifecycle: schema_create() -> schema_add_field()/schema_add_rule() ->
 * schema_seal() -> decode many rows (read-only, any thread) ->
 * schema_destroy(). A sealed schema is immutable and may be shared between
 * threads; a schema_row_t belongs to one thread.
 *
 * Decoding is the hot path. schema_decode_json() makes one pass over the
 * object with core's zero-copy scanner. Values borrow the input bytes; only
 * strings with escapes are decoded, into the row's scratch buffer, which is
 * reused from record to record, so a warmed-up row decodes without
 * allocating. Fields not in the schema are ignored.
 *
 * Timestamps are int64 microseconds since the Unix epoch, UTC.
 */
#ifndef STRATA_SCHEMA_H
#define STRATA_SCHEMA_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef enum {
    SCHEMA_NULL = 0, /* a value only: absent or JSON null */
    SCHEMA_BOOL,
    SCHEMA_INT,       /* int64 */
    SCHEMA_FLOAT,     /* double */
    SCHEMA_STRING,    /* UTF-8, borrowed bytes */
    SCHEMA_TIMESTAMP, /* int64 microseconds since the epoch, UTC */
    SCHEMA_OBJECT,    /* raw JSON text of the object, borrowed */
    SCHEMA_ARRAY      /* raw JSON text of the array, borrowed */
} schema_type_t;

/* "string", "int", ... ; "null" for SCHEMA_NULL. Static. */
const char *schema_type_name(schema_type_t t);
/* Parses a type name as written in configs. CORE_EINVAL if unknown. */
int schema_type_parse(const char *name, schema_type_t *out);

/* One typed value. String, object and array bytes are borrowed from the
 * decoded input or from a row's scratch: valid until the row is reused. */
typedef struct {
    schema_type_t type;
    union {
        bool b;
        int64_t i; /* SCHEMA_INT, SCHEMA_TIMESTAMP */
        double f;
        struct {
            const char *p;
            size_t len;
        } s; /* SCHEMA_STRING, SCHEMA_OBJECT, SCHEMA_ARRAY */
    } v;
} schema_value_t;

/* Timestamp formats. For SCHEMA_TIMESTAMP_STRFTIME the field's format text
 * is a strptime-style pattern: %Y %y %m %d %H %M %S %f (fraction, 1-9
 * digits) %z (+hh:mm, +hhmm or Z) %% and literal characters; %d, %m, %H,
 * %M, %S accept one or two digits ("1/2/16" with "%d/%m/%y"). Two-digit
 * years are 2000-2068 for 00-68 and 1969-1999 for 69-99 (POSIX). Without a
 * zone the time is UTC. */
typedef enum {
    SCHEMA_TS_AUTO = 0, /* numbers are epoch ms, strings ISO 8601 */
    SCHEMA_TS_EPOCH_S,  /* numbers (or numeric strings); fractions allowed */
    SCHEMA_TS_EPOCH_MS,
    SCHEMA_TS_EPOCH_US,
    SCHEMA_TS_ISO8601, /* 2026-11-22T13:04:05.123456Z, +hh:mm offsets,
                        * 'T' or ' ' separator, date only allowed */
    SCHEMA_TS_STRFTIME
} schema_ts_format_t;

/* A field definition as configured. Strings are borrowed by
 * schema_add_field(), which copies what it keeps. */
typedef struct {
    const char *name; /* JSON member name; also the column name */
    schema_type_t type;
    bool required;         /* absent or null is an error */
    bool has_min, has_max; /* numeric bounds (int, float, timestamp in us) */
    double min, max;
    int64_t min_length;             /* strings, in characters (code points); -1 none */
    int64_t max_length;             /* -1 none */
    const char *const *enum_values; /* strings, or NULL */
    size_t n_enum;
    const char *pattern; /* POSIX extended regex, or NULL; whole value
                          * must match (anchors are implied) */
    const char *format;  /* timestamps: "auto", "epoch_s", "epoch_ms",
                          * "epoch_us", "iso8601", or a strptime-style
                          * pattern containing '%'; NULL is "auto" */
} schema_field_def_t;

typedef struct schema_fast_pattern schema_fast_pattern_t;

/* A compiled field. Read-only after schema_seal(). */
typedef struct {
    char *name;
    size_t name_len;
    schema_type_t type;
    bool required;
    bool has_min, has_max;
    double min, max;
    int64_t min_length, max_length;
    char **enum_values;
    size_t *enum_lens;
    size_t n_enum;
    char *pattern;
    regex_t regex;               /* valid when pattern != NULL */
    schema_fast_pattern_t *fast; /* the pattern's fast matcher, or NULL (regexec) */
    schema_ts_format_t ts_format;
    char *ts_pattern; /* SCHEMA_TS_STRFTIME */
} schema_field_t;

/* A cross-field rule: a named boolean expression over the fields. */
typedef struct {
    char *name;
    char *expr;    /* expression text, compiled by stream/ */
    char *message; /* shown in the dlq reason; may be NULL */
} schema_rule_t;

typedef struct schema schema_t;

/* Limits applied by every decode. */
#define SCHEMA_MAX_FIELDS        256
#define SCHEMA_DEFAULT_MAX_VALUE (64 * 1024) /* bytes per string/object/array */
#define SCHEMA_DEFAULT_MAX_DEPTH 32

/* Creates an empty schema named `name` (copied). CORE_ENOMEM. */
int schema_create(const char *name, schema_t **out);
/* NULL is ignored. */
void schema_destroy(schema_t *s);

/* Adds a field. Errors (CORE_EINVAL, with a detail naming the field and the
 * problem): duplicate or empty name, more than SCHEMA_MAX_FIELDS, min >
 * max, a bad regex, a format on a non-timestamp field, an unknown format
 * directive, enum on a non-string field, length bounds on a non-string. */
int schema_add_field(schema_t *s, const schema_field_def_t *def);
/* Adds a cross-field rule (texts copied; message may be NULL). */
int schema_add_rule(schema_t *s, const char *name, const char *expr, const char *message);
/* Caps: largest string/object/array value in bytes, and JSON nesting depth
 * (capped at CORE_JSON_MAX_DEPTH). 0 keeps the default. Call before
 * schema_seal(); ignored after. */
void schema_set_limits(schema_t *s, size_t max_value_bytes, size_t max_depth);
/* Freezes the schema; required before decoding. Builds the name lookup. */
int schema_seal(schema_t *s);

const char *schema_name(const schema_t *s);
size_t schema_field_count(const schema_t *s);
const schema_field_t *schema_field(const schema_t *s, size_t i);
/* Index of the field called name[0..len), or -1. */
int schema_field_index(const schema_t *s, const char *name, size_t len);
size_t schema_rule_count(const schema_t *s);
const schema_rule_t *schema_rule(const schema_t *s, size_t i);

/* Why a record failed. `field` is the offending field's index or -1.
 * `reason` is a complete sentence fragment for the dlq, e.g.
 *   field "price": expected float, got string "abc"
 *   field "symbol": required field is missing
 *   invalid JSON at byte 17: expected ':' after object key
 *   field "note": value of 70000 bytes exceeds the limit of 65536 */
typedef enum {
    SCHEMA_ERR_NONE = 0,
    SCHEMA_ERR_JSON,     /* not JSON, or not an object */
    SCHEMA_ERR_TYPE,     /* wrong type, or unparsable timestamp */
    SCHEMA_ERR_REQUIRED, /* required field missing or null */
    SCHEMA_ERR_CHECK,    /* enum, min/max, length or pattern */
    SCHEMA_ERR_TOOBIG,   /* a value or the nesting exceeds a cap */
    SCHEMA_ERR_RULE      /* a cross-field rule (set by stream/) */
} schema_err_kind_t;

#define SCHEMA_REASON_MAX 256
typedef struct {
    schema_err_kind_t kind;
    int field;
    char reason[SCHEMA_REASON_MAX];
} schema_error_t;

/* "invalid_json", "type", "required", "check", "too_big", "rule". Static. */
const char *schema_err_kind_name(schema_err_kind_t k);

/* A decoded row: one value per schema field, in schema order. Owned by one
 * thread; reuse it for every record. */
typedef struct {
    const schema_t *schema;
    schema_value_t *values; /* schema_field_count() entries */
    core_buf_t scratch;     /* decoded strings; reset per decode */
} schema_row_t;

/* Allocates values for a sealed schema. CORE_ENOMEM. */
int schema_row_init(schema_row_t *row, const schema_t *s);
void schema_row_fini(schema_row_t *row);

/* Decodes one JSON object into row and applies every field check (not the
 * rules). Absent fields are SCHEMA_NULL. Ints accept JSON integers only
 * (and floats with an integral value such as 3.0); floats accept any
 * number; bools accept true/false; strings accept strings; timestamps
 * follow their format. Returns 0, or CORE_EINVAL with *err filled (the
 * first failure in document order; required fields are checked after the
 * pass; input that is not a valid JSON object is always SCHEMA_ERR_JSON,
 * or SCHEMA_ERR_TOOBIG past the depth cap, wherever a field failed
 * before; a schema field's name appearing twice is SCHEMA_ERR_JSON).
 * CORE_ENOMEM if the scratch buffer cannot grow. The row's values borrow
 * json until the next decode. */
int schema_decode_json(const schema_t *s, const char *json, size_t len, schema_row_t *row,
                       schema_error_t *err);

/* Converts text (e.g. a CSV cell) to field i's type and checks it, storing
 * the value in row->values[i]. Empty text and "nan"/"NaN"/"null" (any case)
 * become SCHEMA_NULL (an error if required). Ints accept an optional sign
 * and digits; floats what strtod accepts (no hex, no inf/nan); bools
 * true/false/1/0 (any case); timestamps their format. Strings borrow text.
 * CORE_EINVAL with *err on failure. */
int schema_decode_text(const schema_t *s, size_t i, const char *text, size_t len, schema_row_t *row,
                       schema_error_t *err);
/* Resets row to all-null and empties its scratch (before schema_decode_text
 * calls for a new row). */
void schema_row_clear(schema_row_t *row);
/* Checks required fields of a row filled by schema_decode_text. */
int schema_row_check_required(const schema_t *s, const schema_row_t *row, schema_error_t *err);

/* Timestamp parsing, exposed for expressions and tests. text[0..len) in
 * `format` (pattern for SCHEMA_TS_STRFTIME) to microseconds. CORE_EINVAL
 * when the text does not match or the date is impossible (31/02). */
int schema_parse_timestamp(schema_ts_format_t format, const char *pattern, const char *text,
                           size_t len, int64_t *us);
/* Formats microseconds as ISO 8601 UTC, "2026-11-22T13:04:05.123456Z"
 * (fraction omitted when zero). Returns the length written (at most 32),
 * buf must hold 33 bytes. */
size_t schema_format_timestamp(int64_t us, char *buf);
/* Days since the epoch to civil date and back (proleptic Gregorian). */
void schema_civil_from_days(int64_t days, int *year, int *month, int *day);
int64_t schema_days_from_civil(int year, int month, int day);

#endif
