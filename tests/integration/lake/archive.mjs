// Events for the archive sink's integration tests (archive.sh,
// archive_crash.sh), and the check of the lake they produce, with DuckDB.
//
//   node archive.mjs gen DIR EVENTS PARTITIONS CYCLES SEED
//       writes DIR/c<cycle>/p<partition>.<seq>.<k|n>.ndjson: the lines to
//       produce, per cycle and partition in offset order, `k` files with
//       `strata produce --key-field id` (key = the id), `n` files without a
//       key; and DIR/expected.ndjson, one line per valid record with its
//       partition, offset, key and values. Event times span about five
//       hours, with out-of-order and very late events and invalid records.
//   node archive.mjs check NODE_DIR DIR LAKE TOPIC MODE OOO_MS FROM_MS TO_MS
//       reads LAKE/TOPIC/**/*.parquet with DuckDB (hive_partitioning) and
//       checks: every valid record exactly once with every value, no other
//       row; each file named after its partition and first offset; date
//       and hour from the event time (MODE event_time) or the record
//       timestamp (MODE arrival), which lies in [FROM_MS, TO_MS]; and a
//       _SUCCESS file in exactly the hour folders whose end the lowest
//       partition watermark (max time - OOO_MS) has reached. Exits 1 on any
//       difference.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { rng } from '../../node/tick_rng.mjs';

const BASE_MS = Date.UTC(2026, 2, 1, 8, 0, 0);
const SPAN_MS = 5 * 3600 * 1000;
const HOUR_US = 3600n * 1000000n;

// ISO 8601 with microseconds: us is a BigInt of microseconds.
function isoUs(us) {
    const ms = Number(us / 1000n);
    const frac = String(us % 1000000n).padStart(6, '0');
    return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

const NOTES = ['plain', 'with "quotes"', 'tab\there', 'ünïcødé ✓', 'line\nbreak', '', 'back\\slash'];

function invalidLine(r, id, us) {
    switch (Math.floor(r() * 4)) {
    case 0: return `{"id":"${id}","seq":1,`; // truncated JSON
    case 1: return JSON.stringify({ id, seq: 'x', ts: isoUs(us) }); // wrong type
    case 2: return JSON.stringify({ id, seq: 1 }); // no ts (required)
    default: return JSON.stringify({ id, seq: 1, ts: 'soon' }); // bad timestamp
    }
}

function event(r, i, us) {
    const e = { id: `e${i}`, seq: i * 7919 - 1000, ts: isoUs(us) };
    if (r() < 0.9) e.price = Math.round((r() - 0.3) * 1e7) / 1000;
    if (r() < 0.8) e.flag = r() < 0.5;
    const u = r();
    if (u < 0.7) e.note = NOTES[Math.floor(r() * NOTES.length)];
    else if (u < 0.8) e.note = null;
    if (r() < 0.6) e.meta = { n: i, tags: { a: r() < 0.5, s: 'x y' } };
    if (r() < 0.5) e.tags = [i % 5, 'two', null, [3.5]];
    return e;
}

function gen(dir, events, partitions, cycles, seed) {
    const r = rng(seed);
    const lines = Array.from({ length: partitions }, () => []); // {line, keyed}
    const expected = [];
    let clock = BASE_MS * 1000;
    const step = Math.floor((SPAN_MS * 1000) / events);
    for (let i = 0; i < events; i++) {
        clock += Math.floor(r() * 2 * step);
        const p = Math.floor(r() * partitions);
        let us = clock;
        const u = r();
        if (u < 0.06) us -= Math.floor(r() * 90e6); // out of order, up to 90 s
        else if (u < 0.07) us -= 3600e6 + Math.floor(r() * 3600e6); // very late
        // Keyed blocks of 200 records per partition alternate with unkeyed ones.
        const keyed = Math.floor(lines[p].length / 200) % 2 === 0;
        if (!keyed && r() < 0.02) {
            lines[p].push({ line: invalidLine(r, `e${i}`, BigInt(us)), keyed });
            continue;
        }
        const e = event(r, i, BigInt(us));
        const offset = lines[p].length;
        lines[p].push({ line: JSON.stringify(e), keyed });
        expected.push({
            id: e.id, seq: e.seq, price: e.price ?? null, flag: e.flag ?? null,
            note: e.note ?? null, ts_us: String(us),
            meta: e.meta === undefined ? null : JSON.stringify(e.meta),
            tags: e.tags === undefined ? null : JSON.stringify(e.tags),
            key: keyed ? e.id : null, partition: p, offset,
        });
    }
    fs.rmSync(dir, { recursive: true, force: true });
    for (let c = 0; c < cycles; c++) fs.mkdirSync(path.join(dir, `c${String(c).padStart(3, '0')}`), { recursive: true });
    for (let p = 0; p < partitions; p++) {
        const per = Math.ceil(lines[p].length / cycles);
        let seq = 0;
        for (let c = 0; c < cycles; c++) {
            const part = lines[p].slice(c * per, (c + 1) * per);
            for (let j = 0; j < part.length;) {
                let k = j;
                while (k < part.length && part[k].keyed === part[j].keyed) k++;
                const name = `p${p}.${String(seq++).padStart(5, '0')}.${part[j].keyed ? 'k' : 'n'}.ndjson`;
                const file = path.join(dir, `c${String(c).padStart(3, '0')}`, name);
                fs.writeFileSync(file, part.slice(j, k).map((x) => x.line + '\n').join(''));
                j = k;
            }
        }
    }
    fs.writeFileSync(path.join(dir, 'expected.ndjson'), expected.map((e) => JSON.stringify(e) + '\n').join(''));
    console.log(`${expected.length} valid of ${lines.reduce((n, l) => n + l.length, 0)} records`);
}

async function importTool(nodeDir, name) {
    const req = createRequire(path.join(nodeDir, 'package.json'));
    return import(pathToFileURL(req.resolve(name)).href);
}

let failures = 0;
function check(ok, what) {
    if (!ok) {
        failures++;
        if (failures <= 30) console.log(`FAIL: ${what}`);
    }
    return ok;
}

// Every hour folder (date=.../hour=...) under the topic's folder.
function hourDirs(topicDir) {
    const out = [];
    for (const d of fs.readdirSync(topicDir)) {
        if (!d.startsWith('date=')) continue;
        for (const h of fs.readdirSync(path.join(topicDir, d))) {
            const m = /^hour=(\d\d)$/.exec(h);
            check(m !== null, `odd folder ${d}/${h}`);
            if (m) out.push({ dir: path.join(topicDir, d, h), start: Date.parse(`${d.slice(5)}T${m[1]}:00:00Z`) });
        }
    }
    return out;
}

async function checkLake(nodeDir, dir, lake, topic, mode, oooMs, fromMs, toMs) {
    const { DuckDBInstance } = await importTool(nodeDir, '@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:', { threads: '2' });
    const conn = await db.connect();
    await conn.run("SET TimeZone = 'UTC'");
    const all = async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJson();
    const one = async (sql) => Object.values((await all(sql))[0])[0];
    const lit = (s) => `'${s.replaceAll("'", "''")}'`;
    const topicDir = path.join(lake, topic);
    await conn.run(`CREATE TABLE lake AS SELECT * FROM read_parquet(${lit(topicDir + '/**/*.parquet')},
        hive_partitioning = true, filename = true)`);
    await conn.run(`CREATE TABLE want AS SELECT * FROM read_json(${lit(path.join(dir, 'expected.ndjson'))},
        format = 'newline_delimited', columns = {id: 'VARCHAR', seq: 'BIGINT', price: 'DOUBLE',
        flag: 'BOOLEAN', note: 'VARCHAR', ts_us: 'BIGINT', meta: 'VARCHAR', tags: 'VARCHAR',
        key: 'VARCHAR', partition: 'BIGINT', "offset": 'BIGINT'})`);
    const cols = 'id, seq, price, flag, note, ts_us, meta, tags, key, part, off';
    const got = `SELECT id, seq, price, flag, note, epoch_us(ts) AS ts_us, meta, tags, _key AS key,
        _partition AS part, _offset AS off FROM lake`;
    const exp = `SELECT id, seq, price, flag, note, ts_us, meta, tags, key, partition AS part,
        "offset" AS off FROM want`;
    const n = Number(await one('SELECT count(*) FROM want'));
    check(n > 0, 'expected rows');
    check(Number(await one('SELECT count(*) FROM lake')) === n, `rows: ${await one('SELECT count(*) FROM lake')}, want ${n}`);
    check(Number(await one('SELECT count(DISTINCT (_partition, _offset)) FROM lake')) === n, 'distinct (partition, offset)');
    for (const [a, b, what] of [[got, exp, 'in the lake, not expected'], [exp, got, 'expected, not in the lake']]) {
        const diff = await all(`SELECT ${cols} FROM ((${a}) EXCEPT ALL (${b})) ORDER BY part, off LIMIT 5`);
        for (const row of diff) check(false, `${what}: ${JSON.stringify(row)}`);
    }
    // Files: named <topic>+<partition>+<first offset>.parquet, one partition each.
    const files = await all(`SELECT filename, min(_partition) AS p, max(_partition) AS p2,
        min(_offset) AS first, count(*) AS n FROM lake GROUP BY filename`);
    for (const f of files) {
        check(f.p === f.p2, `${f.filename}: several partitions`);
        check(path.basename(f.filename) === `${topic}+${f.p}+${f.first}.parquet`, `${f.filename}: name, first offset ${f.first}`);
    }
    const onDisk = hourDirs(topicDir).reduce((k, h) =>
        k + fs.readdirSync(h.dir).filter((f) => f.endsWith('.parquet')).length, 0);
    check(files.length === onDisk, `${onDisk} files on disk, ${files.length} with rows`);
    // Folders: from the event time or the record timestamp.
    const t = mode === 'arrival' ? '_timestamp' : 'ts';
    const wrong = await one(`SELECT count(*) FROM lake WHERE date <> CAST(${t} AS DATE)
        OR hour <> hour(${t})`);
    check(Number(wrong) === 0, `${wrong} rows in the wrong date/hour folder`);
    const out = await one(`SELECT count(*) FROM lake WHERE epoch_ms(_timestamp) < ${fromMs}
        OR epoch_ms(_timestamp) > ${toMs}`);
    check(Number(out) === 0, `${out} record timestamps outside the run`);
    // _SUCCESS: the folders whose end the lowest partition watermark reached.
    const low = BigInt(await one(`SELECT min(m) FROM (SELECT max(epoch_us(${t})) AS m FROM lake
        GROUP BY _partition)`)) - BigInt(oooMs) * 1000n;
    const parts = Number(await one('SELECT count(DISTINCT _partition) FROM lake'));
    let marked = 0;
    for (const h of hourDirs(topicDir)) {
        const end = BigInt(h.start) * 1000n + HOUR_US;
        const want = parts > 0 && end <= low;
        const has = fs.existsSync(path.join(h.dir, '_SUCCESS'));
        if (has) marked++;
        check(has === want, `${h.dir}: _SUCCESS ${has ? 'present' : 'missing'}`);
        check(fs.readdirSync(h.dir).every((f) => f.endsWith('.parquet') || f === '_SUCCESS'), `${h.dir}: stray files`);
    }
    console.log(`archive check: ${n} rows in ${files.length} files, ${marked} hours marked, ${failures} failures`);
    process.exit(failures === 0 ? 0 : 1);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'gen') {
    gen(args[0], Number(args[1]), Number(args[2]), Number(args[3]), Number(args[4]));
} else if (cmd === 'check') {
    await checkLake(args[0], args[1], args[2], args[3], args[4], Number(args[5]), Number(args[6]), Number(args[7]));
} else {
    console.error('usage: archive.mjs gen|check ...');
    process.exit(2);
}
