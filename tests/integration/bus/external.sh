#!/usr/bin/env bash
# Pipelines over an external Kafka cluster, shared by two instances through
# consumer groups, one of them killed with SIGKILL mid-run.
#
# The cluster is strata's own broker, started as a separate process with
# its own data folder; the ticks of tests/node/ticks.mjs go into it with
# kcat (idempotent, explicit partitions) in chunks while the pipelines run.
# Two `strata up --broker kafka://... --no-broker` instances, each with its
# own data folder, share one PostgreSQL store (run under
# tests/integration/pg/with_pg.sh). Once both hold partitions, the first is
# killed with SIGKILL; the group gives its partitions to the survivor,
# which claims them in the store (a new epoch) and resumes from the store's
# offsets. At the end every view must equal DuckDB's recomputation, and
# every table row and dlq row must be there exactly once.
#
# usage: external.sh STRATA [EVENTS] [SEED]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
export STRATA_HTTP_LISTEN=127.0.0.1:0
strata=$1 events=${2:-30000} seed=${3:-23}
here=$(cd "$(dirname "$0")" && pwd)
stream_it=$(cd "$here/../stream" && pwd)
node_dir=$(cd "$here/../../node" && pwd)
: "${STRATA_TEST_PG_URL:?run under tests/integration/pg/with_pg.sh}"
work=$(mktemp -d)
broker= a= b=
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  stop "$a" KILL; stop "$b" KILL; stop "$broker" TERM
  if [ "${STRATA_KEEP_TMP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
# die MESSAGE: FAIL with the tail of every log, and exit 1 at once.
die() {
  echo "FAIL: $*"
  for f in broker a b; do echo "--- $f.log"; tail -n 40 "$work/$f.log" 2>/dev/null || true; done
  exit 1
}

export TICKS_STORE=$STRATA_TEST_PG_URL TICKS_COMMIT=97
store=$TICKS_STORE

node "$node_dir/ticks.mjs" gen "$work/in" "$events" 3 "$seed"
node "$node_dir/ticks.mjs" expect "$work/in" 3 "$work/expected.json"
chunks=12
for p in 0 1 2; do
  split -n "l/$chunks" -d -a 3 "$work/in/p$p.ndjson" "$work/in/p$p.chunk."
done

# The external cluster.
"$strata" topics create ticks --partitions 3 --flush never --data "$work/kafka" >/dev/null
"$strata" broker --listen 127.0.0.1:0 --no-auto-create --data "$work/kafka" >"$work/broker.log" 2>&1 &
broker=$!
wait_for 600 broker_port "$work/broker.log" >/dev/null || die "the broker did not start"
bootstrap=127.0.0.1:$(broker_port "$work/broker.log")
produce_chunk() { # produce_chunk I
  for p in 0 1 2; do
    local chunk
    chunk=$(printf '%s/in/p%d.chunk.%03d' "$work" "$p" "$1")
    [ -s "$chunk" ] || continue
    kcat -P -b "$bootstrap" -t ticks -p "$p" -X enable.idempotence=true -X acks=all <"$chunk" \
      || die "kcat could not produce chunk $1 of partition $p"
  done
}

# The config: the stream tests' ticks pipelines, with a short session
# timeout so a killed member is noticed in seconds.
cfg=$work/ticks.yaml
cat "$stream_it/ticks.yaml" - >"$cfg" <<'YAML'

kafka:
  properties:
    - session.timeout.ms=6000
    - heartbeat.interval.ms=500
YAML
up() { # up NAME: an instance with its own data folder
  TICKS_DATA=$work/$1 "$strata" up -c "$cfg" --broker "kafka://$bootstrap" --no-broker \
    >"$work/$1.log" 2>&1 &
}

# Who holds what shows in the store: every claim of a partition (on each
# assignment) bumps its epoch, from 1.
# shellcheck disable=SC2317  # called through wait_for
claims() { # claims ROWS MIN_EPOCH: every pipeline's partitions claimed that often
  [ "$(q "select count(*) from strata_offsets where topic = 'ticks' and epoch >= $2" 2>/dev/null || echo 0)" -ge "$1" ]
}
produce_chunk 0
up a; a=$!
wait_for 600 claims 12 1 || die "instance a never got the partitions"
produce_chunk 1
up b; b=$!
# A rebalance gave every partition out again, to both members (range: 2 + 1).
wait_for 600 claims 12 2 || die "no rebalance after instance b joined"
for ((i = 2; i < chunks / 2; i++)); do produce_chunk "$i"; sleep 0.2; done
RANDOM=$seed
sleep "0.$(printf '%03d' $((100 + RANDOM % 500)))"
kill -9 "$a"; wait "$a" 2>/dev/null || true; a=
echo "killed instance a"
for ((i = chunks / 2; i < chunks; i++)); do produce_chunk "$i"; sleep 0.2; done

# The survivor takes every partition of every pipeline (claiming them
# again) and catches up, which needs instance a's partitions too.
wait_for 900 claims 12 3 || die "instance b never took over instance a's partitions"
ends=$(/usr/bin/python3 -c '
import sys
print(sum(sum(1 for _ in open(f"{sys.argv[1]}/in/p{p}.ndjson")) for p in range(3)) * 4)' "$work")
wait_for 1800 q_is "select coalesce(sum(next_offset), 0) from strata_offsets where topic = 'ticks'" "$ends" ||
  die "the pipelines did not reach the end offsets ($ends)"
stop "$b" TERM; b=
if grep -q 'stopped:' "$work/b.log"; then die "a pipeline of instance b stopped"; fi

node "$node_dir/ticks.mjs" check "$work/expected.json" "$strata" "$TICKS_STORE" || die "views differ"
read -r valid invalid late_ohlc late_counts < <(node -e '
  const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(e.valid, e.invalid, e.late.ohlc, e.late.counts)' "$work/expected.json")
expect "table rows" "$(q 'select count(*) from ticks')" "$valid"
expect "distinct table rows" "$(q "select count(distinct _partition || ':' || _offset) from ticks")" "$valid"
for p in ohlc counts sessions ticks_table; do
  expect "$p invalid dlq rows" "$(q "select count(*) from dlq where pipeline = '$p' and kind <> 'late'")" "$invalid"
done
expect "ohlc late dlq rows" "$(q "select count(*) from dlq where pipeline = 'ohlc' and kind = 'late'")" "$late_ohlc"
expect "counts late dlq rows" "$(q "select count(*) from dlq where pipeline = 'counts' and kind = 'late'")" "$late_counts"
exit $fail
