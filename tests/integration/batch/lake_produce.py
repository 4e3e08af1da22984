"""lake_produce.py - produces the generated ticks of lake_recompute.mjs into a
strata data folder with the record timestamps the generator chose, through
strata's own broker and a real Kafka client (confluent-kafka), so the log
holds records appended hours ago and retention by record time can remove
them.

usage: /usr/bin/python3 lake_produce.py STRATA DATA_DIR IN_DIR PARTITIONS

IN_DIR/p<N>.ndjson holds partition N's values in offset order and
IN_DIR/p<N>.ts each one's record timestamp (ms). The broker listens on
127.0.0.1 with a port the kernel picks and is always stopped (SIGTERM, then
SIGKILL). One idempotent producer writes each partition in order, so line
i lands at offset i; the script checks each partition's end offset.
Exit status 0, or 1 with the reason on stderr.
"""

import os
import re
import signal
import subprocess
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

LISTEN_RE = re.compile(rb"strata broker listening on 127\.0\.0\.1:(\d+)")


def start_broker(strata, data, log):
    proc = subprocess.Popen([strata, "broker", "--listen", "127.0.0.1:0", "--data", data,
                             "--no-auto-create"], stdin=subprocess.DEVNULL,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(log, "rb") as f:
            m = LISTEN_RE.search(f.read())
        if m:
            return proc, "127.0.0.1:%s" % m.group(1).decode()
        if proc.poll() is not None:
            raise RuntimeError("broker exited with %s: %s" % (proc.returncode, open(log).read()))
        time.sleep(0.02)
    raise RuntimeError("broker did not start")


def stop_broker(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def produce(bootstrap, in_dir, partitions):
    errors = []
    # Small batches, so the topic's small segments roll and retention can
    # delete the old ones.
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                  "linger.ms": 5, "batch.num.messages": 100})
    counts = []
    for part in range(partitions):
        with open(os.path.join(in_dir, "p%d.ndjson" % part), "rb") as f:
            values = f.read().split(b"\n")[:-1]
        with open(os.path.join(in_dir, "p%d.ts" % part)) as f:
            stamps = [int(x) for x in f.read().split()]
        assert len(values) == len(stamps)
        counts.append(len(values))
        for v, ts in zip(values, stamps):
            while True:
                try:
                    p.produce("ticks", value=v, partition=part, timestamp=ts,
                              on_delivery=lambda err, msg: err and errors.append(err))
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
    left = p.flush(120)
    if left or errors:
        raise RuntimeError("%d undelivered, errors: %s" % (left, errors[:3]))
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "lake-produce-check"})
    for part, n in enumerate(counts):
        lo, hi = c.get_watermark_offsets(TopicPartition("ticks", part), timeout=30)
        if (lo, hi) != (0, n):
            raise RuntimeError("partition %d holds offsets %d..%d, want 0..%d" % (part, lo, hi, n))
    c.close()
    return sum(counts)


def main():
    strata, data, in_dir, partitions = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    proc, bootstrap = start_broker(strata, data, os.path.join(in_dir, "broker.log"))
    try:
        n = produce(bootstrap, in_dir, partitions)
    finally:
        rc = stop_broker(proc)
    if rc != 0:
        raise RuntimeError("broker exited with status %s" % rc)
    print("produced %d records through the broker" % n)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any failure fails the test
        sys.stderr.write("lake_produce: %s\n" % e)
        sys.exit(1)
