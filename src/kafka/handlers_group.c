/*
 * handlers_group.c - the consumer-group APIs: JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, ListGroups and
 * DescribeGroups, as glue between the wire structs and the coordinator
 * (group_int.h).
 *
 * Join, sync and commit report through callbacks that may run before the
 * coordinator call returns or much later. A call context notes which: if the
 * callback runs during the call, the handler answers at once (DONE);
 * otherwise it answers DEFER and the callback completes the slot.
 *
 * Threading: loop thread.
 */
#include "kafka/broker_int.h"

#include <string.h>

/* A pending coordinator call. Lives in its own arena. */
typedef struct {
    kafka_broker_t *b;
    kafka_slot_t *slot;
    int16_t version;
    bool in_call;  /* the coordinator call has not returned yet */
    bool answered; /* the callback ran */
    core_arena_t *arena;
    kafka_commit_req_t commit; /* OffsetCommit only */
} group_call_t;

static group_call_t *call_new(kafka_req_t *req)
{
    core_arena_t *a = core_arena_create(CORE_MEM_KAFKA, 4096, 64u << 20);
    group_call_t *c = a ? core_arena_alloc(a, sizeof *c) : NULL;
    if (c == NULL) {
        core_arena_destroy(a);
        return NULL;
    }
    memset(c, 0, sizeof *c);
    c->b = req->b;
    c->slot = req->slot;
    c->version = req->h.api_version;
    c->in_call = true;
    c->arena = a;
    return c;
}

/* After the callback encoded the answer: completes or hands back. */
static void call_answered(group_call_t *c)
{
    c->answered = true;
    if (!c->in_call) {
        kafka_broker_complete(c->b, c->slot);
        core_arena_destroy(c->arena);
    }
}

/* After the coordinator call returned: DONE if already answered. */
static int call_returned(group_call_t *c)
{
    c->in_call = false;
    if (!c->answered)
        return KAFKA_SERVER_DEFER;
    core_arena_destroy(c->arena);
    return KAFKA_SERVER_DONE;
}

static kafka_bytes_t peer_host(kafka_req_t *req)
{
    const char *peer = kafka_conn_peer(req->conn);
    const char *colon = strrchr(peer, ':');
    return kafka_bytes_of(peer, colon ? (size_t)(colon - peer) : strlen(peer));
}

static void join_done(void *arg, const kafka_join_result_t *res)
{
    group_call_t *c = arg;
    kafka_join_group_resp_member_t *members =
        core_arena_alloc(c->arena, (size_t)res->n_members * sizeof *members + 1);
    int32_t n = members ? res->n_members : 0;
    for (int32_t i = 0; i < n; i++)
        members[i] = (kafka_join_group_resp_member_t){
            res->members[i].member_id, res->members[i].instance_id, res->members[i].metadata};
    kafka_join_group_resp_t resp = {
        0,           res->error,     res->generation, res->protocol_name,
        res->leader, res->member_id, members,         n};
    kafka_broker_count_error(c->b, KAFKA_API_JOIN_GROUP, res->error);
    if (kafka_encode_join_group_resp(&c->slot->out, c->version, &resp) != 0)
        core_log(CORE_LOG_ERROR, "kafka", "cannot encode a JoinGroup response");
    call_answered(c);
}

int kafka_handle_join_group(kafka_req_t *req, kafka_request_body_t *body)
{
    const kafka_join_group_req_t *j = &body->join_group;
    group_call_t *c = call_new(req);
    kafka_group_protocol_t *protos =
        core_arena_alloc(req->arena, (size_t)j->n_protocols * sizeof *protos + 1);
    if (c == NULL || protos == NULL) {
        if (c)
            core_arena_destroy(c->arena);
        return kafka_broker_encoded(req, CORE_ENOMEM);
    }
    for (int32_t i = 0; i < j->n_protocols; i++)
        protos[i] = (kafka_group_protocol_t){j->protocols[i].name, j->protocols[i].metadata};
    kafka_join_req_t jr = {
        req->h.api_version,      j->group_id,    j->member_id,     j->group_instance_id,
        req->h.client_id,        peer_host(req), j->protocol_type, j->session_timeout_ms,
        j->rebalance_timeout_ms, protos,         j->n_protocols};
    kafka_group_join(req->b->groups, &jr, req->now_ms, join_done, c);
    return call_returned(c);
}

static void sync_done(void *arg, const kafka_sync_result_t *res)
{
    group_call_t *c = arg;
    kafka_sync_group_resp_t resp = {0, res->error, res->assignment};
    kafka_broker_count_error(c->b, KAFKA_API_SYNC_GROUP, res->error);
    if (kafka_encode_sync_group_resp(&c->slot->out, c->version, &resp) != 0)
        core_log(CORE_LOG_ERROR, "kafka", "cannot encode a SyncGroup response");
    call_answered(c);
}

int kafka_handle_sync_group(kafka_req_t *req, kafka_request_body_t *body)
{
    const kafka_sync_group_req_t *s = &body->sync_group;
    group_call_t *c = call_new(req);
    kafka_assignment_t *as =
        core_arena_alloc(req->arena, (size_t)s->n_assignments * sizeof *as + 1);
    if (c == NULL || as == NULL) {
        if (c)
            core_arena_destroy(c->arena);
        return kafka_broker_encoded(req, CORE_ENOMEM);
    }
    for (int32_t i = 0; i < s->n_assignments; i++)
        as[i] = (kafka_assignment_t){s->assignments[i].member_id, s->assignments[i].assignment};
    kafka_sync_req_t sr = {
        s->group_id,      s->member_id, s->group_instance_id, s->generation_id, KAFKA_NULL_BYTES,
        KAFKA_NULL_BYTES, as,           s->n_assignments};
    kafka_group_sync(req->b->groups, &sr, req->now_ms, sync_done, c);
    return call_returned(c);
}

int kafka_handle_heartbeat(kafka_req_t *req, kafka_request_body_t *body)
{
    const kafka_heartbeat_req_t *h = &body->heartbeat;
    kafka_heartbeat_resp_t resp = {0, kafka_group_heartbeat(req->b->groups, h->group_id,
                                                            h->member_id, h->group_instance_id,
                                                            h->generation_id, req->now_ms)};
    kafka_broker_count_error(req->b, KAFKA_API_HEARTBEAT, resp.error_code);
    return kafka_broker_encoded(
        req, kafka_encode_heartbeat_resp(&req->slot->out, req->h.api_version, &resp));
}

int kafka_handle_leave_group(kafka_req_t *req, kafka_request_body_t *body)
{
    const kafka_leave_group_req_t *l = &body->leave_group;
    kafka_leave_group_resp_member_t *out =
        core_arena_alloc(req->arena, (size_t)l->n_members * sizeof *out + 1);
    if (out == NULL)
        return kafka_broker_encoded(req, CORE_ENOMEM);
    int16_t first_error = KAFKA_ERR_NONE;
    for (int32_t i = 0; i < l->n_members; i++) {
        const kafka_leave_group_req_member_t *m = &l->members[i];
        int16_t err = kafka_group_leave(req->b->groups, l->group_id, m->member_id,
                                        m->group_instance_id, req->now_ms);
        out[i] = (kafka_leave_group_resp_member_t){m->member_id, m->group_instance_id, err};
        if (first_error == KAFKA_ERR_NONE)
            first_error = err;
    }
    /* v0-2 carry one member, whose error is the answer; v3 reports each. */
    kafka_leave_group_resp_t resp = {0, req->h.api_version >= 3 ? KAFKA_ERR_NONE : first_error, out,
                                     l->n_members};
    kafka_broker_count_error(req->b, KAFKA_API_LEAVE_GROUP, first_error);
    return kafka_broker_encoded(
        req, kafka_encode_leave_group_resp(&req->slot->out, req->h.api_version, &resp));
}

/* Builds the OffsetCommit response from the per-offset errors. */
static void commit_done(void *arg, kafka_commit_req_t *req)
{
    group_call_t *c = arg;
    /* Regroup the flat offsets list by topic, in request order. */
    kafka_offset_commit_resp_topic_t *topics =
        core_arena_alloc(c->arena, (size_t)req->n_offsets * sizeof *topics + 1);
    kafka_offset_commit_resp_part_t *parts =
        core_arena_alloc(c->arena, (size_t)req->n_offsets * sizeof *parts + 1);
    int32_t nt = 0;
    for (int32_t i = 0; topics && parts && i < req->n_offsets; i++) {
        const kafka_offset_commit_t *o = &req->offsets[i];
        parts[i] = (kafka_offset_commit_resp_part_t){o->partition, o->error};
        kafka_broker_count_error(c->b, KAFKA_API_OFFSET_COMMIT, o->error);
        if (nt > 0 && kafka_bytes_eq(topics[nt - 1].name, o->topic))
            topics[nt - 1].n_partitions++;
        else
            topics[nt++] = (kafka_offset_commit_resp_topic_t){o->topic, &parts[i], 1};
    }
    kafka_offset_commit_resp_t resp = {0, topics, topics && parts ? nt : 0};
    if (kafka_encode_offset_commit_resp(&c->slot->out, c->version, &resp) != 0)
        core_log(CORE_LOG_ERROR, "kafka", "cannot encode an OffsetCommit response");
    call_answered(c);
}

int kafka_handle_offset_commit(kafka_req_t *req, kafka_request_body_t *body)
{
    const kafka_offset_commit_req_t *oc = &body->offset_commit;
    group_call_t *c = call_new(req);
    if (c == NULL)
        return kafka_broker_encoded(req, CORE_ENOMEM);
    int32_t n = 0;
    for (int32_t i = 0; i < oc->n_topics; i++)
        n += oc->topics[i].n_partitions;
    kafka_offset_commit_t *offs = core_arena_alloc(c->arena, (size_t)n * sizeof *offs + 1);
    if (offs == NULL) {
        core_arena_destroy(c->arena);
        return kafka_broker_encoded(req, CORE_ENOMEM);
    }
    int32_t k = 0;
    for (int32_t i = 0; i < oc->n_topics; i++) {
        kafka_bytes_t topic = kafka_bytes_dup(c->arena, oc->topics[i].name);
        for (int32_t j = 0; j < oc->topics[i].n_partitions; j++) {
            const kafka_offset_commit_req_part_t *p = &oc->topics[i].partitions[j];
            offs[k++] = (kafka_offset_commit_t){topic,
                                                p->partition,
                                                p->committed_offset,
                                                p->committed_leader_epoch,
                                                kafka_bytes_dup(c->arena, p->committed_metadata),
                                                KAFKA_ERR_NONE};
        }
    }
    c->commit = (kafka_commit_req_t){kafka_bytes_dup(c->arena, oc->group_id),
                                     oc->generation_id,
                                     kafka_bytes_dup(c->arena, oc->member_id),
                                     kafka_bytes_dup(c->arena, oc->group_instance_id),
                                     offs,
                                     n};
    kafka_group_commit(req->b->groups, &c->commit, req->now_ms, commit_done, c);
    return call_returned(c);
}

/* Collects every committed offset of a group (OffsetFetch, null topics). */
typedef struct {
    core_arena_t *a;
    kafka_offset_fetch_resp_topic_t *topics;
    int32_t n, cap;
} committed_list_t;

static int add_committed(void *arg, kafka_bytes_t topic, int32_t partition,
                         const kafka_committed_t *c)
{
    committed_list_t *l = arg;
    if (l->n == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 16;
        kafka_offset_fetch_resp_topic_t *t = core_arena_alloc(l->a, (size_t)cap * sizeof *t);
        if (t == NULL)
            return 1;
        if (l->n > 0)
            memcpy(t, l->topics, (size_t)l->n * sizeof *t);
        l->topics = t;
        l->cap = cap;
    }
    kafka_offset_fetch_resp_part_t *p = core_arena_alloc(l->a, sizeof *p);
    if (p == NULL)
        return 1;
    *p = (kafka_offset_fetch_resp_part_t){partition, c->offset, c->leader_epoch,
                                          kafka_bytes_dup(l->a, c->metadata), KAFKA_ERR_NONE};
    l->topics[l->n++] = (kafka_offset_fetch_resp_topic_t){kafka_bytes_dup(l->a, topic), p, 1};
    return 0;
}

int kafka_handle_offset_fetch(kafka_req_t *req, kafka_request_body_t *body)
{
    const kafka_offset_fetch_req_t *of = &body->offset_fetch;
    committed_list_t l = {req->arena, NULL, 0, 0};
    if (of->n_topics < 0) {
        kafka_group_committed_each(req->b->groups, of->group_id, add_committed, &l);
    } else {
        l.topics = core_arena_alloc(req->arena, (size_t)of->n_topics * sizeof *l.topics + 1);
        for (int32_t i = 0; l.topics && i < of->n_topics; i++) {
            const kafka_offset_fetch_req_topic_t *t = &of->topics[i];
            kafka_offset_fetch_resp_part_t *parts =
                core_arena_alloc(req->arena, (size_t)t->n_partitions * sizeof *parts + 1);
            if (parts == NULL)
                return kafka_broker_encoded(req, CORE_ENOMEM);
            for (int32_t k = 0; k < t->n_partitions; k++) {
                kafka_committed_t c;
                int16_t err = kafka_group_committed(req->b->groups, of->group_id, t->name,
                                                    t->partitions[k], &c);
                parts[k] =
                    (kafka_offset_fetch_resp_part_t){t->partitions[k], c.offset, c.leader_epoch,
                                                     kafka_bytes_dup(req->arena, c.metadata), err};
            }
            l.topics[l.n++] = (kafka_offset_fetch_resp_topic_t){t->name, parts, t->n_partitions};
        }
    }
    if (l.topics == NULL && l.n > 0)
        return kafka_broker_encoded(req, CORE_ENOMEM);
    kafka_offset_fetch_resp_t resp = {0, l.topics, l.n, KAFKA_ERR_NONE};
    return kafka_broker_encoded(
        req, kafka_encode_offset_fetch_resp(&req->slot->out, req->h.api_version, &resp));
}

typedef struct {
    core_arena_t *a;
    kafka_list_groups_resp_group_t *groups;
    int32_t n, cap;
} group_list_t;

static void add_group(void *arg, const kafka_group_info_t *info)
{
    group_list_t *l = arg;
    if (l->n == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 16;
        kafka_list_groups_resp_group_t *g = core_arena_alloc(l->a, (size_t)cap * sizeof *g);
        if (g == NULL)
            return;
        if (l->n > 0)
            memcpy(g, l->groups, (size_t)l->n * sizeof *g);
        l->groups = g;
        l->cap = cap;
    }
    l->groups[l->n++] = (kafka_list_groups_resp_group_t){
        kafka_bytes_dup(l->a, info->group_id), kafka_bytes_dup(l->a, info->protocol_type)};
}

int kafka_handle_list_groups(kafka_req_t *req, kafka_request_body_t *body)
{
    (void)body;
    group_list_t l = {req->arena, NULL, 0, 0};
    kafka_groups_each(req->b->groups, add_group, &l);
    kafka_list_groups_resp_t resp = {0, KAFKA_ERR_NONE, l.groups, l.n};
    return kafka_broker_encoded(
        req, kafka_encode_list_groups_resp(&req->slot->out, req->h.api_version, &resp));
}

typedef struct {
    core_arena_t *a;
    kafka_describe_groups_resp_group_t *out;
} describe_ctx_t;

static void describe_one(void *arg, const kafka_group_info_t *info)
{
    describe_ctx_t *d = arg;
    core_arena_t *a = d->a;
    kafka_describe_groups_resp_member_t *m =
        core_arena_alloc(a, (size_t)info->n_members * sizeof *m + 1);
    int32_t n = m ? info->n_members : 0;
    for (int32_t i = 0; i < n; i++) {
        const kafka_group_member_info_t *src = &info->members[i];
        m[i] = (kafka_describe_groups_resp_member_t){
            kafka_bytes_dup(a, src->member_id), kafka_bytes_dup(a, src->instance_id),
            kafka_bytes_dup(a, src->client_id), kafka_bytes_dup(a, src->client_host),
            kafka_bytes_dup(a, src->metadata),  kafka_bytes_dup(a, src->assignment)};
    }
    d->out->group_state = kafka_bytes_dup(a, kafka_bytes_cstr(info->state));
    d->out->protocol_type = kafka_bytes_dup(a, info->protocol_type);
    d->out->protocol_data = kafka_bytes_dup(a, info->protocol_name);
    d->out->members = m;
    d->out->n_members = n;
}

int kafka_handle_describe_groups(kafka_req_t *req, kafka_request_body_t *body)
{
    const kafka_describe_groups_req_t *dg = &body->describe_groups;
    kafka_describe_groups_resp_group_t *out =
        core_arena_alloc(req->arena, (size_t)dg->n_groups * sizeof *out + 1);
    if (out == NULL)
        return kafka_broker_encoded(req, CORE_ENOMEM);
    for (int32_t i = 0; i < dg->n_groups; i++) {
        out[i] = (kafka_describe_groups_resp_group_t){KAFKA_ERR_NONE,
                                                      dg->groups[i],
                                                      kafka_bytes_cstr("Dead"),
                                                      kafka_bytes_cstr(""),
                                                      kafka_bytes_cstr(""),
                                                      NULL,
                                                      0,
                                                      INT32_MIN};
        describe_ctx_t d = {req->arena, &out[i]};
        out[i].error_code = kafka_group_describe(req->b->groups, dg->groups[i], describe_one, &d);
    }
    kafka_describe_groups_resp_t resp = {0, out, dg->n_groups};
    return kafka_broker_encoded(
        req, kafka_encode_describe_groups_resp(&req->slot->out, req->h.api_version, &resp));
}
