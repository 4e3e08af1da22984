#!/usr/bin/python3
"""python3-confluent-kafka: a consumer group of 3 members over 6 partitions.

1. Three members subscribe to an empty 6-partition topic and settle on 2
   partitions each. 100,000 records are produced; every record is seen
   exactly once across the members, each only from its own partitions.
2. A member leaves (close -> LeaveGroup): the other two take 3 partitions
   each. 6,000 more records are again seen exactly once.
3. A new member joins: 2 partitions each again, 6,000 more records seen
   exactly once, some by the newcomer.

Members commit synchronously after every batch (and on revoke), so a
partition that changes hands resumes at the committed offset: a duplicate or
a gap means the broker lost or misplaced a commit or a record.

Usage: /usr/bin/python3 test_confluent_group.py /path/to/strata
"""

import os
import sys
import threading

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokerctl import Broker, TestFailure, check, main, wait_until  # noqa: E402
from confluent_client import create_topic, produce  # noqa: E402
from confluent_kafka import Consumer, KafkaError, KafkaException  # noqa: E402

TOPIC = "group-t"
GROUP = "group-g"
PARTITIONS = 6
SETTLE_S = 120  # liveness bound for a rebalance to finish


class Member:
    """One group member: a consumer polling on its own thread."""

    def __init__(self, bootstrap, name):
        self.name = name
        self.lock = threading.Lock()
        self.assignment = set()
        self.assignments = []  # history, for failure messages
        self.seen = []  # (partition, offset, value), committed
        self.errors = []
        self.stopping = threading.Event()
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap, "group.id": GROUP, "client.id": name,
            "auto.offset.reset": "earliest", "enable.auto.commit": False,
            # Heartbeat often, so members hear of a rebalance soon.
            "session.timeout.ms": 10000, "heartbeat.interval.ms": 1000,
            "fetch.wait.max.ms": 100, "fetch.min.bytes": 1,
            "queued.min.messages": 200000,
        })
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)
        self.thread.start()

    def on_assign(self, consumer, parts):
        with self.lock:
            self.assignment = {p.partition for p in parts}
            self.assignments.append(sorted(self.assignment))

    def on_revoke(self, consumer, parts):
        self.commit()
        with self.lock:
            self.assignment = set()
            self.assignments.append([])

    def commit(self):
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException as e:
            if e.args[0].code() != KafkaError._NO_OFFSET:
                with self.lock:
                    self.errors.append("commit: %s" % e)

    def run(self):
        c = self.consumer
        try:
            c.subscribe([TOPIC], on_assign=self.on_assign, on_revoke=self.on_revoke)
            while not self.stopping.is_set():
                msgs = c.consume(num_messages=10000, timeout=0.2)
                batch = []
                for m in msgs:
                    if m.error():
                        if m.error().code() != KafkaError._PARTITION_EOF:
                            with self.lock:
                                self.errors.append("consume: %s" % m.error())
                        continue
                    batch.append((m.partition(), m.offset(), m.value()))
                if batch:
                    self.commit()
                    with self.lock:
                        self.seen.extend(batch)
            self.commit()
        except Exception as e:  # reported by the main thread
            with self.lock:
                self.errors.append("%s: %s" % (type(e).__name__, e))
        finally:
            c.close()  # LeaveGroup

    def leave(self):
        self.stopping.set()
        self.thread.join(60)
        check(not self.thread.is_alive(), "%s did not close within 60 s" % self.name)

    def state(self):
        with self.lock:
            return sorted(self.assignment), len(self.seen)


def settle(members, want_sizes, what):
    def ok():
        for m in members:
            check(not m.errors, "%s: %s" % (m.name, m.errors[:3]))
        assigned = [m.state()[0] for m in members]
        union = sorted(p for a in assigned for p in a)
        return sorted(len(a) for a in assigned) == want_sizes and union == list(range(PARTITIONS))

    try:
        wait_until(ok, SETTLE_S, what, interval_s=0.1)
    except TestFailure as e:
        raise TestFailure("%s; assignment history: %s" % (
            e, {m.name: m.assignments for m in members}))


def produce_phase(bootstrap, phase, start, count):
    recs = [(i % PARTITIONS, b"%d" % i, b"%s %07d " % (phase, i) + b"." * (i % 64))
            for i in range(start, start + count)]
    produce(bootstrap, TOPIC, recs, {"compression.type": "lz4", "linger.ms": 50})
    return {r[2] for r in recs}


def check_exactly_once(members, everyone, want_values, what):
    total = len(want_values)
    try:
        wait_until(lambda: sum(m.state()[1] for m in everyone) >= total and
                   all(not m.errors for m in everyone),
                   SETTLE_S, "%d records consumed (%s)" % (total, what), interval_s=0.1)
    except TestFailure as e:
        raise TestFailure("%s; consumed per member: %s; errors: %s" % (
            e, {m.name: m.state()[1] for m in everyone}, {m.name: m.errors for m in everyone}))
    for m in everyone:
        check(not m.errors, "%s: %s" % (m.name, m.errors[:3]))
    seen = [r for m in everyone for r in m.seen]
    values = [v for _, _, v in seen]
    check(len(values) == len(set(values)),
          "%s: %d records delivered more than once" % (what, len(values) - len(set(values))))
    positions = {(p, o) for p, o, _ in seen}
    check(len(positions) == len(seen), "%s: two records share a (partition, offset)" % what)
    check(set(values) == want_values, "%s: missing %d records, %d unexpected" % (
        what, len(want_values - set(values)), len(set(values) - want_values)))
    check(len(values) == total, "%s: consumed %d, produced %d" % (what, len(values), total))
    print("%s: %d records exactly once; per member (assignment, consumed): %s" % (
        what, total, {m.name: m.state() for m in everyone}), flush=True)
    for p in range(PARTITIONS):
        offs = sorted(o for q, o, _ in seen if q == p)
        check(offs == list(range(len(offs))),
              "%s: partition %d offsets are not dense from 0" % (what, p))


def test(strata):
    with Broker(strata, name="confluent-group") as b:
        create_topic(b.bootstrap, TOPIC, PARTITIONS)
        members = [Member(b.bootstrap, "m%d" % i) for i in range(3)]
        try:
            run_phases(b, members)
        finally:
            for m in members:
                m.stopping.set()
            for m in members:
                m.thread.join(60)


def run_phases(b, members):
    m0, m1, m2 = members
    everyone = list(members)

    # 1. Three members, 2 partitions each, 100k records exactly once.
    settle([m0, m1, m2], [2, 2, 2], "3 members with 2 partitions each")
    before = {m.name: m.state()[0] for m in members}
    want = produce_phase(b.bootstrap, b"one", 0, 100000)
    check_exactly_once(members, everyone, want, "3 members, 100k records")
    for m in members:
        own = {p for p, _, _ in m.seen}
        check(own <= set(before[m.name]), "%s consumed partitions %s, assigned %s"
              % (m.name, sorted(own), before[m.name]))
        check(len(m.seen) > 0, "%s consumed nothing from its partitions" % m.name)

    # 2. m2 leaves: the others take 3 partitions each.
    m2.leave()
    n2 = len(m2.seen)
    settle([m0, m1], [3, 3], "m0 and m1 with 3 partitions each after m2 left")
    want |= produce_phase(b.bootstrap, b"two", 100000, 6000)
    check_exactly_once([m0, m1], everyone, want, "after a member left")
    check(len(m2.seen) == n2, "m2 consumed after it left")

    # 3. m3 joins: 2 partitions each again.
    m3 = Member(b.bootstrap, "m3")
    members.append(m3)
    everyone.append(m3)
    settle([m0, m1, m3], [2, 2, 2], "m0, m1, m3 with 2 partitions each after m3 joined")
    want |= produce_phase(b.bootstrap, b"three", 106000, 6000)
    check_exactly_once([m0, m1, m3], everyone, want, "after a member joined")
    check(len(m3.seen) > 0, "the new member m3 consumed nothing")

    for m in (m0, m1, m3):
        m.stopping.set()
    for m in (m0, m1, m3):
        m.leave()
    for m in everyone:
        check(not m.errors, "%s: %s" % (m.name, m.errors[:3]))


if __name__ == "__main__":
    main(test)
