/*
 * pg_copy.c - the PostgreSQL commit: every row of a batch travels by COPY
 * into a session temporary table, and one set-based statement per table
 * moves it into place. No statement is ever sent per row.
 *
 * A commit is one transaction in (at most) 2 + C round trips, C being the
 * number of COPY streams (one per table with upserts, one per table with
 * deletes, and one each for dlq, anomalies, state puts and state deletes
 * present in the batch):
 *
 *   1. pipeline mode: BEGIN, then one parameterised fence
 *        UPDATE strata_offsets SET ... WHERE ... AND epoch = $7
 *      per offset, then a sync. Any UPDATE that matched no row means the
 *      partition was claimed by someone else: ROLLBACK, CORE_EFAILED, and
 *      no row data has been sent.
 *   2. one simple-protocol query string:
 *        COPY tmp_d FROM STDIN; DELETE FROM t USING tmp_d ...;
 *        COPY tmp_u FROM STDIN; INSERT INTO t SELECT ... FROM tmp_u
 *                               ON CONFLICT (pk) DO UPDATE SET ...;
 *        ... dlq / anomalies (ON CONFLICT DO NOTHING), state ...;
 *        COMMIT
 *      fed with the COPY data as the server asks for each stream.
 *
 * Temporary tables are created per session (ON COMMIT DELETE ROWS, so they
 * are empty at the start of every transaction, committed or rolled back).
 *
 * COPY text format: fields separated by tabs, rows ended by newlines; in
 * text, backslash, tab, newline and carriage return are escaped; NULL is
 * \N; bytea is its hex form \\x...; floats are written with 17 significant
 * digits, so they read back bit for bit.
 *
 * Threading: the store_t belongs to one thread at a time.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define COPY_FLUSH_BYTES ((size_t)1 << 20)

typedef struct {
    char *create; /* CREATE TEMP TABLE for both temporary tables */
    char *merge;  /* "COPY tmp_u FROM STDIN; INSERT ...; " */
    char *remove; /* "COPY tmp_d FROM STDIN; DELETE ...; " */
} pg_table_t;

static const char SYSTEM_TEMP[] =
    "CREATE TEMP TABLE IF NOT EXISTS \"strata_tmp_dlq\" (\"pipeline\" TEXT, \"topic\" TEXT, "
    "\"partition\" INTEGER, \"offset\" BIGINT, \"kind\" TEXT, \"reason\" TEXT, \"key\" BYTEA, "
    "\"value\" BYTEA, \"event_time\" BIGINT, \"created_at\" BIGINT) ON COMMIT DELETE ROWS; "
    "CREATE TEMP TABLE IF NOT EXISTS \"strata_tmp_anom\" (\"pipeline\" TEXT, \"rule\" TEXT, "
    "\"key\" TEXT, \"event_time\" BIGINT, \"value\" DOUBLE PRECISION, "
    "\"score\" DOUBLE PRECISION, \"detail\" TEXT, \"topic\" TEXT, \"partition\" INTEGER, "
    "\"offset\" BIGINT, \"created_at\" BIGINT) ON COMMIT DELETE ROWS; "
    "CREATE TEMP TABLE IF NOT EXISTS \"strata_tmp_sput\" (\"pipeline\" TEXT, "
    "\"partition\" INTEGER, \"name\" TEXT, \"key\" BYTEA, \"state\" BYTEA) "
    "ON COMMIT DELETE ROWS; "
    "CREATE TEMP TABLE IF NOT EXISTS \"strata_tmp_sdel\" (\"pipeline\" TEXT, "
    "\"partition\" INTEGER, \"name\" TEXT, \"key\" BYTEA) ON COMMIT DELETE ROWS";

static const char DLQ_SQL[] =
    "COPY \"strata_tmp_dlq\" FROM STDIN; "
    "INSERT INTO \"dlq\" (\"pipeline\", \"topic\", \"partition\", \"offset\", \"kind\", "
    "\"reason\", \"key\", \"value\", \"event_time\", \"created_at\") "
    "SELECT * FROM \"strata_tmp_dlq\" "
    "ON CONFLICT (\"pipeline\", \"topic\", \"partition\", \"offset\") DO NOTHING; ";

static const char ANOM_SQL[] =
    "COPY \"strata_tmp_anom\" FROM STDIN; "
    "INSERT INTO \"anomalies\" (\"pipeline\", \"rule\", \"key\", \"event_time\", \"value\", "
    "\"score\", \"detail\", \"topic\", \"partition\", \"offset\", \"created_at\") "
    "SELECT * FROM \"strata_tmp_anom\" "
    "ON CONFLICT (\"pipeline\", \"rule\", \"topic\", \"partition\", \"offset\") DO NOTHING; ";

static const char SPUT_SQL[] =
    "COPY \"strata_tmp_sput\" FROM STDIN; "
    "INSERT INTO \"strata_state\" (\"pipeline\", \"partition\", \"name\", \"key\", \"state\") "
    "SELECT * FROM \"strata_tmp_sput\" "
    "ON CONFLICT (\"pipeline\", \"partition\", \"name\", \"key\") "
    "DO UPDATE SET \"state\" = excluded.\"state\"; ";

static const char SDEL_SQL[] =
    "COPY \"strata_tmp_sdel\" FROM STDIN; "
    "DELETE FROM \"strata_state\" AS x USING \"strata_tmp_sdel\" AS d "
    "WHERE x.\"pipeline\" = d.\"pipeline\" AND x.\"partition\" = d.\"partition\" "
    "AND x.\"name\" = d.\"name\" AND x.\"key\" = d.\"key\"; ";

static const char FENCE_SQL[] =
    "UPDATE \"strata_offsets\" SET \"next_offset\" = $1, \"watermark\" = $2, "
    "\"updated_at\" = $3 WHERE \"pipeline\" = $4 AND \"topic\" = $5 AND \"partition\" = $6 "
    "AND \"epoch\" = $7";

/* ---- Temporary tables and per-table SQL. */

static int temp_create_sql(const store_table_t *t, core_buf_t *sql)
{
    const store_table_def_t *d = &t->def;
    int rc = CORE_OK;
    for (int pass = 0; rc == CORE_OK && pass < 2; pass++) {
        size_t n = pass == 0 ? d->ncolumns : d->npk;
        rc = core_buf_printf(sql, "%sCREATE TEMP TABLE IF NOT EXISTS \"strata_tmp_%c%zu\" (",
                             pass == 0 ? "" : "; ", pass == 0 ? 'u' : 'd', t->index);
        for (size_t i = 0; rc == CORE_OK && i < n; i++) {
            if (i > 0)
                rc = core_buf_append_str(sql, ", ");
            if (rc == CORE_OK)
                rc = store_quote(d->columns[i].name, sql);
            if (rc == CORE_OK)
                rc = core_buf_printf(sql, " %s", store_sql_type(d->columns[i].type));
        }
        if (rc == CORE_OK)
            rc = core_buf_append_str(sql, ") ON COMMIT DELETE ROWS");
    }
    return rc == CORE_OK ? core_buf_append_u8(sql, 0) : rc;
}

static int merge_sql(const store_table_t *t, core_buf_t *sql)
{
    const store_table_def_t *d = &t->def;
    int rc = core_buf_printf(sql, "COPY \"strata_tmp_u%zu\" FROM STDIN; INSERT INTO ", t->index);
    if (rc == CORE_OK)
        rc = store_quote(d->name, sql);
    if (rc == CORE_OK)
        rc = core_buf_append_str(sql, " (");
    if (rc == CORE_OK)
        rc = store_sql_columns(d, d->ncolumns, NULL, sql);
    if (rc == CORE_OK)
        rc = core_buf_append_str(sql, ") SELECT ");
    if (rc == CORE_OK)
        rc = store_sql_columns(d, d->ncolumns, NULL, sql);
    if (rc == CORE_OK)
        rc = core_buf_printf(sql, " FROM \"strata_tmp_u%zu\"", t->index);
    if (rc == CORE_OK)
        rc = store_sql_on_conflict(d, sql);
    if (rc == CORE_OK)
        rc = core_buf_append_str(sql, "; ");
    return rc == CORE_OK ? core_buf_append_u8(sql, 0) : rc;
}

static int remove_sql(const store_table_t *t, core_buf_t *sql)
{
    const store_table_def_t *d = &t->def;
    int rc = core_buf_printf(sql, "COPY \"strata_tmp_d%zu\" FROM STDIN; DELETE FROM ", t->index);
    if (rc == CORE_OK)
        rc = store_quote(d->name, sql);
    if (rc == CORE_OK)
        rc = core_buf_printf(sql, " AS x USING \"strata_tmp_d%zu\" AS d", t->index);
    for (size_t i = 0; rc == CORE_OK && i < d->npk; i++) {
        rc = core_buf_append_str(sql, i == 0 ? " WHERE x." : " AND x.");
        if (rc == CORE_OK)
            rc = store_quote(d->columns[i].name, sql);
        if (rc == CORE_OK)
            rc = core_buf_append_str(sql, " = d.");
        if (rc == CORE_OK)
            rc = store_quote(d->columns[i].name, sql);
    }
    if (rc == CORE_OK)
        rc = core_buf_append_str(sql, "; ");
    return rc == CORE_OK ? core_buf_append_u8(sql, 0) : rc;
}

static int build_text(const store_table_t *t, int (*fn)(const store_table_t *, core_buf_t *),
                      char **out)
{
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_STORE, STORE_MAX_SQL_BYTES);
    int rc = fn(t, &sql);
    if (rc == CORE_OK)
        *out = (char *)core_buf_take(&sql, NULL);
    core_buf_fini(&sql);
    if (rc != CORE_OK)
        return core_error(rc, "store: table %s: SQL text too long", t->def.name);
    return CORE_OK;
}

int store_pg_table_prepare(store_t *s, store_table_t *t)
{
    pg_table_t *pt = core_calloc(CORE_MEM_STORE, 1, sizeof(*pt));
    if (pt == NULL)
        return core_error(CORE_ENOMEM, "store: table %s: out of memory", t->def.name);
    t->priv = pt;
    int rc = build_text(t, temp_create_sql, &pt->create);
    if (rc == CORE_OK)
        rc = build_text(t, merge_sql, &pt->merge);
    if (rc == CORE_OK)
        rc = build_text(t, remove_sql, &pt->remove);
    if (rc == CORE_OK)
        rc = store_pg_script((store_pg_t *)s, pt->create);
    return rc;
}

void store_pg_table_free(store_table_t *t)
{
    pg_table_t *pt = t->priv;
    if (pt == NULL)
        return;
    core_free(pt->create);
    core_free(pt->merge);
    core_free(pt->remove);
    core_free(pt);
    t->priv = NULL;
}

int store_pg_session_tables(store_pg_t *p)
{
    int rc = store_pg_script(p, SYSTEM_TEMP);
    for (size_t i = 0; rc == CORE_OK && i < p->base.ntables; i++) {
        const pg_table_t *pt = p->base.tables[i]->priv;
        rc = store_pg_script(p, pt->create);
    }
    return rc;
}

/* ---- COPY text encoding. */

static int put_null(core_buf_t *o)
{
    return core_buf_append(o, "\\N", 2);
}

static int put_text(core_buf_t *o, const char *s, size_t n)
{
    if (s == NULL)
        return put_null(o);
    int rc = core_buf_reserve(o, n);
    size_t run = 0;
    for (size_t i = 0; rc == CORE_OK && i < n; i++) {
        const char *esc;
        switch (s[i]) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        default:
            continue;
        }
        rc = core_buf_append(o, s + run, i - run);
        if (rc == CORE_OK)
            rc = core_buf_append(o, esc, 2);
        run = i + 1;
    }
    if (rc == CORE_OK)
        rc = core_buf_append(o, s + run, n - run);
    return rc;
}

static int put_bytes(core_buf_t *o, const char *s, size_t n)
{
    static const char HEX[] = "0123456789abcdef";
    if (s == NULL)
        return put_null(o);
    if (n > (SIZE_MAX - 3) / 2)
        return CORE_ETOOBIG;
    int rc = core_buf_reserve(o, 3 + 2 * n);
    if (rc != CORE_OK)
        return rc;
    uint8_t *d = o->data + o->len;
    memcpy(d, "\\\\x", 3);
    d += 3;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        *d++ = (uint8_t)HEX[c >> 4];
        *d++ = (uint8_t)HEX[c & 15];
    }
    o->len += 3 + 2 * n;
    return CORE_OK;
}

static int put_i64(core_buf_t *o, int64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        tmp[--i] = '-';
    return core_buf_append(o, tmp + i, sizeof tmp - i);
}

static int put_i64_or_null(core_buf_t *o, int64_t v)
{
    return v == INT64_MIN ? put_null(o) : put_i64(o, v);
}

static int put_f64(core_buf_t *o, double v)
{
    if (isnan(v))
        return put_null(o);
    if (isinf(v))
        return core_buf_append_str(o, v > 0 ? "Infinity" : "-Infinity");
    return core_buf_printf(o, "%.17g", v);
}

static int put_value(core_buf_t *o, const schema_value_t *v)
{
    switch (v->type) {
    case SCHEMA_NULL:
        return put_null(o);
    case SCHEMA_BOOL:
        return core_buf_append_u8(o, v->v.b ? 't' : 'f');
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        return put_i64(o, v->v.i);
    case SCHEMA_FLOAT:
        return put_f64(o, v->v.f);
    default:
        return put_text(o, v->v.s.p, v->v.s.len);
    }
}

static int put_tab(core_buf_t *o, int rc)
{
    return rc == CORE_OK ? core_buf_append_u8(o, '\t') : rc;
}

static int put_values(core_buf_t *o, const schema_value_t *v, size_t n)
{
    int rc = CORE_OK;
    for (size_t i = 0; rc == CORE_OK && i < n; i++) {
        if (i > 0)
            rc = core_buf_append_u8(o, '\t');
        if (rc == CORE_OK)
            rc = put_value(o, &v[i]);
    }
    return rc;
}

static int put_dlq(core_buf_t *o, const store_dlq_op_t *d)
{
    int rc = put_tab(o, put_text(o, d->pipeline, strlen(d->pipeline)));
    rc = put_tab(o, rc == CORE_OK ? put_text(o, d->topic, strlen(d->topic)) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_i64(o, d->partition) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_i64(o, d->offset) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_text(o, d->kind, d->kind ? strlen(d->kind) : 0) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_text(o, d->reason, d->reason ? strlen(d->reason) : 0) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_bytes(o, d->key, d->key_len) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_bytes(o, d->value, d->value_len) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_i64_or_null(o, d->event_time) : rc);
    return rc == CORE_OK ? put_i64(o, d->created_at) : rc;
}

static int put_anomaly(core_buf_t *o, const store_anomaly_op_t *a)
{
    int rc = put_tab(o, put_text(o, a->pipeline, strlen(a->pipeline)));
    rc = put_tab(o, rc == CORE_OK ? put_text(o, a->rule, strlen(a->rule)) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_text(o, a->key, a->key_len) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_i64_or_null(o, a->event_time) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_f64(o, a->value) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_f64(o, a->score) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_text(o, a->detail, a->detail ? strlen(a->detail) : 0) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_text(o, a->topic, strlen(a->topic)) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_i64(o, a->partition) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_i64(o, a->offset) : rc);
    return rc == CORE_OK ? put_i64(o, a->created_at) : rc;
}

static int put_state(core_buf_t *o, const store_state_op_t *s)
{
    int rc = put_tab(o, put_text(o, s->pipeline, strlen(s->pipeline)));
    rc = put_tab(o, rc == CORE_OK ? put_i64(o, s->partition) : rc);
    rc = put_tab(o, rc == CORE_OK ? put_text(o, s->name, strlen(s->name)) : rc);
    rc = rc == CORE_OK ? put_bytes(o, s->key, s->key_len) : rc;
    if (rc == CORE_OK && s->state != NULL)
        rc = put_tab(o, rc);
    if (rc == CORE_OK && s->state != NULL)
        rc = put_bytes(o, s->state, s->state_len);
    return rc;
}

/* ---- Feeding COPY streams. */

typedef enum { JOB_UP, JOB_DEL, JOB_DLQ, JOB_ANOM, JOB_SPUT, JOB_SDEL } job_kind_t;

typedef struct {
    job_kind_t kind;
    const store_batch_tab_t *tab;
} copy_job_t;

static int flush(store_pg_t *p)
{
    core_buf_t *o = &p->copy;
    if (o->len > 0 && PQputCopyData(p->conn, (const char *)o->data, (int)o->len) != 1)
        return store_pg_fail(p, NULL, "COPY");
    core_buf_reset(o);
    return CORE_OK;
}

/* Encodes row r of the job; *skip is set for state rows of the other kind. */
static int put_row(core_buf_t *o, const store_batch_t *b, const copy_job_t *j, size_t r, bool *skip)
{
    const store_table_def_t *d = j->tab != NULL ? &j->tab->table->def : NULL;
    *skip = false;
    switch (j->kind) {
    case JOB_UP:
        return put_values(o, j->tab->up + r * d->ncolumns, d->ncolumns);
    case JOB_DEL:
        return put_values(o, j->tab->del + r * d->npk, d->npk);
    case JOB_DLQ:
        return put_dlq(o, &b->dlq[r]);
    case JOB_ANOM:
        return put_anomaly(o, &b->anom[r]);
    default:
        *skip = (b->state[r].state != NULL) != (j->kind == JOB_SPUT);
        return *skip ? CORE_OK : put_state(o, &b->state[r]);
    }
}

static size_t job_rows(const store_batch_t *b, const copy_job_t *j)
{
    switch (j->kind) {
    case JOB_UP:
        return j->tab->nup;
    case JOB_DEL:
        return j->tab->ndel;
    case JOB_DLQ:
        return b->ndlq;
    case JOB_ANOM:
        return b->nanom;
    default:
        return b->nstate;
    }
}

/* Sends the job's rows and ends the COPY. On an encoding failure the COPY
 * is aborted, so the server rejects the transaction. */
static int feed(store_pg_t *p, const store_batch_t *b, const copy_job_t *j)
{
    core_buf_t *o = &p->copy;
    core_buf_reset(o);
    size_t n = job_rows(b, j);
    int rc = CORE_OK;
    for (size_t r = 0; rc == CORE_OK && r < n; r++) {
        bool skip;
        rc = put_row(o, b, j, r, &skip);
        if (rc == CORE_OK && !skip)
            rc = core_buf_append_u8(o, '\n');
        if (rc == CORE_OK && o->len >= COPY_FLUSH_BYTES)
            rc = flush(p);
    }
    if (rc == CORE_OK)
        rc = flush(p);
    if (rc == CORE_ETOOBIG || rc == CORE_ENOMEM)
        rc = core_error(rc, "store %s: a row is too large to send", p->base.where);
    if (p->broken)
        return rc;
    if (PQputCopyEnd(p->conn, rc == CORE_OK ? NULL : "strata: could not encode the batch") != 1)
        return store_pg_fail(p, NULL, "COPY");
    return rc;
}

/* ---- The transaction. */

static int fence_send(store_pg_t *p, const store_offset_op_t *o, int64_t now)
{
    char v[4][24], part[16];
    snprintf(v[0], sizeof v[0], "%lld", (long long)o->next_offset);
    snprintf(v[1], sizeof v[1], "%lld", (long long)o->watermark);
    snprintf(v[2], sizeof v[2], "%lld", (long long)now);
    snprintf(v[3], sizeof v[3], "%lld", (long long)o->epoch);
    snprintf(part, sizeof part, "%d", (int)o->partition);
    const char *const params[7] = {v[0], v[1], v[2], o->pipeline, o->topic, part, v[3]};
    if (!PQsendQueryParams(p->conn, FENCE_SQL, 7, NULL, params, NULL, NULL, 0))
        return store_pg_fail(p, NULL, "commit");
    return CORE_OK;
}

/* Reads the result of the i-th pipelined query (0 is BEGIN). */
static int fence_result(store_pg_t *p, const store_batch_t *b, size_t i, int rc)
{
    PGresult *r = PQgetResult(p->conn);
    if (r == NULL)
        return rc != CORE_OK ? rc : store_pg_fail(p, NULL, "commit");
    ExecStatusType st = PQresultStatus(r);
    if (rc == CORE_OK && st == PGRES_COMMAND_OK && i > 0 && strcmp(PQcmdTuples(r), "1") != 0) {
        const store_offset_op_t *o = &b->off[i - 1];
        rc = core_error(CORE_EFAILED,
                        "store %s: commit fenced: %s/%s-%d is no longer held at epoch %lld "
                        "(another owner claimed it, or it was never claimed)",
                        p->base.where, o->pipeline, o->topic, o->partition, (long long)o->epoch);
    } else if (rc == CORE_OK && st != PGRES_COMMAND_OK) {
        rc = store_pg_fail(p, r, "commit");
    }
    PQclear(r);
    while ((r = PQgetResult(p->conn)) != NULL) /* the query's end marker */
        PQclear(r);
    return rc;
}

/* Step 1: BEGIN and the offset fences, in one round trip. */
static int fences(store_pg_t *p, const store_batch_t *b)
{
    if (!PQenterPipelineMode(p->conn))
        return store_pg_fail(p, NULL, "commit");
    int rc = CORE_OK;
    if (!PQsendQueryParams(p->conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0))
        rc = store_pg_fail(p, NULL, "commit");
    int64_t now = store_now_us();
    for (size_t i = 0; rc == CORE_OK && i < b->noff; i++)
        rc = fence_send(p, &b->off[i], now);
    if (rc == CORE_OK && !PQpipelineSync(p->conn))
        rc = store_pg_fail(p, NULL, "commit");
    if (rc != CORE_OK) {
        p->broken = true; /* the pipeline is half sent */
        return rc;
    }
    for (size_t i = 0; i <= b->noff && !p->broken; i++)
        rc = fence_result(p, b, i, rc);
    PGresult *r = p->broken ? NULL : PQgetResult(p->conn);
    if (r == NULL || PQresultStatus(r) != PGRES_PIPELINE_SYNC || !PQexitPipelineMode(p->conn)) {
        p->broken = true;
        if (rc == CORE_OK)
            rc = core_error(CORE_EIO, "store %s: commit: the pipeline ended unexpectedly",
                            p->base.where);
    }
    PQclear(r);
    return rc;
}

static int job_add(const char *text, job_kind_t kind, const store_batch_tab_t *tab, core_buf_t *sql,
                   copy_job_t *jobs, size_t *njobs)
{
    jobs[*njobs] = (copy_job_t){.kind = kind, .tab = tab};
    ++*njobs;
    return core_buf_append_str(sql, text);
}

/* Step 2's query string, and the COPY streams in the order it asks. */
static int build_script(const store_batch_t *b, bool begin, core_buf_t *sql, copy_job_t *jobs,
                        size_t *njobs)
{
    size_t puts = 0;
    for (size_t i = 0; i < b->nstate; i++)
        puts += b->state[i].state != NULL;
    int rc = begin ? core_buf_append_str(sql, "BEGIN; ") : CORE_OK;
    for (size_t i = 0; rc == CORE_OK && i < b->ntabs; i++) {
        const store_batch_tab_t *e = &b->tabs[i];
        const pg_table_t *pt = e->table->priv;
        if (e->ndel > 0)
            rc = job_add(pt->remove, JOB_DEL, e, sql, jobs, njobs);
        if (rc == CORE_OK && e->nup > 0)
            rc = job_add(pt->merge, JOB_UP, e, sql, jobs, njobs);
    }
    if (rc == CORE_OK && b->ndlq > 0)
        rc = job_add(DLQ_SQL, JOB_DLQ, NULL, sql, jobs, njobs);
    if (rc == CORE_OK && b->nanom > 0)
        rc = job_add(ANOM_SQL, JOB_ANOM, NULL, sql, jobs, njobs);
    if (rc == CORE_OK && puts > 0)
        rc = job_add(SPUT_SQL, JOB_SPUT, NULL, sql, jobs, njobs);
    if (rc == CORE_OK && puts < b->nstate)
        rc = job_add(SDEL_SQL, JOB_SDEL, NULL, sql, jobs, njobs);
    if (rc == CORE_OK)
        rc = core_buf_append_str(sql, "COMMIT");
    return rc == CORE_OK ? core_buf_append_u8(sql, 0) : rc;
}

/* Handles one result of step 2; *k counts the COPY streams fed. */
static int script_result(store_pg_t *p, const store_batch_t *b, PGresult *r, const copy_job_t *jobs,
                         size_t njobs, size_t *k, bool *committed, int rc)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COPY_IN) {
        if (rc == CORE_OK && *k < njobs)
            return feed(p, b, &jobs[(*k)++]);
        if (PQputCopyEnd(p->conn, "strata: COPY not expected") != 1)
            return rc != CORE_OK ? rc : store_pg_fail(p, NULL, "commit");
        return rc != CORE_OK
                   ? rc
                   : core_error(CORE_EIO, "store %s: commit: unexpected COPY", p->base.where);
    }
    if (st == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0)
        *committed = true;
    else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && rc == CORE_OK)
        rc = store_pg_fail(p, r, "commit");
    return rc;
}

static int run_script(store_pg_t *p, const store_batch_t *b, const char *sql,
                      const copy_job_t *jobs, size_t njobs)
{
    if (!PQsendQuery(p->conn, sql))
        return store_pg_fail(p, NULL, "commit");
    int rc = CORE_OK;
    size_t k = 0;
    bool committed = false;
    PGresult *r;
    while ((r = PQgetResult(p->conn)) != NULL) {
        rc = script_result(p, b, r, jobs, njobs, &k, &committed, rc);
        PQclear(r);
        if (p->broken || PQstatus(p->conn) != CONNECTION_OK) {
            if (!p->broken)
                rc = store_pg_fail(p, NULL, "commit");
            break;
        }
    }
    if (rc == CORE_OK && !committed)
        rc = core_error(CORE_EIO, "store %s: commit: the server did not confirm COMMIT",
                        p->base.where);
    return rc;
}

static void rollback(store_pg_t *p)
{
    if (p->broken || PQstatus(p->conn) != CONNECTION_OK ||
        PQtransactionStatus(p->conn) == PQTRANS_IDLE)
        return;
    char detail[CORE_ERROR_DETAIL_MAX];
    snprintf(detail, sizeof detail, "%s", core_error_detail());
    int rc = store_pg_script(p, "ROLLBACK");
    if (rc != CORE_OK || PQtransactionStatus(p->conn) != PQTRANS_IDLE)
        p->broken = true;
    core_error(rc, "%s", detail);
}

int store_pg_commit(store_t *s, const store_batch_t *b)
{
    store_pg_t *p = (store_pg_t *)s;
    copy_job_t *jobs = core_calloc(CORE_MEM_STORE, 2 * b->ntabs + 4, sizeof(*jobs));
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_STORE, 16 * STORE_MAX_SQL_BYTES);
    size_t njobs = 0;
    int rc = jobs != NULL ? CORE_OK : core_error(CORE_ENOMEM, "store: commit: out of memory");
    if (rc == CORE_OK)
        rc = build_script(b, b->noff == 0, &sql, jobs, &njobs);
    if (rc == CORE_ETOOBIG || rc == CORE_ENOMEM)
        rc = core_error(rc, "store %s: commit: SQL text too long", s->where);
    if (rc == CORE_OK && b->noff > 0)
        rc = fences(p, b);
    if (rc == CORE_OK)
        rc = run_script(p, b, (const char *)sql.data, jobs, njobs);
    if (rc != CORE_OK)
        rollback(p);
    core_buf_fini(&sql);
    core_free(jobs);
    return rc;
}
