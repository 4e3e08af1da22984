/*
 * api_events.c - the store's event tables over HTTP (docs/api.md):
 *   GET  /api/anomalies?pipeline=&rule=&key=&since=   newest first, paged
 *   GET  /api/dlq?pipeline=&kind=                     newest first, paged
 *   POST /api/dlq/{id}/replay                         produce the entry's
 *        key and value again to its topic and partition, once
 *
 * Replay, step by step: read the entry; refuse (409) an entry whose
 * "topic" is not a topic of the bus (import rows name their file there)
 * or whose partition the topic lacks; claim it by setting replayed_at
 * where it is still NULL (409 if another request got there first, or it
 * was replayed before); produce; record the new offset in replay_offset.
 * A failed produce clears the claim again, so the entry can be retried.
 * The entry itself stays, marked, as the record of what was done; if the
 * replayed record fails again it gets a dlq entry of its own (new offset).
 *
 * Filters build the WHERE clause from the parameters given, all bound as
 * parameters; nothing from the URL becomes SQL text.
 *
 * Threading: any server thread; each request uses a pooled connection.
 */
#include "app/api.h"

#include <stdio.h>
#include <string.h>

#define SQL_MAX    4096
#define PARAMS_MAX 8

typedef struct {
    core_buf_t sql;
    schema_value_t params[PARAMS_MAX];
    size_t n;
    int rc;
} query_t;

static void q_text(query_t *q, const char *s)
{
    if (q->rc == 0)
        q->rc = core_buf_append_str(&q->sql, s);
}

/* " AND <col> <op> ?N" with v as parameter N. */
static void q_filter(query_t *q, const char *col, const char *op, schema_value_t v)
{
    if (q->rc != 0 || q->n == PARAMS_MAX)
        return;
    q->params[q->n++] = v;
    q->rc = core_buf_printf(&q->sql, " AND \"%s\" %s ?%zu", col, op, q->n);
}

static void q_string(query_t *q, http_request_t *r, const char *param, const char *col)
{
    const char *v = http_request_query(r, param);
    if (v != NULL)
        q_filter(q, col, "=", (schema_value_t){.type = SCHEMA_STRING, .v.s = {v, strlen(v)}});
}

/* " ORDER BY id DESC LIMIT ?n OFFSET ?m", one row more than the page. */
static void q_page(query_t *q, const http_page_t *pg)
{
    if (q->rc != 0 || q->n + 2 > PARAMS_MAX)
        return;
    q->params[q->n++] = (schema_value_t){.type = SCHEMA_INT, .v.i = pg->limit + 1};
    q->params[q->n++] = (schema_value_t){.type = SCHEMA_INT, .v.i = pg->offset};
    q->rc =
        core_buf_printf(&q->sql, " ORDER BY \"id\" DESC LIMIT ?%zu OFFSET ?%zu", q->n - 1, q->n);
    if (q->rc == 0)
        q->rc = core_buf_append_u8(&q->sql, 0);
}

typedef struct {
    app_api_t *a;
    core_json_writer_t *w;
    int64_t limit;
    size_t written;
    bool more;
} list_t;

/* Runs q and writes {"<what>": [rows by fn], limit, offset, next_offset}. */
static int run_list(http_request_t *r, app_api_t *a, query_t *q, const http_page_t *pg,
                    const char *what, store_row_fn fn)
{
    list_t l = {.a = a, .w = http_json(r), .limit = pg->limit};
    core_json_write_object_begin(l.w);
    api_key(l.w, what);
    core_json_write_array_begin(l.w);
    store_t *s = NULL;
    int rc = q->rc;
    if (rc == 0)
        rc = api_store_take(a, &s);
    if (rc == 0)
        rc = store_exec(s, (const char *)q->sql.data, q->params, q->n, fn, &l, NULL);
    api_store_give(a, s, rc);
    core_json_write_array_end(l.w);
    http_json_page(l.w, pg, l.written, l.more);
    core_json_write_object_end(l.w);
    core_buf_fini(&q->sql);
    if (rc != 0)
        return api_fail(r, rc, what);
    return http_respond_json(r, 200);
}

/* True when the row is past the page (counted as "more"). */
static bool past_page(list_t *l)
{
    if ((int64_t)l->written < l->limit)
        return false;
    l->more = true;
    return true;
}

/* ---- Anomalies. */

static int anomaly_row(void *arg, const schema_value_t *v, size_t n)
{
    list_t *l = arg;
    if (n < 12 || past_page(l))
        return 0;
    core_json_writer_t *w = l->w;
    static const char *const NAMES[] = {"id",         "pipeline",  "rule",   "key",
                                        "event_time", "value",     "score",  "detail",
                                        "topic",      "partition", "offset", "created_at"};
    core_json_write_object_begin(w);
    for (size_t i = 0; i < 12; i++) {
        api_key(w, NAMES[i]);
        if ((i == 4 || i == 11) && v[i].type == SCHEMA_INT)
            api_value(w, &(schema_value_t){.type = SCHEMA_TIMESTAMP, .v.i = v[i].v.i});
        else if (i == 7 && v[i].type == SCHEMA_STRING)
            api_json_or_bytes(w, v[i].v.s.p, v[i].v.s.len);
        else
            api_value(w, &v[i]);
    }
    core_json_write_object_end(w);
    l->written++;
    return 0;
}

int api_anomalies_list(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    http_page_t pg;
    int64_t since;
    if (http_query_page(r, APP_API_DEFAULT_LIMIT, APP_API_MAX_LIMIT, &pg) != 0 ||
        api_query_time(r, "since", INT64_MIN, &since) != 0)
        return api_bad_request(r);
    query_t q = {0};
    core_buf_init(&q.sql, CORE_MEM_APP, SQL_MAX);
    q_text(&q, "SELECT \"id\", \"pipeline\", \"rule\", \"key\", \"event_time\", \"value\", "
               "\"score\", \"detail\", \"topic\", \"partition\", \"offset\", \"created_at\" "
               "FROM \"anomalies\" WHERE 1 = 1");
    q_string(&q, r, "pipeline", "pipeline");
    q_string(&q, r, "rule", "rule");
    q_string(&q, r, "key", "key");
    if (since != INT64_MIN)
        q_filter(&q, "created_at", ">=", (schema_value_t){.type = SCHEMA_INT, .v.i = since});
    q_page(&q, &pg);
    return run_list(r, a, &q, &pg, "anomalies", anomaly_row);
}

/* ---- The dlq. */

#define DLQ_COLUMNS                                                                                \
    "\"id\", \"pipeline\", \"topic\", \"partition\", \"offset\", \"kind\", \"reason\", \"key\", "  \
    "\"value\", \"event_time\", \"created_at\", \"replayed_at\", \"replay_offset\""

static bool replayable(app_api_t *a, const schema_value_t *topic, const schema_value_t *part)
{
    char name[256];
    int32_t n = 0;
    if (topic->type != SCHEMA_STRING || topic->v.s.len >= sizeof name)
        return false;
    memcpy(name, topic->v.s.p, topic->v.s.len);
    name[topic->v.s.len] = '\0';
    int64_t p = api_row_int(part, -1);
    bool ok = strncmp(name, "__", 2) != 0 && seglog_topic_name_check(name) == 0 &&
              bus_partitions(a->env.bus, name, &n) == 0 && p >= 0 && p < n;
    core_error_clear();
    return ok;
}

static int dlq_row(void *arg, const schema_value_t *v, size_t n)
{
    list_t *l = arg;
    if (n < 13 || past_page(l))
        return 0;
    core_json_writer_t *w = l->w;
    static const char *const NAMES[] = {"id",     "pipeline", "topic", "partition",
                                        "offset", "kind",     "reason"};
    core_json_write_object_begin(w);
    for (size_t i = 0; i < 7; i++) {
        api_key(w, NAMES[i]);
        api_value(w, &v[i]);
    }
    bool null_key = v[7].type != SCHEMA_STRING, null_value = v[8].type != SCHEMA_STRING;
    api_key(w, "key");
    api_str(w, "key_format", api_bytes(w, null_key ? NULL : v[7].v.s.p, v[7].v.s.len));
    api_key(w, "value");
    api_str(w, "value_format",
            api_json_or_bytes(w, null_value ? NULL : v[8].v.s.p, null_value ? 0 : v[8].v.s.len));
    api_time(w, "event_time", api_row_int(&v[9], INT64_MIN));
    api_time(w, "created_at", api_row_int(&v[10], INT64_MIN));
    api_time(w, "replayed_at", api_row_int(&v[11], INT64_MIN));
    api_key(w, "replay_offset");
    api_value(w, &v[12]);
    api_key(w, "replayable");
    core_json_write_bool(w, replayable(l->a, &v[2], &v[3]) && v[11].type == SCHEMA_NULL);
    core_json_write_object_end(w);
    l->written++;
    return 0;
}

int api_dlq_list(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    http_page_t pg;
    if (http_query_page(r, APP_API_DEFAULT_LIMIT, APP_API_MAX_LIMIT, &pg) != 0)
        return api_bad_request(r);
    query_t q = {0};
    core_buf_init(&q.sql, CORE_MEM_APP, SQL_MAX);
    q_text(&q, "SELECT " DLQ_COLUMNS " FROM \"dlq\" WHERE 1 = 1");
    q_string(&q, r, "pipeline", "pipeline");
    q_string(&q, r, "kind", "kind");
    q_page(&q, &pg);
    return run_list(r, a, &q, &pg, "dlq", dlq_row);
}

/* ---- Replay. */

typedef struct {
    bool found;
    char topic[256];
    int64_t partition;
    bool replayed;
    int64_t replayed_at;
    char *key, *value; /* owned; NULL when null */
    size_t key_len, value_len;
    bool topic_fits;
} entry_t;

static char *copy_bytes(const schema_value_t *v, size_t *len)
{
    *len = 0;
    if (v->type != SCHEMA_STRING)
        return NULL;
    char *p = core_alloc(CORE_MEM_APP, v->v.s.len + 1);
    if (p != NULL) {
        memcpy(p, v->v.s.p, v->v.s.len);
        *len = v->v.s.len;
    }
    return p;
}

static int entry_row(void *arg, const schema_value_t *v, size_t n)
{
    entry_t *e = arg;
    if (n < 5)
        return CORE_ECORRUPT;
    e->found = true;
    e->topic_fits = v[0].type == SCHEMA_STRING && v[0].v.s.len < sizeof e->topic;
    if (e->topic_fits) {
        memcpy(e->topic, v[0].v.s.p, v[0].v.s.len);
        e->topic[v[0].v.s.len] = '\0';
    }
    e->partition = api_row_int(&v[1], -1);
    e->replayed = v[2].type != SCHEMA_NULL;
    e->replayed_at = api_row_int(&v[2], INT64_MIN);
    e->key = copy_bytes(&v[3], &e->key_len);
    e->value = copy_bytes(&v[4], &e->value_len);
    if ((v[3].type == SCHEMA_STRING && e->key == NULL) ||
        (v[4].type == SCHEMA_STRING && e->value == NULL))
        return core_error(CORE_ENOMEM, "api: out of memory");
    return 0;
}

static int read_entry(store_t *s, int64_t id, entry_t *e)
{
    schema_value_t p = {.type = SCHEMA_INT, .v.i = id};
    return store_exec(s,
                      "SELECT \"topic\", \"partition\", \"replayed_at\", \"key\", \"value\" "
                      "FROM \"dlq\" WHERE \"id\" = ?1",
                      &p, 1, entry_row, e, NULL);
}

/* 0 when e can be replayed; else answers 409 and returns 1. */
static int check_entry(http_request_t *r, app_api_t *a, int64_t id, const entry_t *e)
{
    int32_t nparts = 0;
    if (!e->topic_fits || strncmp(e->topic, "__", 2) == 0 ||
        seglog_topic_name_check(e->topic) != 0 ||
        bus_partitions(a->env.bus, e->topic, &nparts) != 0) {
        http_respond_error(r, 409,
                           "dlq entry %lld cannot be replayed: its source is not a topic (an "
                           "import's file, or a topic that was deleted)",
                           (long long)id);
        return 1;
    }
    if (e->partition < 0 || e->partition >= nparts) {
        http_respond_error(r, 409,
                           "dlq entry %lld cannot be replayed: topic %s has no partition %lld",
                           (long long)id, e->topic, (long long)e->partition);
        return 1;
    }
    if (e->replayed) {
        char ts[40];
        schema_format_timestamp(e->replayed_at, ts);
        http_respond_error(r, 409, "dlq entry %lld was already replayed (at %s)", (long long)id,
                           ts);
        return 1;
    }
    return 0;
}

static int set_claim(store_t *s, int64_t id, int64_t now_us, int64_t *changes)
{
    schema_value_t p[2] = {{.type = SCHEMA_INT, .v.i = id}, {.type = SCHEMA_INT, .v.i = now_us}};
    if (now_us == INT64_MIN)
        return store_exec(s, "UPDATE \"dlq\" SET \"replayed_at\" = NULL WHERE \"id\" = ?1", p, 1,
                          NULL, NULL, changes);
    return store_exec(s,
                      "UPDATE \"dlq\" SET \"replayed_at\" = ?2 WHERE \"id\" = ?1 AND "
                      "\"replayed_at\" IS NULL",
                      p, 2, NULL, NULL, changes);
}

/* Claims, produces, records the offset (or gives the claim back). */
static int replay(http_request_t *r, app_api_t *a, store_t *s, int64_t id, const entry_t *e)
{
    int64_t now = core_wall_us(), changes = 0, base = -1;
    int rc = set_claim(s, id, now, &changes);
    if (rc != 0)
        return api_fail(r, rc, "claim the dlq entry");
    if (changes == 0)
        return http_respond_error(r, 409, "dlq entry %lld was replayed by another request",
                                  (long long)id);
    bus_message_t m = {.key = e->key,
                       .key_len = e->key_len,
                       .value = e->value,
                       .value_len = e->value_len,
                       .timestamp_ms = -1};
    rc = bus_produce(a->env.bus, e->topic, (int32_t)e->partition, &m, 1, false, &base);
    if (rc != 0) {
        char detail[CORE_ERROR_DETAIL_MAX];
        snprintf(detail, sizeof detail, "%s", core_error_detail());
        set_claim(s, id, INT64_MIN, NULL); /* best effort: a retry can claim it again */
        core_error(rc, "%s", detail);
        return api_fail(r, rc, "produce the dlq entry again");
    }
    schema_value_t p[2] = {{.type = SCHEMA_INT, .v.i = id}, {.type = SCHEMA_INT, .v.i = base}};
    rc = store_exec(s, "UPDATE \"dlq\" SET \"replay_offset\" = ?2 WHERE \"id\" = ?1", p, 2, NULL,
                    NULL, NULL);
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    api_int(w, "id", id);
    api_str(w, "topic", e->topic);
    api_int(w, "partition", e->partition);
    api_int(w, "offset", base);
    api_time(w, "replayed_at", now);
    core_json_write_object_end(w);
    if (rc != 0) /* produced, but the offset is not recorded: still a success */
        core_log(CORE_LOG_WARN, "api",
                 "dlq entry %lld replayed to %s-%lld at offset %lld; "
                 "recording the offset failed: %s",
                 (long long)id, e->topic, (long long)e->partition, (long long)base,
                 core_error_detail());
    return http_respond_json(r, 200);
}

int api_dlq_replay(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    const char *text = http_request_param(r, "id");
    int64_t id;
    if (core_parse_i64(text, 1, INT64_MAX, &id) != 0)
        return http_respond_error(r, 404, "no dlq entry with id %s", text);
    entry_t e = {0};
    store_t *s = NULL;
    int rc = api_store_take(a, &s);
    if (rc == 0)
        rc = read_entry(s, id, &e);
    if (rc != 0)
        api_fail(r, rc, "read the dlq entry");
    else if (!e.found)
        http_respond_error(r, 404, "no dlq entry with id %lld", (long long)id);
    else if (check_entry(r, a, id, &e) == 0)
        replay(r, a, s, id, &e);
    api_store_give(a, s, rc);
    core_free(e.key);
    core_free(e.value);
    return 0;
}
