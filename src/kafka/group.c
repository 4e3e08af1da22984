/*
 * group.c - the classic consumer-group coordinator: the rebalance state
 * machine, timers, and the API of group_int.h, including the membership
 * checks in front of committed offsets. Storage, lookups, member ids and the
 * result outbox are in group_members.c; the offsets themselves in
 * group_offsets.c. Spec: shared/reference/kafka-protocol.md section 4;
 * behaviour follows Kafka's GroupMetadataManager and ClassicGroup.
 *
 * State machine per group (function behind each transition):
 *
 *   Empty --join (member_add)--> PreparingRebalance          prepare_rebalance
 *   PreparingRebalance --every member rejoined, no pending id,
 *        or join deadline (rebalance timeout; initial delay when the group
 *        came from Empty)--> CompletingRebalance               complete_join
 *        (members that did not rejoin are removed; none left --> Empty)
 *   CompletingRebalance --leader's SyncGroup--> Stable          sync_park
 *   Stable/CompletingRebalance --join with new metadata, leader join,
 *        leave, session expiry, sync deadline--> PreparingRebalance
 *   "Dead" is only what DescribeGroups reports for an unknown group.
 *
 * Invariants:
 *   1. A member has at most one parked join and one parked sync callback;
 *      every callback handed to the coordinator is called exactly once
 *      (a replaced parked call is answered REBALANCE_IN_PROGRESS, a
 *      removed member's with UNKNOWN_MEMBER_ID, destroy with
 *      COORDINATOR_NOT_AVAILABLE).
 *   2. A member with a parked join (unless new) or sync never expires
 *      (Redpanda PR #22749); a new member whose join is parked expires
 *      after new_member_join_timeout_ms; pending member ids expire after
 *      min(their session timeout, new_member_join_timeout_ms).
 *   3. PreparingRebalance always has a finite join deadline, so a group
 *      whose members vanish completes (to Empty if need be): KAFKA-7909.
 *   4. Generations only grow; commits, heartbeats and syncs from another
 *      generation are refused with ILLEGAL_GENERATION (spring-kafka #3186).
 *   5. Results are queued in the outbox with copies of their bytes and
 *      delivered by flush_outbox() once the state is consistent, at the end
 *      of each entry point; callbacks may therefore call back in. Only when
 *      that copy cannot be allocated is a callback called on the spot.
 *
 * Members are kept in join order (the first is the default leader); lookups
 * are linear, which suits groups of up to a few hundred members.
 *
 * Threading: loop thread only.
 */
#include "kafka/group_int.h"

#include "kafka/group_members_int.h"

#include <string.h>

#define SWEEP_PER_TICK 64 /* empty groups forgotten per tick */

static const char *const state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance",
                                          "Stable"};

/* ConsumerProtocolAssignment v0 with no partitions and null user data: what
 * a "consumer" member gets instead of empty bytes (kafka-python rejects b""). */
static const uint8_t empty_consumer_assignment[] = {0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};

/* ---- rebalancing ---------------------------------------------------------- */

static void complete_join(kafka_groups_t *g, kafka_group_t *grp, int64_t now_ms);

/* Queues m's join reply for the current generation; only the leader's
 * lists the members with their metadata for the chosen protocol. */
static void push_join_reply(kafka_groups_t *g, kafka_group_t *grp, kafka_member_t *m,
                            kafka_join_cb cb, void *arg)
{
    kafka_bytes_t protocol = gb_view(&grp->protocol_name);
    kafka_join_result_t r = {.error = KAFKA_ERR_NONE,
                             .generation = grp->generation,
                             .protocol_type = gb_view(&grp->protocol_type),
                             .protocol_name = protocol,
                             .leader = gb_view(&grp->leader->id),
                             .member_id = gb_view(&m->id)};
    kafka_join_member_t *list = NULL;
    if (m == grp->leader) {
        list = core_calloc(CORE_MEM_KAFKA, (size_t)grp->n_members, sizeof *list);
        if (list == NULL)
            r.error = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE; /* the leader rejoins */
        for (int32_t i = 0; list && i < grp->n_members; i++) {
            const kafka_member_t *x = grp->members[i];
            list[i] = (kafka_join_member_t){gb_view(&x->id), gb_view(&x->instance_id),
                                            kafka_member_metadata(x, protocol)};
        }
        r.members = list;
        r.n_members = list ? grp->n_members : 0;
    }
    kafka_outbox_join(g, cb, arg, &r);
    core_free(list);
}

/* Kafka's prepareRebalance. Parked syncs of CompletingRebalance learn of it
 * with REBALANCE_IN_PROGRESS; everyone else through Heartbeat. */
static void prepare_rebalance(kafka_groups_t *g, kafka_group_t *grp, int64_t now_ms)
{
    for (int32_t i = 0; i < grp->n_members; i++) {
        kafka_member_t *m = grp->members[i];
        if (grp->state == KAFKA_GROUP_COMPLETING && m->sync_cb) {
            kafka_outbox_sync_error(g, m->sync_cb, m->sync_arg, KAFKA_ERR_REBALANCE_IN_PROGRESS);
            m->sync_cb = NULL;
            m->deadline_ms = now_ms + m->session_timeout_ms;
        }
        m->awaiting_sync = false;
    }
    grp->sync_deadline_ms = 0;
    int64_t timeout = kafka_group_rebalance_timeout(grp);
    grp->initial = grp->state == KAFKA_GROUP_EMPTY;
    grp->new_member_added = false;
    if (grp->initial) {
        int64_t delay = g->cfg.initial_rebalance_delay_ms;
        grp->join_deadline_ms = now_ms + delay;
        grp->initial_remaining_ms = CORE_MAX(timeout - delay, 0);
    } else {
        grp->join_deadline_ms = now_ms + timeout;
    }
    grp->state = KAFKA_GROUP_PREPARING;
    if (!grp->initial && kafka_group_all_joined(grp))
        complete_join(g, grp, now_ms);
}

static void rebalance_or_complete(kafka_groups_t *g, kafka_group_t *grp, int64_t now_ms)
{
    if (grp->state != KAFKA_GROUP_PREPARING)
        prepare_rebalance(g, grp, now_ms);
    else if (!grp->initial && kafka_group_all_joined(grp))
        complete_join(g, grp, now_ms);
}

/* After members were removed: a stable group rebalances; a rebalancing one
 * may now have everyone it waits for (this also ends an initial one). */
static void after_removal(kafka_groups_t *g, kafka_group_t *grp, int64_t now_ms)
{
    if (grp->state == KAFKA_GROUP_STABLE || grp->state == KAFKA_GROUP_COMPLETING)
        prepare_rebalance(g, grp, now_ms);
    else if (grp->state == KAFKA_GROUP_PREPARING && kafka_group_all_joined(grp))
        complete_join(g, grp, now_ms);
}

static void remove_all(kafka_groups_t *g, kafka_group_t *grp, int16_t err)
{
    while (grp->n_members > 0)
        kafka_member_remove(g, grp, grp->members[0], err);
}

/* Kafka's completeClassicGroupJoin: drop members that did not rejoin, start
 * the next generation and answer every parked join. */
static void complete_join(kafka_groups_t *g, kafka_group_t *grp, int64_t now_ms)
{
    for (int32_t i = 0; i < grp->n_members;) {
        if (grp->members[i]->join_cb) {
            i++;
            continue;
        }
        core_log(CORE_LOG_INFO, "kafka", "group '%.*s': member '%.*s' did not rejoin in time",
                 (int)bsize(gb_view(&grp->id)), bptr(gb_view(&grp->id)),
                 (int)bsize(gb_view(&grp->members[i]->id)), bptr(gb_view(&grp->members[i]->id)));
        kafka_member_remove(g, grp, grp->members[i], KAFKA_ERR_UNKNOWN_MEMBER_ID);
    }
    grp->initial = false;
    grp->generation++;
    if (grp->n_members == 0) {
        grp->state = KAFKA_GROUP_EMPTY;
        gb_free(&grp->protocol_name);
        return;
    }
    const kafka_gbytes_t *protocol = kafka_group_select_protocol(grp);
    if (protocol == NULL || gb_set(&grp->protocol_name, gb_view(protocol)) != 0) {
        remove_all(g, grp, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
        grp->state = KAFKA_GROUP_EMPTY;
        return;
    }
    if (grp->leader == NULL || grp->leader->join_cb == NULL)
        grp->leader = grp->members[0];
    grp->state = KAFKA_GROUP_COMPLETING;
    grp->sync_deadline_ms = now_ms + kafka_group_rebalance_timeout(grp);
    for (int32_t i = 0; i < grp->n_members; i++) {
        kafka_member_t *m = grp->members[i];
        kafka_join_cb cb = m->join_cb;
        m->join_cb = NULL;
        m->is_new = false;
        m->awaiting_sync = true;
        m->deadline_ms = now_ms + m->session_timeout_ms;
        push_join_reply(g, grp, m, cb, m->join_arg);
    }
}

/* ---- timers --------------------------------------------------------------- */

static bool member_expired(const kafka_member_t *m, int64_t now_ms)
{
    if (now_ms < m->deadline_ms)
        return false;
    if (m->is_new)
        return true; /* never finished joining */
    return m->join_cb == NULL && m->sync_cb == NULL;
}

static int64_t member_deadline(const kafka_member_t *m)
{
    if (!m->is_new && (m->join_cb || m->sync_cb))
        return INT64_MAX;
    return m->deadline_ms;
}

static void expire_members(kafka_groups_t *g, kafka_group_t *grp, int64_t now_ms)
{
    bool removed = false;
    for (int32_t i = 0; i < grp->n_members;) {
        kafka_member_t *m = grp->members[i];
        if (!member_expired(m, now_ms)) {
            i++;
            continue;
        }
        core_log(CORE_LOG_INFO, "kafka", "group '%.*s': member '%.*s' expired (%s)",
                 (int)bsize(gb_view(&grp->id)), bptr(gb_view(&grp->id)),
                 (int)bsize(gb_view(&m->id)), bptr(gb_view(&m->id)),
                 m->is_new ? "new member never finished joining" : "session timeout");
        kafka_member_remove(g, grp, m, KAFKA_ERR_UNKNOWN_MEMBER_ID);
        removed = true;
    }
    if (removed)
        after_removal(g, grp, now_ms);
}

static void expire_pending(kafka_groups_t *g, kafka_group_t *grp, int64_t now_ms)
{
    bool removed = false;
    for (int32_t i = 0; i < grp->n_pending;) {
        if (now_ms >= grp->pending[i].deadline_ms) {
            kafka_pending_remove(grp, i, NULL);
            removed = true;
        } else {
            i++;
        }
    }
    if (removed && grp->state == KAFKA_GROUP_PREPARING && kafka_group_all_joined(grp))
        complete_join(g, grp, now_ms);
}

/* Members that received a join reply but never synced (kfake 7825098b,
 * Kafka's expirePendingSync). */
static void expire_pending_syncs(kafka_groups_t *g, kafka_group_t *grp, int64_t now_ms)
{
    bool removed = false;
    grp->sync_deadline_ms = 0;
    for (int32_t i = 0; i < grp->n_members;) {
        if (grp->members[i]->awaiting_sync) {
            kafka_member_remove(g, grp, grp->members[i], KAFKA_ERR_UNKNOWN_MEMBER_ID);
            removed = true;
        } else {
            i++;
        }
    }
    if (removed)
        prepare_rebalance(g, grp, now_ms);
}

/* The join phase's deadline: extend an initial rebalance while members keep
 * arriving (Kafka's tryCompleteInitialRebalanceElseSchedule), else end it. */
static void join_deadline_passed(kafka_groups_t *g, kafka_group_t *grp, int64_t now_ms)
{
    if (grp->initial && grp->new_member_added && grp->initial_remaining_ms > 0) {
        int64_t step = CORE_MIN(g->cfg.initial_rebalance_delay_ms, grp->initial_remaining_ms);
        if (step <= 0)
            step = grp->initial_remaining_ms;
        grp->initial_remaining_ms -= step;
        grp->new_member_added = false;
        grp->join_deadline_ms = now_ms + step;
        return;
    }
    complete_join(g, grp, now_ms);
}

static void group_timers(kafka_groups_t *g, kafka_group_t *grp, int64_t now_ms)
{
    expire_pending(g, grp, now_ms);
    expire_members(g, grp, now_ms);
    if (grp->state == KAFKA_GROUP_PREPARING && now_ms >= grp->join_deadline_ms)
        join_deadline_passed(g, grp, now_ms);
    if ((grp->state == KAFKA_GROUP_COMPLETING || grp->state == KAFKA_GROUP_STABLE) &&
        grp->sync_deadline_ms > 0 && now_ms >= grp->sync_deadline_ms)
        expire_pending_syncs(g, grp, now_ms);
}

static int64_t group_deadline(const kafka_group_t *grp)
{
    int64_t d = INT64_MAX;
    for (int32_t i = 0; i < grp->n_pending; i++)
        d = CORE_MIN(d, grp->pending[i].deadline_ms);
    for (int32_t i = 0; i < grp->n_members; i++)
        d = CORE_MIN(d, member_deadline(grp->members[i]));
    if (grp->state == KAFKA_GROUP_PREPARING)
        d = CORE_MIN(d, grp->join_deadline_ms);
    if ((grp->state == KAFKA_GROUP_COMPLETING || grp->state == KAFKA_GROUP_STABLE) &&
        grp->sync_deadline_ms > 0)
        d = CORE_MIN(d, grp->sync_deadline_ms);
    return d;
}

static bool group_sweepable(kafka_groups_t *g, const kafka_group_t *grp)
{
    return grp->state == KAFKA_GROUP_EMPTY && grp->n_members == 0 && grp->n_pending == 0 &&
           !kafka_offsets_in_use(g->offsets, gb_view(&grp->id));
}

int64_t kafka_groups_tick(kafka_groups_t *g, int64_t now_ms)
{
    int64_t next = INT64_MAX;
    kafka_group_t *sweep[SWEEP_PER_TICK];
    int n_sweep = 0;
    size_t cur = 0, kl;
    const void *k;
    void *v;
    while (core_map_next(g->groups, &cur, &k, &kl, &v)) {
        kafka_group_t *grp = v;
        group_timers(g, grp, now_ms);
        next = CORE_MIN(next, group_deadline(grp));
        if (n_sweep < SWEEP_PER_TICK && group_sweepable(g, grp))
            sweep[n_sweep++] = grp;
    }
    for (int i = 0; i < n_sweep; i++) {
        core_map_del(g->groups, bptr(gb_view(&sweep[i]->id)), bsize(gb_view(&sweep[i]->id)), NULL);
        kafka_group_free(sweep[i]);
    }
    kafka_outbox_flush(g);
    return next;
}

/* ---- JoinGroup ------------------------------------------------------------ */

static int16_t join_check(const kafka_groups_t *g, const kafka_join_req_t *req)
{
    if (req->group_id.len <= 0)
        return KAFKA_ERR_INVALID_GROUP_ID;
    if (req->session_timeout_ms < g->cfg.min_session_timeout_ms ||
        req->session_timeout_ms > g->cfg.max_session_timeout_ms)
        return KAFKA_ERR_INVALID_SESSION_TIMEOUT;
    if (req->protocol_type.len <= 0 || req->n_protocols <= 0 || req->protocols == NULL)
        return KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL;
    return KAFKA_ERR_NONE;
}

/* Adds a member with id (taken) and parks its join. Returns an error, with
 * id freed, if it could not. */
static int16_t member_add(kafka_groups_t *g, kafka_group_t *grp, const kafka_join_req_t *req,
                          kafka_gbytes_t *id, int64_t now_ms, kafka_join_cb cb, void *arg)
{
    kafka_member_t *m = core_calloc(CORE_MEM_KAFKA, 1, sizeof *m);
    int rc = m ? kafka_group_members_reserve(grp) : CORE_ENOMEM;
    if (rc == 0)
        rc = kafka_member_update(m, req);
    if (rc == 0)
        rc =
            gb_set(&m->instance_id, req->instance_id.len > 0 ? req->instance_id : KAFKA_NULL_BYTES);
    if (rc == 0)
        rc = gb_set(&m->client_id, req->client_id);
    if (rc == 0)
        rc = gb_set(&m->client_host, req->client_host);
    if (rc == 0 && grp->n_members == 0)
        rc = gb_set(&grp->protocol_type, req->protocol_type);
    if (rc != 0) {
        gb_free(id);
        if (m)
            kafka_member_free(m);
        return KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    m->id = *id;
    m->is_new = true;
    m->deadline_ms = now_ms + g->cfg.new_member_join_timeout_ms;
    m->join_cb = cb;
    m->join_arg = arg;
    if (grp->state == KAFKA_GROUP_PREPARING && grp->initial)
        grp->new_member_added = true;
    grp->members[grp->n_members++] = m;
    rebalance_or_complete(g, grp, now_ms);
    return KAFKA_ERR_NONE;
}

static int16_t join_new(kafka_groups_t *g, kafka_group_t *grp, const kafka_join_req_t *req,
                        int64_t now_ms, kafka_join_cb cb, void *arg)
{
    if (!kafka_group_supports_protocols(grp, req, NULL))
        return KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL;
    bool is_static = req->instance_id.len > 0;
    kafka_gbytes_t id = {0};
    if (kafka_member_id_make(g, is_static ? req->instance_id : req->client_id, &id) != 0)
        return KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    if (!is_static && req->version >= 4) {
        int64_t wait =
            CORE_MIN((int64_t)req->session_timeout_ms, g->cfg.new_member_join_timeout_ms);
        if (kafka_pending_add(grp, id, now_ms + wait) != 0) {
            gb_free(&id);
            return KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
        }
        kafka_outbox_join_error(g, cb, arg, KAFKA_ERR_MEMBER_ID_REQUIRED, gb_view(&id));
        return KAFKA_ERR_NONE;
    }
    kafka_member_t *old = is_static ? kafka_member_by_instance(grp, req->instance_id) : NULL;
    if (old) /* a restarted static member replaces its old incarnation */
        kafka_member_remove(g, grp, old, KAFKA_ERR_FENCED_INSTANCE_ID);
    return member_add(g, grp, req, &id, now_ms, cb, arg);
}

/* Updates m from a rejoin and parks its join; a join parked before is
 * answered REBALANCE_IN_PROGRESS. */
static int16_t update_and_park(kafka_groups_t *g, kafka_group_t *grp, kafka_member_t *m,
                               const kafka_join_req_t *req, int64_t now_ms, kafka_join_cb cb,
                               void *arg)
{
    if (kafka_member_update(m, req) != 0)
        return KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    if (m->join_cb)
        kafka_outbox_join_error(g, m->join_cb, m->join_arg, KAFKA_ERR_REBALANCE_IN_PROGRESS,
                                gb_view(&m->id));
    m->join_cb = cb;
    m->join_arg = arg;
    rebalance_or_complete(g, grp, now_ms);
    return KAFKA_ERR_NONE;
}

static int16_t join_known(kafka_groups_t *g, kafka_group_t *grp, const kafka_join_req_t *req,
                          int64_t now_ms, kafka_join_cb cb, void *arg)
{
    if (!kafka_group_supports_protocols(grp, req, kafka_member_find(grp, req->member_id)))
        return KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL;
    int32_t pi = kafka_pending_find(grp, req->member_id);
    if (pi >= 0) {
        kafka_gbytes_t id;
        kafka_pending_remove(grp, pi, &id);
        return member_add(g, grp, req, &id, now_ms, cb, arg);
    }
    kafka_member_t *m;
    int16_t err = kafka_member_validate(grp, req->member_id, req->instance_id, &m);
    if (err != KAFKA_ERR_NONE)
        return err;
    bool same = kafka_member_protos_match(m, req);
    switch (grp->state) {
    case KAFKA_GROUP_PREPARING:
        return update_and_park(g, grp, m, req, now_ms, cb, arg);
    case KAFKA_GROUP_COMPLETING: /* a lost join reply: send it again */
    case KAFKA_GROUP_STABLE:     /* a follower with nothing new gets the current generation */
        if (same && (grp->state == KAFKA_GROUP_COMPLETING || m != grp->leader)) {
            m->deadline_ms = now_ms + m->session_timeout_ms;
            push_join_reply(g, grp, m, cb, arg);
            return KAFKA_ERR_NONE;
        }
        return update_and_park(g, grp, m, req, now_ms, cb, arg);
    default:
        return KAFKA_ERR_UNKNOWN_MEMBER_ID;
    }
}

void kafka_group_join(kafka_groups_t *g, const kafka_join_req_t *req, int64_t now_ms,
                      kafka_join_cb cb, void *arg)
{
    kafka_group_t *grp = NULL;
    int16_t err = join_check(g, req);
    if (err == KAFKA_ERR_NONE) {
        grp = kafka_group_find(g, req->group_id);
        if (grp == NULL && req->member_id.len > 0)
            err = KAFKA_ERR_UNKNOWN_MEMBER_ID;
        else if (grp == NULL && (grp = kafka_group_make(g, req->group_id)) == NULL)
            err = KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    if (err == KAFKA_ERR_NONE)
        err = req->member_id.len > 0 ? join_known(g, grp, req, now_ms, cb, arg)
                                     : join_new(g, grp, req, now_ms, cb, arg);
    if (err != KAFKA_ERR_NONE)
        kafka_outbox_join_error(g, cb, arg, err, req->member_id);
    if (grp)
        group_timers(g, grp, now_ms); /* e.g. an initial delay of 0 */
    kafka_outbox_flush(g);
}

/* ---- SyncGroup ------------------------------------------------------------ */

static void push_sync_reply(kafka_groups_t *g, const kafka_group_t *grp, const kafka_member_t *m,
                            kafka_sync_cb cb, void *arg)
{
    kafka_sync_result_t r = {KAFKA_ERR_NONE, gb_view(&grp->protocol_type),
                             gb_view(&grp->protocol_name), gb_view(&m->assignment)};
    kafka_outbox_sync(g, cb, arg, &r);
}

static const kafka_assignment_t *find_assignment(const kafka_sync_req_t *req,
                                                 const kafka_member_t *m)
{
    for (int32_t i = 0; req->assignments && i < req->n_assignments; i++)
        if (kafka_bytes_eq(req->assignments[i].member_id, gb_view(&m->id)))
            return &req->assignments[i];
    return NULL;
}

/* Stores the leader's assignments; a member without one (or with empty
 * bytes) gets an empty assignment, a valid empty one for "consumer". */
static int store_assignments(kafka_group_t *grp, const kafka_sync_req_t *req)
{
    static const uint8_t consumer[] = "consumer";
    kafka_bytes_t type = gb_view(&grp->protocol_type);
    bool is_consumer = type.len == (int32_t)sizeof consumer - 1 &&
                       memcmp(type.p, consumer, sizeof consumer - 1) == 0;
    for (int32_t i = 0; i < grp->n_members; i++) {
        kafka_member_t *m = grp->members[i];
        const kafka_assignment_t *a = find_assignment(req, m);
        kafka_bytes_t bytes = a && a->assignment.len > 0 ? a->assignment : KAFKA_EMPTY_BYTES;
        if (bytes.len == 0 && is_consumer)
            bytes = (kafka_bytes_t){empty_consumer_assignment,
                                    (int32_t)sizeof empty_consumer_assignment};
        if (gb_set(&m->assignment, bytes) != 0)
            return CORE_ENOMEM;
    }
    return 0;
}

/* CompletingRebalance: park; the leader's sync completes everyone's. */
static void sync_park(kafka_groups_t *g, kafka_group_t *grp, kafka_member_t *m,
                      const kafka_sync_req_t *req, int64_t now_ms, kafka_sync_cb cb, void *arg)
{
    if (m->sync_cb)
        kafka_outbox_sync_error(g, m->sync_cb, m->sync_arg, KAFKA_ERR_REBALANCE_IN_PROGRESS);
    m->sync_cb = cb;
    m->sync_arg = arg;
    m->awaiting_sync = false;
    if (m != grp->leader)
        return;
    if (store_assignments(grp, req) != 0) {
        prepare_rebalance(g, grp, now_ms); /* parked syncs get 27 and rejoin */
        return;
    }
    grp->state = KAFKA_GROUP_STABLE;
    for (int32_t i = 0; i < grp->n_members; i++) {
        kafka_member_t *x = grp->members[i];
        if (x->sync_cb == NULL)
            continue;
        push_sync_reply(g, grp, x, x->sync_cb, x->sync_arg);
        x->sync_cb = NULL;
        x->deadline_ms = now_ms + x->session_timeout_ms;
    }
}

static bool protocol_inconsistent(kafka_bytes_t requested, const kafka_gbytes_t *group_value)
{
    return requested.len >= 0 && !kafka_bytes_eq(requested, gb_view(group_value));
}

static int16_t sync_check(const kafka_groups_t *g, const kafka_sync_req_t *req, kafka_group_t **grp,
                          kafka_member_t **m)
{
    if (req->group_id.len <= 0)
        return KAFKA_ERR_INVALID_GROUP_ID;
    *grp = kafka_group_find(g, req->group_id);
    if (*grp == NULL || (*grp)->n_members == 0)
        return KAFKA_ERR_UNKNOWN_MEMBER_ID;
    int16_t err = kafka_member_validate(*grp, req->member_id, req->instance_id, m);
    if (err != KAFKA_ERR_NONE)
        return err;
    if (req->generation != (*grp)->generation)
        return KAFKA_ERR_ILLEGAL_GENERATION;
    if (protocol_inconsistent(req->protocol_type, &(*grp)->protocol_type) ||
        protocol_inconsistent(req->protocol_name, &(*grp)->protocol_name))
        return KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL;
    return KAFKA_ERR_NONE;
}

void kafka_group_sync(kafka_groups_t *g, const kafka_sync_req_t *req, int64_t now_ms,
                      kafka_sync_cb cb, void *arg)
{
    kafka_group_t *grp = NULL;
    kafka_member_t *m = NULL;
    int16_t err = sync_check(g, req, &grp, &m);
    if (err == KAFKA_ERR_NONE) {
        m->deadline_ms = now_ms + m->session_timeout_ms;
        if (grp->state == KAFKA_GROUP_PREPARING) {
            err = KAFKA_ERR_REBALANCE_IN_PROGRESS;
        } else if (grp->state == KAFKA_GROUP_STABLE) {
            m->awaiting_sync = false;
            push_sync_reply(g, grp, m, cb, arg);
        } else {
            sync_park(g, grp, m, req, now_ms, cb, arg);
        }
    }
    if (err != KAFKA_ERR_NONE)
        kafka_outbox_sync_error(g, cb, arg, err);
    kafka_outbox_flush(g);
}

/* ---- Heartbeat and LeaveGroup --------------------------------------------- */

int16_t kafka_group_heartbeat(kafka_groups_t *g, kafka_bytes_t group_id, kafka_bytes_t member_id,
                              kafka_bytes_t instance_id, int32_t generation, int64_t now_ms)
{
    if (group_id.len <= 0)
        return KAFKA_ERR_INVALID_GROUP_ID;
    kafka_group_t *grp = kafka_group_find(g, group_id);
    if (grp == NULL || grp->n_members == 0)
        return KAFKA_ERR_UNKNOWN_MEMBER_ID;
    kafka_member_t *m;
    int16_t err = kafka_member_validate(grp, member_id, instance_id, &m);
    if (err != KAFKA_ERR_NONE)
        return err;
    if (generation != grp->generation)
        return KAFKA_ERR_ILLEGAL_GENERATION;
    m->deadline_ms = now_ms + m->session_timeout_ms;
    return grp->state == KAFKA_GROUP_PREPARING ? KAFKA_ERR_REBALANCE_IN_PROGRESS : KAFKA_ERR_NONE;
}

int16_t kafka_group_leave(kafka_groups_t *g, kafka_bytes_t group_id, kafka_bytes_t member_id,
                          kafka_bytes_t instance_id, int64_t now_ms)
{
    if (group_id.len <= 0)
        return KAFKA_ERR_INVALID_GROUP_ID;
    kafka_group_t *grp = kafka_group_find(g, group_id);
    if (grp == NULL)
        return KAFKA_ERR_UNKNOWN_MEMBER_ID;
    kafka_member_t *m = NULL;
    if (instance_id.len > 0) { /* by instance id; a given member id must match */
        m = kafka_member_by_instance(grp, instance_id);
        if (m == NULL)
            return KAFKA_ERR_UNKNOWN_MEMBER_ID;
        if (member_id.len > 0 && !kafka_bytes_eq(gb_view(&m->id), member_id))
            return KAFKA_ERR_FENCED_INSTANCE_ID;
    } else {
        int32_t pi = kafka_pending_find(grp, member_id);
        if (pi >= 0) {
            kafka_pending_remove(grp, pi, NULL);
            if (grp->state == KAFKA_GROUP_PREPARING && kafka_group_all_joined(grp))
                complete_join(g, grp, now_ms);
            kafka_outbox_flush(g);
            return KAFKA_ERR_NONE;
        }
        m = kafka_member_find(grp, member_id);
        if (m == NULL)
            return KAFKA_ERR_UNKNOWN_MEMBER_ID;
    }
    kafka_member_remove(g, grp, m, KAFKA_ERR_UNKNOWN_MEMBER_ID);
    after_removal(g, grp, now_ms);
    kafka_outbox_flush(g);
    return KAFKA_ERR_NONE;
}

/* ---- OffsetCommit / OffsetFetch ------------------------------------------ */

/* Kafka's ClassicGroup.validateOffsetCommit. */
static int16_t commit_check(const kafka_group_t *grp, const kafka_commit_req_t *req,
                            kafka_member_t **m)
{
    *m = NULL;
    bool simple = req->member_id.len <= 0 && req->instance_id.len <= 0;
    if (grp == NULL || grp->n_members == 0) {
        if (req->generation < 0)
            return KAFKA_ERR_NONE; /* assign()-style commit to an Empty group */
        return KAFKA_ERR_UNKNOWN_MEMBER_ID;
    }
    if (req->generation < 0 && simple)
        return KAFKA_ERR_UNKNOWN_MEMBER_ID; /* the group is in use */
    int16_t err = kafka_member_validate(grp, req->member_id, req->instance_id, m);
    if (err != KAFKA_ERR_NONE)
        return err;
    if (req->generation != grp->generation)
        return KAFKA_ERR_ILLEGAL_GENERATION;
    if (grp->state == KAFKA_GROUP_COMPLETING)
        return KAFKA_ERR_REBALANCE_IN_PROGRESS;
    return KAFKA_ERR_NONE;
}

void kafka_group_commit(kafka_groups_t *g, kafka_commit_req_t *req, int64_t now_ms,
                        kafka_commit_cb cb, void *arg)
{
    kafka_group_t *grp = kafka_group_find(g, req->group_id);
    kafka_member_t *m = NULL;
    int16_t err = req->group_id.len < 0 ? KAFKA_ERR_INVALID_GROUP_ID : commit_check(grp, req, &m);
    if (err != KAFKA_ERR_NONE) {
        for (int32_t i = 0; i < req->n_offsets; i++)
            if (req->offsets[i].error == KAFKA_ERR_NONE)
                req->offsets[i].error = err;
        cb(arg, req);
        return;
    }
    if (grp == NULL)
        (void)kafka_group_make(g, req->group_id); /* Kafka creates it Empty; the offsets matter */
    if (m)
        m->deadline_ms = now_ms + m->session_timeout_ms;
    kafka_offsets_commit(g->offsets, req, cb, arg);
}

int16_t kafka_group_committed(kafka_groups_t *g, kafka_bytes_t group_id, kafka_bytes_t topic,
                              int32_t partition, kafka_committed_t *out)
{
    kafka_offsets_get(g->offsets, group_id, topic, partition, out);
    return group_id.len < 0 ? KAFKA_ERR_INVALID_GROUP_ID : KAFKA_ERR_NONE;
}

void kafka_group_committed_each(kafka_groups_t *g, kafka_bytes_t group_id,
                                int (*fn)(void *arg, kafka_bytes_t topic, int32_t partition,
                                          const kafka_committed_t *c),
                                void *arg)
{
    kafka_offsets_each(g->offsets, group_id, fn, arg);
}

void kafka_groups_topic_deleted(kafka_groups_t *g, kafka_bytes_t topic)
{
    static const uint8_t internal[] = KAFKA_OFFSETS_TOPIC;
    if (topic.len == (int32_t)sizeof internal - 1 &&
        memcmp(topic.p, internal, sizeof internal - 1) == 0)
        return;
    kafka_offsets_topic_deleted(g->offsets, topic);
}

/* ---- ListGroups / DescribeGroups ------------------------------------------ */

/* Like Kafka, metadata and assignments are described only when Stable. */
static int16_t group_report(const kafka_group_t *grp,
                            void (*fn)(void *arg, const kafka_group_info_t *), void *arg)
{
    kafka_group_member_info_t *mi = NULL;
    if (grp->n_members > 0) {
        mi = core_calloc(CORE_MEM_KAFKA, (size_t)grp->n_members, sizeof *mi);
        if (mi == NULL)
            return KAFKA_ERR_COORDINATOR_NOT_AVAILABLE;
    }
    bool stable = grp->state == KAFKA_GROUP_STABLE;
    kafka_bytes_t none = KAFKA_EMPTY_BYTES;
    for (int32_t i = 0; i < grp->n_members; i++) {
        const kafka_member_t *m = grp->members[i];
        mi[i] = (kafka_group_member_info_t){
            gb_view(&m->id),
            gb_view(&m->instance_id),
            gb_view(&m->client_id),
            gb_view(&m->client_host),
            stable ? kafka_member_metadata(m, gb_view(&grp->protocol_name)) : none,
            stable ? gb_view(&m->assignment) : none};
    }
    kafka_group_info_t info = {gb_view(&grp->id),
                               state_names[grp->state],
                               gb_view(&grp->protocol_type),
                               stable ? gb_view(&grp->protocol_name) : none,
                               mi,
                               grp->n_members};
    fn(arg, &info);
    core_free(mi);
    return KAFKA_ERR_NONE;
}

void kafka_groups_each(kafka_groups_t *g, void (*fn)(void *arg, const kafka_group_info_t *info),
                       void *arg)
{
    size_t cur = 0, kl;
    const void *k;
    void *v;
    while (core_map_next(g->groups, &cur, &k, &kl, &v))
        (void)group_report(v, fn, arg);
}

int16_t kafka_group_describe(kafka_groups_t *g, kafka_bytes_t group_id,
                             void (*fn)(void *arg, const kafka_group_info_t *info), void *arg)
{
    const kafka_group_t *grp = kafka_group_find(g, group_id);
    if (grp)
        return group_report(grp, fn, arg);
    kafka_bytes_t none = KAFKA_EMPTY_BYTES;
    kafka_group_info_t info = {group_id, "Dead", none, none, NULL, 0};
    fn(arg, &info);
    return KAFKA_ERR_NONE;
}

/* ---- lifecycle ----------------------------------------------------------- */

void kafka_groups_config_default(kafka_groups_config_t *c)
{
    c->initial_rebalance_delay_ms = 3000;
    c->min_session_timeout_ms = 6000;
    c->max_session_timeout_ms = 1800000;
    c->new_member_join_timeout_ms = 300000;
    c->max_metadata_bytes = 4096;
}

static void add_loaded_group(void *arg, kafka_bytes_t group_id)
{
    (void)kafka_group_make(arg, group_id); /* Empty, as Kafka loads it */
}

int kafka_groups_create(seglog_t *log, const kafka_groups_config_t *cfg, kafka_sync_fn sync,
                        void *sync_ctx, kafka_groups_t **out)
{
    *out = NULL;
    kafka_groups_t *g = core_calloc(CORE_MEM_KAFKA, 1, sizeof *g);
    if (g == NULL)
        return CORE_ENOMEM;
    if (cfg)
        g->cfg = *cfg;
    else
        kafka_groups_config_default(&g->cfg);
    g->groups = core_map_create(CORE_MEM_KAFKA, 16);
    int rc = g->groups
                 ? kafka_offsets_open(log, g->cfg.max_metadata_bytes, sync, sync_ctx, &g->offsets)
                 : CORE_ENOMEM;
    if (rc != 0) {
        kafka_groups_destroy(g);
        return rc;
    }
    kafka_offsets_each_group(g->offsets, add_loaded_group, g);
    *out = g;
    return 0;
}

void kafka_groups_destroy(kafka_groups_t *g)
{
    if (g == NULL)
        return;
    size_t cur = 0, kl;
    const void *k;
    void *v;
    while (g->groups && core_map_next(g->groups, &cur, &k, &kl, &v))
        remove_all(g, v, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
    kafka_outbox_flush(g);
    cur = 0;
    while (g->groups && core_map_next(g->groups, &cur, &k, &kl, &v))
        kafka_group_free(v);
    core_map_destroy(g->groups);
    kafka_offsets_close(g->offsets);
    core_free(g);
}
