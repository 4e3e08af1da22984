#!/usr/bin/env bash
# Export and retention jobs. Generated ticks go through an aggregate and a
# table pipeline; export jobs write the view (as queries see it) and the
# table for one interval to CSV and to Parquet, and DuckDB must read back
# exactly the rows strata serves: the same count, keys, windows and values.
# Then retention: a 30-day max_age keeps everything; a 1 ms one empties the
# dlq; both runs are recorded with the rows they deleted.
#
# usage: export.sh STRATA
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
strata=$1
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$(cd "$here/../../node" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export EXP_DATA=$work/data EXP_STORE=sqlite:$work/data/strata.db EXP_OUT=$work/out
store=$EXP_STORE
cfg=$here/export.yaml

node "$node_dir/ticks.mjs" gen "$work/in" 6000 3 5
"$strata" topics create ticks --partitions 3 --data "$EXP_DATA" >/dev/null
for p in 0 1 2; do "$strata" produce ticks --partition $p --data "$EXP_DATA" <"$work/in/p$p.ndjson" >/dev/null; done
"$strata" up -c "$cfg" --once >/dev/null

from=2026-11-22T10:00:00Z to=2026-11-22T11:00:00Z
for j in view_csv view_parquet table_csv table_parquet; do
  "$strata" jobs run $j -c "$cfg" --param from=$from --param to=$to
done
"$strata" views query ticks_ohlc --from $from --to $to -c "$cfg" >"$work/served.json"

# From tests/node, so that the module resolves.
(cd "$node_dir" && node --input-type=module - "$work") <<'JS' || fail=1
import { DuckDBInstance } from '@duckdb/node-api';
const work = process.argv[2];
const db = await (await DuckDBInstance.create(':memory:')).connect();
const rows = async (sql) => (await db.runAndReadAll(sql)).getRowObjectsJson();
const served = JSON.parse((await import('node:fs')).readFileSync(`${work}/served.json`, 'utf8'));
const list = Array.isArray(served) ? served : served.rows;
let bad = 0;
const check = (what, got, want) => { if (String(got) !== String(want)) { console.log(`FAIL: ${what}: got ${got}, want ${want}`); bad++; } };
for (const [what, from] of [['csv', `read_csv('${work}/out/view/2026-11-22.csv', header=true)`],
                            ['parquet', `read_parquet('${work}/out/view/20261122.parquet')`]]) {
  const got = await rows(`SELECT key, epoch_us(window_start::TIMESTAMP) AS ws, layer, "final", open, close, volume, avg_price, trades FROM ${from} ORDER BY key, ws`);
  check(`view ${what} rows`, got.length, list.length);
  const want = [...list].sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : Date.parse(a.window_start) - Date.parse(b.window_start));
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const g = got[i], w = want[i];
    check(`view ${what} row ${i} key`, g.key, w.key);
    check(`view ${what} row ${i} window`, Number(g.ws) / 1000, Date.parse(w.window_start));
    for (const c of ['open', 'close', 'volume', 'avg_price', 'trades'])
      if (Math.abs(Number(g[c]) - Number(w[c])) > 1e-9 * Math.max(1, Math.abs(Number(w[c]))))
        check(`view ${what} row ${i} ${c}`, g[c], w[c]);
  }
  console.log(`ok: view ${what}: ${got.length} rows`);
}
const csv = await rows(`SELECT count(*) AS n, sum(volume) AS v FROM read_csv('${work}/out/table.csv', header=true)`);
const pq = await rows(`SELECT count(*) AS n, sum(volume) AS v, count(DISTINCT (_partition, _offset)) AS d FROM read_parquet('${work}/out/table.parquet')`);
check('table csv vs parquet rows', csv[0].n, pq[0].n);
check('table csv vs parquet volume', csv[0].v, pq[0].v);
check('table parquet distinct offsets', pq[0].d, pq[0].n);
console.log(`ok: table: ${pq[0].n} rows`);
process.exit(bad ? 1 : 0);
JS
expect "table rows in the interval" \
  "$(q 'select count(*) from ticks where ts >= 1795341600000000 and ts < 1795345200000000')" \
  "$(/usr/bin/python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1]))))' "$work/out/table.csv")"
expect "export rows_out" "$(q "select rows_out from job_runs where job = 'view_csv'")" "$(q "select rows_out from job_runs where job = 'view_parquet'")"

dlq=$(q 'select count(*) from dlq')
[ "$dlq" -gt 0 ] || { echo "FAIL: the generated ticks gave no dlq rows"; fail=1; }
"$strata" jobs run keep_all -c "$cfg"
expect "dlq after a 30-day retention" "$(q 'select count(*) from dlq')" "$dlq"
"$strata" jobs run trim_dlq -c "$cfg"
expect "dlq after a 1 ms retention" "$(q 'select count(*) from dlq')" 0
expect "rows deleted, recorded" "$(q "select rows_out from job_runs where job = 'trim_dlq'")" "$dlq"
exit $fail
