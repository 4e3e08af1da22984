#!/usr/bin/env bash
# Correctness against an independent engine: generated ticks with
# out-of-order, late and invalid records go through the aggregate and table
# pipelines of ticks.yaml; DuckDB recomputes every view row from the same
# events (tests/node/ticks.mjs) and every row must match. Late and invalid
# records must be in the dlq, once each, and the table must hold every valid
# event exactly once.
#
# usage: oracle.sh STRATA [EVENTS]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
strata=$1
events=${2:-20000}
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$(cd "$here/../../node" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

export TICKS_DATA=$work/data TICKS_STORE=sqlite:$work/data/strata.db
store=$TICKS_STORE
node "$node_dir/ticks.mjs" gen "$work/in" "$events" 3 7
node "$node_dir/ticks.mjs" expect "$work/in" 3 "$work/expected.json"

"$strata" topics create ticks --partitions 3 --data "$TICKS_DATA" >/dev/null
for p in 0 1 2; do
  "$strata" produce ticks --partition $p --data "$TICKS_DATA" <"$work/in/p$p.ndjson" >/dev/null
done
"$strata" up -c "$here/ticks.yaml" --once

node "$node_dir/ticks.mjs" check "$work/expected.json" "$strata" "$TICKS_STORE"

# dlq: every invalid record once per pipeline, every late one for its
# pipeline; the table: every valid event once.
read -r valid invalid late_ohlc late_counts < <(node -e '
  const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(e.valid, e.invalid, e.late.ohlc, e.late.counts)' "$work/expected.json")
expect "table rows" "$(q 'select count(*) from ticks')" "$valid"
expect "distinct table rows" "$(q 'select count(distinct _partition || ":" || _offset) from ticks')" "$valid"
for p in ohlc counts sessions ticks_table; do
  expect "$p invalid dlq rows" "$(q "select count(*) from dlq where pipeline = '$p' and kind <> 'late'")" "$invalid"
done
expect "ohlc late dlq rows" "$(q "select count(*) from dlq where pipeline = 'ohlc' and kind = 'late'")" "$late_ohlc"
expect "counts late dlq rows" "$(q "select count(*) from dlq where pipeline = 'counts' and kind = 'late'")" "$late_counts"
expect "sessions late dlq rows" "$(q "select count(*) from dlq where pipeline = 'sessions' and kind = 'late'")" 0
exit $fail
