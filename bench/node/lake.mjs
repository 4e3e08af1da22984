// DuckDB's side of bench_lake: converts the same ticks from NDJSON to
// Parquet with the same codec (COPY ... TO ... (FORMAT parquet)), timed,
// with the given thread count, then checks strata's lake against its own
// file: row count, and exact sums and extremes of every column.
//
//   node lake.mjs NODE_MODULES_DIR EVENTS.ndjson OUT.parquet CODEC THREADS LAKE_DIR
//
// Prints "<seconds> <rows>" and then one line "check <what> <duckdb> <strata>"
// per compared figure.
import { createRequire } from 'node:module';

const [, , modules, ndjson, out, codec, threads, lake] = process.argv;
const require = createRequire(`${modules}/`);
const { DuckDBInstance } = require('@duckdb/node-api');
const db = await DuckDBInstance.create(':memory:', { threads });
const c = await db.connect();
const copy = `COPY (SELECT * FROM read_json('${ndjson}', format = 'newline_delimited',
    columns = {symbol: 'VARCHAR', price: 'DOUBLE', bid: 'DOUBLE', ask: 'DOUBLE',
               volume: 'BIGINT', ts: 'TIMESTAMP'}))
  TO '${out}' (FORMAT parquet, COMPRESSION ${codec})`;
const t0 = process.hrtime.bigint();
await c.run(copy);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const n = (await c.runAndReadAll(`SELECT count(*) FROM '${out}'`)).getRows()[0][0];
console.log(`${secs} ${n}`);
if (lake !== '-') {
  const figures = `count(*), sum(price::DECIMAL(18, 2)), sum(bid::DECIMAL(18, 2)),
    sum(ask::DECIMAL(18, 2)), sum(volume), epoch_us(min(ts)), epoch_us(max(ts)),
    count(DISTINCT symbol), min(symbol), max(symbol)`;
  const mine = (await c.runAndReadAll(`SELECT ${figures} FROM '${out}'`)).getRows()[0];
  const theirs = (await c.runAndReadAll(`SELECT ${figures} FROM read_parquet(
      '${lake}/ticks/*/*/*.parquet', hive_partitioning = true)`)).getRows()[0];
  const names = ['rows', 'sum_price', 'sum_bid', 'sum_ask', 'sum_volume', 'min_ts', 'max_ts',
    'symbols', 'min_symbol', 'max_symbol'];
  names.forEach((name, i) => console.log(`check ${name} ${mine[i]} ${theirs[i]}`));
}
