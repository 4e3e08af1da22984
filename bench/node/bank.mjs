// DuckDB's side of bench_batch: the daily per-location count, sum and
// average of the amount over the generated bank-transactions CSV, read with
// read_csv (dates parsed from d/m/yy). Runs the query (read_csv + GROUP BY,
// timed alone) once with DuckDB's default thread count and once with one
// thread, each in a fresh in-memory database, and prints
//
//   version <duckdb version>
//   threads <default thread count> <seconds> <groups>
//   threads 1 <seconds> <groups>
//
// then writes the default run's groups to GROUPS.tsv as
// location <TAB> days since 1970-01-01 <TAB> count <TAB> sum <TAB> avg.
//
//   node bank.mjs NODE_MODULES_DIR FILE.csv GROUPS.tsv
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const require = createRequire(`${process.argv[2]}/`);
const { DuckDBInstance } = require('@duckdb/node-api');
const csv = process.argv[3].replaceAll("'", "''");

// Empty cells and 'nan' are nulls, as the import reads them; a missing
// location is 'UNKNOWN', as the pipeline's key expression has it.
const sql = `SELECT coalesce(CustLocation, 'UNKNOWN') AS location,
    date_diff('day', DATE '1970-01-01', TransactionDate) AS day,
    count(*) AS transactions, sum("TransactionAmount (INR)") AS total,
    avg("TransactionAmount (INR)") AS average
  FROM read_csv('${csv}', header = true, nullstr = ['', 'nan'], dateformat = '%d/%m/%y',
    columns = {'TransactionID': 'VARCHAR', 'CustomerID': 'VARCHAR', 'CustomerDOB': 'VARCHAR',
               'CustGender': 'VARCHAR', 'CustLocation': 'VARCHAR',
               'CustAccountBalance': 'DOUBLE', 'TransactionDate': 'DATE',
               'TransactionTime': 'BIGINT', 'TransactionAmount (INR)': 'DOUBLE'})
  GROUP BY ALL`;

async function run(options) {
  const db = await DuckDBInstance.create(':memory:', options);
  const c = await db.connect();
  const s = await c.runAndReadAll(`SELECT version(), current_setting('threads')`);
  const [version, threads] = s.getRows()[0];
  const t0 = process.hrtime.bigint();
  const r = await c.runAndReadAll(sql);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const rows = r.getRows();
  c.closeSync();
  db.closeSync();
  return { version, threads: Number(threads), secs, rows };
}

const def = await run({});
const one = await run({ threads: '1' });
console.log(`version ${def.version}`);
console.log(`threads ${def.threads} ${def.secs} ${def.rows.length}`);
console.log(`threads 1 ${one.secs} ${one.rows.length}`);
writeFileSync(process.argv[4],
  def.rows.map((r) => `${r[0]}\t${r[1]}\t${r[2]}\t${r[3]}\t${r[4]}\n`).join(''));
