#!/usr/bin/python3
"""Regressions found by review, each reproduced over the wire.

1. acks=0 to a topic whose flush policy is `always` crashed the broker (the
   fsync completion answered a slot that acks=0 had dropped).
2. Deleting and recreating a topic made an idempotent producer's next
   batches vanish: its state was keyed by a partition handle the allocator
   reused. Each round's records must be stored.
3. Fetch ignored the request's max_bytes for the first partition.
4. Produce to __consumer_offsets was accepted (it would inject offsets).
5. A topic name with a NUL byte aliased a shorter name.

    /usr/bin/python3 test_regressions.py /path/to/strata
"""
import struct
import subprocess

import brokerctl
from brokerctl import check
from kafka.protocol.admin import DeleteTopicsRequest
from kafka.protocol.fetch import FetchRequest, FetchResponse
from kafka.protocol.metadata import MetadataRequest, MetadataResponse
from kafka.protocol.produce import ProduceRequest, ProduceResponse
from test_bad_input import batch, connect, frame, read_response


def call(broker, api, version, req, resp_cls, corr=5):
    with connect(broker) as s:
        s.sendall(frame(api, version, corr, req.encode()))
        data = read_response(s)
    check(data is not None, "no response to API %d" % api)
    return resp_cls.decode(data[4:])


def idempotent_batch(pid, seq, n=3):
    from kafka.record.default_records import DefaultRecordBatchBuilder
    b = DefaultRecordBatchBuilder(magic=2, compression_type=0, is_transactional=False,
                                  producer_id=pid, producer_epoch=0, base_sequence=seq,
                                  batch_size=1 << 30)
    for i in range(n):
        b.append(i, timestamp=1700000000000, key=b"k", value=b"v%d" % i, headers=[])
    return bytes(b.build())


def produce(broker, topic, records, acks=-1):
    req = ProduceRequest[7](transactional_id=None, required_acks=acks, timeout=5000,
                            topics=[(topic, [(0, records)])])
    resp = call(broker, 0, 7, req, ProduceResponse[7])
    return resp.topics[0][1][0][1], resp.topics[0][1][0][2]  # error, base offset


def metadata(broker, topic):
    resp = call(broker, 3, 1, MetadataRequest[1](topics=[topic]), MetadataResponse[1])
    return resp.topics[0][0]


def log_end(broker, topic):
    out = subprocess.run(["kcat", "-b", broker.bootstrap, "-Q", "-t", "%s:0:-1" % topic],
                         capture_output=True, timeout=60)
    check(out.returncode == 0, "kcat -Q failed: %r" % out.stderr)
    return int(out.stdout.split()[-1])


def test_acks0_flush_always(strata):
    with brokerctl.Broker(strata, extra_args=["--flush", "always"], name="always") as b:
        check(metadata(b, "a0") == 0, "auto-create failed")
        with connect(b) as s:
            req = ProduceRequest[7](transactional_id=None, required_acks=0, timeout=5000,
                                    topics=[("a0", [(0, batch())])])
            s.sendall(frame(0, 7, 1, req.encode()))
        # The broker must still be alive and have the records.
        for _ in range(100):
            if log_end(b, "a0") == 3:
                break
        check(log_end(b, "a0") == 3, "acks=0 records missing")


def test_recreate_topic_idempotent(strata):
    with brokerctl.Broker(strata, name="recreate") as b:
        for round_ in range(12):
            check(metadata(b, "x") == 0, "create x failed in round %d" % round_)
            err, base = produce(b, "x", idempotent_batch(4242, 0))
            check(err == 0 and base == 0, "round %d: err %d base %d" % (round_, err, base))
            check(log_end(b, "x") == 3, "round %d: records were not stored" % round_)
            resp = call(b, 20, 1, DeleteTopicsRequest[1](topics=["x"], timeout=5000),
                        DeleteTopicsRequest[1].RESPONSE_TYPE)
            check(resp.topic_error_codes[0][1] == 0, "delete failed in round %d" % round_)


def test_fetch_max_bytes(strata):
    with brokerctl.Broker(strata, name="maxbytes") as b:
        check(metadata(b, "mb") == 0, "create failed")
        for _ in range(20):
            check(produce(b, "mb", batch(n=3, value=b"y" * 50), acks=1)[0] == 0, "produce")
        one = len(batch(n=3, value=b"y" * 50))
        req = FetchRequest[4](replica_id=-1, max_wait_time=0, min_bytes=1, max_bytes=100,
                              isolation_level=0, topics=[("mb", [(0, 0, 1 << 20)])])
        resp = call(b, 1, 4, req, FetchResponse[4])
        records = resp.topics[0][1][0][-1]
        check(len(records) == one, "max_bytes 100 returned %d bytes, want one batch (%d)"
              % (len(records), one))


def test_offsets_topic_and_nul_names(strata):
    with brokerctl.Broker(strata, name="internal") as b:
        check(metadata(b, "real") == 0, "create failed")
        err, _ = produce(b, "__consumer_offsets", batch(), acks=1)
        check(err == 17, "produce to __consumer_offsets answered %d, want 17" % err)
        check(metadata(b, "real\0zzz") == 17, "a name with a NUL byte was accepted")


def test(strata):
    test_acks0_flush_always(strata)
    test_recreate_topic_idempotent(strata)
    test_fetch_max_bytes(strata)
    test_offsets_topic_and_nul_names(strata)


if __name__ == "__main__":
    brokerctl.main(test)
