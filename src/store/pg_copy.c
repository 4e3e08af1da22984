/*
 * pg_copy.c - the PostgreSQL commit: every row of a batch travels by COPY,
 * and no statement is ever sent per row.
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
 *        COPY t (cols) FROM STDIN                          (direct), or
 *        COPY tmp_u FROM STDIN; INSERT INTO t SELECT ... FROM tmp_u
 *                               ON CONFLICT (pk) DO UPDATE SET ...;
 *        ... dlq / anomalies (ON CONFLICT DO NOTHING), state ...;
 *        COMMIT
 *      fed with the COPY data as the server asks for each stream.
 *
 * Direct COPY. An upsert of keys that are not in the table yet is a plain
 * insert, and COPY into the table costs a fraction of COPY into a
 * temporary table plus INSERT ... SELECT ... ON CONFLICT (the server's
 * bulk insert path against one speculative insertion per row). So a
 * table's upserts are first sent straight into the table. If any key is
 * already there, the COPY fails with a unique violation (SQLSTATE 23505);
 * the transaction is rolled back and the same batch is committed again the
 * classic way, which upserts. Either way the rows that end up in the table
 * are those of the upsert, so a retried commit (say, after the connection
 * was lost after COMMIT was sent) stays idempotent. After a conflict the
 * table skips direct attempts for 1, 2, 4, ... up to DIRECT_BACKOFF_MAX
 * commits (a replay into a filled table, or a view whose rows are updated
 * over and over, pays for at most a few failed attempts); a direct commit
 * that succeeds resets the backoff. Only tables whose columns have exactly
 * the types strata creates (bigint, double precision, text, boolean) and
 * that have no rules take the direct path: for them COPY and INSERT store
 * the same values, and no rewrite rule is bypassed.
 *
 * Temporary tables are created per session (ON COMMIT DELETE ROWS, so they
 * are empty at the start of every transaction, committed or rolled back).
 *
 * COPY formats. Table rows (upserts, deletes, direct) use the binary
 * format: the columns' types are known exactly (the temporary tables are
 * ours; direct tables were checked), so integers and floats go as 8
 * big-endian bytes, bit for bit, with no text formatting or parsing on
 * either side. The system tables' rows (dlq, anomalies, state) use text:
 * fields separated by tabs, rows ended by newlines; backslash, tab,
 * newline and carriage return escaped; NULL is \N; bytea is its hex form
 * \\x...; floats are written with 17 significant digits, so they read back
 * bit for bit.
 *
 * Threading: the store_t belongs to one thread at a time.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define COPY_FLUSH_BYTES   ((size_t)1 << 20)
#define DIRECT_BACKOFF_MAX 1024
#define SQLSTATE_UNIQUE    "23505"

typedef struct {
    char *create;     /* CREATE TEMP TABLE for both temporary tables */
    char *merge;      /* "COPY tmp_u FROM STDIN (FORMAT binary); INSERT ...; " */
    char *remove;     /* "COPY tmp_d FROM STDIN (FORMAT binary); DELETE ...; " */
    char *direct;     /* "COPY t (cols) FROM STDIN (FORMAT binary); ", or NULL
                       * when the table's types do not allow it */
    uint32_t skip;    /* commits left to go the classic way */
    uint32_t backoff; /* the next skip after a conflict; 0: none seen */
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
    int rc = core_buf_printf(
        sql, "COPY \"strata_tmp_u%zu\" FROM STDIN (FORMAT binary); INSERT INTO ", t->index);
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
    int rc = core_buf_printf(
        sql, "COPY \"strata_tmp_d%zu\" FROM STDIN (FORMAT binary); DELETE FROM ", t->index);
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

static int direct_sql(const store_table_t *t, core_buf_t *sql)
{
    const store_table_def_t *d = &t->def;
    int rc = core_buf_append_str(sql, "COPY ");
    if (rc == CORE_OK)
        rc = store_quote(d->name, sql);
    if (rc == CORE_OK)
        rc = core_buf_append_str(sql, " (");
    if (rc == CORE_OK)
        rc = store_sql_columns(d, d->ncolumns, NULL, sql);
    if (rc == CORE_OK)
        rc = core_buf_append_str(sql, ") FROM STDIN (FORMAT binary); ");
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

/* ---- Which tables take the direct path. */

/* What the catalog says about a table: its kind, rules, and how many of
 * the definition's columns have exactly the type strata declares. */
typedef struct {
    const store_table_def_t *def;
    size_t rows, matching;
    bool plain; /* an ordinary or partitioned table without rules */
} direct_probe_t;

static int probe_row(void *arg, const schema_value_t *v, size_t n)
{
    direct_probe_t *pr = arg;
    if (n != 4 || v[0].type != SCHEMA_STRING || v[1].type != SCHEMA_BOOL ||
        v[2].type != SCHEMA_STRING || v[3].type != SCHEMA_STRING)
        return CORE_OK; /* not understood: stays classic */
    bool kind = v[0].v.s.len == 1 && (v[0].v.s.p[0] == 'r' || v[0].v.s.p[0] == 'p');
    pr->plain = (pr->rows == 0 || pr->plain) && kind && !v[1].v.b;
    pr->rows++;
    for (size_t i = 0; i < pr->def->ncolumns; i++) {
        const store_column_t *c = &pr->def->columns[i];
        const char *want = store_sql_type(c->type);
        if (strlen(c->name) == v[2].v.s.len && memcmp(c->name, v[2].v.s.p, v[2].v.s.len) == 0 &&
            strlen(want) == v[3].v.s.len && strncasecmp(want, v[3].v.s.p, v[3].v.s.len) == 0)
            pr->matching++;
    }
    return CORE_OK;
}

/* Sets pt->direct when COPY straight into t stores what the upsert would. */
static int direct_probe(store_t *s, store_table_t *t, pg_table_t *pt)
{
    static const char SQL[] =
        "SELECT c.relkind::text, c.relhasrules, a.attname::text, "
        "format_type(a.atttypid, a.atttypmod) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "WHERE n.nspname = current_schema() AND c.relname = ?1";
    static const schema_type_t types[4] = {SCHEMA_STRING, SCHEMA_BOOL, SCHEMA_STRING,
                                           SCHEMA_STRING};
    direct_probe_t pr = {.def = &t->def};
    schema_value_t name = {.type = SCHEMA_STRING, .v.s = {t->def.name, strlen(t->def.name)}};
    int rc = store_run(s, SQL, &name, 1, types, 4, probe_row, &pr, NULL);
    if (rc == CORE_OK && pr.plain && pr.matching == t->def.ncolumns)
        rc = build_text(t, direct_sql, &pt->direct);
    return rc;
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
        rc = direct_probe(s, t, pt);
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
    core_free(pt->direct);
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

static int put_tab(core_buf_t *o, int rc)
{
    return rc == CORE_OK ? core_buf_append_u8(o, '\t') : rc;
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

/* ---- COPY binary encoding: a signature and two zero words, then per row
 * a 16-bit field count and each field as a 32-bit length (-1: NULL) and
 * its bytes, all big-endian; a count of -1 ends the stream. */

static const uint8_t BIN_HEADER[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xFF, '\r', '\n', 0};

/* One field of column type col; CORE_EINVAL if v does not fit it (the
 * batch coerced every value, so this is a broken invariant). */
static int bin_field(uint8_t **at, schema_type_t col, const schema_value_t *v)
{
    uint8_t *d = *at;
    bool text = col == SCHEMA_STRING || col == SCHEMA_OBJECT || col == SCHEMA_ARRAY;
    bool i64 = col == SCHEMA_INT || col == SCHEMA_TIMESTAMP;
    if (v->type == SCHEMA_NULL ||
        (col == SCHEMA_FLOAT && v->type == SCHEMA_FLOAT && isnan(v->v.f))) {
        core_store_be32(d, UINT32_MAX);
        d += 4;
    } else if (i64 && (v->type == SCHEMA_INT || v->type == SCHEMA_TIMESTAMP)) {
        core_store_be32(d, 8);
        core_store_be64(d + 4, (uint64_t)v->v.i);
        d += 12;
    } else if (col == SCHEMA_FLOAT && v->type == SCHEMA_FLOAT) {
        uint64_t bits;
        memcpy(&bits, &v->v.f, 8);
        core_store_be32(d, 8);
        core_store_be64(d + 4, bits);
        d += 12;
    } else if (col == SCHEMA_BOOL && v->type == SCHEMA_BOOL) {
        core_store_be32(d, 1);
        d[4] = v->v.b ? 1 : 0;
        d += 5;
    } else if (text &&
               (v->type == SCHEMA_STRING || v->type == SCHEMA_OBJECT || v->type == SCHEMA_ARRAY)) {
        core_store_be32(d, (uint32_t)v->v.s.len);
        if (v->v.s.len > 0)
            memcpy(d + 4, v->v.s.p, v->v.s.len);
        d += 4 + v->v.s.len;
    } else {
        return core_error(CORE_EINVAL, "store: a %s value in a %s column",
                          schema_type_name(v->type), schema_type_name(col));
    }
    *at = d;
    return CORE_OK;
}

/* Row v[0..n) of the first n columns of d. Room for the fixed-size part
 * is reserved once; text fields reserve their bytes (and what the rest of
 * the row can take) as they come. */
static int bin_row(core_buf_t *o, const store_table_def_t *d, const schema_value_t *v, size_t n)
{
    size_t mark = o->len;
    int rc = core_buf_reserve(o, 2 + n * 12);
    if (rc != CORE_OK)
        return rc;
    uint8_t *at = o->data + o->len;
    core_store_be16(at, (uint16_t)n);
    at += 2;
    for (size_t i = 0; rc == CORE_OK && i < n; i++) {
        schema_type_t t = v[i].type;
        if (t == SCHEMA_STRING || t == SCHEMA_OBJECT || t == SCHEMA_ARRAY) {
            o->len = (size_t)(at - o->data);
            rc = v[i].v.s.len > (size_t)INT32_MAX
                     ? CORE_ETOOBIG
                     : core_buf_reserve(o, 4 + v[i].v.s.len + (n - i - 1) * 12);
            at = o->data + o->len;
        }
        if (rc == CORE_OK)
            rc = bin_field(&at, d->columns[i].type, &v[i]);
    }
    o->len = rc == CORE_OK ? (size_t)(at - o->data) : mark;
    return rc;
}

/* ---- Feeding COPY streams. */

typedef enum { JOB_UP, JOB_DIRECT, JOB_DEL, JOB_DLQ, JOB_ANOM, JOB_SPUT, JOB_SDEL } job_kind_t;

typedef struct {
    job_kind_t kind;
    const store_batch_tab_t *tab;
} copy_job_t;

/* Table rows go in binary, the system tables' rows in text. */
static bool job_binary(const copy_job_t *j)
{
    return j->kind == JOB_UP || j->kind == JOB_DIRECT || j->kind == JOB_DEL;
}

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
    int rc;
    *skip = false;
    switch (j->kind) {
    case JOB_UP:
    case JOB_DIRECT:
        return bin_row(o, d, j->tab->up + r * d->ncolumns, d->ncolumns);
    case JOB_DEL:
        return bin_row(o, d, j->tab->del + r * d->npk, d->npk);
    case JOB_DLQ:
        rc = put_dlq(o, &b->dlq[r]);
        break;
    case JOB_ANOM:
        rc = put_anomaly(o, &b->anom[r]);
        break;
    default:
        *skip = (b->state[r].state != NULL) != (j->kind == JOB_SPUT);
        if (*skip)
            return CORE_OK;
        rc = put_state(o, &b->state[r]);
        break;
    }
    return rc == CORE_OK ? core_buf_append_u8(o, '\n') : rc;
}

static size_t job_rows(const store_batch_t *b, const copy_job_t *j)
{
    switch (j->kind) {
    case JOB_UP:
    case JOB_DIRECT:
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
    bool bin = job_binary(j);
    int rc = bin ? core_buf_append(o, BIN_HEADER, sizeof BIN_HEADER) : CORE_OK;
    for (size_t r = 0; rc == CORE_OK && r < n; r++) {
        bool skip;
        rc = put_row(o, b, j, r, &skip);
        if (rc == CORE_OK && o->len >= COPY_FLUSH_BYTES)
            rc = flush(p);
    }
    if (rc == CORE_OK && bin)
        rc = core_buf_append(o, "\xFF\xFF", 2);
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

/* One commit's state across its attempts. */
typedef struct {
    store_pg_t *p;
    const store_batch_t *b;
    copy_job_t *jobs;
    size_t njobs, fed;
    bool *direct; /* per batch table: its upserts go straight into it */
    bool any_direct;
    bool committed; /* the server confirmed COMMIT */
    bool unique;    /* step 2 failed with a unique violation */
} commit_t;

/* Chooses, once per commit, the tables whose upserts try the direct path. */
static void plan_direct(commit_t *c)
{
    c->any_direct = false;
    for (size_t i = 0; i < c->b->ntabs; i++) {
        const store_batch_tab_t *e = &c->b->tabs[i];
        pg_table_t *pt = e->table->priv;
        c->direct[i] = false;
        if (e->nup == 0 || pt->direct == NULL)
            continue;
        if (pt->skip > 0) {
            pt->skip--;
            continue;
        }
        c->direct[i] = c->any_direct = true;
    }
}

/* After a direct attempt failed and the classic one ran: a unique
 * violation backs the tables off; another failure that the classic path
 * did not repeat (classic_ok) turns the direct path off for good. */
static void direct_failed(commit_t *c, bool classic_ok)
{
    for (size_t i = 0; i < c->b->ntabs; i++) {
        pg_table_t *pt = c->b->tabs[i].table->priv;
        if (!c->direct[i])
            continue;
        if (c->unique) {
            pt->backoff = pt->backoff == 0 ? 1 : CORE_MIN(pt->backoff * 2, DIRECT_BACKOFF_MAX);
            pt->skip = pt->backoff;
        } else if (classic_ok) {
            core_log(CORE_LOG_INFO, "store",
                     "%s: table %s: COPY straight into the table failed "
                     "where the upsert did not; using the upsert from now on",
                     c->p->base.where, c->b->tabs[i].table->def.name);
            core_free(pt->direct);
            pt->direct = NULL;
        }
    }
}

static void direct_succeeded(const commit_t *c)
{
    for (size_t i = 0; i < c->b->ntabs; i++)
        if (c->direct[i])
            ((pg_table_t *)c->b->tabs[i].table->priv)->backoff = 0;
}

static int job_add(commit_t *c, const char *text, job_kind_t kind, const store_batch_tab_t *tab,
                   core_buf_t *sql)
{
    c->jobs[c->njobs++] = (copy_job_t){.kind = kind, .tab = tab};
    return core_buf_append_str(sql, text);
}

/* Step 2's query string, and the COPY streams in the order it asks. With
 * direct false every table takes the classic path. */
static int build_script(commit_t *c, bool begin, bool direct, core_buf_t *sql)
{
    const store_batch_t *b = c->b;
    size_t puts = 0;
    for (size_t i = 0; i < b->nstate; i++)
        puts += b->state[i].state != NULL;
    c->njobs = 0;
    core_buf_reset(sql);
    int rc = begin ? core_buf_append_str(sql, "BEGIN; ") : CORE_OK;
    for (size_t i = 0; rc == CORE_OK && i < b->ntabs; i++) {
        const store_batch_tab_t *e = &b->tabs[i];
        const pg_table_t *pt = e->table->priv;
        if (e->ndel > 0)
            rc = job_add(c, pt->remove, JOB_DEL, e, sql);
        if (rc == CORE_OK && e->nup > 0 && direct && c->direct[i])
            rc = job_add(c, pt->direct, JOB_DIRECT, e, sql);
        else if (rc == CORE_OK && e->nup > 0)
            rc = job_add(c, pt->merge, JOB_UP, e, sql);
    }
    if (rc == CORE_OK && b->ndlq > 0)
        rc = job_add(c, DLQ_SQL, JOB_DLQ, NULL, sql);
    if (rc == CORE_OK && b->nanom > 0)
        rc = job_add(c, ANOM_SQL, JOB_ANOM, NULL, sql);
    if (rc == CORE_OK && puts > 0)
        rc = job_add(c, SPUT_SQL, JOB_SPUT, NULL, sql);
    if (rc == CORE_OK && puts < b->nstate)
        rc = job_add(c, SDEL_SQL, JOB_SDEL, NULL, sql);
    if (rc == CORE_OK)
        rc = core_buf_append_str(sql, "COMMIT");
    return rc == CORE_OK ? core_buf_append_u8(sql, 0) : rc;
}

/* Handles one result of step 2. */
static int script_result(commit_t *c, PGresult *r, int rc)
{
    store_pg_t *p = c->p;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COPY_IN) {
        if (rc == CORE_OK && c->fed < c->njobs)
            return feed(p, c->b, &c->jobs[c->fed++]);
        if (PQputCopyEnd(p->conn, "strata: COPY not expected") != 1)
            return rc != CORE_OK ? rc : store_pg_fail(p, NULL, "commit");
        return rc != CORE_OK
                   ? rc
                   : core_error(CORE_EIO, "store %s: commit: unexpected COPY", p->base.where);
    }
    if (st == PGRES_COMMAND_OK && strcmp(PQcmdStatus(r), "COMMIT") == 0) {
        c->committed = true;
    } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && rc == CORE_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        c->unique = state != NULL && strcmp(state, SQLSTATE_UNIQUE) == 0;
        rc = store_pg_fail(p, r, "commit");
    }
    return rc;
}

static int run_script(commit_t *c, const char *sql)
{
    store_pg_t *p = c->p;
    if (!PQsendQuery(p->conn, sql))
        return store_pg_fail(p, NULL, "commit");
    int rc = CORE_OK;
    PGresult *r;
    c->fed = 0;
    c->committed = false;
    c->unique = false;
    while ((r = PQgetResult(p->conn)) != NULL) {
        rc = script_result(c, r, rc);
        PQclear(r);
        if (p->broken || PQstatus(p->conn) != CONNECTION_OK) {
            if (!p->broken)
                rc = store_pg_fail(p, NULL, "commit");
            break;
        }
    }
    if (rc == CORE_OK && !c->committed)
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

/* Steps 1 and 2, rolled back on failure. *in_script tells whether the
 * failure came from step 2 (where the direct path could cause it). */
static int attempt(commit_t *c, bool direct, core_buf_t *sql, bool *in_script)
{
    store_pg_t *p = c->p;
    *in_script = false;
    int rc = build_script(c, c->b->noff == 0, direct, sql);
    if (rc == CORE_ETOOBIG || rc == CORE_ENOMEM)
        rc = core_error(rc, "store %s: commit: SQL text too long", p->base.where);
    if (rc == CORE_OK && c->b->noff > 0)
        rc = fences(p, c->b);
    if (rc == CORE_OK) {
        rc = run_script(c, (const char *)sql->data);
        *in_script = rc != CORE_OK;
    }
    if (rc != CORE_OK)
        rollback(p);
    return rc;
}

int store_pg_commit(store_t *s, const store_batch_t *b)
{
    store_pg_t *p = (store_pg_t *)s;
    commit_t c = {.p = p, .b = b};
    c.jobs = core_calloc(CORE_MEM_STORE, 2 * b->ntabs + 4, sizeof(*c.jobs));
    c.direct = core_calloc(CORE_MEM_STORE, b->ntabs + 1, sizeof(*c.direct));
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_STORE, 16 * STORE_MAX_SQL_BYTES);
    bool in_script = false;
    int rc = c.jobs != NULL && c.direct != NULL
                 ? CORE_OK
                 : core_error(CORE_ENOMEM, "store: commit: out of memory");
    if (rc == CORE_OK) {
        plan_direct(&c);
        rc = attempt(&c, c.any_direct, &sql, &in_script);
    }
    /* A direct attempt that the server refused (a key already there, or a
     * column it could not take) is done again the classic way. If the
     * session broke meanwhile, the refusal says nothing about the batch:
     * CORE_EIO, so the caller retries it once the store is back. */
    bool refused = rc == CORE_EINVAL || rc == CORE_EEXIST;
    if (refused && c.any_direct && in_script &&
        (p->broken || PQstatus(p->conn) != CONNECTION_OK ||
         PQtransactionStatus(p->conn) != PQTRANS_IDLE)) {
        p->broken = true;
        rc = core_error(CORE_EIO,
                        "store %s: commit: the session broke after a COPY into a table "
                        "was refused (%s); the batch will be retried",
                        s->where, c.unique ? "a key already there" : "see the server log");
    } else if (refused && c.any_direct && in_script) {
        bool unique = c.unique;
        rc = attempt(&c, false, &sql, &in_script);
        c.unique = unique;
        direct_failed(&c, rc == CORE_OK);
    } else if (rc == CORE_OK && c.any_direct) {
        direct_succeeded(&c);
    }
    core_buf_fini(&sql);
    core_free(c.jobs);
    core_free(c.direct);
    return rc;
}
