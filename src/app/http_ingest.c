/*
 * http_ingest.c - POST /topics/{topic}/records: HTTP clients produce
 * records to a topic (docs/http.md).
 *
 * A request goes through these steps; each either hands over to the next
 * or answers:
 *   1. topic: exists (404), not internal "__..." (403);
 *   2. request: Content-Type application/json or application/x-ndjson
 *      (415); query key=, acks=0|1|all, partition= (400);
 *   3. split: the body into records (http_body_split): invalid JSON 400
 *      with its line, column and byte; more than APP_INGEST_MAX_RECORDS
 *      413;
 *   4. check every record: a JSON object, a usable key, within the topic's
 *      batch size, and, when the topic has a schema, the schema's field
 *      checks and rules. Any failure: 422 listing the failures, and
 *      nothing is written (all or nothing);
 *   5. write: records grouped by partition (the key's murmur2 partition,
 *      partition=, or one partition per request for null keys), in body
 *      order within a partition, cut into batches under the topic's max
 *      message size, each appended with bus_produce (sync for acks=all);
 *   6. answer 200 with each batch's partition, base offset and count (202
 *      without offsets for acks=0).
 *
 * Invariants: values are the records' bytes exactly as they appear in the
 * body (no re-encoding); nothing is written before every record passed
 * step 4; a write error after some batches were written answers 5xx
 * listing those batches, so the client knows what is in the log.
 *
 * Threading: the handler runs on any server thread. Shared state is
 * read-only (topic table, sealed schemas, compiled rules) except the
 * null-key partition cursor, a relaxed atomic. Everything else belongs to
 * the request.
 */
#include "app/http_wiring.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "record/record.h"
#include "stream/expr_int.h"

#define ANSWERED            1   /* a step answered the request */
#define MAX_REPORTED_ERRORS 100 /* per-record errors listed in a 422 */
/* Most bytes a record adds to a batch besides its key and value: length,
 * timestamp delta, offset delta, key and value lengths (varints at their
 * widest), attributes and the header count. */
#define RECORD_OVERHEAD    32
#define DEFAULT_MAX_BATCH  (1024 * 1024)
#define RULE_SCRATCH_BYTES (64 * 1024)
#define FIELD_NAME_MAX     128

typedef struct {
    const char *name; /* borrowed from the config */
    const schema_t *schema;
    stream_expr_t **rules; /* owned, one per schema rule */
    size_t n_rules;
} ingest_topic_t;

struct app_ingest {
    bus_t *bus;    /* borrowed */
    seglog_t *log; /* borrowed; for the topics' batch size */
    ingest_topic_t *topics;
    size_t n_topics;
    uint32_t sticky;          /* null-key partition cursor; relaxed atomic */
    app_ingest_stats_t stats; /* relaxed atomics */
};

typedef enum { ACKS_NONE, ACKS_LEADER, ACKS_ALL } acks_t;

typedef struct {
    size_t offset, len, line; /* the value: body[offset..offset+len) */
    size_t key_off, key_len;  /* the key: keys[key_off..key_off+key_len) */
    bool has_key;
    int32_t partition;
} rec_t;

typedef struct {
    size_t index, line;
    const char *kind;
    char field[FIELD_NAME_MAX]; /* "" when the failure is not about a field */
    char reason[SCHEMA_REASON_MAX];
} rec_error_t;

typedef struct {
    int32_t partition;
    int64_t base;
    size_t count;
} batch_t;

/* One request's state. */
typedef struct {
    app_ingest_t *in;
    http_request_t *req;
    const char *topic;
    const ingest_topic_t *schema; /* NULL: the topic has no schema */
    int32_t nparts;
    int32_t fixed;  /* partition=, or -1 */
    int32_t sticky; /* the partition of null-key records, or -1 until chosen */
    acks_t acks;
    const char *key_field; /* key=, or NULL */
    http_body_format_t format;
    const char *body;
    size_t max_batch;
    rec_t *recs;
    size_t n, cap;
    core_buf_t keys;
    rec_error_t *errs; /* the first MAX_REPORTED_ERRORS */
    size_t n_errs, error_count;
    schema_row_t row;
    bool row_ready;
    core_buf_t scratch;
    int64_t now_us;
    batch_t *batches;
    size_t n_batches;
} ingest_t;

/* ---- Setup. */

static int compile_rules(ingest_topic_t *t)
{
    t->n_rules = schema_rule_count(t->schema);
    t->rules = core_calloc(CORE_MEM_APP, t->n_rules + 1, sizeof *t->rules);
    if (t->rules == NULL)
        return core_error(CORE_ENOMEM, "http ingest: out of memory");
    for (size_t i = 0; i < t->n_rules; i++) {
        const schema_rule_t *r = schema_rule(t->schema, i);
        int rc = stream_expr_compile_bool(r->expr, t->schema, &t->rules[i]);
        if (rc != 0)
            return rc == CORE_ENOMEM
                       ? rc
                       : core_error(rc, "schema %s: rule %s: %s", schema_name(t->schema), r->name,
                                    core_error_detail());
    }
    return 0;
}

int app_ingest_create(const app_config_t *cfg, const app_platform_t *pf, seglog_t *log, bus_t *bus,
                      app_ingest_t **out)
{
    *out = NULL;
    app_ingest_t *in = core_calloc(CORE_MEM_APP, 1, sizeof *in);
    if (in == NULL)
        return core_error(CORE_ENOMEM, "http ingest: out of memory");
    in->bus = bus;
    in->log = log;
    in->topics = core_calloc(CORE_MEM_APP, cfg->n_topics + 1, sizeof *in->topics);
    int rc = in->topics == NULL ? core_error(CORE_ENOMEM, "http ingest: out of memory") : 0;
    for (size_t i = 0; rc == 0 && i < cfg->n_topics; i++) {
        const schema_t *s = app_platform_schema(cfg, pf, cfg->topics[i].schema);
        if (s == NULL)
            continue;
        ingest_topic_t *t = &in->topics[in->n_topics++];
        t->name = cfg->topics[i].name;
        t->schema = s;
        rc = compile_rules(t);
    }
    if (rc != 0) {
        app_ingest_destroy(in);
        return rc;
    }
    *out = in;
    return 0;
}

void app_ingest_destroy(app_ingest_t *in)
{
    if (in == NULL)
        return;
    for (size_t i = 0; i < in->n_topics; i++) {
        for (size_t j = 0; in->topics[i].rules != NULL && j < in->topics[i].n_rules; j++)
            stream_expr_destroy(in->topics[i].rules[j]);
        core_free(in->topics[i].rules);
    }
    core_free(in->topics);
    core_free(in);
}

/* ---- Answers. */

static void write_str(core_json_writer_t *w, const char *key, const char *s)
{
    core_json_write_key(w, key, strlen(key));
    if (s == NULL)
        core_json_write_null(w);
    else
        core_json_write_string(w, s, strlen(s));
}

static void write_int(core_json_writer_t *w, const char *key, int64_t v)
{
    core_json_write_key(w, key, strlen(key));
    core_json_write_i64(w, v);
}

static void write_batches(core_json_writer_t *w, const ingest_t *g)
{
    core_json_write_key(w, "offsets", 7);
    core_json_write_array_begin(w);
    for (size_t i = 0; i < g->n_batches; i++) {
        core_json_write_object_begin(w);
        write_int(w, "partition", g->batches[i].partition);
        write_int(w, "base_offset", g->batches[i].base);
        write_int(w, "count", (int64_t)g->batches[i].count);
        core_json_write_object_end(w);
    }
    core_json_write_array_end(w);
}

static void count(int64_t *counter, int64_t n)
{
    __atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

static int answer_written(ingest_t *g)
{
    count(&g->in->stats.records_written, (int64_t)g->n);
    core_json_writer_t *w = http_json(g->req);
    core_json_write_object_begin(w);
    write_str(w, "topic", g->topic);
    write_int(w, "records", (int64_t)g->n);
    if (g->acks != ACKS_NONE)
        write_batches(w, g);
    core_json_write_object_end(w);
    int rc = http_respond_json(g->req, g->acks == ACKS_NONE ? 202 : 200);
    return rc == 0 ? ANSWERED : rc;
}

static int answer_invalid(ingest_t *g)
{
    count(&g->in->stats.records_rejected, (int64_t)g->error_count);
    count(&g->in->stats.requests_rejected, 1);
    char msg[160];
    snprintf(msg, sizeof msg, "%zu of %zu records are invalid; nothing was written", g->error_count,
             g->n);
    core_json_writer_t *w = http_json(g->req);
    core_json_write_object_begin(w);
    write_str(w, "error", msg);
    write_str(w, "topic", g->topic);
    write_int(w, "records", (int64_t)g->n);
    write_int(w, "error_count", (int64_t)g->error_count);
    core_json_write_key(w, "errors", 6);
    core_json_write_array_begin(w);
    for (size_t i = 0; i < g->n_errs; i++) {
        const rec_error_t *e = &g->errs[i];
        core_json_write_object_begin(w);
        write_int(w, "index", (int64_t)e->index);
        write_int(w, "line", (int64_t)e->line);
        write_str(w, "kind", e->kind);
        write_str(w, "field", e->field[0] != '\0' ? e->field : NULL);
        write_str(w, "reason", e->reason);
        core_json_write_object_end(w);
    }
    core_json_write_array_end(w);
    core_json_write_object_end(w);
    int rc = http_respond_json(g->req, 422);
    return rc == 0 ? ANSWERED : rc;
}

static int answer_bad_json(ingest_t *g, const http_body_error_t *e)
{
    count(&g->in->stats.requests_rejected, 1);
    core_json_writer_t *w = http_json(g->req);
    core_json_write_object_begin(w);
    write_str(w, "error", core_error_detail());
    write_int(w, "line", (int64_t)e->line);
    write_int(w, "column", (int64_t)e->column);
    write_int(w, "offset", (int64_t)e->offset);
    core_json_write_object_end(w);
    int rc = http_respond_json(g->req, 400);
    return rc == 0 ? ANSWERED : rc;
}

/* A write failed after n_batches batches were appended. */
static int answer_write_error(ingest_t *g, int code)
{
    int status = code == CORE_ENOSPC ? 507 : code == CORE_EFAILED ? 503 : 500;
    char msg[CORE_ERROR_DETAIL_MAX + 128];
    snprintf(msg, sizeof msg, "writing to topic %s failed after %zu batch%s: %s: %s", g->topic,
             g->n_batches, g->n_batches == 1 ? "" : "es", core_strerror(code), core_error_detail());
    core_log(CORE_LOG_WARN, "http", "ingest: %s", msg);
    count(&g->in->stats.write_errors, 1);
    core_json_writer_t *w = http_json(g->req);
    core_json_write_object_begin(w);
    write_str(w, "error", core_utf8_valid(msg, strlen(msg)) ? msg : "write failed");
    write_str(w, "topic", g->topic);
    write_batches(w, g);
    core_json_write_object_end(w);
    int rc = http_respond_json(g->req, status);
    return rc == 0 ? ANSWERED : rc;
}

__attribute__((format(printf, 3, 4))) static int answer(ingest_t *g, int status, const char *fmt,
                                                        ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    count(&g->in->stats.requests_rejected, 1);
    int rc = http_respond_error(g->req, status, "%s", msg);
    return rc == 0 ? ANSWERED : rc;
}

/* ---- Steps 1 and 2: the topic and the request. */

static int resolve_topic(ingest_t *g)
{
    g->topic = http_request_param(g->req, "topic");
    if (strncmp(g->topic, "__", 2) == 0)
        return answer(g, 403, "topic %s is internal; it takes no records over HTTP", g->topic);
    int rc = bus_partitions(g->in->bus, g->topic, &g->nparts);
    if (rc == CORE_ENOENT)
        return answer(g, 404, "topic %s does not exist", g->topic);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < g->in->n_topics; i++)
        if (strcmp(g->in->topics[i].name, g->topic) == 0)
            g->schema = &g->in->topics[i];
    g->max_batch = DEFAULT_MAX_BATCH;
    if (g->in->log != NULL) {
        seglog_pin(g->in->log); /* the broker may delete the topic meanwhile */
        seglog_topic_t *t = seglog_topic_get(g->in->log, g->topic);
        if (t != NULL)
            g->max_batch = (size_t)seglog_topic_config(t)->max_message_bytes;
        seglog_unpin(g->in->log);
    }
    return 0;
}

static int parse_request(ingest_t *g)
{
    if (http_request_content_type_is(g->req, "application/json"))
        g->format = HTTP_BODY_JSON;
    else if (http_request_content_type_is(g->req, "application/x-ndjson") ||
             http_request_content_type_is(g->req, "application/ndjson"))
        g->format = HTTP_BODY_NDJSON;
    else
        return answer(g, 415, "Content-Type must be application/json or application/x-ndjson");
    const char *acks = http_request_query(g->req, "acks");
    if (acks == NULL || strcmp(acks, "1") == 0)
        g->acks = ACKS_LEADER;
    else if (strcmp(acks, "0") == 0)
        g->acks = ACKS_NONE;
    else if (strcmp(acks, "all") == 0 || strcmp(acks, "-1") == 0)
        g->acks = ACKS_ALL;
    else
        return answer(g, 400, "acks is '%s'; it must be 0, 1 or all", acks);
    const char *part = http_request_query(g->req, "partition");
    int64_t p;
    if (part != NULL && core_parse_i64(part, 0, g->nparts - 1, &p) != 0)
        return answer(g, 400, "partition is '%s'; topic %s has no such partition", part, g->topic);
    g->fixed = part != NULL ? (int32_t)p : -1;
    g->key_field = http_request_query(g->req, "key");
    if (g->key_field != NULL && g->key_field[0] == '\0')
        return answer(g, 400, "key must name a top-level field of the records");
    return 0;
}

/* ---- Step 3: split. */

static int collect(void *arg, const http_body_record_t *br)
{
    ingest_t *g = arg;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        rec_t *r = core_realloc(CORE_MEM_HTTP, g->recs, cap * sizeof *r);
        if (r == NULL)
            return core_error(CORE_ENOMEM, "http ingest: out of memory for %zu records", cap);
        g->recs = r;
        g->cap = cap;
    }
    g->recs[g->n++] = (rec_t){.offset = br->offset, .len = br->len, .line = br->line};
    return 0;
}

static int split_body(ingest_t *g)
{
    size_t len;
    g->body = http_request_body(g->req, &len);
    http_body_error_t e;
    int rc = http_body_split(g->format, g->body, len, APP_INGEST_MAX_RECORDS, collect, g, &e);
    if (rc == CORE_ECORRUPT)
        return answer_bad_json(g, &e);
    if (rc == CORE_ETOOBIG)
        return answer(g, 413, "the body holds more than %d records; send fewer per request",
                      APP_INGEST_MAX_RECORDS);
    return rc;
}

/* ---- Step 4: check. */

/* Records a failure of record i (kept if among the first reported). */
static void reject(ingest_t *g, size_t i, const char *kind, const char *field, const char *reason)
{
    g->error_count++;
    if (g->n_errs == MAX_REPORTED_ERRORS)
        return;
    rec_error_t *e = &g->errs[g->n_errs++];
    *e = (rec_error_t){.index = i, .line = g->recs[i].line, .kind = kind};
    snprintf(e->field, sizeof e->field, "%s", field != NULL ? field : "");
    snprintf(e->reason, sizeof e->reason, "%s", reason);
    /* A cut may split a UTF-8 sequence: drop the partial tail. */
    for (size_t n = strlen(e->field); !core_utf8_valid(e->field, n); n--)
        e->field[n - 1] = '\0';
    for (size_t n = strlen(e->reason); !core_utf8_valid(e->reason, n); n--)
        e->reason[n - 1] = '\0';
}

/* Extracts the key of record i into g->keys. false when it was rejected. */
static bool extract_key(ingest_t *g, size_t i, const core_json_value_t *obj)
{
    rec_t *r = &g->recs[i];
    core_json_value_t v;
    if (g->key_field == NULL || core_json_find(obj, g->key_field, strlen(g->key_field), &v) != 0 ||
        v.type == CORE_JSON_NULL)
        return true; /* a null key */
    char why[SCHEMA_REASON_MAX];
    if (v.type == CORE_JSON_OBJECT || v.type == CORE_JSON_ARRAY) {
        snprintf(why, sizeof why,
                 "key field \"%s\" holds an %s; a key is a string, number or "
                 "boolean",
                 g->key_field, v.type == CORE_JSON_OBJECT ? "object" : "array");
        reject(g, i, "key", g->key_field, why);
        return false;
    }
    r->key_off = g->keys.len;
    int rc = v.type == CORE_JSON_STRING ? core_json_string_decode(&v, &g->keys)
                                        : core_buf_append(&g->keys, v.p, v.len);
    if (rc != 0) {
        reject(g, i, "key", g->key_field, "the key could not be decoded");
        return false;
    }
    r->key_len = g->keys.len - r->key_off;
    r->has_key = true;
    return true;
}

static int32_t pick_partition(ingest_t *g, const rec_t *r)
{
    if (g->fixed >= 0)
        return g->fixed;
    if (r->has_key)
        return bus_partition_for_key(g->keys.data + r->key_off, r->key_len, g->nparts);
    if (g->sticky < 0)
        g->sticky = (int32_t)(__atomic_fetch_add(&g->in->sticky, 1, __ATOMIC_RELAXED) %
                              (uint32_t)g->nparts);
    return g->sticky;
}

/* The schema's field checks, then its rules. */
static int validate(ingest_t *g, size_t i)
{
    const rec_t *r = &g->recs[i];
    const schema_t *s = g->schema->schema;
    if (!g->row_ready) {
        int rc = schema_row_init(&g->row, s);
        if (rc != 0)
            return rc;
        g->row_ready = true;
    }
    schema_error_t err = {0};
    int rc = schema_decode_json(s, g->body + r->offset, r->len, &g->row, &err);
    if (rc == CORE_ENOMEM)
        return rc;
    if (rc != 0) {
        const schema_field_t *f = err.field >= 0 ? schema_field(s, (size_t)err.field) : NULL;
        reject(g, i, schema_err_kind_name(err.kind), f != NULL ? f->name : NULL, err.reason);
        return 0;
    }
    stream_expr_env_t env = {.fields = g->row.values,
                             .key = {.type = r->has_key ? SCHEMA_STRING : SCHEMA_NULL},
                             .partition = r->partition,
                             .offset = -1,
                             .timestamp_us = g->now_us};
    env.key.v.s.p = (const char *)g->keys.data + r->key_off;
    env.key.v.s.len = r->key_len;
    for (size_t j = 0; j < g->schema->n_rules; j++) {
        bool pass = false;
        core_buf_reset(&g->scratch);
        rc = stream_expr_test(g->schema->rules[j], &env, &g->scratch, &pass);
        if (rc == 0 && pass)
            continue;
        const schema_rule_t *rule = schema_rule(s, j);
        char why[SCHEMA_REASON_MAX];
        snprintf(why, sizeof why, "rule %s failed: %s", rule->name,
                 rule->message != NULL ? rule->message : rule->expr);
        reject(g, i, schema_err_kind_name(SCHEMA_ERR_RULE), NULL, why);
        return 0;
    }
    return 0;
}

static int check_record(ingest_t *g, size_t i)
{
    rec_t *r = &g->recs[i];
    core_json_value_t obj = {.type = CORE_JSON_OBJECT, .p = g->body + r->offset, .len = r->len};
    if (g->body[r->offset] != '{') {
        reject(g, i, "not_object", NULL, "a record must be a JSON object");
        return 0;
    }
    if (!extract_key(g, i, &obj))
        return 0;
    size_t limit =
        g->max_batch - CORE_MIN(g->max_batch, RECORD_BATCH_HEADER_SIZE + RECORD_OVERHEAD);
    if (r->len + r->key_len > limit) {
        char why[SCHEMA_REASON_MAX];
        snprintf(why, sizeof why, "record of %zu bytes exceeds the topic's limit of %zu bytes",
                 r->len + r->key_len, limit);
        reject(g, i, "too_big", NULL, why);
        return 0;
    }
    r->partition = pick_partition(g, r);
    return g->schema != NULL ? validate(g, i) : 0;
}

static int check_all(ingest_t *g)
{
    g->errs = core_calloc(CORE_MEM_HTTP, MAX_REPORTED_ERRORS, sizeof *g->errs);
    if (g->errs == NULL)
        return core_error(CORE_ENOMEM, "http ingest: out of memory");
    g->now_us = core_wall_us();
    for (size_t i = 0; i < g->n; i++) {
        int rc = check_record(g, i);
        if (rc != 0)
            return rc;
    }
    return g->error_count > 0 ? answer_invalid(g) : 0;
}

/* ---- Step 5: write. */

static int produce_chunk(ingest_t *g, int32_t p, const bus_message_t *msgs, size_t n)
{
    int64_t base = -1;
    int rc = bus_produce(g->in->bus, g->topic, p, msgs, n, g->acks == ACKS_ALL, &base);
    if (rc != 0)
        return rc;
    g->batches[g->n_batches++] = (batch_t){.partition = p, .base = base, .count = n};
    return 0;
}

/* Writes the records of partition p, order[0..n) indexes into recs, in
 * batches that fit the topic's max message size. */
static int produce_partition(ingest_t *g, int32_t p, const size_t *order, size_t n,
                             bus_message_t *msgs)
{
    size_t start = 0, bytes = RECORD_BATCH_HEADER_SIZE;
    for (size_t i = 0; i < n; i++) {
        const rec_t *r = &g->recs[order[i]];
        size_t size = RECORD_OVERHEAD + r->key_len + r->len;
        if (i > start && bytes + size > g->max_batch) {
            int rc = produce_chunk(g, p, msgs + start, i - start);
            if (rc != 0)
                return rc;
            start = i;
            bytes = RECORD_BATCH_HEADER_SIZE;
        }
        bytes += size;
        msgs[i] = (bus_message_t){.key = r->has_key ? g->keys.data + r->key_off : NULL,
                                  .key_len = r->key_len,
                                  .value = g->body + r->offset,
                                  .value_len = r->len,
                                  .timestamp_ms = -1};
    }
    return n > start ? produce_chunk(g, p, msgs + start, n - start) : 0;
}

static int produce_all(ingest_t *g)
{
    size_t np = (size_t)g->nparts;
    size_t *first = core_calloc(CORE_MEM_HTTP, np + 1, sizeof *first);
    size_t *order = core_calloc(CORE_MEM_HTTP, g->n, sizeof *order);
    bus_message_t *msgs = core_calloc(CORE_MEM_HTTP, g->n, sizeof *msgs);
    g->batches = core_calloc(CORE_MEM_HTTP, g->n, sizeof *g->batches);
    int rc = 0;
    if (first == NULL || order == NULL || msgs == NULL || g->batches == NULL)
        rc = core_error(CORE_ENOMEM, "http ingest: out of memory for %zu records", g->n);
    /* A stable counting sort by partition: body order within each. */
    for (size_t i = 0; rc == 0 && i < g->n; i++)
        first[g->recs[i].partition + 1]++;
    for (size_t p = 0; rc == 0 && p < np; p++)
        first[p + 1] += first[p];
    for (size_t i = 0; rc == 0 && i < g->n; i++)
        order[first[g->recs[i].partition]++] = i;
    /* first[p] now is the end of p's run, which is the start of p + 1's. */
    for (size_t p = 0, start = 0; rc == 0 && p < np; start = first[p++])
        if (first[p] > start)
            rc = produce_partition(g, (int32_t)p, order + start, first[p] - start, msgs + start);
    core_free(first);
    core_free(order);
    core_free(msgs);
    return rc != 0 && rc != CORE_ENOMEM ? answer_write_error(g, rc) : rc;
}

/* ---- The handler. */

static void ingest_fini(ingest_t *g)
{
    core_free(g->recs);
    core_free(g->errs);
    core_free(g->batches);
    core_buf_fini(&g->keys);
    core_buf_fini(&g->scratch);
    if (g->row_ready)
        schema_row_fini(&g->row);
}

static int on_post(http_request_t *req, void *arg)
{
    ingest_t g = {.in = arg, .req = req, .fixed = -1, .sticky = -1, .acks = ACKS_LEADER};
    size_t body_len;
    http_request_body(req, &body_len);
    core_buf_init(&g.keys, CORE_MEM_HTTP, body_len + 1);
    core_buf_init(&g.scratch, CORE_MEM_HTTP, RULE_SCRATCH_BYTES);
    int rc = resolve_topic(&g);
    if (rc == 0)
        rc = parse_request(&g);
    if (rc == 0)
        rc = split_body(&g);
    if (rc == 0)
        rc = check_all(&g);
    if (rc == 0 && g.n > 0)
        rc = produce_all(&g);
    if (rc == 0)
        rc = answer_written(&g);
    ingest_fini(&g);
    return rc == ANSWERED ? 0 : rc;
}

void app_ingest_stats(const app_ingest_t *in, app_ingest_stats_t *out)
{
    out->records_written = __atomic_load_n(&in->stats.records_written, __ATOMIC_RELAXED);
    out->records_rejected = __atomic_load_n(&in->stats.records_rejected, __ATOMIC_RELAXED);
    out->requests_rejected = __atomic_load_n(&in->stats.requests_rejected, __ATOMIC_RELAXED);
    out->write_errors = __atomic_load_n(&in->stats.write_errors, __ATOMIC_RELAXED);
}

int app_ingest_route(app_ingest_t *in, http_server_t *srv)
{
    return http_route(srv, "POST", "/topics/{topic}/records", on_post, in);
}
