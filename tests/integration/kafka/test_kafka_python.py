#!/usr/bin/python3
"""kafka-python 2.0.2 (Debian's python3-kafka) against strata's broker.

- KafkaAdminClient creates a 3-partition topic and lists it.
- KafkaProducer (acks=all) sends 300 records with each codec (none, gzip,
  snappy, lz4, zstd) and 300 more with acks=1: every send is acknowledged
  and each partition's offsets are dense from 0.
- Consumer A of a group reads about 700 records and commits exactly those
  offsets, with metadata; the admin client reads the commits back.
- Consumer B (a restart) starts at A's commits and reads the rest: A and B
  together see every record exactly once, byte-identical.
- After a broker restart, consumer C resumes at B's commits and sees exactly
  the 10 records produced after the restart.

Usage: /usr/bin/python3 test_kafka_python.py /path/to/strata
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokerctl import Broker, TestFailure, check, main  # noqa: E402
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402
from kafka.structs import OffsetAndMetadata  # noqa: E402

TOPIC = "kpy-t"
GROUP = "kpy-g"
PARTS = 3
PER_ROUND = 300
TPS = [TopicPartition(TOPIC, p) for p in range(PARTS)]


def produce(bootstrap, codec, acks, start, count):
    """Sends records start..start+count; returns {(p, o): (key, value)}."""
    p = KafkaProducer(bootstrap_servers=bootstrap, acks=acks, compression_type=codec,
                      linger_ms=10, client_id="kpy-producer-%s" % codec)
    try:
        futures = []
        for i in range(start, start + count):
            key = b"key-%d" % i
            value = (b"kafka-python %s %06d " % ((codec or "none").encode(), i)
                     + b"\x00\xff" * (i % 50))
            futures.append((key, value, p.send(TOPIC, value=value, key=key, partition=i % PARTS)))
        p.flush(60)
        out = {}
        for key, value, f in futures:
            try:
                md = f.get(timeout=60)
            except Exception as e:
                raise TestFailure("send (codec %s, acks %s) failed: %r" % (codec, acks, e))
            check((md.partition, md.offset) not in out,
                  "two sends acknowledged at partition %d offset %d" % (md.partition, md.offset))
            out[(md.partition, md.offset)] = (key, value)
        return out
    finally:
        p.close(10)


def new_consumer(bootstrap, name):
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP, client_id=name,
                      enable_auto_commit=False, auto_offset_reset="earliest",
                      session_timeout_ms=10000, heartbeat_interval_ms=1000,
                      fetch_max_wait_ms=100)
    c.subscribe([TOPIC])
    return c


def read(c, name, want, expect_start):
    """Polls until `want` records arrived; checks each partition's first offset."""
    got = {}
    first = {}
    last = {}
    idle = 0
    while len(got) < want:
        batch = c.poll(timeout_ms=1000, max_records=100)
        idle = 0 if batch else idle + 1
        check(idle < 60, "%s: no records for 60 polls after %d of %d" % (name, len(got), want))
        for tp, recs in batch.items():
            for r in recs:
                check((r.partition, r.offset) not in got,
                      "%s: partition %d offset %d delivered twice" % (name, r.partition, r.offset))
                first.setdefault(r.partition, r.offset)
                last[r.partition] = r.offset
                got[(r.partition, r.offset)] = (r.key, r.value)
    for p, o in first.items():
        check(o == expect_start.get(p, 0), "%s: partition %d started at offset %d, expected %d"
              % (name, p, o, expect_start.get(p, 0)))
    return got, {p: o + 1 for p, o in last.items()}


def commit(c, name, offsets, metadata):
    try:
        c.commit({TopicPartition(TOPIC, p): OffsetAndMetadata(o, metadata)
                  for p, o in offsets.items()})
    except Exception as e:
        raise TestFailure("%s: commit %s failed: %r" % (name, offsets, e))


def committed(c):
    out = {}
    for tp in TPS:
        o = c.committed(tp)
        if o is not None and o >= 0:
            out[tp.partition] = o
    return out


def test(strata):
    with Broker(strata, name="kafka-python") as b:
        admin = KafkaAdminClient(bootstrap_servers=b.bootstrap, client_id="kpy-admin")
        try:
            admin.create_topics([NewTopic(TOPIC, PARTS, 1)])
        except Exception as e:
            raise TestFailure("KafkaAdminClient.create_topics failed: %r" % e)
        check(TOPIC in admin.list_topics(), "list_topics lacks %s" % TOPIC)

        produced = {}
        start = 0
        for codec in (None, "gzip", "snappy", "lz4", "zstd"):
            produced.update(produce(b.bootstrap, codec, "all", start, PER_ROUND))
            start += PER_ROUND
        produced.update(produce(b.bootstrap, None, 1, start, PER_ROUND))
        start += PER_ROUND
        check(len(produced) == start, "%d distinct acknowledgements for %d sends"
              % (len(produced), start))
        for p in range(PARTS):
            offs = sorted(o for q, o in produced if q == p)
            check(offs == list(range(len(offs))), "partition %d offsets are not dense from 0" % p)

        # A reads part and commits; B resumes and reads the rest.
        a = new_consumer(b.bootstrap, "A")
        got_a, commits_a = read(a, "A", 700, {})
        commit(a, "A", commits_a, "kpy-A")
        check(committed(a) == commits_a, "A: committed() %s, committed %s"
              % (committed(a), commits_a))
        a.close(autocommit=False)
        check(len(got_a) < len(produced), "A read everything; the test needs a partial read")

        offsets = admin.list_consumer_group_offsets(GROUP, partitions=TPS)
        shown = {tp.partition: (om.offset, om.metadata) for tp, om in offsets.items()
                 if om.offset >= 0}
        check(shown == {p: (o, "kpy-A") for p, o in commits_a.items()},
              "admin list_consumer_group_offsets: %s, committed %s with metadata 'kpy-A'"
              % (shown, commits_a))

        bc = new_consumer(b.bootstrap, "B")
        check(committed(bc) == commits_a, "B: committed() %s, A committed %s"
              % (committed(bc), commits_a))
        got_b, commits_b = read(bc, "B", len(produced) - len(got_a), commits_a)
        both = set(got_a) | set(got_b)
        check(not set(got_a) & set(got_b), "A and B both read %d records"
              % len(set(got_a) & set(got_b)))
        check(both == set(produced), "A and B missed %d records" % len(set(produced) - both))
        merged = {**got_a, **got_b}
        bad = [k for k in produced if merged[k] != produced[k]]
        check(not bad, "%d records differ from what was produced, e.g. at %s" % (len(bad), bad[:3]))
        final = dict(commits_a)
        final.update(commits_b)
        commit(bc, "B", final, "kpy-B")
        bc.close(autocommit=False)
        admin.close()

        # Broker restart: C resumes after B's commits and sees only new records.
        b.restart()
        c = new_consumer(b.bootstrap, "C")
        check(committed(c) == final, "after a broker restart committed() is %s, expected %s"
              % (committed(c), final))
        more = produce(b.bootstrap, "gzip", "all", start, 10)
        got_c, _ = read(c, "C", 10, final)
        check(got_c == more, "C read %s, expected the 10 new records %s"
              % (sorted(got_c), sorted(more)))
        c.close(autocommit=False)


if __name__ == "__main__":
    main(test)
