#!/usr/bin/env bash
# Recompute from the lake, end to end. Generated ticks spread over five
# hours (out-of-order, very late and invalid records among them) are
# produced through strata's broker with record timestamps of those hours
# (a real Kafka client), into a topic of small segments with a 3-hour
# retention. `strata up --once` runs the aggregate pipelines of
# tests/integration/stream/ticks.yaml and an archive pipeline, which
# writes every valid record to the lake. A retention job then deletes the
# log's old segments, so no partition's log holds its first hours any more.
#
#   - a recompute with --param input=log (the log alone) misses the early
#     events: its views differ from DuckDB's answer;
#   - a recompute per view over the whole range (input auto) reads the
#     early offsets from the lake and the rest from the log: every view
#     equals DuckDB's answer over ALL valid events, 0 mismatches; the runs'
#     lineage lists the lake files with their SHA-256, the lake rows add up
#     to the valid records below each partition's log start, and rows_in to
#     those plus the log's records;
#   - with one of the lake's early files deleted, a run fails: its error
#     names the topic, the partition and the offsets that are in neither
#     the log nor the lake (nor the archive's dlq), and the view is left as
#     it was;
#   - a run over a later range, whose read starts after that file's
#     records, does not need them: it completes, reads the lake from its
#     start only, and the views still equal DuckDB's answer.
#
# usage: lake_recompute.sh STRATA sqlite|postgres [EVENTS]
#   postgres: run through tests/integration/pg/with_pg.sh
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
strata=$1
backend=$2
events=${3:-15000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
node_dir=$root/tests/node
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT

data=$work/data
case $backend in
  sqlite) store=sqlite:$data/strata.db ;;
  postgres) store=${STRATA_TEST_PG_URL:?postgres: run through tests/integration/pg/with_pg.sh} ;;
  *) echo "usage: lake_recompute.sh STRATA sqlite|postgres [EVENTS]" >&2; exit 2 ;;
esac
export TICKS_DATA=$data TICKS_STORE=$store

# Event and record times over the five hours that ended an hour (or more)
# ago; the retention of 3 hours cuts into them.
now_ms=$(date +%s%3N)
base=$(( (now_ms / 3600000 - 6) * 3600000 ))
node "$here/lake_recompute.mjs" gen "$work/in" "$events" 3 17 "$base" $(( 5 * 3600000 ))
node "$node_dir/ticks.mjs" expect-all "$work/in" 3 "$work/all.json"

mkdir -p "$data"
"$strata" topics create ticks --partitions 3 --flush never --segment-bytes 32768 \
  --retention-ms $(( 3 * 3600000 )) --data "$data" >/dev/null
/usr/bin/python3 "$here/lake_produce.py" "$strata" "$data" "$work/in" 3

cp "$root/tests/integration/stream/ticks.yaml" "$work/lake.yaml"
cat >>"$work/lake.yaml" <<'YAML'

  - name: ticks_lake
    kind: archive
    topic: ticks
    event_time: ts
    watermark: {max_out_of_orderness: 5s}
    codec: zstd
    roll: {rows: 2000, bytes: 64KiB}

jobs:
  - {name: trim, kind: retention, max_age: 30d, topics: [ticks]}
  - {name: ohlc_recompute, kind: recompute, pipeline: ohlc, lookback: 1h}
  - {name: counts_recompute, kind: recompute, pipeline: counts, lookback: 1h}
  - {name: sessions_recompute, kind: recompute, pipeline: sessions, lookback: 1h}
  - {name: ohlc_recent, kind: recompute, pipeline: ohlc, lookback: 30m}
YAML
"$strata" check -c "$work/lake.yaml" >/dev/null
"$strata" up -c "$work/lake.yaml" --once
node "$here/lake_recompute.mjs" lake "$node_dir" "$work/in" 3 "$data/lake"

# Retention: every partition's log now starts past its first hours.
"$strata" jobs run trim -c "$work/lake.yaml" >/dev/null
"$strata" topics describe ticks --data "$data" | tee "$work/describe.txt"
starts=$(awk '$1 ~ /^[0-9]+$/ && NF >= 7 {print $2}' "$work/describe.txt")
for s in $starts; do
  if [ "$s" -le 0 ]; then echo "FAIL: a partition's log still starts at 0"; fail=1; fi
done
expect "partitions listed" "$(echo "$starts" | wc -w)" 3

from=$(iso $(( base - 3600000 )))
to=$(iso $(( base + 6 * 3600000 )))
run_job() { # job [params...]: prints the run id; the job's exit status is kept in $work/status
  local job=$1; shift
  set +e
  "$strata" jobs run "$job" -c "$work/lake.yaml" --param "from=$from" --param "to=$to" "$@" \
    >"$work/run.out" 2>"$work/run.err"
  echo $? >"$work/status"
  set -e
  cat "$work/run.out" "$work/run.err" | grep -v ' INFO ' >&2 || true
  sed -n 's/^run \([0-9]*\) of job .* completed$/\1/p; s/^strata jobs: run \([0-9]*\) of job .* failed: .*/\1/p' \
    "$work/run.out" "$work/run.err"
}

# The log alone misses the early events.
run_job ohlc_recompute --param input=log >/dev/null
expect "input=log run exit status" "$(cat "$work/status")" 0
node "$node_dir/ticks.mjs" check "$work/all.json" "$strata" "$store" >"$work/logonly.txt" 2>&1 || true
line=$(grep '^ticks_ohlc: ' "$work/logonly.txt")
if [ "$(echo "$line" | sed -n 's/.* \([0-9]*\) mismatches$/\1/p')" -gt 0 ]; then
  echo "ok: the log alone misses events: $line"
else
  echo "FAIL: recomputing from the log alone already gives every event: $line"; fail=1
fi

# Log and lake: every view equals DuckDB over all valid events.
for j in ohlc counts sessions; do
  id=$(run_job "${j}_recompute")
  expect "$j run exit status" "$(cat "$work/status")" 0
  "$strata" jobs show "$id" --store "$store" >"$work/$j.show.json"
  node "$here/lake_recompute.mjs" lineage "$work/in" 3 "$work/$j.show.json" || fail=1
done
node "$node_dir/ticks.mjs" check "$work/all.json" "$strata" "$store" || fail=1
expect "batch rows of ticks_ohlc not final" \
  "$(q "select count(*) from ticks_ohlc where layer = 'batch' and not \"final\"")" 0

# A gap: one early lake file of partition 0 deleted. The run fails, names
# the offsets, and leaves the view as it was.
victim=$(ls "$data"/lake/ticks/date=*/hour=*/ticks+0+*.parquet | sort -t+ -k3 -n | head -1)
rm "$victim"
state_sql="select count(*) || ':' || sum(trades) || ':' || sum(volume) || ':' || max(updated_at) from ticks_ohlc"
before=$(q "$state_sql")
id=$(run_job ohlc_recompute)
expect "run with a gap: exit status" "$(cat "$work/status")" 1
"$strata" jobs show "$id" --store "$store" >"$work/gap.json"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const ok = r.state === "failed" &&
    /offsets [0-9]+-[0-9]+.* of topic ticks partition 0 are in neither the log/.test(r.error) &&
    /input=log$/.test(r.error);
  console.log(`${ok ? "ok" : "FAIL"}: the failed run says: ${r.error}`);
  process.exit(ok ? 0 : 1);' "$work/gap.json" || fail=1
expect_in "the gap is logged as a warning" \
  "WARN  batch: job ohlc_recompute: topic ticks partition 0: offsets" "$work/run.err"
expect "ticks_ohlc after the failed run" "$(q "$state_sql")" "$before"

# `input`: lake without an archive, or an unknown value, fails the run.
sed '/^  - name: ticks_lake$/,/^$/d' "$work/lake.yaml" >"$work/nolake.yaml"
set +e
"$strata" jobs run ohlc_recompute -c "$work/nolake.yaml" --param "from=$from" --param "to=$to" \
  --param input=lake >/dev/null 2>"$work/nolake.err"
nolake=$?
"$strata" jobs run ohlc_recompute -c "$work/lake.yaml" --param "from=$from" --param "to=$to" \
  --param input=river >/dev/null 2>"$work/river.err"
river=$?
set -e
expect "input=lake without an archive: exit status" "$nolake" 1
expect_in "input=lake says there is no archive" \
  "input is lake, but no archive pipeline of topic ticks" "$work/nolake.err"
expect "input=river: exit status" "$river" 1
expect_in "an unknown input is refused" "parameter input is 'river': use auto, log or lake" \
  "$work/river.err"

# A later range: the read starts 30 minutes before base + 2h, after the
# deleted file's records, so the holes they leave are not needed.
from=$(iso $(( base + 2 * 3600000 )))
id=$(run_job ohlc_recent)
expect "later range run exit status" "$(cat "$work/status")" 0
"$strata" jobs show "$id" --store "$store" >"$work/recent.show.json"
node "$here/lake_recompute.mjs" lineage "$work/in" 3 "$work/recent.show.json" \
  $(( base + 2 * 3600000 - 1800000 )) || fail=1
node "$node_dir/ticks.mjs" check "$work/all.json" "$strata" "$store" || fail=1
exit $fail
