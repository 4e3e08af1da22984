'use strict';
// kafkajs 2.2.4 against strata's broker.
// Run: STRATA_BIN=/path/to/strata node --test kafkajs.test.js
// (CTest does this; `npm ci` in this folder installs kafkajs first.)
//
// - admin: createTopics (3 partitions, and one with the default count, which
//   kafkajs sends as -1), listTopics, fetchTopicMetadata, a second create of
//   an existing topic, deleteTopics.
// - producer (idempotent, acks -1, none and gzip) and a consumer group: every
//   record is consumed once, byte-identical with key and headers, offsets
//   dense; the group's committed offsets equal the high watermarks; a second
//   consumer of the group resumes there and sees only new records.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Broker } = require('./broker.js');

let kafkajs;
try {
  kafkajs = require('kafkajs');
} catch (e) {
  throw new Error('kafkajs is not installed: run `npm ci` in tests/integration/kafka/kafkajs ' +
                  `(scripts/setup.sh does): ${e.message}`);
}
const { Kafka, logLevel, CompressionTypes, Partitioners } = kafkajs;

const SETTLE_MS = 120000; // liveness bound for waits
let broker;

before(async () => {
  broker = await new Broker(process.env.STRATA_BIN).start();
});

after(async () => {
  if (!broker) return;
  try {
    await broker.stop();
  } finally {
    await broker.close();
  }
});

function client(id) {
  return new Kafka({ clientId: id, brokers: [broker.bootstrap], logLevel: logLevel.WARN });
}

// Runs fn; on failure appends the broker's stderr to the error.
async function withLogs(fn) {
  try {
    await fn();
  } catch (e) {
    e.message += `\n${broker ? broker.logs() : ''}`;
    throw e;
  }
}

function record(i) {
  const value = Buffer.alloc(20 + (i % 300));
  value.write(`kafkajs ${String(i).padStart(6, '0')} `);
  for (let j = 15; j < value.length; j++) value[j] = (i * 13 + j) & 0xff;
  return { key: `key-${i}`, value, partition: i % 3, headers: { src: 'kafkajs', n: String(i) } };
}

// Consumes until `want` messages arrived (or the liveness bound passes).
async function consumeN(consumer, want, what) {
  const got = [];
  let done;
  const reached = new Promise((resolve) => {
    done = resolve;
  });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      got.push({ partition, offset: Number(message.offset), key: message.key.toString(),
                 value: message.value, headers: message.headers });
      if (got.length >= want) done();
    },
  });
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, SETTLE_MS);
  });
  await Promise.race([reached, timeout]);
  clearTimeout(timer);
  assert.ok(got.length >= want, `${what}: consumed ${got.length} of ${want} messages`);
  return got;
}

test('admin createTopics, listTopics, deleteTopics', { timeout: 180000 },
     () => withLogs(async () => {
  const admin = client('kjs-admin').admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({
      topics: [{ topic: 'kjs-admin', numPartitions: 3 }], waitForLeaders: true });
    assert.equal(created, true, 'createTopics kjs-admin');
    assert.equal(await admin.createTopics({ topics: [{ topic: 'kjs-default' }] }), true,
                 'createTopics with the default partition count (-1)');
    const topics = await admin.listTopics();
    assert.ok(topics.includes('kjs-admin') && topics.includes('kjs-default'),
              `listTopics: ${JSON.stringify(topics)}`);
    const md = await admin.fetchTopicMetadata({ topics: ['kjs-admin', 'kjs-default'] });
    const count = Object.fromEntries(md.topics.map((t) => [t.name, t.partitions.length]));
    assert.deepEqual(count, { 'kjs-admin': 3, 'kjs-default': 1 }, 'partition counts');
    for (const t of md.topics) {
      for (const p of t.partitions) assert.equal(p.leader, 0, `${t.name}[${p.partitionId}] leader`);
    }
    // An existing topic: kafkajs resolves false on TOPIC_ALREADY_EXISTS.
    assert.equal(await admin.createTopics({ topics: [{ topic: 'kjs-admin', numPartitions: 3 }] }),
                 false, 'createTopics of an existing topic');
    await admin.deleteTopics({ topics: ['kjs-default'] });
    assert.ok(!(await admin.listTopics()).includes('kjs-default'), 'deleted topic still listed');
  } finally {
    await admin.disconnect();
  }
}));

test('produce, consume with a group, commit and resume', { timeout: 300000 },
     () => withLogs(async () => {
  const topic = 'kjs-t';
  const groupId = 'kjs-g';
  const kafka = client('kjs');
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1,
                                    createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const consumers = [];
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });

    const N = 1500;
    const sent = [];
    for (const [start, compression] of [[0, CompressionTypes.None], [500, CompressionTypes.GZIP],
                                        [1000, CompressionTypes.None]]) {
      const messages = [];
      for (let i = start; i < start + 500; i++) messages.push(record(i));
      const res = await producer.send({ topic, acks: -1, compression, messages });
      for (const r of res) assert.equal(r.errorCode, 0, `produce error ${JSON.stringify(r)}`);
      sent.push(...messages);
    }

    const c1 = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000,
                                maxWaitTimeInMs: 100 });
    consumers.push(c1);
    await c1.connect();
    await c1.subscribe({ topics: [topic], fromBeginning: true });
    const got = await consumeN(c1, N, 'first consumer');
    await c1.disconnect();
    assert.equal(got.length, N, `consumed ${got.length} messages, produced ${N}`);

    const byKey = new Map();
    for (const m of got) {
      assert.ok(!byKey.has(m.key), `${m.key} consumed twice`);
      byKey.set(m.key, m);
    }
    const perPartition = [[], [], []];
    for (let i = 0; i < N; i++) {
      const want = sent[i];
      const m = byKey.get(want.key);
      assert.ok(m, `${want.key} was not consumed`);
      assert.equal(m.partition, want.partition, `${want.key} partition`);
      assert.ok(m.value.equals(want.value), `${want.key} value differs`);
      assert.equal(m.headers.src.toString(), 'kafkajs', `${want.key} header src`);
      assert.equal(m.headers.n.toString(), String(i), `${want.key} header n`);
      perPartition[m.partition].push(m.offset);
    }
    for (let p = 0; p < 3; p++) {
      const offs = perPartition[p];
      assert.deepEqual(offs, offs.map((_, i) => i),
                       `partition ${p} offsets dense from 0, in order`);
    }

    // The group committed everything it consumed.
    const highs = Object.fromEntries((await admin.fetchTopicOffsets(topic))
      .map((o) => [o.partition, Number(o.high)]));
    assert.deepEqual(highs, { 0: 500, 1: 500, 2: 500 }, 'high watermarks');
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const offsets = Object.fromEntries(committed[0].partitions.map((p) => [p.partition,
                                                                            Number(p.offset)]));
    assert.deepEqual(offsets, highs, 'committed offsets should equal the high watermarks');

    // A new member of the group resumes at the commits: only new records.
    const more = [];
    for (let i = N; i < N + 30; i++) more.push(record(i));
    await producer.send({ topic, acks: -1, messages: more });
    const c2 = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000,
                                maxWaitTimeInMs: 100 });
    consumers.push(c2);
    await c2.connect();
    await c2.subscribe({ topics: [topic], fromBeginning: true });
    const got2 = await consumeN(c2, 30, 'resumed consumer');
    await c2.disconnect();
    assert.deepEqual(got2.map((m) => m.key).sort(), more.map((m) => m.key).sort(),
                     'the resumed consumer should see exactly the 30 new records');
    for (const m of got2) {
      assert.ok(m.offset >= highs[m.partition],
                `resumed at ${m.offset}, below the commit ${highs[m.partition]}`);
    }
  } finally {
    for (const c of consumers) await c.disconnect().catch(() => {});
    await producer.disconnect();
    await admin.disconnect();
  }
}));
