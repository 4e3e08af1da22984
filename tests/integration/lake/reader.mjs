// DuckDB writes Parquet files; strata's reader (test_lake_dump) must read
// the same values from them (see reader.sh). Exits 1 on any difference.
//
// usage: node reader.mjs NODE_DIR WORK_DIR TEST_LAKE_DUMP
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { importTool, check, finish } from './common.mjs';

const [nodeDir, work, dump] = process.argv.slice(2);
const { DuckDBInstance } = await importTool(nodeDir, '@duckdb/node-api');
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await db.connect();
await conn.run("SET TimeZone = 'UTC'");
const rows = async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJson();
const lit = (s) => `'${s.replaceAll("'", "''")}'`;

const N = 10000;
await conn.run(`CREATE TABLE src AS SELECT
    i AS id,
    CASE WHEN i % 7 = 3 THEN NULL ELSE i % 3 = 0 END AS b,
    (i % 2 = 0)::BOOLEAN AS breq,
    CASE WHEN i = 0 THEN -9223372036854775808 WHEN i = 1 THEN 9223372036854775807
         ELSE i * 1000003 - 7 END::BIGINT AS n,
    CASE WHEN i % 13 = 6 THEN NULL ELSE i % 5 END::BIGINT AS m,
    CASE WHEN i % 11 = 5 THEN NULL WHEN i = 2 THEN 'NaN'::DOUBLE WHEN i = 3 THEN 'inf'::DOUBLE
         WHEN i = 4 THEN '-inf'::DOUBLE WHEN i = 6 THEN -0.0::DOUBLE WHEN i = 8 THEN 1e-310
         ELSE i / 7.0 - 100 END::DOUBLE AS d,
    CASE WHEN i % 17 = 2 THEN NULL ELSE (i % 4) * 0.25 END::DOUBLE AS e,
    CASE WHEN i % 5 = 1 THEN NULL WHEN i % 97 = 0 THEN '' WHEN i % 89 = 0 THEN 'café-€-' || i
         WHEN i = 77 THEN repeat('x', 5000) ELSE 'distinct-' || i END AS s,
    CASE WHEN i % 19 = 4 THEN NULL ELSE 'sym-' || (i % 9) END AS k,
    make_timestamp(1700000000000000 + i * 1234567 - 50000000) AS t,
    CASE WHEN i % 4 = 2 THEN NULL ELSE to_timestamp(1700000000 + i * 37.5) END AS tz,
    make_timestamp(1700000000000000 + i * 1000)::TIMESTAMP_MS AS tms,
    make_timestamp_ns(1700000000000000000 + i * 1234567891) AS tns
  FROM range(${N}) r(i)`);

// Values as test_lake_dump prints them (strings for numbers, micros for times).
const SELECT = `SELECT id::VARCHAR AS id, b, breq, n::VARCHAR AS n, m::VARCHAR AS m,
    CASE WHEN isnan(d) THEN 'NaN' WHEN d = 'inf'::DOUBLE THEN 'Infinity'
         WHEN d = '-inf'::DOUBLE THEN '-Infinity' ELSE d::VARCHAR END AS d,
    e::VARCHAR AS e, s, k, epoch_us(t)::VARCHAR AS t, epoch_us(tz)::VARCHAR AS tz,
    epoch_us(tms)::VARCHAR AS tms, (epoch_ns(tns) // 1000)::VARCHAR AS tns`;

const cases = [
    { name: 'zstd', opts: 'COMPRESSION zstd' },
    { name: 'snappy_groups', opts: 'COMPRESSION snappy, ROW_GROUP_SIZE 2048', groups: 2 },
    { name: 'none', opts: 'COMPRESSION uncompressed' },
    { name: 'zstd_small_pages', opts: "COMPRESSION zstd, ROW_GROUP_SIZE 4096" },
];

// A double from the dump ("%.17g", NaN, Infinity) equals DuckDB's text of it.
function sameDouble(got, want) {
    if (got === null || want === null) return got === want;
    const a = Number(got), b = Number(want);
    return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

const seen = new Set();
for (const c of cases) {
    const file = path.join(work, `${c.name}.parquet`);
    await conn.run(`COPY src TO ${lit(file)} (FORMAT parquet, ${c.opts})`);
    const meta = await rows(`SELECT row_group_id, path_in_schema, encodings
        FROM parquet_metadata(${lit(file)})`);
    for (const r of meta) for (const e of r.encodings.split(',')) seen.add(e.trim());
    const groups = new Set(meta.map((r) => r.row_group_id)).size;
    check(groups >= (c.groups ?? 1), `${c.name}: ${groups} row groups`);
    const want = await rows(`${SELECT} FROM read_parquet(${lit(file)})`);
    const out = execFileSync(dump, [file], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n');
    out.pop();
    const cols = JSON.parse(out[0]);
    const names = cols.map((x) => x[0]);
    check(names.join(',') === 'id,b,breq,n,m,d,e,s,k,t,tz,tms,tns', `${c.name}: columns ${names}`);
    const types = cols.map((x) => x[1]).join(',');
    check(types === 'int64,bool,bool,int64,int64,double,double,string,string,timestamp,timestamp,timestamp,timestamp',
        `${c.name}: types ${types}`);
    check(out.length - 1 === N && want.length === N, `${c.name}: ${out.length - 1} rows, DuckDB ${want.length}`);
    let bad = 0;
    for (let r = 0; r < Math.min(out.length - 1, want.length); r++) {
        const got = JSON.parse(out[r + 1]);
        names.forEach((name, i) => {
            const w = want[r][name];
            const g = got[i];
            const ok = name === 'd' || name === 'e' ? sameDouble(g, w) : g === w;
            if (!ok && bad++ < 5) check(false, `${c.name}: row ${r} ${name} = ${JSON.stringify(g)}, DuckDB ${JSON.stringify(w)}`);
        });
    }
    check(bad === 0, `${c.name}: ${bad} values differ`);
    console.log(`${c.name}: ${groups} row groups, ${N} rows compared, ${bad} differences`);
}
// The cases must have exercised both kinds of data page.
check(seen.has('RLE_DICTIONARY') || seen.has('PLAIN_DICTIONARY'), `dictionary pages written: ${[...seen]}`);
check(seen.has('PLAIN'), `plain pages written: ${[...seen]}`);
console.log(`encodings DuckDB used: ${[...seen].sort().join(', ')}`);

// What the reader refuses, by name.
for (const [name, opts, why] of [
    ['v2', 'COMPRESSION zstd, PARQUET_VERSION v2', /is not read|are not read/],
    ['gzip', 'COMPRESSION gzip', /codec GZIP/],
]) {
    const file = path.join(work, `${name}.parquet`);
    await conn.run(`COPY src TO ${lit(file)} (FORMAT parquet, ${opts})`);
    const r = spawnSync(dump, [file], { encoding: 'utf8', maxBuffer: 1 << 28 });
    check(r.status === 1, `${name}: exit status ${r.status}`);
    check(r.stderr.includes(file) && /column [a-z]+/.test(r.stderr) && why.test(r.stderr),
        `${name}: error names the file and column: ${r.stderr.trim()}`);
    console.log(`${name}: refused: ${r.stderr.trim()}`);
}
finish('reader vs DuckDB');
