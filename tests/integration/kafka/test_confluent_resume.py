#!/usr/bin/python3
"""python3-confluent-kafka: committed offsets resume a group.

2,000 records over 2 partitions. Consumers of one group take turns, each
committing exactly the offsets it consumed:
  A reads ~600 and commits; B (a consumer restart) must start at A's
  commits, reads ~600 and commits; the broker restarts (SIGTERM, same data);
  C must start at B's commits and reads the rest. Together they see every
  record exactly once. committed() reports each commit, also after the
  restart.
An assign()-style consumer (no membership, generation -1) commits too, and
its offsets also survive the restart.

Usage: /usr/bin/python3 test_confluent_resume.py /path/to/strata
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokerctl import Broker, TestFailure, check, main  # noqa: E402
from confluent_client import create_topic, produce  # noqa: E402
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition  # noqa: E402

TOPIC = "resume-t"
GROUP = "resume-g"
N = 2000


def consumer(bootstrap, group, name):
    return Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False,
                     "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
                     "fetch.wait.max.ms": 100})


def committed(c, what):
    try:
        tps = c.committed([TopicPartition(TOPIC, p) for p in (0, 1)], timeout=30)
    except KafkaException as e:
        raise TestFailure("%s: committed() failed: %s" % (what, e))
    for tp in tps:
        check(tp.error is None, "%s: committed() partition %d: %s" % (what, tp.partition, tp.error))
    # librdkafka reports "no commit" as OFFSET_INVALID (-1001).
    return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}


def take_turn(bootstrap, name, want, expect_start):
    """Reads at least `want` records in GROUP, commits them, returns them."""
    c = consumer(bootstrap, GROUP, name)
    try:
        got_committed = committed(c, name + " before reading")
        check(got_committed == expect_start, "%s: committed offsets %s, expected %s"
              % (name, got_committed, expect_start))
        c.subscribe([TOPIC])
        got = {}
        first = {}
        last = {}
        idle = 0
        while len(got) < want:
            msgs = c.consume(num_messages=50, timeout=1.0)
            idle = 0 if msgs else idle + 1
            check(idle < 60, "%s: no records for 60 polls after %d of %d" % (name, len(got), want))
            for m in msgs:
                if m.error():
                    check(m.error().code() == KafkaError._PARTITION_EOF,
                          "%s: %s" % (name, m.error()))
                    continue
                p, o = m.partition(), m.offset()
                check((p, o) not in got, "%s: offset %d of partition %d twice" % (name, o, p))
                first.setdefault(p, o)
                last[p] = o
                got[(p, o)] = m.value()
        for p, o in first.items():
            check(o == expect_start.get(p, 0),
                  "%s: partition %d started at offset %d, committed was %s" % (
                      name, p, o, expect_start.get(p, "none (expected 0)")))
        commit = {p: o + 1 for p, o in last.items()}
        for p, o in expect_start.items():
            commit.setdefault(p, o)
        try:
            c.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in sorted(commit.items())],
                     asynchronous=False)
        except KafkaException as e:
            raise TestFailure("%s: commit %s failed: %s" % (name, commit, e))
        check(committed(c, name + " after commit") == commit,
              "%s: committed() does not show the commit %s" % (name, commit))
        return got, commit
    finally:
        c.close()


def assign_commit(bootstrap, offsets):
    """Commits offsets from a consumer with no group membership."""
    c = consumer(bootstrap, "resume-assign", "assign")
    try:
        c.assign([TopicPartition(TOPIC, p, 0) for p in offsets])
        c.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in offsets.items()],
                 asynchronous=False)
    except KafkaException as e:
        raise TestFailure("assign()-style commit %s failed: %s" % (offsets, e))
    finally:
        c.close()


def assign_committed(bootstrap):
    c = consumer(bootstrap, "resume-assign", "assign-check")
    try:
        return committed(c, "assign()-style group")
    finally:
        c.close()


def test(strata):
    with Broker(strata, name="confluent-resume") as b:
        create_topic(b.bootstrap, TOPIC, 2)
        recs = [(i % 2, b"k%d" % i, b"resume %06d" % i) for i in range(N)]
        acked = produce(b.bootstrap, TOPIC, recs)

        a, c1 = take_turn(b.bootstrap, "A", 600, {})
        check(len(a) < N, "A read everything; the test needs a partial read")
        bb, c2 = take_turn(b.bootstrap, "B (consumer restart)", 600, c1)
        check(len(a) + len(bb) < N, "A and B read everything; the test needs a partial read")

        assign_commit(b.bootstrap, {0: 123, 1: 456})
        check(assign_committed(b.bootstrap) == {0: 123, 1: 456},
              "assign()-style commit not reported by committed()")

        b.restart()

        check(assign_committed(b.bootstrap) == {0: 123, 1: 456},
              "assign()-style commit lost across a broker restart")
        c, _ = take_turn(b.bootstrap, "C (after broker restart)", N - len(a) - len(bb), c2)

        overlap = (set(a) & set(bb)) | (set(a) & set(c)) | (set(bb) & set(c))
        check(not overlap, "%d records were read twice across turns, e.g. %s"
              % (len(overlap), sorted(overlap)[:3]))
        everything = {**a, **bb, **c}
        check(everything == acked, "the turns read %d records, %d acknowledged; differing: %s"
              % (len(everything), len(acked),
                 sorted(set(everything.items()) ^ set(acked.items()))[:3]))


if __name__ == "__main__":
    main(test)
