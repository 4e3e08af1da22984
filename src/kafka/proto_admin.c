/*
 * proto_admin.c - the cluster and admin APIs: ApiVersions (v0-3),
 * Metadata (v0-7), CreateTopics (v0-4), DeleteTopics (v0-3) and
 * InitProducerId (v0-1). Request decoders and response encoders laid out
 * as apache/kafka's message JSONs say; the comment beside a versioned field
 * names its versions.
 *
 * Invariants: as in proto_data.c (views and arena memory only, whole body
 * consumed, JSON defaults for absent fields). Quirks kept here on purpose:
 *   - ApiVersions v3 is the only flexible version served: its request has
 *     compact strings and tags, its response a compact array with a tag
 *     byte per entry and a final tag byte, and ThrottleTimeMs comes after
 *     the array (it does in every version).
 *   - A null Metadata topic array is accepted only from v1 (nullable there).
 *
 * Threading: reentrant; no shared state.
 */
#include "kafka/proto_int.h"

/* ------------------------------------------------------------------------
 * ApiVersions
 * ------------------------------------------------------------------------ */
int kafka_decode_api_versions_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                  kafka_api_versions_req_t *out)
{
    (void)a;
    int rc = kafka_api_check(KAFKA_API_API_VERSIONS, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    if (version >= 3) {
        out->client_software_name = kafka_rd_cstring(r, "client_software_name");
        out->client_software_version = kafka_rd_cstring(r, "client_software_version");
        kafka_rd_tags(r);
    }
    return kafka_rd_finish(r, "ApiVersions", version);
}

int kafka_encode_api_versions_resp(core_buf_t *out, int16_t version,
                                   const kafka_api_versions_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_API_VERSIONS, version);
    if (rc < 0)
        return rc;
    const kafka_api_info_t *apis = resp->apis;
    int32_t n = resp->n_apis;
    if (apis == NULL && n == 0) {
        apis = kafka_apis;
        n = kafka_apis_count;
    }
    bool flex = version >= 3;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    kafka_wr_i16(&w, resp->error_code);
    if (flex)
        kafka_wr_carray(&w, n);
    else
        kafka_wr_array(&w, n);
    for (int32_t i = 0; i < n; i++) {
        kafka_wr_i16(&w, apis[i].api_key);
        kafka_wr_i16(&w, apis[i].min_version);
        kafka_wr_i16(&w, apis[i].max_version);
        if (flex)
            kafka_wr_tags(&w);
    }
    if (version >= 1)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    if (flex)
        kafka_wr_tags(&w);
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * Metadata
 * ------------------------------------------------------------------------ */
int kafka_decode_metadata_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                              kafka_metadata_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_METADATA, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    /* Each topic is at least a string length (2). */
    int32_t n = version >= 1 ? kafka_rd_narray(r, 2, "topics") : kafka_rd_array(r, 2, "topics");
    out->topics = kafka_rd_alloc(r, a, n, sizeof(*out->topics), "topics");
    for (int32_t i = 0; i < n && r->err == 0; i++)
        out->topics[i] = kafka_rd_string(r, "topics.name");
    out->n_topics = r->err == 0 ? n : 0;
    out->allow_auto_topic_creation = true;
    if (version >= 4)
        out->allow_auto_topic_creation = kafka_rd_bool(r, "allow_auto_topic_creation");
    return kafka_rd_finish(r, "Metadata", version);
}

static void metadata_resp_part(kafka_wr_t *w, int16_t version, const kafka_metadata_resp_part_t *p)
{
    kafka_wr_i16(w, p->error_code);
    kafka_wr_i32(w, p->partition);
    kafka_wr_i32(w, p->leader_id);
    if (version >= 7)
        kafka_wr_i32(w, p->leader_epoch);
    kafka_wr_i32_array(w, p->replicas, p->n_replicas);
    kafka_wr_i32_array(w, p->isr, p->n_isr);
    if (version >= 5)
        kafka_wr_i32_array(w, p->offline_replicas, p->n_offline_replicas);
}

static void metadata_resp_topic(kafka_wr_t *w, int16_t version,
                                const kafka_metadata_resp_topic_t *t)
{
    kafka_wr_i16(w, t->error_code);
    kafka_wr_string(w, t->name);
    if (version >= 1)
        kafka_wr_bool(w, t->is_internal);
    kafka_wr_array(w, t->n_partitions);
    for (int32_t j = 0; j < t->n_partitions; j++)
        metadata_resp_part(w, version, &t->partitions[j]);
}

int kafka_encode_metadata_resp(core_buf_t *out, int16_t version, const kafka_metadata_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_METADATA, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 3)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_array(&w, resp->n_brokers);
    for (int32_t i = 0; i < resp->n_brokers; i++) {
        const kafka_metadata_resp_broker_t *b = &resp->brokers[i];
        kafka_wr_i32(&w, b->node_id);
        kafka_wr_string(&w, b->host);
        kafka_wr_i32(&w, b->port);
        if (version >= 1)
            kafka_wr_nstring(&w, b->rack);
    }
    if (version >= 2)
        kafka_wr_nstring(&w, resp->cluster_id);
    if (version >= 1)
        kafka_wr_i32(&w, resp->controller_id);
    kafka_wr_array(&w, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++)
        metadata_resp_topic(&w, version, &resp->topics[i]);
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * CreateTopics
 * ------------------------------------------------------------------------ */
static void create_topics_req_assignments(kafka_rd_t *r, core_arena_t *a,
                                          kafka_create_topics_req_topic_t *t)
{
    /* partition index (4) + broker id count (4) */
    int32_t n = kafka_rd_array(r, 8, "topics.assignments");
    t->assignments = kafka_rd_alloc(r, a, n, sizeof(*t->assignments), "topics.assignments");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        kafka_create_topics_req_assignment_t *as = &t->assignments[i];
        as->partition = kafka_rd_i32(r, "assignments.partition_index");
        kafka_rd_i32_array(r, a, &as->broker_ids, &as->n_broker_ids, "assignments.broker_ids");
    }
    t->n_assignments = r->err == 0 ? n : 0;
}

static void create_topics_req_configs(kafka_rd_t *r, core_arena_t *a,
                                      kafka_create_topics_req_topic_t *t)
{
    /* name length (2) + value length (2) */
    int32_t n = kafka_rd_array(r, 4, "topics.configs");
    t->configs = kafka_rd_alloc(r, a, n, sizeof(*t->configs), "topics.configs");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        t->configs[i].name = kafka_rd_string(r, "configs.name");
        t->configs[i].value = kafka_rd_nstring(r, "configs.value");
    }
    t->n_configs = r->err == 0 ? n : 0;
}

int kafka_decode_create_topics_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                   kafka_create_topics_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_CREATE_TOPICS, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    /* name (2) + partitions (4) + replication factor (2) + two counts (8) */
    int32_t n = kafka_rd_array(r, 16, "topics");
    out->topics = kafka_rd_alloc(r, a, n, sizeof(*out->topics), "topics");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        kafka_create_topics_req_topic_t *t = &out->topics[i];
        t->name = kafka_rd_string(r, "topics.name");
        t->num_partitions = kafka_rd_i32(r, "topics.num_partitions");
        t->replication_factor = kafka_rd_i16(r, "topics.replication_factor");
        create_topics_req_assignments(r, a, t);
        create_topics_req_configs(r, a, t);
    }
    out->n_topics = r->err == 0 ? n : 0;
    out->timeout_ms = kafka_rd_i32(r, "timeout_ms");
    if (version >= 1)
        out->validate_only = kafka_rd_bool(r, "validate_only");
    return kafka_rd_finish(r, "CreateTopics", version);
}

int kafka_encode_create_topics_resp(core_buf_t *out, int16_t version,
                                    const kafka_create_topics_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_CREATE_TOPICS, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 2)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_array(&w, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const kafka_create_topics_resp_topic_t *t = &resp->topics[i];
        kafka_wr_string(&w, t->name);
        kafka_wr_i16(&w, t->error_code);
        if (version >= 1)
            kafka_wr_nstring(&w, t->error_message);
    }
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * DeleteTopics
 * ------------------------------------------------------------------------ */
int kafka_decode_delete_topics_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                   kafka_delete_topics_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_DELETE_TOPICS, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    kafka_rd_string_array(r, a, &out->topic_names, &out->n_topic_names, "topic_names");
    out->timeout_ms = kafka_rd_i32(r, "timeout_ms");
    return kafka_rd_finish(r, "DeleteTopics", version);
}

int kafka_encode_delete_topics_resp(core_buf_t *out, int16_t version,
                                    const kafka_delete_topics_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_DELETE_TOPICS, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 1)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_array(&w, resp->n_responses);
    for (int32_t i = 0; i < resp->n_responses; i++) {
        kafka_wr_string(&w, resp->responses[i].name);
        kafka_wr_i16(&w, resp->responses[i].error_code);
    }
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * InitProducerId
 * ------------------------------------------------------------------------ */
int kafka_decode_init_producer_id_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                      kafka_init_producer_id_req_t *out)
{
    (void)a;
    int rc = kafka_api_check(KAFKA_API_INIT_PRODUCER_ID, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->transactional_id = kafka_rd_nstring(r, "transactional_id");
    out->transaction_timeout_ms = kafka_rd_i32(r, "transaction_timeout_ms");
    return kafka_rd_finish(r, "InitProducerId", version);
}

int kafka_encode_init_producer_id_resp(core_buf_t *out, int16_t version,
                                       const kafka_init_producer_id_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_INIT_PRODUCER_ID, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_i16(&w, resp->error_code);
    kafka_wr_i64(&w, resp->producer_id);
    kafka_wr_i16(&w, resp->producer_epoch);
    return kafka_wr_finish(&w);
}
