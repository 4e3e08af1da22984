/*
 * broker.c - the broker object: lifecycle, request dispatch, and helpers
 * shared by the handlers.
 *
 * Dispatch (on_request, loop thread):
 *   1. decode the request header; unparsable → close the connection;
 *   2. an API or version the broker does not serve → close, except
 *      ApiVersions above v3, which gets error 35 in a v0 body (clients then
 *      retry with a version we serve; fact sheet 1.3);
 *   3. write the response header into the slot, decode the body into the
 *      request arena (unparsable → close), and call the handler.
 *
 * Shutdown order matters because deferred responses complete through the
 * server: stop the loop; destroy the syncer (queued syncs complete with
 * CORE_ECLOSED); run completions already posted; destroy the coordinator
 * (parked joins and syncs complete with COORDINATOR_NOT_AVAILABLE); answer
 * parked fetches and deletes; only then destroy the server.
 *
 * Threading: one loop thread; stats are atomics; kafka_broker_stop() may be
 * called from any thread or a signal handler.
 */
#include "kafka/broker_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define REQUEST_ARENA_CHUNK (64u << 10)
#define REQUEST_ARENA_MAX   (256u << 20)

void kafka_config_default(kafka_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->listen = "127.0.0.1:9092";
    cfg->advertise = NULL;
    cfg->node_id = 0;
    cfg->default_partitions = 1;
    cfg->auto_create_topics = true;
    cfg->max_request_bytes = 16 << 20;
    cfg->max_connections = 1000;
    cfg->idle_timeout_ms = 600000;
    cfg->initial_rebalance_delay_ms = 3000;
    cfg->sync_threads = 2;
    seglog_topic_config_default(&cfg->topic_defaults);
}

static const kafka_handler_fn handlers[KAFKA_API_KEY_MAX + 1] = {
    [KAFKA_API_PRODUCE] = kafka_handle_produce,
    [KAFKA_API_FETCH] = kafka_handle_fetch,
    [KAFKA_API_LIST_OFFSETS] = kafka_handle_list_offsets,
    [KAFKA_API_METADATA] = kafka_handle_metadata,
    [KAFKA_API_OFFSET_COMMIT] = kafka_handle_offset_commit,
    [KAFKA_API_OFFSET_FETCH] = kafka_handle_offset_fetch,
    [KAFKA_API_FIND_COORDINATOR] = kafka_handle_find_coordinator,
    [KAFKA_API_JOIN_GROUP] = kafka_handle_join_group,
    [KAFKA_API_HEARTBEAT] = kafka_handle_heartbeat,
    [KAFKA_API_LEAVE_GROUP] = kafka_handle_leave_group,
    [KAFKA_API_SYNC_GROUP] = kafka_handle_sync_group,
    [KAFKA_API_DESCRIBE_GROUPS] = kafka_handle_describe_groups,
    [KAFKA_API_LIST_GROUPS] = kafka_handle_list_groups,
    [KAFKA_API_API_VERSIONS] = kafka_handle_api_versions,
    [KAFKA_API_CREATE_TOPICS] = kafka_handle_create_topics,
    [KAFKA_API_DELETE_TOPICS] = kafka_handle_delete_topics,
    [KAFKA_API_INIT_PRODUCER_ID] = kafka_handle_init_producer_id,
};

static int malformed(kafka_req_t *req, const char *what)
{
    atomic_fetch_add(&req->b->malformed_requests, 1);
    core_log(CORE_LOG_WARN, "kafka", "%s: closing the connection: %s: %s",
             kafka_conn_peer(req->conn), what, core_error_detail());
    return KAFKA_SERVER_CLOSE;
}

static int dispatch(kafka_req_t *req, kafka_rd_t *r)
{
    kafka_broker_t *b = req->b;
    int16_t key = req->h.api_key, version = req->h.api_version;
    if (!kafka_api_supported(key, version)) {
        atomic_fetch_add(&b->unsupported_requests, 1);
        if (key == KAFKA_API_API_VERSIONS && version > 0)
            return kafka_answer_api_versions_fallback(req);
        core_error(CORE_EUNSUPP, "API key %d version %d is not served", key, version);
        return malformed(req, "unsupported request");
    }
    atomic_fetch_add(&b->requests[key], 1);
    int rc = kafka_encode_response_header(&req->slot->out, req->h.correlation_id, key, version);
    if (rc != 0)
        return malformed(req, "response header");
    kafka_request_body_t body;
    memset(&body, 0, sizeof body);
    rc = kafka_decode_request_body(r, key, version, req->arena, &body);
    if (rc != 0)
        return malformed(req, "unparsable request");
    return handlers[key](req, &body);
}

static int on_request(void *ctx, kafka_conn_t *c, kafka_slot_t *slot, uint8_t *frame, size_t len)
{
    kafka_broker_t *b = ctx;
    kafka_req_t req = {b, c, slot, {0}, b->arena, core_mono_ms()};
    kafka_rd_t r;
    kafka_rd_init(&r, frame, len);
    int rc;
    core_error_clear();
    if (kafka_decode_request_header(&r, &req.h) != 0)
        rc = malformed(&req, "unparsable request header");
    else
        rc = dispatch(&req, &r);
    core_arena_reset(b->arena);
    return rc;
}

static void on_close(void *ctx, kafka_conn_t *c)
{
    (void)ctx;
    (void)c; /* group membership is not tied to connections, as in Kafka */
}

static int64_t on_tick(void *ctx, int64_t now_ms)
{
    kafka_broker_t *b = ctx;
    int64_t next = kafka_groups_tick(b->groups, now_ms);
    int64_t f = kafka_fetches_tick(b, now_ms, false);
    int64_t d = b->deletes != NULL ? kafka_deletes_tick(b, now_ms) : INT64_MAX;
    return CORE_MIN(next, CORE_MIN(f, d));
}

/* The append hook: any thread, any partition. */
static void on_append(void *arg, seglog_part_t *p)
{
    (void)p;
    kafka_broker_t *b = arg;
    atomic_fetch_add_explicit(&b->data_epoch, 1, memory_order_relaxed);
    kafka_server_wake(b->server); /* coalesced: cheap when called often */
}

int kafka_broker_encoded(kafka_req_t *req, int rc)
{
    if (rc == 0)
        return KAFKA_SERVER_DONE;
    core_log(CORE_LOG_ERROR, "kafka", "cannot encode a response to API %d v%d: %s", req->h.api_key,
             req->h.api_version, core_error_detail());
    return KAFKA_SERVER_CLOSE;
}

void kafka_broker_complete(kafka_broker_t *b, kafka_slot_t *slot)
{
    kafka_server_complete(b->server, slot);
}

void kafka_broker_count_error(kafka_broker_t *b, int16_t api_key, int16_t error_code)
{
    if (error_code != KAFKA_ERR_NONE && api_key >= 0 && api_key <= KAFKA_API_KEY_MAX)
        atomic_fetch_add(&b->errors[api_key], 1);
}

kafka_bytes_t kafka_bytes_dup(core_arena_t *a, kafka_bytes_t v)
{
    if (v.len <= 0)
        return v.len == 0 ? (kafka_bytes_t){(const uint8_t *)"", 0} : v;
    uint8_t *p = core_arena_alloc(a, (size_t)v.len);
    if (p == NULL)
        return KAFKA_NULL_BYTES;
    memcpy(p, v.p, (size_t)v.len);
    return (kafka_bytes_t){p, v.len};
}

char *kafka_bytes_cstr_dup(core_arena_t *a, kafka_bytes_t v)
{
    /* A NUL inside would alias a shorter name ("a\0zzz" as "a"). */
    if (v.len < 0 || (v.len > 0 && memchr(v.p, '\0', (size_t)v.len) != NULL))
        return NULL;
    return core_arena_strndup(a, (const char *)v.p, (size_t)v.len);
}

typedef struct {
    kafka_broker_t *b;
    seglog_topic_t *topic;
    kafka_sync_done_fn done;
    void *arg;
} sync_wrap_t;

/* Adds delta to the topic's in-flight count. */
static int topic_syncs_add(kafka_broker_t *b, seglog_topic_t *t, intptr_t delta)
{
    void *v = NULL;
    core_map_get(b->topic_syncs, &t, sizeof t, &v);
    intptr_t n = (intptr_t)v + delta;
    if (n <= 0) {
        core_map_del(b->topic_syncs, &t, sizeof t, NULL);
        return 0;
    }
    return core_map_put(b->topic_syncs, &t, sizeof t, (void *)n, NULL);
}

bool kafka_broker_topic_busy(kafka_broker_t *b, seglog_topic_t *t)
{
    return core_map_get(b->topic_syncs, &t, sizeof t, NULL);
}

static void sync_done(void *arg, int rc)
{
    sync_wrap_t *w = arg;
    (void)topic_syncs_add(w->b, w->topic, -1); /* a decrement never allocates */
    w->done(w->arg, rc);
    core_free(w);
}

int kafka_broker_sync(kafka_broker_t *b, seglog_part_t *part, int64_t end, kafka_sync_done_fn done,
                      void *arg)
{
    sync_wrap_t *w = core_alloc(CORE_MEM_KAFKA, sizeof *w);
    if (w == NULL)
        return CORE_ENOMEM;
    *w = (sync_wrap_t){b, seglog_part_topic(part), done, arg};
    int rc = topic_syncs_add(b, w->topic, 1);
    if (rc == 0 && (rc = kafka_syncer_request(b->syncer, part, end, sync_done, w)) != 0)
        (void)topic_syncs_add(b, w->topic, -1);
    if (rc != 0)
        core_free(w);
    return rc;
}

static int groups_sync(void *ctx, seglog_part_t *part, int64_t end, kafka_sync_done_fn done,
                       void *arg)
{
    return kafka_broker_sync(ctx, part, end, done, arg);
}

int kafka_broker_create_topic(kafka_broker_t *b, const char *name, int32_t partitions,
                              const seglog_topic_config_t *overrides)
{
    seglog_topic_config_t c = overrides ? *overrides : b->cfg.topic_defaults;
    c.partitions = partitions > 0 ? partitions : b->cfg.default_partitions;
    int rc = seglog_topic_create(b->log, name, &c);
    if (rc == 0)
        core_log(CORE_LOG_INFO, "kafka", "created topic %s with %d partition(s)", name,
                 (int)c.partitions);
    return rc;
}

/* Splits "host:port" (or "[v6]:port") into owned host and port. */
static int split_hostport(const char *s, char **host, int32_t *port)
{
    const char *colon = strrchr(s, ':');
    int64_t p = 0;
    if (colon == NULL || colon == s || core_parse_i64(colon + 1, 0, 65535, &p) != 0)
        return core_error(CORE_EINVAL, "'%s' is not HOST:PORT", s);
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    *host = core_strndup(CORE_MEM_KAFKA, h, hl);
    *port = (int32_t)p;
    return *host ? 0 : CORE_ENOMEM;
}

static int create_parts(kafka_broker_t *b)
{
    kafka_server_config_t sc = {b->listen, b->cfg.max_request_bytes, b->cfg.max_connections,
                                b->cfg.idle_timeout_ms, 64};
    kafka_server_ops_t ops = {on_request, on_close, on_tick};
    int rc = kafka_server_create(&sc, &ops, b, &b->server);
    if (rc == 0)
        rc = kafka_syncer_create(b->server, b->cfg.sync_threads, &b->syncer);
    kafka_groups_config_t gc;
    kafka_groups_config_default(&gc);
    gc.initial_rebalance_delay_ms = b->cfg.initial_rebalance_delay_ms;
    if (rc == 0)
        rc = kafka_groups_create(b->log, &gc, groups_sync, b, &b->groups);
    if (rc == 0)
        rc = kafka_producers_create(&b->producers);
    if (rc == 0 && (b->topic_syncs = core_map_create(CORE_MEM_KAFKA, 16)) == NULL)
        rc = CORE_ENOMEM;
    if (rc == 0) {
        b->arena = core_arena_create(CORE_MEM_KAFKA, REQUEST_ARENA_CHUNK, REQUEST_ARENA_MAX);
        rc = b->arena ? 0 : CORE_ENOMEM;
    }
    return rc;
}

int kafka_broker_create(seglog_t *log, const kafka_config_t *cfg, kafka_broker_t **out)
{
    kafka_broker_t *b = core_calloc(CORE_MEM_KAFKA, 1, sizeof *b);
    if (b == NULL)
        return CORE_ENOMEM;
    core_buf_init(&b->plain, CORE_MEM_KAFKA, KAFKA_PLAIN_MAX);
    b->cfg = *cfg;
    b->log = log;
    b->listen = core_strdup(CORE_MEM_KAFKA, cfg->listen);
    int rc = b->listen ? 0 : CORE_ENOMEM;
    if (rc == 0)
        rc = create_parts(b);
    const char *adv = cfg->advertise;
    char bound[300];
    if (rc == 0 && adv == NULL) {
        const char *colon = strrchr(cfg->listen, ':');
        int hl = colon ? (int)(colon - cfg->listen) : 0;
        snprintf(bound, sizeof bound, "%.*s:%d", hl, cfg->listen, kafka_server_port(b->server));
        adv = bound;
    }
    if (rc == 0)
        rc = split_hostport(adv, &b->adv_host, &b->adv_port);
    b->cfg.listen = b->listen;
    b->cfg.advertise = NULL;
    if (rc != 0) {
        kafka_broker_destroy(b);
        return rc;
    }
    rc = seglog_add_append_hook(log, on_append, b);
    if (rc != 0) {
        kafka_broker_destroy(b);
        return rc;
    }
    b->hooked = true;
    *out = b;
    return 0;
}

int kafka_broker_port(const kafka_broker_t *b)
{
    return kafka_server_port(b->server);
}

int kafka_broker_run(kafka_broker_t *b)
{
    return kafka_server_run(b->server);
}

static void *broker_main(void *arg)
{
    kafka_broker_t *b = arg;
    int rc = kafka_server_run(b->server);
    if (rc != 0)
        core_log(CORE_LOG_ERROR, "kafka", "event loop stopped: %s", core_error_detail());
    return NULL;
}

int kafka_broker_start(kafka_broker_t *b)
{
    if (pthread_create(&b->thread, NULL, broker_main, b) != 0)
        return core_error(CORE_EIO, "cannot start the broker thread: %s", strerror(errno));
    b->thread_started = true;
    return 0;
}

void kafka_broker_stop(kafka_broker_t *b)
{
    kafka_server_stop(b->server);
}

/* Completes everything still waiting, on the calling thread (the loop has
 * stopped), while the server can still take completions. */
static void drain(kafka_broker_t *b)
{
    kafka_syncer_destroy(b->syncer);
    b->syncer = NULL;
    kafka_server_run_posted(b->server);
    kafka_groups_destroy(b->groups);
    b->groups = NULL;
    kafka_server_run_posted(b->server);
    kafka_fetches_tick(b, core_mono_ms(), true);
    kafka_deletes_cancel(b);
}

void kafka_broker_destroy(kafka_broker_t *b)
{
    if (b == NULL)
        return;
    if (b->server != NULL) {
        kafka_server_stop(b->server);
        if (b->thread_started)
            pthread_join(b->thread, NULL);
    }
    /* Only now: the loop appended until it stopped. Removal waits for hook
     * calls from other threads still in progress. */
    if (b->hooked)
        seglog_remove_append_hook(b->log, on_append, b);
    if (b->server != NULL)
        drain(b);
    kafka_groups_destroy(b->groups);
    kafka_syncer_destroy(b->syncer);
    kafka_server_destroy(b->server);
    kafka_producers_destroy(b->producers);
    core_map_destroy(b->topic_syncs);
    core_buf_fini(&b->plain);
    core_arena_destroy(b->arena);
    core_free(b->adv_host);
    core_free(b->listen);
    core_free(b);
}

void kafka_broker_stats(kafka_broker_t *b, kafka_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i <= KAFKA_API_KEY_MAX; i++) {
        out->requests[i] = atomic_load(&b->requests[i]);
        out->errors[i] = atomic_load(&b->errors[i]);
    }
    out->unsupported_requests = atomic_load(&b->unsupported_requests);
    out->malformed_requests = atomic_load(&b->malformed_requests);
    out->corrupt_batches = atomic_load(&b->corrupt_batches);
    out->oversized_batches = atomic_load(&b->oversized_batches);
    out->duplicate_batches = atomic_load(&b->duplicate_batches);
    out->records_in = atomic_load(&b->records_in);
    kafka_server_stats_t ss;
    kafka_server_stats(b->server, &ss);
    out->oversized_requests = ss.oversized_requests;
    out->rejected_connections = ss.rejected_connections;
    out->idle_closed = ss.idle_closed;
    out->connections = ss.connections;
    out->bytes_in = ss.bytes_in;
    out->bytes_out = ss.bytes_out;
}
