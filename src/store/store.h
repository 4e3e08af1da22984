/*
 * store: the serving store. One interface, two backends: SQLite (embedded
 * default, WAL mode, prepared statements) and PostgreSQL (libpq; bulk work
 * by COPY into a temporary table then INSERT ... ON CONFLICT, never a round
 * trip per row).
 *
 * Lifecycle: store_open() -> store_migrate() -> store_table_open() for each
 * user table -> many store_commit(batch) and reads -> store_close().
 *
 * Threading: a store_t is one connection and belongs to one thread at a
 * time. Each pipeline thread opens its own. store_batch_t likewise.
 *
 * Values are schema_value_t. Column types map as:
 *   SCHEMA_BOOL      -> BOOLEAN (SQLite INTEGER 0/1)
 *   SCHEMA_INT       -> BIGINT  (SQLite INTEGER)
 *   SCHEMA_FLOAT     -> DOUBLE PRECISION (SQLite REAL)
 *   SCHEMA_STRING    -> TEXT
 *   SCHEMA_TIMESTAMP -> BIGINT microseconds since the epoch, UTC
 *   SCHEMA_OBJECT/ARRAY -> TEXT holding the JSON
 * so the two backends hold identical values. Reads return the column's
 * declared type (timestamps as SCHEMA_TIMESTAMP).
 *
 * Identifiers (table and column names from the config) must pass
 * store_ident_check() and are always quoted. All values are parameters.
 *
 * Errors: CORE_EIO when the server or file is unreachable (the caller
 * retries with backoff; the next call reconnects), CORE_EFAILED when a
 * commit was fenced (another owner holds the partition), CORE_EEXIST when a
 * statement would break a unique or primary-key constraint, CORE_EINVAL for
 * bad identifiers, definitions and other refused statements, CORE_ECORRUPT
 * when an existing table's columns disagree with the definition. The detail
 * names the table.
 */
#ifndef STRATA_STORE_H
#define STRATA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "schema/schema.h"

typedef struct store store_t;
typedef struct store_table store_table_t;
typedef struct store_batch store_batch_t;

/* url: "sqlite:PATH", a plain path (SQLite), or "postgresql://..." /
 * "postgres://..." (libpq connection URI). SQLite creates the file and sets
 * WAL mode, synchronous=NORMAL and a busy timeout of 5000 ms; the "sqlite:"
 * forms take options "?synchronous=off|normal|full|extra&busy_timeout=MS"
 * (CORE_EINVAL for others). CORE_EIO with the server's message (never the
 * password) when it cannot connect. */
int store_open(const char *url, store_t **out);
void store_close(store_t *s); /* NULL is ignored */
/* "sqlite" or "postgresql". Static. */
const char *store_backend(const store_t *s);
/* A round trip to the server (SELECT 1). CORE_EIO if it is gone. */
int store_ping(store_t *s);

/* Creates or upgrades the system tables (idempotent; concurrent callers on
 * PostgreSQL are serialized with an advisory lock; CORE_EUNSUPP if the
 * database was migrated by a newer strata):
 *   strata_offsets(pipeline, topic, partition, next_offset, epoch,
 *                  watermark, updated_at)      PK (pipeline, topic, partition)
 *   strata_state(pipeline, partition, name, key, state)
 *                                              PK (pipeline, partition, name, key)
 *   strata_views(name, pipeline, definition, created_at, version,
 *       replayed_at)                               PK (name)
 *   dlq(id, pipeline, topic, partition, "offset", kind, reason, key, value,
 *       event_time, created_at, replayed_at, replay_offset)
 *                                      UNIQUE (pipeline, topic, partition, "offset")
 *   anomalies(id, pipeline, rule, key, event_time, value, score, detail,
 *       topic, partition, "offset", created_at)
 *                                      UNIQUE (pipeline, rule, topic, partition, "offset")
 *   jobs(name, kind, schedule, definition, updated_at)     PK (name)
 *   job_runs(id, job, state, attempt, logical_date, interval_end, params,
 *       started_at, finished_at, duration_ms, rows_in, rows_out, error,
 *       lineage, owner, progress)      at most one 'running' row per job
 *   strata_imports(sha256, topic, path, job, run_id, rows, invalid,
 *       imported_at, state, next_byte, next_line, end_offsets)
 *                                              PK (sha256, topic)
 * `id` columns are generated (INTEGER PRIMARY KEY / BIGSERIAL); times are
 * microseconds. dlq key/value and strata_state key/state are bytes (BLOB /
 * BYTEA). Names starting "strata_" and the names above are reserved. */
int store_migrate(store_t *s);

/* The identifier rule: [a-z_][a-z0-9_]{0,62}. CORE_EINVAL with a detail
 * naming `what` ("table", "column") otherwise. */
int store_ident_check(const char *name, const char *what);
/* True for the system table names above and anything starting "strata_". */
bool store_ident_reserved(const char *name);

typedef struct {
    const char *name;
    schema_type_t type; /* SCHEMA_NULL is not allowed */
} store_column_t;

/* A user table: columns in order; the first npk columns form the primary
 * key (npk >= 1). Strings are borrowed by store_table_open. */
typedef struct {
    const char *name;
    const store_column_t *columns;
    size_t ncolumns;
    size_t npk;
} store_table_def_t;

/* Creates the table if it does not exist (and adds columns missing from an
 * existing one), checks that existing columns have compatible types, and
 * prepares its statements. The handle belongs to s and is freed by
 * store_close; opening an identical definition again returns the same
 * handle. Errors: CORE_EINVAL (bad identifier, reserved name, npk 0 or
 * > ncolumns), CORE_ECORRUPT (existing column of another type, or another
 * primary key), CORE_EIO. */
int store_table_open(store_t *s, const store_table_def_t *def, store_table_t **out);
const store_table_def_t *store_table_def(const store_table_t *t);

/* ---- Batches: everything one commit writes, applied in one transaction.
 * The batch copies what it is given (strings into its arena), so values may
 * be reused right after a call. Within one batch, each table's rows must
 * have distinct primary keys (the stream runtime collapses repeated keys,
 * keeping the last operation); store_commit fails with CORE_EINVAL
 * otherwise. Operations on one table apply as: deletes, then upserts. */
int store_batch_create(store_batch_t **out);
void store_batch_destroy(store_batch_t *b);
void store_batch_reset(store_batch_t *b);
/* Number of row operations queued (upserts + deletes + dlq + anomalies +
 * state). */
size_t store_batch_rows(const store_batch_t *b);

/* Insert or replace the row whose PK is values[0..npk). values has
 * ncolumns entries; SCHEMA_NULL is NULL (not allowed in the key). Types
 * must match the columns (ints are accepted for float and timestamp
 * columns); a NaN float is stored as NULL. Text must be valid UTF-8 without
 * NUL bytes (what PostgreSQL can store). CORE_EINVAL otherwise, leaving the
 * batch unchanged. */
int store_batch_upsert(store_batch_t *b, store_table_t *t, const schema_value_t *values);
/* Delete the row with this primary key (npk values). */
int store_batch_delete(store_batch_t *b, store_table_t *t, const schema_value_t *pk);

typedef struct {
    const char *pipeline;
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *kind; /* schema_err_kind_name() or "late", "oversize", ... */
    const char *reason;
    const char *key; /* record key bytes or NULL */
    size_t key_len;
    const char *value; /* raw record value or NULL */
    size_t value_len;
    int64_t event_time; /* microseconds, or INT64_MIN when unknown */
} store_dlq_t;
/* Insert, ignoring a duplicate (pipeline, topic, partition, offset). key
 * and value are stored as bytes; kind and reason have bytes that are not
 * UTF-8 replaced by U+FFFD. */
int store_batch_dlq(store_batch_t *b, const store_dlq_t *d);

typedef struct {
    const char *pipeline;
    const char *rule;
    const char *key;
    size_t key_len;
    int64_t event_time; /* microseconds */
    double value;
    double score;       /* z-score, count, ... ; NAN if none */
    const char *detail; /* JSON text or NULL */
    const char *topic;
    int32_t partition;
    int64_t offset;
} store_anomaly_t;
/* Insert, ignoring a duplicate (pipeline, rule, topic, partition, offset).
 * key and detail are text (invalid UTF-8 replaced by U+FFFD); NaN value or
 * score and an event_time of INT64_MIN are stored as NULL. */
int store_batch_anomaly(store_batch_t *b, const store_anomaly_t *a);

/* Keyed operator state (detectors): put replaces, a NULL state deletes.
 * key and state are bytes. A later operation on the same (pipeline,
 * partition, name, key) in one batch replaces the earlier one. */
int store_batch_state(store_batch_t *b, const char *pipeline, int32_t partition, const char *name,
                      const char *key, size_t key_len, const void *state, size_t state_len);

/* The partition's next offset and watermark, committed only if the row's
 * epoch still equals `epoch` (the fence). At most one per (pipeline, topic,
 * partition) per batch (CORE_EINVAL for a second). */
int store_batch_offset(store_batch_t *b, const char *pipeline, const char *topic, int32_t partition,
                       int64_t next_offset, int64_t epoch, int64_t watermark);

/* Applies the batch in one transaction and resets it. On any error the
 * transaction is rolled back, nothing of the batch is applied, and the
 * batch is kept (so the caller may retry it after CORE_EIO). CORE_EFAILED
 * if an offset's epoch fence failed. */
int store_commit(store_t *s, store_batch_t *b);

/* ---- Offsets and fencing. */

/* Claims (pipeline, topic, partition): creates the row if missing (offset
 * 0, watermark INT64_MIN), increments its epoch and returns the new epoch
 * and the committed position. Commits made with an older epoch fail from
 * now on. */
int store_offsets_claim(store_t *s, const char *pipeline, const char *topic, int32_t partition,
                        int64_t *epoch, int64_t *next_offset, int64_t *watermark);

/* ---- Reads. The callback gets one row's values (borrowed until it
 * returns) in column order; a nonzero return stops the scan and is
 * returned. */
typedef int (*store_row_fn)(void *arg, const schema_value_t *values, size_t n);

typedef enum { STORE_EQ, STORE_LT, STORE_LE, STORE_GT, STORE_GE } store_op_t;
typedef struct {
    const char *column;
    store_op_t op;
    schema_value_t value;
} store_filter_t;

/* SELECT the table's columns WHERE all filters hold, ORDER BY the primary
 * key, LIMIT limit (0: no limit) OFFSET skip. */
int store_select(store_t *s, store_table_t *t, const store_filter_t *filters, size_t nfilters,
                 size_t limit, size_t skip, store_row_fn fn, void *arg);

/* Loads a pipeline partition's keyed state: fn receives (name, key, state) as
 * values[0..3) (string, string, string; key and state are bytes), ordered
 * by name, key. */
int store_state_load(store_t *s, const char *pipeline, int32_t partition, store_row_fn fn,
                     void *arg);

/* Runs arbitrary SQL (jobs, tests, the views registry). Parameters are
 * bound positionally: write them as ?1, ?2 ... (rewritten to $1 for
 * PostgreSQL outside literals, quoted identifiers and comments; a bare ?
 * is left alone); string parameters must be UTF-8 without NUL bytes. Several
 * statements may be given when there are no parameters. Result columns
 * arrive with types as the backend reports them (integers, floats, text,
 * NULL; bytes as strings; PostgreSQL booleans as SCHEMA_BOOL). fn may
 * be NULL. *changes (may be NULL) receives the affected row count. */
int store_exec(store_t *s, const char *sql, const schema_value_t *params, size_t nparams,
               store_row_fn fn, void *arg, int64_t *changes);

/* Quotes an identifier for the backend ("name"), appending to out. */
int store_quote_ident(const char *name, core_buf_t *out);

#endif
