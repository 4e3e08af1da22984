/*
 * group_members_int.h - the group coordinator's data, shared by group.c
 * (the rebalance state machine and the API) and group_members.c (storage,
 * lookups, member ids and the result outbox). Private to group*.c.
 *
 * Ownership: the coordinator owns its groups (map by id), a group its
 * members (array in join order) and pending member ids, a member its byte
 * copies. kafka_gbytes_t values are owned copies; kafka_bytes_t views
 * returned by the functions below borrow from them and die with them.
 *
 * Threading: loop thread only.
 */
#ifndef STRATA_KAFKA_GROUP_MEMBERS_INT_H
#define STRATA_KAFKA_GROUP_MEMBERS_INT_H

#include "kafka/group_int.h"
#include "kafka/group_offsets_int.h"

#include <string.h>

/* A non-null empty view. */
#define KAFKA_EMPTY_BYTES ((kafka_bytes_t){(const uint8_t *)"", 0})

typedef enum {
    KAFKA_GROUP_EMPTY,
    KAFKA_GROUP_PREPARING,  /* PreparingRebalance: collecting joins */
    KAFKA_GROUP_COMPLETING, /* CompletingRebalance: waiting for the leader's sync */
    KAFKA_GROUP_STABLE
} kafka_group_state_t;

/* Owned bytes; len -1 = null. Zero-initialised = empty. */
typedef struct {
    uint8_t *p;
    int32_t len;
} kafka_gbytes_t;

typedef struct {
    kafka_gbytes_t name;
    kafka_gbytes_t metadata;
} kafka_member_proto_t;

typedef struct {
    kafka_gbytes_t id, instance_id, client_id, client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    kafka_member_proto_t *protos; /* in the member's order of preference */
    int32_t n_protos;
    const kafka_gbytes_t *vote; /* scratch for protocol selection */
    kafka_gbytes_t assignment;
    int64_t deadline_ms;   /* session expiry; a new member's join deadline */
    bool is_new;           /* joined during this rebalance, no join reply yet */
    bool awaiting_sync;    /* got its join reply, has not sent SyncGroup yet */
    kafka_join_cb join_cb; /* parked JoinGroup, or NULL */
    void *join_arg;
    kafka_sync_cb sync_cb; /* parked SyncGroup, or NULL */
    void *sync_arg;
} kafka_member_t;

/* A member id handed out with MEMBER_ID_REQUIRED, not yet used to join. */
typedef struct {
    kafka_gbytes_t id;
    int64_t deadline_ms;
} kafka_pending_t;

typedef struct {
    kafka_gbytes_t id;
    kafka_group_state_t state;
    int32_t generation;
    kafka_gbytes_t protocol_type, protocol_name;
    kafka_member_t **members; /* join order; the first is the default leader */
    int32_t n_members, cap_members;
    kafka_member_t *leader;
    kafka_pending_t *pending;
    int32_t n_pending, cap_pending;
    bool initial; /* this rebalance started from Empty: initial delay applies */
    bool new_member_added;
    int64_t join_deadline_ms; /* PreparingRebalance */
    int64_t initial_remaining_ms;
    int64_t sync_deadline_ms; /* 0 = none */
} kafka_group_t;

typedef struct kafka_outmsg kafka_outmsg_t;

struct kafka_groups {
    kafka_groups_config_t cfg;
    core_map_t *groups; /* group id -> kafka_group_t* */
    kafka_offsets_t *offsets;
    kafka_outmsg_t *out_head, *out_tail; /* results waiting for delivery */
    uint64_t id_seq;                     /* entropy of last resort for member ids */
};

/* ---- owned bytes ---- */

static inline kafka_bytes_t gb_view(const kafka_gbytes_t *b)
{
    if (b->len < 0)
        return KAFKA_NULL_BYTES;
    return (kafka_bytes_t){b->len > 0 ? b->p : (const uint8_t *)"", b->len};
}

/* Replaces b with a copy of v; b is unchanged on CORE_ENOMEM. */
static inline int gb_set(kafka_gbytes_t *b, kafka_bytes_t v)
{
    uint8_t *p = NULL;
    if (v.len > 0) {
        p = core_alloc(CORE_MEM_KAFKA, (size_t)v.len);
        if (p == NULL)
            return CORE_ENOMEM;
        memcpy(p, v.p, (size_t)v.len);
    }
    core_free(b->p);
    b->p = p;
    b->len = v.len < 0 ? -1 : v.len;
    return 0;
}

static inline void gb_free(kafka_gbytes_t *b)
{
    core_free(b->p);
    b->p = NULL;
    b->len = 0;
}

static inline size_t bsize(kafka_bytes_t v)
{
    return v.len > 0 ? (size_t)v.len : 0;
}

/* Never NULL, so it can go to memcpy and the map. */
static inline const uint8_t *bptr(kafka_bytes_t v)
{
    return v.len > 0 ? v.p : (const uint8_t *)"";
}

/* ---- the outbox: results are copied and delivered by kafka_outbox_flush()
 * in order, once the coordinator's state is consistent. If the copy cannot
 * be allocated the callback is called at once instead. ---- */

void kafka_outbox_join(kafka_groups_t *g, kafka_join_cb cb, void *arg,
                       const kafka_join_result_t *r);
void kafka_outbox_sync(kafka_groups_t *g, kafka_sync_cb cb, void *arg,
                       const kafka_sync_result_t *r);
/* An error reply: generation -1, null protocol, empty leader. */
void kafka_outbox_join_error(kafka_groups_t *g, kafka_join_cb cb, void *arg, int16_t err,
                             kafka_bytes_t member_id);
void kafka_outbox_sync_error(kafka_groups_t *g, kafka_sync_cb cb, void *arg, int16_t err);
/* Delivers queued results; safe against callbacks that call back in. */
void kafka_outbox_flush(kafka_groups_t *g);

/* ---- members ---- */

/* prefix + "-" + a random version-4 UUID (getrandom, else /dev/urandom),
 * as Kafka's generateMemberId; *out is the caller's. CORE_ENOMEM. */
int kafka_member_id_make(kafka_groups_t *g, kafka_bytes_t prefix, kafka_gbytes_t *out);
void kafka_member_free(kafka_member_t *m);
/* Copies the request's protocols and timeouts into m (the rebalance timeout
 * defaults to the session timeout); m is unchanged on CORE_ENOMEM. */
int kafka_member_update(kafka_member_t *m, const kafka_join_req_t *req);
/* Same protocols, same metadata, same order. */
bool kafka_member_protos_match(const kafka_member_t *m, const kafka_join_req_t *req);
/* m's metadata for a protocol, or empty. */
kafka_bytes_t kafka_member_metadata(const kafka_member_t *m, kafka_bytes_t protocol);
kafka_member_t *kafka_member_find(const kafka_group_t *grp, kafka_bytes_t id);
kafka_member_t *kafka_member_by_instance(const kafka_group_t *grp, kafka_bytes_t instance_id);
/* Kafka's validateMember: UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID or NONE
 * with *out set. */
int16_t kafka_member_validate(const kafka_group_t *grp, kafka_bytes_t member_id,
                              kafka_bytes_t instance_id, kafka_member_t **out);
/* Answers m's parked calls with err, removes and frees it (a removed leader
 * passes to the first member). Does not rebalance. */
void kafka_member_remove(kafka_groups_t *g, kafka_group_t *grp, kafka_member_t *m, int16_t err);

/* ---- groups and pending ids ---- */

kafka_group_t *kafka_group_find(const kafka_groups_t *g, kafka_bytes_t id);
/* Finds or creates (Empty) a group; NULL on CORE_ENOMEM. */
kafka_group_t *kafka_group_make(kafka_groups_t *g, kafka_bytes_t id);
/* Frees a group already taken out of the map, without answering anything. */
void kafka_group_free(kafka_group_t *grp);
/* The largest rebalance timeout of the members. */
int32_t kafka_group_rebalance_timeout(const kafka_group_t *grp);
/* Room for one more member. */
int kafka_group_members_reserve(kafka_group_t *grp);
/* Every member has a parked join and no pending id is outstanding. */
bool kafka_group_all_joined(const kafka_group_t *grp);
/* Kafka's supportsProtocols: same protocol type, and one protocol that
 * every member other than `self` supports. */
bool kafka_group_supports_protocols(const kafka_group_t *grp, const kafka_join_req_t *req,
                                    const kafka_member_t *self);
/* Kafka's selectProtocol; the name is borrowed from a member. */
const kafka_gbytes_t *kafka_group_select_protocol(kafka_group_t *grp);

int32_t kafka_pending_find(const kafka_group_t *grp, kafka_bytes_t id);
/* Removes pending id i, handing the id to *take_id if non-NULL. */
void kafka_pending_remove(kafka_group_t *grp, int32_t i, kafka_gbytes_t *take_id);
/* Takes id. CORE_ENOMEM leaves id with the caller. */
int kafka_pending_add(kafka_group_t *grp, kafka_gbytes_t id, int64_t deadline_ms);

#endif /* STRATA_KAFKA_GROUP_MEMBERS_INT_H */
