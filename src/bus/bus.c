/*
 * The bus's dispatch: every public call goes through the implementation's
 * vtable (bus_int.h). What all implementations share lives here: the
 * generation counter that readers and bus_wait() use to sleep until
 * records may have arrived, the reader's common fields, and Kafka's
 * default partitioner.
 *
 * Threading: the generation is guarded by the bus's mutex; the round-robin
 * cursor is atomic; everything else is immutable after open.
 */
#include "bus/bus.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "bus/bus_int.h"

void bus_base_init(bus_t *b, const bus_ops_t *ops)
{
    b->ops = ops;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
}

void bus_base_fini(bus_t *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
}

void bus_notify(bus_t *b)
{
    pthread_mutex_lock(&b->mu);
    b->gen++;
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

int bus_open_seglog(seglog_t *log, bus_t **out)
{
    return bus_seglog_open(log, out);
}

void bus_close(bus_t *b)
{
    if (b != NULL)
        b->ops->close(b);
}

bool bus_is_external(const bus_t *b)
{
    return b->ops->external;
}

void bus_wake(bus_t *b)
{
    bus_notify(b);
}

int bus_partitions(bus_t *b, const char *topic, int32_t *count)
{
    return b->ops->partitions(b, topic, count);
}

int bus_offsets(bus_t *b, const char *topic, int32_t partition, int64_t *start, int64_t *end)
{
    return b->ops->offsets(b, topic, partition, start, end);
}

int bus_offset_for_time(bus_t *b, const char *topic, int32_t partition, int64_t ts_ms,
                        int64_t *offset)
{
    return b->ops->offset_for_time(b, topic, partition, ts_ms, offset);
}

int bus_reader_open(bus_t *b, const char *topic, int32_t partition, int64_t offset,
                    bus_reader_t **out)
{
    bus_reader_t *r = core_calloc(CORE_MEM_BUS, 1, sizeof *r);
    if (r == NULL || (r->topic = core_strdup(CORE_MEM_BUS, topic)) == NULL) {
        core_free(r);
        return core_error(CORE_ENOMEM, "bus: out of memory");
    }
    r->bus = b;
    r->partition = partition;
    r->pos = offset;
    int rc = b->ops->reader_open(r);
    if (rc != 0) {
        core_free(r->topic);
        core_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void bus_reader_close(bus_reader_t *r)
{
    if (r == NULL)
        return;
    r->bus->ops->reader_close(r);
    core_free(r->topic);
    core_free(r);
}

int bus_reader_poll(bus_reader_t *r, bus_record_t *recs, size_t max, size_t *n, int timeout_ms)
{
    *n = 0;
    return r->bus->ops->reader_poll(r, recs, max, n, timeout_ms);
}

int64_t bus_reader_position(const bus_reader_t *r)
{
    return r->pos;
}

int64_t bus_reader_end(bus_reader_t *r)
{
    return r->bus->ops->reader_end(r);
}

uint64_t bus_generation(bus_t *b)
{
    pthread_mutex_lock(&b->mu);
    uint64_t g = b->gen;
    pthread_mutex_unlock(&b->mu);
    return g;
}

void bus_wait(bus_t *b, uint64_t seen, int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->mu);
    while (b->gen == seen) {
        if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&b->mu);
}

int32_t bus_partition_for_key(const void *key, size_t key_len, int32_t partitions)
{
    if (partitions <= 1)
        return 0;
    uint32_t h = core_murmur2(key, key_len) & 0x7fffffffu;
    return (int32_t)(h % (uint32_t)partitions);
}

int32_t bus_pick_partition(bus_t *b, const bus_message_t *first, int32_t partitions)
{
    if (first->key != NULL)
        return bus_partition_for_key(first->key, first->key_len, partitions);
    return (int32_t)(__atomic_fetch_add(&b->rr, 1, __ATOMIC_RELAXED) % (uint32_t)partitions);
}

int bus_produce(bus_t *b, const char *topic, int32_t partition, const bus_message_t *msgs, size_t n,
                bool sync, int64_t *base)
{
    if (n == 0)
        return core_error(CORE_EINVAL, "bus_produce: no records");
    return b->ops->produce(b, topic, partition, msgs, n, sync, base);
}

int bus_group_open(bus_t *b, const char *topic, const char *group, const bus_group_callbacks_t *cb,
                   bus_group_t **out)
{
    if (b->ops->group_open == NULL)
        return core_error(CORE_EUNSUPP,
                          "consumer groups need an external Kafka bus; the %s bus has none",
                          b->ops->name);
    return b->ops->group_open(b, topic, group, cb, out);
}
