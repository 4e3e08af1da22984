/*
 * sqlite.c - the SQLite backend: one database connection per store_t.
 *
 * The file runs in WAL mode with synchronous=NORMAL (a power loss may
 * roll back the last committed transaction but never corrupts the file;
 * "?synchronous=full" makes every commit durable) and a busy timeout of
 * 5000 ms, after which a locked database is CORE_EIO (the caller retries).
 *
 * A commit is one BEGIN IMMEDIATE ... COMMIT. It checks the offset fences
 * first, so a fenced commit writes nothing, then applies each table's
 * deletes and upserts through statements prepared once per table, then the
 * dlq, anomaly and state rows. Any failure rolls the transaction back.
 *
 * Invariants:
 *   1. Outside store_commit and the DDL of migrate.c the connection is in
 *      autocommit mode.
 *   2. Cached statements are reset after every use, so none holds a read
 *      transaction open.
 *
 * Threading: the connection is opened SQLITE_OPEN_NOMUTEX; the store_t
 * belongs to one thread at a time.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    store_t base;
    sqlite3 *db;
    /* Cached system statements, prepared on first use. */
    sqlite3_stmt *fence, *dlq, *anom, *state_put, *state_del;
} sq_store_t;

typedef struct {
    sqlite3_stmt *upsert, *del;
} sq_table_t;

static int sq_error(sq_store_t *q, int src, const char *what)
{
    int code;
    if (src == SQLITE_CONSTRAINT_UNIQUE || src == SQLITE_CONSTRAINT_PRIMARYKEY)
        return core_error(CORE_EEXIST, "store %s: %s: %s", q->base.where, what,
                          q->db != NULL ? sqlite3_errmsg(q->db) : sqlite3_errstr(src));
    switch (src & 0xff) {
    case SQLITE_FULL:
        code = CORE_ENOSPC;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        code = CORE_ECORRUPT;
        break;
    case SQLITE_ERROR:
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        code = CORE_EINVAL;
        break;
    case SQLITE_NOMEM:
        code = CORE_ENOMEM;
        break;
    default: /* BUSY, LOCKED, IOERR, CANTOPEN, ...: retry later */
        code = CORE_EIO;
        break;
    }
    return core_error(code, "store %s: %s: %s", q->base.where, what,
                      q->db != NULL ? sqlite3_errmsg(q->db) : sqlite3_errstr(src));
}

static int sq_script(store_t *s, const char *sql)
{
    sq_store_t *q = (sq_store_t *)s;
    char *msg = NULL;
    int src = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
    if (src == SQLITE_OK)
        return CORE_OK;
    int rc = sq_error(q, src, "SQL");
    if (msg != NULL)
        rc = core_error(rc, "store %s: %s (in: %.120s)", s->where, msg, sql);
    sqlite3_free(msg);
    return rc;
}

static int sq_ready(store_t *s)
{
    (void)s;
    return CORE_OK;
}

static int sq_ping(store_t *s)
{
    return sq_script(s, "SELECT 1");
}

static int bind_value(sqlite3_stmt *st, int i, const schema_value_t *v)
{
    switch (v->type) {
    case SCHEMA_NULL:
        return sqlite3_bind_null(st, i);
    case SCHEMA_BOOL:
        return sqlite3_bind_int(st, i, v->v.b ? 1 : 0);
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        return sqlite3_bind_int64(st, i, v->v.i);
    case SCHEMA_FLOAT:
        return sqlite3_bind_double(st, i, v->v.f);
    default:
        if (v->v.s.len > INT_MAX)
            return SQLITE_TOOBIG;
        return sqlite3_bind_text(st, i, v->v.s.len > 0 ? v->v.s.p : "", (int)v->v.s.len,
                                 SQLITE_STATIC);
    }
}

static int bind_bytes(sqlite3_stmt *st, int i, const char *p, size_t n)
{
    if (p == NULL)
        return sqlite3_bind_null(st, i);
    if (n > INT_MAX)
        return SQLITE_TOOBIG;
    return sqlite3_bind_blob(st, i, n > 0 ? p : "", (int)n, SQLITE_STATIC);
}

static int bind_text(sqlite3_stmt *st, int i, const char *p)
{
    if (p == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, p, -1, SQLITE_STATIC);
}

/* Column i of the current row, as type want (SCHEMA_NULL: as stored). */
static int column_value(sqlite3_stmt *st, int i, schema_type_t want, schema_value_t *out)
{
    int ct = sqlite3_column_type(st, i);
    if (ct == SQLITE_NULL) {
        out->type = SCHEMA_NULL;
        return CORE_OK;
    }
    if (want == SCHEMA_NULL)
        want = ct == SQLITE_INTEGER ? SCHEMA_INT
               : ct == SQLITE_FLOAT ? SCHEMA_FLOAT
                                    : SCHEMA_STRING;
    out->type = want;
    switch (want) {
    case SCHEMA_BOOL:
        out->v.b = ct == SQLITE_FLOAT ? sqlite3_column_double(st, i) != 0.0
                                      : sqlite3_column_int64(st, i) != 0;
        return CORE_OK;
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        out->v.i = sqlite3_column_int64(st, i);
        return CORE_OK;
    case SCHEMA_FLOAT:
        out->v.f = sqlite3_column_double(st, i);
        return CORE_OK;
    default:
        out->v.s.p = ct == SQLITE_BLOB ? sqlite3_column_blob(st, i)
                                       : (const char *)sqlite3_column_text(st, i);
        int n = sqlite3_column_bytes(st, i);
        if (n < 0 || (size_t)n > STORE_MAX_VALUE_BYTES)
            return CORE_ETOOBIG;
        out->v.s.len = (size_t)n;
        if (out->v.s.p == NULL)
            out->v.s.p = "";
        return CORE_OK;
    }
}

/* Steps st to the end, handing each row to fn. */
static int run_stmt(sq_store_t *q, sqlite3_stmt *st, const schema_type_t *types, size_t ntypes,
                    store_row_fn fn, void *arg)
{
    int ncol = sqlite3_column_count(st);
    schema_value_t stackv[32];
    schema_value_t *vals = stackv;
    if (ncol > 32 && (vals = core_calloc(CORE_MEM_STORE, (size_t)ncol, sizeof(*vals))) == NULL)
        return core_error(CORE_ENOMEM, "store %s: out of memory", q->base.where);
    int rc = CORE_OK, src = SQLITE_DONE;
    while (rc == CORE_OK && (src = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; rc == CORE_OK && i < ncol; i++)
            rc = column_value(st, i, (size_t)i < ntypes ? types[i] : SCHEMA_NULL, &vals[i]);
        if (rc != CORE_OK)
            rc = core_error(rc, "store %s: a result value exceeds %zu bytes", q->base.where,
                            STORE_MAX_VALUE_BYTES);
        else if (fn != NULL)
            rc = fn(arg, vals, (size_t)ncol);
    }
    if (rc == CORE_OK && src != SQLITE_DONE)
        rc = sq_error(q, src, "query");
    if (vals != stackv)
        core_free(vals);
    return rc;
}

static int sq_query(store_t *s, const char *sql, const schema_value_t *params, size_t nparams,
                    const schema_type_t *types, size_t ntypes, store_row_fn fn, void *arg,
                    int64_t *changes)
{
    sq_store_t *q = (sq_store_t *)s;
    int64_t total = 0;
    int rc = CORE_OK;
    const char *tail = sql;
    while (rc == CORE_OK && tail != NULL && *tail != '\0') {
        sqlite3_stmt *st = NULL;
        int src = sqlite3_prepare_v2(q->db, tail, -1, &st, &tail);
        if (src != SQLITE_OK)
            return sq_error(q, src, "prepare");
        if (st == NULL) /* only whitespace or comments left */
            break;
        int nb = sqlite3_bind_parameter_count(st);
        if ((size_t)nb > nparams)
            rc = core_error(CORE_EINVAL, "store %s: SQL uses parameter ?%d but %zu given", s->where,
                            nb, nparams);
        for (int i = 0; rc == CORE_OK && i < nb; i++)
            if ((src = bind_value(st, i + 1, &params[i])) != SQLITE_OK)
                rc = sq_error(q, src, "bind");
        int64_t before = sqlite3_total_changes64(q->db);
        if (rc == CORE_OK)
            rc = run_stmt(q, st, types, ntypes, fn, arg);
        total += sqlite3_total_changes64(q->db) - before;
        sqlite3_finalize(st);
    }
    if (changes != NULL)
        *changes = total;
    return rc;
}

static int sq_prepare(sq_store_t *q, const char *sql, sqlite3_stmt **out)
{
    if (*out != NULL)
        return CORE_OK;
    int src = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (src != SQLITE_OK)
        return sq_error(q, src, "prepare");
    return CORE_OK;
}

/* Runs a statement whose parameters are bound; resets it either way. */
static int sq_step(sq_store_t *q, sqlite3_stmt *st, const char *what)
{
    int src = sqlite3_step(st);
    int rc = src == SQLITE_DONE || src == SQLITE_ROW ? CORE_OK : sq_error(q, src, what);
    sqlite3_reset(st);
    return rc;
}

/* ---- Tables. */

static int sq_table_prepare(store_t *s, store_table_t *t)
{
    sq_store_t *q = (sq_store_t *)s;
    const store_table_def_t *d = &t->def;
    sq_table_t *qt = core_calloc(CORE_MEM_STORE, 1, sizeof(*qt));
    if (qt == NULL)
        return core_error(CORE_ENOMEM, "store: table %s: out of memory", d->name);
    t->priv = qt;
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_STORE, STORE_MAX_SQL_BYTES);
    int rc = core_buf_append_str(&sql, "INSERT INTO ");
    if (rc == CORE_OK)
        rc = store_quote(d->name, &sql);
    if (rc == CORE_OK)
        rc = core_buf_append_str(&sql, " (");
    if (rc == CORE_OK)
        rc = store_sql_columns(d, d->ncolumns, NULL, &sql);
    for (size_t i = 0; rc == CORE_OK && i < d->ncolumns; i++)
        rc = core_buf_printf(&sql, "%s?%zu", i == 0 ? ") VALUES (" : ", ", i + 1);
    if (rc == CORE_OK)
        rc = core_buf_append_str(&sql, ")");
    if (rc == CORE_OK)
        rc = store_sql_on_conflict(d, &sql);
    if (rc == CORE_OK)
        rc = core_buf_append_u8(&sql, 0);
    if (rc == CORE_OK)
        rc = sq_prepare(q, (const char *)sql.data, &qt->upsert);
    core_buf_reset(&sql);
    if (rc == CORE_OK)
        rc = core_buf_append_str(&sql, "DELETE FROM ");
    if (rc == CORE_OK)
        rc = store_quote(d->name, &sql);
    for (size_t i = 0; rc == CORE_OK && i < d->npk; i++) {
        rc = core_buf_append_str(&sql, i == 0 ? " WHERE " : " AND ");
        if (rc == CORE_OK)
            rc = store_quote(d->columns[i].name, &sql);
        if (rc == CORE_OK)
            rc = core_buf_printf(&sql, " = ?%zu", i + 1);
    }
    if (rc == CORE_OK)
        rc = core_buf_append_u8(&sql, 0);
    if (rc == CORE_OK)
        rc = sq_prepare(q, (const char *)sql.data, &qt->del);
    core_buf_fini(&sql);
    return rc;
}

static void sq_table_free(store_table_t *t)
{
    sq_table_t *qt = t->priv;
    if (qt == NULL)
        return;
    sqlite3_finalize(qt->upsert);
    sqlite3_finalize(qt->del);
    core_free(qt);
    t->priv = NULL;
}

/* ---- Commit. */

/* Binds n values of one row to st's parameters 1..n and runs it. */
static int sq_row(sq_store_t *q, sqlite3_stmt *st, const schema_value_t *v, size_t n,
                  const char *table)
{
    for (size_t i = 0; i < n; i++) {
        int src = bind_value(st, (int)i + 1, &v[i]);
        if (src != SQLITE_OK) {
            sqlite3_reset(st);
            return sq_error(q, src, table);
        }
    }
    return sq_step(q, st, table);
}

static int commit_table(sq_store_t *q, const store_batch_tab_t *e)
{
    const store_table_def_t *d = &e->table->def;
    const sq_table_t *qt = e->table->priv;
    int rc = CORE_OK;
    for (size_t r = 0; rc == CORE_OK && r < e->ndel; r++)
        rc = sq_row(q, qt->del, e->del + r * d->npk, d->npk, d->name);
    for (size_t r = 0; rc == CORE_OK && r < e->nup; r++)
        rc = sq_row(q, qt->upsert, e->up + r * d->ncolumns, d->ncolumns, d->name);
    return rc;
}

static int commit_fences(sq_store_t *q, const store_batch_t *b)
{
    int rc = sq_prepare(q,
                        "UPDATE \"strata_offsets\" SET \"next_offset\" = ?1, \"watermark\" = ?2, "
                        "\"updated_at\" = ?3 WHERE \"pipeline\" = ?4 AND \"topic\" = ?5 AND "
                        "\"partition\" = ?6 AND \"epoch\" = ?7",
                        &q->fence);
    int64_t now = store_now_us();
    for (size_t i = 0; rc == CORE_OK && i < b->noff; i++) {
        const store_offset_op_t *o = &b->off[i];
        sqlite3_stmt *st = q->fence;
        sqlite3_bind_int64(st, 1, o->next_offset);
        sqlite3_bind_int64(st, 2, o->watermark);
        sqlite3_bind_int64(st, 3, now);
        bind_text(st, 4, o->pipeline);
        bind_text(st, 5, o->topic);
        sqlite3_bind_int(st, 6, o->partition);
        sqlite3_bind_int64(st, 7, o->epoch);
        rc = sq_step(q, st, "strata_offsets");
        if (rc == CORE_OK && sqlite3_changes(q->db) != 1)
            rc =
                core_error(CORE_EFAILED,
                           "store %s: commit fenced: %s/%s-%d is no longer held at epoch %lld "
                           "(another owner claimed it, or it was never claimed)",
                           q->base.where, o->pipeline, o->topic, o->partition, (long long)o->epoch);
    }
    return rc;
}

static int commit_dlq(sq_store_t *q, const store_batch_t *b)
{
    int rc = sq_prepare(q,
                        "INSERT INTO \"dlq\" (\"pipeline\", \"topic\", \"partition\", \"offset\", "
                        "\"kind\", \"reason\", \"key\", \"value\", \"event_time\", \"created_at\") "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT "
                        "(\"pipeline\", \"topic\", \"partition\", \"offset\") DO NOTHING",
                        &q->dlq);
    for (size_t i = 0; rc == CORE_OK && i < b->ndlq; i++) {
        const store_dlq_op_t *o = &b->dlq[i];
        sqlite3_stmt *st = q->dlq;
        bind_text(st, 1, o->pipeline);
        bind_text(st, 2, o->topic);
        sqlite3_bind_int(st, 3, o->partition);
        sqlite3_bind_int64(st, 4, o->offset);
        bind_text(st, 5, o->kind);
        bind_text(st, 6, o->reason);
        int src = bind_bytes(st, 7, o->key, o->key_len);
        if (src == SQLITE_OK)
            src = bind_bytes(st, 8, o->value, o->value_len);
        if (o->event_time == INT64_MIN)
            sqlite3_bind_null(st, 9);
        else
            sqlite3_bind_int64(st, 9, o->event_time);
        sqlite3_bind_int64(st, 10, o->created_at);
        rc = src == SQLITE_OK ? sq_step(q, st, "dlq") : sq_error(q, src, "dlq");
    }
    return rc;
}

static void bind_double_or_null(sqlite3_stmt *st, int i, double v)
{
    if (isnan(v))
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_double(st, i, v);
}

static int commit_anomalies(sq_store_t *q, const store_batch_t *b)
{
    int rc = sq_prepare(q,
                        "INSERT INTO \"anomalies\" (\"pipeline\", \"rule\", \"key\", "
                        "\"event_time\", \"value\", \"score\", \"detail\", \"topic\", "
                        "\"partition\", \"offset\", \"created_at\") VALUES (?1, ?2, ?3, ?4, ?5, "
                        "?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT (\"pipeline\", \"rule\", "
                        "\"topic\", \"partition\", \"offset\") DO NOTHING",
                        &q->anom);
    for (size_t i = 0; rc == CORE_OK && i < b->nanom; i++) {
        const store_anomaly_op_t *o = &b->anom[i];
        sqlite3_stmt *st = q->anom;
        bind_text(st, 1, o->pipeline);
        bind_text(st, 2, o->rule);
        bind_text(st, 3, o->key);
        if (o->event_time == INT64_MIN)
            sqlite3_bind_null(st, 4);
        else
            sqlite3_bind_int64(st, 4, o->event_time);
        bind_double_or_null(st, 5, o->value);
        bind_double_or_null(st, 6, o->score);
        bind_text(st, 7, o->detail);
        bind_text(st, 8, o->topic);
        sqlite3_bind_int(st, 9, o->partition);
        sqlite3_bind_int64(st, 10, o->offset);
        sqlite3_bind_int64(st, 11, o->created_at);
        rc = sq_step(q, st, "anomalies");
    }
    return rc;
}

static int commit_state(sq_store_t *q, const store_batch_t *b)
{
    int rc = sq_prepare(q,
                        "INSERT INTO \"strata_state\" (\"pipeline\", \"partition\", \"name\", "
                        "\"key\", \"state\") VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT "
                        "(\"pipeline\", \"partition\", \"name\", \"key\") DO UPDATE SET "
                        "\"state\" = excluded.\"state\"",
                        &q->state_put);
    if (rc == CORE_OK)
        rc = sq_prepare(q,
                        "DELETE FROM \"strata_state\" WHERE \"pipeline\" = ?1 AND "
                        "\"partition\" = ?2 AND \"name\" = ?3 AND \"key\" = ?4",
                        &q->state_del);
    for (size_t i = 0; rc == CORE_OK && i < b->nstate; i++) {
        const store_state_op_t *o = &b->state[i];
        sqlite3_stmt *st = o->state != NULL ? q->state_put : q->state_del;
        bind_text(st, 1, o->pipeline);
        sqlite3_bind_int(st, 2, o->partition);
        bind_text(st, 3, o->name);
        int src = bind_bytes(st, 4, o->key, o->key_len);
        if (src == SQLITE_OK && o->state != NULL)
            src = bind_bytes(st, 5, o->state, o->state_len);
        rc = src == SQLITE_OK ? sq_step(q, st, "strata_state") : sq_error(q, src, "strata_state");
    }
    return rc;
}

static int sq_commit(store_t *s, const store_batch_t *b)
{
    sq_store_t *q = (sq_store_t *)s;
    int rc = sq_script(s, "BEGIN IMMEDIATE");
    if (rc != CORE_OK)
        return rc;
    if (b->noff > 0)
        rc = commit_fences(q, b);
    for (size_t i = 0; rc == CORE_OK && i < b->ntabs; i++)
        rc = commit_table(q, &b->tabs[i]);
    if (rc == CORE_OK && b->ndlq > 0)
        rc = commit_dlq(q, b);
    if (rc == CORE_OK && b->nanom > 0)
        rc = commit_anomalies(q, b);
    if (rc == CORE_OK && b->nstate > 0)
        rc = commit_state(q, b);
    if (rc == CORE_OK)
        rc = sq_script(s, "COMMIT");
    if (rc != CORE_OK && !sqlite3_get_autocommit(q->db)) {
        char detail[CORE_ERROR_DETAIL_MAX];
        snprintf(detail, sizeof detail, "%s", core_error_detail());
        (void)sq_script(s, "ROLLBACK");
        core_error(rc, "%s", detail);
    }
    return rc;
}

/* ---- Open and close. */

static void sq_close(store_t *s)
{
    sq_store_t *q = (sq_store_t *)s;
    sqlite3_finalize(q->fence);
    sqlite3_finalize(q->dlq);
    sqlite3_finalize(q->anom);
    sqlite3_finalize(q->state_put);
    sqlite3_finalize(q->state_del);
    sqlite3_close_v2(q->db);
    core_free(q);
}

static const store_ops_t SQLITE_OPS = {
    .name = "sqlite",
    .dialect = STORE_DIALECT_SQLITE,
    .close = sq_close,
    .ready = sq_ready,
    .ping = sq_ping,
    .script = sq_script,
    .query = sq_query,
    .table_prepare = sq_table_prepare,
    .table_free = sq_table_free,
    .commit = sq_commit,
};

typedef struct {
    const char *synchronous;
    int64_t busy_ms;
} sq_options_t;

/* Parses "synchronous=off|normal|full|extra&busy_timeout=MS". */
static int parse_options(const char *opts, sq_options_t *o)
{
    static const char *const SYNC[] = {"off", "normal", "full", "extra"};
    while (*opts != '\0') {
        size_t n = strcspn(opts, "&");
        char item[64];
        if (n >= sizeof item)
            return core_error(CORE_EINVAL, "store: SQLite option \"%.*s\" is too long", (int)n,
                              opts);
        memcpy(item, opts, n);
        item[n] = '\0';
        opts += n + (opts[n] == '&');
        bool ok = false;
        if (strncmp(item, "synchronous=", 12) == 0) {
            for (size_t i = 0; i < CORE_ARRAY_LEN(SYNC); i++)
                if (strcmp(item + 12, SYNC[i]) == 0) {
                    o->synchronous = SYNC[i];
                    ok = true;
                }
        } else if (strncmp(item, "busy_timeout=", 13) == 0) {
            ok = core_parse_i64(item + 13, 0, 3600000, &o->busy_ms) == CORE_OK;
        }
        if (!ok)
            return core_error(CORE_EINVAL,
                              "store: unknown SQLite option \"%s\" (known: "
                              "synchronous=off|normal|full|extra, busy_timeout=MS)",
                              item);
    }
    return CORE_OK;
}

static int sq_configure(sq_store_t *q, const sq_options_t *o)
{
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_timeout(q->db, (int)o->busy_ms);
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        if (mode == NULL || (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0))
            core_log(CORE_LOG_WARN, "store", "%s: WAL mode is not available (journal mode %s)",
                     q->base.where, mode != NULL ? mode : "?");
        src = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (src != SQLITE_OK)
        return sq_error(q, src, "cannot set WAL mode");
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA synchronous=%s", o->synchronous);
    return sq_script(&q->base, pragma);
}

int store_sqlite_open(const char *spec, bool options, store_t **out)
{
    sq_options_t o = {.synchronous = "normal", .busy_ms = 5000};
    const char *qm = options ? strchr(spec, '?') : NULL;
    size_t plen = qm != NULL ? (size_t)(qm - spec) : strlen(spec);
    if (plen == 0)
        return core_error(CORE_EINVAL, "store: the SQLite URL \"%s\" names no file", spec);
    int rc = qm != NULL ? parse_options(qm + 1, &o) : CORE_OK;
    if (rc != CORE_OK)
        return rc;
    sq_store_t *q = core_calloc(CORE_MEM_STORE, 1, sizeof(*q));
    if (q == NULL || (q->base.where = core_strndup(CORE_MEM_STORE, spec, plen)) == NULL) {
        core_free(q);
        return core_error(CORE_ENOMEM, "store: open: out of memory");
    }
    q->base.ops = &SQLITE_OPS;
    int src =
        sqlite3_open_v2(q->base.where, &q->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    rc = src == SQLITE_OK ? sq_configure(q, &o) : sq_error(q, src, "cannot open");
    if (rc != CORE_OK) {
        store_close(&q->base);
        return rc;
    }
    *out = &q->base;
    return CORE_OK;
}
