#!/usr/bin/python3
"""Crash: kill -9 the broker while an idempotent acks=all producer streams.

python3-confluent-kafka produces keyed records to 3 partitions as fast as it
can, recording every acknowledged (partition, offset, value) from its
delivery reports. Once 20,000 are acknowledged, with more still queued or in
flight, the broker is killed with SIGKILL. It is restarted on the same data
(a new port), and a reader consumes everything from the beginning:

- every acknowledged (partition, offset) holds exactly the acknowledged
  value and key;
- every record present is one the producer sent, none twice, and each
  partition's offsets are dense from 0;
- an offset commit acknowledged before the crash is still there;
- a new producer appends at the recovered end of each partition.

Usage: /usr/bin/python3 test_crash.py /path/to/strata
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokerctl import Broker, TestFailure, check, main  # noqa: E402
from confluent_client import produce, read_partitions  # noqa: E402
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402

TOPIC = "crash-t"
PARTS = 3
KILL_AFTER = 20000  # acknowledged records before the kill
AFTER_KILL = 2000  # records produced after the kill (never acknowledged)
COMMIT = {0: 7, 1: 8, 2: 9}


def record(i):
    return i % PARTS, b"key-%d" % i, b"crash %08d " % i + bytes(range(256))[: 40 + i % 200]


def index_of(value):
    check(value.startswith(b"crash "), "a record the producer never sent: %r" % value[:40])
    return int(value[6:14])


def commit_offsets(bootstrap, group, offsets):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        c.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in offsets.items()],
                 asynchronous=False)
    except KafkaException as e:
        raise TestFailure("commit %s failed: %s" % (offsets, e))
    finally:
        c.close()


def committed_offsets(bootstrap, group):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(TOPIC, p) for p in range(PARTS)], timeout=30)
        return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}
    except KafkaException as e:
        raise TestFailure("committed() failed: %s" % e)
    finally:
        c.close()


def produce_until_killed(b):
    """Streams records; kills the broker mid-stream. Returns ({(p, o): (k, v)}, sent)."""
    p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "enable.idempotence": True,
                  "linger.ms": 5, "batch.num.messages": 2000,
                  "queue.buffering.max.messages": 100000, "client.id": "crash-producer"})
    acked = {}
    failed = []

    def on_delivery(err, msg):
        if err is None:
            acked[(msg.partition(), msg.offset())] = (msg.key(), msg.value())
        else:
            failed.append(err)

    committed = False
    killed_at = None
    i = 0
    while killed_at is None or i < killed_at + AFTER_KILL:
        part, key, value = record(i)
        try:
            p.produce(TOPIC, value, key, partition=part, on_delivery=on_delivery)
            i += 1
        except BufferError:
            p.poll(0.01)
            continue
        if i % 200 == 0:
            p.poll(0)
        if killed_at is None:
            check(not failed, "delivery failed before the kill: %s" % failed[:1])
            if not committed and len(acked) >= 5000:
                commit_offsets(b.bootstrap, "crash-g", COMMIT)
                committed = True
            if len(acked) >= KILL_AFTER:
                unacked = len(p)
                check(unacked > 0, "nothing queued or in flight at the kill: not mid-stream")
                b.kill9()
                killed_at = i
                sys.stderr.write("killed the broker with %d acknowledged, %d queued or in "
                                 "flight\n" % (len(acked), unacked))
    check(committed, "the offset commit before the crash never happened")
    # Serve delivery reports for responses that arrived before the kill, then
    # give up on the rest: their fate is unknown, so nothing is asserted.
    for _ in range(20):
        p.poll(0.05)
    p.purge(in_queue=True, in_flight=True)
    p.flush(30)
    return acked, i


def test(strata):
    with Broker(strata, default_partitions=PARTS, name="crash") as b:
        acked, sent = produce_until_killed(b)
        check(len(acked) >= KILL_AFTER, "only %d acknowledged" % len(acked))

        b.start()  # same data, new port, recovery after the crash
        log = read_partitions(b.bootstrap, TOPIC, range(PARTS))

        missing = [po for po in acked if po not in log]
        check(not missing, "%d acknowledged records are gone after the crash, e.g. "
              "(partition, offset) %s" % (len(missing), sorted(missing)[:5]))
        wrong = [po for po in acked if log[po] != acked[po]]
        check(not wrong, "%d acknowledged records changed across the crash, e.g. at %s"
              % (len(wrong), sorted(wrong)[:5]))

        seen = {}
        for (part, off), (key, value) in sorted(log.items()):
            n = index_of(value)
            check(n < sent, "record %d was never sent" % n)
            check(record(n) == (part, key, value),
                  "partition %d offset %d holds a damaged copy of record %d" % (part, off, n))
            check(n not in seen, "record %d stored twice: at %s and %s"
                  % (n, seen.get(n), (part, off)))
            seen[n] = (part, off)
        ends = {}
        for part in range(PARTS):
            offs = sorted(o for q, o in log if q == part)
            check(offs == list(range(len(offs))),
                  "partition %d offsets are not dense from 0 after recovery" % part)
            ends[part] = len(offs)
        sys.stderr.write("after recovery: %d records present, %d were acknowledged\n"
                         % (len(log), len(acked)))

        got = committed_offsets(b.bootstrap, "crash-g")
        check(got == COMMIT, "offsets committed before the crash: %s, expected %s"
              % (got, COMMIT))

        # The recovered partitions take new records at their ends.
        new = [(i % PARTS, b"after-%d" % i, b"after crash %d" % i) for i in range(300)]
        more = produce(b.bootstrap, TOPIC, new, {"enable.idempotence": True})
        for part in range(PARTS):
            offs = sorted(o for q, o in more if q == part)
            check(offs == list(range(ends[part], ends[part] + 100)),
                  "partition %d: new records at offsets %s..., expected from %d"
                  % (part, offs[:3], ends[part]))


if __name__ == "__main__":
    main(test)
