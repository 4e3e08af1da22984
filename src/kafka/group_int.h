/*
 * group_int.h - the classic consumer-group coordinator and committed
 * offsets (shared/reference/kafka-protocol.md, section 4).
 *
 * The coordinator never parses subscriptions or assignments: metadata and
 * assignments are opaque bytes. Its API is independent of the wire format:
 * the broker decodes requests, calls these functions, and encodes what they
 * report. Calls that may have to wait (join, sync, offset commit) report
 * through a callback, possibly before they return, possibly much later from
 * kafka_groups_tick(). Every callback is called exactly once, including at
 * kafka_groups_destroy() (with COORDINATOR_NOT_AVAILABLE), so a handler can
 * always complete its response slot.
 *
 * State machine per group:
 *   Empty --join--> PreparingRebalance --all joined or rebalance timeout-->
 *   CompletingRebalance --leader's sync--> Stable --join/leave/expiry-->
 *   PreparingRebalance ...; a group whose last member leaves becomes Empty;
 *   Dead when deleted.
 *
 * Committed offsets are appended to the internal topic __consumer_offsets
 * (one partition) and made durable through the kafka_sync_fn given at
 * creation before a commit is acknowledged; at creation the topic is
 * replayed to rebuild them, so they survive restarts.
 *
 * Byte views passed in are borrowed for the duration of the call; the
 * coordinator copies what it keeps. Byte views in results are valid only
 * during the callback. Results are delivered once the coordinator's state
 * is consistent (at the end of the call that produced them), so a callback
 * may call back into the coordinator; callbacks run from
 * kafka_groups_destroy() must not.
 *
 * Error replies of JoinGroup/SyncGroup carry null protocol_type and
 * protocol_name (the broker writes "" where a version has no null).
 *
 * Threading: loop thread only.
 */
#ifndef STRATA_KAFKA_GROUP_INT_H
#define STRATA_KAFKA_GROUP_INT_H

#include "kafka/kafka_int.h"

typedef struct kafka_groups kafka_groups_t;

typedef struct {
    int64_t initial_rebalance_delay_ms; /* when an empty group first forms; 3000 */
    int32_t min_session_timeout_ms;     /* 6000 */
    int32_t max_session_timeout_ms;     /* 1800000 */
    /* A new member whose JoinGroup is parked is removed after this; an id
     * handed out with MEMBER_ID_REQUIRED expires after min(its session
     * timeout, this), as in Kafka. 300000 */
    int64_t new_member_join_timeout_ms;
    int32_t max_metadata_bytes; /* offset commit metadata cap; 4096 */
} kafka_groups_config_t;

void kafka_groups_config_default(kafka_groups_config_t *c);

/* Opens the offsets topic __consumer_offsets (creating it: 1 partition,
 * flush never, unlimited retention) and replays it; groups that have
 * offsets come back Empty. Undecodable records are logged and skipped.
 * `sync` may be NULL: seglog_sync() is then called on the loop thread. The
 * broker must not let clients delete or produce to __consumer_offsets.
 * A kafka_sync_fn that returns non-zero must not call `done`; one that
 * returns 0 must call it exactly once, even at shutdown (after
 * kafka_groups_destroy() it is still safe to call). */
int kafka_groups_create(seglog_t *log, const kafka_groups_config_t *cfg, kafka_sync_fn sync,
                        void *sync_ctx, kafka_groups_t **out);
void kafka_groups_destroy(kafka_groups_t *g);
/* Expires sessions, ends rebalances whose time is up, completes parked
 * calls. Returns the monotonic ms of the next deadline (INT64_MAX if none). */
int64_t kafka_groups_tick(kafka_groups_t *g, int64_t now_ms);

/* JoinGroup */
typedef struct {
    kafka_bytes_t name;
    kafka_bytes_t metadata;
} kafka_group_protocol_t;

typedef struct {
    int16_t version; /* JoinGroup version: v4+ gets MEMBER_ID_REQUIRED */
    kafka_bytes_t group_id;
    kafka_bytes_t member_id;   /* empty for a new member */
    kafka_bytes_t instance_id; /* null unless static membership */
    kafka_bytes_t client_id;
    kafka_bytes_t client_host;
    kafka_bytes_t protocol_type;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v0: equal to the session timeout */
    const kafka_group_protocol_t *protocols;
    int32_t n_protocols;
} kafka_join_req_t;

typedef struct {
    kafka_bytes_t member_id;
    kafka_bytes_t instance_id;
    kafka_bytes_t metadata;
} kafka_join_member_t;

typedef struct {
    int16_t error;
    int32_t generation;
    kafka_bytes_t protocol_type;
    kafka_bytes_t protocol_name;
    kafka_bytes_t leader;
    kafka_bytes_t member_id;
    const kafka_join_member_t *members; /* the leader's reply only */
    int32_t n_members;
} kafka_join_result_t;

typedef void (*kafka_join_cb)(void *arg, const kafka_join_result_t *res);
void kafka_group_join(kafka_groups_t *g, const kafka_join_req_t *req, int64_t now_ms,
                      kafka_join_cb cb, void *arg);

/* SyncGroup */
typedef struct {
    kafka_bytes_t member_id;
    kafka_bytes_t assignment;
} kafka_assignment_t;

typedef struct {
    kafka_bytes_t group_id;
    kafka_bytes_t member_id;
    kafka_bytes_t instance_id;
    int32_t generation;
    kafka_bytes_t protocol_type;           /* v5+, may be null */
    kafka_bytes_t protocol_name;           /* v5+, may be null */
    const kafka_assignment_t *assignments; /* the leader's only */
    int32_t n_assignments;
} kafka_sync_req_t;

typedef struct {
    int16_t error;
    kafka_bytes_t protocol_type;
    kafka_bytes_t protocol_name;
    kafka_bytes_t assignment;
} kafka_sync_result_t;

typedef void (*kafka_sync_cb)(void *arg, const kafka_sync_result_t *res);
void kafka_group_sync(kafka_groups_t *g, const kafka_sync_req_t *req, int64_t now_ms,
                      kafka_sync_cb cb, void *arg);

/* Heartbeat: returns the error code at once. */
int16_t kafka_group_heartbeat(kafka_groups_t *g, kafka_bytes_t group_id, kafka_bytes_t member_id,
                              kafka_bytes_t instance_id, int32_t generation, int64_t now_ms);

/* LeaveGroup for one member; returns its error code. */
int16_t kafka_group_leave(kafka_groups_t *g, kafka_bytes_t group_id, kafka_bytes_t member_id,
                          kafka_bytes_t instance_id, int64_t now_ms);

/* OffsetCommit */
typedef struct {
    kafka_bytes_t topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch; /* -1 if unknown */
    kafka_bytes_t metadata;
    /* in: 0, or an error the broker already decided for this partition
     * (e.g. UNKNOWN_TOPIC_OR_PARTITION), which is kept and the entry
     * skipped; out: set by the coordinator */
    int16_t error;
} kafka_offset_commit_t;

typedef struct {
    kafka_bytes_t group_id;
    int32_t generation; /* -1 for assign()-style commits */
    kafka_bytes_t member_id;
    kafka_bytes_t instance_id;
    kafka_offset_commit_t *offsets; /* errors are written into each entry */
    int32_t n_offsets;
} kafka_commit_req_t;

/* cb(arg, req) reports with every offsets[i].error set; `req` is the one
 * passed in, which must stay valid until the callback (the byte views in
 * it need not: they are read during the call only). A null group id gives
 * INVALID_GROUP_ID; "" is a valid group here, as in Kafka. */
typedef void (*kafka_commit_cb)(void *arg, kafka_commit_req_t *req);
void kafka_group_commit(kafka_groups_t *g, kafka_commit_req_t *req, int64_t now_ms,
                        kafka_commit_cb cb, void *arg);

/* OffsetFetch for one partition: an unknown group or partition gives offset
 * -1, empty metadata and KAFKA_ERR_NONE. */
typedef struct {
    int64_t offset;
    int32_t leader_epoch;
    kafka_bytes_t metadata; /* valid until the next coordinator call */
} kafka_committed_t;

int16_t kafka_group_committed(kafka_groups_t *g, kafka_bytes_t group_id, kafka_bytes_t topic,
                              int32_t partition, kafka_committed_t *out);
/* Every committed offset of a group (OffsetFetch with null topics). Calls
 * fn for each; stops early if fn returns non-zero. */
void kafka_group_committed_each(kafka_groups_t *g, kafka_bytes_t group_id,
                                int (*fn)(void *arg, kafka_bytes_t topic, int32_t partition,
                                          const kafka_committed_t *c),
                                void *arg);

/* ListGroups / DescribeGroups */
typedef struct {
    kafka_bytes_t member_id;
    kafka_bytes_t instance_id;
    kafka_bytes_t client_id;
    kafka_bytes_t client_host;
    kafka_bytes_t metadata; /* of the chosen protocol */
    kafka_bytes_t assignment;
} kafka_group_member_info_t;

typedef struct {
    kafka_bytes_t group_id;
    const char *state; /* "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead" */
    kafka_bytes_t protocol_type;
    kafka_bytes_t protocol_name;
    const kafka_group_member_info_t *members;
    int32_t n_members;
} kafka_group_info_t;

/* Calls fn for each group (ListGroups). */
void kafka_groups_each(kafka_groups_t *g, void (*fn)(void *arg, const kafka_group_info_t *info),
                       void *arg);
/* Describes one group; an unknown group is reported as state "Dead" with
 * no members and KAFKA_ERR_NONE, as Kafka does. As in Kafka, the protocol
 * name and the members' metadata and assignments are filled in only when
 * the group is Stable. fn must not call into the coordinator. */
int16_t kafka_group_describe(kafka_groups_t *g, kafka_bytes_t group_id,
                             void (*fn)(void *arg, const kafka_group_info_t *info), void *arg);

/* Forgets committed offsets of a deleted topic: writes tombstones for them
 * to __consumer_offsets (durably, like commits) and drops them in commit
 * order. It never touches the topic itself, so it may be called before or
 * after the topic is deleted. */
void kafka_groups_topic_deleted(kafka_groups_t *g, kafka_bytes_t topic);

#endif /* STRATA_KAFKA_GROUP_INT_H */
