// DuckDB's side of bench_stream: the tumbling 1-minute OHLC per symbol of
// figure (b), computed from the same events as NDJSON with one thread.
// Prints "<seconds> <rows>" for the query alone (read_json + GROUP BY).
//
//   node ohlc.mjs NODE_MODULES_DIR EVENTS.ndjson
import { createRequire } from 'node:module';

const require = createRequire(`${process.argv[2]}/`);
const { DuckDBInstance } = require('@duckdb/node-api');
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const c = await db.connect();
const sql = `SELECT symbol, time_bucket(INTERVAL 1 minute, ts) AS minute,
    arg_min(price, ts) AS open, max(price) AS high, min(price) AS low,
    arg_max(price, ts) AS close, sum(volume) AS volume, avg(price) AS avg_price,
    count(*) AS trades
  FROM read_json('${process.argv[3]}', format = 'newline_delimited',
    columns = {symbol: 'VARCHAR', price: 'DOUBLE', bid: 'DOUBLE', ask: 'DOUBLE',
               volume: 'BIGINT', ts: 'TIMESTAMP'})
  GROUP BY ALL`;
const t0 = process.hrtime.bigint();
const r = await c.runAndReadAll(sql);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`${secs} ${r.getRows().length}`);
