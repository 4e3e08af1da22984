#!/usr/bin/python3
"""Captures real Kafka client requests into the kafka_request fuzz corpus.

Starts `strata broker`, puts a recording TCP proxy in front of it, and runs
kcat, confluent-kafka (librdkafka), kafka-python and kafkajs through the
proxy: produce with each codec, consume in a group, commit, admin calls.
Every request frame a client sends (without its 4-byte size prefix, which
is what the fuzz target takes) is written to
tests/fuzz/corpus/kafka_request/real-<client>-<api>-v<version>-<hash>;
frames over 4 KiB are skipped to keep the corpus small.

Run it by hand when clients or APIs change:
    /usr/bin/python3 tests/fuzz/capture_kafka.py build/release/strata
"""
import hashlib
import os
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "kafka"))
import brokerctl  # noqa: E402

CORPUS = os.path.join(HERE, "corpus", "kafka_request")
MAX_FRAME = 4096


class Recorder:
    def __init__(self):
        self.client = "unknown"
        self.saved = 0
        self.lock = threading.Lock()

    def frame(self, data):
        if len(data) < 4 or len(data) > MAX_FRAME:
            return
        api = int.from_bytes(data[0:2], "big")
        version = int.from_bytes(data[2:4], "big")
        digest = hashlib.sha1(data).hexdigest()[:10]
        name = "real-%s-%d-v%d-%s" % (self.client, api, version, digest)
        with self.lock:
            path = os.path.join(CORPUS, name)
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(data)
                self.saved += 1


def pump_requests(src, dst, rec):
    buf = b""
    while True:
        chunk = src.recv(65536)
        if not chunk:
            break
        dst.sendall(chunk)
        buf += chunk
        while len(buf) >= 4:
            size = int.from_bytes(buf[:4], "big", signed=True)
            if size < 0 or len(buf) < 4 + size:
                break
            rec.frame(buf[4:4 + size])
            buf = buf[4 + size:]
    dst.shutdown(socket.SHUT_WR)


def pump(src, dst):
    try:
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            dst.sendall(chunk)
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def proxy(listener, upstream_port, rec):
    while True:
        try:
            c, _ = listener.accept()
        except OSError:
            return
        u = socket.create_connection(("127.0.0.1", upstream_port))
        threading.Thread(target=pump_requests, args=(c, u, rec), daemon=True).start()
        threading.Thread(target=pump, args=(u, c), daemon=True).start()


def run(cmd, **kw):
    subprocess.run(cmd, check=True, timeout=120, **kw)


def clients(bootstrap, rec):
    rec.client = "kcat"
    for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
        run(["kcat", "-b", bootstrap, "-t", "cap-" + codec, "-P", "-z", codec, "-X", "acks=all",
             "-K", ":"], input=b"k1:v1\nk2:v2\n:v3\n")
    run(["kcat", "-b", bootstrap, "-t", "cap-gzip", "-C", "-e", "-o", "beginning"],
        stdout=subprocess.DEVNULL)
    run(["kcat", "-b", bootstrap, "-L"], stdout=subprocess.DEVNULL)
    run(["kcat", "-b", bootstrap, "-G", "capgroup", "cap-none", "-e"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)

    rec.client = "librdkafka"
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic("cap-admin", 2, 1)]).values():
        f.result()
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                  "compression.type": "lz4"})
    for i in range(20):
        p.produce("cap-admin", key=b"k%d" % i, value=b"v%d" % i, headers=[("h", b"x")])
    p.flush(30)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "cap-rd",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(["cap-admin"])
    got = 0
    while got < 20:
        m = c.poll(5)
        if m is not None and not m.error():
            got += 1
    c.commit(asynchronous=False)
    c.close()
    for f in admin.delete_topics(["cap-admin"]).values():
        f.result()

    rec.client = "kafkapython"
    import kafka
    kp = kafka.KafkaProducer(bootstrap_servers=bootstrap, compression_type="gzip")
    kp.send("cap-kp", key=b"a", value=b"b").get(timeout=30)
    kp.close()
    kc = kafka.KafkaConsumer("cap-kp", bootstrap_servers=bootstrap, group_id="cap-kp",
                             auto_offset_reset="earliest", consumer_timeout_ms=5000)
    for _ in kc:
        break
    kc.commit()
    kc.close()

    rec.client = "kafkajs"
    js = os.path.join(HERE, "..", "integration", "kafka", "kafkajs")
    script = """
const { Kafka } = require('kafkajs');
(async () => {
  const k = new Kafka({ brokers: [process.argv[1]], logLevel: 0 });
  const a = k.admin(); await a.connect();
  await a.createTopics({ topics: [{ topic: 'cap-js' }] }); await a.listTopics(); await a.disconnect();
  const p = k.producer({ idempotent: true }); await p.connect();
  await p.send({ topic: 'cap-js', messages: [{ key: 'k', value: 'v' }] }); await p.disconnect();
  const c = k.consumer({ groupId: 'cap-js' }); await c.connect();
  await c.subscribe({ topic: 'cap-js', fromBeginning: true });
  await new Promise(resolve => c.run({ eachMessage: async () => resolve() }));
  await c.disconnect();
})().catch(e => { console.error(e); process.exit(1); });
"""
    run(["node", "-e", script, bootstrap], cwd=js)


def main():
    strata = sys.argv[1]
    rec = Recorder()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    # The broker advertises the proxy, so clients' later connections also
    # pass through it.
    with brokerctl.Broker(strata, extra_args=["--advertise", "127.0.0.1:%d" % port]) as broker:
        threading.Thread(target=proxy, args=(listener, broker.port, rec), daemon=True).start()
        clients("127.0.0.1:%d" % port, rec)
        listener.close()
    print("captured %d new request frames into %s" % (rec.saved, CORPUS))


if __name__ == "__main__":
    main()
