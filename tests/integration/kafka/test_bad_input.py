#!/usr/bin/python3
"""Bad input against the broker, over a raw socket.

Requests are encoded with kafka-python's protocol classes (an independent
implementation); batches with its DefaultRecordBatchBuilder. Checks the
issue's table: an oversized or negative frame size and an unparsable
request close the connection; a bad CRC gets CORRUPT_MESSAGE (2); an
oversized batch MESSAGE_TOO_LARGE (10); an unknown topic or partition
UNKNOWN_TOPIC_OR_PARTITION (3); a fetch outside the log
OFFSET_OUT_OF_RANGE (1); a valid CRC around malformed records
INVALID_RECORD (87); ApiVersions above v3 gets error 35 in a v0 body.
After all of it, the broker still serves a real client.

    /usr/bin/python3 test_bad_input.py /path/to/strata
"""
import socket
import struct
import subprocess
import sys

import brokerctl
from brokerctl import check
from kafka.protocol.admin import ApiVersionResponse_v0
from kafka.protocol.fetch import FetchRequest, FetchResponse
from kafka.protocol.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.produce import ProduceRequest, ProduceResponse
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.util import calc_crc32c


def frame(api_key, version, corr, body, client_id=b"bad-input"):
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def read_response(sock):
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            return None
        head += chunk
    size = struct.unpack(">i", head)[0]
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def closed_by_peer(sock):
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def connect(broker):
    return socket.create_connection(("127.0.0.1", broker.port), timeout=10)


def batch(n=3, value=b"v" * 20):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                  batch_size=1 << 30)
    for i in range(n):
        b.append(i, timestamp=1700000000000 + i, key=b"k%d" % i, value=value, headers=[])
    return bytes(b.build())


def with_crc(mutated):
    """Recomputes the CRC32C (bytes 21..end) so only the records are bad."""
    b = bytearray(mutated)
    b[17:21] = struct.pack(">I", calc_crc32c(bytes(b[21:])))
    return bytes(b)


def produce(broker, topic, partition, records, corr=7):
    req = ProduceRequest[7](transactional_id=None, required_acks=1, timeout=5000,
                            topics=[(topic, [(partition, records)])])
    with connect(broker) as s:
        s.sendall(frame(0, 7, corr, req.encode()))
        data = read_response(s)
    check(data is not None, "no Produce response")
    check(struct.unpack(">i", data[:4])[0] == corr, "correlation id not echoed")
    resp = ProduceResponse[7].decode(data[4:])
    return resp.topics[0][1][0][1]  # error code of the one partition


def expect_closed(broker, raw, what):
    with connect(broker) as s:
        s.sendall(raw)
        check(closed_by_peer(s), "%s: the connection stayed open" % what)


def create_topic(broker, name):
    req = MetadataRequest[1](topics=[name])
    with connect(broker) as s:
        s.sendall(frame(3, 1, 1, req.encode()))
        data = read_response(s)
    resp = MetadataResponse[1].decode(data[4:])
    check(resp.topics[0][0] == 0, "auto-create of %s failed: %r" % (name, resp.topics[0]))


def test(strata):
    with brokerctl.Broker(strata, name="bad-input") as broker:
        run_checks(broker)


def run_checks(broker):
    create_topic(broker, "bad")
    # Framing: a size over 16 MiB, a negative size, a truncated header.
    expect_closed(broker, struct.pack(">i", 17 << 20) + b"x" * 64, "oversized frame")
    expect_closed(broker, struct.pack(">i", -5), "negative frame size")
    expect_closed(broker, struct.pack(">i", 3) + b"\x00\x03\x00", "truncated header")
    # Unknown API key, and a known API with a garbage body.
    expect_closed(broker, frame(999, 0, 1, b""), "unknown API key")
    expect_closed(broker, frame(3, 1, 1, b"\x7f\xff\xff\xff"), "unparsable Metadata body")

    # ApiVersions v9: error 35 in a v0 body, so clients step down.
    with connect(broker) as s:
        s.sendall(frame(18, 9, 42, b"\x00\x00\x00"))
        data = read_response(s)
    check(data is not None and struct.unpack(">i", data[:4])[0] == 42, "no ApiVersions answer")
    resp = ApiVersionResponse_v0.decode(data[4:])
    check(resp.error_code == 35, "ApiVersions v9 answered %d, want 35" % resp.error_code)
    check(any(k == 0 for k, _, _ in resp.api_versions), "no Produce in the fallback table")

    good = batch()
    check(produce(broker, "bad", 0, good) == 0, "a valid batch was refused")
    corrupt = bytearray(good)
    corrupt[-1] ^= 0x01  # inside the CRC-covered bytes
    check(produce(broker, "bad", 0, bytes(corrupt)) == 2, "bad CRC not CORRUPT_MESSAGE")
    check(produce(broker, "bad", 0, good[:-5]) == 2, "truncated batch not CORRUPT_MESSAGE")
    big = batch(n=1, value=b"x" * (1100 * 1000))
    check(produce(broker, "bad", 0, big) == 10, "oversized batch not MESSAGE_TOO_LARGE")
    # A valid CRC around bad records: INVALID_RECORD, as Kafka's LogValidator.
    bad_len = bytearray(good)
    bad_len[61] = 0x7E  # the first record claims 63 bytes
    check(produce(broker, "bad", 0, with_crc(bad_len)) == 87, "bad record length not 87")
    bad_delta = bytearray(good)
    bad_delta[23:27] = struct.pack(">i", 5)  # LastOffsetDelta 5 for 3 records
    check(produce(broker, "bad", 0, with_crc(bad_delta)) == 87, "bad offset delta not 87")
    check(produce(broker, "no-such-topic", 0, good) == 3, "unknown topic not error 3")
    check(produce(broker, "bad", 7, good) == 3, "unknown partition not error 3")

    # Fetch beyond the log end: OFFSET_OUT_OF_RANGE with the watermark.
    req = FetchRequest[4](replica_id=-1, max_wait_time=0, min_bytes=1, max_bytes=1 << 20,
                          isolation_level=0,
                          topics=[("bad", [(0, 1000, 1 << 20)])])
    with connect(broker) as s:
        s.sendall(frame(1, 4, 9, req.encode()))
        data = read_response(s)
    resp = FetchResponse[4].decode(data[4:])
    part = resp.topics[0][1][0]
    check(part[1] == 1, "fetch past the end answered %d, want 1" % part[1])
    check(part[2] == 3, "high watermark %d, want 3" % part[2])

    # Nothing broke: a real client still works, and only the good batch landed.
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-t", "bad", "-C", "-e", "-o",
                          "beginning", "-f", "%k\n"], capture_output=True, timeout=60)
    check(out.returncode == 0, "kcat failed after bad input: %r" % out.stderr)
    check(out.stdout.split() == [b"k0", b"k1", b"k2"], "unexpected records: %r" % out.stdout)


if __name__ == "__main__":
    brokerctl.main(test)
