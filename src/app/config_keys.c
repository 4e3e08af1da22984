/*
 * config_keys.c - the key tables of the config file, the value syntax of
 * each key type (app_key_convert), and the reference that
 * `strata check --print-keys` prints from the tables.
 *
 * One table per section (STYLE.md rule 10): each key's name, type, where it
 * lands in the structs of config.h, default, bounds, the variants it
 * applies to and the help text. config.c parses YAML and the environment
 * with these tables, converting every value (defaults included) with
 * app_key_convert(); app_config_print_keys() turns them into the Markdown
 * reference embedded in docs/config.md, so the documentation cannot drift
 * from the parser.
 *
 * Invariants: an ENUM discriminator's choices are in the order of the C
 * enum it fills (app_pipe_kind_t, ...); every section has at most
 * APP_MAX_SECTION keys; help texts are single lines.
 *
 * Threading: the tables are constant; the printer writes to its FILE only.
 */
#include "app/config.h"
#include "schema/schema.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS     (24 * 3600 * 1000LL)
#define YEAR_MS    (365 * DAY_MS)
#define KEYS(a)    .keys = (a), .n_keys = CORE_ARRAY_LEN(a)
#define ALL        APP_VAR_ALL
#define K_TABLE    APP_VAR(APP_PIPE_TABLE)
#define K_AGG      APP_VAR(APP_PIPE_AGGREGATE)
#define K_DETECT   APP_VAR(APP_PIPE_DETECT)
#define K_CDC      APP_VAR(APP_PIPE_CDC)
#define K_ARCHIVE  APP_VAR(APP_PIPE_ARCHIVE)
#define F_STRING   APP_VAR(APP_FIELD_STRING)
#define F_NUMERIC  (APP_VAR(APP_FIELD_INT) | APP_VAR(APP_FIELD_FLOAT) | APP_VAR(APP_FIELD_TIMESTAMP))
#define F_TS       APP_VAR(APP_FIELD_TIMESTAMP)
#define W_SIZED    (APP_VAR(APP_WIN_TUMBLING) | APP_VAR(APP_WIN_HOPPING))
#define W_HOPPING  APP_VAR(APP_WIN_HOPPING)
#define W_SESSION  APP_VAR(APP_WIN_SESSION)
#define R_THRESH   APP_VAR(APP_RULE_THRESHOLD)
#define R_ZSCORE   APP_VAR(APP_RULE_ZSCORE)
#define R_VELOCITY APP_VAR(APP_RULE_VELOCITY)

static const char *const field_types[] = {"string",    "int",    "float", "bool",
                                          "timestamp", "object", "array", NULL};
static const char *const pipe_kinds[] = {"table", "aggregate", "detect", "cdc", "archive", NULL};
static const char *const codecs[] = {"zstd", "snappy", "none", NULL};
static const char *const partition_bys[] = {"event_time", "arrival", NULL};
static const char *const win_kinds[] = {"tumbling", "hopping", "session", NULL};
static const char *const emits[] = {"update", "final", NULL};
static const char *const rule_kinds[] = {"threshold", "zscore", "velocity", NULL};
static const char *const agg_fns[] = {"count", "sum",  "min",    "max", "avg",
                                      "first", "last", "stddev", NULL};

/* The enums of config.h are stored through int pointers. */
static const char *const job_kinds[] = {"import", "recompute", "sql", "export", "retention", NULL};
static const char *const catchups[] = {"none", "last", "all", NULL};
static const char *const export_formats[] = {"csv", "parquet", NULL};
/* gen_kinds() of src/gen/gen.h, in its order (a unit test compares them). */
static const char *const gen_kind_names[] = {
    "transactions", "stocks", "app", "web", "clickstream", "cdc", "external", "nexmark", NULL};

#define J_IMPORT    APP_VAR(APP_JOB_IMPORT)
#define J_RECOMPUTE APP_VAR(APP_JOB_RECOMPUTE)
#define J_SQL       APP_VAR(APP_JOB_SQL)
#define J_EXPORT    APP_VAR(APP_JOB_EXPORT)
#define J_RETENTION APP_VAR(APP_JOB_RETENTION)

_Static_assert(sizeof(app_job_kind_t) == sizeof(int), "enum size");
_Static_assert(sizeof(app_catchup_t) == sizeof(int), "enum size");
_Static_assert(sizeof(app_export_format_t) == sizeof(int), "enum size");
_Static_assert(sizeof(app_pipe_kind_t) == sizeof(int), "enum size");
_Static_assert(sizeof(app_field_type_t) == sizeof(int), "enum size");
_Static_assert(sizeof(app_codec_t) == sizeof(int), "enum size");
_Static_assert(sizeof(app_partition_by_t) == sizeof(int), "enum size");
_Static_assert(sizeof(app_gen_kind_t) == sizeof(int), "enum size");
_Static_assert(CORE_ARRAY_LEN(gen_kind_names) == APP_GEN_NEXMARK + 2, "a name per kind");

static const char *choice_name(const char *const *choices, size_t n, int i)
{
    return i >= 0 && (size_t)i < n - 1 ? choices[i] : "?";
}

const char *app_field_type_name(app_field_type_t t)
{
    return choice_name(field_types, CORE_ARRAY_LEN(field_types), (int)t);
}

const char *app_pipe_kind_name(app_pipe_kind_t k)
{
    return choice_name(pipe_kinds, CORE_ARRAY_LEN(pipe_kinds), (int)k);
}

const char *app_win_kind_name(app_win_kind_t k)
{
    return choice_name(win_kinds, CORE_ARRAY_LEN(win_kinds), (int)k);
}

const char *app_emit_name(app_emit_t e)
{
    return choice_name(emits, CORE_ARRAY_LEN(emits), (int)e);
}

const char *app_rule_kind_name(app_rule_kind_t k)
{
    return choice_name(rule_kinds, CORE_ARRAY_LEN(rule_kinds), (int)k);
}

const char *app_agg_fn_name(app_agg_fn_t f)
{
    return choice_name(agg_fns, CORE_ARRAY_LEN(agg_fns), (int)f);
}

const char *app_job_kind_name(app_job_kind_t k)
{
    return choice_name(job_kinds, CORE_ARRAY_LEN(job_kinds), (int)k);
}

const char *app_catchup_name(app_catchup_t c)
{
    return choice_name(catchups, CORE_ARRAY_LEN(catchups), (int)c);
}

const char *app_gen_kind_name(app_gen_kind_t k)
{
    return choice_name(gen_kind_names, CORE_ARRAY_LEN(gen_kind_names), (int)k);
}

/* ---- data, store, broker, http: mapped into app_config_t itself. */

static const app_key_t data_keys[] = {
    {.name = "dir",
     .type = APP_KEY_PATH,
     .off = APP_OFF(app_config_t, data_dir),
     .def = "./data",
     .help = "Folder of the topic logs (seglog) and of the default SQLite store."},
};

static const app_key_t store_keys[] = {
    {.name = "url",
     .type = APP_KEY_STORE_URL,
     .off = APP_OFF(app_config_t, store_url),
     .def_doc = "sqlite:<data.dir>/strata.db",
     .help = "Serving store: sqlite:PATH, or postgresql://user@host:port/db for scale-out."},
};

static const app_key_t broker_keys[] = {
    {.name = "enabled",
     .type = APP_KEY_BOOL,
     .off = APP_OFF(app_config_t, broker_enabled),
     .def = "true",
     .help = "Serve the topics to Kafka clients over the Kafka protocol."},
    {.name = "listen",
     .type = APP_KEY_LISTEN,
     .off = APP_OFF(app_config_t, broker_listen),
     .def = "127.0.0.1:9092",
     .help = "Address of the Kafka listener, HOST:PORT ([v6addr]:PORT for IPv6)."},
};

static const app_key_t kafka_keys[] = {
    {.name = "bootstrap",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_config_t, kafka_bootstrap),
     .def_doc = "none (the embedded seglog)",
     .help = "host:port[,host:port] of an external Kafka cluster: pipelines then read it and "
             "share partitions with other instances (docs/external-kafka.md)."},
    {.name = "properties",
     .type = APP_KEY_LIST,
     .elem = APP_KEY_STRING,
     .off = APP_OFF(app_config_t, kafka_properties),
     .off2 = APP_OFF(app_config_t, n_kafka_properties),
     .min = 0,
     .max = 256,
     .help = "librdkafka properties as name=value (security.protocol=SASL_SSL, sasl.*), "
             "passed to every client strata creates."},
};

static const app_key_t http_keys[] = {
    {.name = "enabled",
     .type = APP_KEY_BOOL,
     .off = APP_OFF(app_config_t, http_enabled),
     .def = "true",
     .help = "Serve HTTP (`strata up`): ingest, health, and later the REST API and dashboard."},
    {.name = "listen",
     .type = APP_KEY_LISTEN,
     .off = APP_OFF(app_config_t, http_listen),
     .def = "127.0.0.1:8080",
     .help = "Address of the REST API, /metrics and the dashboard, HOST:PORT."},
    {.name = "max_body_bytes",
     .type = APP_KEY_SIZE,
     .off = APP_OFF(app_config_t, http_max_body_bytes),
     .def = "8MiB",
     .min = 1024,
     .max = 1 << 30,
     .help = "Largest request body; a bigger one is answered 413 and not read into memory."},
    {.name = "max_header_bytes",
     .type = APP_KEY_SIZE,
     .off = APP_OFF(app_config_t, http_max_header_bytes),
     .def = "32KiB",
     .min = 4096,
     .max = 1 << 20,
     .help = "Memory per connection for the request line and headers; past it, 431."},
    {.name = "max_connections",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_config_t, http_max_connections),
     .def = "256",
     .min = 1,
     .max = 65536,
     .help = "Open connections at once; more wait, unaccepted, until one closes."},
    {.name = "threads",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_config_t, http_threads),
     .def = "2",
     .min = 1,
     .max = 64,
     .help = "Server threads; each runs one request handler at a time."},
    {.name = "idle_timeout",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_config_t, http_idle_timeout_ms),
     .def = "30s",
     .min = 1000,
     .max = 3600 * 1000,
     .help = "Close a connection idle this long (whole seconds, rounded up)."},
    {.name = "token",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_config_t, http_token),
     .def_doc = "none",
     .help = "Access token (16 to 512 bytes of A-Z a-z 0-9 - . _ ~ + /): every request but "
             "GET /healthz must then carry Authorization: Bearer TOKEN (the dashboard asks for "
             "it once). Required when listen is not loopback (docs/http.md)."},
};

/* s3: the destination of the archives' uploads. Every key may come from
 * STRATA_S3_<KEY>; the credentials, region and endpoint also from the AWS
 * tools' variables (config_refs.c, resolve_s3). */
static const app_key_t s3_keys[] = {
    {.name = "bucket",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_config_t, s3_bucket),
     .def_doc = "none: nothing is uploaded",
     .help = "Bucket that archive pipelines upload their finished files and _SUCCESS markers "
             "to (3 to 63 of a-z 0-9 . -)."},
    {.name = "prefix",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_config_t, s3_prefix),
     .def_doc = "none",
     .help = "Keys are <prefix>/<topic>/date=YYYY-MM-DD/hour=HH/<file>; no leading or trailing "
             "/."},
    {.name = "endpoint",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_config_t, s3_endpoint),
     .def_doc = "$AWS_ENDPOINT_URL, else https://s3.<region>.amazonaws.com",
     .help = "http(s)://host[:port] of an S3-compatible service (MinIO: http://127.0.0.1:9000)."},
    {.name = "region",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_config_t, s3_region),
     .def_doc = "$AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1",
     .help = "Region the requests are signed for (SigV4)."},
    {.name = "access_key_id",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_config_t, s3_access_key_id),
     .def_doc = "$AWS_ACCESS_KEY_ID",
     .help = "Access key id; required (here or in the environment) when a bucket is set."},
    {.name = "secret_access_key",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_config_t, s3_secret_access_key),
     .def_doc = "$AWS_SECRET_ACCESS_KEY",
     .help = "Secret access key; never logged. Prefer ${VAR} or STRATA_S3_SECRET_ACCESS_KEY "
             "to writing it in the file."},
    {.name = "session_token",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_config_t, s3_session_token),
     .def_doc = "$AWS_SESSION_TOKEN with $AWS_ACCESS_KEY_ID, else none",
     .help = "Session token of temporary credentials (x-amz-security-token); never logged."},
    {.name = "path_style",
     .type = APP_KEY_BOOL,
     .off = APP_OFF(app_config_t, s3_path_style),
     .def = "true",
     .help = "URLs endpoint/bucket/key (MinIO and most S3-compatible services); false: "
             "bucket.endpoint/key (virtual-hosted)."},
    {.name = "connect_timeout",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_config_t, s3_connect_timeout_ms),
     .def = "10s",
     .min = 100,
     .max = 600 * 1000,
     .help = "Give up connecting after this long (then retry)."},
    {.name = "timeout",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_config_t, s3_timeout_ms),
     .def = "60s",
     .min = 1000,
     .max = 3600 * 1000,
     .help = "A request that moves no byte for this long fails (then retry)."},
    {.name = "max_attempts",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_config_t, s3_max_attempts),
     .def = "4",
     .min = 1,
     .max = 100,
     .help = "Tries of one request on network errors and 5xx before the uploader backs off; "
             "it never gives up on a file while strata runs."},
    {.name = "retry_backoff",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_config_t, s3_retry_backoff_ms),
     .def = "1s",
     .min = 0,
     .max = 3600 * 1000,
     .help = "Wait before the first retry; doubles with each one."},
    {.name = "retry_backoff_max",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_config_t, s3_retry_backoff_max_ms),
     .def = "60s",
     .min = 0,
     .max = DAY_MS,
     .help = "The longest wait between retries."},
    {.name = "drain_timeout",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_config_t, s3_drain_timeout_ms),
     .def = "10s",
     .min = 0,
     .max = 3600 * 1000,
     .help = "On stop, queued uploads may take this long; the rest go after the next start."},
};

static const app_section_t data_section = {.name = "data", KEYS(data_keys), .env = true};
static const app_section_t store_section = {.name = "store", KEYS(store_keys), .env = true};
static const app_section_t broker_section = {.name = "broker", KEYS(broker_keys), .env = true};
static const app_section_t http_section = {.name = "http", KEYS(http_keys), .env = true};
static const app_section_t kafka_section = {.name = "kafka", KEYS(kafka_keys), .env = true};
static const app_section_t s3_section = {.name = "s3", KEYS(s3_keys), .env = true};

/* ---- topics[] */

static const app_key_t topic_keys[] = {
    {.name = "name",
     .type = APP_KEY_TOPIC,
     .off = APP_OFF(app_topic_t, name),
     .required = ALL,
     .help = "Topic name: 1 to 249 of A-Z a-z 0-9 . _ - (Kafka's rule), not . or .."},
    {.name = "partitions",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_topic_t, partitions),
     .def = "1",
     .min = 1,
     .max = 1024,
     .help = "Number of partitions, fixed at creation."},
    {.name = "flush",
     .type = APP_KEY_FLUSH,
     .off = APP_OFF(app_topic_t, flush),
     .def = "interval:1000",
     .help = "When appends are fsynced: always, never, or interval:<ms> (see durability.md)."},
    {.name = "retention_ms",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_topic_t, retention_ms),
     .def = "-1",
     .min = -1,
     .max = INT64_MAX,
     .help = "Delete segments whose records are older than this many ms; -1 keeps them forever."},
    {.name = "retention_bytes",
     .type = APP_KEY_SIZE,
     .off = APP_OFF(app_topic_t, retention_bytes),
     .def = "-1",
     .min = -1,
     .max = INT64_MAX,
     .help = "Per-partition size limit in bytes; -1 is unlimited."},
    {.name = "segment_bytes",
     .type = APP_KEY_SIZE,
     .off = APP_OFF(app_topic_t, segment_bytes),
     .def = "1073741824",
     .min = 4096,
     .max = INT32_MAX,
     .help = "Roll a new segment file at this size."},
    {.name = "schema",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_topic_t, schema),
     .help = "Name of the schema (under schemas) that the topic's record values follow."},
};

static const app_section_t topic_section = {
    .name = "topics[]",
    KEYS(topic_keys),
    .item_size = sizeof(app_topic_t),
    .line_off = APP_OFF(app_topic_t, line),
};

/* ---- schemas[], schemas[].fields[], schemas[].rules[] */

static const app_key_t field_keys[] = {
    {.name = "name",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_field_t, name),
     .required = ALL,
     .help = "The JSON member name; also the column name where the field is stored."},
    {.name = "type",
     .type = APP_KEY_ENUM,
     .off = APP_OFF(app_field_t, type),
     .choices = field_types,
     .required = ALL,
     .help = "Value type."},
    {.name = "required",
     .type = APP_KEY_BOOL,
     .off = APP_OFF(app_field_t, required),
     .def = "false",
     .help = "A record without the field (or with null) goes to the dlq."},
    {.name = "min",
     .type = APP_KEY_FLOAT,
     .off = APP_OFF(app_field_t, min),
     .off2 = APP_OFF(app_field_t, has_min),
     .variants = F_NUMERIC,
     .help = "Smallest allowed value (timestamps: microseconds since the epoch)."},
    {.name = "max",
     .type = APP_KEY_FLOAT,
     .off = APP_OFF(app_field_t, max),
     .off2 = APP_OFF(app_field_t, has_max),
     .variants = F_NUMERIC,
     .help = "Largest allowed value."},
    {.name = "min_length",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_field_t, min_length),
     .def = "-1",
     .min = -1,
     .max = INT32_MAX,
     .variants = F_STRING,
     .help = "Fewest characters (code points); -1 is no limit."},
    {.name = "max_length",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_field_t, max_length),
     .def = "-1",
     .min = -1,
     .max = INT32_MAX,
     .variants = F_STRING,
     .help = "Most characters (code points); -1 is no limit."},
    {.name = "enum",
     .type = APP_KEY_LIST,
     .elem = APP_KEY_STRING,
     .off = APP_OFF(app_field_t, enum_values),
     .off2 = APP_OFF(app_field_t, n_enum),
     .min = 1,
     .max = 1024,
     .variants = F_STRING,
     .help = "The only values allowed."},
    {.name = "pattern",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_field_t, pattern),
     .variants = F_STRING,
     .help = "POSIX extended regular expression the whole value must match."},
    {.name = "format",
     .type = APP_KEY_TS_FORMAT,
     .off = APP_OFF(app_field_t, format),
     .def = "auto",
     .variants = F_TS,
     .help = "auto, epoch_s, epoch_ms, epoch_us, iso8601, or a strptime-style pattern with %."},
};

static const app_section_t field_section = {
    .name = "schemas[].fields[]",
    KEYS(field_keys),
    .item_size = sizeof(app_field_t),
    .line_off = APP_OFF(app_field_t, line),
    .discriminator = "type",
};

static const app_key_t schema_rule_keys[] = {
    {.name = "name",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_schema_rule_t, name),
     .required = ALL,
     .help = "Rule name, shown in the dlq reason."},
    {.name = "check",
     .type = APP_KEY_EXPR,
     .off = APP_OFF(app_schema_rule_t, check),
     .line_off = APP_OFF(app_schema_rule_t, check_line),
     .required = ALL,
     .help = "Expression over the fields that must be true, such as 'bid <= ask'."},
    {.name = "message",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_schema_rule_t, message),
     .help = "Text for the dlq reason when the check fails."},
};

static const app_section_t schema_rule_section = {
    .name = "schemas[].rules[]",
    KEYS(schema_rule_keys),
    .item_size = sizeof(app_schema_rule_t),
    .line_off = APP_OFF(app_schema_rule_t, line),
};

static const app_key_t schema_keys[] = {
    {.name = "name",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_schema_t, name),
     .required = ALL,
     .help = "Schema name, as topics and pipelines refer to it."},
    {.name = "max_value_bytes",
     .type = APP_KEY_SIZE,
     .off = APP_OFF(app_schema_t, max_value_bytes),
     .def = "65536",
     .min = 1,
     .max = 64 << 20,
     .help = "Largest string, object or array value accepted in a record."},
    {.name = "fields",
     .type = APP_KEY_ITEMS,
     .off = APP_OFF(app_schema_t, fields),
     .off2 = APP_OFF(app_schema_t, n_fields),
     .section = &field_section,
     .min = 1,
     .max = 256,
     .required = ALL,
     .help = "The fields, in order."},
    {.name = "rules",
     .type = APP_KEY_ITEMS,
     .off = APP_OFF(app_schema_t, rules),
     .off2 = APP_OFF(app_schema_t, n_rules),
     .section = &schema_rule_section,
     .max = 256,
     .help = "Cross-field checks; a record failing one goes to the dlq."},
};

static const app_section_t schema_section = {
    .name = "schemas[]",
    KEYS(schema_keys),
    .item_size = sizeof(app_schema_t),
    .line_off = APP_OFF(app_schema_t, line),
};

/* ---- pipelines[] and its nested sections */

static const app_key_t commit_keys[] = {
    {.name = "interval",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_pipeline_t, commit_interval_ms),
     .def = "100ms",
     .min = 1,
     .max = 3600 * 1000,
     .help = "Commit results and offsets at least this often."},
    {.name = "records",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_pipeline_t, commit_records),
     .def = "10000",
     .min = 1,
     .max = 10000000,
     .help = "... or after this many records, whichever comes first."},
};

static const app_section_t commit_section = {.name = "commit", KEYS(commit_keys)};

static const app_key_t window_keys[] = {
    {.name = "type",
     .type = APP_KEY_ENUM,
     .off = APP_OFF(app_pipeline_t, window.kind),
     .choices = win_kinds,
     .required = ALL,
     .help = "Window kind."},
    {.name = "size",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_pipeline_t, window.size_ms),
     .min = 1,
     .max = YEAR_MS,
     .variants = W_SIZED,
     .required = W_SIZED,
     .help = "Window length."},
    {.name = "slide",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_pipeline_t, window.slide_ms),
     .min = 1,
     .max = YEAR_MS,
     .variants = W_HOPPING,
     .required = W_HOPPING,
     .help = "Distance between window starts; size must be a multiple of it."},
    {.name = "gap",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_pipeline_t, window.gap_ms),
     .min = 1,
     .max = YEAR_MS,
     .variants = W_SESSION,
     .required = W_SESSION,
     .help = "A session closes after this long without an event for its key."},
};

static const app_section_t window_section = {
    .name = "window", KEYS(window_keys), .discriminator = "type"};

static const app_key_t watermark_keys[] = {
    {.name = "max_out_of_orderness",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_pipeline_t, max_ooo_ms),
     .def = "0s",
     .min = 0,
     .max = YEAR_MS,
     .help = "Watermark = largest event time seen minus this."},
    {.name = "idle_timeout",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_pipeline_t, idle_timeout_ms),
     .def = "60s",
     .min = 1,
     .max = YEAR_MS,
     .help = "A partition without events this long stops holding the watermark back."},
};

static const app_section_t watermark_section = {.name = "watermark", KEYS(watermark_keys)};

static const app_key_t roll_keys[] = {
    {.name = "rows",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_pipeline_t, roll_rows),
     .def = "1000000",
     .min = 1,
     .max = 1000000000,
     .help = "A file closes after this many rows."},
    {.name = "bytes",
     .type = APP_KEY_SIZE,
     .off = APP_OFF(app_pipeline_t, roll_bytes),
     .def = "128MiB",
     .min = 1,
     .max = (int64_t)1 << 40,
     .help = "... or once it holds this much (written plus buffered, before compression)."},
    {.name = "age",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_pipeline_t, roll_age_ms),
     .def = "5m",
     .min = 1,
     .max = DAY_MS,
     .help = "... or once it has been open this long."},
};

static const app_section_t roll_section = {.name = "roll", KEYS(roll_keys)};

static const app_key_t detect_rule_keys[] = {
    {.name = "name",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_detect_rule_t, name),
     .required = ALL,
     .help = "Rule name, stored with each anomaly."},
    {.name = "type",
     .type = APP_KEY_ENUM,
     .off = APP_OFF(app_detect_rule_t, type),
     .choices = rule_kinds,
     .required = ALL,
     .help = "Detector."},
    {.name = "when",
     .type = APP_KEY_EXPR,
     .off = APP_OFF(app_detect_rule_t, when),
     .line_off = APP_OFF(app_detect_rule_t, when_line),
     .variants = R_THRESH,
     .required = R_THRESH,
     .help = "Expression; a record for which it is true is an anomaly."},
    {.name = "value",
     .type = APP_KEY_EXPR,
     .off = APP_OFF(app_detect_rule_t, value),
     .line_off = APP_OFF(app_detect_rule_t, value_line),
     .variants = R_THRESH,
     .help = "Expression stored as the anomaly's value."},
    {.name = "field",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_detect_rule_t, field),
     .variants = R_ZSCORE,
     .required = R_ZSCORE,
     .help = "Numeric field whose z-score is tracked, per key."},
    {.name = "threshold",
     .type = APP_KEY_FLOAT,
     .off = APP_OFF(app_detect_rule_t, threshold),
     .def = "3.0",
     .fmin = 0.1,
     .fmax = 1000,
     .variants = R_ZSCORE,
     .help = "An anomaly when |z| exceeds this."},
    {.name = "min_history",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_detect_rule_t, min_history),
     .def = "20",
     .min = 2,
     .max = 1000000,
     .variants = R_ZSCORE,
     .help = "Observations of a key before it may fire."},
    {.name = "window",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_detect_rule_t, window_ms),
     .min = 1,
     .max = YEAR_MS,
     .variants = R_VELOCITY,
     .required = R_VELOCITY,
     .help = "Tumbling window, aligned to the epoch, in which events of a key are counted."},
    {.name = "limit",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_detect_rule_t, limit),
     .min = 1,
     .max = 1000000000,
     .variants = R_VELOCITY,
     .required = R_VELOCITY,
     .help = "More events than this within the window is an anomaly."},
};

static const app_section_t detect_rule_section = {
    .name = "pipelines[].rules[]",
    KEYS(detect_rule_keys),
    .item_size = sizeof(app_detect_rule_t),
    .line_off = APP_OFF(app_detect_rule_t, line),
    .discriminator = "type",
};

static const app_key_t pipeline_keys[] = {
    {.name = "name",
     .type = APP_KEY_IDENT,
     .off = APP_OFF(app_pipeline_t, name),
     .required = ALL,
     .help = "Pipeline name: [a-z_][a-z0-9_]{0,62}."},
    {.name = "kind",
     .type = APP_KEY_ENUM,
     .off = APP_OFF(app_pipeline_t, kind),
     .choices = pipe_kinds,
     .required = ALL,
     .help = "What the pipeline writes: table rows, windowed aggregates, anomalies, CDC "
             "upserts, or Parquet files (archive)."},
    {.name = "topic",
     .type = APP_KEY_TOPIC,
     .off = APP_OFF(app_pipeline_t, topic),
     .required = ALL,
     .help = "The topic it consumes (under topics)."},
    {.name = "schema",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_pipeline_t, schema),
     .def_doc = "the topic's schema",
     .help = "Schema of the records; required when the topic has none."},
    {.name = "filter",
     .type = APP_KEY_EXPR,
     .off = APP_OFF(app_pipeline_t, filter),
     .line_off = APP_OFF(app_pipeline_t, filter_line),
     .help = "Expression; records for which it is not true are skipped."},
    {.name = "commit",
     .type = APP_KEY_SECTION,
     .section = &commit_section,
     .help = "How often results and offsets are committed, in one transaction."},
    {.name = "key",
     .type = APP_KEY_EXPR,
     .off = APP_OFF(app_pipeline_t, key),
     .line_off = APP_OFF(app_pipeline_t, key_line),
     .variants = K_AGG | K_DETECT,
     .def_doc = "none: one key for all records",
     .help = "Expression grouping records: windows and per-key detectors are kept per key."},
    {.name = "event_time",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_pipeline_t, event_time),
     .line_off = APP_OFF(app_pipeline_t, event_time_line),
     .variants = K_AGG | K_DETECT | K_ARCHIVE,
     .def_doc = "the record timestamp",
     .help = "Timestamp field that gives each record its event time."},
    {.name = "window",
     .type = APP_KEY_SECTION,
     .off2 = APP_OFF(app_pipeline_t, has_window),
     .section = &window_section,
     .variants = K_AGG,
     .required = K_AGG,
     .help = "{type: tumbling, size}, {type: hopping, size, slide} or {type: session, gap}."},
    {.name = "watermark",
     .type = APP_KEY_SECTION,
     .section = &watermark_section,
     .variants = K_AGG | K_ARCHIVE,
     .help = "How event time advances per partition (archive: when an hour is complete)."},
    {.name = "allowed_lateness",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_pipeline_t, allowed_lateness_ms),
     .def = "0s",
     .min = 0,
     .max = YEAR_MS,
     .variants = K_AGG,
     .help = "A window closes when the watermark passes its end plus this; later events go to "
             "the dlq."},
    {.name = "emit",
     .type = APP_KEY_ENUM,
     .off = APP_OFF(app_pipeline_t, emit),
     .choices = emits,
     .def = "update",
     .variants = K_AGG,
     .help = "update: upsert rows as they change; final: write each window once, at close."},
    {.name = "view",
     .type = APP_KEY_IDENT,
     .off = APP_OFF(app_pipeline_t, view),
     .variants = K_AGG,
     .def_doc = "the pipeline name",
     .help = "Name of the view the rows go to."},
    {.name = "aggregates",
     .type = APP_KEY_AGGREGATES,
     .off = APP_OFF(app_pipeline_t, aggregates),
     .off2 = APP_OFF(app_pipeline_t, n_aggregates),
     .min = 1,
     .max = 256,
     .variants = K_AGG,
     .required = K_AGG,
     .help = "Output column -> fn(expression), fn one of count, sum, min, max, avg, first, last, "
             "stddev; order kept."},
    {.name = "table",
     .type = APP_KEY_IDENT,
     .off = APP_OFF(app_pipeline_t, table),
     .variants = K_TABLE | K_CDC,
     .def_doc = "the pipeline name",
     .help = "Name of the table the rows go to."},
    {.name = "primary_key",
     .type = APP_KEY_LIST,
     .elem = APP_KEY_IDENT,
     .off = APP_OFF(app_pipeline_t, primary_key),
     .off2 = APP_OFF(app_pipeline_t, n_primary_key),
     .min = 1,
     .max = 32,
     .variants = K_TABLE | K_CDC,
     .required = K_CDC,
     .def_doc = "table: _partition, _offset",
     .help = "Fields forming the table's primary key."},
    {.name = "columns",
     .type = APP_KEY_LIST,
     .elem = APP_KEY_IDENT,
     .off = APP_OFF(app_pipeline_t, columns),
     .off2 = APP_OFF(app_pipeline_t, n_columns),
     .min = 1,
     .max = 256,
     .variants = K_TABLE | K_CDC,
     .def_doc = "every field of the schema",
     .help = "Fields stored as columns."},
    {.name = "rules",
     .type = APP_KEY_ITEMS,
     .off = APP_OFF(app_pipeline_t, rules),
     .off2 = APP_OFF(app_pipeline_t, n_rules),
     .section = &detect_rule_section,
     .min = 1,
     .max = 256,
     .variants = K_DETECT,
     .required = K_DETECT,
     .help = "Anomaly detectors; each anomaly becomes a row of the anomalies table."},
    {.name = "lake_dir",
     .type = APP_KEY_PATH,
     .off = APP_OFF(app_pipeline_t, lake_dir),
     .variants = K_ARCHIVE,
     .def_doc = "<data.dir>/lake",
     .help = "Folder of the lake; files go to <lake_dir>/<topic>/date=YYYY-MM-DD/hour=HH/."},
    {.name = "partition_by",
     .type = APP_KEY_ENUM,
     .off = APP_OFF(app_pipeline_t, partition_by),
     .choices = partition_bys,
     .def = "event_time",
     .variants = K_ARCHIVE,
     .help = "Date and hour folders from the event time, or from the record timestamp "
             "(arrival)."},
    {.name = "codec",
     .type = APP_KEY_ENUM,
     .off = APP_OFF(app_pipeline_t, codec),
     .choices = codecs,
     .def = "zstd",
     .variants = K_ARCHIVE,
     .help = "Compression of the Parquet pages."},
    {.name = "roll",
     .type = APP_KEY_SECTION,
     .section = &roll_section,
     .variants = K_ARCHIVE,
     .help = "When a file closes (and, after its commit, appears in the lake)."},
    {.name = "max_open_files",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_pipeline_t, max_open_files),
     .def = "8",
     .min = 1,
     .max = 64,
     .variants = K_ARCHIVE,
     .help = "Open files per partition (one per hour); one more closes the oldest."},
    {.name = "upload",
     .type = APP_KEY_BOOL,
     .off = APP_OFF(app_pipeline_t, upload),
     .off2 = APP_OFF(app_pipeline_t, upload_given),
     .def = "true",
     .variants = K_ARCHIVE,
     .help = "Upload finished files and _SUCCESS markers to the s3 section's bucket, when it "
             "names one."},
};

static const app_section_t pipeline_section = {
    .name = "pipelines[]",
    KEYS(pipeline_keys),
    .item_size = sizeof(app_pipeline_t),
    .line_off = APP_OFF(app_pipeline_t, line),
    .discriminator = "kind",
};

/* ---- jobs[] */

static const app_key_t import_column_keys[] = {
    {.name = "field",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_import_column_t, field),
     .required = ALL,
     .help = "The schema field this column fills."},
    {.name = "column",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_import_column_t, column),
     .def_doc = "the field's name",
     .help = "CSV column, by its header text (spaces and parentheses allowed)."},
    {.name = "expr",
     .type = APP_KEY_EXPR,
     .off = APP_OFF(app_import_column_t, expr),
     .help = "Expression over the CSV columns (all strings) instead of one column."},
};

static const app_section_t import_column_section = {
    .name = "jobs[].columns[]",
    KEYS(import_column_keys),
    .item_size = sizeof(app_import_column_t),
    .line_off = APP_OFF(app_import_column_t, line),
};

static const app_key_t job_keys[] = {
    {.name = "name",
     .type = APP_KEY_IDENT,
     .off = APP_OFF(app_job_t, name),
     .required = ALL,
     .help = "Job name: [a-z_][a-z0-9_]{0,62}."},
    {.name = "kind",
     .type = APP_KEY_ENUM,
     .off = APP_OFF(app_job_t, kind),
     .choices = job_kinds,
     .required = ALL,
     .help = "import a CSV into a topic, recompute a view, run SQL, export, or apply retention."},
    {.name = "schedule",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_job_t, schedule),
     .line_off = APP_OFF(app_job_t, schedule_line),
     .def_doc = "none: manual runs only",
     .help = "Five-field cron (\"30 2 * * *\") or @hourly, @daily, @weekly, @monthly, @yearly."},
    {.name = "timezone",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_job_t, timezone),
     .def = "UTC",
     .help = "Zone the schedule and {{ds}} are in (tz database name)."},
    {.name = "after",
     .type = APP_KEY_LIST,
     .elem = APP_KEY_IDENT,
     .off = APP_OFF(app_job_t, after),
     .off2 = APP_OFF(app_job_t, n_after),
     .min = 1,
     .max = 64,
     .help = "Jobs whose run for the same logical date must have completed first."},
    {.name = "catchup",
     .type = APP_KEY_ENUM,
     .off = APP_OFF(app_job_t, catchup),
     .choices = catchups,
     .def = "last",
     .help = "Runs missed while strata was down: none, the last one, or all of them."},
    {.name = "max_attempts",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_job_t, max_attempts),
     .def = "3",
     .min = 1,
     .max = 100,
     .help = "Attempts of a run before it stays failed."},
    {.name = "retry_backoff",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_job_t, retry_backoff_ms),
     .def = "30s",
     .min = 0,
     .max = DAY_MS,
     .help = "Wait before the first retry; doubles with each attempt."},
    {.name = "path",
     .type = APP_KEY_PATH,
     .off = APP_OFF(app_job_t, path),
     .variants = J_IMPORT,
     .required = J_IMPORT,
     .help = "CSV file or glob to import."},
    {.name = "topic",
     .type = APP_KEY_TOPIC,
     .off = APP_OFF(app_job_t, topic),
     .variants = J_IMPORT,
     .required = J_IMPORT,
     .help = "Topic the rows go to (under topics)."},
    {.name = "schema",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_job_t, schema),
     .variants = J_IMPORT,
     .def_doc = "the topic's schema",
     .help = "Schema the rows are converted to and checked against."},
    {.name = "key",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_job_t, key),
     .variants = J_IMPORT,
     .def_doc = "none: null keys",
     .help = "Field whose value is the record key."},
    {.name = "time_field",
     .type = APP_KEY_NAME,
     .off = APP_OFF(app_job_t, time_field),
     .variants = J_IMPORT,
     .def_doc = "the import time",
     .help = "Timestamp field that becomes the record timestamp."},
    {.name = "columns",
     .type = APP_KEY_ITEMS,
     .off = APP_OFF(app_job_t, columns),
     .off2 = APP_OFF(app_job_t, n_columns),
     .section = &import_column_section,
     .max = 1024,
     .variants = J_IMPORT,
     .def_doc = "schema fields from columns of the same name",
     .help = "How schema fields come from CSV columns."},
    {.name = "delimiter",
     .type = APP_KEY_STRING,
     .off = APP_OFF(app_job_t, delimiter),
     .def = ",",
     .variants = J_IMPORT,
     .help = "Field separator: one character."},
    {.name = "pipeline",
     .type = APP_KEY_IDENT,
     .off = APP_OFF(app_job_t, pipeline),
     .variants = J_RECOMPUTE,
     .required = J_RECOMPUTE,
     .help = "Aggregate pipeline whose view is recomputed from the log."},
    {.name = "lookback",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_job_t, lookback_ms),
     .def = "0s",
     .min = 0,
     .max = YEAR_MS,
     .variants = J_RECOMPUTE,
     .def_doc = "window size + max_out_of_orderness",
     .help = "Read the log from this long before the interval (by record time)."},
    {.name = "sql",
     .type = APP_KEY_LIST,
     .elem = APP_KEY_STRING,
     .off = APP_OFF(app_job_t, sql),
     .off2 = APP_OFF(app_job_t, n_sql),
     .min = 1,
     .max = 256,
     .variants = J_SQL,
     .required = J_SQL,
     .help = "Statements run in order in one transaction; {{ds}} and friends expand."},
    {.name = "source",
     .type = APP_KEY_IDENT,
     .off = APP_OFF(app_job_t, source),
     .variants = J_EXPORT,
     .required = J_EXPORT,
     .help = "View or table to export."},
    {.name = "output",
     .type = APP_KEY_PATH,
     .off = APP_OFF(app_job_t, output),
     .variants = J_EXPORT,
     .required = J_EXPORT,
     .help = "File written; {{ds}} and friends expand."},
    {.name = "format",
     .type = APP_KEY_ENUM,
     .off = APP_OFF(app_job_t, format),
     .choices = export_formats,
     .def = "csv",
     .variants = J_EXPORT,
     .help = "csv or parquet."},
    {.name = "time_column",
     .type = APP_KEY_IDENT,
     .off = APP_OFF(app_job_t, time_column),
     .variants = J_EXPORT | J_RETENTION,
     .help = "Tables: column (microseconds) selecting rows by time."},
    {.name = "max_age",
     .type = APP_KEY_DURATION,
     .off = APP_OFF(app_job_t, max_age_ms),
     .min = 1,
     .max = 100 * YEAR_MS,
     .variants = J_RETENTION,
     .required = J_RETENTION,
     .help = "Rows older than this are deleted."},
    {.name = "tables",
     .type = APP_KEY_LIST,
     .elem = APP_KEY_IDENT,
     .off = APP_OFF(app_job_t, tables),
     .off2 = APP_OFF(app_job_t, n_tables),
     .min = 1,
     .max = 256,
     .variants = J_RETENTION,
     .help = "Tables and views trimmed: dlq, anomalies, job_runs, views, tables."},
    {.name = "topics",
     .type = APP_KEY_LIST,
     .elem = APP_KEY_TOPIC,
     .off = APP_OFF(app_job_t, topics),
     .off2 = APP_OFF(app_job_t, n_topics),
     .min = 1,
     .max = 256,
     .variants = J_RETENTION,
     .help = "Topics whose own retention is applied now."},
};

static const app_section_t job_section = {
    .name = "jobs[]",
    KEYS(job_keys),
    .item_size = sizeof(app_job_t),
    .line_off = APP_OFF(app_job_t, line),
    .discriminator = "kind",
};

/* ---- generators[] */

static const app_key_t generator_keys[] = {
    {.name = "name",
     .type = APP_KEY_IDENT,
     .off = APP_OFF(app_generator_t, name),
     .required = ALL,
     .help = "Generator name: [a-z_][a-z0-9_]{0,62}; the default seed is derived from it."},
    {.name = "kind",
     .type = APP_KEY_ENUM,
     .off = APP_OFF(app_generator_t, kind),
     .choices = gen_kind_names,
     .required = ALL,
     .help = "The simulator (docs/generators.md): what the records are."},
    {.name = "topic",
     .type = APP_KEY_TOPIC,
     .off = APP_OFF(app_generator_t, topic),
     .required = ALL,
     .help = "The topic it produces to (under topics); keys pick the partition."},
    {.name = "rate",
     .type = APP_KEY_RATE,
     .off = APP_OFF(app_generator_t, rate),
     .fmin = 0.01,
     .fmax = 1000000,
     .required = ALL,
     .help = "Records per second (200 or 200/s), of wall time and of event time."},
    {.name = "count",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_generator_t, count),
     .def = "-1",
     .min = -1,
     .max = INT64_MAX,
     .help = "Records per run of `strata up`, then the generator stops; -1 runs until shutdown."},
    {.name = "seed",
     .type = APP_KEY_INT,
     .off = APP_OFF(app_generator_t, seed),
     .off2 = APP_OFF(app_generator_t, has_seed),
     .min = 0,
     .max = INT64_MAX,
     .def_doc = "a hash of the name",
     .help = "Seed of the record stream; the same seed and start give the same records."},
    {.name = "start",
     .type = APP_KEY_TIME,
     .off = APP_OFF(app_generator_t, start_ms),
     .off2 = APP_OFF(app_generator_t, has_start),
     .def_doc = "now, at each start",
     .help = "Event time of the first record: ISO 8601 (2026-11-22T13:00:00Z) or ms since "
             "the epoch."},
    {.name = "invalid_ratio",
     .type = APP_KEY_FLOAT,
     .off = APP_OFF(app_generator_t, invalid_ratio),
     .def = "0",
     .fmin = 0,
     .fmax = 1,
     .help = "Share of records that fail their schema (they go to the dlq)."},
    {.name = "late_ratio",
     .type = APP_KEY_FLOAT,
     .off = APP_OFF(app_generator_t, late_ratio),
     .def = "0",
     .fmin = 0,
     .fmax = 1,
     .help = "Share of records stamped far behind the stream; the three ratios sum to 1 at most."},
    {.name = "anomaly_ratio",
     .type = APP_KEY_FLOAT,
     .off = APP_OFF(app_generator_t, anomaly_ratio),
     .def = "0",
     .fmin = 0,
     .fmax = 1,
     .help = "Share of records with anomalous values (spikes, jumps, bursts)."},
    {.name = "enabled",
     .type = APP_KEY_BOOL,
     .off = APP_OFF(app_generator_t, enabled),
     .def = "true",
     .help = "false keeps the generator in the config without running it."},
};

static const app_section_t generator_section = {
    .name = "generators[]",
    KEYS(generator_keys),
    .item_size = sizeof(app_generator_t),
    .line_off = APP_OFF(app_generator_t, line),
};

/* ---- the root */

static const app_key_t root_keys[] = {
    {.name = "data",
     .type = APP_KEY_SECTION,
     .section = &data_section,
     .help = "Where this instance keeps its files."},
    {.name = "store",
     .type = APP_KEY_SECTION,
     .section = &store_section,
     .help = "The serving store: views, tables, offsets, jobs, the dlq and anomalies."},
    {.name = "broker",
     .type = APP_KEY_SECTION,
     .section = &broker_section,
     .help = "The embedded Kafka-compatible broker."},
    {.name = "kafka",
     .type = APP_KEY_SECTION,
     .section = &kafka_section,
     .help = "An external Kafka cluster in place of the embedded seglog (scale-out)."},
    {.name = "http",
     .type = APP_KEY_SECTION,
     .section = &http_section,
     .help = "The HTTP server: REST API, metrics, dashboard."},
    {.name = "s3",
     .type = APP_KEY_SECTION,
     .section = &s3_section,
     .help = "S3 or an S3-compatible store (MinIO) that archive pipelines upload the lake to."},
    {.name = "topics",
     .type = APP_KEY_ITEMS,
     .off = APP_OFF(app_config_t, topics),
     .off2 = APP_OFF(app_config_t, n_topics),
     .section = &topic_section,
     .max = APP_CONFIG_MAX_ITEMS,
     .help = "The topics of the log, created at start when missing."},
    {.name = "schemas",
     .type = APP_KEY_ITEMS,
     .off = APP_OFF(app_config_t, schemas),
     .off2 = APP_OFF(app_config_t, n_schemas),
     .section = &schema_section,
     .max = APP_CONFIG_MAX_ITEMS,
     .help = "Record schemas: fields, checks and cross-field rules."},
    {.name = "pipelines",
     .type = APP_KEY_ITEMS,
     .off = APP_OFF(app_config_t, pipelines),
     .off2 = APP_OFF(app_config_t, n_pipelines),
     .section = &pipeline_section,
     .max = APP_CONFIG_MAX_ITEMS,
     .help = "Stream pipelines: each consumes one topic and writes to the store."},
    {.name = "jobs",
     .type = APP_KEY_ITEMS,
     .off = APP_OFF(app_config_t, jobs),
     .off2 = APP_OFF(app_config_t, n_jobs),
     .section = &job_section,
     .max = APP_CONFIG_MAX_ITEMS,
     .help = "Batch jobs: scheduled or manual, every run tracked in job_runs."},
    {.name = "generators",
     .type = APP_KEY_ITEMS,
     .off = APP_OFF(app_config_t, generators),
     .off2 = APP_OFF(app_config_t, n_generators),
     .section = &generator_section,
     .max = APP_CONFIG_MAX_ITEMS,
     .help = "Data simulators that `strata up` runs, each into a topic at a rate."},
};

static const app_section_t root_section = {.name = "", KEYS(root_keys)};

const app_section_t *app_config_root(void)
{
    return &root_section;
}

/* ------------------------------------------------------------------------
 * Value syntax: what text each key type accepts.
 * ------------------------------------------------------------------------ */

bool app_ident_valid(const char *s)
{
    if (s == NULL || !((*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    size_t n = 1;
    for (const char *p = s + 1; *p; p++, n++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    }
    return n <= APP_IDENT_MAX;
}

int app_parse_duration(const char *s, int64_t *ms)
{
    static const struct {
        const char *suffix;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1}};
    if (s == NULL || *s < '0' || *s > '9')
        return CORE_EINVAL;
    int64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - (*p - '0')) / 10)
            return CORE_ERANGE;
        v = v * 10 + (*p - '0');
    }
    for (size_t i = 0; i < CORE_ARRAY_LEN(units); i++) {
        if (strcmp(p, units[i].suffix) != 0)
            continue;
        if (v > INT64_MAX / units[i].ms)
            return CORE_ERANGE;
        *ms = v * units[i].ms;
        return 0;
    }
    return CORE_EINVAL;
}

/* ------------------------------------------------------------------------
 * Converters: text -> the typed field. They fill `why` and return false on
 * a bad value; the caller reports it with the location.
 * ------------------------------------------------------------------------ */

bool app_why(app_why_t *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->text, w->cap, fmt, ap);
    va_end(ap);
    return false;
}

static bool ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = (*a >= 'A' && *a <= 'Z') ? (char)(*a + 32) : *a;
        if (x != *b)
            return false;
    }
    return *a == *b;
}

static bool conv_bool(const char *s, bool *out, app_why_t *w)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(yes); i++) {
        if (ascii_ieq(s, yes[i]) || ascii_ieq(s, no[i])) {
            *out = ascii_ieq(s, yes[i]);
            return true;
        }
    }
    return app_why(w, "expected true or false, got '%.64s'", s);
}

static bool in_bounds(const app_key_t *k, int64_t v, app_why_t *w, const char *unit_text)
{
    if (k->min < k->max && (v < k->min || v > k->max)) {
        if (k->max == INT64_MAX)
            return app_why(w, "%s is below the minimum %lld", unit_text, (long long)k->min);
        return app_why(w, "%s is out of range (%lld to %lld%s)", unit_text, (long long)k->min,
                       (long long)k->max, k->type == APP_KEY_DURATION ? " ms" : "");
    }
    return true;
}

static bool conv_int(const app_key_t *k, const char *s, int64_t *out, app_why_t *w)
{
    int64_t v;
    if (core_parse_i64(s, INT64_MIN, INT64_MAX, &v) != 0)
        return app_why(w, "expected an integer, got '%.64s'", s);
    if (!in_bounds(k, v, w, s))
        return false;
    *out = v;
    return true;
}

static bool conv_size(const app_key_t *k, const char *s, int64_t *out, app_why_t *w)
{
    static const struct {
        const char *suffix;
        int64_t mult;
    } units[] = {{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}};
    size_t n = strlen(s);
    for (size_t i = 0; i < CORE_ARRAY_LEN(units); i++) {
        if (n > 3 && n < 32 && strcmp(s + n - 3, units[i].suffix) == 0) {
            char num[32];
            memcpy(num, s, n - 3);
            num[n - 3] = '\0';
            int64_t v;
            if (core_parse_i64(num, 0, INT64_MAX / units[i].mult, &v) != 0)
                return app_why(w, "invalid size '%.64s'", s);
            if (!in_bounds(k, v * units[i].mult, w, s))
                return false;
            *out = v * units[i].mult;
            return true;
        }
    }
    int64_t v;
    if (core_parse_i64(s, INT64_MIN, INT64_MAX, &v) != 0)
        return app_why(w, "invalid size '%.64s' (write bytes, or a number with KiB, MiB or GiB)",
                       s);
    if (!in_bounds(k, v, w, s))
        return false;
    *out = v;
    return true;
}

static bool conv_float(const app_key_t *k, const char *s, double *out, app_why_t *w)
{
    bool ok = *s != '\0';
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '-' ||
              *p == '+'))
            ok = false;
    char *end = NULL;
    double v = ok ? strtod(s, &end) : 0;
    if (!ok || end == s || *end != '\0' || !isfinite(v))
        return app_why(w, "expected a number, got '%.64s'", s);
    if (k->fmin < k->fmax && (v < k->fmin || v > k->fmax))
        return app_why(w, "%s is out of range (%g to %g)", s, k->fmin, k->fmax);
    *out = v;
    return true;
}

/* N or N/s: records per second, a number within the key's bounds. */
static bool conv_rate(const app_key_t *k, const char *s, double *out, app_why_t *w)
{
    char num[64];
    size_t n = strlen(s);
    if (n >= 2 && strcmp(s + n - 2, "/s") == 0)
        n -= 2;
    if (n == 0 || n >= sizeof num)
        return app_why(w, "invalid rate '%.64s' (write records per second: 200 or 200/s)", s);
    memcpy(num, s, n);
    num[n] = '\0';
    double v;
    if (!conv_float(k, num, &v, w))
        return app_why(w,
                       "invalid rate '%.64s' (write records per second, %g to %.15g: 200 or "
                       "200/s)",
                       s, k->fmin, k->fmax);
    *out = v;
    return true;
}

/* ISO 8601 (as a timestamp field with format iso8601 reads it) or a whole
 * number of ms since the epoch, from 1970 to 9999. */
static bool conv_time(const char *s, int64_t *out, app_why_t *w)
{
    static const int64_t max_ms = 253402300799999; /* 9999-12-31T23:59:59.999Z */
    int64_t v, us;
    if (core_parse_i64(s, 0, max_ms, &v) == 0) {
        *out = v;
        return true;
    }
    if (schema_parse_timestamp(SCHEMA_TS_ISO8601, NULL, s, strlen(s), &us) == 0 && us >= 0 &&
        us / 1000 <= max_ms) {
        *out = us / 1000;
        return true;
    }
    return app_why(w,
                   "invalid time '%.64s' (write ISO 8601 such as 2026-11-22T13:00:00Z, or ms "
                   "since the epoch)",
                   s);
}

static bool conv_duration(const app_key_t *k, const char *s, int64_t *out, app_why_t *w)
{
    int64_t v;
    if (app_parse_duration(s, &v) != 0)
        return app_why(w, "invalid duration '%.64s' (write 250ms, 5s, 1m, 1h, 1d, or milliseconds)",
                       s);
    if (!in_bounds(k, v, w, s))
        return false;
    *out = v;
    return true;
}

static bool conv_enum(const app_key_t *k, const char *s, int *out, app_why_t *w)
{
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; k->choices[i] != NULL; i++) {
        if (strcmp(s, k->choices[i]) == 0) {
            *out = i;
            return true;
        }
        int n = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", k->choices[i]);
        if (n > 0)
            used = CORE_MIN(used + (size_t)n, sizeof list - 1);
    }
    return app_why(w, "unknown value '%.64s' (expected one of: %s)", s, list);
}

static bool conv_topic(const char *s, app_why_t *w)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= 249 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
    for (const char *p = s; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '.' || *p == '_' || *p == '-';
    return ok ||
           app_why(w, "invalid topic name '%.64s' (1 to 249 of A-Z a-z 0-9 . _ -, not . or ..)", s);
}

static bool conv_name(const char *s, app_why_t *w)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= 255;
    for (const char *p = s; ok && *p; p++)
        ok = (unsigned char)*p >= 0x20 && *p != 0x7f;
    return ok || app_why(w, "invalid name '%.64s' (1 to 255 characters, no control characters)", s);
}

static bool conv_listen(const char *s, app_why_t *w)
{
    const char *colon = strrchr(s, ':');
    bool ok = colon != NULL && colon > s;
    if (ok && s[0] == '[')
        ok = colon[-1] == ']' && colon - s > 2;
    else if (ok)
        ok = memchr(s, ':', (size_t)(colon - s)) == NULL;
    int64_t port;
    if (!ok || core_parse_i64(colon + 1, 0, 65535, &port) != 0)
        return app_why(w, "invalid listen address '%.64s' (write HOST:PORT, port 0 to 65535)", s);
    return true;
}

static bool conv_flush(const char *s, app_why_t *w)
{
    int64_t ms;
    if (strcmp(s, "always") == 0 || strcmp(s, "never") == 0 ||
        (strncmp(s, "interval:", 9) == 0 && core_parse_i64(s + 9, 1, 86400000, &ms) == 0))
        return true;
    return app_why(
        w, "invalid flush policy '%.64s' (always, never or interval:<ms>, 1 to 86400000)", s);
}

static bool conv_store_url(const char *s, app_why_t *w)
{
    if ((strncmp(s, "sqlite:", 7) == 0 && s[7] != '\0') ||
        (strncmp(s, "postgresql://", 13) == 0 && s[13] != '\0') ||
        (strncmp(s, "postgres://", 11) == 0 && s[11] != '\0'))
        return true;
    return app_why(w, "invalid store URL '%.64s' (write sqlite:PATH or postgresql://user@host/db)",
                   s);
}

static bool conv_ts_format(const char *s, app_why_t *w)
{
    static const char *const names[] = {"auto", "epoch_s", "epoch_ms", "epoch_us", "iso8601"};
    for (size_t i = 0; i < CORE_ARRAY_LEN(names); i++)
        if (strcmp(s, names[i]) == 0)
            return true;
    if (strchr(s, '%') != NULL)
        return true;
    return app_why(
        w,
        "unknown timestamp format '%.64s' (auto, epoch_s, epoch_ms, epoch_us, iso8601, or "
        "a pattern such as %%Y-%%m-%%d %%H:%%M:%%S)",
        s);
}

/* Checks text against a string-like type. */
static bool check_text(app_key_type_t type, const char *s, app_why_t *w)
{
    switch (type) {
    case APP_KEY_IDENT:
        return app_ident_valid(s) ||
               app_why(w, "invalid identifier '%.64s' (lower case: [a-z_][a-z0-9_]{0,62})", s);
    case APP_KEY_TOPIC:
        return conv_topic(s, w);
    case APP_KEY_NAME:
        return conv_name(s, w);
    case APP_KEY_LISTEN:
        return conv_listen(s, w);
    case APP_KEY_FLUSH:
        return conv_flush(s, w);
    case APP_KEY_STORE_URL:
        return conv_store_url(s, w);
    case APP_KEY_TS_FORMAT:
        return conv_ts_format(s, w);
    default:
        return *s != '\0' || app_why(w, "must not be empty");
    }
}

static bool convert(core_arena_t *arena, const app_key_t *k, app_key_type_t type, const char *s,
                    void *dst, app_why_t *w)
{
    switch (type) {
    case APP_KEY_BOOL:
        return conv_bool(s, dst, w);
    case APP_KEY_INT:
        return conv_int(k, s, dst, w);
    case APP_KEY_SIZE:
        return conv_size(k, s, dst, w);
    case APP_KEY_FLOAT:
        return conv_float(k, s, dst, w);
    case APP_KEY_DURATION:
        return conv_duration(k, s, dst, w);
    case APP_KEY_ENUM:
        return conv_enum(k, s, dst, w);
    case APP_KEY_RATE:
        return conv_rate(k, s, dst, w);
    case APP_KEY_TIME:
        return conv_time(s, dst, w);
    default:
        break;
    }
    if (!check_text(type, s, w))
        return false;
    size_t n = strlen(s);
    char *copy = core_arena_alloc(arena, n + 1);
    if (copy == NULL)
        return app_why(w, "out of memory");
    memcpy(copy, s, n + 1);
    *(char **)dst = copy;
    return true;
}

bool app_key_convert(core_arena_t *arena, const app_key_t *k, app_key_type_t type, const char *s,
                     void *dst, char *why, size_t cap)
{
    app_why_t w = {why, cap};
    return convert(arena, k, type, s, dst, &w);
}

/* ------------------------------------------------------------------------
 * The reference printer.
 * ------------------------------------------------------------------------ */

static const char *type_doc(app_key_type_t t)
{
    switch (t) {
    case APP_KEY_STRING:
        return "string";
    case APP_KEY_NAME:
        return "name";
    case APP_KEY_IDENT:
        return "identifier";
    case APP_KEY_TOPIC:
        return "topic name";
    case APP_KEY_EXPR:
        return "expression";
    case APP_KEY_PATH:
        return "path";
    case APP_KEY_BOOL:
        return "bool";
    case APP_KEY_INT:
        return "integer";
    case APP_KEY_SIZE:
        return "size";
    case APP_KEY_FLOAT:
        return "number";
    case APP_KEY_DURATION:
        return "duration";
    case APP_KEY_ENUM:
        return "one of";
    case APP_KEY_FLUSH:
        return "flush policy";
    case APP_KEY_LISTEN:
        return "host:port";
    case APP_KEY_STORE_URL:
        return "store URL";
    case APP_KEY_TS_FORMAT:
        return "timestamp format";
    case APP_KEY_LIST:
        return "list of";
    case APP_KEY_SECTION:
        return "mapping";
    case APP_KEY_ITEMS:
        return "list of mappings";
    case APP_KEY_AGGREGATES:
        return "mapping of name to fn(expression)";
    case APP_KEY_RATE:
        return "rate";
    case APP_KEY_TIME:
        return "time";
    }
    return "?";
}

/* Appends a duration in the largest unit that divides it exactly. */
static void duration_doc(core_buf_t *b, int64_t ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"d", DAY_MS}, {"h", 3600000}, {"m", 60000}, {"s", 1000}};
    if (ms == 0) {
        core_buf_append_str(b, "0s");
        return;
    }
    for (size_t i = 0; i < CORE_ARRAY_LEN(units); i++) {
        if (ms % units[i].ms == 0) {
            core_buf_printf(b, "%" PRId64 "%s", ms / units[i].ms, units[i].unit);
            return;
        }
    }
    core_buf_printf(b, "%" PRId64 "ms", ms);
}

static void bound_doc(core_buf_t *b, const app_key_t *k, int64_t v)
{
    if (k->type == APP_KEY_DURATION)
        duration_doc(b, v);
    else
        core_buf_printf(b, "%" PRId64, v);
}

/* The type column: "duration", "one of `a`, `b`", "list of identifier". */
static void type_cell(core_buf_t *b, const app_key_t *k)
{
    core_buf_append_str(b, type_doc(k->type));
    if (k->type == APP_KEY_ENUM) {
        for (size_t i = 0; k->choices[i] != NULL; i++)
            core_buf_printf(b, "%s`%s`", i == 0 ? " " : ", ", k->choices[i]);
    } else if (k->type == APP_KEY_LIST) {
        core_buf_printf(b, " %s", type_doc(k->elem));
    }
}

static void bounds_cell(core_buf_t *b, const app_key_t *k)
{
    switch (k->type) {
    case APP_KEY_INT:
    case APP_KEY_SIZE:
    case APP_KEY_DURATION:
        bound_doc(b, k, k->min);
        core_buf_append_str(b, " to ");
        if (k->max == INT64_MAX)
            core_buf_append_str(b, "no limit");
        else
            bound_doc(b, k, k->max);
        break;
    case APP_KEY_FLOAT:
        if (k->fmin < k->fmax)
            core_buf_printf(b, "%g to %g", k->fmin, k->fmax);
        break;
    case APP_KEY_RATE:
        core_buf_printf(b, "%.15g/s to %.15g/s", k->fmin, k->fmax);
        break;
    case APP_KEY_LIST:
    case APP_KEY_ITEMS:
    case APP_KEY_AGGREGATES:
        if (k->max > 0)
            core_buf_printf(b, "%" PRId64 " to %" PRId64 " entries", k->min, k->max);
        break;
    default:
        break;
    }
}

/* Appends the names of the choices in `mask` of the discriminator key. */
static void variants_doc(core_buf_t *b, const app_section_t *sec, unsigned mask)
{
    const app_key_t *d = NULL;
    for (size_t i = 0; i < sec->n_keys && sec->discriminator != NULL; i++)
        if (strcmp(sec->keys[i].name, sec->discriminator) == 0)
            d = &sec->keys[i];
    if (d == NULL)
        return;
    core_buf_printf(b, "%s: ", d->name);
    const char *sep = "";
    for (size_t i = 0; d->choices[i] != NULL; i++) {
        if (mask & APP_VAR(i)) {
            core_buf_printf(b, "%s%s", sep, d->choices[i]);
            sep = ", ";
        }
    }
}

/* Where a key sits, for the reference: `outer` is set for the keys of a
 * nested mapping (`window.size`) and holds the enclosing key's name and
 * the variants it applies to. */
typedef struct {
    const char *prefix;        /* "" or "window." */
    const char *section;       /* env sections: "data"; else NULL */
    const char *outer;         /* "window" or NULL */
    const char *outer_applies; /* "kind: aggregate" or "" */
} place_t;

static void default_cell(core_buf_t *b, const app_section_t *sec, const app_key_t *k,
                         const place_t *at)
{
    if (k->required == APP_VAR_ALL) {
        core_buf_append_str(b, "**required**");
        if (at->outer != NULL)
            core_buf_printf(b, " in `%s`", at->outer);
        return;
    }
    if (k->required != 0) {
        core_buf_append_str(b, "**required** for ");
        variants_doc(b, sec, k->required);
        if (k->def_doc != NULL)
            core_buf_printf(b, "; else %s", k->def_doc);
        return;
    }
    if (k->def != NULL)
        core_buf_printf(b, "`%s`", k->def);
    else if (k->def_doc != NULL)
        core_buf_append_str(b, k->def_doc);
    else if (k->type != APP_KEY_SECTION) /* a mapping's defaults are its keys' */
        core_buf_append_str(b, "none");
}

/* Writes s to f with '|' escaped for a Markdown table cell. */
static void put_cell(FILE *f, const core_buf_t *b)
{
    fputs("| ", f);
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] == '|')
            fputc('\\', f);
        fputc(b->data[i], f);
    }
    fputc(' ', f);
}

static void upper_append(core_buf_t *b, const char *s)
{
    for (; *s; s++)
        core_buf_append_u8(b, (uint8_t)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s));
}

/* The environment or "applies to" column. */
static void applies_cell(core_buf_t *b, const app_section_t *sec, const app_key_t *k,
                         const place_t *at)
{
    if (at->section != NULL) {
        core_buf_append_str(b, "`STRATA_");
        upper_append(b, at->section);
        core_buf_append_u8(b, '_');
        upper_append(b, k->name);
        core_buf_append_u8(b, '`');
        return;
    }
    core_buf_append_str(b, at->outer_applies);
    if (k->variants != 0) {
        if (at->outer_applies[0] != '\0')
            core_buf_append_str(b, "; ");
        variants_doc(b, sec, k->variants);
    }
}

static void key_row(FILE *f, const app_section_t *sec, const app_key_t *k, const place_t *at)
{
    core_buf_t b;
    core_buf_init(&b, CORE_MEM_APP, 4096);
    core_buf_printf(&b, "`%s%s`", at->prefix, k->name);
    put_cell(f, &b);
    core_buf_reset(&b);
    type_cell(&b, k);
    put_cell(f, &b);
    core_buf_reset(&b);
    default_cell(&b, sec, k, at);
    put_cell(f, &b);
    core_buf_reset(&b);
    bounds_cell(&b, k);
    put_cell(f, &b);
    core_buf_reset(&b);
    applies_cell(&b, sec, k, at);
    put_cell(f, &b);
    core_buf_reset(&b);
    core_buf_append_str(&b, k->help);
    put_cell(f, &b);
    fputs("|\n", f);
    core_buf_fini(&b);
}

/* Rows of sec's keys; the keys of a nested mapping are flattened into
 * dotted names ("window.size") that carry the mapping's own variants. */
static void section_rows(FILE *f, const app_section_t *sec, const place_t *at)
{
    for (size_t i = 0; i < sec->n_keys; i++) {
        const app_key_t *k = &sec->keys[i];
        if (k->type != APP_KEY_SECTION) {
            key_row(f, sec, k, at);
            continue;
        }
        key_row(f, sec, k, at); /* the mapping itself, then its keys */
        char prefix[64];
        core_buf_t applies;
        core_buf_init(&applies, CORE_MEM_APP, 256);
        if (k->variants != 0)
            variants_doc(&applies, sec, k->variants);
        core_buf_append_u8(&applies, '\0');
        int n = snprintf(prefix, sizeof prefix, "%s%s.", at->prefix, k->name);
        place_t inner = {prefix, at->section, k->name,
                         applies.data != NULL ? (const char *)applies.data : ""};
        if (n > 0 && (size_t)n < sizeof prefix) /* the tables nest two levels at most */
            section_rows(f, k->section, &inner);
        core_buf_fini(&applies);
    }
}

static void print_section(FILE *f, const app_section_t *sec, const app_key_t *intro, bool env);

/* Tables of the ITEMS keys of sec (and of its nested sections). */
static void print_item_sections(FILE *f, const app_section_t *sec)
{
    for (size_t i = 0; i < sec->n_keys; i++) {
        const app_key_t *k = &sec->keys[i];
        if (k->type == APP_KEY_ITEMS)
            print_section(f, k->section, k, false);
        else if (k->type == APP_KEY_SECTION)
            print_item_sections(f, k->section);
    }
}

/* One table: a heading, the help of the key that introduces the section,
 * then a row per key. */
static void print_section(FILE *f, const app_section_t *sec, const app_key_t *intro, bool env)
{
    fprintf(f, "### `%s`\n\n%s\n\n", sec->item_size ? sec->name : intro->name, intro->help);
    fprintf(f, "| key | type | default | bounds | %s | help |\n",
            env ? "environment" : "applies to");
    fputs("|---|---|---|---|---|---|\n", f);
    place_t at = {"", env ? sec->name : NULL, NULL, ""};
    section_rows(f, sec, &at);
    fputc('\n', f);
    print_item_sections(f, sec);
}

int app_config_print_keys(FILE *f)
{
    for (size_t i = 0; i < root_section.n_keys; i++) {
        const app_key_t *k = &root_section.keys[i];
        if (k->type == APP_KEY_SECTION || k->type == APP_KEY_ITEMS)
            print_section(f, k->section, k, k->section->env);
    }
    if (fflush(f) != 0 || ferror(f))
        return core_error(CORE_EIO, "writing the key reference failed");
    return 0;
}
