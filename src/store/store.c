/*
 * store.c - the serving store's public face: URL dispatch to a backend,
 * identifier rules and quoting, and the SQL text of reads (store_select,
 * store_state_load, store_offsets_claim, store_exec).
 *
 * Invariants:
 *   1. Every public entry point that talks to the backend calls
 *      ops->ready() exactly once, first; that is the only place a lost
 *      PostgreSQL connection is re-established.
 *   2. store_t.where never holds a password: it is the URL with the userinfo
 *      password and any password= query parameter removed.
 *   3. All SQL the store builds is written with ?N placeholders and every
 *      value is a parameter; store_run() rewrites ?N to $N for PostgreSQL.
 *
 * Threading: a store_t and its tables belong to one thread at a time.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <string.h>

static const char *const RESERVED[] = {"dlq", "anomalies", "jobs", "job_runs"};

/* ---- Identifiers. */

int store_ident_check(const char *name, const char *what)
{
    if (what == NULL)
        what = "identifier";
    if (name == NULL || name[0] == '\0')
        return core_error(CORE_EINVAL, "store: %s name is empty", what);
    size_t n = 0;
    for (const char *p = name; *p != '\0'; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || c == '_' || (n > 0 && c >= '0' && c <= '9');
        if (!ok || n >= 63)
            return core_error(CORE_EINVAL,
                              "store: %s name \"%.80s\" is not a valid identifier "
                              "(lower-case letters, digits and '_', not starting with a "
                              "digit, at most 63 characters)",
                              what, name);
    }
    return CORE_OK;
}

bool store_ident_reserved(const char *name)
{
    if (name == NULL)
        return false;
    if (strncmp(name, "strata_", 7) == 0)
        return true;
    for (size_t i = 0; i < CORE_ARRAY_LEN(RESERVED); i++)
        if (strcmp(name, RESERVED[i]) == 0)
            return true;
    return false;
}

int store_quote(const char *name, core_buf_t *out)
{
    size_t start = out->len;
    int rc = core_buf_append_u8(out, '"');
    for (const char *p = name; rc == CORE_OK && *p != '\0'; p++) {
        if (*p == '"')
            rc = core_buf_append_u8(out, '"');
        if (rc == CORE_OK)
            rc = core_buf_append_u8(out, (uint8_t)*p);
    }
    if (rc == CORE_OK)
        rc = core_buf_append_u8(out, '"');
    if (rc != CORE_OK)
        out->len = start;
    return rc;
}

int store_quote_ident(const char *name, core_buf_t *out)
{
    if (name == NULL || out == NULL)
        return core_error(CORE_EINVAL, "store: quote_ident: NULL argument");
    return store_quote(name, out);
}

const char *store_sql_type(schema_type_t t)
{
    switch (t) {
    case SCHEMA_BOOL:
        return "BOOLEAN";
    case SCHEMA_INT:
    case SCHEMA_TIMESTAMP:
        return "BIGINT";
    case SCHEMA_FLOAT:
        return "DOUBLE PRECISION";
    default:
        return "TEXT";
    }
}

bool store_text_ok(const char *p, size_t n)
{
    if (n == 0)
        return true;
    if (p == NULL || memchr(p, '\0', n) != NULL)
        return false;
    return core_utf8_valid(p, n);
}

int64_t store_now_us(void)
{
    return core_wall_us();
}

int store_sql_columns(const store_table_def_t *d, size_t n, const char *prefix, core_buf_t *out)
{
    int rc = CORE_OK;
    for (size_t i = 0; rc == CORE_OK && i < n; i++) {
        if (i > 0)
            rc = core_buf_append_str(out, ", ");
        if (rc == CORE_OK && prefix != NULL)
            rc = core_buf_append_str(out, prefix);
        if (rc == CORE_OK)
            rc = store_quote(d->columns[i].name, out);
    }
    return rc;
}

int store_sql_on_conflict(const store_table_def_t *d, core_buf_t *out)
{
    int rc = core_buf_append_str(out, " ON CONFLICT (");
    if (rc == CORE_OK)
        rc = store_sql_columns(d, d->npk, NULL, out);
    if (rc == CORE_OK)
        rc = core_buf_append_str(out, d->npk == d->ncolumns ? ") DO NOTHING" : ") DO UPDATE SET ");
    for (size_t i = d->npk; rc == CORE_OK && i < d->ncolumns; i++) {
        if (i > d->npk)
            rc = core_buf_append_str(out, ", ");
        if (rc == CORE_OK)
            rc = store_quote(d->columns[i].name, out);
        if (rc == CORE_OK)
            rc = core_buf_append_str(out, " = excluded.");
        if (rc == CORE_OK)
            rc = store_quote(d->columns[i].name, out);
    }
    return rc;
}

/* ---- URLs. */

/* Appends url to out without the password: drops ":secret" from the
 * userinfo and every password=... query parameter. */
static int redact_url(const char *url, core_buf_t *out)
{
    const char *auth = strstr(url, "://");
    if (auth == NULL)
        return core_buf_append_str(out, url);
    auth += 3;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            at = auth + i;
    int rc = core_buf_append(out, url, (size_t)(auth - url));
    if (at != NULL) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        const char *uend = colon != NULL ? colon : at;
        if (rc == CORE_OK)
            rc = core_buf_append(out, auth, (size_t)(uend - auth));
        if (rc == CORE_OK)
            rc = core_buf_append(out, at, (size_t)(auth + alen - at));
    } else if (rc == CORE_OK) {
        rc = core_buf_append(out, auth, alen);
    }
    /* Path, then the query parameters one by one. */
    const char *rest = auth + alen;
    size_t plen = strcspn(rest, "?");
    if (rc == CORE_OK)
        rc = core_buf_append(out, rest, plen);
    rest += plen;
    char sep = '?';
    while (rc == CORE_OK && *rest != '\0') {
        rest++; /* '?' or '&' */
        size_t n = strcspn(rest, "&");
        if (n > 0 && strncmp(rest, "password=", 9) != 0) {
            rc = core_buf_append_u8(out, (uint8_t)sep);
            if (rc == CORE_OK)
                rc = core_buf_append(out, rest, n);
            sep = '&';
        }
        rest += n;
    }
    return rc;
}

static bool has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int store_open(const char *url, store_t **out)
{
    if (out == NULL)
        return core_error(CORE_EINVAL, "store: open: NULL out");
    *out = NULL;
    if (url == NULL || url[0] == '\0')
        return core_error(CORE_EINVAL, "store: empty store URL");
    core_buf_t where;
    core_buf_init(&where, CORE_MEM_STORE, 4096);
    int rc = CORE_OK;
    if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
        rc = redact_url(url, &where);
        if (rc == CORE_OK)
            rc = core_buf_append_u8(&where, 0);
        if (rc == CORE_OK)
            rc = store_pg_open(url, (const char *)where.data, out);
        else
            rc = core_error(rc, "store: URL too long");
    } else {
        const char *path = url;
        if (has_prefix(url, "sqlite://"))
            path = url + 9;
        else if (has_prefix(url, "sqlite:"))
            path = url + 7;
        if (path[0] == '\0')
            rc = core_error(CORE_EINVAL, "store: \"%s\" names no SQLite file", url);
        else
            rc = store_sqlite_open(path, path != url, out);
    }
    core_buf_fini(&where);
    return rc;
}

void store_close(store_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->ntables; i++) {
        store_table_t *t = s->tables[i];
        s->ops->table_free(t);
        core_free(t->columns);
        core_free(t->strings);
        core_free(t);
    }
    core_free(s->tables);
    s->tables = NULL;
    s->ntables = 0;
    core_free(s->where);
    s->where = NULL;
    s->ops->close(s);
}

const char *store_backend(const store_t *s)
{
    return s->ops->name;
}

int store_ping(store_t *s)
{
    int rc = s->ops->ready(s);
    if (rc != CORE_OK)
        return rc;
    return s->ops->ping(s);
}

const store_table_def_t *store_table_def(const store_table_t *t)
{
    return &t->def;
}

/* ---- Running SQL. */

int store_run(store_t *s, const char *sql, const schema_value_t *params, size_t nparams,
              const schema_type_t *types, size_t ntypes, store_row_fn fn, void *arg,
              int64_t *changes)
{
    if (s->ops->dialect == STORE_DIALECT_SQLITE)
        return s->ops->query(s, sql, params, nparams, types, ntypes, fn, arg, changes);
    core_buf_t text;
    core_buf_init(&text, CORE_MEM_STORE, STORE_MAX_SQL_BYTES + 1);
    size_t maxn = 0;
    int rc = store_sql_to_pg(sql, &text, &maxn);
    if (rc == CORE_OK && maxn > nparams)
        rc = core_error(CORE_EINVAL, "store %s: SQL uses parameter ?%zu but %zu given", s->where,
                        maxn, nparams);
    if (rc == CORE_OK)
        rc = s->ops->query(s, (const char *)text.data, params, maxn, types, ntypes, fn, arg,
                           changes);
    core_buf_fini(&text);
    return rc;
}

int store_exec(store_t *s, const char *sql, const schema_value_t *params, size_t nparams,
               store_row_fn fn, void *arg, int64_t *changes)
{
    if (changes != NULL)
        *changes = 0;
    if (sql == NULL || (nparams > 0 && params == NULL))
        return core_error(CORE_EINVAL, "store: exec: NULL SQL or parameters");
    for (size_t i = 0; i < nparams; i++) {
        schema_type_t t = params[i].type;
        if ((t == SCHEMA_STRING || t == SCHEMA_OBJECT || t == SCHEMA_ARRAY) &&
            !store_text_ok(params[i].v.s.p, params[i].v.s.len))
            return core_error(CORE_EINVAL,
                              "store: exec: parameter ?%zu is not UTF-8 text without NUL bytes",
                              i + 1);
        if (t > SCHEMA_ARRAY)
            return core_error(CORE_EINVAL, "store: exec: parameter ?%zu has no valid type", i + 1);
    }
    int rc = s->ops->ready(s);
    if (rc != CORE_OK)
        return rc;
    return store_run(s, sql, params, nparams, NULL, 0, fn, arg, changes);
}

/* ---- Offsets. */

typedef struct {
    int64_t v[3];
    bool seen;
} claim_row_t;

static int claim_row(void *arg, const schema_value_t *values, size_t n)
{
    claim_row_t *r = arg;
    if (n != 3)
        return CORE_ECORRUPT;
    for (size_t i = 0; i < 3; i++) {
        if (values[i].type != SCHEMA_INT)
            return CORE_ECORRUPT;
        r->v[i] = values[i].v.i;
    }
    r->seen = true;
    return CORE_OK;
}

int store_offsets_claim(store_t *s, const char *pipeline, const char *topic, int32_t partition,
                        int64_t *epoch, int64_t *next_offset, int64_t *watermark)
{
    static const char SQL[] =
        "INSERT INTO \"strata_offsets\" (\"pipeline\", \"topic\", \"partition\", "
        "\"next_offset\", \"epoch\", \"watermark\", \"updated_at\") "
        "VALUES (?1, ?2, ?3, 0, 1, ?4, ?5) "
        "ON CONFLICT (\"pipeline\", \"topic\", \"partition\") DO UPDATE SET "
        "\"epoch\" = \"strata_offsets\".\"epoch\" + 1, \"updated_at\" = excluded.\"updated_at\" "
        "RETURNING \"epoch\", \"next_offset\", \"watermark\"";
    if (pipeline == NULL || topic == NULL || partition < 0)
        return core_error(CORE_EINVAL, "store: offsets_claim: bad pipeline, topic or partition");
    if (!store_text_ok(pipeline, strlen(pipeline)) || !store_text_ok(topic, strlen(topic)))
        return core_error(CORE_EINVAL, "store: offsets_claim: pipeline or topic is not UTF-8");
    schema_value_t p[5] = {
        {.type = SCHEMA_STRING, .v.s = {pipeline, strlen(pipeline)}},
        {.type = SCHEMA_STRING, .v.s = {topic, strlen(topic)}},
        {.type = SCHEMA_INT, .v.i = partition},
        {.type = SCHEMA_INT, .v.i = INT64_MIN},
        {.type = SCHEMA_INT, .v.i = store_now_us()},
    };
    static const schema_type_t types[3] = {SCHEMA_INT, SCHEMA_INT, SCHEMA_INT};
    claim_row_t r = {.seen = false};
    int rc = s->ops->ready(s);
    if (rc == CORE_OK)
        rc = store_run(s, SQL, p, 5, types, 3, claim_row, &r, NULL);
    if (rc == CORE_ECORRUPT || (rc == CORE_OK && !r.seen))
        return core_error(CORE_ECORRUPT, "store %s: claim of %s/%s-%d returned no epoch", s->where,
                          pipeline, topic, partition);
    if (rc != CORE_OK)
        return rc;
    if (epoch != NULL)
        *epoch = r.v[0];
    if (next_offset != NULL)
        *next_offset = r.v[1];
    if (watermark != NULL)
        *watermark = r.v[2];
    return CORE_OK;
}

/* ---- Reads. */

static const char *const OPS[] = {" = ", " < ", " <= ", " > ", " >= "};

static int find_column(const store_table_t *t, const char *name)
{
    for (size_t i = 0; i < t->def.ncolumns; i++)
        if (strcmp(t->def.columns[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Appends the WHERE clause and fills params[0..*np). */
static int select_where(const store_table_t *t, const store_filter_t *filters, size_t nfilters,
                        core_buf_t *sql, schema_value_t *params, size_t *np)
{
    int rc = CORE_OK;
    for (size_t i = 0; rc == CORE_OK && i < nfilters; i++) {
        const store_filter_t *f = &filters[i];
        int col = f->column != NULL ? find_column(t, f->column) : -1;
        if (col < 0 || (unsigned)f->op >= CORE_ARRAY_LEN(OPS))
            return core_error(CORE_EINVAL, "store: select on %s: no column \"%s\" or bad operator",
                              t->def.name, f->column != NULL ? f->column : "(null)");
        rc = core_buf_append_str(sql, i == 0 ? " WHERE " : " AND ");
        if (rc == CORE_OK)
            rc = store_quote(f->column, sql);
        if (rc != CORE_OK)
            break;
        if (f->value.type == SCHEMA_NULL) {
            if (f->op != STORE_EQ)
                return core_error(CORE_EINVAL, "store: select on %s: NULL compared with < or >",
                                  t->def.name);
            rc = core_buf_append_str(sql, " IS NULL");
            continue;
        }
        rc = store_value_coerce(t->def.columns[col].type, &f->value, &params[*np], f->column);
        if (rc == CORE_OK && params[*np].type == SCHEMA_NULL)
            rc = core_error(CORE_EINVAL, "store: select on %s: NaN filter", t->def.name);
        if (rc == CORE_OK) {
            ++*np;
            rc = core_buf_printf(sql, "%s?%zu", OPS[f->op], *np);
        }
    }
    return rc;
}

static int select_sql(const store_t *s, const store_table_t *t, const store_filter_t *filters,
                      size_t nfilters, size_t limit, size_t skip, core_buf_t *sql,
                      schema_value_t *params, size_t *np)
{
    int rc = core_buf_append_str(sql, "SELECT ");
    for (size_t i = 0; rc == CORE_OK && i < t->def.ncolumns; i++) {
        if (i > 0)
            rc = core_buf_append_str(sql, ", ");
        if (rc == CORE_OK)
            rc = store_quote(t->def.columns[i].name, sql);
    }
    if (rc == CORE_OK)
        rc = core_buf_append_str(sql, " FROM ");
    if (rc == CORE_OK)
        rc = store_quote(t->def.name, sql);
    if (rc == CORE_OK)
        rc = select_where(t, filters, nfilters, sql, params, np);
    for (size_t i = 0; rc == CORE_OK && i < t->def.npk; i++) {
        rc = core_buf_append_str(sql, i == 0 ? " ORDER BY " : ", ");
        if (rc == CORE_OK)
            rc = store_quote(t->def.columns[i].name, sql);
    }
    if (rc == CORE_OK && limit > 0) {
        params[*np] = (schema_value_t){.type = SCHEMA_INT,
                                       .v.i = limit > INT64_MAX ? INT64_MAX : (int64_t)limit};
        ++*np;
        rc = core_buf_printf(sql, " LIMIT ?%zu", *np);
    } else if (rc == CORE_OK && skip > 0 && s->ops->dialect == STORE_DIALECT_SQLITE) {
        rc = core_buf_append_str(sql, " LIMIT -1");
    }
    if (rc == CORE_OK && skip > 0) {
        params[*np] = (schema_value_t){.type = SCHEMA_INT,
                                       .v.i = skip > INT64_MAX ? INT64_MAX : (int64_t)skip};
        ++*np;
        rc = core_buf_printf(sql, " OFFSET ?%zu", *np);
    }
    return rc;
}

int store_select(store_t *s, store_table_t *t, const store_filter_t *filters, size_t nfilters,
                 size_t limit, size_t skip, store_row_fn fn, void *arg)
{
    if (t == NULL || t->store != s || fn == NULL || (nfilters > 0 && filters == NULL))
        return core_error(CORE_EINVAL, "store: select: bad table, filters or callback");
    if (nfilters > STORE_MAX_COLUMNS)
        return core_error(CORE_EINVAL, "store: select on %s: too many filters", t->def.name);
    schema_value_t *params = core_calloc(CORE_MEM_STORE, nfilters + 2, sizeof(*params));
    schema_type_t *types = core_calloc(CORE_MEM_STORE, t->def.ncolumns, sizeof(*types));
    core_buf_t sql;
    core_buf_init(&sql, CORE_MEM_STORE, STORE_MAX_SQL_BYTES);
    size_t np = 0;
    int rc = CORE_OK;
    if (params == NULL || types == NULL) {
        rc = core_error(CORE_ENOMEM, "store: select on %s: out of memory", t->def.name);
        goto done;
    }
    for (size_t i = 0; i < t->def.ncolumns; i++)
        types[i] = t->def.columns[i].type;
    rc = select_sql(s, t, filters, nfilters, limit, skip, &sql, params, &np);
    if (rc == CORE_OK)
        rc = core_buf_append_u8(&sql, 0);
    if (rc == CORE_ETOOBIG || rc == CORE_ENOMEM)
        rc = core_error(rc, "store: select on %s: SQL text too long", t->def.name);
    if (rc == CORE_OK)
        rc = s->ops->ready(s);
    if (rc == CORE_OK)
        rc =
            store_run(s, (const char *)sql.data, params, np, types, t->def.ncolumns, fn, arg, NULL);
done:
    core_buf_fini(&sql);
    core_free(types);
    core_free(params);
    return rc;
}

int store_state_load(store_t *s, const char *pipeline, int32_t partition, store_row_fn fn,
                     void *arg)
{
    static const char SQL[] = "SELECT \"name\", \"key\", \"state\" FROM \"strata_state\" "
                              "WHERE \"pipeline\" = ?1 AND \"partition\" = ?2 "
                              "ORDER BY \"name\", \"key\"";
    static const schema_type_t types[3] = {SCHEMA_STRING, SCHEMA_STRING, SCHEMA_STRING};
    if (pipeline == NULL || fn == NULL)
        return core_error(CORE_EINVAL, "store: state_load: NULL pipeline or callback");
    schema_value_t p[2] = {
        {.type = SCHEMA_STRING, .v.s = {pipeline, strlen(pipeline)}},
        {.type = SCHEMA_INT, .v.i = partition},
    };
    int rc = s->ops->ready(s);
    if (rc != CORE_OK)
        return rc;
    return store_run(s, SQL, p, 2, types, 3, fn, arg, NULL);
}

/* ---- Commit. */

int store_commit(store_t *s, store_batch_t *b)
{
    if (s == NULL || b == NULL)
        return core_error(CORE_EINVAL, "store: commit: NULL store or batch");
    for (size_t i = 0; i < b->ntabs; i++)
        if (b->tabs[i].table->store != s)
            return core_error(CORE_EINVAL, "store %s: commit: table %s belongs to another store",
                              s->where, b->tabs[i].table->def.name);
    if (b->rows == 0 && b->noff == 0)
        return CORE_OK;
    int rc = store_batch_check(b);
    if (rc == CORE_OK)
        rc = s->ops->ready(s);
    if (rc == CORE_OK)
        rc = s->ops->commit(s, b);
    if (rc == CORE_OK)
        store_batch_reset(b);
    return rc;
}

/* ---- ?N -> $N for PostgreSQL. */

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || (unsigned char)c >= 0x80;
}

/* Length of the dollar-quote delimiter ($tag$) at p, or 0 if none. */
static size_t dollar_tag(const char *p)
{
    size_t n = 1;
    if ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') || p[n] == '_')
        while (ident_char(p[n]) && p[n] != '$')
            n++;
    return p[n] == '$' ? n + 1 : 0;
}

/* Length of the literal, quoted identifier or comment starting at p (p is
 * sql + i), 0 if none starts there, or -1 if it never ends. */
static long literal_len(const char *sql, size_t i)
{
    const char *p = sql + i;
    const char *q;
    if (p[0] == '\'' || p[0] == '"') {
        bool esc = p[0] == '\'' && i > 0 && (p[-1] == 'E' || p[-1] == 'e') &&
                   (i == 1 || !ident_char(p[-2]));
        for (q = p + 1; *q != '\0'; q++) {
            if (esc && *q == '\\' && q[1] != '\0')
                q++;
            else if (*q == p[0] && q[1] == p[0])
                q++;
            else if (*q == p[0])
                return (long)(q + 1 - p);
        }
        return -1;
    }
    if (p[0] == '-' && p[1] == '-')
        return (long)strcspn(p, "\n");
    if (p[0] == '/' && p[1] == '*') {
        int depth = 1;
        for (q = p + 2; *q != '\0' && depth > 0; q++) {
            if (q[0] == '/' && q[1] == '*')
                depth++, q++;
            else if (q[0] == '*' && q[1] == '/')
                depth--, q++;
        }
        return depth == 0 ? (long)(q - p) : -1;
    }
    if (p[0] == '$' && (i == 0 || !ident_char(p[-1]))) {
        size_t tl = dollar_tag(p);
        if (tl == 0)
            return 0;
        for (q = p + tl; *q != '\0'; q++)
            if (*q == '$' && strncmp(q, p, tl) == 0)
                return (long)(q + tl - p);
        return -1;
    }
    return 0;
}

int store_sql_to_pg(const char *sql, core_buf_t *out, size_t *maxn)
{
    *maxn = 0;
    size_t i = 0, run = 0; /* sql[run..i) is pending plain text */
    int rc = CORE_OK;
    while (rc == CORE_OK && sql[i] != '\0') {
        long lit = literal_len(sql, i);
        if (lit < 0)
            return core_error(CORE_EINVAL,
                              "store: SQL has an unterminated literal or comment "
                              "at byte %zu",
                              i);
        if (lit > 0) {
            i += (size_t)lit;
            continue;
        }
        if (sql[i] != '?' || sql[i + 1] < '0' || sql[i + 1] > '9') {
            i++;
            continue;
        }
        size_t j = i + 1, n = 0;
        while (sql[j] >= '0' && sql[j] <= '9' && n <= 65535)
            n = n * 10 + (size_t)(sql[j++] - '0');
        if (n == 0 || n > 65535)
            return core_error(CORE_EINVAL, "store: SQL parameter at byte %zu is out of range", i);
        *maxn = CORE_MAX(*maxn, n);
        rc = core_buf_append(out, sql + run, i - run);
        if (rc == CORE_OK)
            rc = core_buf_printf(out, "$%zu", n);
        i = run = j;
    }
    if (rc == CORE_OK)
        rc = core_buf_append(out, sql + run, i - run);
    if (rc == CORE_OK)
        rc = core_buf_append_u8(out, 0);
    if (rc != CORE_OK)
        return core_error(rc, "store: SQL text longer than %zu bytes", out->max);
    return CORE_OK;
}
