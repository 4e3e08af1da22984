// Reads every file test_lake_files wrote with hyparquet, a second reader
// independent of DuckDB, and compares it with its manifest: every value,
// the footer (schema, logical types, row groups, statistics including
// nan_count, column orders, key/value metadata), and every page header of
// every column chunk (page counts and encodings, sizes, offsets, values per
// page). Exits 1 on any difference.
//
// hyparquet has no zstd decoder of its own: zstd pages are handed to
// `WRITER unzstd` (the test program, which links libzstd).
//
// usage: node check_hyparquet.mjs NODE_DIR DIR WRITER
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import {
    importTool, loadCases, check, finish, same, show, expectedStats, footerLength, checkTiling,
} from './common.mjs';

const [nodeDir, dir, writer] = process.argv.slice(2);
const hp = await importTool(nodeDir, 'hyparquet');
const { deserializeTCompactProtocol } = await importTool(nodeDir, 'hyparquet/src/thrift.js');
const { parquetHeader } = await importTool(nodeDir, 'hyparquet/src/column.js');

const compressors = {
    ZSTD: (input, outputLength) => {
        const out = execFileSync(writer, ['unzstd'], { input: Buffer.from(input), maxBuffer: 1 << 30 });
        check(out.length === outputLength, `unzstd: ${out.length} bytes, want ${outputLength}`);
        return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },
};
const parsers = { timestampFromMicroseconds: (v) => v };

const PHYSICAL = { bool: 'BOOLEAN', int64: 'INT64', double: 'DOUBLE', string: 'BYTE_ARRAY', timestamp: 'INT64' };
const CONVERTED = { int64: 'INT_64', string: 'UTF8', timestamp: 'TIMESTAMP_MICROS' };

function toArrayBuffer(buf) {
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

function checkSchema(m, md, raw) {
    check(md.created_by === 'strata', `${m.name}: created_by ${md.created_by}`);
    check(md.version === 2, `${m.name}: version ${md.version}`);
    check(Number(md.num_rows) === m.rows, `${m.name}: num_rows ${md.num_rows}`);
    check(md.schema.length === m.columns.length + 1, `${m.name}: ${md.schema.length} schema elements`);
    check(md.schema[0].num_children === m.columns.length && md.schema[0].repetition_type === undefined,
        `${m.name}: schema root`);
    m.columns.forEach((c, i) => {
        const e = md.schema[i + 1];
        const where = `${m.name}: schema of ${c.name}`;
        check(e.name === c.name && e.type === PHYSICAL[c.type], `${where}: ${e.name} ${e.type}`);
        check(e.repetition_type === (c.optional ? 'OPTIONAL' : 'REQUIRED'), `${where}: ${e.repetition_type}`);
        check(e.converted_type === CONVERTED[c.type], `${where}: converted_type ${e.converted_type}`);
        const lt = e.logical_type;
        if (c.type === 'int64') check(lt?.type === 'INTEGER' && lt.bitWidth === 64 && lt.isSigned === true, `${where}: logical type`);
        else if (c.type === 'string') check(lt?.type === 'STRING', `${where}: logical type`);
        else if (c.type === 'timestamp') check(lt?.type === 'TIMESTAMP' && lt.isAdjustedToUTC === true && lt.unit === 'MICROS', `${where}: logical type`);
        else check(lt === undefined, `${where}: logical type ${JSON.stringify(lt)}`);
    });
    const kv = Object.fromEntries((md.key_value_metadata ?? []).map((e) => [e.key, e.value]));
    check(JSON.stringify(kv) === JSON.stringify(m.meta), `${m.name}: key/value metadata ${JSON.stringify(kv)}`);
    // column_orders (field 7): TYPE_ORDER for every column.
    const orders = raw.field_7 ?? [];
    check(orders.length === m.columns.length && orders.every((o) => o.field_1 !== undefined),
        `${m.name}: column_orders ${JSON.stringify(orders)}`);
}

// Walks the page headers of one chunk; returns what it saw.
function walkPages(view, start, size) {
    const reader = { view, offset: start };
    const seen = { dict: 0, dictFirst: true, firstData: -1, data: [], unc: 0, values: 0 };
    while (reader.offset < start + size) {
        const at = reader.offset;
        const h = parquetHeader(reader);
        seen.unc += reader.offset - at + h.uncompressed_page_size;
        if (h.type === 'DICTIONARY_PAGE') {
            seen.dict++;
            if (seen.data.length > 0) seen.dictFirst = false;
        } else {
            if (seen.firstData < 0) seen.firstData = at;
            seen.data.push(h.data_page_header.encoding);
            seen.values += h.data_page_header.num_values;
            check(h.data_page_header.num_values <= 131072, `page of ${h.data_page_header.num_values} values`);
        }
        reader.offset += h.compressed_page_size;
    }
    seen.end = reader.offset;
    return seen;
}

function checkStats(where, c, s, rs, vals) {
    const st = expectedStats(c.type, vals);
    check(Number(s?.null_count) === st.nulls, `${where}: null_count ${s?.null_count}, want ${st.nulls}`);
    const min = s?.min_value ?? null;
    const max = s?.max_value ?? null;
    check(same(min, st.min), `${where}: min_value ${show(min)}, want ${show(st.min)}`);
    check(same(max, st.max), `${where}: max_value ${show(max)}, want ${show(st.max)}`);
    const dmin = c.type === 'string' ? null : st.min;
    const dmax = c.type === 'string' ? null : st.max;
    check(same(s?.min ?? null, dmin) && same(s?.max ?? null, dmax), `${where}: deprecated min/max ${show(s?.min)} ${show(s?.max)}`);
    if (c.type === 'double') check(rs.field_9 === BigInt(st.nans), `${where}: nan_count ${rs.field_9}, want ${st.nans}`);
    else check(rs.field_9 === undefined, `${where}: nan_count on a ${c.type} column`);
}

function checkChunk(m, c, col, rawCol, view, start, n) {
    const md = col.meta_data;
    const where = `${m.name}: row group ${col.group} column ${c.name}`;
    const vals = m.values[c.name].slice(start, start + n);
    check(Number(md.num_values) === n, `${where}: num_values ${md.num_values}`);
    check(md.codec === m.codec, `${where}: codec ${md.codec}`);
    check(Number(col.file_offset) === 0, `${where}: file_offset ${col.file_offset}`);
    checkStats(where, c, md.statistics, rawCol.field_3.field_12, vals);
    const dictOff = md.dictionary_page_offset === undefined ? -1 : Number(md.dictionary_page_offset);
    const chunkStart = dictOff >= 0 ? dictOff : Number(md.data_page_offset);
    const size = Number(md.total_compressed_size);
    const seen = walkPages(view, chunkStart, size);
    check(seen.end === chunkStart + size, `${where}: pages end at ${seen.end}, want ${chunkStart + size}`);
    check(seen.unc === Number(md.total_uncompressed_size), `${where}: pages hold ${seen.unc} bytes uncompressed, metadata says ${md.total_uncompressed_size}`);
    check(seen.firstData === Number(md.data_page_offset), `${where}: first data page at ${seen.firstData}, data_page_offset ${md.data_page_offset}`);
    check(seen.values === n, `${where}: pages hold ${seen.values} values, want ${n}`);
    check(seen.dict === (dictOff >= 0 ? 1 : 0) && seen.dictFirst, `${where}: ${seen.dict} dictionary pages`);
    const dictPages = seen.data.filter((e) => e === 'RLE_DICTIONARY').length;
    const plainPages = seen.data.filter((e) => e === 'PLAIN').length;
    check(dictPages + plainPages === seen.data.length, `${where}: encodings ${seen.data}`);
    const hasValues = vals.some((v) => v !== null);
    if (c.type !== 'string' || !m.dictionary) check(dictPages === 0, `${where}: dictionary pages on a ${c.type} column`);
    if (c.type === 'string' && m.dictionary && hasValues) check(dictPages > 0, `${where}: no dictionary-encoded page`);
    if (c.name === 'id') check(seen.data.length >= m.min_pages, `${where}: ${seen.data.length} data pages, want >= ${m.min_pages}`);
    // encoding_stats agree with the pages.
    const es = Object.fromEntries((md.encoding_stats ?? []).map((e) => [`${e.page_type}/${e.encoding}`, e.count]));
    const want = {};
    if (seen.dict) want['DICTIONARY_PAGE/PLAIN'] = 1;
    if (dictPages) want['DATA_PAGE/RLE_DICTIONARY'] = dictPages;
    if (plainPages) want['DATA_PAGE/PLAIN'] = plainPages;
    check(JSON.stringify(es) === JSON.stringify(want), `${where}: encoding_stats ${JSON.stringify(es)}, want ${JSON.stringify(want)}`);
    return { start: chunkStart, size, unc: Number(md.total_uncompressed_size), where, fallback: dictPages > 0 && plainPages > 0 };
}

function checkLayout(m, md, raw, view) {
    const groups = md.row_groups.length;
    if (m.row_groups >= 0) check(groups === m.row_groups, `${m.name}: ${groups} row groups, want ${m.row_groups}`);
    check(groups >= m.min_row_groups, `${m.name}: ${groups} row groups`);
    const chunks = [];
    let start = 0;
    let fallback = false;
    md.row_groups.forEach((rg, g) => {
        const n = Number(rg.num_rows);
        check(n > 0, `${m.name}: row group ${g} is empty`);
        check(rg.columns.length === m.columns.length, `${m.name}: row group ${g} has ${rg.columns.length} columns`);
        let unc = 0;
        let comp = 0;
        rg.columns.forEach((col, i) => {
            col.group = g;
            const ch = checkChunk(m, m.columns[i], col, raw.field_4[g].field_1[i], view, start, n);
            if (g === 0 && i === 0) check(Number(rg.file_offset) === ch.start, `${m.name}: row group ${g} file_offset`);
            chunks.push(ch);
            unc += ch.unc;
            comp += ch.size;
            fallback ||= ch.fallback;
        });
        check(Number(rg.total_byte_size) === unc, `${m.name}: row group ${g} total_byte_size`);
        check(Number(rg.total_compressed_size) === comp, `${m.name}: row group ${g} total_compressed_size`);
        check(Number(rg.file_offset) === chunks[chunks.length - rg.columns.length].start, `${m.name}: row group ${g} file_offset`);
        check(rg.ordinal === g, `${m.name}: row group ${g} ordinal ${rg.ordinal}`);
        start += n;
    });
    check(start === m.rows, `${m.name}: row groups hold ${start} rows`);
    check(fallback === m.fallback, `${m.name}: dictionary fallback seen: ${fallback}, want ${m.fallback}`);
    const { size, footer } = footerLength(m.file);
    checkTiling(m.name, chunks, size, footer);
}

async function checkValues(m, ab) {
    const got = await hp.parquetReadObjects({ file: ab, compressors, parsers });
    check(got.length === m.rows, `${m.name}: ${got.length} rows, want ${m.rows}`);
    for (const c of m.columns) {
        const want = m.values[c.name];
        let bad = 0;
        for (let r = 0; r < Math.min(got.length, want.length); r++) {
            const v = got[r][c.name] ?? null;
            if (!same(v, want[r]) && bad++ < 3)
                check(false, `${m.name}: row ${r} ${c.name} = ${show(v)}, want ${show(want[r])}`);
        }
        check(bad === 0, `${m.name}: column ${c.name}: ${bad} values differ`);
    }
}

for (const m of loadCases(dir)) {
    const buf = fs.readFileSync(m.file);
    const ab = toArrayBuffer(buf);
    const view = new DataView(ab);
    const md = hp.parquetMetadata(ab, { parsers });
    const footer = view.getUint32(view.byteLength - 8, true);
    const raw = deserializeTCompactProtocol({ view, offset: view.byteLength - 8 - footer });
    checkSchema(m, md, raw);
    checkLayout(m, md, raw, view);
    await checkValues(m, ab);
}
finish('hyparquet');
