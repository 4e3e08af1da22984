"""confluent_client.py - the confluent-kafka calls several tests share.

Each function drives the real client (python3-confluent-kafka, librdkafka)
and raises TestFailure with what went wrong.
"""

import concurrent.futures

import confluent_kafka
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from brokerctl import TestFailure, check


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap, topic, partitions):
    a = admin(bootstrap)  # keep the handle alive until the future resolves
    fut = a.create_topics([NewTopic(topic, partitions, 1)], request_timeout=30)
    try:
        fut[topic].result(60)
    except KafkaException as e:
        raise TestFailure("CreateTopics %s (%d partitions) failed: %s" % (topic, partitions, e))
    except concurrent.futures.TimeoutError:
        raise TestFailure("CreateTopics %s: no answer within 60 s" % topic)


def partition_count(bootstrap, topic):
    a = admin(bootstrap)
    md = a.list_topics(topic, timeout=30)
    t = md.topics.get(topic)
    check(t is not None and t.error is None, "metadata for %s: %r" % (topic, t and t.error))
    return len(t.partitions)


def produce(bootstrap, topic, records, conf=None):
    """Produces (partition, key, value) records; returns {(p, o): value}.

    Fails if any delivery report carries an error.
    """
    cfg = {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20,
           "batch.num.messages": 10000, "queue.buffering.max.messages": 500000}
    cfg.update(conf or {})
    p = Producer(cfg)
    acked = {}
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            acked[(msg.partition(), msg.offset())] = msg.value()

    for part, key, value in records:
        while True:
            try:
                p.produce(topic, value, key, partition=part, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
    left = p.flush(120)
    check(left == 0, "producer: %d records still unacknowledged after flush" % left)
    check(not errors, "producer: %d delivery errors, first: %s" % (len(errors), errors[:1]))
    check(len(acked) == len(records), "producer: %d distinct (partition, offset) acks for %d "
          "records: the broker gave two records one offset" % (len(acked), len(records)))
    return acked


def read_partitions(bootstrap, topic, partitions, conf=None):
    """Reads every partition from the beginning to its high watermark.

    Uses assign() (no group). Returns {(p, o): (key, value)}.
    """
    cfg = {"bootstrap.servers": bootstrap, "group.id": "reader-unused",
           "enable.auto.commit": False, "enable.partition.eof": True,
           "fetch.wait.max.ms": 100}
    cfg.update(conf or {})
    c = Consumer(cfg)
    try:
        highs = {}
        for part in partitions:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, part), timeout=30)
            check(lo == 0, "%s[%d]: log start offset %d, expected 0" % (topic, part, lo))
            highs[part] = hi
        c.assign([TopicPartition(topic, p, confluent_kafka.OFFSET_BEGINNING)
                  for p in partitions if highs[p] > 0])
        out = {}
        pending = {p for p in partitions if highs[p] > 0}
        idle = 0
        while pending:
            msgs = c.consume(num_messages=10000, timeout=1.0)
            if not msgs:
                idle += 1
                check(idle < 60, "reader: no progress for 60 polls; still waiting for %s"
                      % sorted(pending))
                continue
            idle = 0
            for m in msgs:
                if m.error():
                    if m.error().code() == KafkaError._PARTITION_EOF:
                        if m.offset() >= highs[m.partition()]:
                            pending.discard(m.partition())
                        continue
                    raise TestFailure("reader: %s" % m.error())
                key = (m.partition(), m.offset())
                check(key not in out, "reader: offset %r delivered twice" % (key,))
                out[key] = (m.key(), m.value())
        return out
    finally:
        c.close()
