/*
 * store_int.h - the serving store's internals: the backend vtable, the
 * handle structs, the batch layout, and helpers the backends share.
 *
 * Layering inside the module:
 *   store.c    public dispatch, identifiers, URLs, SQL text for reads
 *   batch.c    store_batch_t: queued operations, validation, duplicate keys
 *   migrate.c  system-table DDL of both dialects, store_migrate,
 *              store_table_open (create / introspect / add columns)
 *   sqlite.c   the SQLite backend
 *   postgres.c the PostgreSQL backend: connection, reconnect, reads
 *   pg_copy.c  the PostgreSQL commit: COPY text encoding, one transaction
 *
 * A backend embeds store_t as its first member and is reached through
 * store_t.ops only. Backend calls never reconnect by themselves: the public
 * entry points call ops->ready() once, first, so a connection lost in the
 * middle of a transaction can never be silently replaced mid-way.
 */
#ifndef STRATA_STORE_INT_H
#define STRATA_STORE_INT_H

#include "store/store.h"

/* Cap on one value read back from a backend (text or bytes). */
#define STORE_MAX_VALUE_BYTES ((size_t)64 << 20)
/* Cap on SQL text the store generates. */
#define STORE_MAX_SQL_BYTES ((size_t)1 << 20)
/* Cap on a batch's copied strings and bytes. */
#define STORE_BATCH_MAX_BYTES ((size_t)4 << 30)
/* Most columns in a user table. */
#define STORE_MAX_COLUMNS 1000
/* The advisory-lock key that serializes DDL on PostgreSQL ("strata" + 1). */
#define STORE_PG_DDL_LOCK "7526746393429114881"

typedef enum { STORE_DIALECT_SQLITE, STORE_DIALECT_PG } store_dialect_t;

typedef struct store_ops {
    const char *name; /* "sqlite", "postgresql" */
    store_dialect_t dialect;
    void (*close)(store_t *s);
    /* Reconnects if the connection was lost (and restores session state).
     * Called once at the start of every public entry point. */
    int (*ready)(store_t *s);
    int (*ping)(store_t *s);
    /* Runs SQL without parameters or results; several statements allowed. */
    int (*script)(store_t *s, const char *sql);
    /* Runs one statement in the dialect's own placeholder syntax. When
     * types is non-NULL, result column i (< ntypes) converts to types[i];
     * otherwise values come typed as the backend reports them. */
    int (*query)(store_t *s, const char *sql, const schema_value_t *params, size_t nparams,
                 const schema_type_t *types, size_t ntypes, store_row_fn fn, void *arg,
                 int64_t *changes);
    /* Prepares what commits need for a freshly opened table. */
    int (*table_prepare)(store_t *s, store_table_t *t);
    void (*table_free)(store_table_t *t);
    int (*commit)(store_t *s, const store_batch_t *b);
} store_ops_t;

struct store {
    const store_ops_t *ops;
    char *where; /* the URL or path without any password; owned */
    store_table_t **tables;
    size_t ntables, cap_tables;
};

struct store_table {
    store_t *store;
    size_t index;          /* position in store->tables; names temp tables */
    store_table_def_t def; /* strings point into `strings` */
    store_column_t *columns;
    char *strings;
    void *priv; /* the backend's per-table state */
};

/* ---- Batches. */
typedef struct {
    store_table_t *table;
    schema_value_t *up; /* nup rows of table->def.ncolumns values */
    size_t nup, cap_up;
    schema_value_t *del; /* ndel keys of table->def.npk values */
    size_t ndel, cap_del;
} store_batch_tab_t;

/* Text and bytes below point into the batch's arena. NULL pointers mean
 * NULL; text is NUL-terminated, valid UTF-8 without NUL bytes. */
typedef struct {
    const char *pipeline, *topic, *kind, *reason;
    int32_t partition;
    int64_t offset;
    const char *key, *value; /* bytes */
    size_t key_len, value_len;
    int64_t event_time; /* INT64_MIN: NULL */
    int64_t created_at;
} store_dlq_op_t;

typedef struct {
    const char *pipeline, *rule, *key, *detail, *topic;
    size_t key_len;
    int64_t event_time;
    double value, score; /* NaN: NULL */
    int32_t partition;
    int64_t offset;
    int64_t created_at;
} store_anomaly_op_t;

typedef struct {
    const char *pipeline, *name;
    int32_t partition;
    const char *key, *state; /* bytes; state NULL deletes */
    size_t key_len, state_len;
} store_state_op_t;

typedef struct {
    const char *pipeline, *topic;
    int32_t partition;
    int64_t next_offset, epoch, watermark;
} store_offset_op_t;

struct store_batch {
    core_arena_t *arena;
    store_batch_tab_t *tabs;
    size_t ntabs, cap_tabs;
    store_dlq_op_t *dlq;
    size_t ndlq, cap_dlq;
    store_anomaly_op_t *anom;
    size_t nanom, cap_anom;
    store_state_op_t *state;
    size_t nstate, cap_state;
    core_map_t *state_index; /* state key -> index + 1 in state[] */
    store_offset_op_t *off;
    size_t noff, cap_off;
    size_t rows;
};

/* Checks every table's upserts, and deletes, for repeated primary keys.
 * CORE_EINVAL naming the table. */
int store_batch_check(const store_batch_t *b);
/* The wall time the batch stamps on rows (updated_at of offsets). */
int64_t store_now_us(void);

/* ---- Shared helpers. */
/* Runs SQL written with ?N placeholders on the backend (rewritten to $N
 * for PostgreSQL); missing parameters are CORE_EINVAL. No reconnect. */
int store_run(store_t *s, const char *sql, const schema_value_t *params, size_t nparams,
              const schema_type_t *types, size_t ntypes, store_row_fn fn, void *arg,
              int64_t *changes);
/* Converts v for a column of type col: exact type, ints for floats and
 * timestamps, NaN floats become NULL; text must be valid UTF-8 without NUL.
 * CORE_EINVAL otherwise (detail names `what`). */
int store_value_coerce(schema_type_t col, const schema_value_t *v, schema_value_t *out,
                       const char *what);
/* The SQL type a column of type t is declared with (both dialects). */
const char *store_sql_type(schema_type_t t);
/* Rewrites ?N placeholders to $N outside literals, quoted identifiers and
 * comments. *maxn receives the highest N seen. CORE_EINVAL for ?0 or an
 * unterminated literal. */
int store_sql_to_pg(const char *sql, core_buf_t *out, size_t *maxn);
/* True if bytes[0..n) are valid UTF-8 without NUL bytes. */
bool store_text_ok(const char *p, size_t n);
/* Appends "name" with any '"' doubled (identifiers are checked, but the
 * quoting is right for any text). */
int store_quote(const char *name, core_buf_t *out);

/* Appends "c1", "c2", ... for the first n columns, each after `prefix`
 * (e.g. "t.") when it is not NULL. */
int store_sql_columns(const store_table_def_t *d, size_t n, const char *prefix, core_buf_t *out);
/* Appends " ON CONFLICT (pk...) DO UPDATE SET c = excluded.c, ..." (DO
 * NOTHING when every column is in the key). */
int store_sql_on_conflict(const store_table_def_t *d, core_buf_t *out);

/* Backend constructors. SQLite: the file path, followed by "?key=value&..."
 * options when `options` is set. PostgreSQL: the libpq URL and its
 * redacted form (copied). */
int store_sqlite_open(const char *spec, bool options, store_t **out);
int store_pg_open(const char *url, const char *where, store_t **out);

/* ---- PostgreSQL backend internals, shared by postgres.c (connection,
 * reads, errors) and pg_copy.c (temporary tables, COPY, commit). */
struct pg_conn;
struct pg_result;

typedef struct {
    store_t base;
    struct pg_conn *conn;
    bool broken;     /* a failure left the session unusable: reset first */
    bool session_ok; /* settings and temporary tables exist on this session */
    char *secret[2]; /* the password as written and percent-decoded */
    core_buf_t copy; /* COPY data on its way to the server */
} store_pg_t;

/* Sets the detail for a failed libpq call ("what" names it) and returns
 * the code: CORE_EIO (and marks the session broken) when the connection is
 * gone, CORE_EINVAL for data and SQL errors, else CORE_EIO. res may be
 * NULL (then the connection's message is used). */
int store_pg_fail(store_pg_t *p, const struct pg_result *res, const char *what);
/* Runs SQL without results (several statements allowed). */
int store_pg_script(store_pg_t *p, const char *sql);
/* Creates the session's temporary tables: the system ones and those of
 * every open table. */
int store_pg_session_tables(store_pg_t *p);
int store_pg_table_prepare(store_t *s, store_table_t *t);
void store_pg_table_free(store_table_t *t);
int store_pg_commit(store_t *s, const store_batch_t *b);

#endif /* STRATA_STORE_INT_H */
