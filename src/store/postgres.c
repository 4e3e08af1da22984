/*
 * postgres.c - the PostgreSQL backend: connection, session state, reads
 * and error mapping (the commit path is in pg_copy.c).
 *
 * Session state machine (one libpq connection):
 *
 *   open --connect--> READY --any call fails, connection gone--> BROKEN
 *                       ^                                          |
 *                       +---- ready(): PQreset + session_setup ----+
 *
 * READY means: PQstatus is CONNECTION_OK, no transaction is open between
 * public calls, and the session settings and temporary tables exist
 * (session_ok). A libpq failure where the connection is gone returns
 * CORE_EIO and marks the session BROKEN; the next public call's ready()
 * resets it. Temporary tables are per session, so they are re-created
 * after every reset.
 *
 * Reads use single-row mode, so a large result is never held whole in
 * memory; every value is length-checked against STORE_MAX_VALUE_BYTES and
 * parsed strictly (server text is outside input).
 *
 * The password never reaches a message: store_t.where is the redacted URL
 * and libpq's messages are scrubbed of the password text.
 *
 * Threading: the store_t belongs to one thread at a time.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Type OIDs (pg_type.dat); stable across PostgreSQL versions. */
enum {
    PG_BOOL = 16,
    PG_BYTEA = 17,
    PG_INT8 = 20,
    PG_INT2 = 21,
    PG_INT4 = 23,
    PG_OID = 26,
    PG_FLOAT4 = 700,
    PG_FLOAT8 = 701,
    PG_NUMERIC = 1700
};

/* ---- Messages and errors. */

/* Copies the first line of a libpq message into out, with the password
 * (as written or decoded) replaced by "***". */
static void pg_message(const store_pg_t *p, const char *msg, char *out, size_t cap)
{
    if (msg == NULL || msg[0] == '\0')
        msg = "no message from libpq";
    size_t n = strcspn(msg, "\n");
    snprintf(out, cap, "%.*s", (int)n, msg);
    for (size_t k = 0; k < CORE_ARRAY_LEN(p->secret); k++) {
        const char *secret = p->secret[k];
        size_t sl = secret != NULL ? strlen(secret) : 0;
        char *hit;
        while (sl > 0 && (hit = strstr(out, secret)) != NULL)
            memset(hit, '*', sl);
    }
}

int store_pg_fail(store_pg_t *p, const struct pg_result *res, const char *what)
{
    char msg[CORE_ERROR_DETAIL_MAX];
    const PGresult *r = (const PGresult *)res;
    pg_message(p, r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(p->conn), msg, sizeof msg);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        p->broken = true;
        return core_error(CORE_EIO, "store %s: %s: connection lost: %s", p->base.where, what, msg);
    }
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    int code = CORE_EIO;
    if (state != NULL && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0))
        p->broken = true; /* connection exception or shutdown: reset first */
    else if (state != NULL && strcmp(state, "23505") == 0)
        code = CORE_EEXIST; /* unique_violation */
    else if (state != NULL && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0 ||
                               strncmp(state, "42", 2) == 0 || strncmp(state, "0A", 2) == 0))
        code = CORE_EINVAL;
    else if (state == NULL && r == NULL)
        p->broken = true; /* a client-side failure: the session state is unknown */
    return core_error(code, "store %s: %s: %s%s%s", p->base.where, what, msg,
                      state != NULL ? " SQLSTATE " : "", state != NULL ? state : "");
}

static void pg_notice(void *arg, const char *message)
{
    char msg[CORE_ERROR_DETAIL_MAX];
    store_pg_t *p = arg;
    pg_message(p, message, msg, sizeof msg);
    core_log(CORE_LOG_DEBUG, "store", "%s: %s", p->base.where, msg);
}

int store_pg_script(store_pg_t *p, const char *sql)
{
    PGresult *r = PQexec(p->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = CORE_OK;
    if (r == NULL || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY))
        rc = store_pg_fail(p, r, "SQL");
    PQclear(r);
    return rc;
}

static int pg_script(store_t *s, const char *sql)
{
    return store_pg_script((store_pg_t *)s, sql);
}

/* ---- Session. */

static int session_setup(store_pg_t *p)
{
    int rc = store_pg_script(p, "SET client_min_messages = warning; "
                                "SET extra_float_digits = 3; SET bytea_output = 'hex'; "
                                "SET standard_conforming_strings = on; SET TIME ZONE 'UTC'");
    if (rc == CORE_OK)
        rc = store_pg_session_tables(p);
    p->session_ok = rc == CORE_OK;
    return rc;
}

static int pg_ready(store_t *s)
{
    store_pg_t *p = (store_pg_t *)s;
    PGTransactionStatusType ts = PQtransactionStatus(p->conn);
    if (p->broken || PQstatus(p->conn) != CONNECTION_OK || ts == PQTRANS_ACTIVE ||
        ts == PQTRANS_UNKNOWN) {
        PQreset(p->conn);
        if (PQstatus(p->conn) != CONNECTION_OK) {
            char msg[CORE_ERROR_DETAIL_MAX];
            pg_message(p, PQerrorMessage(p->conn), msg, sizeof msg);
            return core_error(CORE_EIO, "store %s: cannot reconnect: %s", s->where, msg);
        }
        core_log(CORE_LOG_INFO, "store", "%s: reconnected", s->where);
        p->broken = false;
        p->session_ok = false;
    }
    if (!p->session_ok)
        return session_setup(p);
    return CORE_OK;
}

static int pg_ping(store_t *s)
{
    return store_pg_script((store_pg_t *)s, "SELECT 1");
}

/* ---- Parameters: every value as text, with a type OID where it helps
 * the server infer (strings stay untyped so they compare with anything). */

typedef struct {
    const char **values;
    Oid *types;
    core_buf_t text;
} pg_params_t;

static int params_build(const schema_value_t *params, size_t n, pg_params_t *pp)
{
    size_t *off = core_calloc(CORE_MEM_STORE, n + 1, sizeof(*off));
    pp->values = core_calloc(CORE_MEM_STORE, n + 1, sizeof(*pp->values));
    pp->types = core_calloc(CORE_MEM_STORE, n + 1, sizeof(*pp->types));
    int rc = off != NULL && pp->values != NULL && pp->types != NULL ? CORE_OK : CORE_ENOMEM;
    for (size_t i = 0; rc == CORE_OK && i < n; i++) {
        const schema_value_t *v = &params[i];
        off[i] = pp->text.len;
        switch (v->type) {
        case SCHEMA_NULL:
            off[i] = SIZE_MAX;
            break;
        case SCHEMA_BOOL:
            pp->types[i] = PG_BOOL;
            rc = core_buf_append(&pp->text, v->v.b ? "t" : "f", 2);
            break;
        case SCHEMA_INT:
        case SCHEMA_TIMESTAMP:
            pp->types[i] = PG_INT8;
            rc = core_buf_printf(&pp->text, "%lld", (long long)v->v.i);
            if (rc == CORE_OK)
                rc = core_buf_append_u8(&pp->text, 0);
            break;
        case SCHEMA_FLOAT:
            pp->types[i] = PG_FLOAT8;
            if (isnan(v->v.f))
                rc = core_buf_append_str(&pp->text, "NaN");
            else if (isinf(v->v.f))
                rc = core_buf_append_str(&pp->text, v->v.f > 0 ? "Infinity" : "-Infinity");
            else
                rc = core_buf_printf(&pp->text, "%.17g", v->v.f);
            if (rc == CORE_OK)
                rc = core_buf_append_u8(&pp->text, 0);
            break;
        default:
            if (!store_text_ok(v->v.s.p, v->v.s.len)) {
                rc = core_error(CORE_EINVAL, "store: parameter %zu is not valid UTF-8 text", i + 1);
                break;
            }
            rc = core_buf_append(&pp->text, v->v.s.p, v->v.s.len);
            if (rc == CORE_OK)
                rc = core_buf_append_u8(&pp->text, 0);
            break;
        }
    }
    for (size_t i = 0; rc == CORE_OK && i < n; i++)
        pp->values[i] = off[i] == SIZE_MAX ? NULL : (const char *)pp->text.data + off[i];
    core_free(off);
    if (rc == CORE_ENOMEM || rc == CORE_ETOOBIG)
        return core_error(rc, "store: query parameters too large or out of memory");
    return rc;
}

static void params_fini(pg_params_t *pp)
{
    core_free(pp->values);
    core_free(pp->types);
    core_buf_fini(&pp->text);
}

/* ---- Result values. */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes bytea hex output ("\x0a1b") into out (reserved by the caller). */
static int bytea_decode(const char *text, size_t len, core_buf_t *out, schema_value_t *v)
{
    if (len < 2 || text[0] != '\\' || text[1] != 'x' || len % 2 != 0)
        return CORE_ECORRUPT;
    uint8_t *dst = out->data + out->len;
    for (size_t i = 2; i < len; i += 2) {
        int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0)
            return CORE_ECORRUPT;
        out->data[out->len++] = (uint8_t)(hi << 4 | lo);
    }
    v->v.s.p = (const char *)dst;
    v->v.s.len = (len - 2) / 2;
    return CORE_OK;
}

static schema_type_t natural_type(Oid oid)
{
    switch (oid) {
    case PG_BOOL:
        return SCHEMA_BOOL;
    case PG_INT2:
    case PG_INT4:
    case PG_INT8:
    case PG_OID:
        return SCHEMA_INT;
    case PG_FLOAT4:
    case PG_FLOAT8:
    case PG_NUMERIC:
        return SCHEMA_FLOAT;
    default:
        return SCHEMA_STRING;
    }
}

static int parse_number(const char *text, schema_type_t want, schema_value_t *v)
{
    if (want == SCHEMA_FLOAT) {
        char *end;
        v->v.f = strtod(text, &end); /* subnormals may set ERANGE: kept */
        return end != text && *end == '\0' ? CORE_OK : CORE_ECORRUPT;
    }
    if (want == SCHEMA_BOOL) {
        if (strcmp(text, "t") == 0 || strcmp(text, "f") == 0) {
            v->v.b = text[0] == 't';
            return CORE_OK;
        }
        int64_t i;
        if (core_parse_i64(text, INT64_MIN, INT64_MAX, &i) != CORE_OK)
            return CORE_ECORRUPT;
        v->v.b = i != 0;
        return CORE_OK;
    }
    return core_parse_i64(text, INT64_MIN, INT64_MAX, &v->v.i) == CORE_OK ? CORE_OK : CORE_ECORRUPT;
}

/* Converts row `row` of r into vals (ncol entries); bytea goes to scratch. */
static int row_values(const PGresult *r, int row, int ncol, const schema_type_t *types,
                      size_t ntypes, core_buf_t *scratch, schema_value_t *vals)
{
    size_t need = 0;
    for (int c = 0; c < ncol; c++) {
        int len = PQgetlength(r, row, c);
        if (len < 0 || (size_t)len > STORE_MAX_VALUE_BYTES)
            return CORE_ETOOBIG;
        if (PQftype(r, c) == PG_BYTEA)
            need += (size_t)len / 2;
    }
    core_buf_reset(scratch);
    if (need > 0 && core_buf_reserve(scratch, need) != CORE_OK)
        return CORE_ETOOBIG;
    for (int c = 0; c < ncol; c++) {
        schema_value_t *v = &vals[c];
        Oid oid = PQftype(r, c);
        schema_type_t want = (size_t)c < ntypes ? types[c] : natural_type(oid);
        v->type = want;
        if (PQgetisnull(r, row, c)) {
            v->type = SCHEMA_NULL;
            continue;
        }
        const char *text = PQgetvalue(r, row, c);
        size_t len = (size_t)PQgetlength(r, row, c);
        int rc;
        if (want == SCHEMA_STRING || want == SCHEMA_OBJECT || want == SCHEMA_ARRAY) {
            v->v.s.p = text;
            v->v.s.len = len;
            rc = oid == PG_BYTEA ? bytea_decode(text, len, scratch, v) : CORE_OK;
        } else {
            rc = parse_number(text, want, v);
        }
        if (rc != CORE_OK)
            return rc;
    }
    return CORE_OK;
}

/* ---- Queries. */

typedef struct {
    const schema_type_t *types;
    size_t ntypes;
    store_row_fn fn;
    void *arg;
    int64_t changes;
    schema_value_t *vals;
    int nvals;
    core_buf_t scratch;
} pg_reader_t;

static int reader_rows(store_pg_t *p, pg_reader_t *rd, const PGresult *r)
{
    int ncol = PQnfields(r), nrow = PQntuples(r);
    if (nrow == 0 || rd->fn == NULL)
        return CORE_OK;
    if (ncol > rd->nvals) {
        schema_value_t *v = core_realloc(CORE_MEM_STORE, rd->vals, (size_t)ncol * sizeof(*v));
        if (v == NULL)
            return core_error(CORE_ENOMEM, "store %s: out of memory", p->base.where);
        rd->vals = v;
        rd->nvals = ncol;
    }
    for (int row = 0; row < nrow; row++) {
        int rc = row_values(r, row, ncol, rd->types, rd->ntypes, &rd->scratch, rd->vals);
        if (rc != CORE_OK)
            return core_error(rc, "store %s: the server returned a value that is %s", p->base.where,
                              rc == CORE_ETOOBIG ? "too large" : "not of its column's type");
        rc = rd->fn(rd->arg, rd->vals, (size_t)ncol);
        if (rc != CORE_OK)
            return rc;
    }
    return CORE_OK;
}

static void reader_result(store_pg_t *p, pg_reader_t *rd, PGresult *r, int *rc)
{
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        if (*rc == CORE_OK)
            *rc = reader_rows(p, rd, r);
        const char *tag = PQcmdStatus(r);
        if (st != PGRES_SINGLE_TUPLE &&
            (strncmp(tag, "INSERT", 6) == 0 || strncmp(tag, "UPDATE", 6) == 0 ||
             strncmp(tag, "DELETE", 6) == 0 || strncmp(tag, "MERGE", 5) == 0)) {
            int64_t n = 0;
            if (core_parse_i64(PQcmdTuples(r), 0, INT64_MAX, &n) == CORE_OK)
                rd->changes += n;
        }
    } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
        if (*rc == CORE_OK)
            *rc = core_error(CORE_EINVAL, "store %s: COPY is not supported by store_exec",
                             p->base.where);
        if (st == PGRES_COPY_IN)
            PQputCopyEnd(p->conn, "strata: COPY is not supported here");
    } else if (st != PGRES_EMPTY_QUERY && *rc == CORE_OK) {
        *rc = store_pg_fail(p, r, "query");
    }
}

static int pg_query(store_t *s, const char *sql, const schema_value_t *params, size_t nparams,
                    const schema_type_t *types, size_t ntypes, store_row_fn fn, void *arg,
                    int64_t *changes)
{
    store_pg_t *p = (store_pg_t *)s;
    pg_reader_t rd = {.types = types, .ntypes = ntypes, .fn = fn, .arg = arg};
    core_buf_init(&rd.scratch, CORE_MEM_STORE, STORE_MAX_VALUE_BYTES);
    pg_params_t pp = {0};
    core_buf_init(&pp.text, CORE_MEM_STORE, (size_t)1 << 30);
    int rc = nparams > 65535 ? core_error(CORE_EINVAL, "store: too many parameters") : CORE_OK;
    if (rc == CORE_OK && nparams > 0)
        rc = params_build(params, nparams, &pp);
    int sent = 0;
    if (rc == CORE_OK) {
        sent = nparams > 0 ? PQsendQueryParams(p->conn, sql, (int)nparams, pp.types, pp.values,
                                               NULL, NULL, 0)
                           : PQsendQuery(p->conn, sql);
        if (!sent)
            rc = store_pg_fail(p, NULL, "query");
        else if (fn != NULL)
            PQsetSingleRowMode(p->conn);
    }
    PGresult *r;
    while (sent && (r = PQgetResult(p->conn)) != NULL) {
        reader_result(p, &rd, r, &rc);
        PQclear(r);
        if (PQstatus(p->conn) != CONNECTION_OK) {
            if (rc == CORE_OK || !p->broken)
                rc = store_pg_fail(p, NULL, "query");
            break;
        }
    }
    if (changes != NULL)
        *changes = rd.changes;
    core_free(rd.vals);
    core_buf_fini(&rd.scratch);
    params_fini(&pp);
    return rc;
}

/* ---- Open and close. */

static void pg_close(store_t *s)
{
    store_pg_t *p = (store_pg_t *)s;
    PQfinish(p->conn);
    for (size_t k = 0; k < CORE_ARRAY_LEN(p->secret); k++) {
        if (p->secret[k] != NULL)
            memset(p->secret[k], 0, strlen(p->secret[k]));
        core_free(p->secret[k]);
    }
    core_buf_fini(&p->copy);
    core_free(p);
}

static const store_ops_t PG_OPS = {
    .name = "postgresql",
    .dialect = STORE_DIALECT_PG,
    .close = pg_close,
    .ready = pg_ready,
    .ping = pg_ping,
    .script = pg_script,
    .query = pg_query,
    .table_prepare = store_pg_table_prepare,
    .table_free = store_pg_table_free,
    .commit = store_pg_commit,
};

/* Percent-decodes s[0..n) into a new string. */
static char *percent_decode(const char *s, size_t n)
{
    char *d = core_alloc(CORE_MEM_STORE, n + 1);
    if (d == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hex_digit(s[i + 1])) >= 0 &&
            (lo = hex_digit(s[i + 2])) >= 0) {
            d[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[o++] = s[i];
        }
    }
    d[o] = '\0';
    return d;
}

/* Remembers the URL's password (userinfo or password= parameter). */
static int find_secret(store_pg_t *p, const char *url)
{
    const char *auth = strstr(url, "://");
    const char *pw = NULL;
    size_t n = 0;
    if (auth != NULL) {
        auth += 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = NULL;
        for (size_t i = 0; i < alen; i++)
            if (auth[i] == '@')
                at = auth + i;
        const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon != NULL) {
            pw = colon + 1;
            n = (size_t)(at - pw);
        }
    }
    const char *q = strstr(url, "password=");
    if (q != NULL && (q[-1] == '?' || q[-1] == '&')) {
        pw = q + 9;
        n = strcspn(pw, "&#");
    }
    if (pw == NULL || n == 0)
        return CORE_OK;
    p->secret[0] = core_strndup(CORE_MEM_STORE, pw, n);
    p->secret[1] = percent_decode(pw, n);
    return p->secret[0] != NULL && p->secret[1] != NULL ? CORE_OK : CORE_ENOMEM;
}

int store_pg_open(const char *url, const char *where, store_t **out)
{
    store_pg_t *p = core_calloc(CORE_MEM_STORE, 1, sizeof(*p));
    if (p == NULL)
        return core_error(CORE_ENOMEM, "store: open: out of memory");
    p->base.ops = &PG_OPS;
    core_buf_init(&p->copy, CORE_MEM_STORE, (size_t)1 << 30);
    p->base.where = core_strdup(CORE_MEM_STORE, where);
    int rc = p->base.where != NULL ? find_secret(p, url) : CORE_ENOMEM;
    /* Defaults first: the URL's own settings override them; the encoding
     * comes last because the COPY text the store writes is UTF-8. */
    const char *const keys[] = {
        "connect_timeout",  "application_name", "keepalives_idle", "keepalives_interval",
        "keepalives_count", "dbname",           "client_encoding", NULL};
    const char *const vals[] = {"10", "strata", "30", "10", "3", url, "UTF8", NULL};
    if (rc == CORE_OK && (p->conn = PQconnectdbParams(keys, vals, 1)) == NULL)
        rc = CORE_ENOMEM;
    if (rc == CORE_ENOMEM) {
        rc = core_error(CORE_ENOMEM, "store: open: out of memory");
    } else if (PQstatus(p->conn) != CONNECTION_OK) {
        char msg[CORE_ERROR_DETAIL_MAX];
        pg_message(p, PQerrorMessage(p->conn), msg, sizeof msg);
        rc = core_error(CORE_EIO, "store %s: cannot connect: %s", where, msg);
    } else {
        PQsetNoticeProcessor(p->conn, pg_notice, p);
        rc = session_setup(p);
    }
    if (rc != CORE_OK) {
        store_close(&p->base);
        return rc;
    }
    *out = &p->base;
    return CORE_OK;
}
