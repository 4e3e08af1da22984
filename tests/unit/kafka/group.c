/*
 * Unit tests of the classic group coordinator (src/kafka/group*.c), driven
 * directly with a fake monotonic clock and a real seglog in a temporary
 * folder. The sync hook is synchronous (seglog_sync, then done at once)
 * unless a test installs the deferred one to control completion order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kafka/group_int.h"
#include "record/record.h"

#define GROUP     "g1"
#define CLIENT    "client"
#define SESSION   10000
#define REBALANCE 20000

/* ---- fixture -------------------------------------------------------------- */

typedef struct {
    kafka_sync_done_fn done;
    void *arg;
    int rc;
} deferred_t;

typedef struct {
    char dir[256];
    seglog_t *log;
    kafka_groups_t *g;
    kafka_groups_config_t cfg;
    int syncs;
    bool defer;      /* park sync completions in `pending` */
    bool skip_fsync; /* complete syncs without an fsync (fault loops) */
    deferred_t pending[8];
    int n_pending;
} fx_t;

static int sync_hook(void *ctx, seglog_part_t *part, int64_t end_offset, kafka_sync_done_fn done,
                     void *done_arg)
{
    fx_t *fx = ctx;
    fx->syncs++;
    int rc = fx->skip_fsync ? 0 : seglog_sync(part, end_offset);
    if (fx->defer) {
        assert_true(fx->n_pending < (int)CORE_ARRAY_LEN(fx->pending));
        fx->pending[fx->n_pending++] = (deferred_t){done, done_arg, rc};
        return 0;
    }
    done(done_arg, rc);
    return 0;
}

static void fx_open(fx_t *fx)
{
    assert_int_equal(seglog_open(fx->dir, &fx->log), 0);
    int rc = kafka_groups_create(fx->log, &fx->cfg, sync_hook, fx, &fx->g);
    if (rc != 0)
        fail_msg("kafka_groups_create: %s: %s", core_strerror(rc), core_error_detail());
}

static void fx_close(fx_t *fx)
{
    kafka_groups_destroy(fx->g);
    fx->g = NULL;
    seglog_close(fx->log);
    fx->log = NULL;
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(fx->dir, sizeof fx->dir, "%s/strata-group-XXXXXX", base);
    assert_non_null(mkdtemp(fx->dir));
    kafka_groups_config_default(&fx->cfg);
    fx->cfg.initial_rebalance_delay_ms = 0;
    fx_open(fx);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    if (fx->g)
        fx_close(fx);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

/* ---- request helpers -------------------------------------------------------- */

static kafka_bytes_t B(const char *s)
{
    return s ? (kafka_bytes_t){(const uint8_t *)s, (int32_t)strlen(s)} : KAFKA_NULL_BYTES;
}

static void copy_str(char *dst, size_t cap, kafka_bytes_t b)
{
    size_t n = b.len > 0 ? CORE_MIN((size_t)b.len, cap - 1) : 0;
    if (n)
        memcpy(dst, b.p, n);
    dst[n] = '\0';
}

typedef struct {
    int calls;
    int16_t error;
    int32_t generation;
    char member_id[128], leader[128], protocol[32], protocol_type[32];
    int n_members;
    char members[4][128];
    char metadata[4][64];
} join_out_t;

static void on_join(void *arg, const kafka_join_result_t *r)
{
    join_out_t *o = arg;
    o->calls++;
    o->error = r->error;
    o->generation = r->generation;
    copy_str(o->member_id, sizeof o->member_id, r->member_id);
    copy_str(o->leader, sizeof o->leader, r->leader);
    copy_str(o->protocol, sizeof o->protocol, r->protocol_name);
    copy_str(o->protocol_type, sizeof o->protocol_type, r->protocol_type);
    o->n_members = r->n_members;
    for (int32_t i = 0; i < r->n_members && i < 4; i++) {
        copy_str(o->members[i], sizeof o->members[i], r->members[i].member_id);
        copy_str(o->metadata[i], sizeof o->metadata[i], r->members[i].metadata);
    }
}

typedef struct {
    int calls;
    int16_t error;
    uint8_t assignment[64];
    int32_t len;
    char protocol[32];
} sync_out_t;

static void on_sync(void *arg, const kafka_sync_result_t *r)
{
    sync_out_t *o = arg;
    o->calls++;
    o->error = r->error;
    o->len = r->assignment.len;
    if (r->assignment.len > 0)
        memcpy(o->assignment, r->assignment.p, (size_t)CORE_MIN(r->assignment.len, 64));
    copy_str(o->protocol, sizeof o->protocol, r->protocol_name);
}

/* Joins with protocols from a comma list; each protocol's metadata is
 * "<name>@<tag>". */
static void join_full(fx_t *fx, int16_t version, const char *group, const char *member,
                      const char *protos, const char *tag, int32_t session, int64_t now,
                      join_out_t *out)
{
    kafka_group_protocol_t p[4];
    char names[4][32], meta[4][64];
    int n = 0;
    const char *s = protos;
    while (*s && n < 4) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        snprintf(names[n], sizeof names[n], "%.*s", (int)len, s);
        snprintf(meta[n], sizeof meta[n], "%.31s@%.31s", names[n], tag);
        p[n] = (kafka_group_protocol_t){B(names[n]), B(meta[n])};
        n++;
        s += len + (e ? 1 : 0);
    }
    kafka_join_req_t req = {.version = version,
                            .group_id = B(group),
                            .member_id = B(member ? member : ""),
                            .instance_id = KAFKA_NULL_BYTES,
                            .client_id = B(CLIENT),
                            .client_host = B("/127.0.0.1"),
                            .protocol_type = B("consumer"),
                            .session_timeout_ms = session,
                            .rebalance_timeout_ms = REBALANCE,
                            .protocols = p,
                            .n_protocols = n};
    memset(out, 0, sizeof *out);
    kafka_group_join(fx->g, &req, now, on_join, out);
}

static void join(fx_t *fx, const char *member, const char *tag, int64_t now, join_out_t *out)
{
    join_full(fx, 3, GROUP, member, "range,roundrobin", tag, SESSION, now, out);
}

static void sync_req(fx_t *fx, const char *member, int32_t generation, const kafka_assignment_t *a,
                     int32_t n, int64_t now, sync_out_t *out)
{
    kafka_sync_req_t req = {.group_id = B(GROUP),
                            .member_id = B(member),
                            .instance_id = KAFKA_NULL_BYTES,
                            .generation = generation,
                            .protocol_type = KAFKA_NULL_BYTES,
                            .protocol_name = KAFKA_NULL_BYTES,
                            .assignments = a,
                            .n_assignments = n};
    memset(out, 0, sizeof *out);
    kafka_group_sync(fx->g, &req, now, on_sync, out);
}

static int16_t heartbeat(fx_t *fx, const char *member, int32_t generation, int64_t now)
{
    return kafka_group_heartbeat(fx->g, B(GROUP), B(member), KAFKA_NULL_BYTES, generation, now);
}

typedef struct {
    char state[32];
    int n_members;
    char protocol[32];
} info_out_t;

static void on_info(void *arg, const kafka_group_info_t *info)
{
    info_out_t *o = arg;
    snprintf(o->state, sizeof o->state, "%s", info->state);
    o->n_members = info->n_members;
    copy_str(o->protocol, sizeof o->protocol, info->protocol_name);
}

static info_out_t describe(fx_t *fx, const char *group)
{
    info_out_t o;
    memset(&o, 0, sizeof o);
    assert_int_equal(kafka_group_describe(fx->g, B(group), on_info, &o), KAFKA_ERR_NONE);
    return o;
}

typedef struct {
    int calls;
    int order; /* sequence number of this callback among all */
} commit_out_t;

static int commit_seq;

static void on_commit(void *arg, kafka_commit_req_t *req)
{
    (void)req;
    commit_out_t *o = arg;
    o->calls++;
    o->order = ++commit_seq;
}

/* Commits one offset; returns its error once the callback has run. */
static int16_t commit_one(fx_t *fx, const char *group, const char *member, int32_t generation,
                          const char *topic, int32_t partition, int64_t offset, int32_t epoch,
                          const char *metadata, int64_t now)
{
    kafka_offset_commit_t e = {B(topic), partition, offset, epoch, B(metadata), 0};
    kafka_commit_req_t req = {B(group), generation, B(member), KAFKA_NULL_BYTES, &e, 1};
    commit_out_t out = {0, 0};
    kafka_group_commit(fx->g, &req, now, on_commit, &out);
    assert_int_equal(out.calls, 1);
    return e.error;
}

static int64_t committed(fx_t *fx, const char *group, const char *topic, int32_t partition,
                         kafka_committed_t *c)
{
    assert_int_equal(kafka_group_committed(fx->g, B(group), B(topic), partition, c),
                     KAFKA_ERR_NONE);
    return c->offset;
}

/* Destroys the coordinator inside a test whose parked calls report into its
 * own stack frame. */
static void destroy_now(fx_t *fx)
{
    kafka_groups_destroy(fx->g);
    fx->g = NULL;
}

/* Recreates the coordinator with another initial rebalance delay. */
static void set_delay(fx_t *fx, int64_t delay_ms)
{
    kafka_groups_destroy(fx->g);
    fx->cfg.initial_rebalance_delay_ms = delay_ms;
    assert_int_equal(kafka_groups_create(fx->log, &fx->cfg, sync_hook, fx, &fx->g), 0);
}

/* A stable group: A (leader) and B, generation 1, with assignments "a"/"b",
 * formed at *now with an initial delay so both land in generation 1. On
 * return *now is when it became Stable. */
static void stable_pair(fx_t *fx, int32_t session, char *a_id, char *b_id, int64_t *now)
{
    set_delay(fx, 100);
    join_out_t ja, jb;
    join_full(fx, 3, GROUP, NULL, "range,roundrobin", "A", session, *now, &ja);
    join_full(fx, 3, GROUP, NULL, "range,roundrobin", "B", session, *now + 10, &jb);
    kafka_groups_tick(fx->g, *now + 100);
    kafka_groups_tick(fx->g, *now + 200);
    assert_int_equal(ja.calls, 1);
    assert_int_equal(jb.calls, 1);
    assert_int_equal(ja.generation, 1);
    snprintf(a_id, 128, "%s", ja.member_id);
    snprintf(b_id, 128, "%s", jb.member_id);
    *now += 200;
    kafka_assignment_t as[] = {{B(a_id), B("a")}, {B(b_id), B("b")}};
    sync_out_t sa, sb;
    sync_req(fx, b_id, 1, NULL, 0, *now, &sb);
    sync_req(fx, a_id, 1, as, 2, *now, &sa);
    assert_int_equal(sa.calls, 1);
    assert_int_equal(sb.calls, 1);
    assert_string_equal(describe(fx, GROUP).state, "Stable");
}

/* A and B join at 0 and 1 with an initial delay of 100 ms, which B's
 * arrival extends once: both get generation 1 at 200, A leading. */
static void form_pair(fx_t *fx, join_out_t *ja, join_out_t *jb)
{
    set_delay(fx, 100);
    join(fx, NULL, "A", 0, ja);
    join(fx, NULL, "B", 1, jb);
    kafka_groups_tick(fx->g, 100);
    assert_int_equal(ja->calls + jb->calls, 0);
    kafka_groups_tick(fx->g, 200);
    assert_int_equal(ja->calls, 1);
    assert_int_equal(jb->calls, 1);
    assert_int_equal(ja->generation, 1);
    assert_string_equal(ja->leader, ja->member_id);
}

/* ---- JoinGroup ------------------------------------------------------------ */

static void test_member_id_required_v4(void **state)
{
    fx_t *fx = *state;
    join_out_t j;
    join_full(fx, 4, GROUP, NULL, "range", "A", SESSION, 0, &j);
    assert_int_equal(j.calls, 1);
    assert_int_equal(j.error, KAFKA_ERR_MEMBER_ID_REQUIRED);
    assert_int_equal(j.generation, -1);
    /* clientId + "-" + a version-4 UUID, as Kafka generates it */
    assert_int_equal(strlen(j.member_id), strlen(CLIENT) + 1 + 36);
    assert_memory_equal(j.member_id, CLIENT "-", strlen(CLIENT) + 1);
    const char *uuid = j.member_id + strlen(CLIENT) + 1;
    assert_int_equal(uuid[8], '-');
    assert_int_equal(uuid[14], '4');
    char id[128];
    snprintf(id, sizeof id, "%s", j.member_id);
    assert_string_equal(describe(fx, GROUP).state, "Empty"); /* pending ids are no members */

    join_full(fx, 4, GROUP, "client-not-issued", "range", "A", SESSION, 0, &j);
    assert_int_equal(j.error, KAFKA_ERR_UNKNOWN_MEMBER_ID);

    join_full(fx, 4, GROUP, id, "range", "A", SESSION, 1, &j);
    assert_int_equal(j.calls, 1);
    assert_int_equal(j.error, KAFKA_ERR_NONE);
    assert_int_equal(j.generation, 1);
    assert_string_equal(j.member_id, id);
    assert_string_equal(j.leader, id);
    assert_int_equal(j.n_members, 1);
    assert_string_equal(describe(fx, GROUP).state, "CompletingRebalance");
}

static void test_direct_join_v0_to_v3(void **state)
{
    fx_t *fx = *state;
    for (int16_t v = 0; v <= 3; v++) {
        char group[16];
        snprintf(group, sizeof group, "v%d", v);
        join_out_t j;
        join_full(fx, v, group, NULL, "range", "A", SESSION, 0, &j);
        assert_int_equal(j.calls, 1);
        assert_int_equal(j.error, KAFKA_ERR_NONE);
        assert_int_equal(j.generation, 1);
        assert_memory_equal(j.member_id, CLIENT "-", strlen(CLIENT) + 1);
        assert_string_equal(j.leader, j.member_id);
        assert_string_equal(j.protocol, "range");
        assert_string_equal(j.protocol_type, "consumer");
        assert_int_equal(j.n_members, 1);
        assert_string_equal(j.metadata[0], "range@A");
    }
}

static void test_pending_member_id_expires(void **state)
{
    fx_t *fx = *state;
    join_out_t j;
    join_full(fx, 5, GROUP, NULL, "range", "A", SESSION, 0, &j);
    assert_int_equal(j.error, KAFKA_ERR_MEMBER_ID_REQUIRED);
    char id[128];
    snprintf(id, sizeof id, "%s", j.member_id);
    assert_int_equal(kafka_groups_tick(fx->g, 1), SESSION); /* min(session, 5 min) */
    kafka_groups_tick(fx->g, SESSION);
    join_full(fx, 5, GROUP, id, "range", "A", SESSION, SESSION + 1, &j);
    assert_int_equal(j.error, KAFKA_ERR_UNKNOWN_MEMBER_ID);
}

static void test_two_members_one_rebalance(void **state)
{
    fx_t *fx = *state;
    set_delay(fx, 100);
    join_out_t ja, jb;
    join(fx, NULL, "A", 0, &ja);
    join(fx, NULL, "B", 10, &jb);
    assert_int_equal(ja.calls + jb.calls, 0);
    assert_int_equal(kafka_groups_tick(fx->g, 50), 100);
    /* B arrived during the delay, so the delay is extended once more */
    kafka_groups_tick(fx->g, 100);
    assert_int_equal(ja.calls + jb.calls, 0);
    kafka_groups_tick(fx->g, 200);
    assert_int_equal(ja.calls, 1);
    assert_int_equal(jb.calls, 1);
    assert_int_equal(ja.error, KAFKA_ERR_NONE);
    assert_int_equal(jb.error, KAFKA_ERR_NONE);
    assert_int_equal(ja.generation, 1);
    assert_int_equal(jb.generation, 1);
    assert_string_equal(ja.leader, ja.member_id);
    assert_string_equal(jb.leader, ja.member_id);
    assert_string_equal(ja.protocol, "range");
    assert_string_equal(jb.protocol, "range");
    assert_int_equal(ja.n_members, 2); /* only the leader learns the members */
    assert_int_equal(jb.n_members, 0);
    assert_string_equal(ja.members[0], ja.member_id);
    assert_string_equal(ja.members[1], jb.member_id);
    assert_string_equal(ja.metadata[0], "range@A");
    assert_string_equal(ja.metadata[1], "range@B");
}

static void test_protocol_majority_vote(void **state)
{
    fx_t *fx = *state;
    set_delay(fx, 100);
    join_out_t j[3];
    join_full(fx, 3, GROUP, NULL, "range,roundrobin,sticky", "A", SESSION, 0, &j[0]);
    join_full(fx, 3, GROUP, NULL, "roundrobin,range", "B", SESSION, 1, &j[1]);
    join_full(fx, 3, GROUP, NULL, "sticky,roundrobin,range", "C", SESSION, 2, &j[2]);
    kafka_groups_tick(fx->g, 101);
    kafka_groups_tick(fx->g, 201);
    /* sticky is not supported by B; votes: A range, B roundrobin, C roundrobin */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(j[i].calls, 1);
        assert_string_equal(j[i].protocol, "roundrobin");
    }
    assert_string_equal(j[0].metadata[2], "roundrobin@C");
}

static void test_inconsistent_protocol(void **state)
{
    fx_t *fx = *state;
    join_out_t a, b;
    join_full(fx, 3, GROUP, NULL, "range", "A", SESSION, 0, &a);
    assert_int_equal(a.error, KAFKA_ERR_NONE);
    join_full(fx, 3, GROUP, NULL, "RoundRobinAssigner", "K", SESSION, 1, &b);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.error, KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL);
    /* another protocol type */
    kafka_group_protocol_t p = {B("range"), B("x")};
    kafka_join_req_t req = {.version = 3,
                            .group_id = B(GROUP),
                            .member_id = B(""),
                            .instance_id = KAFKA_NULL_BYTES,
                            .client_id = B(CLIENT),
                            .client_host = B("h"),
                            .protocol_type = B("connect"),
                            .session_timeout_ms = SESSION,
                            .rebalance_timeout_ms = REBALANCE,
                            .protocols = &p,
                            .n_protocols = 1};
    kafka_group_join(fx->g, &req, 2, on_join, &b);
    assert_int_equal(b.error, KAFKA_ERR_INCONSISTENT_GROUP_PROTOCOL);
    /* sharing one protocol is enough */
    join_full(fx, 3, GROUP, NULL, "roundrobin,range", "C", SESSION, 3, &b);
    assert_int_equal(b.calls, 0); /* parked: the group is rebalancing */
    assert_string_equal(describe(fx, GROUP).state, "PreparingRebalance");
    destroy_now(fx);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.error, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
}

static void test_bad_session_timeout(void **state)
{
    fx_t *fx = *state;
    join_out_t j;
    join_full(fx, 3, GROUP, NULL, "range", "A", 5999, 0, &j);
    assert_int_equal(j.error, KAFKA_ERR_INVALID_SESSION_TIMEOUT);
    join_full(fx, 3, GROUP, NULL, "range", "A", 1800001, 0, &j);
    assert_int_equal(j.error, KAFKA_ERR_INVALID_SESSION_TIMEOUT);
    join_full(fx, 3, GROUP, NULL, "range", "A", 6000, 0, &j);
    assert_int_equal(j.error, KAFKA_ERR_NONE);
    join_full(fx, 3, "", NULL, "range", "A", SESSION, 0, &j);
    assert_int_equal(j.error, KAFKA_ERR_INVALID_GROUP_ID);
}

static void test_follower_rejoin_in_stable(void **state)
{
    fx_t *fx = *state;
    char a[128], b[128];
    int64_t now = 0;
    stable_pair(fx, SESSION, a, b, &now);
    join_out_t j;
    join(fx, b, "B", now + 1, &j); /* same metadata: current generation back */
    assert_int_equal(j.calls, 1);
    assert_int_equal(j.error, KAFKA_ERR_NONE);
    assert_int_equal(j.generation, 1);
    assert_int_equal(j.n_members, 0);
    assert_string_equal(describe(fx, GROUP).state, "Stable");
    join_out_t ja;
    join(fx, a, "A", now + 2, &ja); /* the leader's join always rebalances */
    assert_int_equal(ja.calls, 0);
    assert_string_equal(describe(fx, GROUP).state, "PreparingRebalance");
    assert_int_equal(heartbeat(fx, b, 1, now + 3), KAFKA_ERR_REBALANCE_IN_PROGRESS);
    join(fx, b, "B", now + 4, &j);
    assert_int_equal(j.calls, 1);
    assert_int_equal(j.generation, 2);
    assert_int_equal(ja.calls, 1);
    assert_int_equal(ja.n_members, 2);
}

static void join_static(fx_t *fx, const char *member, const char *instance, int64_t now,
                        join_out_t *out)
{
    kafka_group_protocol_t p = {B("range"), B("md")};
    kafka_join_req_t req = {.version = 5,
                            .group_id = B(GROUP),
                            .member_id = B(member),
                            .instance_id = B(instance),
                            .client_id = B(CLIENT),
                            .client_host = B("h"),
                            .protocol_type = B("consumer"),
                            .session_timeout_ms = SESSION,
                            .rebalance_timeout_ms = REBALANCE,
                            .protocols = &p,
                            .n_protocols = 1};
    memset(out, 0, sizeof *out);
    kafka_group_join(fx->g, &req, now, on_join, out);
}

static void test_static_membership(void **state)
{
    fx_t *fx = *state;
    join_out_t j1, j2;
    join_static(fx, "", "pod-1", 0, &j1); /* static: no MEMBER_ID_REQUIRED */
    assert_int_equal(j1.error, KAFKA_ERR_NONE);
    assert_memory_equal(j1.member_id, "pod-1-", 6); /* instance id + "-" + UUID */
    assert_int_equal(kafka_group_heartbeat(fx->g, B(GROUP), B("stale"), B("pod-1"), 1, 1),
                     KAFKA_ERR_FENCED_INSTANCE_ID);
    assert_int_equal(kafka_group_heartbeat(fx->g, B(GROUP), B(j1.member_id), B("pod-9"), 1, 1),
                     KAFKA_ERR_UNKNOWN_MEMBER_ID);
    /* the same instance restarts: the new incarnation replaces the old one */
    join_static(fx, "", "pod-1", 2, &j2);
    assert_int_equal(j2.error, KAFKA_ERR_NONE);
    assert_int_equal(j2.generation, 2);
    assert_string_not_equal(j2.member_id, j1.member_id);
    assert_int_equal(describe(fx, GROUP).n_members, 1);
    assert_int_equal(kafka_group_heartbeat(fx->g, B(GROUP), B(j1.member_id), B("pod-1"), 2, 3),
                     KAFKA_ERR_FENCED_INSTANCE_ID);
    assert_int_equal(kafka_group_leave(fx->g, B(GROUP), B(""), B("pod-1"), 4), KAFKA_ERR_NONE);
    assert_string_equal(describe(fx, GROUP).state, "Empty");
}

static void test_rejoin_while_completing_resends_reply(void **state)
{
    fx_t *fx = *state;
    join_out_t ja, jb, again;
    form_pair(fx, &ja, &jb);
    join(fx, ja.member_id, "A", 300, &again); /* the leader lost its reply */
    assert_int_equal(again.calls, 1);
    assert_int_equal(again.generation, 1);
    assert_int_equal(again.n_members, 2);
    assert_string_equal(describe(fx, GROUP).state, "CompletingRebalance");
    join(fx, jb.member_id, "B-changed", 301, &again); /* new metadata: rebalance */
    assert_int_equal(again.calls, 0);
    assert_string_equal(describe(fx, GROUP).state, "PreparingRebalance");
    destroy_now(fx);
    assert_int_equal(again.calls, 1);
}

/* ---- SyncGroup ------------------------------------------------------------ */

static void test_sync_parks_until_leader(void **state)
{
    fx_t *fx = *state;
    join_out_t ja, jb;
    form_pair(fx, &ja, &jb);
    const char *a = ja.member_id, *b = jb.member_id;

    sync_out_t sa, sb;
    sync_req(fx, b, 1, NULL, 0, 110, &sb);
    assert_int_equal(sb.calls, 0); /* parked until the leader's sync */
    assert_string_equal(describe(fx, GROUP).state, "CompletingRebalance");

    kafka_assignment_t as[] = {{B(b), B("for-b")}, {B(a), B("for-a")}};
    sync_req(fx, a, 1, as, 2, 120, &sa);
    assert_int_equal(sa.calls, 1);
    assert_int_equal(sb.calls, 1);
    assert_int_equal(sa.error, KAFKA_ERR_NONE);
    assert_int_equal(sb.error, KAFKA_ERR_NONE);
    assert_int_equal(sa.len, 5);
    assert_memory_equal(sa.assignment, "for-a", 5);
    assert_int_equal(sb.len, 5);
    assert_memory_equal(sb.assignment, "for-b", 5);
    assert_string_equal(sb.protocol, "range");
    info_out_t info = describe(fx, GROUP);
    assert_string_equal(info.state, "Stable");
    assert_string_equal(info.protocol, "range");
    assert_int_equal(info.n_members, 2);

    sync_req(fx, b, 1, NULL, 0, 130, &sb); /* Stable: answered from storage */
    assert_int_equal(sb.calls, 1);
    assert_memory_equal(sb.assignment, "for-b", 5);
    sync_req(fx, b, 0, NULL, 0, 130, &sb);
    assert_int_equal(sb.error, KAFKA_ERR_ILLEGAL_GENERATION);
    sync_req(fx, "nobody", 1, NULL, 0, 130, &sb);
    assert_int_equal(sb.error, KAFKA_ERR_UNKNOWN_MEMBER_ID);
}

static void test_sync_errors_and_empty_assignment(void **state)
{
    fx_t *fx = *state;
    join_out_t ja, jb;
    form_pair(fx, &ja, &jb);
    sync_out_t sa, sb;
    kafka_assignment_t only_a[] = {{B(ja.member_id), B("x")}};
    sync_req(fx, ja.member_id, 1, only_a, 1, 110, &sa);
    assert_int_equal(sa.calls, 1);
    sync_req(fx, jb.member_id, 1, NULL, 0, 111, &sb);
    assert_int_equal(sb.error, KAFKA_ERR_NONE);
    /* a valid empty ConsumerProtocolAssignment instead of empty bytes */
    static const uint8_t empty_assignment[] = {0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(sb.len, 10);
    assert_memory_equal(sb.assignment, empty_assignment, 10);

    join_out_t jc; /* a third member: PreparingRebalance */
    join(fx, NULL, "C", 300, &jc);
    sync_req(fx, jb.member_id, 1, NULL, 0, 301, &sb);
    assert_int_equal(sb.error, KAFKA_ERR_REBALANCE_IN_PROGRESS);
    destroy_now(fx);
    assert_int_equal(jc.calls, 1);
}

/* ---- Heartbeat ------------------------------------------------------------ */

static void test_heartbeat_codes(void **state)
{
    fx_t *fx = *state;
    join_out_t ja, jb;
    join(fx, NULL, "A", 0, &ja);
    const char *a = ja.member_id;
    assert_int_equal(heartbeat(fx, a, 1, 1), KAFKA_ERR_NONE); /* CompletingRebalance */
    assert_int_equal(heartbeat(fx, a, 0, 1), KAFKA_ERR_ILLEGAL_GENERATION);
    assert_int_equal(heartbeat(fx, "nobody", 1, 1), KAFKA_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(kafka_group_heartbeat(fx->g, B("no-such-group"), B(a), KAFKA_NULL_BYTES, 1, 1),
                     KAFKA_ERR_UNKNOWN_MEMBER_ID);
    sync_out_t s;
    kafka_assignment_t as[] = {{B(a), B("x")}};
    sync_req(fx, a, 1, as, 1, 2, &s);
    assert_int_equal(heartbeat(fx, a, 1, 3), KAFKA_ERR_NONE); /* Stable */
    join(fx, NULL, "B", 4, &jb);
    assert_string_equal(describe(fx, GROUP).state, "PreparingRebalance");
    assert_int_equal(heartbeat(fx, a, 1, 5), KAFKA_ERR_REBALANCE_IN_PROGRESS);
    destroy_now(fx);
    assert_int_equal(jb.calls, 1);
}

/* ---- expiry (KAFKA-7909, Redpanda PR #22749) ------------------------------ */

static void test_session_expiry_rebalances(void **state)
{
    fx_t *fx = *state;
    char a[128], b[128];
    int64_t now = 0;
    stable_pair(fx, SESSION, a, b, &now); /* now = 200 */
    assert_int_equal(heartbeat(fx, a, 1, now + 9000), KAFKA_ERR_NONE);
    assert_int_equal(kafka_groups_tick(fx->g, now + 9000), now + SESSION); /* B's expiry */
    kafka_groups_tick(fx->g, now + SESSION - 1);
    assert_string_equal(describe(fx, GROUP).state, "Stable");
    kafka_groups_tick(fx->g, now + SESSION); /* B never heartbeated */
    info_out_t info = describe(fx, GROUP);
    assert_string_equal(info.state, "PreparingRebalance");
    assert_int_equal(info.n_members, 1);
    assert_int_equal(heartbeat(fx, b, 1, now + SESSION), KAFKA_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(heartbeat(fx, a, 1, now + SESSION), KAFKA_ERR_REBALANCE_IN_PROGRESS);
    join_out_t j;
    join(fx, a, "A", now + SESSION + 1, &j);
    assert_int_equal(j.calls, 1);
    assert_int_equal(j.generation, 2);
    assert_int_equal(j.n_members, 1);
    assert_string_equal(j.leader, a);
}

static void test_stuck_rebalance_completes_on_timeout(void **state)
{
    fx_t *fx = *state;
    char a[128], b[128];
    int64_t now = 0;
    stable_pair(fx, 30000, a, b, &now); /* session 30 s > rebalance 20 s */
    join_out_t j;
    join(fx, a, "A", now + 100, &j); /* the leader rejoins: rebalance */
    assert_int_equal(j.calls, 0);
    /* B disconnected and never rejoins: the rebalance timeout ends it */
    assert_int_equal(kafka_groups_tick(fx->g, now + 200), now + 100 + REBALANCE);
    kafka_groups_tick(fx->g, now + 100 + REBALANCE - 1);
    assert_int_equal(j.calls, 0);
    kafka_groups_tick(fx->g, now + 100 + REBALANCE);
    assert_int_equal(j.calls, 1);
    assert_int_equal(j.error, KAFKA_ERR_NONE);
    assert_int_equal(j.generation, 2);
    assert_int_equal(j.n_members, 1);
    assert_int_equal(heartbeat(fx, b, 1, now + REBALANCE + 200), KAFKA_ERR_UNKNOWN_MEMBER_ID);

    /* every member gone: the group ends Empty instead of rebalancing forever */
    int64_t t = now + 100 + REBALANCE;
    assert_int_equal(kafka_group_leave(fx->g, B(GROUP), B(a), KAFKA_NULL_BYTES, t + 1),
                     KAFKA_ERR_NONE);
    assert_string_equal(describe(fx, GROUP).state, "Empty");
}

static void test_all_members_vanish(void **state)
{
    fx_t *fx = *state;
    char a[128], b[128];
    int64_t now = 0;
    stable_pair(fx, SESSION, a, b, &now);
    assert_int_equal(commit_one(fx, GROUP, a, 1, "t", 0, 1, -1, "", now), KAFKA_ERR_NONE);
    assert_int_equal(kafka_group_leave(fx->g, B(GROUP), B(b), KAFKA_NULL_BYTES, now + 1),
                     KAFKA_ERR_NONE);
    assert_string_equal(describe(fx, GROUP).state, "PreparingRebalance");
    /* A disconnects without rejoining: its session expiry completes the
     * rebalance, to Empty */
    kafka_groups_tick(fx->g, now + SESSION);
    info_out_t info = describe(fx, GROUP);
    assert_string_equal(info.state, "Empty");
    assert_int_equal(info.n_members, 0);
    assert_int_equal(kafka_groups_tick(fx->g, now + SESSION + 1), INT64_MAX);
}

static void test_parked_members_do_not_expire(void **state)
{
    fx_t *fx = *state;
    char a[128], b[128];
    int64_t now = 0;
    stable_pair(fx, SESSION, a, b, &now); /* now = 200, sessions end at 10200 */
    join_out_t ja, jb;
    join(fx, a, "A", now + 1000, &ja); /* A parked in JoinGroup */
    for (int64_t t = now + 5000; t <= now + 16000; t += 5000) {
        assert_int_equal(heartbeat(fx, b, 1, t), KAFKA_ERR_REBALANCE_IN_PROGRESS);
        kafka_groups_tick(fx->g, t);
    }
    assert_int_equal(describe(fx, GROUP).n_members, 2); /* A outlived its session */
    join(fx, b, "B", now + 16500, &jb);
    assert_int_equal(ja.calls, 1);
    assert_int_equal(jb.calls, 1);
    assert_int_equal(ja.generation, 2);

    sync_out_t sb, sa; /* B parked in SyncGroup, the leader is slow */
    sync_req(fx, b, 2, NULL, 0, now + 17000, &sb);
    assert_int_equal(heartbeat(fx, a, 2, now + 26000), KAFKA_ERR_NONE);
    kafka_groups_tick(fx->g, now + 30000); /* past B's session */
    assert_int_equal(sb.calls, 0);
    assert_int_equal(describe(fx, GROUP).n_members, 2);
    kafka_assignment_t as[] = {{B(a), B("a2")}, {B(b), B("b2")}};
    sync_req(fx, a, 2, as, 2, now + 30001, &sa);
    assert_int_equal(sb.calls, 1);
    assert_memory_equal(sb.assignment, "b2", 2);
}

static void test_member_that_never_syncs_is_removed(void **state)
{
    fx_t *fx = *state;
    join_out_t ja, jb;
    form_pair(fx, &ja, &jb); /* both must sync by 200 + REBALANCE */
    sync_out_t sa;
    kafka_assignment_t as[] = {{B(ja.member_id), B("a")}};
    sync_req(fx, ja.member_id, 1, as, 1, 210, &sa);
    for (int64_t t = 5000; t < 200 + REBALANCE; t += 5000) { /* B heartbeats but never syncs */
        assert_int_equal(heartbeat(fx, jb.member_id, 1, t), KAFKA_ERR_NONE);
        assert_int_equal(heartbeat(fx, ja.member_id, 1, t), KAFKA_ERR_NONE);
        kafka_groups_tick(fx->g, t);
    }
    kafka_groups_tick(fx->g, 200 + REBALANCE - 1);
    assert_int_equal(describe(fx, GROUP).n_members, 2);
    kafka_groups_tick(fx->g, 200 + REBALANCE);
    info_out_t info = describe(fx, GROUP);
    assert_string_equal(info.state, "PreparingRebalance");
    assert_int_equal(info.n_members, 1);
    assert_int_equal(heartbeat(fx, jb.member_id, 1, 200 + REBALANCE), KAFKA_ERR_UNKNOWN_MEMBER_ID);
}

/* ---- LeaveGroup ----------------------------------------------------------- */

static void test_leave_rebalances(void **state)
{
    fx_t *fx = *state;
    char a[128], b[128];
    int64_t now = 0;
    stable_pair(fx, SESSION, a, b, &now);
    assert_int_equal(commit_one(fx, GROUP, a, 1, "t", 0, 1, -1, "", now), KAFKA_ERR_NONE);
    assert_int_equal(kafka_group_leave(fx->g, B(GROUP), B(b), KAFKA_NULL_BYTES, now + 1),
                     KAFKA_ERR_NONE);
    assert_string_equal(describe(fx, GROUP).state, "PreparingRebalance");
    assert_int_equal(heartbeat(fx, a, 1, now + 2), KAFKA_ERR_REBALANCE_IN_PROGRESS);
    assert_int_equal(kafka_group_leave(fx->g, B(GROUP), B(b), KAFKA_NULL_BYTES, now + 3),
                     KAFKA_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(kafka_group_leave(fx->g, B("nope"), B(a), KAFKA_NULL_BYTES, now + 3),
                     KAFKA_ERR_UNKNOWN_MEMBER_ID);
    join_out_t j;
    join(fx, a, "A", now + 4, &j);
    assert_int_equal(j.calls, 1);
    assert_int_equal(j.generation, 2);
    assert_int_equal(j.n_members, 1);
    assert_int_equal(kafka_group_leave(fx->g, B(GROUP), B(a), KAFKA_NULL_BYTES, now + 5),
                     KAFKA_ERR_NONE);
    assert_string_equal(describe(fx, GROUP).state, "Empty");
}

static void test_leave_answers_parked_join(void **state)
{
    fx_t *fx = *state;
    char a[128], b[128];
    int64_t now = 0;
    stable_pair(fx, SESSION, a, b, &now);
    join_out_t ja;
    join(fx, a, "A", now + 1, &ja); /* parked: B has not rejoined */
    assert_int_equal(ja.calls, 0);
    assert_int_equal(kafka_group_leave(fx->g, B(GROUP), B(a), KAFKA_NULL_BYTES, now + 2),
                     KAFKA_ERR_NONE);
    assert_int_equal(ja.calls, 1);
    assert_int_equal(ja.error, KAFKA_ERR_UNKNOWN_MEMBER_ID);
    info_out_t info = describe(fx, GROUP);
    assert_string_equal(info.state, "PreparingRebalance");
    assert_int_equal(info.n_members, 1);
}

/* ---- OffsetCommit / OffsetFetch ------------------------------------------ */

static void test_commit_generation_checks(void **state)
{
    fx_t *fx = *state;
    char a[128], b[128];
    int64_t now = 0;
    kafka_committed_t c;
    stable_pair(fx, SESSION, a, b, &now);
    assert_int_equal(commit_one(fx, GROUP, a, 1, "t", 0, 5, 0, "", now), KAFKA_ERR_NONE);
    assert_int_equal(committed(fx, GROUP, "t", 0, &c), 5);
    assert_int_equal(commit_one(fx, GROUP, a, 0, "t", 0, 6, 0, "", now),
                     KAFKA_ERR_ILLEGAL_GENERATION);
    assert_int_equal(commit_one(fx, GROUP, "ghost", 1, "t", 0, 6, 0, "", now),
                     KAFKA_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(commit_one(fx, GROUP, "", -1, "t", 0, 6, 0, "", now),
                     KAFKA_ERR_UNKNOWN_MEMBER_ID); /* the group has members */

    /* B leaves; A rejoins: generation 2, CompletingRebalance */
    kafka_group_leave(fx->g, B(GROUP), B(b), KAFKA_NULL_BYTES, now + 1);
    assert_int_equal(commit_one(fx, GROUP, a, 1, "t", 0, 7, 0, "", now + 1), KAFKA_ERR_NONE);
    join_out_t j;
    join(fx, a, "A", now + 2, &j);
    assert_int_equal(j.generation, 2);
    assert_int_equal(commit_one(fx, GROUP, a, 2, "t", 0, 8, 0, "", now + 3),
                     KAFKA_ERR_REBALANCE_IN_PROGRESS);
    /* spring-kafka #3186: a commit from the previous generation is refused */
    assert_int_equal(commit_one(fx, GROUP, a, 1, "t", 0, 9, 0, "", now + 3),
                     KAFKA_ERR_ILLEGAL_GENERATION);
    assert_int_equal(committed(fx, GROUP, "t", 0, &c), 7);
    sync_out_t s;
    kafka_assignment_t as[] = {{B(a), B("a")}};
    sync_req(fx, a, 2, as, 1, now + 4, &s);
    assert_int_equal(commit_one(fx, GROUP, a, 2, "t", 0, 10, 0, "", now + 5), KAFKA_ERR_NONE);
    assert_int_equal(committed(fx, GROUP, "t", 0, &c), 10);
}

static void test_commit_to_empty_group(void **state)
{
    fx_t *fx = *state;
    kafka_committed_t c;
    assert_int_equal(committed(fx, "solo", "t", 0, &c), -1);
    assert_int_equal(c.metadata.len, 0);
    assert_int_equal(commit_one(fx, "solo", "", -1, "t", 0, 42, -1, "", 0), KAFKA_ERR_NONE);
    assert_int_equal(committed(fx, "solo", "t", 0, &c), 42);
    assert_string_equal(describe(fx, "solo").state, "Empty");
    assert_int_equal(commit_one(fx, "solo", "x", 3, "t", 0, 43, -1, "", 0),
                     KAFKA_ERR_UNKNOWN_MEMBER_ID);
    assert_int_equal(commit_one(fx, "other", "", -1, "t", 1, 7, -1, "", 0), KAFKA_ERR_NONE);
    assert_int_equal(committed(fx, "other", "t", 1, &c), 7);
    assert_string_equal(describe(fx, "never-seen").state, "Dead");
}

static void test_commit_metadata_too_large(void **state)
{
    fx_t *fx = *state;
    char *big = malloc(4098);
    assert_non_null(big);
    memset(big, 'm', 4097);
    big[4097] = '\0';
    kafka_offset_commit_t e[3] = {{B("t"), 0, 1, -1, B(big), 0},
                                  {B("t"), 1, 2, -1, {(const uint8_t *)big, 4096}, 0},
                                  {B("t"), 2, 3, -1, B("ok"), 0}};
    kafka_commit_req_t req = {B("meta"), -1, B(""), KAFKA_NULL_BYTES, e, 3};
    commit_out_t out = {0, 0};
    kafka_group_commit(fx->g, &req, 0, on_commit, &out);
    assert_int_equal(out.calls, 1);
    assert_int_equal(e[0].error, KAFKA_ERR_OFFSET_METADATA_TOO_LARGE);
    assert_int_equal(e[1].error, KAFKA_ERR_NONE);
    assert_int_equal(e[2].error, KAFKA_ERR_NONE);
    kafka_committed_t c;
    assert_int_equal(committed(fx, "meta", "t", 0, &c), -1);
    assert_int_equal(committed(fx, "meta", "t", 1, &c), 2);
    assert_int_equal(c.metadata.len, 4096);
    assert_int_equal(committed(fx, "meta", "t", 2, &c), 3);
    free(big);
}

static void test_broker_errors_are_kept(void **state)
{
    fx_t *fx = *state;
    kafka_offset_commit_t e[2] = {
        {B("gone"), 0, 1, -1, B(""), KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION},
        {B("t"), 0, 2, -1, B(""), 0}};
    kafka_commit_req_t req = {B("pre"), -1, B(""), KAFKA_NULL_BYTES, e, 2};
    commit_out_t out = {0, 0};
    kafka_group_commit(fx->g, &req, 0, on_commit, &out);
    assert_int_equal(e[0].error, KAFKA_ERR_UNKNOWN_TOPIC_OR_PARTITION);
    assert_int_equal(e[1].error, KAFKA_ERR_NONE);
    kafka_committed_t c;
    assert_int_equal(committed(fx, "pre", "gone", 0, &c), -1);
}

static int count_offsets(void *arg, kafka_bytes_t topic, int32_t partition,
                         const kafka_committed_t *c)
{
    (void)topic;
    (void)partition;
    (void)c;
    (*(int *)arg)++;
    return 0;
}

static void test_offsets_survive_restart(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(commit_one(fx, "s", "", -1, "orders", 0, 10, 3, "m1", 0), KAFKA_ERR_NONE);
    assert_int_equal(commit_one(fx, "s", "", -1, "orders", 1, 20, -1, "", 0), KAFKA_ERR_NONE);
    assert_int_equal(commit_one(fx, "s", "", -1, "orders", 0, 11, 4, "m2", 0), KAFKA_ERR_NONE);
    assert_int_equal(commit_one(fx, "s2", "", -1, "orders", 0, 99, 1, "x", 0), KAFKA_ERR_NONE);
    assert_true(fx->syncs >= 4); /* every commit waited for durability */
    fx_close(fx);
    fx_open(fx);
    kafka_committed_t c;
    assert_int_equal(committed(fx, "s", "orders", 0, &c), 11);
    assert_int_equal(c.leader_epoch, 4);
    assert_int_equal(c.metadata.len, 2);
    assert_memory_equal(c.metadata.p, "m2", 2);
    assert_int_equal(committed(fx, "s", "orders", 1, &c), 20);
    assert_int_equal(c.leader_epoch, -1);
    assert_int_equal(c.metadata.len, 0);
    assert_int_equal(committed(fx, "s2", "orders", 0, &c), 99);
    assert_int_equal(committed(fx, "s", "orders", 2, &c), -1);
    int n = 0;
    kafka_group_committed_each(fx->g, B("s"), count_offsets, &n);
    assert_int_equal(n, 2);
    assert_string_equal(describe(fx, "s").state, "Empty"); /* loaded groups exist */
}

/* Counts the records of __consumer_offsets with a null value. */
static int count_tombstones(fx_t *fx)
{
    seglog_part_t *p = seglog_partition(seglog_topic_get(fx->log, "__consumer_offsets"), 0);
    assert_non_null(p);
    core_buf_t buf;
    core_buf_init(&buf, CORE_MEM_TEST, 1 << 24);
    int tombstones = 0;
    int64_t next = seglog_log_start(p);
    while (next < seglog_log_end(p)) {
        core_buf_reset(&buf);
        assert_int_equal(seglog_read(p, next, 1 << 20, &buf), 0);
        size_t at = 0;
        while (at < buf.len) {
            record_iter_t it;
            assert_int_equal(record_iter_init(&it, buf.data + at, buf.len - at, true), 0);
            record_t r;
            while (record_iter_next(&it, &r) == 1)
                tombstones += r.value_len < 0;
            next = record_batch_last_offset(&it.h) + 1;
            at += record_batch_size(&it.h);
        }
    }
    core_buf_fini(&buf);
    return tombstones;
}

static void test_topic_deleted_writes_tombstones(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(commit_one(fx, "s", "", -1, "t1", 0, 1, -1, "", 0), KAFKA_ERR_NONE);
    assert_int_equal(commit_one(fx, "s", "", -1, "t1", 1, 2, -1, "", 0), KAFKA_ERR_NONE);
    assert_int_equal(commit_one(fx, "u", "", -1, "t1", 0, 3, -1, "", 0), KAFKA_ERR_NONE);
    assert_int_equal(commit_one(fx, "s", "", -1, "t2", 0, 4, -1, "", 0), KAFKA_ERR_NONE);
    kafka_groups_topic_deleted(fx->g, B("t1"));
    kafka_committed_t c;
    assert_int_equal(committed(fx, "s", "t1", 0, &c), -1);
    assert_int_equal(committed(fx, "s", "t1", 1, &c), -1);
    assert_int_equal(committed(fx, "u", "t1", 0, &c), -1);
    assert_int_equal(committed(fx, "s", "t2", 0, &c), 4);
    assert_int_equal(count_tombstones(fx), 3);
    fx_close(fx);
    fx_open(fx);
    assert_int_equal(committed(fx, "s", "t1", 0, &c), -1);
    assert_int_equal(committed(fx, "u", "t1", 0, &c), -1);
    assert_int_equal(committed(fx, "s", "t2", 0, &c), 4);
    /* "u" has no offsets left: the empty group is forgotten */
    kafka_groups_tick(fx->g, 0);
    assert_string_equal(describe(fx, "u").state, "Dead");
}

static void test_commits_apply_in_append_order(void **state)
{
    fx_t *fx = *state;
    fx->defer = true;
    kafka_offset_commit_t e1 = {B("t"), 0, 10, -1, B(""), 0}, e2 = {B("t"), 0, 20, -1, B(""), 0};
    kafka_commit_req_t r1 = {B("o"), -1, B(""), KAFKA_NULL_BYTES, &e1, 1};
    kafka_commit_req_t r2 = {B("o"), -1, B(""), KAFKA_NULL_BYTES, &e2, 1};
    commit_out_t o1 = {0, 0}, o2 = {0, 0};
    commit_seq = 0;
    kafka_group_commit(fx->g, &r1, 0, on_commit, &o1);
    kafka_group_commit(fx->g, &r2, 0, on_commit, &o2);
    assert_int_equal(fx->n_pending, 2);
    assert_int_equal(o1.calls + o2.calls, 0);
    kafka_committed_t c;
    fx->pending[1].done(fx->pending[1].arg, fx->pending[1].rc); /* the later sync first */
    assert_int_equal(o2.calls, 0);
    assert_int_equal(committed(fx, "o", "t", 0, &c), -1);
    fx->pending[0].done(fx->pending[0].arg, fx->pending[0].rc);
    assert_int_equal(o1.order, 1);
    assert_int_equal(o2.order, 2);
    assert_int_equal(committed(fx, "o", "t", 0, &c), 20); /* never back to 10 */
    fx->n_pending = 0;
    fx->defer = false;
}

static void test_commit_sync_failure(void **state)
{
    fx_t *fx = *state;
    fx->defer = true;
    kafka_offset_commit_t e = {B("t"), 0, 10, -1, B(""), 0};
    kafka_commit_req_t req = {B("f"), -1, B(""), KAFKA_NULL_BYTES, &e, 1};
    commit_out_t out = {0, 0};
    kafka_group_commit(fx->g, &req, 0, on_commit, &out);
    assert_int_equal(out.calls, 0);
    fx->pending[0].done(fx->pending[0].arg, CORE_EIO);
    assert_int_equal(out.calls, 1);
    assert_int_equal(e.error, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
    kafka_committed_t c;
    assert_int_equal(committed(fx, "f", "t", 0, &c), -1);
    fx->n_pending = 0;
    fx->defer = false;
}

/* Appends one batch of hand-built records to __consumer_offsets. */
static void append_raw(fx_t *fx, const uint8_t *const *keys, const int32_t *klens,
                       const uint8_t *const *values, const int32_t *vlens, int n)
{
    seglog_part_t *p = seglog_partition(seglog_topic_get(fx->log, "__consumer_offsets"), 0);
    record_builder_t b;
    record_builder_init(&b, CORE_MEM_TEST, 1 << 20);
    for (int i = 0; i < n; i++)
        assert_int_equal(record_builder_add(&b, 1, keys[i], klens[i], values[i], vlens[i], NULL, 0),
                         0);
    uint8_t *batch;
    size_t len;
    int64_t base;
    assert_int_equal(record_builder_finish(&b, &batch, &len), 0);
    assert_int_equal(seglog_append(p, batch, len, &base), 0);
    record_builder_fini(&b);
}

static void test_replay_skips_undecodable_records(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(commit_one(fx, "ok", "", -1, "t", 1, 5, -1, "", 0), KAFKA_ERR_NONE);
    kafka_groups_destroy(fx->g);
    fx->g = NULL;
    /* Kafka's format, written by hand: key v1 "ok"/"t"/0, value v3 */
    static const uint8_t good_key[] = {0, 1, 0, 2, 'o', 'k', 0, 1, 't', 0, 0, 0, 0};
    static const uint8_t good_value[] = {0, 3, 0, 0,   0,   0, 0, 0, 0, 7, 0, 0, 0,
                                         2, 0, 2, 'm', 'd', 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t short_key[] = {0, 1, 0, 9, 'o'};
    static const uint8_t bad_version[] = {0, 9, 0, 0};
    static const uint8_t bad_value[] = {0, 3, 1};
    const uint8_t *keys[] = {bad_version, short_key, good_key, good_key};
    const int32_t klens[] = {4, 5, 13, 13};
    const uint8_t *values[] = {bad_value, bad_value, bad_value, good_value};
    const int32_t vlens[] = {3, 3, 3, (int32_t)sizeof good_value};
    append_raw(fx, keys, klens, values, vlens, 4);
    int rc = kafka_groups_create(fx->log, &fx->cfg, sync_hook, fx, &fx->g);
    assert_int_equal(rc, 0); /* the broker still starts */
    kafka_committed_t c;
    assert_int_equal(committed(fx, "ok", "t", 0, &c), 7);
    assert_int_equal(c.leader_epoch, 2);
    assert_memory_equal(c.metadata.p, "md", 2);
    assert_int_equal(committed(fx, "ok", "t", 1, &c), 5);
}

/* ---- destroy -------------------------------------------------------------- */

static void test_destroy_completes_parked_calls(void **state)
{
    fx_t *fx = *state;
    join_out_t ja, jb, jc;
    form_pair(fx, &ja, &jb);
    sync_out_t sb;
    sync_req(fx, jb.member_id, 1, NULL, 0, 210, &sb);                 /* parked: no leader sync */
    join_full(fx, 3, "other", NULL, "range", "C", SESSION, 220, &jc); /* parked: delay */
    fx->defer = true;
    kafka_offset_commit_t e = {B("t"), 0, 1, -1, B(""), 0};
    kafka_commit_req_t req = {B("solo"), -1, B(""), KAFKA_NULL_BYTES, &e, 1};
    commit_out_t out = {0, 0};
    kafka_group_commit(fx->g, &req, 230, on_commit, &out);
    assert_int_equal(sb.calls + jc.calls + out.calls, 0);
    kafka_groups_destroy(fx->g);
    fx->g = NULL;
    assert_int_equal(sb.calls, 1);
    assert_int_equal(sb.error, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(jc.calls, 1);
    assert_int_equal(jc.error, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
    assert_int_equal(out.calls, 1);
    assert_int_equal(e.error, KAFKA_ERR_COORDINATOR_NOT_AVAILABLE);
    /* the sync completion arriving after destroy is harmless */
    fx->pending[0].done(fx->pending[0].arg, fx->pending[0].rc);
    assert_int_equal(out.calls, 1);
    fx->n_pending = 0;
    fx->defer = false;
}

/* ---- allocation failures -------------------------------------------------- */

static int64_t allocs_so_far(void)
{
    int64_t n = 0;
    for (int t = 0; t < CORE_MEM__COUNT; t++) {
        core_mem_stats_t st;
        core_mem_stats((core_mem_tag_t)t, &st);
        n += st.total_allocs;
    }
    return n;
}

/* A whole life: joins, syncs, a commit, a topic deletion, expiries, destroy
 * and a restart. Whatever fails, every call reports exactly once. */
static void life(fx_t *fx)
{
    join_out_t j[5];
    sync_out_t sy[2];
    memset(sy, 0, sizeof sy);
    join_full(fx, 4, GROUP, NULL, "range", "A", SESSION, 0, &j[0]);
    char a[128];
    snprintf(a, sizeof a, "%s", j[0].member_id);
    join_full(fx, 4, GROUP, a, "range", "A", SESSION, 1, &j[1]);
    kafka_assignment_t as[] = {{B(a), B("a")}};
    sync_req(fx, a, 1, as, 1, 2, &sy[0]);
    join_full(fx, 3, GROUP, NULL, "range,roundrobin", "B", SESSION, 3, &j[2]);
    (void)heartbeat(fx, a, 1, 4);
    join_full(fx, 4, GROUP, a, "range", "A", SESSION, 5, &j[3]);
    sync_req(fx, j[2].member_id, 2, NULL, 0, 6, &sy[1]);
    kafka_offset_commit_t e[2] = {{B("t"), 0, 5, 1, B("m"), 0}, {B("u"), 0, 6, -1, B(""), 0}};
    kafka_commit_req_t req = {B("solo"), -1, B(""), KAFKA_NULL_BYTES, e, 2};
    commit_out_t co = {0, 0};
    kafka_group_commit(fx->g, &req, 7, on_commit, &co);
    kafka_groups_topic_deleted(fx->g, B("t"));
    join_full(fx, 3, "other", NULL, "range", "C", SESSION, 8, &j[4]);
    kafka_groups_tick(fx->g, 3 * SESSION);
    destroy_now(fx);
    for (int i = 0; i < 5; i++)
        assert_int_equal(j[i].calls, 1);
    assert_int_equal(sy[0].calls, 1);
    assert_int_equal(sy[1].calls, 1);
    assert_int_equal(co.calls, 1);
    int rc = kafka_groups_create(fx->log, &fx->cfg, sync_hook, fx, &fx->g);
    assert_true(rc == 0 || rc == CORE_ENOMEM); /* never open with offsets missing */
    if (rc == 0) {
        kafka_committed_t c;
        (void)kafka_group_committed(fx->g, B("solo"), B("u"), 0, &c);
        destroy_now(fx);
    }
}

static void test_allocation_failures(void **state)
{
    fx_t *fx = *state;
    fx->skip_fsync = true;
    destroy_now(fx);
    assert_int_equal(kafka_groups_create(fx->log, &fx->cfg, sync_hook, fx, &fx->g), 0);
    int64_t before = allocs_so_far();
    life(fx);
    int64_t total = allocs_so_far() - before;
    assert_true(total > 50);
    for (long n = 1; n <= total; n++) {
        assert_int_equal(kafka_groups_create(fx->log, &fx->cfg, sync_hook, fx, &fx->g), 0);
        core_mem_fail_at(n, false);
        life(fx);
        core_mem_fail_at(0, false);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_member_id_required_v4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_direct_join_v0_to_v3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_member_id_expires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_members_one_rebalance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocol_majority_vote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inconsistent_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_session_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follower_rejoin_in_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_static_membership, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejoin_while_completing_resends_reply, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sync_parks_until_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_errors_and_empty_assignment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_expiry_rebalances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stuck_rebalance_completes_on_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_members_vanish, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parked_members_do_not_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_that_never_syncs_is_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave_rebalances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leave_answers_parked_join, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_generation_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_to_empty_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_metadata_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_errors_are_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offsets_survive_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topic_deleted_writes_tombstones, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commits_apply_in_append_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_sync_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_skips_undecodable_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_completes_parked_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
