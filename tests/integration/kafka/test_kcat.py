#!/usr/bin/python3
"""kcat (librdkafka 2.0.2) against strata's broker.

- Produces N keyed records with each codec (none, gzip, snappy, lz4, zstd)
  and with acks=all, acks=1 and acks=0, consumes them back with `-e`, and
  checks keys, values, headers and offsets are byte-identical and dense.
- Checks the compressed batches really were compressed: librdkafka did not
  fall back to "not compressing batch", and each compressed topic's log on
  disk (DATA/topics/<topic>-0/*.log, docs/seglog.md) is far smaller than the
  uncompressed one's.
- Lists metadata with `-L -J`: node 0 at 127.0.0.1:PORT, every topic with
  one partition led by node 0.

Usage: /usr/bin/python3 test_kcat.py /path/to/strata
"""

import glob
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokerctl import Broker, TestFailure, check, main, wait_until  # noqa: E402

N = 2000
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def record(i, tag):
    """Key and value of record i: binary-safe bytes except the delimiters.

    Values carry NUL, tab, high bytes and a repeated pattern so that every
    codec has something to compress; lengths vary from a few bytes to ~5 KB.
    """
    key = b"k%s-%06d" % (tag.encode(), i)
    pattern = b"strata\x00\t" + bytes(range(0x80, 0x90)) + b"\xff"
    value = b"v%06d|" % i + pattern * (i % 200)
    assert b"\n" not in value and b"\n" not in key and b":" not in key
    return key, value


def kcat(args, stdin=None, what="kcat"):
    p = subprocess.run(["kcat"] + args, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=180)
    if p.returncode != 0:
        raise TestFailure("%s (kcat %s) exited %d:\n%s" % (
            what, " ".join(args), p.returncode, p.stderr.decode("utf-8", "replace")[-4000:]))
    return p.stdout, p.stderr.decode("utf-8", "replace")


def parse_consumed(out):
    """Parses -f '%p:%o:%K:%k:%S:%s:%h\\n' output, using the lengths."""
    recs = []
    pos = 0
    while pos < len(out):
        fields = []
        for _ in range(3):
            end = out.index(b":", pos)
            fields.append(int(out[pos:end]))
            pos = end + 1
        part, offset, klen = fields
        key = out[pos:pos + klen] if klen >= 0 else None
        pos += max(klen, 0)
        check(out[pos:pos + 1] == b":", "kcat output malformed after key at byte %d" % pos)
        pos += 1
        end = out.index(b":", pos)
        vlen = int(out[pos:end])
        pos = end + 1
        value = out[pos:pos + vlen] if vlen >= 0 else None
        pos += max(vlen, 0)
        check(out[pos:pos + 1] == b":", "kcat output malformed after value at byte %d" % pos)
        end = out.index(b"\n", pos + 1)
        headers = out[pos + 1:end]
        pos = end + 1
        recs.append((part, offset, key, value, headers))
    return recs


def consume_all(bootstrap, topic):
    out, _ = kcat(["-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q",
                   "-f", r"%p:%o:%K:%k:%S:%s:%h\n"], what="consume %s" % topic)
    return parse_consumed(out)


def log_bytes(broker, topic):
    files = glob.glob(os.path.join(broker.data, "topics", "%s-0" % topic, "*.log"))
    check(files, "no segment files for %s under %s/topics (docs/seglog.md layout)"
          % (topic, broker.data))
    return sum(os.path.getsize(f) for f in files)


def produce_and_check(b, topic, codec, acks):
    recs = [record(i, topic) for i in range(N)]
    payload = b"".join(k + b":" + v + b"\n" for k, v in recs)
    header = "src=%s" % topic
    _, err = kcat(["-P", "-b", b.bootstrap, "-t", topic, "-p", "0", "-K", ":", "-z", codec,
                   "-H", header, "-X", "acks=%s" % acks, "-X", "linger.ms=20"],
                  stdin=payload, what="produce %s" % topic)
    check("not compressing" not in err and "does not support compression" not in err,
          "librdkafka fell back to uncompressed batches for %s: %s" % (codec, err[-2000:]))
    check("ERROR" not in err and "FAIL" not in err,
          "kcat reported errors producing %s: %s" % (topic, err[-2000:]))

    # acks=0 has no acknowledgement to wait for: poll until the records show.
    def all_there():
        recs_now = consume_all(b.bootstrap, topic)
        return recs_now if len(recs_now) >= N else None

    got = wait_until(all_there, 60, "%d records in %s" % (N, topic), interval_s=0.5)
    check(len(got) == N, "%s: consumed %d records, produced %d" % (topic, len(got), N))
    for i, (part, offset, key, value, headers) in enumerate(got):
        check(part == 0, "%s: record %d came from partition %d" % (topic, i, part))
        check(offset == i, "%s: record %d has offset %d, offsets must be dense from 0"
              % (topic, i, offset))
        check(key == recs[i][0], "%s @%d: key %r != produced %r" % (topic, i, key, recs[i][0]))
        check(value == recs[i][1], "%s @%d: value differs from the produced one (%d vs %d bytes)"
              % (topic, i, len(value or b""), len(recs[i][1])))
        check(headers == header.encode(), "%s @%d: headers %r != %r" % (topic, i, headers, header))


def test(strata):
    with Broker(strata, name="kcat") as b:
        topics = []
        for codec in CODECS:
            topic = "kcat-%s" % codec
            produce_and_check(b, topic, codec, "all")
            topics.append(topic)
        for acks in ("1", "0"):
            topic = "kcat-acks%s" % acks
            produce_and_check(b, topic, "none", acks)
            topics.append(topic)

        # Compressed batches are stored as they arrived: far fewer bytes.
        plain = log_bytes(b, "kcat-none")
        for codec in CODECS[1:]:
            size = log_bytes(b, "kcat-%s" % codec)
            check(size * 3 < plain, "kcat-%s holds %d bytes on disk vs %d uncompressed: "
                  "the batches were not compressed" % (codec, size, plain))

        # Metadata listing.
        out, _ = kcat(["-L", "-J", "-b", b.bootstrap], what="metadata")
        md = json.loads(out)
        check(md.get("controllerid") == 0, "-L controllerid: expected 0, got %r"
              % md.get("controllerid"))
        brokers = md.get("brokers")
        check(brokers == [{"id": 0, "name": b.bootstrap}],
              "-L brokers: expected node 0 at %s, got %r" % (b.bootstrap, brokers))
        listed = {t["topic"]: t for t in md.get("topics", [])}
        for topic in topics:
            check(topic in listed, "-L does not list %s (got %s)" % (topic, sorted(listed)))
            t = listed[topic]
            check("error" not in t, "-L reports an error for %s: %r" % (topic, t))
            parts = t.get("partitions")
            check(len(parts) == 1 and parts[0]["partition"] == 0 and parts[0]["leader"] == 0,
                  "-L %s: expected one partition led by node 0, got %r" % (topic, parts))

        # -L -t on an unknown topic auto-creates it with the default partitions.
        out, _ = kcat(["-L", "-J", "-b", b.bootstrap, "-t", "kcat-auto"], what="metadata -t")
        t = json.loads(out)["topics"]
        check(len(t) == 1 and t[0]["topic"] == "kcat-auto" and len(t[0]["partitions"]) == 1,
              "-L -t kcat-auto: expected the auto-created topic with 1 partition, got %r" % t)

        # Everything is still there after a clean restart.
        b.restart()
        got = consume_all(b.bootstrap, "kcat-zstd")
        check([r[3] for r in got] == [record(i, "kcat-zstd")[1] for i in range(N)],
              "kcat-zstd differs after a broker restart (%d records)" % len(got))


if __name__ == "__main__":
    main(test)
