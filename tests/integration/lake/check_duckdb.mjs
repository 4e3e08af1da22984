// Reads every file test_lake_files wrote with DuckDB (@duckdb/node-api) and
// compares it with its manifest: every value (read_parquet), the column
// types, the statistics, sizes and offsets of every column chunk
// (parquet_metadata), the schema's converted and logical types
// (parquet_schema), created_by and the key/value metadata, and filters
// that DuckDB may answer from the statistics. Exits 1 on any difference.
//
// usage: node check_duckdb.mjs NODE_DIR DIR
import {
    importTool, loadCases, check, finish, same, show, expectedStats, countWhere, footerLength,
    checkTiling,
} from './common.mjs';

const [nodeDir, dir] = process.argv.slice(2);
const { DuckDBInstance } = await importTool(nodeDir, '@duckdb/node-api');
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const conn = await db.connect();
await conn.run("SET TimeZone = 'UTC'");
const rows = async (sql) => (await conn.runAndReadAll(sql)).getRowObjects();
const lit = (s) => `'${s.replaceAll("'", "''")}'`;
const ident = (s) => `"${s.replaceAll('"', '""')}"`;

const DUCK_TYPE = {
    bool: 'BOOLEAN', int64: 'BIGINT', double: 'DOUBLE', string: 'VARCHAR',
    timestamp: 'TIMESTAMP WITH TIME ZONE',
};

async function checkValues(m) {
    const desc = await rows(`DESCRIBE SELECT * FROM read_parquet(${lit(m.file)})`);
    check(desc.length === m.columns.length, `${m.name}: ${desc.length} columns`);
    m.columns.forEach((c, i) => {
        check(desc[i]?.column_name === c.name && desc[i]?.column_type === DUCK_TYPE[c.type],
            `${m.name}: column ${i} is ${desc[i]?.column_name} ${desc[i]?.column_type}`);
    });
    const sel = m.columns.map((c) => (c.type === 'timestamp'
        ? `epoch_us(${ident(c.name)}) AS ${ident(c.name)}` : ident(c.name))).join(', ');
    const got = await rows(`SELECT ${sel} FROM read_parquet(${lit(m.file)}) ORDER BY id`);
    check(got.length === m.rows, `${m.name}: ${got.length} rows, want ${m.rows}`);
    for (const c of m.columns) {
        const want = m.values[c.name];
        let bad = 0;
        for (let r = 0; r < Math.min(got.length, want.length); r++) {
            const v = got[r][c.name];
            if (!same(v, want[r]) && bad++ < 3)
                check(false, `${m.name}: row ${r} ${c.name} = ${show(v)}, want ${show(want[r])}`);
        }
        check(bad === 0, `${m.name}: column ${c.name}: ${bad} values differ`);
    }
}

// DuckDB shows a statistic as text in the column's type; non-finite double
// bounds are shown as NULL (DuckDB does not use them).
function statText(type, v) {
    if (v === null) return null;
    if (type === 'bool') return String(v);
    if (type === 'double') return Number.isFinite(v) ? v : null;
    return v;
}

function sameStat(type, got, want) {
    if (want === null || got === null) return got === want;
    if (type === 'double') return Object.is(Number(got), want);
    if (type === 'int64' || type === 'timestamp') return BigInt(got) === want;
    return got === want;
}

async function checkChunk(m, c, g, start, n) {
    const where = `${m.name}: row group ${g.row_group_id} column ${c.name}`;
    const stat = (f) => (c.type === 'timestamp' && g[f] !== null ? g[`us_${f}`] : g[f]);
    const vals = m.values[c.name].slice(start, start + n);
    const st = expectedStats(c.type, vals);
    check(Number(g.num_values) === n, `${where}: num_values ${g.num_values}, want ${n}`);
    check(g.path_in_schema === c.name, `${where}: path ${g.path_in_schema}`);
    check(g.compression === m.codec, `${where}: compression ${g.compression}, want ${m.codec}`);
    check(Number(g.stats_null_count) === st.nulls, `${where}: null_count ${g.stats_null_count}, want ${st.nulls}`);
    const min = statText(c.type, st.min);
    const max = statText(c.type, st.max);
    check(sameStat(c.type, stat('stats_min_value'), min), `${where}: min_value ${show(g.stats_min_value)}, want ${show(min)}`);
    check(sameStat(c.type, stat('stats_max_value'), max), `${where}: max_value ${show(g.stats_max_value)}, want ${show(max)}`);
    // The deprecated min/max: only where signed order is right (not strings).
    const dmin = c.type === 'string' ? null : min;
    const dmax = c.type === 'string' ? null : max;
    check(sameStat(c.type, stat('stats_min'), dmin), `${where}: min ${show(g.stats_min)}, want ${show(dmin)}`);
    check(sameStat(c.type, stat('stats_max'), dmax), `${where}: max ${show(g.stats_max)}, want ${show(dmax)}`);
    if (st.min !== null) check(g.min_is_exact === true && g.max_is_exact === true, `${where}: bounds exact`);
    const enc = g.encodings.split(', ');
    const hasValues = st.nulls < n;
    const dict = c.type === 'string' && m.dictionary && hasValues;
    check(enc.includes('RLE_DICTIONARY') === dict, `${where}: encodings ${g.encodings}`);
    check(enc.includes('RLE') === c.optional, `${where}: encodings ${g.encodings} (levels)`);
    check((g.dictionary_page_offset !== null) === dict, `${where}: dictionary_page_offset ${g.dictionary_page_offset}`);
    if (dict) check(Number(g.dictionary_page_offset) < Number(g.data_page_offset), `${where}: dictionary page first`);
    return {
        start: Number(g.dictionary_page_offset ?? g.data_page_offset),
        size: Number(g.total_compressed_size),
        unc: Number(g.total_uncompressed_size),
        where,
    };
}

async function checkMetadata(m) {
    // Timestamp bounds are shown as text; read them back as microseconds.
    const us = (f) => `epoch_us(TRY_CAST(${f} AS TIMESTAMPTZ)) AS us_${f}`;
    const md = await rows(`SELECT *, ${['stats_min', 'stats_max', 'stats_min_value', 'stats_max_value'].map(us).join(', ')}
        FROM parquet_metadata(${lit(m.file)}) ORDER BY row_group_id, column_id`);
    const fm = (await rows(`SELECT * FROM parquet_file_metadata(${lit(m.file)})`))[0];
    check(fm.created_by === 'strata', `${m.name}: created_by ${fm.created_by}`);
    check(Number(fm.num_rows) === m.rows, `${m.name}: num_rows ${fm.num_rows}`);
    const groups = Number(fm.num_row_groups);
    if (m.row_groups >= 0) check(groups === m.row_groups, `${m.name}: ${groups} row groups, want ${m.row_groups}`);
    check(groups >= m.min_row_groups, `${m.name}: ${groups} row groups, want >= ${m.min_row_groups}`);
    check(md.length === groups * m.columns.length, `${m.name}: ${md.length} column chunks`);
    const chunks = [];
    let start = 0;
    for (let g = 0; g < groups; g++) {
        const cols = md.slice(g * m.columns.length, (g + 1) * m.columns.length);
        const n = Number(cols[0].row_group_num_rows);
        check(n > 0, `${m.name}: row group ${g} is empty`);
        let unc = 0;
        let comp = 0;
        for (let i = 0; i < m.columns.length; i++) {
            const ch = await checkChunk(m, m.columns[i], cols[i], start, n);
            chunks.push(ch);
            unc += ch.unc;
            comp += ch.size;
        }
        check(Number(cols[0].row_group_bytes) === unc, `${m.name}: row group ${g} total_byte_size ${cols[0].row_group_bytes}, want ${unc}`);
        check(Number(cols[0].row_group_compressed_bytes) === comp, `${m.name}: row group ${g} total_compressed_size`);
        start += n;
    }
    check(start === m.rows, `${m.name}: row groups hold ${start} rows, want ${m.rows}`);
    const { size, footer } = footerLength(m.file);
    checkTiling(m.name, chunks, size, footer);
}

async function checkSchema(m) {
    const sc = await rows(`SELECT * FROM parquet_schema(${lit(m.file)})`);
    check(sc.length === m.columns.length + 1, `${m.name}: ${sc.length} schema elements`);
    check(Number(sc[0].num_children) === m.columns.length, `${m.name}: root has ${sc[0].num_children} children`);
    const want = {
        bool: ['BOOLEAN', null, null],
        int64: ['INT64', 'INT_64', /^IntType\(bitWidth=.*, isSigned=1\)$/],
        double: ['DOUBLE', null, null],
        string: ['BYTE_ARRAY', 'UTF8', /^StringType\(\)$/],
        timestamp: ['INT64', 'TIMESTAMP_MICROS',
            /^TimestampType\(isAdjustedToUTC=1, unit=TimeUnit\(MILLIS=<null>, MICROS=MicroSeconds\(\), NANOS=<null>\)\)$/],
    };
    m.columns.forEach((c, i) => {
        const e = sc[i + 1];
        const [type, conv, logical] = want[c.type];
        const where = `${m.name}: schema of ${c.name}`;
        check(e.name === c.name && e.type === type, `${where}: ${e.name} ${e.type}`);
        check(e.repetition_type === (c.optional ? 'OPTIONAL' : 'REQUIRED'), `${where}: ${e.repetition_type}`);
        check(e.converted_type === conv, `${where}: converted_type ${e.converted_type}, want ${conv}`);
        check(logical === null ? e.logical_type === null : logical.test(e.logical_type ?? ''),
            `${where}: logical_type ${e.logical_type}`);
    });
    const kv = await rows(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${lit(m.file)})`);
    const got = Object.fromEntries(kv.map((r) => [r.k, r.v]));
    check(JSON.stringify(got) === JSON.stringify(m.meta), `${m.name}: key/value metadata ${JSON.stringify(got)}`);
}

// Filters DuckDB may answer by skipping row groups on their statistics:
// the counts must match a scan of the manifest's values.
async function checkFilters(m) {
    if (m.rows === 0) return;
    for (const c of m.columns) {
        if (c.type === 'bool') continue;
        const vals = m.values[c.name];
        const probes = [vals[Math.floor(vals.length / 2)], vals[0]].filter((v) => v !== null);
        if (c.type === 'double') probes.push(NaN, 0);
        for (const x of probes) {
            let xs;
            if (c.type === 'string') xs = lit(x);
            else if (c.type === 'double') xs = Number.isNaN(x) ? "'NaN'::DOUBLE" : `${x}::DOUBLE`;
            else if (c.type === 'timestamp') xs = `make_timestamptz(${x}::BIGINT)`;
            else xs = `${x}::BIGINT`;
            for (const op of ['>', '<', '=']) {
                const r = await rows(`SELECT count(*) AS n FROM read_parquet(${lit(m.file)}) WHERE ${ident(c.name)} ${op} ${xs}`);
                const want = countWhere(c.type, vals, op, x);
                check(Number(r[0].n) === want, `${m.name}: ${c.name} ${op} ${show(x)}: ${r[0].n} rows, want ${want}`);
            }
        }
    }
}

for (const m of loadCases(dir)) {
    await checkValues(m);
    await checkMetadata(m);
    await checkSchema(m);
    await checkFilters(m);
}
finish('duckdb');
