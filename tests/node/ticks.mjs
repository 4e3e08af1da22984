// Deterministic stock-tick datasets for the stream tests, and the oracle
// that recomputes the expected view rows with DuckDB from the same events.
//
//   node ticks.mjs gen DIR EVENTS PARTITIONS SEED [BASE_MS]
//       writes DIR/p<N>.ndjson (one file per partition, in offset order);
//       event times start at BASE_MS (default 2026-11-22T10:00:00Z)
//   node ticks.mjs expect DIR PARTITIONS OUT.json
//       computes, with DuckDB, every view row and dlq count that the
//       pipelines of tests/integration/stream/ticks.yaml must produce
//   node ticks.mjs expect-all DIR PARTITIONS OUT.json
//       the same views over ALL valid events, late ones included, every
//       window final and served by the batch layer: what the views must
//       show once recompute jobs have covered every window (the Lambda
//       merge, tests/integration/batch/lambda.sh)
//   node ticks.mjs diff A.json B.json
//       prints, per view, how many rows differ in value between two
//       expectations (as JSON)
//   node ticks.mjs check OUT.json STRATA STORE_URL
//       compares `strata views query` for every view with OUT.json (and each
//       row's layer, where OUT.json gives one); exits 1 on any mismatch
//
// The generator mixes in out-of-order events, very late events, invalid
// records (bad JSON, wrong types, missing fields, failed checks and rules)
// and quiet periods per symbol (so session windows split).
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { DuckDBInstance } from '@duckdb/node-api';

import { SYMBOLS, rng } from './tick_rng.mjs';

const BASE_MS = Date.UTC(2026, 10, 22, 10, 0, 0);

function iso(ms) {
    return new Date(ms).toISOString();
}

function invalid(r, sym, ts) {
    switch (Math.floor(r() * 6)) {
    case 0: return `{"symbol":"${sym}","price":12.5,"volume":`; // truncated JSON
    case 1: return JSON.stringify({ symbol: sym, price: 'abc', volume: 1, ts: iso(ts) });
    case 2: return JSON.stringify({ price: 10, volume: 1, ts: iso(ts) }); // no symbol
    case 3: return JSON.stringify({ symbol: sym, price: 10, volume: -5, ts: iso(ts) });
    case 4: return JSON.stringify({ symbol: sym, price: 10, volume: 1, bid: 11, ask: 10, ts: iso(ts) });
    default: return JSON.stringify({ symbol: sym, price: 10, volume: 1, ts: 'yesterday' });
    }
}

function gen(dir, events, partitions, seed, base = BASE_MS) {
    const r = rng(seed);
    const files = Array.from({ length: partitions }, () => []);
    const price = Object.fromEntries(SYMBOLS.map((s, i) => [s, 100 + 10 * i]));
    let clock = base;
    for (let i = 0; i < events; i++) {
        clock += Math.floor(r() * 40);
        const sym = SYMBOLS[Math.floor(r() * SYMBOLS.length)];
        const si = SYMBOLS.indexOf(sym);
        // Quiet periods: symbol si is silent in one minute out of five.
        if (Math.floor((clock - base) / 60000) % 5 === si % 5) continue;
        const p = si % partitions;
        let ts = clock;
        const u = r();
        if (u < 0.05) ts -= Math.floor(r() * 8000); // out of order, mostly on time
        else if (u < 0.06) ts -= 60000 + Math.floor(r() * 60000); // very late
        if (r() < 0.01) {
            files[p].push(invalid(r, sym, ts));
            continue;
        }
        price[sym] = Math.max(1, price[sym] * (1 + (r() - 0.5) * 0.002));
        const px = Math.round(price[sym] * 100) / 100;
        const rec = { symbol: sym, price: px, volume: 1 + Math.floor(r() * 500), ts: iso(ts) };
        if (r() < 0.5) {
            rec.bid = Math.round((px - 0.01) * 100) / 100;
            rec.ask = Math.round((px + 0.01) * 100) / 100;
        }
        files[p].push(JSON.stringify(rec));
    }
    fs.mkdirSync(dir, { recursive: true });
    files.forEach((lines, p) => fs.writeFileSync(path.join(dir, `p${p}.ndjson`), lines.join('\n') + '\n'));
}

// Parses the dataset the way the pipelines must: which records are valid.
function load(dir, partitions) {
    const rows = [];
    let invalidCount = 0;
    for (let p = 0; p < partitions; p++) {
        const lines = fs.readFileSync(path.join(dir, `p${p}.ndjson`), 'utf8').split('\n');
        lines.pop();
        lines.forEach((line, offset) => {
            let v;
            try { v = JSON.parse(line); } catch { invalidCount++; return; }
            const ok = typeof v.symbol === 'string' && typeof v.price === 'number' && v.price >= 0 &&
                Number.isInteger(v.volume) && v.volume >= 0 && typeof v.ts === 'string' &&
                !Number.isNaN(Date.parse(v.ts)) && !(v.bid != null && v.ask != null && v.bid > v.ask);
            if (!ok) { invalidCount++; return; }
            rows.push({ p, o: offset, symbol: v.symbol, price: v.price, volume: v.volume,
                        ts: BigInt(Date.parse(v.ts)) * 1000n });
        });
    }
    return { rows, invalidCount };
}

const SIZE = 60_000_000n, OOO = 5_000_000n, LATE = 10_000_000n;    // ohlc: tumbling 1m
const HSIZE = 10_000_000n, HSLIDE = 2_000_000n, HOOO = 2_000_000n; // counts: hopping 10s/2s
const GAP = 20_000_000n;                                           // sessions

// A DuckDB connection holding the valid events as table ev.
async function events(rows) {
    const db = await DuckDBInstance.create(':memory:', { threads: '1' });
    const c = await db.connect();
    await c.run('CREATE TABLE ev (p INTEGER, o BIGINT, symbol VARCHAR, price DOUBLE, volume BIGINT, ts BIGINT)');
    const app = await c.createAppender('ev');
    for (const r of rows) {
        app.appendInteger(r.p); app.appendBigInt(BigInt(r.o)); app.appendVarchar(r.symbol);
        app.appendDouble(r.price); app.appendBigInt(BigInt(r.volume)); app.appendBigInt(r.ts);
        app.endRow();
    }
    app.closeSync();
    return c;
}

// Sessions over every event of a symbol, whatever its partition: a
// session ends where the next event is GAP or more after the previous one.
function sessionsSql(final) {
    return `WITH s AS (SELECT *, CASE WHEN ts - lag(ts) OVER w < ${GAP} THEN 0 ELSE 1 END AS brk
          FROM ev WINDOW w AS (PARTITION BY symbol ORDER BY ts, p, o)),
        g AS (SELECT *, sum(brk) OVER (PARTITION BY symbol ORDER BY ts, p, o) AS sid FROM s)
        SELECT symbol AS key, min(ts) AS window_start, max(ts) + ${GAP} AS window_end, count(*) AS n,
        sum(volume) AS total, max(price) AS hi, ${final} AS final FROM g GROUP BY symbol, sid
        ORDER BY key, window_start`;
}

async function expect(dir, partitions, out) {
    const { rows, invalidCount } = load(dir, partitions);
    const c = await events(rows);
    // The watermark each event meets: the largest earlier event time of its
    // partition minus the out-of-orderness (NULL before the first event).
    // A window's partial is final once its end plus the lateness is at or
    // below the partition's last watermark.
    await c.run(`CREATE TABLE evw AS SELECT *, max(ts) OVER (PARTITION BY p ORDER BY o
        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_max,
        max(ts) OVER (PARTITION BY p) AS pmax FROM ev`);
    const q = async (sql) => (await c.runAndReadAll(sql)).getRowObjectsJson();
    const open = (size, ooo, late) => `(prev_max IS NULL OR wstart + ${size} + ${late} > prev_max - ${ooo})`;
    const fin = (size, ooo, late) => `bool_and(wstart + ${size} + ${late} <= pmax - ${ooo})`;
    // ohlc: tumbling; late events are excluded.
    await c.run(`CREATE TABLE ohlc_in AS SELECT *, (ts // ${SIZE}) * ${SIZE} AS wstart FROM evw`);
    const ohlc = await q(`SELECT symbol AS key, wstart AS window_start, wstart + ${SIZE} AS window_end,
        arg_min(price, (ts, p, o)) AS open, max(price) AS high, min(price) AS low,
        arg_max(price, (ts, p, o)) AS close, sum(volume) AS volume, avg(price) AS avg_price,
        count(*) AS trades, stddev_samp(price) AS price_stddev, ${fin(SIZE, OOO, LATE)} AS final
        FROM ohlc_in WHERE ${open(SIZE, OOO, LATE)}
        GROUP BY symbol, wstart ORDER BY key, window_start`);
    const ohlcLate = await q(`SELECT count(*) AS n FROM ohlc_in WHERE NOT ${open(SIZE, OOO, LATE)}`);
    // counts: hopping; an event counts in each of its windows still open.
    const k = Number(HSIZE / HSLIDE);
    await c.run(`CREATE TABLE hop_in AS SELECT e.*, (e.ts // ${HSLIDE}) * ${HSLIDE} - i * ${HSLIDE} AS wstart
        FROM evw e, range(${k}) t(i)`);
    const counts = await q(`SELECT symbol AS key, wstart AS window_start, wstart + ${HSIZE} AS window_end,
        count(*) AS trades, sum(volume) AS volume, ${fin(HSIZE, HOOO, 0)} AS final FROM hop_in
        WHERE ${open(HSIZE, HOOO, 0)} GROUP BY symbol, wstart ORDER BY key, window_start`);
    const hopLate = await q(`SELECT count(*) AS n FROM (SELECT p, o FROM hop_in GROUP BY p, o
        HAVING NOT bool_or(${open(HSIZE, HOOO, 0)}))`);
    // sessions: nothing is late and nothing final (lateness of a day); a
    // key's session ends where its next event is GAP or more after the
    // previous one.
    const sessions = await q(sessionsSql(false));
    const result = {
        valid: rows.length, invalid: invalidCount,
        views: { ticks_ohlc: ohlc, ticks_counts: counts, ticks_sessions: sessions },
        late: { ohlc: Number(ohlcLate[0].n), counts: Number(hopLate[0].n), sessions: 0 },
    };
    fs.writeFileSync(out, JSON.stringify(result));
}

// Every view over all valid events, late ones included: each window final
// and served by the batch layer.
async function expectAll(dir, partitions, out) {
    const { rows, invalidCount } = load(dir, partitions);
    const c = await events(rows);
    const q = async (sql) => (await c.runAndReadAll(sql)).getRowObjectsJson();
    const ohlc = await q(`SELECT symbol AS key, (ts // ${SIZE}) * ${SIZE} AS window_start,
        (ts // ${SIZE}) * ${SIZE} + ${SIZE} AS window_end,
        arg_min(price, (ts, p, o)) AS open, max(price) AS high, min(price) AS low,
        arg_max(price, (ts, p, o)) AS close, sum(volume) AS volume, avg(price) AS avg_price,
        count(*) AS trades, stddev_samp(price) AS price_stddev, true AS final
        FROM ev GROUP BY ALL ORDER BY key, window_start`);
    const k = Number(HSIZE / HSLIDE);
    const counts = await q(`SELECT symbol AS key, (ts // ${HSLIDE}) * ${HSLIDE} - i * ${HSLIDE} AS window_start,
        (ts // ${HSLIDE}) * ${HSLIDE} - i * ${HSLIDE} + ${HSIZE} AS window_end,
        count(*) AS trades, sum(volume) AS volume, true AS final FROM ev, range(${k}) t(i)
        GROUP BY ALL ORDER BY key, window_start`);
    const sessions = await q(sessionsSql(true));
    const views = { ticks_ohlc: ohlc, ticks_counts: counts, ticks_sessions: sessions };
    for (const v of Object.values(views)) for (const r of v) r.layer = 'batch';
    const times = await q('SELECT min(ts) AS lo, max(ts) AS hi FROM ev');
    const result = { valid: rows.length, invalid: invalidCount, views,
                     first_us: times[0].lo, last_us: times[0].hi };
    fs.writeFileSync(out, JSON.stringify(result));
}

// Compares strata's view rows with the expected ones: same set of (key,
// window) rows, equal counts, sums and first/last values, floats within a
// relative 1e-9 (sums in another order round differently), equal `final`.
function close(a, b) {
    if (a === null || b === null) return a === b;
    const x = Number(a), y = Number(b);
    return x === y || Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
}

function check(expFile, strata, store) {
    const exp = JSON.parse(fs.readFileSync(expFile, 'utf8'));
    let bad = 0;
    for (const [view, rows] of Object.entries(exp.views)) {
        const out = execFileSync(strata, ['views', 'query', view, '--all', '--format', 'json', '--store', store],
                                 { encoding: 'utf8', maxBuffer: 1 << 28 });
        const got = new Map(JSON.parse(out).map((r) => [`${r.key}|${Date.parse(r.window_start) * 1000}`, r]));
        let mism = 0;
        const seen = new Set();
        for (const e of rows) {
            // window_start from strata is ISO with microseconds; compare in us.
            const id = `${e.key}|${Number(BigInt(e.window_start) / 1000n) * 1000}`;
            const g = got.get(id);
            seen.add(id);
            const fields = Object.keys(e).filter((f) => !['key', 'window_start', 'window_end', 'final', 'layer'].includes(f));
            const why = !g ? 'missing'
                : g.final !== e.final ? `final ${g.final} != ${e.final}`
                : e.layer !== undefined && g.layer !== e.layer ? `layer ${g.layer} != ${e.layer}`
                : Date.parse(g.window_end) * 1000 !== Number(BigInt(e.window_end) / 1000n) * 1000
                    ? `window_end ${g.window_end} != ${e.window_end}`
                : fields.filter((f) => !close(g[f], e[f])).map((f) => `${f} ${g[f]} != ${e[f]}`).join(', ');
            if (why) {
                if (mism++ < 5) console.error(`${view} ${e.key} ${e.window_start}: ${why}`);
            }
        }
        for (const id of got.keys()) {
            if (!seen.has(id) && mism++ < 5) console.error(`${view}: unexpected row ${id}`);
        }
        console.log(`${view}: ${rows.length} expected rows, ${got.size} rows, ${mism} mismatches`);
        bad += mism;
    }
    return bad;
}

// Rows of each view that differ in value between two expectations (a
// window missing from one, or another value; `final` and `layer` aside).
function diff(fileA, fileB) {
    const [a, b] = [fileA, fileB].map((f) => JSON.parse(fs.readFileSync(f, 'utf8')).views);
    const out = {};
    for (const view of Object.keys(a)) {
        const id = (r) => `${r.key}|${r.window_start}`;
        const rb = new Map(b[view].map((r) => [id(r), r]));
        let n = 0;
        for (const r of a[view]) {
            const o = rb.get(id(r));
            rb.delete(id(r));
            const fields = Object.keys(r).filter((f) => !['key', 'window_start', 'final', 'layer'].includes(f));
            if (!o || fields.some((f) => !close(r[f], o[f]))) n++;
        }
        out[view] = n + rb.size;
    }
    console.log(JSON.stringify(out));
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'gen') gen(args[0], Number(args[1]), Number(args[2]), Number(args[3]), args[4] ? Number(args[4]) : BASE_MS);
else if (cmd === 'expect') await expect(args[0], Number(args[1]), args[2]);
else if (cmd === 'expect-all') await expectAll(args[0], Number(args[1]), args[2]);
else if (cmd === 'diff') diff(args[0], args[1]);
else if (cmd === 'check') process.exit(check(args[0], args[1], args[2]) === 0 ? 0 : 1);
else { console.error('usage: ticks.mjs gen|expect|expect-all|diff|check ...'); process.exit(2); }
