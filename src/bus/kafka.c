/*
 * The bus over an external Kafka cluster, through librdkafka.
 *
 * One producer handle per bus serves produce calls and the blocking
 * queries (metadata, watermarks, offsets for times); it is idempotent with
 * acks=all, so a retried batch is stored once. Each reader is a consumer of
 * its own, assigned (never subscribed) to one partition at the reader's
 * offset: two readers of one partition at different offsets (a pipeline
 * and a replay) do not disturb each other. Offsets are never committed by
 * readers; where to read from is the caller's business (the store's
 * offsets, for pipelines).
 *
 * Keys go where strata's own partitioner would put them: produce computes
 * the partition with bus_partition_for_key (murmur2, as Kafka's Java
 * client) and passes it explicitly.
 *
 * Waiting: each reader's queue calls back (from a librdkafka thread) when
 * it goes from empty to non-empty, which bumps the bus generation; so
 * bus_wait() wakes when any reader has something to read.
 *
 * Threading: the producer and the partition-count cache (guarded by `tmu`)
 * are shared; librdkafka handles are thread-safe. A reader belongs to one
 * thread.
 */
#include "bus/kafka_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TOPIC_CACHE_MAX 1024
/* reader_end() falls back to a query when no fetch has told the end yet. */
#define END_QUERY_TIMEOUT_MS 1000

typedef struct {
    char *name;
    int32_t partitions;
} topic_count_t;

typedef struct {
    bus_t base;
    char *bootstrap;
    char **props; /* "name=value" */
    size_t nprops;
    rd_kafka_t *producer;
    pthread_mutex_t tmu;
    topic_count_t topics[TOPIC_CACHE_MAX]; /* guarded by tmu */
    size_t ntopics;
} kbus_t;

typedef struct {
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    rd_kafka_message_t **held; /* handed out by the last poll; freed by the next */
    size_t nheld, cap;
} kreader_t;

/* ---- Configuration and errors. */

int kbus_error(rd_kafka_resp_err_t err, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int code = CORE_EIO;
    switch (err) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        code = CORE_ENOENT;
        break;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        code = CORE_ETOOBIG;
        break;
    case RD_KAFKA_RESP_ERR__FATAL:
        code = CORE_EFAILED;
        break;
    default:
        break;
    }
    return core_error(code, "%s: %s", what, rd_kafka_err2str(err));
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    core_log_level_t l = level <= 3   ? CORE_LOG_ERROR
                         : level == 4 ? CORE_LOG_WARN
                         : level <= 6 ? CORE_LOG_INFO
                                      : CORE_LOG_DEBUG;
    if (strcmp(fac, "CONFWARN") == 0)
        l = CORE_LOG_DEBUG; /* a property meant for the other role: expected, as every
                             * handle gets the same user properties */
    core_log(l, "kafka", "%s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    core_log(err == RD_KAFKA_RESP_ERR__FATAL ? CORE_LOG_ERROR : CORE_LOG_WARN, "kafka", "%s: %s",
             rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int conf_set(rd_kafka_conf_t *c, const char *name, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(c, name, value, err, sizeof err) != RD_KAFKA_CONF_OK)
        return core_error(CORE_EINVAL, "kafka property %s=%s: %s", name, value, err);
    return 0;
}

/* The user's "name=value" properties. */
static int conf_user(kbus_t *k, rd_kafka_conf_t *c)
{
    for (size_t i = 0; i < k->nprops; i++) {
        char name[256];
        const char *eq = strchr(k->props[i], '=');
        size_t len = eq != NULL ? (size_t)(eq - k->props[i]) : 0;
        if (len == 0 || len >= sizeof name)
            return core_error(CORE_EINVAL, "kafka property '%s': want name=value", k->props[i]);
        memcpy(name, k->props[i], len);
        name[len] = '\0';
        int rc = conf_set(c, name, eq + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Groups must use an eager assignor: members hand partitions over whole. */
static int check_assignor(rd_kafka_conf_t *c)
{
    char v[256];
    size_t len = sizeof v;
    if (rd_kafka_conf_get(c, "partition.assignment.strategy", v, &len) == RD_KAFKA_CONF_OK &&
        strstr(v, "cooperative") != NULL)
        return core_error(CORE_EINVAL,
                          "kafka property partition.assignment.strategy=%s: strata's pipelines "
                          "need an eager assignor (range or roundrobin)",
                          v);
    return 0;
}

static int conf_role(rd_kafka_conf_t *c, kbus_role_t role, const char *group)
{
    int rc = 0;
    if (role == KBUS_PRODUCER) {
        rc = conf_set(c, "enable.idempotence", "true");
        if (rc == 0)
            rc = conf_set(c, "acks", "all");
        return rc;
    }
    rc = conf_set(c, "enable.auto.commit", "false");
    if (rc == 0)
        rc = conf_set(c, "enable.auto.offset.store", "false");
    if (rc == 0)
        rc = conf_set(c, "enable.partition.eof", role == KBUS_READER ? "true" : "false");
    if (rc == 0)
        rc = conf_set(c, "group.id", group);
    if (rc == 0 && role == KBUS_GROUP)
        rc = check_assignor(c);
    return rc;
}

int kbus_conf(bus_t *b, kbus_role_t role, const char *group, rd_kafka_conf_t **out)
{
    kbus_t *k = (kbus_t *)b;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(c, log_cb);
    rd_kafka_conf_set_error_cb(c, error_cb);
    int rc = conf_set(c, "bootstrap.servers", k->bootstrap);
    if (rc == 0)
        rc = conf_set(c, "client.id", "strata");
    if (rc == 0)
        rc = conf_set(c, "allow.auto.create.topics", "false");
    if (rc == 0 && role == KBUS_PRODUCER)
        rc = conf_set(c, "linger.ms", "2");
    if (rc == 0 && role != KBUS_PRODUCER)
        rc = conf_set(c, "partition.assignment.strategy", "range");
    if (rc == 0 && role == KBUS_READER)
        rc = conf_set(c, "fetch.wait.max.ms", "100");
    if (rc == 0 && role == KBUS_READER)
        rc = conf_set(c, "queued.max.messages.kbytes", "16384");
    if (rc == 0 && role == KBUS_READER)
        rc = conf_set(c, "auto.offset.reset", "earliest");
    if (rc == 0)
        rc = conf_user(k, c);
    if (rc == 0)
        rc = conf_role(c, role, group);
    if (rc != 0) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* ---- Metadata and offsets. */

static int query_partitions(kbus_t *k, const char *topic, int32_t *count)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(k->producer, topic, NULL);
    if (rkt == NULL)
        return kbus_error(rd_kafka_last_error(), "kafka: topic %s", topic);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(k->producer, 0, rkt, &md, KBUS_QUERY_TIMEOUT_MS);
    int rc = 0;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = kbus_error(err, "kafka %s: metadata of topic %s", k->bootstrap, topic);
    else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc =
            core_error(CORE_ENOENT, "topic %s does not exist on kafka %s (%s)", topic, k->bootstrap,
                       md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "no answer");
    else if (md->topics[0].partition_cnt <= 0)
        rc = core_error(CORE_ENOENT, "topic %s has no partitions on kafka %s", topic, k->bootstrap);
    else
        *count = md->topics[0].partition_cnt;
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

/* Partition counts are fixed, so they are asked once per topic. */
static int k_partitions(bus_t *b, const char *topic, int32_t *count)
{
    kbus_t *k = (kbus_t *)b;
    pthread_mutex_lock(&k->tmu);
    for (size_t i = 0; i < k->ntopics; i++) {
        if (strcmp(k->topics[i].name, topic) == 0) {
            *count = k->topics[i].partitions;
            pthread_mutex_unlock(&k->tmu);
            return 0;
        }
    }
    pthread_mutex_unlock(&k->tmu);
    int rc = query_partitions(k, topic, count);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&k->tmu);
    char *name = k->ntopics < TOPIC_CACHE_MAX ? core_strdup(CORE_MEM_BUS, topic) : NULL;
    if (name != NULL)
        k->topics[k->ntopics++] = (topic_count_t){name, *count};
    pthread_mutex_unlock(&k->tmu);
    return 0;
}

static int k_offsets(bus_t *b, const char *topic, int32_t partition, int64_t *start, int64_t *end)
{
    kbus_t *k = (kbus_t *)b;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(k->producer, topic, partition, start,
                                                               end, KBUS_QUERY_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return kbus_error(err, "kafka %s: offsets of topic %s partition %d", k->bootstrap, topic,
                          (int)partition);
    return 0;
}

static int k_offset_for_time(bus_t *b, const char *topic, int32_t partition, int64_t ts_ms,
                             int64_t *offset)
{
    kbus_t *k = (kbus_t *)b;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset = ts_ms;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(k->producer, l, KBUS_QUERY_TIMEOUT_MS);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        err = l->elems[0].err;
    int64_t off = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return kbus_error(err, "kafka %s: offset for time %lld in topic %s partition %d",
                          k->bootstrap, (long long)ts_ms, topic, (int)partition);
    if (off >= 0) {
        *offset = off;
        return 0;
    }
    int64_t start; /* no record that late: the end offset */
    return k_offsets(b, topic, partition, &start, offset);
}

/* ---- Readers. */

static void on_queue(rd_kafka_t *rk, void *arg)
{
    (void)rk;
    bus_notify(arg);
}

static int k_reader_open(bus_reader_t *r)
{
    kreader_t *kr = core_calloc(CORE_MEM_BUS, 1, sizeof *kr);
    if (kr == NULL)
        return core_error(CORE_ENOMEM, "bus: out of memory");
    rd_kafka_conf_t *c = NULL;
    int rc = kbus_conf(r->bus, KBUS_READER, "strata.reader", &c);
    char err[256];
    if (rc == 0 && (kr->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err)) == NULL) {
        rd_kafka_conf_destroy(c);
        rc = core_error(CORE_EINVAL, "kafka: cannot create a consumer: %s", err);
    }
    if (rc == 0) {
        rd_kafka_poll_set_consumer(kr->rk);
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, r->topic, r->partition)->offset = r->pos;
        rd_kafka_resp_err_t e = rd_kafka_assign(kr->rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            rc = kbus_error(e, "kafka: assign topic %s partition %d at offset %lld", r->topic,
                            (int)r->partition, (long long)r->pos);
    }
    if (rc == 0) {
        kr->q = rd_kafka_queue_get_consumer(kr->rk);
        rd_kafka_queue_cb_event_enable(kr->q, on_queue, r->bus);
    }
    r->impl = kr;
    if (rc != 0) {
        if (kr->rk != NULL)
            rd_kafka_destroy(kr->rk);
        core_free(kr);
        r->impl = NULL;
    }
    return rc;
}

static void release(kreader_t *kr)
{
    for (size_t i = 0; i < kr->nheld; i++)
        rd_kafka_message_destroy(kr->held[i]);
    kr->nheld = 0;
}

static void k_reader_close(bus_reader_t *r)
{
    kreader_t *kr = r->impl;
    release(kr);
    core_free(kr->held);
    rd_kafka_queue_cb_event_enable(kr->q, NULL, NULL);
    rd_kafka_queue_destroy(kr->q);
    rd_kafka_consumer_close(kr->rk);
    rd_kafka_destroy(kr->rk);
    core_free(kr);
}

/* A consumer error: the topic or partition is gone, the handle failed, or
 * (logged and passed over) something librdkafka retries by itself. */
static int reader_error(bus_reader_t *r, const rd_kafka_message_t *m)
{
    switch (m->err) {
    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        return 0;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__FATAL:
        return kbus_error(m->err, "kafka: read topic %s partition %d at offset %lld (%s)", r->topic,
                          (int)r->partition, (long long)r->pos, rd_kafka_message_errstr(m));
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
        core_log(CORE_LOG_WARN, "bus",
                 "topic %s partition %d: offset %lld is out of range (deleted by retention?); "
                 "going on from the log start",
                 r->topic, (int)r->partition, (long long)r->pos);
        return 0;
    default:
        core_log(CORE_LOG_WARN, "bus", "topic %s partition %d at offset %lld: %s", r->topic,
                 (int)r->partition, (long long)r->pos, rd_kafka_message_errstr(m));
        return 0;
    }
}

/* Takes msgs[0..got) into recs (they borrow the messages, which the reader
 * keeps until its next poll). */
static int take(bus_reader_t *r, rd_kafka_message_t *const *msgs, size_t got, bus_record_t *recs,
                size_t *n)
{
    int rc = 0;
    for (size_t i = 0; i < got; i++) {
        rd_kafka_message_t *m = msgs[i];
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (rc == 0)
                rc = reader_error(r, m);
            continue;
        }
        if (rc != 0 || m->offset < r->pos)
            continue;
        rd_kafka_timestamp_type_t tt;
        bus_record_t *o = &recs[(*n)++];
        o->key = m->key;
        o->key_len = m->key != NULL ? m->key_len : 0;
        o->value = m->payload;
        o->value_len = m->payload != NULL ? m->len : 0;
        o->offset = m->offset;
        o->timestamp_ms = rd_kafka_message_timestamp(m, &tt);
        o->partition = r->partition;
        r->pos = m->offset + 1;
    }
    return rc;
}

static int k_reader_poll(bus_reader_t *r, bus_record_t *recs, size_t max, size_t *n, int timeout_ms)
{
    kreader_t *kr = r->impl;
    release(kr);
    if (max > kr->cap) {
        rd_kafka_message_t **h = core_realloc(CORE_MEM_BUS, kr->held, max * sizeof *h);
        if (h == NULL)
            return core_error(CORE_ENOMEM, "bus: out of memory");
        kr->held = h;
        kr->cap = max;
    }
    /* What is already fetched; failing that, one message within the
     * timeout and whatever arrived with it. A batch call with a timeout
     * would wait all of it for `max` messages. */
    ssize_t got = rd_kafka_consume_batch_queue(kr->q, 0, kr->held, max);
    if (got == 0 && timeout_ms > 0) {
        got = rd_kafka_consume_batch_queue(kr->q, timeout_ms, kr->held, 1);
        if (got == 1 && max > 1) {
            ssize_t more = rd_kafka_consume_batch_queue(kr->q, 0, kr->held + 1, max - 1);
            got += more > 0 ? more : 0;
        }
    }
    if (got < 0)
        return kbus_error(rd_kafka_last_error(), "kafka: read topic %s partition %d", r->topic,
                          (int)r->partition);
    kr->nheld = (size_t)got;
    return take(r, kr->held, (size_t)got, recs, n);
}

static int64_t k_reader_end(bus_reader_t *r)
{
    kreader_t *kr = r->impl;
    int64_t lo = -1, hi = -1;
    if (rd_kafka_get_watermark_offsets(kr->rk, r->topic, r->partition, &lo, &hi) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        hi >= 0)
        return hi;
    if (rd_kafka_query_watermark_offsets(kr->rk, r->topic, r->partition, &lo, &hi,
                                         END_QUERY_TIMEOUT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        hi >= 0)
        return hi;
    return r->pos;
}

/* ---- Producer. */

/* One produce call's delivery reports; the reports may be served by any
 * thread polling the producer, hence the atomics. */
typedef struct {
    size_t left;             /* reports still to come (atomic) */
    int64_t first;           /* lowest offset reported (atomic min) */
    rd_kafka_resp_err_t err; /* first failure (atomic, 0 = none) */
} produce_wait_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    produce_wait_t *w = m->_private;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_resp_err_t none = RD_KAFKA_RESP_ERR_NO_ERROR;
        __atomic_compare_exchange_n(&w->err, &none, m->err, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
    } else {
        int64_t cur = __atomic_load_n(&w->first, __ATOMIC_RELAXED);
        while (m->offset < cur && !__atomic_compare_exchange_n(&w->first, &cur, m->offset, true,
                                                               __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
    }
    __atomic_fetch_sub(&w->left, 1, __ATOMIC_RELEASE);
}

/* Queues one message, waiting while the producer's queue is full. */
static rd_kafka_resp_err_t enqueue(kbus_t *k, const char *topic, int32_t partition,
                                   const bus_message_t *m, produce_wait_t *w)
{
    void *key = (void *)m->key, *value = (void *)m->value;
    size_t key_len = key != NULL ? m->key_len : 0, value_len = value != NULL ? m->value_len : 0;
    int64_t ts = m->timestamp_ms < 0 ? 0 : m->timestamp_ms;
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(k->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE(value, value_len),
                              RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return err;
        rd_kafka_poll(k->producer, 10);
    }
}

/* Every message of one call goes to one partition, so with an idempotent
 * producer they are stored in order and the lowest reported offset is the
 * first message's. Both `sync` settings wait for acks=all (the producer's
 * only setting, as idempotence requires). */
static int k_produce(bus_t *b, const char *topic, int32_t partition, const bus_message_t *msgs,
                     size_t n, bool sync, int64_t *base)
{
    (void)sync;
    kbus_t *k = (kbus_t *)b;
    int32_t count = 0;
    int rc = k_partitions(b, topic, &count);
    if (rc != 0)
        return rc;
    if (partition < 0)
        partition = bus_pick_partition(b, &msgs[0], count);
    if (partition >= count)
        return core_error(CORE_ENOENT, "topic %s has no partition %d", topic, (int)partition);
    produce_wait_t w = {.left = n, .first = INT64_MAX};
    rd_kafka_resp_err_t qerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (size_t i = 0; i < n && qerr == RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
        qerr = enqueue(k, topic, partition, &msgs[i], &w);
        if (qerr != RD_KAFKA_RESP_ERR_NO_ERROR) /* this one and the rest never report */
            __atomic_fetch_sub(&w.left, n - i, __ATOMIC_RELEASE);
    }
    while (__atomic_load_n(&w.left, __ATOMIC_ACQUIRE) > 0)
        rd_kafka_poll(k->producer, 5);
    rd_kafka_resp_err_t err = qerr != RD_KAFKA_RESP_ERR_NO_ERROR ? qerr : w.err;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return kbus_error(err, "kafka %s: produce %zu records to topic %s partition %d",
                          k->bootstrap, n, topic, (int)partition);
    if (base != NULL)
        *base = w.first;
    return 0;
}

/* ---- The bus. */

static void k_close(bus_t *b)
{
    kbus_t *k = (kbus_t *)b;
    if (k->producer != NULL) {
        rd_kafka_flush(k->producer, KBUS_QUERY_TIMEOUT_MS);
        rd_kafka_destroy(k->producer);
    }
    for (size_t i = 0; i < k->nprops; i++)
        core_free(k->props[i]);
    core_free(k->props);
    for (size_t i = 0; i < k->ntopics; i++)
        core_free(k->topics[i].name);
    core_free(k->bootstrap);
    pthread_mutex_destroy(&k->tmu);
    bus_base_fini(b);
    core_free(k);
}

static const bus_ops_t kafka_ops = {
    .name = "kafka",
    .external = true,
    .close = k_close,
    .partitions = k_partitions,
    .offsets = k_offsets,
    .offset_for_time = k_offset_for_time,
    .reader_open = k_reader_open,
    .reader_close = k_reader_close,
    .reader_poll = k_reader_poll,
    .reader_end = k_reader_end,
    .produce = k_produce,
    .group_open = kbus_group_open,
};

static int copy_settings(kbus_t *k, const char *bootstrap, const char *const *props, size_t nprops)
{
    k->bootstrap = core_strdup(CORE_MEM_BUS, bootstrap);
    k->props = core_calloc(CORE_MEM_BUS, nprops + 1, sizeof *k->props);
    if (k->bootstrap == NULL || k->props == NULL)
        return core_error(CORE_ENOMEM, "bus: out of memory");
    for (; k->nprops < nprops; k->nprops++)
        if ((k->props[k->nprops] = core_strdup(CORE_MEM_BUS, props[k->nprops])) == NULL)
            return core_error(CORE_ENOMEM, "bus: out of memory");
    return 0;
}

/* The producer; a metadata request checks the cluster answers. */
static int open_producer(kbus_t *k)
{
    rd_kafka_conf_t *c = NULL;
    int rc = kbus_conf(&k->base, KBUS_PRODUCER, NULL, &c);
    if (rc != 0)
        return rc;
    rd_kafka_conf_set_dr_msg_cb(c, on_delivery);
    char err[256];
    k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (k->producer == NULL) {
        rd_kafka_conf_destroy(c);
        return core_error(CORE_EINVAL, "kafka %s: cannot create a producer: %s", k->bootstrap, err);
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(k->producer, 0, NULL, &md, KBUS_QUERY_TIMEOUT_MS);
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return core_error(CORE_EIO, "kafka %s: no answer to a metadata request: %s", k->bootstrap,
                          rd_kafka_err2str(e));
    return 0;
}

int bus_open_kafka(const char *bootstrap, const char *const *props, size_t nprops, bus_t **out)
{
    kbus_t *k = core_calloc(CORE_MEM_BUS, 1, sizeof *k);
    if (k == NULL)
        return core_error(CORE_ENOMEM, "bus: out of memory");
    bus_base_init(&k->base, &kafka_ops);
    pthread_mutex_init(&k->tmu, NULL);
    int rc = copy_settings(k, bootstrap, props, nprops);
    if (rc == 0)
        rc = open_producer(k);
    if (rc != 0) {
        char detail[CORE_ERROR_DETAIL_MAX];
        snprintf(detail, sizeof detail, "%s", core_error_detail());
        k_close(&k->base);
        return core_error(rc, "%s", detail);
    }
    *out = &k->base;
    return 0;
}
