/*
 * Consumer-group membership on the Kafka bus (bus_group_*).
 *
 * A member is a librdkafka consumer subscribed to one topic with an eager
 * assignor (range by default; cooperative assignors are refused). It
 * carries the membership only: on an assignment it tells its owner which
 * partitions are now its own and assigns itself nothing, so it fetches no
 * records; the owner reads them with readers at offsets it keeps
 * elsewhere (the store). On a revocation the owner is told first, and
 * must stop reading before the partitions go to another member.
 *
 * Committed offsets: bus_group_commit() notes the owner's progress; it is
 * committed to the group asynchronously, at most once a second and when
 * partitions are revoked, so monitoring tools see the group's lag. strata
 * never reads these offsets back.
 *
 * Threading: a group belongs to its owner's thread; the rebalance callback
 * runs inside bus_group_poll() and bus_group_close() on that thread.
 */
#include "bus/kafka_int.h"

#include <stdio.h>
#include <string.h>

#define COMMIT_EVERY_MS 1000
#define PARTITIONS_MAX  65536

struct bus_group {
    bus_t *bus;
    rd_kafka_t *rk;
    char *topic;
    char *group;
    bus_group_callbacks_t cb;
    int cb_rc;      /* the first error a callback returned, for the next poll */
    int64_t *next;  /* per partition: offset to commit, or -1 */
    int32_t nparts; /* entries of next */
    bool dirty;
    int64_t last_commit_ms;
};

/* Commits the noted offsets of the partitions in `only` (every partition
 * when NULL), asynchronously. */
static void commit_noted(bus_group_t *g, const rd_kafka_topic_partition_list_t *only)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (int32_t p = 0; p < g->nparts; p++) {
        if (g->next[p] < 0)
            continue;
        if (only != NULL && rd_kafka_topic_partition_list_find(only, g->topic, p) == NULL)
            continue;
        rd_kafka_topic_partition_list_add(l, g->topic, p)->offset = g->next[p];
        g->next[p] = -1;
    }
    if (l->cnt > 0)
        rd_kafka_commit(g->rk, l, 1);
    rd_kafka_topic_partition_list_destroy(l);
    if (only == NULL)
        g->dirty = false;
    g->last_commit_ms = core_mono_ms();
}

/* The partitions of our topic in l, into ids (l->cnt entries). */
static size_t ids_of(const bus_group_t *g, const rd_kafka_topic_partition_list_t *l, int32_t *ids)
{
    size_t n = 0;
    for (int i = 0; i < l->cnt; i++)
        if (strcmp(l->elems[i].topic, g->topic) == 0)
            ids[n++] = l->elems[i].partition;
    return n;
}

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    bus_group_t *g = opaque;
    int32_t *ids = core_calloc(CORE_MEM_BUS, (size_t)parts->cnt + 1, sizeof *ids);
    int rc = ids == NULL ? core_error(CORE_ENOMEM, "bus: out of memory") : 0;
    size_t n = rc == 0 ? ids_of(g, parts, ids) : 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        core_log(CORE_LOG_INFO, "bus", "group %s: %zu partitions of topic %s assigned", g->group, n,
                 g->topic);
        /* Nothing is fetched by the member itself: an empty assignment. */
        rd_kafka_topic_partition_list_t *none = rd_kafka_topic_partition_list_new(0);
        rd_kafka_assign(rk, none);
        rd_kafka_topic_partition_list_destroy(none);
        if (rc == 0 && g->cb.assigned != NULL)
            rc = g->cb.assigned(g->cb.arg, ids, n);
    } else {
        core_log(CORE_LOG_INFO, "bus", "group %s: %zu partitions of topic %s revoked (%s)",
                 g->group, n, g->topic, rd_kafka_err2name(err));
        if (rc == 0 && g->cb.revoked != NULL)
            rc = g->cb.revoked(g->cb.arg, ids, n);
        commit_noted(g, parts);
        rd_kafka_assign(rk, NULL);
    }
    if (rc != 0 && g->cb_rc == 0)
        g->cb_rc = rc;
    core_free(ids);
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)offsets;
    bus_group_t *g = opaque;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        core_log(CORE_LOG_DEBUG, "bus", "group %s: informational offset commit failed: %s",
                 g->group, rd_kafka_err2str(err));
}

static int subscribe(bus_group_t *g)
{
    rd_kafka_conf_t *c = NULL;
    int rc = kbus_conf(g->bus, KBUS_GROUP, g->group, &c);
    if (rc != 0)
        return rc;
    rd_kafka_conf_set_rebalance_cb(c, rebalance);
    rd_kafka_conf_set_offset_commit_cb(c, on_commit);
    rd_kafka_conf_set_opaque(c, g);
    char err[256];
    g->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (g->rk == NULL) {
        rd_kafka_conf_destroy(c);
        return core_error(CORE_EINVAL, "kafka: cannot create the member of group %s: %s", g->group,
                          err);
    }
    rd_kafka_poll_set_consumer(g->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, g->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(g->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return kbus_error(e, "kafka: group %s: subscribe to topic %s", g->group, g->topic);
    return 0;
}

int kbus_group_open(bus_t *b, const char *topic, const char *group, const bus_group_callbacks_t *cb,
                    bus_group_t **out)
{
    int32_t nparts = 0;
    int rc = bus_partitions(b, topic, &nparts);
    if (rc != 0)
        return rc;
    if (nparts > PARTITIONS_MAX)
        return core_error(CORE_ETOOBIG, "topic %s has %d partitions; at most %d", topic,
                          (int)nparts, PARTITIONS_MAX);
    bus_group_t *g = core_calloc(CORE_MEM_BUS, 1, sizeof *g);
    if (g == NULL)
        return core_error(CORE_ENOMEM, "bus: out of memory");
    g->bus = b;
    g->cb = *cb;
    g->nparts = nparts;
    g->topic = core_strdup(CORE_MEM_BUS, topic);
    g->group = core_strdup(CORE_MEM_BUS, group);
    g->next = core_calloc(CORE_MEM_BUS, (size_t)nparts, sizeof *g->next);
    if (g->topic == NULL || g->group == NULL || g->next == NULL)
        rc = core_error(CORE_ENOMEM, "bus: out of memory");
    for (int32_t p = 0; rc == 0 && p < nparts; p++)
        g->next[p] = -1;
    if (rc == 0)
        rc = subscribe(g);
    if (rc != 0) {
        g->cb = (bus_group_callbacks_t){0};
        bus_group_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int bus_group_poll(bus_group_t *g, int timeout_ms)
{
    for (int i = 0; i < 64; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(g->rk, i == 0 ? timeout_ms : 0);
        if (m == NULL)
            break;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            core_log(CORE_LOG_WARN, "bus", "group %s, topic %s: %s", g->group, g->topic,
                     rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
    if (g->dirty && core_mono_ms() - g->last_commit_ms >= COMMIT_EVERY_MS)
        commit_noted(g, NULL);
    int rc = g->cb_rc;
    g->cb_rc = 0;
    char fatal[256];
    if (rc == 0 && rd_kafka_fatal_error(g->rk, fatal, sizeof fatal) != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = core_error(CORE_EFAILED, "kafka: group %s failed: %s", g->group, fatal);
    return rc;
}

void bus_group_commit(bus_group_t *g, int32_t partition, int64_t next)
{
    if (partition < 0 || partition >= g->nparts)
        return;
    g->next[partition] = next;
    g->dirty = true;
}

void bus_group_close(bus_group_t *g)
{
    if (g == NULL)
        return;
    if (g->rk != NULL) {
        rd_kafka_consumer_close(g->rk); /* revokes through the callback */
        rd_kafka_destroy(g->rk);
    }
    core_free(g->next);
    core_free(g->topic);
    core_free(g->group);
    core_free(g);
}
