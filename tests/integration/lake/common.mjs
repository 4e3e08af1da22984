// Shared by the lake round-trip checks (check_duckdb.mjs, check_hyparquet.mjs):
// loading the test tools from tests/node, reading the manifests that
// test_lake_files writes beside each Parquet file, the statistics every row
// group must carry, and failure bookkeeping.
//
// A manifest (DIR/<case>.json) holds: rows, codec, dictionary, the layout
// expectations (row_groups, min_row_groups, min_pages, fallback), the
// key/value metadata, the columns, and every value, column by column
// (int64 and timestamps as decimal strings, doubles as text).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

// The writer leaves string bounds longer than this out of the statistics.
export const STATS_MAX_BYTES = 4096;

// Imports a package installed in tests/node (this folder has none).
export async function importTool(nodeDir, name) {
    const req = createRequire(path.join(nodeDir, 'package.json'));
    return import(pathToFileURL(req.resolve(name)).href);
}

let failures = 0;
let checks = 0;

export function check(ok, what) {
    checks++;
    if (!ok) {
        failures++;
        if (failures <= 50) console.log(`FAIL: ${what}`);
    }
    return ok;
}

export function finish(label) {
    console.log(`${label}: ${checks} checks, ${failures} failures`);
    process.exit(failures === 0 && checks > 0 ? 0 : 1);
}

function decode(type, v) {
    if (v === null) return null;
    switch (type) {
    case 'int64':
    case 'timestamp':
        return BigInt(v);
    case 'double':
        return v === 'NaN' ? NaN : Number(v);
    default:
        return v;
    }
}

// Every manifest in dir, with its values decoded.
export function loadCases(dir) {
    const names = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
    return names.map((f) => {
        const m = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
        m.name = f.slice(0, -5);
        m.file = path.join(dir, `${m.name}.parquet`);
        for (const c of m.columns) m.values[c.name] = m.values[c.name].map((v) => decode(c.type, v));
        return m;
    });
}

// Same value? NaN equals NaN, -0 differs from +0, bigints by value.
export function same(a, b) {
    if (typeof a === 'number' && typeof b === 'number') return Object.is(a, b);
    return a === b;
}

export function show(v) {
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v);
    if (Object.is(v, -0)) return '-0';
    return String(v);
}

export function cmpBytes(a, b) {
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// Statistics the writer must produce for values vals of a column type:
// { nulls, nans, min, max } with min/max null when none are written (no
// non-null value; a NaN in a double chunk; a string bound over
// STATS_MAX_BYTES). Double bounds of zero are -0 (min) and +0 (max).
export function expectedStats(type, vals) {
    let nulls = 0;
    let nans = 0;
    let min = null;
    let max = null;
    const less = type === 'string' ? (a, b) => cmpBytes(a, b) < 0 : (a, b) => a < b;
    for (const v of vals) {
        if (v === null) {
            nulls++;
            continue;
        }
        if (type === 'double' && Number.isNaN(v)) {
            nans++;
            continue;
        }
        if (min === null || less(v, min)) min = v;
        if (max === null || less(max, v)) max = v;
    }
    if (type === 'double') {
        if (nans > 0) min = max = null;
        if (min === 0) min = -0;
        if (max === 0) max = 0;
    }
    if (type === 'string' && min !== null &&
        (Buffer.byteLength(min) > STATS_MAX_BYTES || Buffer.byteLength(max) > STATS_MAX_BYTES)) {
        min = max = null;
    }
    return { nulls, nans, min, max };
}

// DuckDB's own ordering for filters: NaN above every number, nulls never
// match.
export function countWhere(type, vals, op, x) {
    let n = 0;
    for (const v of vals) {
        if (v === null) continue;
        let c;
        if (type === 'string') c = cmpBytes(v, x);
        else if (type === 'double' && Number.isNaN(v)) c = Number.isNaN(x) ? 0 : 1;
        else if (type === 'double' && Number.isNaN(x)) c = -1;
        else c = v < x ? -1 : v > x ? 1 : 0;
        if ((op === '>' && c > 0) || (op === '<' && c < 0) || (op === '=' && c === 0)) n++;
    }
    return n;
}

// The footer's length, from the file's last 8 bytes.
export function footerLength(file) {
    const buf = fs.readFileSync(file);
    check(buf.subarray(0, 4).toString('latin1') === 'PAR1', `${file}: leading magic`);
    check(buf.subarray(buf.length - 4).toString('latin1') === 'PAR1', `${file}: trailing magic`);
    return { size: buf.length, footer: buf.readUInt32LE(buf.length - 8), buf };
}

// Checks that the column chunks, in footer order, tile the file from byte 4
// to the footer: chunks is [{start, size, where}].
export function checkTiling(name, chunks, size, footer) {
    let pos = 4;
    for (const c of chunks) {
        check(c.start === pos, `${name}: ${c.where} starts at ${c.start}, want ${pos}`);
        pos = c.start + c.size;
    }
    check(pos === size - 8 - footer, `${name}: chunks end at ${pos}, footer starts at ${size - 8 - footer}`);
}
