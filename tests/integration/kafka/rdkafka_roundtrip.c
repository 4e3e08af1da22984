/*
 * rdkafka_roundtrip.c - a librdkafka round trip through strata's broker.
 *
 * Usage: rdkafka_roundtrip BOOTSTRAP [TOPIC]
 *
 * Produces RT_RECORDS keyed records to partition 0 of TOPIC (acks=all,
 * idempotent, so they keep their order), checks every delivery report, then
 * reads the partition back with a plain consumer (assign from
 * OFFSET_BEGINNING, no group membership) and checks that offsets are dense
 * from 0, that keys and values are byte-identical to what was produced, and
 * that the watermarks are 0 and RT_RECORDS. Exits 0 when all holds, 1 with
 * a message on stderr otherwise.
 *
 * The broker is started and stopped by brokerctl.py, which passes its
 * address (see CMakeLists.txt in this folder).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

enum { RT_RECORDS = 10000, RT_MAX_VALUE = 1200, RT_MAX_IDLE_POLLS = 60 };

/* Delivery state, written by the delivery-report callback (which runs
 * inside rd_kafka_poll/flush on the main thread). */
typedef struct {
    int64_t offsets[RT_RECORDS]; /* per record index; -1 until acknowledged */
    int delivered;
    int failed;
} rt_delivery_t;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "rdkafka_roundtrip: FAIL: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
}

/* Record i's key, NUL-terminated. */
static void make_key(int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "key-%05d", i);
}

/* Record i's value: a printable prefix, then binary bytes (NUL and 0xff
 * included), 0..~1000 bytes long. Returns the length. */
static size_t make_value(int i, unsigned char *buf, size_t cap)
{
    int n = snprintf((char *)buf, cap, "roundtrip %05d ", i);
    size_t len = (size_t)n;
    size_t extra = (size_t)(i % 997);
    for (size_t j = 0; j < extra && len < cap; j++) {
        buf[len++] = (unsigned char)((size_t)i * 31u + j * 7u);
    }
    return len;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    rt_delivery_t *d = opaque;
    intptr_t i = (intptr_t)m->_private;
    if (m->err) {
        if (d->failed++ == 0) {
            fail("delivery failed", rd_kafka_err2str(m->err));
        }
        return;
    }
    if (i >= 0 && i < RT_RECORDS) {
        d->offsets[i] = m->offset;
        d->delivered++;
    }
}

static bool set_conf(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[512];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fail(key, err);
        return false;
    }
    return true;
}

static bool produce_all(const char *bootstrap, const char *topic, rt_delivery_t *d)
{
    bool ok = false;
    char err[512];
    rd_kafka_t *p = NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!set_conf(conf, "bootstrap.servers", bootstrap) || !set_conf(conf, "acks", "all") ||
        !set_conf(conf, "enable.idempotence", "true") || !set_conf(conf, "linger.ms", "10") ||
        !set_conf(conf, "client.id", "rdkafka-roundtrip-producer")) {
        rd_kafka_conf_destroy(conf);
        goto out;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, d);
    p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!p) {
        rd_kafka_conf_destroy(conf);
        fail("creating the producer", err);
        goto out;
    }
    for (int i = 0; i < RT_RECORDS; i++) {
        char key[32];
        unsigned char value[RT_MAX_VALUE];
        make_key(i, key, sizeof key);
        size_t vlen = make_value(i, value, sizeof value);
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(
                    p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, strlen(key)),
                    RD_KAFKA_V_VALUE(value, vlen), RD_KAFKA_V_OPAQUE((void *)(intptr_t)i),
                    RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(p, 10);
        }
        if (e) {
            fail("producev", rd_kafka_err2str(e));
            goto out;
        }
        rd_kafka_poll(p, 0);
    }
    rd_kafka_resp_err_t e = rd_kafka_flush(p, 120 * 1000);
    if (e) {
        fail("flush", rd_kafka_err2str(e));
        goto out;
    }
    if (d->failed || d->delivered != RT_RECORDS) {
        fprintf(stderr, "rdkafka_roundtrip: FAIL: %d delivered, %d failed, of %d\n", d->delivered,
                d->failed, RT_RECORDS);
        goto out;
    }
    for (int i = 0; i < RT_RECORDS; i++) {
        if (d->offsets[i] != i) {
            fprintf(stderr,
                    "rdkafka_roundtrip: FAIL: record %d acknowledged at offset %" PRId64
                    ", expected %d (dense, in order)\n",
                    i, d->offsets[i], i);
            goto out;
        }
    }
    ok = true;
out:
    if (p) {
        rd_kafka_destroy(p);
    }
    return ok;
}

/* Checks one consumed message against record `want`. */
static bool check_message(const rd_kafka_message_t *m, int want)
{
    char key[32];
    unsigned char value[RT_MAX_VALUE];
    make_key(want, key, sizeof key);
    size_t vlen = make_value(want, value, sizeof value);
    if (m->offset != want) {
        fprintf(stderr, "rdkafka_roundtrip: FAIL: got offset %" PRId64 ", expected %d\n", m->offset,
                want);
        return false;
    }
    if (m->key_len != strlen(key) || !m->key || memcmp(m->key, key, m->key_len) != 0) {
        fprintf(stderr, "rdkafka_roundtrip: FAIL: offset %d: key differs from %s\n", want, key);
        return false;
    }
    if (m->len != vlen || !m->payload || memcmp(m->payload, value, vlen) != 0) {
        fprintf(stderr,
                "rdkafka_roundtrip: FAIL: offset %d: value differs (%zu bytes, produced %zu)\n",
                want, m->len, vlen);
        return false;
    }
    return true;
}

static bool consume_all(const char *bootstrap, const char *topic)
{
    bool ok = false;
    char err[512];
    rd_kafka_t *c = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!set_conf(conf, "bootstrap.servers", bootstrap) ||
        !set_conf(conf, "group.id", "rdkafka-roundtrip") ||
        !set_conf(conf, "enable.auto.commit", "false") ||
        !set_conf(conf, "enable.partition.eof", "true") ||
        !set_conf(conf, "client.id", "rdkafka-roundtrip-consumer")) {
        rd_kafka_conf_destroy(conf);
        goto out;
    }
    c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!c) {
        rd_kafka_conf_destroy(conf);
        fail("creating the consumer", err);
        goto out;
    }
    rd_kafka_poll_set_consumer(c);

    int64_t lo = -1;
    int64_t hi = -1;
    rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(c, topic, 0, &lo, &hi, 30 * 1000);
    if (e) {
        fail("query_watermark_offsets", rd_kafka_err2str(e));
        goto out;
    }
    if (lo != 0 || hi != RT_RECORDS) {
        fprintf(stderr,
                "rdkafka_roundtrip: FAIL: watermarks %" PRId64 "..%" PRId64 ", expected 0..%d\n",
                lo, hi, RT_RECORDS);
        goto out;
    }

    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    e = rd_kafka_assign(c, parts);
    if (e) {
        fail("assign", rd_kafka_err2str(e));
        goto out;
    }

    int next = 0;
    int idle = 0;
    bool at_end = false;
    while (!at_end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 1000);
        if (!m) {
            if (++idle >= RT_MAX_IDLE_POLLS) {
                fprintf(stderr, "rdkafka_roundtrip: FAIL: no progress after offset %d\n", next);
                goto out;
            }
            continue;
        }
        idle = 0;
        bool good = true;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            at_end = m->offset >= RT_RECORDS;
        } else if (m->err) {
            fail("consume", rd_kafka_message_errstr(m));
            good = false;
        } else if (next >= RT_RECORDS) {
            fprintf(stderr, "rdkafka_roundtrip: FAIL: a record past the end, offset %" PRId64 "\n",
                    m->offset);
            good = false;
        } else {
            good = check_message(m, next++);
        }
        rd_kafka_message_destroy(m);
        if (!good) {
            goto out;
        }
    }
    if (next != RT_RECORDS) {
        fprintf(stderr, "rdkafka_roundtrip: FAIL: consumed %d records, produced %d\n", next,
                RT_RECORDS);
        goto out;
    }
    ok = true;
out:
    if (parts) {
        rd_kafka_topic_partition_list_destroy(parts);
    }
    if (c) {
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
    }
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s BOOTSTRAP [TOPIC]\n", argv[0]);
        return 2;
    }
    const char *topic = argc == 3 ? argv[2] : "rdkafka-roundtrip";
    static rt_delivery_t delivery;
    for (int i = 0; i < RT_RECORDS; i++) {
        delivery.offsets[i] = -1;
    }
    if (!produce_all(argv[1], topic, &delivery) || !consume_all(argv[1], topic)) {
        return 1;
    }
    printf("rdkafka_roundtrip: %d records produced and read back intact\n", RT_RECORDS);
    return 0;
}
