/*
 * handlers_meta.c - ApiVersions, Metadata, CreateTopics, DeleteTopics,
 * FindCoordinator and InitProducerId.
 *
 * strata is one node: Metadata lists this broker as the only broker, the
 * controller and the leader of every partition (replicas and ISR = [node]),
 * leader epoch 0. Topics are auto-created on Metadata when the broker
 * allows it and the request does (v4+ flag; always before v4), with the
 * default partition count; a name Kafka would reject gets
 * INVALID_TOPIC_EXCEPTION.
 *
 * DeleteTopics waits (parks) while fsyncs of a named topic are in flight,
 * because the sync threads hold partition handles that deleting the topic
 * would free; past the request's timeout such a topic gets
 * REQUEST_TIMED_OUT.
 *
 * Threading: loop thread.
 */
#include "kafka/broker_int.h"

#include <stdio.h>
#include <string.h>

struct kafka_parked_delete {
    kafka_slot_t *slot;
    int16_t version;
    int64_t deadline_ms; /* the request's timeout */
    core_arena_t *arena; /* owns the names */
    kafka_delete_topics_req_t req;
    struct kafka_parked_delete *next;
};

int kafka_handle_api_versions(kafka_req_t *req, kafka_request_body_t *body)
{
    (void)body;
    kafka_api_versions_resp_t resp = {KAFKA_ERR_NONE, NULL, 0, 0};
    return kafka_broker_encoded(
        req, kafka_encode_api_versions_resp(&req->slot->out, req->h.api_version, &resp));
}

int kafka_answer_api_versions_fallback(kafka_req_t *req)
{
    /* Header v0 and a v0 body carrying error 35 and our ranges. */
    kafka_api_versions_resp_t resp = {KAFKA_ERR_UNSUPPORTED_VERSION, NULL, 0, 0};
    int rc = kafka_encode_response_header(&req->slot->out, req->h.correlation_id,
                                          KAFKA_API_API_VERSIONS, 0);
    if (rc == 0)
        rc = kafka_encode_api_versions_resp(&req->slot->out, 0, &resp);
    return kafka_broker_encoded(req, rc);
}

/* Fills one topic's metadata; partitions come from arena memory. */
static void describe_topic(kafka_req_t *req, seglog_topic_t *t, kafka_metadata_resp_topic_t *out)
{
    kafka_broker_t *b = req->b;
    int32_t n = seglog_topic_config(t)->partitions;
    kafka_metadata_resp_part_t *parts = core_arena_alloc(req->arena, (size_t)n * sizeof *parts);
    int32_t *node = core_arena_alloc(req->arena, sizeof *node);
    if (parts == NULL || node == NULL) {
        out->error_code = KAFKA_ERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    *node = b->cfg.node_id;
    for (int32_t i = 0; i < n; i++)
        parts[i] =
            (kafka_metadata_resp_part_t){KAFKA_ERR_NONE, i, *node, 0, node, 1, node, 1, NULL, 0};
    out->is_internal = strcmp(seglog_topic_name(t), KAFKA_OFFSETS_TOPIC) == 0;
    out->partitions = parts;
    out->n_partitions = n;
}

/* Looks a requested topic up, creating it if allowed. */
static void requested_topic(kafka_req_t *req, kafka_bytes_t name, bool auto_create,
                            kafka_metadata_resp_topic_t *out)
{
    kafka_broker_t *b = req->b;
    out->name = name;
    char *cname = kafka_bytes_cstr_dup(req->arena, name);
    if (cname == NULL || seglog_topic_name_check(cname) != 0) {
        out->error_code = KAFKA_ERR_INVALID_TOPIC_EXCEPTION;
        return;
    }
    seglog_topic_t *t = seglog_topic_get(b->log, cname);
    if (t == NULL && auto_create) {
        if (kafka_broker_create_topic(b, cname, 0, NULL) != 0 &&
            seglog_topic_get(b->log, cname) == NULL)
            core_log(CORE_LOG_WARN, "kafka", "auto-create %s: %s", cname, core_error_detail());
        t = seglog_topic_get(b->log, cname);
    }
    if (t == NULL) {
        out->error_code =
            auto_create ? KAFKA_ERR_LEADER_NOT_AVAILABLE : KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    describe_topic(req, t, out);
}

static int all_topics(kafka_req_t *req, kafka_metadata_resp_topic_t **out, int32_t *n)
{
    char **names;
    size_t count;
    int rc = seglog_topic_names(req->b->log, &names, &count);
    if (rc != 0)
        return rc;
    kafka_metadata_resp_topic_t *topics =
        core_arena_alloc(req->arena, (count + 1) * sizeof *topics);
    int32_t k = 0;
    for (size_t i = 0; topics != NULL && i < count; i++) {
        seglog_topic_t *t = seglog_topic_get(req->b->log, names[i]);
        if (t == NULL)
            continue;
        memset(&topics[k], 0, sizeof topics[k]);
        topics[k].name = kafka_bytes_dup(req->arena, kafka_bytes_cstr(names[i]));
        describe_topic(req, t, &topics[k++]);
    }
    seglog_names_free(names, count);
    *out = topics;
    *n = k;
    return topics ? 0 : CORE_ENOMEM;
}

int kafka_handle_metadata(kafka_req_t *req, kafka_request_body_t *body)
{
    kafka_broker_t *b = req->b;
    const kafka_metadata_req_t *m = &body->metadata;
    kafka_metadata_resp_broker_t broker = {b->cfg.node_id, kafka_bytes_cstr(b->adv_host),
                                           b->adv_port, KAFKA_NULL_BYTES};
    kafka_metadata_resp_t resp = {0,    &broker, 1, kafka_bytes_cstr("strata"), b->cfg.node_id,
                                  NULL, 0};
    bool everything = m->n_topics < 0 || (m->n_topics == 0 && req->h.api_version == 0);
    kafka_metadata_resp_topic_t *topics = NULL;
    int32_t n = 0;
    if (everything) {
        if (all_topics(req, &topics, &n) != 0)
            return kafka_broker_encoded(req, CORE_ENOMEM);
    } else if (m->n_topics > 0) {
        topics = core_arena_alloc(req->arena, (size_t)m->n_topics * sizeof *topics);
        if (topics == NULL)
            return kafka_broker_encoded(req, CORE_ENOMEM);
        bool create = b->cfg.auto_create_topics && m->allow_auto_topic_creation;
        for (int32_t i = 0; i < m->n_topics; i++) {
            memset(&topics[i], 0, sizeof topics[i]);
            requested_topic(req, m->topics[i], create, &topics[i]);
            kafka_broker_count_error(b, KAFKA_API_METADATA, topics[i].error_code);
        }
        n = m->n_topics;
    }
    resp.topics = topics;
    resp.n_topics = n;
    return kafka_broker_encoded(
        req, kafka_encode_metadata_resp(&req->slot->out, req->h.api_version, &resp));
}

/* Applies CreateTopics configs Kafka users set most; others are refused. */
static int16_t topic_configs(const kafka_create_topics_req_topic_t *t, seglog_topic_config_t *c,
                             const char **msg)
{
    for (int32_t i = 0; i < t->n_configs; i++) {
        kafka_bytes_t k = t->configs[i].name, v = t->configs[i].value;
        char key[64], val[32];
        if (k.len <= 0 || k.len >= (int32_t)sizeof key || v.len < 0 ||
            v.len >= (int32_t)sizeof val) {
            *msg = "config name or value out of range";
            return KAFKA_ERR_INVALID_CONFIG;
        }
        snprintf(key, sizeof key, "%.*s", (int)k.len, (const char *)k.p);
        snprintf(val, sizeof val, "%.*s", (int)v.len, (const char *)v.p);
        int64_t n;
        if (core_parse_i64(val, -1, INT64_MAX, &n) != 0) {
            *msg = "config value is not a number";
            return KAFKA_ERR_INVALID_CONFIG;
        }
        if (strcmp(key, "retention.ms") == 0)
            c->retention_ms = n;
        else if (strcmp(key, "retention.bytes") == 0)
            c->retention_bytes = n;
        else if (strcmp(key, "segment.bytes") == 0)
            c->segment_bytes = n;
        else if (strcmp(key, "segment.ms") == 0)
            c->segment_ms = n;
        else if (strcmp(key, "max.message.bytes") == 0 && n <= INT32_MAX)
            c->max_message_bytes = (int32_t)n;
        else {
            *msg = "unsupported config (supported: retention.ms, retention.bytes, "
                   "segment.bytes, segment.ms, max.message.bytes)";
            return KAFKA_ERR_INVALID_CONFIG;
        }
    }
    return KAFKA_ERR_NONE;
}

static int16_t create_one(kafka_req_t *req, const kafka_create_topics_req_topic_t *t,
                          bool validate_only, const char **msg)
{
    kafka_broker_t *b = req->b;
    char *name = kafka_bytes_cstr_dup(req->arena, t->name);
    if (name == NULL || seglog_topic_name_check(name) != 0) {
        *msg = name ? core_arena_strndup(req->arena, core_error_detail(), 200) : NULL;
        return KAFKA_ERR_INVALID_TOPIC_EXCEPTION;
    }
    if (seglog_topic_get(b->log, name) != NULL)
        return KAFKA_ERR_TOPIC_ALREADY_EXISTS;
    if (t->num_partitions == 0 || t->num_partitions < -1 ||
        t->num_partitions > SEGLOG_PARTITIONS_MAX)
        return KAFKA_ERR_INVALID_PARTITIONS;
    if (t->replication_factor == 0 || t->replication_factor < -1 || t->replication_factor > 1) {
        *msg = "strata is a single node: the replication factor must be 1";
        return KAFKA_ERR_INVALID_REPLICATION_FACTOR;
    }
    seglog_topic_config_t c = b->cfg.topic_defaults;
    int16_t err = topic_configs(t, &c, msg);
    if (err != KAFKA_ERR_NONE)
        return err;
    c.partitions = t->num_partitions > 0 ? t->num_partitions : b->cfg.default_partitions;
    if (seglog_topic_config_check(&c) != 0) {
        *msg = core_arena_strndup(req->arena, core_error_detail(), 200);
        return KAFKA_ERR_INVALID_CONFIG;
    }
    if (validate_only)
        return KAFKA_ERR_NONE;
    if (kafka_broker_create_topic(b, name, c.partitions, &c) != 0) {
        *msg = core_arena_strndup(req->arena, core_error_detail(), 200);
        return KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    }
    return KAFKA_ERR_NONE;
}

int kafka_handle_create_topics(kafka_req_t *req, kafka_request_body_t *body)
{
    const kafka_create_topics_req_t *cr = &body->create_topics;
    kafka_create_topics_resp_topic_t *out =
        core_arena_alloc(req->arena, ((size_t)cr->n_topics + 1) * sizeof *out);
    if (out == NULL)
        return kafka_broker_encoded(req, CORE_ENOMEM);
    for (int32_t i = 0; i < cr->n_topics; i++) {
        const char *msg = NULL;
        int16_t err = create_one(req, &cr->topics[i], cr->validate_only, &msg);
        out[i] = (kafka_create_topics_resp_topic_t){cr->topics[i].name, err,
                                                    msg ? kafka_bytes_cstr(msg) : KAFKA_NULL_BYTES};
        kafka_broker_count_error(req->b, KAFKA_API_CREATE_TOPICS, err);
    }
    kafka_create_topics_resp_t resp = {0, out, cr->n_topics};
    return kafka_broker_encoded(
        req, kafka_encode_create_topics_resp(&req->slot->out, req->h.api_version, &resp));
}

/* The topic a DeleteTopics names, or NULL (unknown, or not a valid name). */
static seglog_topic_t *delete_target(kafka_broker_t *b, core_arena_t *a, kafka_bytes_t name)
{
    char *cname = kafka_bytes_cstr_dup(a, name);
    return cname ? seglog_topic_get(b->log, cname) : NULL;
}

/* Deletes one topic; `timed_out` answers a topic still busy. */
static int16_t delete_one(kafka_broker_t *b, core_arena_t *a, kafka_bytes_t name, bool timed_out)
{
    seglog_topic_t *t = delete_target(b, a, name);
    if (t == NULL)
        return KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION;
    const char *cname = seglog_topic_name(t);
    if (strcmp(cname, KAFKA_OFFSETS_TOPIC) == 0)
        return KAFKA_ERR_INVALID_REQUEST;
    if (kafka_broker_topic_busy(b, t))
        return timed_out ? KAFKA_ERR_REQUEST_TIMED_OUT : KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    for (int32_t i = 0; i < seglog_topic_config(t)->partitions; i++)
        kafka_producers_forget_part(b->producers, seglog_partition(t, i));
    kafka_groups_topic_deleted(b->groups, name);
    char *copy = core_arena_strndup(a, cname, SEGLOG_TOPIC_NAME_MAX);
    if (copy == NULL || seglog_topic_delete(b->log, copy) != 0) {
        core_log(CORE_LOG_ERROR, "kafka", "delete %s: %s", cname, core_error_detail());
        return KAFKA_ERR_UNKNOWN_SERVER_ERROR;
    }
    core_log(CORE_LOG_INFO, "kafka", "deleted topic %s", copy);
    return KAFKA_ERR_NONE;
}

static int encode_deletes(kafka_broker_t *b, core_arena_t *a, core_buf_t *out, int16_t version,
                          const kafka_delete_topics_req_t *dr, bool timed_out)
{
    kafka_delete_topics_resp_topic_t *res =
        core_arena_alloc(a, ((size_t)dr->n_topic_names + 1) * sizeof *res);
    if (res == NULL)
        return CORE_ENOMEM;
    for (int32_t i = 0; i < dr->n_topic_names; i++) {
        res[i].name = dr->topic_names[i];
        res[i].error_code = delete_one(b, a, dr->topic_names[i], timed_out);
        kafka_broker_count_error(b, KAFKA_API_DELETE_TOPICS, res[i].error_code);
    }
    kafka_delete_topics_resp_t resp = {0, res, dr->n_topic_names};
    return kafka_encode_delete_topics_resp(out, version, &resp);
}

/* True if a named topic has fsyncs in flight: the sync threads hold its
 * partition handles, so deleting it must wait. */
static bool any_busy(kafka_broker_t *b, core_arena_t *a, const kafka_delete_topics_req_t *dr)
{
    for (int32_t i = 0; i < dr->n_topic_names; i++) {
        seglog_topic_t *t = delete_target(b, a, dr->topic_names[i]);
        if (t != NULL && kafka_broker_topic_busy(b, t))
            return true;
    }
    return false;
}

/* Parks a DeleteTopics until its topics are idle or its timeout passes. */
static int park_delete(kafka_req_t *req, const kafka_delete_topics_req_t *dr)
{
    core_arena_t *a = core_arena_create(CORE_MEM_KAFKA, 4096, 16u << 20);
    kafka_parked_delete_t *d = a ? core_arena_alloc(a, sizeof *d) : NULL;
    kafka_bytes_t *names =
        d ? core_arena_alloc(a, ((size_t)dr->n_topic_names + 1) * sizeof *names) : NULL;
    if (names == NULL) {
        core_arena_destroy(a);
        return kafka_broker_encoded(req, CORE_ENOMEM);
    }
    for (int32_t i = 0; i < dr->n_topic_names; i++)
        names[i] = kafka_bytes_dup(a, dr->topic_names[i]);
    int64_t wait = CORE_MAX(dr->timeout_ms, 0);
    *d = (kafka_parked_delete_t){req->slot, req->h.api_version, req->now_ms + wait, a, *dr, NULL};
    d->req.topic_names = names;
    kafka_parked_delete_t **tail = &req->b->deletes; /* answered in arrival order */
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = d;
    return KAFKA_SERVER_DEFER;
}

int kafka_handle_delete_topics(kafka_req_t *req, kafka_request_body_t *body)
{
    if (any_busy(req->b, req->arena, &body->delete_topics))
        return park_delete(req, &body->delete_topics);
    return kafka_broker_encoded(req,
                                encode_deletes(req->b, req->arena, &req->slot->out,
                                               req->h.api_version, &body->delete_topics, false));
}

static void answer_delete(kafka_broker_t *b, kafka_parked_delete_t *d, bool timed_out)
{
    if (encode_deletes(b, d->arena, &d->slot->out, d->version, &d->req, timed_out) != 0)
        core_log(CORE_LOG_ERROR, "kafka", "cannot encode a DeleteTopics response");
    kafka_broker_complete(b, d->slot);
    core_arena_destroy(d->arena);
}

int64_t kafka_deletes_tick(kafka_broker_t *b, int64_t now_ms)
{
    int64_t next = INT64_MAX;
    kafka_parked_delete_t **pp = &b->deletes;
    while (*pp != NULL) {
        kafka_parked_delete_t *d = *pp;
        bool timed_out = now_ms >= d->deadline_ms;
        if (timed_out || !any_busy(b, d->arena, &d->req)) {
            *pp = d->next;
            answer_delete(b, d, timed_out);
            continue;
        }
        next = CORE_MIN(next, d->deadline_ms);
        pp = &d->next;
    }
    return next;
}

void kafka_deletes_cancel(kafka_broker_t *b)
{
    while (b->deletes != NULL) {
        kafka_parked_delete_t *d = b->deletes;
        b->deletes = d->next;
        d->req.n_topic_names = 0; /* shutting down: answer with nothing deleted */
        answer_delete(b, d, true);
    }
}

int kafka_handle_find_coordinator(kafka_req_t *req, kafka_request_body_t *body)
{
    kafka_broker_t *b = req->b;
    kafka_find_coordinator_resp_t resp = {
        0,          KAFKA_ERR_NONE, KAFKA_NULL_BYTES, b->cfg.node_id, kafka_bytes_cstr(b->adv_host),
        b->adv_port};
    if (body->find_coordinator.key_type != 0) { /* transactions are not offered */
        resp = (kafka_find_coordinator_resp_t){0,
                                               KAFKA_ERR_COORDINATOR_NOT_AVAILABLE,
                                               kafka_bytes_cstr("transactions are not supported"),
                                               -1,
                                               kafka_bytes_cstr(""),
                                               -1};
        kafka_broker_count_error(b, KAFKA_API_FIND_COORDINATOR, resp.error_code);
    }
    return kafka_broker_encoded(
        req, kafka_encode_find_coordinator_resp(&req->slot->out, req->h.api_version, &resp));
}

int kafka_handle_init_producer_id(kafka_req_t *req, kafka_request_body_t *body)
{
    kafka_init_producer_id_resp_t resp = {0, KAFKA_ERR_NONE, -1, -1};
    if (body->init_producer_id.transactional_id.len >= 0) {
        resp.error_code = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE; /* no transactions */
        kafka_broker_count_error(req->b, KAFKA_API_INIT_PRODUCER_ID, resp.error_code);
    } else {
        resp.producer_id = kafka_producers_new_id(req->b->producers);
        resp.producer_epoch = 0;
    }
    return kafka_broker_encoded(
        req, kafka_encode_init_producer_id_resp(&req->slot->out, req->h.api_version, &resp));
}
