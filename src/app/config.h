/*
 * config.h - strata's configuration: the data model of one YAML config file,
 * its loader, the error collector, and the key tables that drive them
 * (internal to app/).
 *
 * Lifecycle: app_config_load() or app_config_load_string() -> read the
 * structs -> (other code may append errors with app_config_error()) ->
 * app_config_print_errors() -> app_config_destroy(). A loaded config is
 * read-only; nothing in it refers to the YAML text or to the environment.
 *
 * Loading, in order:
 *   1. every key takes its default from the key tables (config_keys.c);
 *   2. the file's values replace them (`${VAR}` and `${VAR:default}` are
 *      expanded inside scalar values first);
 *   3. STRATA_<SECTION>_<KEY> environment variables replace the scalar keys
 *      of the data, store, broker, kafka, http and s3 sections (the
 *      environment beats the file, the file beats the defaults);
 *   4. computed defaults are filled in (store.url from data.dir, a
 *      pipeline's schema from its topic, view and table names from the
 *      pipeline name, the s3 settings from the AWS_* variables);
 *   5. cross-references are checked (topics, schemas, fields, names).
 * Every problem found is recorded, with its file, line, column and key path,
 * and loading goes on, so one run reports all of them.
 *
 * Memory: every string and array below is owned by the app_config_t (an
 * arena tagged CORE_MEM_APP) and lives until app_config_destroy(). Callers
 * borrow them.
 *
 * Threading: a config belongs to one thread while it loads and while errors
 * are appended; once loading is done and no one appends, any number of
 * threads may read it. The loader reads the environment (getenv).
 */
#ifndef STRATA_APP_CONFIG_H
#define STRATA_APP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "app/app.h"
#include "core/core.h"

/* Exit code of `strata check` (and of any command) for an invalid config:
 * EX_CONFIG from sysexits.h (shared/reference/conventions.md). */
#define APP_EXIT_CONFIG 78

/* Caps on what a config may hold. Past them the loader reports an error
 * instead of allocating. */
#define APP_CONFIG_MAX_BYTES  (4u << 20) /* the file */
#define APP_CONFIG_MAX_DEPTH  32         /* YAML nesting */
#define APP_CONFIG_MAX_NODES  200000     /* YAML scalars, sequences and mappings */
#define APP_CONFIG_MAX_ITEMS  4096       /* entries of one list or mapping */
#define APP_CONFIG_MAX_SCALAR 65536      /* bytes of one value, after ${} expansion */
#define APP_CONFIG_MAX_ERRORS 1000       /* errors kept; later ones are counted only */
#define APP_IDENT_MAX         63         /* [a-z_][a-z0-9_]{0,62} */

/* ------------------------------------------------------------------------
 * The data model. Durations are milliseconds. Strings are NUL-terminated
 * and never NULL unless the comment says "or NULL" (an optional key that
 * was not given). A config that failed to load may hold NULL anywhere: a
 * value that was invalid is left unset (a bad list entry is a NULL entry).
 * `line` fields are 1-based lines in the config file (0 for a value that
 * came from a default or the environment).
 * ------------------------------------------------------------------------ */

typedef enum {
    APP_FIELD_STRING,
    APP_FIELD_INT,
    APP_FIELD_FLOAT,
    APP_FIELD_BOOL,
    APP_FIELD_TIMESTAMP,
    APP_FIELD_OBJECT,
    APP_FIELD_ARRAY
} app_field_type_t;

typedef enum {
    APP_PIPE_TABLE,
    APP_PIPE_AGGREGATE,
    APP_PIPE_DETECT,
    APP_PIPE_CDC,
    APP_PIPE_ARCHIVE
} app_pipe_kind_t;
/* archive: the Parquet codec, and where a record's date and hour come from */
typedef enum { APP_CODEC_ZSTD, APP_CODEC_SNAPPY, APP_CODEC_NONE } app_codec_t;
typedef enum { APP_PART_EVENT_TIME, APP_PART_ARRIVAL } app_partition_by_t;
typedef enum { APP_WIN_TUMBLING, APP_WIN_HOPPING, APP_WIN_SESSION } app_win_kind_t;
typedef enum { APP_EMIT_UPDATE, APP_EMIT_FINAL } app_emit_t;
typedef enum { APP_RULE_THRESHOLD, APP_RULE_ZSCORE, APP_RULE_VELOCITY } app_rule_kind_t;
typedef enum {
    APP_AGG_COUNT,
    APP_AGG_SUM,
    APP_AGG_MIN,
    APP_AGG_MAX,
    APP_AGG_AVG,
    APP_AGG_FIRST,
    APP_AGG_LAST,
    APP_AGG_STDDEV
} app_agg_fn_t;

typedef enum {
    APP_JOB_IMPORT,
    APP_JOB_RECOMPUTE,
    APP_JOB_SQL,
    APP_JOB_EXPORT,
    APP_JOB_RETENTION
} app_job_kind_t;
typedef enum { APP_CATCHUP_NONE, APP_CATCHUP_LAST, APP_CATCHUP_ALL } app_catchup_t;
typedef enum { APP_EXPORT_CSV, APP_EXPORT_PARQUET } app_export_format_t;
/* The generator kinds, in the order of gen_kinds() (src/gen/gen.h); the
 * names are gen/'s. */
typedef enum {
    APP_GEN_TRANSACTIONS,
    APP_GEN_STOCKS,
    APP_GEN_APP,
    APP_GEN_WEB,
    APP_GEN_CLICKSTREAM,
    APP_GEN_CDC,
    APP_GEN_EXTERNAL,
    APP_GEN_NEXMARK
} app_gen_kind_t;

/* Names as written in configs ("string", "aggregate", "hopping", "final",
 * "zscore", "stddev"). Static; "?" for a value out of range. */
const char *app_field_type_name(app_field_type_t t);
const char *app_pipe_kind_name(app_pipe_kind_t k);
const char *app_win_kind_name(app_win_kind_t k);
const char *app_emit_name(app_emit_t e);
const char *app_rule_kind_name(app_rule_kind_t k);
const char *app_agg_fn_name(app_agg_fn_t f);
const char *app_job_kind_name(app_job_kind_t k);
const char *app_catchup_name(app_catchup_t c);
const char *app_gen_kind_name(app_gen_kind_t k); /* "stocks": the name gen_create() takes */

typedef struct {
    char *name;
    int64_t partitions;      /* 1..1024 */
    char *flush;             /* "always", "never" or "interval:<ms>" (checked) */
    int64_t retention_ms;    /* -1 = forever */
    int64_t retention_bytes; /* -1 = unlimited */
    int64_t segment_bytes;
    char *schema; /* or NULL */
    int line;
} app_topic_t;

typedef struct {
    char *name;
    app_field_type_t type;
    bool required;
    bool has_min, has_max; /* numeric types */
    double min, max;
    int64_t min_length, max_length; /* strings; -1 = none */
    char **enum_values;             /* strings; n_enum of them, may be 0 */
    size_t n_enum;
    char *pattern; /* POSIX extended regex, or NULL (compiled by schema/) */
    char *format;  /* timestamps: auto, epoch_s, epoch_ms, epoch_us, iso8601 or a
                    * strptime-style pattern with '%'; default "auto" */
    int line;
} app_field_t;

typedef struct {
    char *name;
    char *check;   /* expression text, compiled by stream/ */
    char *message; /* or NULL */
    int line;
    int check_line;
} app_schema_rule_t;

typedef struct {
    char *name;
    int64_t max_value_bytes;
    app_field_t *fields;
    size_t n_fields;
    app_schema_rule_t *rules;
    size_t n_rules;
    int line;
} app_schema_t;

/* One entry of an aggregate pipeline's `aggregates` mapping: name: fn(arg). */
typedef struct {
    char *name; /* output column, an identifier */
    app_agg_fn_t fn;
    char *arg; /* the expression text between the parentheses, trimmed; "" for count() */
    int line;
    int col; /* of the value, so expression errors can point into it */
} app_aggregate_t;

typedef struct {
    char *name;
    app_rule_kind_t type;
    char *when;          /* threshold: expression; else NULL */
    char *value;         /* threshold: expression reported with the anomaly, or NULL */
    char *field;         /* zscore: the numeric field; else NULL */
    double threshold;    /* zscore: |z| above this is an anomaly */
    int64_t min_history; /* zscore: observations before it may fire */
    int64_t window_ms;   /* velocity */
    int64_t limit;       /* velocity: more than this many per window fires */
    int line;
    int when_line;
    int value_line;
} app_detect_rule_t;

typedef struct {
    app_win_kind_t kind;
    int64_t size_ms;  /* tumbling, hopping */
    int64_t slide_ms; /* hopping; size is a multiple of it */
    int64_t gap_ms;   /* session */
} app_window_t;

typedef struct {
    char *name; /* identifier */
    app_pipe_kind_t kind;
    char *topic;
    char *schema; /* resolved: the pipeline's own or its topic's */
    char *filter; /* or NULL */
    int filter_line;
    int64_t commit_interval_ms;
    int64_t commit_records;
    char *key; /* aggregate, detect: expression, or NULL (one key) */
    int key_line;
    char *event_time; /* a timestamp field, or NULL (the record timestamp) */
    int event_time_line;
    /* aggregate */
    bool has_window;
    app_window_t window;
    int64_t max_ooo_ms;
    int64_t idle_timeout_ms;
    int64_t allowed_lateness_ms;
    app_emit_t emit;
    char *view; /* resolved: defaults to the pipeline name; NULL unless aggregate */
    app_aggregate_t *aggregates;
    size_t n_aggregates;
    /* table, cdc */
    char *table; /* resolved: defaults to the pipeline name; NULL unless table/cdc */
    char **primary_key;
    size_t n_primary_key;
    char **columns; /* 0 = every field of the schema */
    size_t n_columns;
    /* detect */
    app_detect_rule_t *rules;
    size_t n_rules;
    /* archive */
    char *lake_dir; /* resolved: <data.dir>/lake when absent; NULL unless archive */
    app_codec_t codec;
    app_partition_by_t partition_by;
    int64_t roll_rows;
    int64_t roll_bytes;
    int64_t roll_age_ms;
    int64_t max_open_files;
    bool upload;       /* archive: upload to the s3 section's bucket, if it names one */
    bool upload_given; /* the file set `upload` */
    int line;
} app_pipeline_t;

/* One column of an import job: a schema field from a CSV column (by its
 * header) or from an expression over the CSV columns. */
typedef struct {
    char *field;
    char *column; /* or NULL: the field's own name */
    char *expr;   /* or NULL */
    int line;
} app_import_column_t;

typedef struct {
    char *name; /* identifier */
    app_job_kind_t kind;
    char *schedule; /* cron text, or NULL: manual only (checked by batch/) */
    int schedule_line;
    char *timezone; /* default "UTC" */
    char **after;
    size_t n_after;
    app_catchup_t catchup;
    int64_t max_attempts;
    int64_t retry_backoff_ms;
    /* import */
    char *path;
    char *topic;
    char *schema; /* resolved from the topic when absent */
    char *key;
    char *time_field;
    app_import_column_t *columns;
    size_t n_columns;
    char *delimiter;
    /* recompute */
    char *pipeline;
    int64_t lookback_ms;
    /* sql */
    char **sql;
    size_t n_sql;
    /* export */
    char *source;
    char *output;
    app_export_format_t format;
    char *time_column;
    /* retention */
    int64_t max_age_ms;
    char **tables;
    size_t n_tables;
    char **topics;
    size_t n_topics;
    int line;
} app_job_t;

/* One generator of the `generators` section: a simulator of gen/ that
 * `strata up` runs into a topic of the config (docs/generators.md). */
typedef struct {
    char *name; /* identifier */
    app_gen_kind_t kind;
    char *topic;
    double rate;      /* records per second, of wall time and of event time */
    int64_t count;    /* records per run of `strata up`; -1 = until it stops */
    int64_t seed;     /* resolved: a hash of the name when not given */
    bool has_seed;    /* the file gave it */
    int64_t start_ms; /* event time of the first record (ms since the epoch) */
    bool has_start;   /* false: start at the wall clock when `strata up` starts */
    double invalid_ratio, late_ratio, anomaly_ratio;
    bool enabled;
    int line;
} app_generator_t;

/* One recorded problem. Printed as "SOURCE:LINE:COL: TEXT" (":COL" left
 * out when 0, ":LINE:COL" when line is 0). TEXT is "path.to.key: message"
 * by convention. */
typedef struct {
    const char *source; /* the config's name, or "$STRATA_..." for the environment */
    int line, col;
    char *text;
} app_config_error_t;

typedef struct {
    char *name; /* the file path, or the name given to load_string */
    char *data_dir;
    char *store_url; /* "sqlite:<path>" or "postgresql://..." */
    bool broker_enabled;
    char *broker_listen;     /* host:port */
    char *kafka_bootstrap;   /* host:port[,...] of an external Kafka cluster; NULL: none */
    char **kafka_properties; /* librdkafka "name=value" properties */
    size_t n_kafka_properties;
    bool http_enabled;
    char *http_listen; /* host:port */
    int64_t http_max_body_bytes;
    int64_t http_max_header_bytes;
    int64_t http_max_connections;
    int64_t http_threads;
    int64_t http_idle_timeout_ms;
    char *http_token; /* or NULL: none (a secret: never printed or logged) */
    /* s3: where archives upload the lake (docs/lake.md, "Uploading to S3").
     * With no bucket nothing is uploaded and the rest stays as given;
     * with one, check_refs fills in the AWS_* fallbacks and defaults. */
    char *s3_endpoint;          /* resolved: AWS_ENDPOINT_URL, else AWS's for the region */
    char *s3_region;            /* resolved: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1 */
    char *s3_bucket;            /* or NULL: no uploads */
    char *s3_prefix;            /* or NULL: none */
    char *s3_access_key_id;     /* resolved: AWS_ACCESS_KEY_ID */
    char *s3_secret_access_key; /* resolved: AWS_SECRET_ACCESS_KEY (a secret: never
                                 * printed or logged) */
    char *s3_session_token;     /* or NULL; AWS_SESSION_TOKEN with AWS_ACCESS_KEY_ID
                                 * (a secret) */
    bool s3_path_style;
    int64_t s3_connect_timeout_ms;
    int64_t s3_timeout_ms; /* a request moving no byte this long fails */
    int64_t s3_max_attempts;
    int64_t s3_retry_backoff_ms;
    int64_t s3_retry_backoff_max_ms;
    int64_t s3_drain_timeout_ms;
    app_topic_t *topics;
    size_t n_topics;
    app_schema_t *schemas;
    size_t n_schemas;
    app_pipeline_t *pipelines;
    size_t n_pipelines;
    app_job_t *jobs;
    size_t n_jobs;
    app_generator_t *generators;
    size_t n_generators;

    /* Private to the loader (config.c, config_refs.c). */
    core_arena_t *arena;
    core_map_t *locs; /* while loading: field address -> where its value was written */
    app_config_error_t *errors;
    size_t n_errors, cap_errors;
    size_t n_dropped; /* errors past APP_CONFIG_MAX_ERRORS */
} app_config_t;

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

/* Loads the config file at `path` (at most APP_CONFIG_MAX_BYTES).
 * Returns 0 when the config is valid, or:
 *   CORE_EINVAL  the config has errors (syntax, types, bounds, references);
 *   CORE_ETOOBIG the file exceeds the cap;
 *   CORE_ENOENT / CORE_EIO  the file cannot be read;
 *   CORE_ENOMEM.
 * In every case but CORE_ENOMEM, *out is set to a config owned by the
 * caller (destroy it), holding every error found, so that the caller can
 * print them all; on CORE_ENOMEM *out may be NULL. Reading a file that
 * cannot be read is itself recorded as an error of the config. */
int app_config_load(const char *path, app_config_t **out);

/* The same for text[0..len) (need not be NUL-terminated; may hold any
 * bytes). `name` (copied) stands for the file name in errors, such as
 * "<demo>". Caps, returns and ownership as app_config_load(). */
int app_config_load_string(const char *name, const char *text, size_t len, app_config_t **out);

/* Frees the config and everything in it. NULL is ignored. */
void app_config_destroy(app_config_t *cfg);

/* Lookups by exact name; NULL when absent. Borrowed from the config. */
const app_topic_t *app_config_find_topic(const app_config_t *cfg, const char *name);
const app_schema_t *app_config_find_schema(const app_config_t *cfg, const char *name);
const app_pipeline_t *app_config_find_pipeline(const app_config_t *cfg, const char *name);
const app_job_t *app_config_find_job(const app_config_t *cfg, const char *name);
const app_field_t *app_schema_find_field(const app_schema_t *schema, const char *name);

/* Parses a duration as configs write it: "250ms", "5s", "1m", "1h", "1d",
 * or a bare non-negative integer of milliseconds. 0 or CORE_EINVAL
 * (CORE_ERANGE past INT64_MAX ms). */
int app_parse_duration(const char *s, int64_t *ms);

/* True if s matches [a-z_][a-z0-9_]{0,62}, the rule for table, view,
 * column and pipeline names. */
bool app_ident_valid(const char *s);

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* Appends an error at line/col of the config file (0 = unknown). The text
 * should read "path.to.key: message", e.g.
 *   app_config_error(cfg, p->filter_line, 0, "pipelines[%zu].filter: %s", i, why);
 * Never fails: when memory runs out or APP_CONFIG_MAX_ERRORS is reached the
 * error is still counted. Not thread-safe (see the header comment). */
void app_config_error(app_config_t *cfg, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Errors recorded so far, including dropped ones. */
size_t app_config_error_count(const app_config_t *cfg);

/* The i-th kept error (i < number kept), in the order recorded; NULL past
 * the end. Borrowed. */
const app_config_error_t *app_config_error_get(const app_config_t *cfg, size_t i);

/* Prints every kept error, one per line, sorted by line then column
 * (errors without a line first, ties in recorded order), then a line
 * saying how many were dropped, if any. Returns the number of errors. */
size_t app_config_print_errors(const app_config_t *cfg, FILE *f);

/* Internal to the loader. app_config_check_refs() fills in computed
 * defaults and checks what spans several keys: unique names, references
 * between topics, schemas, pipelines and fields, reserved and clashing
 * output names, window shapes. The loader runs it once, after parsing and
 * the environment overrides. app_config_value_pos() says where the value
 * stored at `field` was written in the file, while loading; for a value
 * from a default or the environment it gives `fallback` and column 0. */
void app_config_check_refs(app_config_t *cfg);
/* The jobs section's checks (config_jobs.c), called by check_refs. */
void app_config_check_jobs(app_config_t *cfg);
/* The generators section's checks and computed defaults (config_gen.c),
 * called by check_refs: unique names, topics of the config, the ratios'
 * sum, the seed from the name. */
void app_config_check_generators(app_config_t *cfg);
/* The seed of a generator that gives none: FNV-1a (64 bit) of its name
 * with the top bit cleared, so 0 to 2^63-1 like `strata gen --seed`. */
int64_t app_generator_default_seed(const char *name);

/* "Did you mean": feed every candidate to app_suggest_consider(); the
 * closest one within a third of the word's length (at least 1 edit) wins.
 * app_suggest_text() gives " (did you mean 'x'?)" in buf, or "". */
typedef struct {
    const char *word; /* set by the caller */
    const char *best;
    size_t dist;
} app_suggest_t;
void app_suggest_consider(app_suggest_t *s, const char *cand);
const char *app_suggest_text(const app_suggest_t *s, char *buf, size_t cap);
void app_config_value_pos(const app_config_t *cfg, const void *field, int fallback, int *line,
                          int *col);

/* Semantic checks of the pipelines (expressions and the like) that need the
 * stream module. Appends its findings with app_config_error() and returns
 * how many it added. Implemented outside this file set (by the stream
 * wiring); declared here so that `strata check` can call it once it exists. */
int app_check_pipelines(app_config_t *cfg);

/* ------------------------------------------------------------------------
 * Key tables (config_keys.c). One table per section describes each key's
 * name, type, default, bounds and help (STYLE.md rule 10). The loader, the
 * environment overrides and `strata check --print-keys` all read them.
 * ------------------------------------------------------------------------ */

typedef enum {
    APP_KEY_STRING,    /* any non-empty text */
    APP_KEY_NAME,      /* 1..255 printable bytes (schema, field and rule names) */
    APP_KEY_IDENT,     /* [a-z_][a-z0-9_]{0,62} */
    APP_KEY_TOPIC,     /* Kafka's topic name rule */
    APP_KEY_EXPR,      /* expression text, kept for stream/ to compile */
    APP_KEY_PATH,      /* a file system path */
    APP_KEY_BOOL,      /* true/false/yes/no */
    APP_KEY_INT,       /* int64_t, bounds min..max */
    APP_KEY_SIZE,      /* int64_t bytes; an integer, or with KiB, MiB or GiB */
    APP_KEY_FLOAT,     /* double, bounds fmin..fmax when fmin < fmax */
    APP_KEY_DURATION,  /* int64_t ms, bounds min..max */
    APP_KEY_ENUM,      /* int: index into choices */
    APP_KEY_FLUSH,     /* always | never | interval:<ms> */
    APP_KEY_LISTEN,    /* host:port */
    APP_KEY_STORE_URL, /* sqlite:<path> | postgresql://... */
    APP_KEY_TS_FORMAT, /* timestamp format name or strptime pattern */
    APP_KEY_RATE,      /* double per second: N or N/s, bounds fmin..fmax */
    APP_KEY_TIME,      /* int64_t ms since the epoch: ISO 8601 text or ms */
    APP_KEY_LIST,      /* sequence of scalars of type `elem`: char ** + size_t count */
    APP_KEY_SECTION,   /* nested mapping whose keys land in the same struct */
    APP_KEY_ITEMS,     /* sequence of mappings: item array + size_t count */
    APP_KEY_AGGREGATES /* mapping of output name -> "fn(args)" */
} app_key_type_t;

/* Offsets into the struct being filled, stored +1 so that 0 means "none". */
#define APP_OFF(type, member) (offsetof(type, member) + 1)

/* Variants: a section may have a discriminator, an ENUM key (a pipeline's
 * `kind`, a window's `type`) whose value selects which other keys apply.
 * Bit i stands for choice i. */
#define APP_VAR(i)      (1u << (i))
#define APP_VAR_ALL     (~0u)
#define APP_MAX_SECTION 64 /* keys per section (a bitmask tracks them) */

typedef struct app_section app_section_t;

typedef struct {
    const char *name;
    app_key_type_t type;
    size_t off;                   /* APP_OFF of the value (SECTION: unused) */
    size_t off2;                  /* APP_OFF of: the count (LIST, ITEMS, AGGREGATES), or a
                                   * bool set when the key is given (others), or 0 */
    size_t line_off;              /* APP_OFF of an int receiving the value's line, or 0 */
    const char *def;              /* default, as config text parsed like a value; or NULL */
    const char *def_doc;          /* the default as documented when it is computed */
    int64_t min, max;             /* INT, SIZE, DURATION, LIST (items) */
    double fmin, fmax;            /* FLOAT */
    const char *const *choices;   /* ENUM: NULL-terminated */
    app_key_type_t elem;          /* LIST: element type */
    const app_section_t *section; /* SECTION, ITEMS */
    unsigned variants;            /* where the key applies; 0 = everywhere */
    unsigned required;            /* variants where it must be given */
    const char *help;
} app_key_t;

struct app_section {
    const char *name; /* "pipelines[]", "window" */
    const app_key_t *keys;
    size_t n_keys;
    size_t item_size;          /* ITEMS sections: sizeof the item */
    size_t line_off;           /* APP_OFF of the item's int line, or 0 */
    const char *discriminator; /* ENUM key choosing the variant, or NULL */
    bool env;                  /* scalar keys take STRATA_<SECTION>_<KEY> */
};

/* Converts text s to key k's type into dst: `type` is k->type, or k->elem
 * for the elements of a LIST. Strings are copied into `arena`. Returns
 * false, with why[0..cap) saying what is wrong ("invalid duration 'ten'
 * ..."), when s is not a valid value or is out of k's bounds. */
bool app_key_convert(core_arena_t *arena, const app_key_t *k, app_key_type_t type, const char *s,
                     void *dst, char *why, size_t cap);

/* The root section: the top-level keys of a config file. Static. */
const app_section_t *app_config_root(void);

/* Why a value was refused: the message buffer the value converters fill
 * (text, cap bytes). app_why() writes the message and returns false, so a
 * converter reads `return app_why(w, "...", ...);`. */
typedef struct {
    char *text;
    size_t cap;
} app_why_t;
bool app_why(app_why_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes the key reference (Markdown, one table per section) generated from
 * the tables to f: what `strata check --print-keys` prints and
 * docs/config.md embeds. Returns 0, or CORE_EIO if a write failed. */
int app_config_print_keys(FILE *f);

/* `strata check -c FILE` and `strata check --print-keys`: see cmd_check.c.
 * Returns APP_EXIT_OK, APP_EXIT_CONFIG, APP_EXIT_ERROR or APP_EXIT_USAGE. */
int cmd_check(app_ctx_t *ctx, int argc, char **argv);

#endif /* STRATA_APP_CONFIG_H */
