// Data and checks for lake_recompute.sh (recompute from the lake).
//
//   node lake_recompute.mjs gen DIR EVENTS PARTITIONS SEED BASE_MS SPAN_MS
//       stock ticks in the format of tests/node/ticks.mjs (so its
//       `expect-all` and `check` apply), spread over SPAN_MS from BASE_MS:
//       DIR/p<N>.ndjson (values in offset order) and DIR/p<N>.ts (each
//       record's timestamp in ms: its append time, non-decreasing per
//       partition), with out-of-order, very late and invalid records
//   node lake_recompute.mjs lake NODE_DIR IN_DIR PARTITIONS LAKE_DIR
//       the archive holds every valid record once, over several hours
//   node lake_recompute.mjs lineage IN_DIR PARTITIONS SHOW_JSON [READ_FROM_MS]
//       a completed run read each partition's offsets below its log start
//       from the lake: its lineage names lake files whose SHA-256 match
//       and whose rows add up to the valid records below the log start
//       with a record timestamp at or after READ_FROM_MS, and rows_in =
//       those plus the log's records
// Each check prints ok/FAIL lines and exits 1 on a failure.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

import { SYMBOLS, rng } from '../../node/tick_rng.mjs';

const iso = (ms) => new Date(ms).toISOString();

function invalid(r, sym, ts) {
    switch (Math.floor(r() * 6)) {
    case 0: return `{"symbol":"${sym}","price":12.5,"volume":`;
    case 1: return JSON.stringify({ symbol: sym, price: 'abc', volume: 1, ts: iso(ts) });
    case 2: return JSON.stringify({ price: 10, volume: 1, ts: iso(ts) });
    case 3: return JSON.stringify({ symbol: sym, price: 10, volume: -5, ts: iso(ts) });
    case 4: return JSON.stringify({ symbol: sym, price: 10, volume: 1, bid: 11, ask: 10, ts: iso(ts) });
    default: return JSON.stringify({ symbol: sym, price: 10, volume: 1, ts: 'yesterday' });
    }
}

// The schema's checks of tests/integration/stream/ticks.yaml.
function valid(line) {
    let v;
    try { v = JSON.parse(line); } catch { return false; }
    return typeof v.symbol === 'string' && typeof v.price === 'number' && v.price >= 0 &&
        Number.isInteger(v.volume) && v.volume >= 0 && typeof v.ts === 'string' &&
        !Number.isNaN(Date.parse(v.ts)) && !(v.bid != null && v.ask != null && v.bid > v.ask);
}

function gen(dir, events, partitions, seed, base, span) {
    const r = rng(seed);
    const files = Array.from({ length: partitions }, () => ({ values: [], stamps: [] }));
    const price = Object.fromEntries(SYMBOLS.map((s, i) => [s, 100 + 10 * i]));
    const step = span / events;
    let clock = base;
    for (let i = 0; i < events; i++) {
        clock += Math.floor(r() * 2 * step);
        const sym = SYMBOLS[Math.floor(r() * SYMBOLS.length)];
        const si = SYMBOLS.indexOf(sym);
        if (Math.floor((clock - base) / 60000) % 5 === si % 5) continue; // quiet minutes
        const f = files[si % partitions];
        let ts = clock;
        const u = r();
        if (u < 0.05) ts -= Math.floor(r() * 8000);
        else if (u < 0.06) ts -= 60000 + Math.floor(r() * 60000);
        const last = f.stamps.length ? f.stamps[f.stamps.length - 1] : 0;
        f.stamps.push(Math.max(last, clock + Math.floor(r() * 500)));
        if (r() < 0.01) {
            f.values.push(invalid(r, sym, ts));
            continue;
        }
        price[sym] = Math.max(1, price[sym] * (1 + (r() - 0.5) * 0.002));
        const px = Math.round(price[sym] * 100) / 100;
        const rec = { symbol: sym, price: px, volume: 1 + Math.floor(r() * 500), ts: iso(ts) };
        if (r() < 0.5) {
            rec.bid = Math.round((px - 0.01) * 100) / 100;
            rec.ask = Math.round((px + 0.01) * 100) / 100;
        }
        f.values.push(JSON.stringify(rec));
    }
    fs.mkdirSync(dir, { recursive: true });
    files.forEach((f, p) => {
        fs.writeFileSync(path.join(dir, `p${p}.ndjson`), f.values.join('\n') + '\n');
        fs.writeFileSync(path.join(dir, `p${p}.ts`), f.stamps.join('\n') + '\n');
    });
}

function lines(dir, p) {
    const l = fs.readFileSync(path.join(dir, `p${p}.ndjson`), 'utf8').split('\n');
    l.pop();
    return l;
}

let failures = 0;
function expect(what, got, want) {
    const ok = got === want;
    console.log(`${ok ? 'ok' : 'FAIL'}: ${what}: ${got}${ok ? '' : `, want ${want}`}`);
    if (!ok) failures++;
}

async function lake(nodeDir, dir, partitions, lakeDir) {
    const req = createRequire(path.join(nodeDir, 'package.json'));
    const { DuckDBInstance } = await import(pathToFileURL(req.resolve('@duckdb/node-api')).href);
    const db = await DuckDBInstance.create(':memory:', { threads: '1' });
    const c = await db.connect();
    const glob = `${lakeDir}/ticks/*/*/*.parquet`;
    const q = async (sql) => (await c.runAndReadAll(sql)).getRowObjectsJson()[0];
    const r = await q(`SELECT count(*) AS n, count(DISTINCT (_partition, _offset)) AS d,
        count(DISTINCT hour) AS hours, count(DISTINCT filename) AS files
        FROM read_parquet('${glob}', hive_partitioning = true, filename = true)`);
    let want = 0;
    for (let p = 0; p < partitions; p++) want += lines(dir, p).filter(valid).length;
    expect('lake rows', Number(r.n), want);
    expect('distinct offsets in the lake', Number(r.d), want);
    console.log(`lake: ${r.files} files over ${r.hours} hours`);
    if (Number(r.hours) < 4) { console.log('FAIL: the lake spans fewer than 4 hours'); failures++; }
}

function stamps(dir, p) {
    return fs.readFileSync(path.join(dir, `p${p}.ts`), 'utf8').split('\n').filter((x) => x !== '').map(Number);
}

function lineage(dir, partitions, showFile, readFrom) {
    const run = JSON.parse(fs.readFileSync(showFile, 'utf8'));
    const inputs = run.lineage.inputs;
    const ranges = inputs.filter((x) => x.topic === 'ticks');
    const files = inputs.filter((x) => x.file !== undefined);
    expect('run state', run.state, 'completed');
    expect('offset ranges', ranges.length, partitions);
    let belowValid = 0, fromLog = 0;
    for (const g of ranges) {
        const l = lines(dir, g.partition);
        expect(`partition ${g.partition} read from the log up to its end`, g.to, l.length);
        if (!(g.from > 0)) { console.log(`FAIL: partition ${g.partition}: the log starts at 0`); failures++; }
        const ts = stamps(dir, g.partition);
        belowValid += l.slice(0, g.from).filter((x, i) => ts[i] >= readFrom && valid(x)).length;
        fromLog += g.to - g.from;
    }
    let fileRows = 0, shaBad = 0;
    for (const f of files) {
        fileRows += f.rows;
        const sha = crypto.createHash('sha256').update(fs.readFileSync(f.file)).digest('hex');
        if (sha !== f.sha256) shaBad++;
    }
    console.log(`lineage: ${files.length} lake files, ${fileRows} rows from the lake, ${fromLog} from the log`);
    if (files.length === 0) { console.log('FAIL: no lake file in the lineage'); failures++; }
    expect('lake files whose sha256 differs', shaBad, 0);
    expect('rows read from the lake', fileRows, belowValid);
    expect('rows_in', run.rows_in, belowValid + fromLog);
}

const [cmd, ...a] = process.argv.slice(2);
if (cmd === 'gen') gen(a[0], Number(a[1]), Number(a[2]), Number(a[3]), Number(a[4]), Number(a[5]));
else if (cmd === 'lake') await lake(a[0], a[1], Number(a[2]), a[3]);
else if (cmd === 'lineage') lineage(a[0], Number(a[1]), a[2], a[3] !== undefined ? Number(a[3]) : -Infinity);
else { console.error('usage: lake_recompute.mjs gen|lake|lineage ...'); process.exit(2); }
process.exit(failures === 0 ? 0 : 1);
