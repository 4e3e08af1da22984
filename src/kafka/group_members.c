/*
 * group_members.c - the group coordinator's storage: groups, members and
 * pending member ids with their lookups, member id generation, protocol
 * selection, and the outbox that delivers join/sync results.
 *
 * Invariants:
 *   1. A group's members array holds n_members live members in join
 *      order; the leader, if any, is one of them.
 *   2. A queued result (kafka_outmsg_t) owns copies of all its bytes, so
 *      it survives whatever happens to the group before it is delivered.
 *   3. kafka_outbox_flush() unlinks a result before calling its callback.
 *
 * Threading: loop thread only.
 */
#include "kafka/group_members_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

#define KAFKA_STRING_MAX 32767
#define UUID_TEXT_LEN    36

/* A result waiting for delivery, with copies of its bytes after it. */
struct kafka_outmsg {
    kafka_outmsg_t *next;
    kafka_join_cb join_cb; /* exactly one of join_cb, sync_cb is set */
    kafka_sync_cb sync_cb;
    void *arg;
    kafka_join_result_t join;
    kafka_sync_result_t sync;
};

/* ---- the outbox --------------------------------------------------------- */

static kafka_bytes_t copy_out(uint8_t **cur, kafka_bytes_t v)
{
    if (v.len <= 0)
        return v.len < 0 ? KAFKA_NULL_BYTES : KAFKA_EMPTY_BYTES;
    memcpy(*cur, v.p, (size_t)v.len);
    kafka_bytes_t r = {*cur, v.len};
    *cur += v.len;
    return r;
}

static void out_link(kafka_groups_t *g, kafka_outmsg_t *m)
{
    if (g->out_tail)
        g->out_tail->next = m;
    else
        g->out_head = m;
    g->out_tail = m;
}

static size_t join_result_bytes(const kafka_join_result_t *r)
{
    size_t n = bsize(r->protocol_type) + bsize(r->protocol_name) + bsize(r->leader) +
               bsize(r->member_id) + (size_t)r->n_members * sizeof(kafka_join_member_t);
    for (int32_t i = 0; i < r->n_members; i++)
        n += bsize(r->members[i].member_id) + bsize(r->members[i].instance_id) +
             bsize(r->members[i].metadata);
    return n;
}

void kafka_outbox_join(kafka_groups_t *g, kafka_join_cb cb, void *arg, const kafka_join_result_t *r)
{
    kafka_outmsg_t *m = core_alloc(CORE_MEM_KAFKA, sizeof *m + join_result_bytes(r));
    if (m == NULL) {
        cb(arg, r); /* no memory for a copy: deliver now (invariant 5) */
        return;
    }
    memset(m, 0, sizeof *m);
    m->join_cb = cb;
    m->arg = arg;
    kafka_join_member_t *list = (kafka_join_member_t *)(m + 1);
    uint8_t *cur = (uint8_t *)(list + r->n_members);
    m->join = *r;
    m->join.protocol_type = copy_out(&cur, r->protocol_type);
    m->join.protocol_name = copy_out(&cur, r->protocol_name);
    m->join.leader = copy_out(&cur, r->leader);
    m->join.member_id = copy_out(&cur, r->member_id);
    for (int32_t i = 0; i < r->n_members; i++) {
        list[i].member_id = copy_out(&cur, r->members[i].member_id);
        list[i].instance_id = copy_out(&cur, r->members[i].instance_id);
        list[i].metadata = copy_out(&cur, r->members[i].metadata);
    }
    m->join.members = r->n_members > 0 ? list : NULL;
    out_link(g, m);
}

void kafka_outbox_sync(kafka_groups_t *g, kafka_sync_cb cb, void *arg, const kafka_sync_result_t *r)
{
    size_t n = bsize(r->protocol_type) + bsize(r->protocol_name) + bsize(r->assignment);
    kafka_outmsg_t *m = core_alloc(CORE_MEM_KAFKA, sizeof *m + n);
    if (m == NULL) {
        cb(arg, r);
        return;
    }
    memset(m, 0, sizeof *m);
    m->sync_cb = cb;
    m->arg = arg;
    uint8_t *cur = (uint8_t *)(m + 1);
    m->sync.error = r->error;
    m->sync.protocol_type = copy_out(&cur, r->protocol_type);
    m->sync.protocol_name = copy_out(&cur, r->protocol_name);
    m->sync.assignment = copy_out(&cur, r->assignment);
    out_link(g, m);
}

void kafka_outbox_join_error(kafka_groups_t *g, kafka_join_cb cb, void *arg, int16_t err,
                             kafka_bytes_t member_id)
{
    kafka_join_result_t r = {.error = err,
                             .generation = -1,
                             .protocol_type = KAFKA_NULL_BYTES,
                             .protocol_name = KAFKA_NULL_BYTES,
                             .leader = KAFKA_EMPTY_BYTES,
                             .member_id = member_id.len < 0 ? KAFKA_EMPTY_BYTES : member_id};
    kafka_outbox_join(g, cb, arg, &r);
}

void kafka_outbox_sync_error(kafka_groups_t *g, kafka_sync_cb cb, void *arg, int16_t err)
{
    kafka_sync_result_t r = {err, KAFKA_NULL_BYTES, KAFKA_NULL_BYTES, KAFKA_EMPTY_BYTES};
    kafka_outbox_sync(g, cb, arg, &r);
}

/* Delivers queued results in order. Pops before calling, so a callback that
 * calls back in (and flushes) is safe. */
void kafka_outbox_flush(kafka_groups_t *g)
{
    kafka_outmsg_t *m;
    while ((m = g->out_head) != NULL) {
        g->out_head = m->next;
        if (g->out_head == NULL)
            g->out_tail = NULL;
        if (m->sync_cb)
            m->sync_cb(m->arg, &m->sync);
        else
            m->join_cb(m->arg, &m->join);
        core_free(m);
    }
}

/* ---- member ids ---------------------------------------------------------- */

static void random_bytes(kafka_groups_t *g, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno != EINTR)
            break;
    }
    int fd = got < n ? open("/dev/urandom", O_RDONLY | O_CLOEXEC) : -1;
    while (fd >= 0 && got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r <= 0 && !(r < 0 && errno == EINTR))
            break;
        got += r > 0 ? (size_t)r : 0;
    }
    if (fd >= 0)
        close(fd);
    for (; got < n; got++) { /* last resort: unique, if not unpredictable */
        uint64_t seed[2] = {(uint64_t)core_mono_ns(), ++g->id_seq};
        p[got] = (uint8_t)core_hash64(seed, sizeof seed, got);
    }
}

/* prefix + "-" + a random version-4 UUID, as Kafka's generateMemberId. */
int kafka_member_id_make(kafka_groups_t *g, kafka_bytes_t prefix, kafka_gbytes_t *out)
{
    uint8_t u[16];
    random_bytes(g, u, sizeof u);
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    char text[UUID_TEXT_LEN + 1];
    size_t at = 0;
    for (size_t i = 0; i < sizeof u; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text[at++] = '-';
        snprintf(text + at, sizeof text - at, "%02x", u[i]);
        at += 2;
    }
    size_t plen = CORE_MIN(bsize(prefix), (size_t)(KAFKA_STRING_MAX - UUID_TEXT_LEN - 1));
    out->len = (int32_t)(plen + 1 + UUID_TEXT_LEN);
    out->p = core_alloc(CORE_MEM_KAFKA, (size_t)out->len);
    if (out->p == NULL) {
        out->len = 0;
        return CORE_ENOMEM;
    }
    memcpy(out->p, bptr(prefix), plen);
    out->p[plen] = '-';
    memcpy(out->p + plen + 1, text, UUID_TEXT_LEN);
    return 0;
}

/* ---- members ------------------------------------------------------------- */

static void protos_free(kafka_member_proto_t *p, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        gb_free(&p[i].name);
        gb_free(&p[i].metadata);
    }
    core_free(p);
}

void kafka_member_free(kafka_member_t *m)
{
    gb_free(&m->id);
    gb_free(&m->instance_id);
    gb_free(&m->client_id);
    gb_free(&m->client_host);
    gb_free(&m->assignment);
    protos_free(m->protos, m->n_protos);
    core_free(m);
}

/* Copies the request's protocols and timeouts into m; m is unchanged on
 * failure. */
int kafka_member_update(kafka_member_t *m, const kafka_join_req_t *req)
{
    kafka_member_proto_t *p = core_calloc(CORE_MEM_KAFKA, (size_t)req->n_protocols, sizeof *p);
    if (p == NULL)
        return CORE_ENOMEM;
    for (int32_t i = 0; i < req->n_protocols; i++) {
        if (gb_set(&p[i].name, req->protocols[i].name) != 0 ||
            gb_set(&p[i].metadata, req->protocols[i].metadata) != 0) {
            protos_free(p, req->n_protocols);
            return CORE_ENOMEM;
        }
    }
    protos_free(m->protos, m->n_protos);
    m->protos = p;
    m->n_protos = req->n_protocols;
    m->session_timeout_ms = req->session_timeout_ms;
    m->rebalance_timeout_ms =
        req->rebalance_timeout_ms > 0 ? req->rebalance_timeout_ms : req->session_timeout_ms;
    return 0;
}

static bool member_supports(const kafka_member_t *m, kafka_bytes_t name)
{
    for (int32_t i = 0; i < m->n_protos; i++)
        if (kafka_bytes_eq(gb_view(&m->protos[i].name), name))
            return true;
    return false;
}

bool kafka_member_protos_match(const kafka_member_t *m, const kafka_join_req_t *req)
{
    if (m->n_protos != req->n_protocols)
        return false;
    for (int32_t i = 0; i < m->n_protos; i++)
        if (!kafka_bytes_eq(gb_view(&m->protos[i].name), req->protocols[i].name) ||
            !kafka_bytes_eq(gb_view(&m->protos[i].metadata), req->protocols[i].metadata))
            return false;
    return true;
}

kafka_bytes_t kafka_member_metadata(const kafka_member_t *m, kafka_bytes_t protocol)
{
    for (int32_t i = 0; i < m->n_protos; i++)
        if (kafka_bytes_eq(gb_view(&m->protos[i].name), protocol))
            return gb_view(&m->protos[i].metadata);
    return KAFKA_EMPTY_BYTES;
}

kafka_member_t *kafka_member_find(const kafka_group_t *grp, kafka_bytes_t id)
{
    for (int32_t i = 0; id.len > 0 && i < grp->n_members; i++)
        if (kafka_bytes_eq(gb_view(&grp->members[i]->id), id))
            return grp->members[i];
    return NULL;
}

kafka_member_t *kafka_member_by_instance(const kafka_group_t *grp, kafka_bytes_t instance_id)
{
    for (int32_t i = 0; instance_id.len > 0 && i < grp->n_members; i++)
        if (kafka_bytes_eq(gb_view(&grp->members[i]->instance_id), instance_id))
            return grp->members[i];
    return NULL;
}

/* Kafka's ClassicGroup.validateMember: the instance id, if any, must map to
 * this member id; the member must exist. */
int16_t kafka_member_validate(const kafka_group_t *grp, kafka_bytes_t member_id,
                              kafka_bytes_t instance_id, kafka_member_t **out)
{
    *out = NULL;
    if (instance_id.len > 0) {
        kafka_member_t *s = kafka_member_by_instance(grp, instance_id);
        if (s == NULL)
            return KAFKA_ERR_UNKNOWN_MEMBER_ID;
        if (!kafka_bytes_eq(gb_view(&s->id), member_id))
            return KAFKA_ERR_FENCED_INSTANCE_ID;
    }
    *out = kafka_member_find(grp, member_id);
    return *out ? KAFKA_ERR_NONE : KAFKA_ERR_UNKNOWN_MEMBER_ID;
}

/* Answers m's parked calls with err and frees it. Does not rebalance. */
void kafka_member_remove(kafka_groups_t *g, kafka_group_t *grp, kafka_member_t *m, int16_t err)
{
    if (m->join_cb)
        kafka_outbox_join_error(g, m->join_cb, m->join_arg, err, KAFKA_EMPTY_BYTES);
    if (m->sync_cb)
        kafka_outbox_sync_error(g, m->sync_cb, m->sync_arg, err);
    int32_t i = 0;
    while (i < grp->n_members && grp->members[i] != m)
        i++;
    memmove(&grp->members[i], &grp->members[i + 1],
            (size_t)(grp->n_members - i - 1) * sizeof grp->members[0]);
    grp->n_members--;
    if (grp->leader == m)
        grp->leader = grp->n_members > 0 ? grp->members[0] : NULL;
    kafka_member_free(m);
}

/* ---- groups -------------------------------------------------------------- */

kafka_group_t *kafka_group_find(const kafka_groups_t *g, kafka_bytes_t id)
{
    void *v = NULL;
    if (id.len < 0 || !core_map_get(g->groups, bptr(id), bsize(id), &v))
        return NULL;
    return v;
}

kafka_group_t *kafka_group_make(kafka_groups_t *g, kafka_bytes_t id)
{
    kafka_group_t *grp = kafka_group_find(g, id);
    if (grp)
        return grp;
    grp = core_calloc(CORE_MEM_KAFKA, 1, sizeof *grp);
    if (grp == NULL || gb_set(&grp->id, id) != 0 ||
        core_map_put(g->groups, bptr(id), bsize(id), grp, NULL) != 0) {
        if (grp)
            gb_free(&grp->id);
        core_free(grp);
        return NULL;
    }
    return grp;
}

void kafka_group_free(kafka_group_t *grp)
{
    for (int32_t i = 0; i < grp->n_members; i++)
        kafka_member_free(grp->members[i]);
    for (int32_t i = 0; i < grp->n_pending; i++)
        gb_free(&grp->pending[i].id);
    core_free(grp->members);
    core_free(grp->pending);
    gb_free(&grp->id);
    gb_free(&grp->protocol_type);
    gb_free(&grp->protocol_name);
    core_free(grp);
}

int32_t kafka_group_rebalance_timeout(const kafka_group_t *grp)
{
    int32_t t = 0;
    for (int32_t i = 0; i < grp->n_members; i++)
        t = CORE_MAX(t, grp->members[i]->rebalance_timeout_ms);
    return t;
}

int32_t kafka_pending_find(const kafka_group_t *grp, kafka_bytes_t id)
{
    for (int32_t i = 0; id.len > 0 && i < grp->n_pending; i++)
        if (kafka_bytes_eq(gb_view(&grp->pending[i].id), id))
            return i;
    return -1;
}

void kafka_pending_remove(kafka_group_t *grp, int32_t i, kafka_gbytes_t *take_id)
{
    if (take_id)
        *take_id = grp->pending[i].id;
    else
        gb_free(&grp->pending[i].id);
    grp->pending[i] = grp->pending[--grp->n_pending];
}

int kafka_pending_add(kafka_group_t *grp, kafka_gbytes_t id, int64_t deadline_ms)
{
    if (grp->n_pending == grp->cap_pending) {
        int32_t cap = grp->cap_pending ? grp->cap_pending * 2 : 4;
        kafka_pending_t *p = core_realloc(CORE_MEM_KAFKA, grp->pending, (size_t)cap * sizeof *p);
        if (p == NULL)
            return CORE_ENOMEM;
        grp->pending = p;
        grp->cap_pending = cap;
    }
    grp->pending[grp->n_pending++] = (kafka_pending_t){id, deadline_ms};
    return 0;
}

int kafka_group_members_reserve(kafka_group_t *grp)
{
    if (grp->n_members < grp->cap_members)
        return 0;
    int32_t cap = grp->cap_members ? grp->cap_members * 2 : 4;
    kafka_member_t **p = core_realloc(CORE_MEM_KAFKA, grp->members, (size_t)cap * sizeof *p);
    if (p == NULL)
        return CORE_ENOMEM;
    grp->members = p;
    grp->cap_members = cap;
    return 0;
}

/* True when every member has a parked join and no MEMBER_ID_REQUIRED id is
 * outstanding (Kafka's hasAllMembersJoined). */
bool kafka_group_all_joined(const kafka_group_t *grp)
{
    for (int32_t i = 0; i < grp->n_members; i++)
        if (grp->members[i]->join_cb == NULL)
            return false;
    return grp->n_pending == 0;
}

static bool all_support(const kafka_group_t *grp, kafka_bytes_t name, const kafka_member_t *except)
{
    for (int32_t i = 0; i < grp->n_members; i++)
        if (grp->members[i] != except && !member_supports(grp->members[i], name))
            return false;
    return true;
}

/* A joiner must use the group's protocol type and share at least one
 * protocol with every other member (Kafka's supportsProtocols). */
bool kafka_group_supports_protocols(const kafka_group_t *grp, const kafka_join_req_t *req,
                                    const kafka_member_t *self)
{
    if (grp->n_members == 0)
        return true;
    if (!kafka_bytes_eq(gb_view(&grp->protocol_type), req->protocol_type))
        return false;
    for (int32_t i = 0; i < req->n_protocols; i++)
        if (all_support(grp, req->protocols[i].name, self))
            return true;
    return false;
}

/* Kafka's selectProtocol: each member votes for its most preferred protocol
 * among those every member supports; most votes wins, ties go to the first
 * member's preference. */
const kafka_gbytes_t *kafka_group_select_protocol(kafka_group_t *grp)
{
    for (int32_t i = 0; i < grp->n_members; i++) {
        kafka_member_t *m = grp->members[i];
        m->vote = NULL;
        for (int32_t p = 0; p < m->n_protos && m->vote == NULL; p++)
            if (all_support(grp, gb_view(&m->protos[p].name), NULL))
                m->vote = &m->protos[p].name;
    }
    const kafka_member_t *first = grp->members[0];
    const kafka_gbytes_t *best = first->n_protos > 0 ? &first->protos[0].name : NULL;
    int32_t best_votes = 0;
    for (int32_t c = 0; c < first->n_protos; c++) {
        int32_t votes = 0;
        for (int32_t i = 0; i < grp->n_members; i++)
            if (grp->members[i]->vote &&
                kafka_bytes_eq(gb_view(grp->members[i]->vote), gb_view(&first->protos[c].name)))
                votes++;
        if (votes > best_votes) {
            best = &first->protos[c].name;
            best_votes = votes;
        }
    }
    return best;
}
