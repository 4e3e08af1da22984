/*
 * api_topics.c - GET /api/topics, /api/topics/{topic} and
 * /api/topics/{topic}/records: the topics of the log, their partitions'
 * offsets and sizes, their record rate, and browsing their records
 * (docs/api.md).
 *
 * Topics are the log's (or, without a local log, the config's); internal
 * topics ("__" prefix) are hidden and refused (403). Offsets come from the
 * bus; sizes and settings from the seglog when there is one.
 *
 * Browsing reads one partition from an offset (or from the first record
 * at or after a time) with a bus reader of its own, never waiting for
 * appends. A page stops at `limit` records, at the end of the partition,
 * or once the answer passes PAGE_BYTES; next_offset says where to go on.
 *
 * Threading: any server thread; the bus and the seglog are thread-safe.
 */
#include "app/api.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define PAGE_BYTES (16u << 20)
#define POLL_MAX   256

static bool internal(const char *topic)
{
    return strncmp(topic, "__", 2) == 0;
}

static const char *topic_schema(const app_api_t *a, const char *topic)
{
    const app_config_t *cfg = a->env.cfg;
    for (size_t i = 0; i < cfg->n_topics; i++)
        if (cfg->topics[i].name != NULL && strcmp(cfg->topics[i].name, topic) == 0)
            return cfg->topics[i].schema;
    return NULL;
}

typedef struct {
    int64_t start, end, bytes;
    bool failed;
} part_t;

/* Offsets (bus) and size (seglog) of one partition. */
static int part_info(app_api_t *a, const char *topic, int32_t p, part_t *out)
{
    *out = (part_t){0};
    int rc = bus_offsets(a->env.bus, topic, p, &out->start, &out->end);
    if (a->env.log == NULL)
        return rc;
    seglog_pin(a->env.log); /* the broker may delete the topic meanwhile */
    seglog_topic_t *t = seglog_topic_get(a->env.log, topic);
    seglog_part_t *sp = t != NULL ? seglog_partition(t, p) : NULL;
    if (sp != NULL) {
        seglog_part_info_t info;
        seglog_part_info(sp, &info);
        out->bytes = info.size_bytes;
        out->failed = info.failed;
    }
    seglog_unpin(a->env.log);
    return rc;
}

/* The summary of a topic: name, partitions, records, bytes, schema, rate. */
static int write_topic(app_api_t *a, core_json_writer_t *w, const char *topic, bool detail)
{
    int32_t n = 0;
    int rc = bus_partitions(a->env.bus, topic, &n);
    if (rc != 0)
        return rc;
    int64_t records = 0, bytes = 0;
    api_str(w, "name", topic);
    api_key(w, "partitions");
    if (detail)
        core_json_write_array_begin(w);
    for (int32_t p = 0; rc == 0 && p < n; p++) {
        part_t pi;
        rc = part_info(a, topic, p, &pi);
        records += pi.end - pi.start;
        bytes += pi.bytes;
        if (!detail || rc != 0)
            continue;
        core_json_write_object_begin(w);
        api_int(w, "partition", p);
        api_int(w, "start_offset", pi.start);
        api_int(w, "end_offset", pi.end);
        api_int(w, "records", pi.end - pi.start);
        api_int(w, "size_bytes", pi.bytes);
        api_key(w, "failed");
        core_json_write_bool(w, pi.failed);
        core_json_write_object_end(w);
    }
    if (detail)
        core_json_write_array_end(w);
    else
        core_json_write_i64(w, n);
    api_int(w, "records", records);
    api_int(w, "size_bytes", bytes);
    api_str(w, "schema", topic_schema(a, topic));
    api_key(w, "rate");
    api_double(w, api_topic_rate(a, topic));
    return rc;
}

static void write_settings(app_api_t *a, core_json_writer_t *w, const char *topic)
{
    seglog_topic_config_t c;
    seglog_topic_t *t = NULL;
    if (a->env.log != NULL) {
        seglog_pin(a->env.log); /* the broker may delete the topic meanwhile */
        t = seglog_topic_get(a->env.log, topic);
        if (t != NULL)
            c = *seglog_topic_config(t);
        seglog_unpin(a->env.log);
    }
    api_key(w, "settings");
    if (t == NULL) {
        core_json_write_null(w);
        return;
    }
    char flush[64];
    seglog_flush_format(c.flush, c.flush_interval_ms, flush, sizeof flush);
    core_json_write_object_begin(w);
    api_str(w, "flush", flush);
    api_int(w, "retention_ms", c.retention_ms);
    api_int(w, "retention_bytes", c.retention_bytes);
    api_int(w, "segment_bytes", c.segment_bytes);
    api_int(w, "max_message_bytes", c.max_message_bytes);
    core_json_write_object_end(w);
}

/* The names to list: the log's, else the config's. */
static int topic_names(app_api_t *a, char ***names, size_t *n)
{
    if (a->env.log != NULL)
        return seglog_topic_names(a->env.log, names, n);
    const app_config_t *cfg = a->env.cfg;
    *names = core_calloc(CORE_MEM_APP, cfg->n_topics + 1, sizeof **names);
    if (*names == NULL)
        return core_error(CORE_ENOMEM, "api: out of memory");
    *n = 0;
    for (size_t i = 0; i < cfg->n_topics; i++) {
        if (cfg->topics[i].name == NULL)
            continue;
        (*names)[*n] = core_strdup(CORE_MEM_APP, cfg->topics[i].name);
        if ((*names)[(*n)++] == NULL)
            return core_error(CORE_ENOMEM, "api: out of memory");
    }
    return 0;
}

static void names_free(app_api_t *a, char **names, size_t n)
{
    if (a->env.log != NULL) {
        seglog_names_free(names, n);
        return;
    }
    for (size_t i = 0; names != NULL && i < n; i++)
        core_free(names[i]);
    core_free(names);
}

int api_topics_list(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    char **names = NULL;
    size_t n = 0;
    int rc = topic_names(a, &names, &n);
    if (rc != 0) {
        names_free(a, names, n);
        return api_fail(r, rc, "list the topics");
    }
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    api_key(w, "topics");
    core_json_write_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        if (internal(names[i]))
            continue;
        core_json_write_object_begin(w);
        if (write_topic(a, w, names[i], false) != 0) /* deleted meanwhile: left half */
            core_error_clear();
        core_json_write_object_end(w);
    }
    core_json_write_array_end(w);
    core_json_write_object_end(w);
    names_free(a, names, n);
    return http_respond_json(r, 200);
}

/* 0 when topic may be shown; else answers 403 or 404 and returns 1. */
static int check_topic(http_request_t *r, app_api_t *a, const char *topic, int32_t *nparts)
{
    if (internal(topic)) {
        http_respond_error(r, 403, "topic %s is internal to strata", topic);
        return 1;
    }
    int rc = bus_partitions(a->env.bus, topic, nparts);
    if (rc == CORE_ENOENT || rc == CORE_EINVAL) {
        http_respond_error(r, 404, "no topic named %s", topic);
        return 1;
    }
    if (rc != 0) {
        api_fail(r, rc, "read the topic");
        return 1;
    }
    return 0;
}

int api_topic_get(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    const char *topic = http_request_param(r, "topic");
    int32_t nparts;
    if (check_topic(r, a, topic, &nparts) != 0)
        return 0;
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    int rc = write_topic(a, w, topic, true);
    write_settings(a, w, topic);
    core_json_write_object_end(w);
    if (rc != 0)
        return api_fail(r, rc, "read the topic");
    return http_respond_json(r, 200);
}

/* ---- Records. */

static void write_record(core_json_writer_t *w, const bus_record_t *rec)
{
    core_json_write_object_begin(w);
    api_int(w, "offset", rec->offset);
    api_time(w, "timestamp", rec->timestamp_ms * 1000);
    api_int(w, "timestamp_ms", rec->timestamp_ms);
    api_key(w, "key");
    const char *kf = api_bytes(w, rec->key, rec->key_len);
    api_str(w, "key_format", kf);
    api_key(w, "value");
    const char *vf = api_json_or_bytes(w, rec->value, rec->value_len);
    api_str(w, "value_format", vf);
    core_json_write_object_end(w);
}

typedef struct {
    int32_t partition;
    int64_t offset; /* where the page starts */
    http_page_t page;
    int64_t start, end;
} browse_t;

/* Reads partition, offset or from_time, and limit. 0, or answers 400 and
 * returns 1. */
static int browse_params(http_request_t *r, app_api_t *a, const char *topic, int32_t nparts,
                         browse_t *b)
{
    int64_t part, offset, from_us;
    bool has_offset = http_request_query(r, "offset") != NULL;
    bool has_time = http_request_query(r, "from_time") != NULL;
    int rc = http_query_int(r, "partition", 0, nparts - 1, 0, &part);
    if (rc == 0)
        rc = http_query_int(r, "offset", 0, INT64_MAX, 0, &offset);
    if (rc == 0)
        rc = api_query_time(r, "from_time", 0, &from_us);
    if (rc == 0)
        rc = http_query_int(r, "limit", 1, INT64_MAX, APP_API_DEFAULT_LIMIT, &b->page.limit);
    if (rc == 0 && has_offset && has_time)
        rc = core_error(CORE_EINVAL, "give offset or from_time, not both");
    if (rc != 0) {
        api_bad_request(r);
        return 1;
    }
    b->page.limit = CORE_MIN(b->page.limit, APP_API_MAX_LIMIT);
    b->partition = (int32_t)part;
    rc = bus_offsets(a->env.bus, topic, b->partition, &b->start, &b->end);
    if (rc == 0 && has_time)
        rc = bus_offset_for_time(a->env.bus, topic, b->partition, from_us / 1000, &offset);
    if (rc != 0) {
        api_fail(r, rc, "read the partition's offsets");
        return 1;
    }
    if (!has_offset && !has_time)
        offset = b->start;
    if (offset > b->end) {
        http_respond_error(r, 400, "offset %lld is past the end of %s-%d (%lld)", (long long)offset,
                           topic, b->partition, (long long)b->end);
        return 1;
    }
    b->offset = CORE_MAX(offset, b->start); /* deleted by retention: from the start */
    b->page.offset = b->offset;
    return 0;
}

/* Writes up to the page's limit of records; *next gets the next offset. */
static int read_page(app_api_t *a, core_json_writer_t *w, const char *topic, const browse_t *b,
                     int64_t *next)
{
    bus_reader_t *rd = NULL;
    int rc = bus_reader_open(a->env.bus, topic, b->partition, b->offset, &rd);
    bus_record_t recs[POLL_MAX];
    int64_t left = b->page.limit;
    *next = b->offset;
    while (rc == 0 && left > 0 && *next < b->end && w->out->len < PAGE_BYTES) {
        size_t n = 0;
        rc = bus_reader_poll(rd, recs, (size_t)CORE_MIN(left, (int64_t)POLL_MAX), &n, 0);
        for (size_t i = 0; rc == 0 && i < n && left > 0 && w->out->len < PAGE_BYTES; i++) {
            write_record(w, &recs[i]);
            *next = recs[i].offset + 1;
            left--;
        }
        if (rc == 0 && n == 0)
            break;
        if (rc == 0 && left > 0 && w->out->len < PAGE_BYTES)
            *next = CORE_MAX(*next, bus_reader_position(rd)); /* offsets skipped by the poll */
    }
    bus_reader_close(rd);
    return rc;
}

int api_topic_records(http_request_t *r, void *arg)
{
    app_api_t *a = arg;
    const char *topic = http_request_param(r, "topic");
    int32_t nparts;
    browse_t b;
    if (check_topic(r, a, topic, &nparts) != 0 || browse_params(r, a, topic, nparts, &b) != 0)
        return 0;
    core_json_writer_t *w = http_json(r);
    core_json_write_object_begin(w);
    api_str(w, "topic", topic);
    api_int(w, "partition", b.partition);
    api_int(w, "start_offset", b.start);
    api_int(w, "end_offset", b.end);
    api_key(w, "records");
    core_json_write_array_begin(w);
    int64_t next = b.offset;
    int rc = read_page(a, w, topic, &b, &next);
    core_json_write_array_end(w);
    api_key(w, "next_offset");
    core_json_write_i64(w, next);
    core_json_write_object_end(w);
    if (rc != 0)
        return api_fail(r, rc, "read the records");
    return http_respond_json(r, 200);
}
