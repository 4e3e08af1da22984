#!/usr/bin/env bash
# The Lambda merge end to end. Generated ticks with out-of-order, late and
# invalid records go through the aggregate pipelines of
# tests/integration/stream/ticks.yaml (`strata up --once`): the speed views
# must be exactly DuckDB's speed-layer answer, which lacks the late events.
# Then one recompute job per view (`strata jobs run`) covers every window;
# the merged views (`strata views query`) must equal DuckDB's answer over
# ALL valid events, late ones included, every row final and from the batch
# layer, with 0 mismatches, and stay so when a job runs again (with one
# reading thread per partition, or one in all). The dlq is not written by
# the recompute; each run records the offsets it read.
#
# usage: lambda.sh STRATA sqlite|postgres [EVENTS]
#   postgres: run through tests/integration/pg/with_pg.sh
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
strata=$1
backend=$2
events=${3:-20000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
node_dir=$root/tests/node
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

case $backend in
  sqlite) store=sqlite:$work/data/strata.db ;;
  postgres) store=${STRATA_TEST_PG_URL:?postgres: run through tests/integration/pg/with_pg.sh} ;;
  *) echo "usage: lambda.sh STRATA sqlite|postgres [EVENTS]" >&2; exit 2 ;;
esac
export TICKS_DATA=$work/data TICKS_STORE=$store

# Event times on a whole hour three hours ago: every record is appended
# (record timestamp = now) after its event time, as with real producers,
# and a job reads the log from its range's start minus the lookback.
now_ms=$(date +%s%3N)
base=$(( (now_ms / 3600000 - 3) * 3600000 ))
node "$node_dir/ticks.mjs" gen "$work/in" "$events" 3 11 "$base"
node "$node_dir/ticks.mjs" expect "$work/in" 3 "$work/speed.json"
node "$node_dir/ticks.mjs" expect-all "$work/in" 3 "$work/all.json"

# ticks.yaml plus one recompute job per view.
cp "$root/tests/integration/stream/ticks.yaml" "$work/lambda.yaml"
cat >>"$work/lambda.yaml" <<'YAML'

jobs:
  - {name: ohlc_recompute, kind: recompute, pipeline: ohlc, lookback: 1h}
  - {name: counts_recompute, kind: recompute, pipeline: counts, lookback: 1h}
  - {name: sessions_recompute, kind: recompute, pipeline: sessions, lookback: 1h}
YAML
"$strata" check -c "$work/lambda.yaml" >/dev/null

"$strata" topics create ticks --partitions 3 --data "$TICKS_DATA" >/dev/null
for p in 0 1 2; do
  "$strata" produce ticks --partition $p --data "$TICKS_DATA" <"$work/in/p$p.ndjson" >/dev/null
done
"$strata" up -c "$work/lambda.yaml" --once

# The speed layer: exactly its expected answer, without the late events.
node "$node_dir/ticks.mjs" check "$work/speed.json" "$strata" "$store"
read -r late_ohlc late_counts differ_ohlc differ_counts < <(node -e '
  const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const d = JSON.parse(process.argv[2]);
  console.log(e.late.ohlc, e.late.counts, d.ticks_ohlc, d.ticks_counts)' "$work/speed.json" \
  "$(node "$node_dir/ticks.mjs" diff "$work/speed.json" "$work/all.json")")
echo "late events: ohlc $late_ohlc, counts $late_counts; rows they change: ohlc $differ_ohlc, counts $differ_counts"
if [ "$late_ohlc" -eq 0 ] || [ "$late_counts" -eq 0 ] || [ "$differ_ohlc" -eq 0 ] ||
   [ "$differ_counts" -eq 0 ]; then
  echo "FAIL: the speed views already hold every event"; exit 1
fi
dlq_before=$(q 'select count(*) from dlq')

# The batch layer: every window of the data lies in [base - 1h, base + 1h).
from=$(iso $(( base - 3600000 )))
to=$(iso $(( base + 3600000 )))
run_job() { # job [params...]: prints the run id
  local job=$1; shift
  "$strata" jobs run "$job" -c "$work/lambda.yaml" --param "from=$from" --param "to=$to" "$@" \
    >"$work/run.out"
  cat "$work/run.out" >&2
  sed -n 's/^run \([0-9]*\) of job .* completed$/\1/p' "$work/run.out"
}
for j in ohlc counts sessions; do
  run_job "${j}_recompute" >"$work/$j.id"
done
node "$node_dir/ticks.mjs" check "$work/all.json" "$strata" "$store"

# A run again changes nothing, with one reading thread per partition or a
# single one (the first runs used the default, one per CPU).
run_job ohlc_recompute --param threads=3 >"$work/ohlc2.id"
run_job counts_recompute --param threads=1 >/dev/null
node "$node_dir/ticks.mjs" check "$work/all.json" "$strata" "$store"
set +e
"$strata" jobs run ohlc_recompute -c "$work/lambda.yaml" --param "from=$from" --param "to=$to" \
  --param threads=lots >/dev/null 2>"$work/threads.err"
status=$?
set -e
expect "threads=lots: exit status" "$status" 1
expect_in "a bad thread count is refused" "parameter threads is 'lots'" "$work/threads.err"

expect "dlq rows after the recompute" "$(q 'select count(*) from dlq')" "$dlq_before"
expect "batch rows of ticks_ohlc not final" \
  "$(q "select count(*) from ticks_ohlc where layer = 'batch' and partition = -1 and not \"final\"")" 0
expect "batch rows of other partitions" \
  "$(q "select count(*) from ticks_ohlc where layer = 'batch' and partition <> -1")" 0

# Tracked runs: completed, rows in = records read (all of them, as the read
# starts before the first record), rows out = the view's batch rows, and
# one offset range per partition.
ohlc_rows=$(q "select count(*) from ticks_ohlc where layer = 'batch'")
total=$(cat "$work"/in/p*.ndjson | wc -l)
for id in "$(cat "$work/ohlc.id")" "$(cat "$work/ohlc2.id")"; do
  "$strata" jobs show "$id" --store "$store" >"$work/show.json"
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const l = JSON.stringify(r.lineage);
    const ranges = (l.match(/"topic":"ticks"/g) || []).length;
    console.log(r.state, r.rows_in, r.rows_out, ranges);' "$work/show.json" >"$work/show.txt"
  read -r state rows_in rows_out ranges <"$work/show.txt"
  expect "run $id state" "$state" completed
  expect "run $id rows_in" "$rows_in" "$total"
  expect "run $id rows_out" "$rows_out" "$ohlc_rows"
  expect "run $id offset ranges" "$ranges" 3
done
exit $fail
