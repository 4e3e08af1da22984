/*
 * proto_group.c - the consumer-group APIs: OffsetCommit (v0-7), OffsetFetch
 * (v1-5), FindCoordinator (v0-2), JoinGroup (v0-5), Heartbeat (v0-3),
 * LeaveGroup (v0-3), SyncGroup (v0-3), DescribeGroups (v0-4) and
 * ListGroups (v0-2). Request decoders and response encoders laid out as
 * apache/kafka's message JSONs say; the comment beside a versioned field
 * names its versions.
 *
 * Invariants: as in proto_data.c (views and arena memory only, whole body
 * consumed, JSON defaults for absent fields). Normalisations made here so
 * handlers need not know the version:
 *   - JoinGroup v0 has no rebalance timeout: it is set to the session
 *     timeout, as Kafka does.
 *   - LeaveGroup v0-2 carry one member id: it is also exposed as a
 *     one-entry members array.
 *   - OffsetFetch's top-level ErrorCode (v2+) comes AFTER the topics.
 *
 * Threading: reentrant; no shared state.
 */
#include "kafka/proto_int.h"

/* ------------------------------------------------------------------------
 * OffsetCommit
 * ------------------------------------------------------------------------ */
static void offset_commit_req_topic(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                    kafka_offset_commit_req_topic_t *t)
{
    t->name = kafka_rd_string(r, "topics.name");
    /* partition (4) + offset (8) + metadata length (2) */
    int32_t n = kafka_rd_array(r, 14, "topics.partitions");
    t->partitions = kafka_rd_alloc(r, a, n, sizeof(*t->partitions), "topics.partitions");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        kafka_offset_commit_req_part_t *p = &t->partitions[i];
        p->partition = kafka_rd_i32(r, "partitions.partition_index");
        p->committed_offset = kafka_rd_i64(r, "partitions.committed_offset");
        p->committed_leader_epoch = -1;
        if (version >= 6)
            p->committed_leader_epoch = kafka_rd_i32(r, "partitions.committed_leader_epoch");
        p->commit_timestamp = -1;
        if (version == 1)
            p->commit_timestamp = kafka_rd_i64(r, "partitions.commit_timestamp");
        p->committed_metadata = kafka_rd_nstring(r, "partitions.committed_metadata");
    }
    t->n_partitions = r->err == 0 ? n : 0;
}

int kafka_decode_offset_commit_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                   kafka_offset_commit_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_OFFSET_COMMIT, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->group_id = kafka_rd_string(r, "group_id");
    out->generation_id = -1;
    out->member_id = (kafka_bytes_t){NULL, 0};
    if (version >= 1) {
        out->generation_id = kafka_rd_i32(r, "generation_id_or_member_epoch");
        out->member_id = kafka_rd_string(r, "member_id");
    }
    out->group_instance_id = KAFKA_NULL_BYTES;
    if (version >= 7)
        out->group_instance_id = kafka_rd_nstring(r, "group_instance_id");
    out->retention_time_ms = -1;
    if (version >= 2 && version <= 4)
        out->retention_time_ms = kafka_rd_i64(r, "retention_time_ms");
    int32_t n = kafka_rd_array(r, 6, "topics");
    out->topics = kafka_rd_alloc(r, a, n, sizeof(*out->topics), "topics");
    for (int32_t i = 0; i < n && r->err == 0; i++)
        offset_commit_req_topic(r, version, a, &out->topics[i]);
    out->n_topics = r->err == 0 ? n : 0;
    return kafka_rd_finish(r, "OffsetCommit", version);
}

int kafka_encode_offset_commit_resp(core_buf_t *out, int16_t version,
                                    const kafka_offset_commit_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_OFFSET_COMMIT, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 3)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_array(&w, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const kafka_offset_commit_resp_topic_t *t = &resp->topics[i];
        kafka_wr_string(&w, t->name);
        kafka_wr_array(&w, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++) {
            kafka_wr_i32(&w, t->partitions[j].partition);
            kafka_wr_i16(&w, t->partitions[j].error_code);
        }
    }
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * OffsetFetch
 * ------------------------------------------------------------------------ */
int kafka_decode_offset_fetch_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                  kafka_offset_fetch_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_OFFSET_FETCH, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->group_id = kafka_rd_string(r, "group_id");
    /* name length (2) + partition count (4); null means "all" from v2 */
    int32_t n = version >= 2 ? kafka_rd_narray(r, 6, "topics") : kafka_rd_array(r, 6, "topics");
    out->topics = kafka_rd_alloc(r, a, n, sizeof(*out->topics), "topics");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        kafka_offset_fetch_req_topic_t *t = &out->topics[i];
        t->name = kafka_rd_string(r, "topics.name");
        kafka_rd_i32_array(r, a, &t->partitions, &t->n_partitions, "topics.partition_indexes");
    }
    out->n_topics = r->err == 0 ? n : 0;
    return kafka_rd_finish(r, "OffsetFetch", version);
}

static void offset_fetch_resp_part(kafka_wr_t *w, int16_t version,
                                   const kafka_offset_fetch_resp_part_t *p)
{
    kafka_wr_i32(w, p->partition);
    kafka_wr_i64(w, p->committed_offset);
    if (version >= 5)
        kafka_wr_i32(w, p->committed_leader_epoch);
    kafka_wr_nstring(w, p->metadata);
    kafka_wr_i16(w, p->error_code);
}

int kafka_encode_offset_fetch_resp(core_buf_t *out, int16_t version,
                                   const kafka_offset_fetch_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_OFFSET_FETCH, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 3)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_array(&w, resp->n_topics);
    for (int32_t i = 0; i < resp->n_topics; i++) {
        const kafka_offset_fetch_resp_topic_t *t = &resp->topics[i];
        kafka_wr_string(&w, t->name);
        kafka_wr_array(&w, t->n_partitions);
        for (int32_t j = 0; j < t->n_partitions; j++)
            offset_fetch_resp_part(&w, version, &t->partitions[j]);
    }
    if (version >= 2)
        kafka_wr_i16(&w, resp->error_code);
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * FindCoordinator
 * ------------------------------------------------------------------------ */
int kafka_decode_find_coordinator_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                      kafka_find_coordinator_req_t *out)
{
    (void)a;
    int rc = kafka_api_check(KAFKA_API_FIND_COORDINATOR, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->key = kafka_rd_string(r, "key");
    if (version >= 1)
        out->key_type = kafka_rd_i8(r, "key_type");
    return kafka_rd_finish(r, "FindCoordinator", version);
}

int kafka_encode_find_coordinator_resp(core_buf_t *out, int16_t version,
                                       const kafka_find_coordinator_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_FIND_COORDINATOR, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 1)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_i16(&w, resp->error_code);
    if (version >= 1)
        kafka_wr_nstring(&w, resp->error_message);
    kafka_wr_i32(&w, resp->node_id);
    kafka_wr_string(&w, resp->host);
    kafka_wr_i32(&w, resp->port);
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * JoinGroup
 * ------------------------------------------------------------------------ */
int kafka_decode_join_group_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                kafka_join_group_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_JOIN_GROUP, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->group_id = kafka_rd_string(r, "group_id");
    out->session_timeout_ms = kafka_rd_i32(r, "session_timeout_ms");
    out->rebalance_timeout_ms = out->session_timeout_ms;
    if (version >= 1)
        out->rebalance_timeout_ms = kafka_rd_i32(r, "rebalance_timeout_ms");
    out->member_id = kafka_rd_string(r, "member_id");
    out->group_instance_id = KAFKA_NULL_BYTES;
    if (version >= 5)
        out->group_instance_id = kafka_rd_nstring(r, "group_instance_id");
    out->protocol_type = kafka_rd_string(r, "protocol_type");
    /* name length (2) + metadata length (4) */
    int32_t n = kafka_rd_array(r, 6, "protocols");
    out->protocols = kafka_rd_alloc(r, a, n, sizeof(*out->protocols), "protocols");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        out->protocols[i].name = kafka_rd_string(r, "protocols.name");
        out->protocols[i].metadata = kafka_rd_bytes(r, "protocols.metadata");
    }
    out->n_protocols = r->err == 0 ? n : 0;
    return kafka_rd_finish(r, "JoinGroup", version);
}

int kafka_encode_join_group_resp(core_buf_t *out, int16_t version,
                                 const kafka_join_group_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_JOIN_GROUP, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 2)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_i16(&w, resp->error_code);
    kafka_wr_i32(&w, resp->generation_id);
    kafka_wr_string(&w, resp->protocol_name);
    kafka_wr_string(&w, resp->leader);
    kafka_wr_string(&w, resp->member_id);
    kafka_wr_array(&w, resp->n_members);
    for (int32_t i = 0; i < resp->n_members; i++) {
        const kafka_join_group_resp_member_t *m = &resp->members[i];
        kafka_wr_string(&w, m->member_id);
        if (version >= 5)
            kafka_wr_nstring(&w, m->group_instance_id);
        kafka_wr_bytes(&w, m->metadata);
    }
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * Heartbeat
 * ------------------------------------------------------------------------ */
int kafka_decode_heartbeat_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                               kafka_heartbeat_req_t *out)
{
    (void)a;
    int rc = kafka_api_check(KAFKA_API_HEARTBEAT, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->group_id = kafka_rd_string(r, "group_id");
    out->generation_id = kafka_rd_i32(r, "generation_id");
    out->member_id = kafka_rd_string(r, "member_id");
    out->group_instance_id = KAFKA_NULL_BYTES;
    if (version >= 3)
        out->group_instance_id = kafka_rd_nstring(r, "group_instance_id");
    return kafka_rd_finish(r, "Heartbeat", version);
}

int kafka_encode_heartbeat_resp(core_buf_t *out, int16_t version,
                                const kafka_heartbeat_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_HEARTBEAT, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 1)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_i16(&w, resp->error_code);
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * LeaveGroup
 * ------------------------------------------------------------------------ */
int kafka_decode_leave_group_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                 kafka_leave_group_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_LEAVE_GROUP, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->group_id = kafka_rd_string(r, "group_id");
    if (version <= 2) {
        out->member_id = kafka_rd_string(r, "member_id");
        out->members = kafka_rd_alloc(r, a, 1, sizeof(*out->members), "member_id");
        if (out->members != NULL) {
            out->members[0].member_id = out->member_id;
            out->members[0].group_instance_id = KAFKA_NULL_BYTES;
            out->n_members = 1;
        }
        return kafka_rd_finish(r, "LeaveGroup", version);
    }
    out->member_id = (kafka_bytes_t){NULL, 0};
    /* member id length (2) + instance id length (2) */
    int32_t n = kafka_rd_array(r, 4, "members");
    out->members = kafka_rd_alloc(r, a, n, sizeof(*out->members), "members");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        out->members[i].member_id = kafka_rd_string(r, "members.member_id");
        out->members[i].group_instance_id = kafka_rd_nstring(r, "members.group_instance_id");
    }
    out->n_members = r->err == 0 ? n : 0;
    return kafka_rd_finish(r, "LeaveGroup", version);
}

int kafka_encode_leave_group_resp(core_buf_t *out, int16_t version,
                                  const kafka_leave_group_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_LEAVE_GROUP, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 1)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_i16(&w, resp->error_code);
    if (version >= 3) {
        kafka_wr_array(&w, resp->n_members);
        for (int32_t i = 0; i < resp->n_members; i++) {
            const kafka_leave_group_resp_member_t *m = &resp->members[i];
            kafka_wr_string(&w, m->member_id);
            kafka_wr_nstring(&w, m->group_instance_id);
            kafka_wr_i16(&w, m->error_code);
        }
    }
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * SyncGroup
 * ------------------------------------------------------------------------ */
int kafka_decode_sync_group_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                kafka_sync_group_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_SYNC_GROUP, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->group_id = kafka_rd_string(r, "group_id");
    out->generation_id = kafka_rd_i32(r, "generation_id");
    out->member_id = kafka_rd_string(r, "member_id");
    out->group_instance_id = KAFKA_NULL_BYTES;
    if (version >= 3)
        out->group_instance_id = kafka_rd_nstring(r, "group_instance_id");
    /* member id length (2) + assignment length (4) */
    int32_t n = kafka_rd_array(r, 6, "assignments");
    out->assignments = kafka_rd_alloc(r, a, n, sizeof(*out->assignments), "assignments");
    for (int32_t i = 0; i < n && r->err == 0; i++) {
        out->assignments[i].member_id = kafka_rd_string(r, "assignments.member_id");
        out->assignments[i].assignment = kafka_rd_bytes(r, "assignments.assignment");
    }
    out->n_assignments = r->err == 0 ? n : 0;
    return kafka_rd_finish(r, "SyncGroup", version);
}

int kafka_encode_sync_group_resp(core_buf_t *out, int16_t version,
                                 const kafka_sync_group_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_SYNC_GROUP, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 1)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_i16(&w, resp->error_code);
    kafka_wr_bytes(&w, resp->assignment);
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * DescribeGroups
 * ------------------------------------------------------------------------ */
int kafka_decode_describe_groups_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                     kafka_describe_groups_req_t *out)
{
    int rc = kafka_api_check(KAFKA_API_DESCRIBE_GROUPS, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    kafka_rd_string_array(r, a, &out->groups, &out->n_groups, "groups");
    if (version >= 3)
        out->include_authorized_operations = kafka_rd_bool(r, "include_authorized_operations");
    return kafka_rd_finish(r, "DescribeGroups", version);
}

static void describe_groups_resp_group(kafka_wr_t *w, int16_t version,
                                       const kafka_describe_groups_resp_group_t *g)
{
    kafka_wr_i16(w, g->error_code);
    kafka_wr_string(w, g->group_id);
    kafka_wr_string(w, g->group_state);
    kafka_wr_string(w, g->protocol_type);
    kafka_wr_string(w, g->protocol_data);
    kafka_wr_array(w, g->n_members);
    for (int32_t j = 0; j < g->n_members; j++) {
        const kafka_describe_groups_resp_member_t *m = &g->members[j];
        kafka_wr_string(w, m->member_id);
        if (version >= 4)
            kafka_wr_nstring(w, m->group_instance_id);
        kafka_wr_string(w, m->client_id);
        kafka_wr_string(w, m->client_host);
        kafka_wr_bytes(w, m->member_metadata);
        kafka_wr_bytes(w, m->member_assignment);
    }
    if (version >= 3)
        kafka_wr_i32(w, g->authorized_operations);
}

int kafka_encode_describe_groups_resp(core_buf_t *out, int16_t version,
                                      const kafka_describe_groups_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_DESCRIBE_GROUPS, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 1)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_array(&w, resp->n_groups);
    for (int32_t i = 0; i < resp->n_groups; i++)
        describe_groups_resp_group(&w, version, &resp->groups[i]);
    return kafka_wr_finish(&w);
}

/* ------------------------------------------------------------------------
 * ListGroups
 * ------------------------------------------------------------------------ */
int kafka_decode_list_groups_req(kafka_rd_t *r, int16_t version, core_arena_t *a,
                                 kafka_list_groups_req_t *out)
{
    (void)a;
    int rc = kafka_api_check(KAFKA_API_LIST_GROUPS, version);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    return kafka_rd_finish(r, "ListGroups", version);
}

int kafka_encode_list_groups_resp(core_buf_t *out, int16_t version,
                                  const kafka_list_groups_resp_t *resp)
{
    int rc = kafka_api_check(KAFKA_API_LIST_GROUPS, version);
    if (rc < 0)
        return rc;
    kafka_wr_t w;
    kafka_wr_init(&w, out);
    if (version >= 1)
        kafka_wr_i32(&w, resp->throttle_time_ms);
    kafka_wr_i16(&w, resp->error_code);
    kafka_wr_array(&w, resp->n_groups);
    for (int32_t i = 0; i < resp->n_groups; i++) {
        kafka_wr_string(&w, resp->groups[i].group_id);
        kafka_wr_string(&w, resp->groups[i].protocol_type);
    }
    return kafka_wr_finish(&w);
}
