#!/usr/bin/python3
"""python3-confluent-kafka: admin calls and the idempotent producer.

- Metadata auto-creates a topic with --default-partitions (3 here).
- AdminClient: CreateTopics (4 partitions), TOPIC_ALREADY_EXISTS on a second
  create, INVALID_REPLICATION_FACTOR for RF 3, DeleteTopics, then
  UNKNOWN_TOPIC_OR_PARTITION when deleting it again.
- An idempotent producer (enable.idempotence, acks=all, zstd) writes 30,000
  keyed records over 3 partitions: every delivery succeeds, each partition's
  offsets are dense from 0, records keep their produce order per partition,
  and a reader sees exactly the acknowledged (partition, offset, key, value).

Usage: /usr/bin/python3 test_confluent_producer.py /path/to/strata
"""

import concurrent.futures
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokerctl import Broker, TestFailure, check, main  # noqa: E402
from confluent_client import admin, partition_count, produce, read_partitions  # noqa: E402
from confluent_kafka import KafkaError, KafkaException  # noqa: E402
from confluent_kafka.admin import NewTopic  # noqa: E402

N = 30000


def admin_ok(futures, topic, what):
    try:
        futures[topic].result(60)
    except KafkaException as e:
        raise TestFailure("%s failed: %s" % (what, e))
    except concurrent.futures.TimeoutError:
        raise TestFailure("%s: no answer within 60 s" % what)


def expect_admin_error(futures, topic, code, what):
    try:
        futures[topic].result(60)
    except concurrent.futures.TimeoutError:
        raise TestFailure("%s: no answer within 60 s" % what)
    except KafkaException as e:
        got = e.args[0].code()
        check(got == code, "%s: expected %s, got %s" % (what, KafkaError(code).name(), e))
        return
    raise TestFailure("%s: expected %s, but it succeeded" % (what, KafkaError(code).name()))


def test_admin(bootstrap):
    a = admin(bootstrap)
    check(partition_count(bootstrap, "auto-created") == 3,
          "auto-created topic should have --default-partitions 3")

    admin_ok(a.create_topics([NewTopic("admin-t", 4, 1)], request_timeout=30), "admin-t",
             "CreateTopics admin-t")
    md = a.list_topics(timeout=30)
    check("admin-t" in md.topics, "created topic admin-t is not listed: %s" % sorted(md.topics))
    check(len(md.topics["admin-t"].partitions) == 4,
          "admin-t has %d partitions, created with 4" % len(md.topics["admin-t"].partitions))
    check(list(md.brokers) == [0] and md.brokers[0].host == "127.0.0.1",
          "brokers: expected node 0 on 127.0.0.1, got %r" % md.brokers)
    check(md.controller_id == 0, "controller id %d, expected 0" % md.controller_id)

    expect_admin_error(a.create_topics([NewTopic("admin-t", 4, 1)], request_timeout=30), "admin-t",
                       KafkaError.TOPIC_ALREADY_EXISTS, "creating admin-t twice")
    expect_admin_error(a.create_topics([NewTopic("admin-rf3", 1, 3)], request_timeout=30),
                       "admin-rf3",
                       KafkaError.INVALID_REPLICATION_FACTOR, "creating with RF 3 on one node")

    admin_ok(a.delete_topics(["admin-t"], request_timeout=30), "admin-t", "DeleteTopics admin-t")
    md = a.list_topics(timeout=30)
    check("admin-t" not in md.topics, "deleted topic admin-t is still listed")
    expect_admin_error(a.delete_topics(["admin-t"], request_timeout=30), "admin-t",
                       KafkaError.UNKNOWN_TOPIC_OR_PART, "deleting admin-t again")


def test_idempotent(bootstrap):
    topic = "idem-t"
    check(partition_count(bootstrap, topic) == 3, "%s should have 3 partitions" % topic)
    records = [(i % 3, b"key-%d" % i, b"idempotent %07d " % i + b"x" * (i % 300))
               for i in range(N)]
    acked = produce(bootstrap, topic, records,
                    {"enable.idempotence": True, "acks": "all", "compression.type": "zstd",
                     "max.in.flight.requests.per.connection": 5, "linger.ms": 5})
    by_value = {v: po for po, v in acked.items()}
    for part in range(3):
        offsets = [by_value[v][1] for p, _, v in records if p == part]
        check(offsets == list(range(len(offsets))),
              "partition %d: offsets in produce order should be 0..%d, dense and in order; "
              "first differences: %s" % (part, len(offsets) - 1,
                                         [(i, o) for i, o in enumerate(offsets) if o != i][:5]))

    got = read_partitions(bootstrap, topic, range(3))
    check(len(got) == N, "reader saw %d records, %d were acknowledged" % (len(got), N))
    want = {po: (k, v) for (part, k, v), po in ((r, by_value[r[2]]) for r in records)}
    bad = [po for po in want if got.get(po) != want[po]]
    check(not bad, "%d acknowledged records differ on read, first at %s" % (len(bad), bad[:3]))


def test(strata):
    with Broker(strata, default_partitions=3, name="confluent-producer") as b:
        test_admin(b.bootstrap)
        test_idempotent(b.bootstrap)


if __name__ == "__main__":
    main(test)
