/*
 * migrate.c - DDL: the system tables of both dialects (store_migrate) and
 * user tables (store_table_open: create, introspect, add missing columns,
 * check types and the primary key).
 *
 * Migrations are numbered steps; strata_migrations holds one row per
 * applied step. store_migrate runs inside one transaction that first takes
 * the DDL lock (BEGIN IMMEDIATE on SQLite, pg_advisory_xact_lock on
 * PostgreSQL), so concurrent instances apply each step exactly once and a
 * failure leaves the previous version intact. store_table_open takes the
 * same lock, so two instances creating one table do not race.
 *
 * The two dialects share the DDL text except for two tokens: @ID (the
 * generated id column) and @BYTES (BLOB / BYTEA). User tables use the same
 * type names on both (BOOLEAN, BIGINT, DOUBLE PRECISION, TEXT); SQLite gives
 * them the affinities INTEGER-ish NUMERIC, INTEGER, REAL and TEXT.
 *
 * Threading: runs on the store's thread.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <stdio.h>
#include <strings.h>
#include <string.h>

/* ---- System tables. Step 1 creates them all. */
static const char *const STEP1[] = {
    "CREATE TABLE IF NOT EXISTS \"strata_offsets\" ("
    "\"pipeline\" TEXT NOT NULL, \"topic\" TEXT NOT NULL, \"partition\" INTEGER NOT NULL, "
    "\"next_offset\" BIGINT NOT NULL, \"epoch\" BIGINT NOT NULL, "
    "\"watermark\" BIGINT NOT NULL, \"updated_at\" BIGINT NOT NULL, "
    "PRIMARY KEY (\"pipeline\", \"topic\", \"partition\"))",

    "CREATE TABLE IF NOT EXISTS \"strata_state\" ("
    "\"pipeline\" TEXT NOT NULL, \"partition\" INTEGER NOT NULL, \"name\" TEXT NOT NULL, "
    "\"key\" @BYTES NOT NULL, \"state\" @BYTES NOT NULL, "
    "PRIMARY KEY (\"pipeline\", \"partition\", \"name\", \"key\"))",

    "CREATE TABLE IF NOT EXISTS \"strata_views\" ("
    "\"name\" TEXT NOT NULL PRIMARY KEY, \"pipeline\" TEXT, \"definition\" TEXT, "
    "\"created_at\" BIGINT)",

    "CREATE TABLE IF NOT EXISTS \"dlq\" ("
    "\"id\" @ID, \"pipeline\" TEXT NOT NULL, \"topic\" TEXT NOT NULL, "
    "\"partition\" INTEGER NOT NULL, \"offset\" BIGINT NOT NULL, \"kind\" TEXT, "
    "\"reason\" TEXT, \"key\" @BYTES, \"value\" @BYTES, \"event_time\" BIGINT, "
    "\"created_at\" BIGINT NOT NULL, "
    "UNIQUE (\"pipeline\", \"topic\", \"partition\", \"offset\"))",

    "CREATE INDEX IF NOT EXISTS \"strata_dlq_created\" ON \"dlq\" (\"created_at\")",

    "CREATE TABLE IF NOT EXISTS \"anomalies\" ("
    "\"id\" @ID, \"pipeline\" TEXT NOT NULL, \"rule\" TEXT NOT NULL, \"key\" TEXT, "
    "\"event_time\" BIGINT, \"value\" DOUBLE PRECISION, \"score\" DOUBLE PRECISION, "
    "\"detail\" TEXT, \"topic\" TEXT NOT NULL, \"partition\" INTEGER NOT NULL, "
    "\"offset\" BIGINT NOT NULL, \"created_at\" BIGINT NOT NULL, "
    "UNIQUE (\"pipeline\", \"rule\", \"topic\", \"partition\", \"offset\"))",

    "CREATE INDEX IF NOT EXISTS \"strata_anomalies_created\" ON \"anomalies\" (\"created_at\")",

    "CREATE TABLE IF NOT EXISTS \"jobs\" ("
    "\"name\" TEXT NOT NULL PRIMARY KEY, \"kind\" TEXT, \"schedule\" TEXT, "
    "\"definition\" TEXT, \"updated_at\" BIGINT)",

    "CREATE TABLE IF NOT EXISTS \"job_runs\" ("
    "\"id\" @ID, \"job\" TEXT NOT NULL, \"state\" TEXT NOT NULL, "
    "\"attempt\" INTEGER NOT NULL DEFAULT 1, \"logical_date\" BIGINT, \"params\" TEXT, "
    "\"started_at\" BIGINT, \"finished_at\" BIGINT, \"duration_ms\" BIGINT, "
    "\"rows_in\" BIGINT, \"rows_out\" BIGINT, \"error\" TEXT, \"lineage\" TEXT)",

    "CREATE INDEX IF NOT EXISTS \"strata_job_runs_job\" ON \"job_runs\" (\"job\", \"id\")",
};

typedef struct {
    const char *const *stmts;
    size_t n;
} migration_t;

/* ---- Step 2: the batch layer's run bookkeeping. A run's data interval
 * ends at interval_end (it starts at logical_date); at most one run of a
 * job is running at a time, enforced by a partial unique index; the owner
 * ("host:pid") of a running run tells a crashed run from a live one. */
static const char *const STEP2[] = {
    "ALTER TABLE \"job_runs\" ADD COLUMN \"interval_end\" BIGINT",
    ("CREATE UNIQUE INDEX IF NOT EXISTS \"strata_job_runs_running\" ON \"job_runs\" (\"job\") "
     "WHERE \"state\" = 'running'"),
    "CREATE INDEX IF NOT EXISTS \"strata_job_runs_state\" ON \"job_runs\" (\"state\")",
    "ALTER TABLE \"job_runs\" ADD COLUMN \"owner\" TEXT",
};

/* ---- Step 3: files imported into topics by the import job kind, with the
 * progress of an import under way, so that a retry resumes without
 * duplicating records (docs/import.md). */
static const char *const STEP3[] = {
    "CREATE TABLE IF NOT EXISTS \"strata_imports\" ("
    "\"sha256\" TEXT NOT NULL, \"topic\" TEXT NOT NULL, \"path\" TEXT, \"job\" TEXT, "
    "\"run_id\" BIGINT, \"rows\" BIGINT, \"invalid\" BIGINT, \"imported_at\" BIGINT NOT NULL, "
    "\"state\" TEXT NOT NULL, \"next_byte\" BIGINT NOT NULL DEFAULT 0, "
    "\"next_line\" BIGINT NOT NULL DEFAULT 0, \"end_offsets\" TEXT, "
    "PRIMARY KEY (\"sha256\", \"topic\"))",
};

/* ---- Step 4: view versions (docs/replay.md). A replay builds version N + 1
 * of a view beside version N, then switches the registry's version in the
 * transaction that renames the new table to the view's name; a run's
 * progress (JSON) is written while it runs. */
static const char *const STEP4[] = {
    "ALTER TABLE \"strata_views\" ADD COLUMN \"version\" BIGINT NOT NULL DEFAULT 1",
    "ALTER TABLE \"strata_views\" ADD COLUMN \"replayed_at\" BIGINT",
    "ALTER TABLE \"job_runs\" ADD COLUMN \"progress\" TEXT",
};

/* ---- Step 5: dlq replay over the REST API (docs/api.md). An entry is
 * produced again at most once: replayed_at is set where it is still NULL
 * before the produce (the claim), replay_offset once the record has its
 * new offset. */
static const char *const STEP5[] = {
    "ALTER TABLE \"dlq\" ADD COLUMN \"replayed_at\" BIGINT",
    "ALTER TABLE \"dlq\" ADD COLUMN \"replay_offset\" BIGINT",
};

static const migration_t STEPS[] = {{STEP1, CORE_ARRAY_LEN(STEP1)},
                                    {STEP2, CORE_ARRAY_LEN(STEP2)},
                                    {STEP3, CORE_ARRAY_LEN(STEP3)},
                                    {STEP4, CORE_ARRAY_LEN(STEP4)},
                                    {STEP5, CORE_ARRAY_LEN(STEP5)}};
#define STORE_SCHEMA_VERSION ((int64_t)CORE_ARRAY_LEN(STEPS))

/* Replaces @ID and @BYTES for the dialect. */
static int dialect_text(const store_t *s, const char *sql, core_buf_t *out)
{
    bool pg = s->ops->dialect == STORE_DIALECT_PG;
    int rc = CORE_OK;
    while (rc == CORE_OK && *sql != '\0') {
        const char *at = strchr(sql, '@');
        size_t n = at != NULL ? (size_t)(at - sql) : strlen(sql);
        rc = core_buf_append(out, sql, n);
        sql += n;
        if (rc != CORE_OK || at == NULL)
            break;
        if (strncmp(at, "@ID", 3) == 0) {
            rc = core_buf_append_str(out, pg ? "BIGSERIAL PRIMARY KEY"
                                             : "INTEGER PRIMARY KEY AUTOINCREMENT");
            sql += 3;
        } else if (strncmp(at, "@BYTES", 6) == 0) {
            rc = core_buf_append_str(out, pg ? "BYTEA" : "BLOB");
            sql += 6;
        } else {
            rc = core_buf_append_u8(out, '@');
            sql++;
        }
    }
    if (rc == CORE_OK)
        rc = core_buf_append_u8(out, 0);
    return rc;
}

static int ddl_begin(store_t *s)
{
    if (s->ops->dialect == STORE_DIALECT_PG)
        return s->ops->script(s, "BEGIN; SELECT pg_advisory_xact_lock(" STORE_PG_DDL_LOCK ")");
    return s->ops->script(s, "BEGIN IMMEDIATE");
}

/* Ends the DDL transaction: COMMIT if rc is 0, else ROLLBACK (whose own
 * failure is not reported over rc). */
static int ddl_end(store_t *s, int rc)
{
    if (rc == CORE_OK)
        return s->ops->script(s, "COMMIT");
    char detail[CORE_ERROR_DETAIL_MAX];
    snprintf(detail, sizeof detail, "%s", core_error_detail());
    (void)s->ops->script(s, "ROLLBACK");
    core_error(rc, "%s", detail);
    return rc;
}

static int one_int(void *arg, const schema_value_t *values, size_t n)
{
    if (n < 1 || values[0].type != SCHEMA_INT)
        return CORE_ECORRUPT;
    *(int64_t *)arg = values[0].v.i;
    return CORE_OK;
}

static int apply_step(store_t *s, int64_t version)
{
    const migration_t *m = &STEPS[version - 1];
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_STORE, STORE_MAX_SQL_BYTES);
    int rc = CORE_OK;
    for (size_t i = 0; rc == CORE_OK && i < m->n; i++) {
        core_buf_reset(&sql);
        rc = dialect_text(s, m->stmts[i], &sql);
        if (rc == CORE_OK)
            rc = s->ops->script(s, (const char *)sql.data);
    }
    core_buf_fini(&sql);
    schema_value_t p[2] = {{.type = SCHEMA_INT, .v.i = version},
                           {.type = SCHEMA_INT, .v.i = store_now_us()}};
    if (rc == CORE_OK)
        rc = store_run(s,
                       "INSERT INTO \"strata_migrations\" (\"version\", \"applied_at\") "
                       "VALUES (?1, ?2)",
                       p, 2, NULL, 0, NULL, NULL, NULL);
    return rc;
}

int store_migrate(store_t *s)
{
    static const schema_type_t int_type[1] = {SCHEMA_INT};
    int rc = s->ops->ready(s);
    if (rc != CORE_OK)
        return rc;
    rc = ddl_begin(s);
    if (rc != CORE_OK)
        return rc;
    rc = s->ops->script(s, "CREATE TABLE IF NOT EXISTS \"strata_migrations\" ("
                           "\"version\" BIGINT NOT NULL PRIMARY KEY, "
                           "\"applied_at\" BIGINT NOT NULL)");
    int64_t have = -1;
    if (rc == CORE_OK)
        rc = store_run(s, "SELECT COALESCE(MAX(\"version\"), 0) FROM \"strata_migrations\"", NULL,
                       0, int_type, 1, one_int, &have, NULL);
    if (rc == CORE_OK && (have < 0 || have > STORE_SCHEMA_VERSION))
        rc = core_error(CORE_EUNSUPP,
                        "store %s: the database is at schema version %lld, newer than this "
                        "strata knows (%lld); upgrade strata",
                        s->where, (long long)have, (long long)STORE_SCHEMA_VERSION);
    for (int64_t v = have + 1; rc == CORE_OK && v <= STORE_SCHEMA_VERSION; v++) {
        rc = apply_step(s, v);
        if (rc != CORE_OK)
            rc = core_error(rc, "store %s: migration %lld: %s", s->where, (long long)v,
                            core_error_detail());
    }
    return ddl_end(s, rc);
}

/* ---- User tables. */

static int def_check(const store_table_def_t *def)
{
    if (def == NULL)
        return core_error(CORE_EINVAL, "store: table_open: NULL definition");
    int rc = store_ident_check(def->name, "table");
    if (rc != CORE_OK)
        return rc;
    if (store_ident_reserved(def->name))
        return core_error(CORE_EINVAL, "store: table name \"%s\" is reserved for strata",
                          def->name);
    if (def->columns == NULL || def->ncolumns == 0 || def->ncolumns > STORE_MAX_COLUMNS ||
        def->npk == 0 || def->npk > def->ncolumns)
        return core_error(CORE_EINVAL,
                          "store: table %s: needs 1 to %d columns and 1 to ncolumns primary "
                          "key columns (has %zu columns, %zu key columns)",
                          def->name, STORE_MAX_COLUMNS, def->ncolumns, def->npk);
    for (size_t i = 0; i < def->ncolumns; i++) {
        const store_column_t *c = &def->columns[i];
        rc = store_ident_check(c->name, "column");
        if (rc != CORE_OK)
            return core_error(rc, "store: table %s: %s", def->name, core_error_detail());
        if (c->type <= SCHEMA_NULL || c->type > SCHEMA_ARRAY)
            return core_error(CORE_EINVAL, "store: table %s: column %s has no valid type",
                              def->name, c->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(def->columns[j].name, c->name) == 0)
                return core_error(CORE_EINVAL, "store: table %s: column %s appears twice",
                                  def->name, c->name);
    }
    return CORE_OK;
}

static bool def_equal(const store_table_def_t *a, const store_table_def_t *b)
{
    if (strcmp(a->name, b->name) != 0 || a->ncolumns != b->ncolumns || a->npk != b->npk)
        return false;
    for (size_t i = 0; i < a->ncolumns; i++)
        if (strcmp(a->columns[i].name, b->columns[i].name) != 0 ||
            a->columns[i].type != b->columns[i].type)
            return false;
    return true;
}

/* A table handle owning copies of def's strings. */
static int table_new(store_t *s, const store_table_def_t *def, store_table_t **out)
{
    size_t bytes = strlen(def->name) + 1;
    for (size_t i = 0; i < def->ncolumns; i++)
        bytes += strlen(def->columns[i].name) + 1;
    store_table_t *t = core_calloc(CORE_MEM_STORE, 1, sizeof(*t));
    if (t != NULL) {
        t->columns = core_calloc(CORE_MEM_STORE, def->ncolumns, sizeof(*t->columns));
        t->strings = core_alloc(CORE_MEM_STORE, bytes);
    }
    if (t == NULL || t->columns == NULL || t->strings == NULL) {
        if (t != NULL) {
            core_free(t->columns);
            core_free(t->strings);
        }
        core_free(t);
        return core_error(CORE_ENOMEM, "store: table %s: out of memory", def->name);
    }
    char *p = t->strings;
    size_t n = strlen(def->name) + 1;
    memcpy(p, def->name, n);
    t->def.name = p;
    p += n;
    for (size_t i = 0; i < def->ncolumns; i++) {
        n = strlen(def->columns[i].name) + 1;
        memcpy(p, def->columns[i].name, n);
        t->columns[i] = (store_column_t){.name = p, .type = def->columns[i].type};
        p += n;
    }
    t->def.columns = t->columns;
    t->def.ncolumns = def->ncolumns;
    t->def.npk = def->npk;
    t->store = s;
    *out = t;
    return CORE_OK;
}

static void table_free(store_table_t *t)
{
    if (t == NULL)
        return;
    core_free(t->columns);
    core_free(t->strings);
    core_free(t);
}

static int create_sql(const store_table_def_t *d, core_buf_t *sql)
{
    int rc = core_buf_append_str(sql, "CREATE TABLE IF NOT EXISTS ");
    if (rc == CORE_OK)
        rc = store_quote(d->name, sql);
    for (size_t i = 0; rc == CORE_OK && i < d->ncolumns; i++) {
        rc = core_buf_append_str(sql, i == 0 ? " (" : ", ");
        if (rc == CORE_OK)
            rc = store_quote(d->columns[i].name, sql);
        if (rc == CORE_OK)
            rc = core_buf_printf(sql, " %s%s", store_sql_type(d->columns[i].type),
                                 i < d->npk ? " NOT NULL" : "");
    }
    for (size_t i = 0; rc == CORE_OK && i < d->npk; i++) {
        rc = core_buf_append_str(sql, i == 0 ? ", PRIMARY KEY (" : ", ");
        if (rc == CORE_OK)
            rc = store_quote(d->columns[i].name, sql);
    }
    if (rc == CORE_OK)
        rc = core_buf_append_str(sql, "))");
    if (rc == CORE_OK)
        rc = core_buf_append_u8(sql, 0);
    return rc;
}

/* What an existing table has. */
typedef struct {
    char *name, *type;
    bool pk;
} existing_col_t;

typedef struct {
    existing_col_t *cols;
    size_t n, cap;
} existing_t;

static void existing_fini(existing_t *e)
{
    for (size_t i = 0; i < e->n; i++) {
        core_free(e->cols[i].name);
        core_free(e->cols[i].type);
    }
    core_free(e->cols);
}

static int existing_row(void *arg, const schema_value_t *v, size_t n)
{
    existing_t *e = arg;
    if (n != 3 || v[0].type != SCHEMA_STRING || v[0].v.s.len > 256 ||
        (v[1].type != SCHEMA_STRING && v[1].type != SCHEMA_NULL) || e->n >= 4 * STORE_MAX_COLUMNS)
        return CORE_ECORRUPT;
    if (e->n == e->cap) {
        size_t cap = e->cap == 0 ? 16 : e->cap * 2;
        existing_col_t *p = core_realloc(CORE_MEM_STORE, e->cols, cap * sizeof(*p));
        if (p == NULL)
            return CORE_ENOMEM;
        e->cols = p;
        e->cap = cap;
    }
    existing_col_t *c = &e->cols[e->n];
    c->name = core_strndup(CORE_MEM_STORE, v[0].v.s.p, v[0].v.s.len);
    c->type = v[1].type == SCHEMA_STRING
                  ? core_strndup(CORE_MEM_STORE, v[1].v.s.p, CORE_MIN(v[1].v.s.len, 256))
                  : core_strdup(CORE_MEM_STORE, "");
    c->pk = v[2].type == SCHEMA_BOOL && v[2].v.b;
    e->n++; /* counted even when a copy failed, so fini frees it */
    return c->name == NULL || c->type == NULL ? CORE_ENOMEM : CORE_OK;
}

static int introspect(store_t *s, const char *table, existing_t *e)
{
    static const char SQLITE[] = "SELECT \"name\", \"type\", \"pk\" > 0 "
                                 "FROM pragma_table_info(?1) ORDER BY \"cid\"";
    static const char PG[] =
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), "
        "COALESCE(a.attnum = ANY (i.indkey), false) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
        "WHERE n.nspname = current_schema() AND c.relname = ?1 ORDER BY a.attnum";
    static const schema_type_t types[3] = {SCHEMA_STRING, SCHEMA_STRING, SCHEMA_BOOL};
    schema_value_t p = {.type = SCHEMA_STRING, .v.s = {table, strlen(table)}};
    int rc = store_run(s, s->ops->dialect == STORE_DIALECT_PG ? PG : SQLITE, &p, 1, types, 3,
                       existing_row, e, NULL);
    if (rc == CORE_ECORRUPT || rc == CORE_ENOMEM)
        rc = core_error(rc, "store %s: cannot read the columns of table %s", s->where, table);
    return rc;
}

/* SQLite's affinity rules (datatype3.html, section 3.1). */
static char sqlite_affinity(const char *decl)
{
    if (strcasestr(decl, "INT") != NULL)
        return 'i';
    if (strcasestr(decl, "CHAR") != NULL || strcasestr(decl, "CLOB") != NULL ||
        strcasestr(decl, "TEXT") != NULL)
        return 't';
    if (strcasestr(decl, "BLOB") != NULL || decl[0] == '\0')
        return 'b';
    if (strcasestr(decl, "REAL") != NULL || strcasestr(decl, "FLOA") != NULL ||
        strcasestr(decl, "DOUB") != NULL)
        return 'r';
    return 'n';
}

static bool type_compatible(const store_t *s, schema_type_t t, const char *decl)
{
    if (s->ops->dialect == STORE_DIALECT_SQLITE) {
        char a = sqlite_affinity(decl);
        switch (t) {
        case SCHEMA_BOOL:
        case SCHEMA_INT:
        case SCHEMA_TIMESTAMP:
            return a == 'i' || a == 'n';
        case SCHEMA_FLOAT:
            return a == 'r' || a == 'n';
        default:
            return a == 't';
        }
    }
    switch (t) {
    case SCHEMA_BOOL:
        return strcmp(decl, "boolean") == 0;
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        return strcmp(decl, "bigint") == 0 || strcmp(decl, "integer") == 0 ||
               strcmp(decl, "smallint") == 0;
    case SCHEMA_FLOAT:
        return strcmp(decl, "double precision") == 0 || strcmp(decl, "real") == 0 ||
               strncmp(decl, "numeric", 7) == 0;
    default:
        return strcmp(decl, "text") == 0 || strcmp(decl, "character varying") == 0;
    }
}

static const existing_col_t *existing_find(const existing_t *e, const char *name)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->cols[i].name, name) == 0)
            return &e->cols[i];
    return NULL;
}

static int add_column(store_t *s, const store_table_def_t *d, const store_column_t *c)
{
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_STORE, STORE_MAX_SQL_BYTES);
    int rc = core_buf_append_str(&sql, "ALTER TABLE ");
    if (rc == CORE_OK)
        rc = store_quote(d->name, &sql);
    if (rc == CORE_OK)
        rc = core_buf_append_str(&sql, " ADD COLUMN ");
    if (rc == CORE_OK)
        rc = store_quote(c->name, &sql);
    if (rc == CORE_OK)
        rc = core_buf_printf(&sql, " %s", store_sql_type(c->type));
    if (rc == CORE_OK)
        rc = core_buf_append_u8(&sql, 0);
    if (rc == CORE_OK)
        rc = s->ops->script(s, (const char *)sql.data);
    core_buf_fini(&sql);
    return rc;
}

/* Compares the existing table with the definition and adds what is
 * missing. */
static int reconcile(store_t *s, const store_table_def_t *d, const existing_t *e)
{
    size_t pk_seen = 0, pk_existing = 0;
    for (size_t i = 0; i < e->n; i++)
        pk_existing += e->cols[i].pk;
    for (size_t i = 0; i < d->ncolumns; i++) {
        const store_column_t *c = &d->columns[i];
        const existing_col_t *x = existing_find(e, c->name);
        if (x != NULL && !type_compatible(s, c->type, x->type))
            return core_error(CORE_ECORRUPT,
                              "store %s: table %s: column %s is %s in the database but %s in "
                              "the definition; migrate the column or rename it",
                              s->where, d->name, c->name, x->type, schema_type_name(c->type));
        if (x != NULL && i < d->npk && x->pk)
            pk_seen++;
        if (x == NULL && i < d->npk)
            return core_error(CORE_ECORRUPT,
                              "store %s: table %s exists without primary key column %s", s->where,
                              d->name, c->name);
        if (x == NULL) {
            int rc = add_column(s, d, c);
            if (rc != CORE_OK)
                return rc;
            core_log(CORE_LOG_INFO, "store", "%s: table %s: added column %s %s", s->where, d->name,
                     c->name, store_sql_type(c->type));
        }
    }
    if (pk_seen != d->npk || pk_existing != d->npk)
        return core_error(CORE_ECORRUPT,
                          "store %s: table %s exists with a different primary key than the "
                          "definition (the first %zu columns)",
                          s->where, d->name, d->npk);
    return CORE_OK;
}

static int table_setup(store_t *s, store_table_t *t)
{
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_STORE, STORE_MAX_SQL_BYTES);
    existing_t e = {0};
    int rc = create_sql(&t->def, &sql);
    if (rc != CORE_OK)
        rc = core_error(rc, "store: table %s: definition too long", t->def.name);
    if (rc == CORE_OK)
        rc = s->ops->script(s, (const char *)sql.data);
    if (rc == CORE_OK)
        rc = introspect(s, t->def.name, &e);
    if (rc == CORE_OK)
        rc = reconcile(s, &t->def, &e);
    if (rc == CORE_OK)
        rc = s->ops->table_prepare(s, t);
    existing_fini(&e);
    core_buf_fini(&sql);
    return rc;
}

int store_table_open(store_t *s, const store_table_def_t *def, store_table_t **out)
{
    if (s == NULL || out == NULL)
        return core_error(CORE_EINVAL, "store: table_open: NULL argument");
    *out = NULL;
    int rc = def_check(def);
    if (rc != CORE_OK)
        return rc;
    for (size_t i = 0; i < s->ntables; i++)
        if (def_equal(&s->tables[i]->def, def)) {
            *out = s->tables[i];
            return CORE_OK;
        }
    if (s->ntables == s->cap_tables) {
        size_t cap = s->cap_tables == 0 ? 8 : s->cap_tables * 2;
        store_table_t **p = core_realloc(CORE_MEM_STORE, s->tables, cap * sizeof(*p));
        if (p == NULL)
            return core_error(CORE_ENOMEM, "store: table_open: out of memory");
        s->tables = p;
        s->cap_tables = cap;
    }
    store_table_t *t = NULL;
    rc = table_new(s, def, &t);
    if (rc != CORE_OK)
        return rc;
    t->index = s->ntables;
    rc = s->ops->ready(s);
    if (rc == CORE_OK) {
        rc = ddl_begin(s);
        if (rc == CORE_OK)
            rc = ddl_end(s, table_setup(s, t));
    }
    if (rc != CORE_OK) {
        s->ops->table_free(t);
        table_free(t);
        return rc;
    }
    s->tables[s->ntables++] = t;
    *out = t;
    return CORE_OK;
}
