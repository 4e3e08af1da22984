#!/usr/bin/env bash
# `strata gen` as a user runs it: help and usage errors; --stdout output
# that is the same for the same seed and start and differs for another
# seed; --start; --with-keys; a missing topic created with --partitions;
# an existing topic appended to; SIGINT and SIGTERM stop cleanly with a
# summary that matches what reached the topic (or stdout); a closed pipe
# is not an error.
#
# usage: cli.sh STRATA
set -uo pipefail
# The HTTP server of `strata up` on a free port: tests run side by side.
export STRATA_HTTP_LISTEN=127.0.0.1:0
strata=${1:?usage: cli.sh STRATA}
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export STRATA_DATA=$work/data

fail() { echo "FAIL: $*" >&2; exit 1; }

# run WANT CMD...: strata with stdout/stderr in $work/out, $work/err.
run() {
  local want=$1
  shift
  "$strata" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    head -c 2000 "$work/out" >&2; head -c 2000 "$work/err" >&2
    fail "strata $* exited $got, expected $want"
  fi
}
err_has() { grep -q -- "$1" "$work/err" || { cat "$work/err" >&2; fail "stderr lacks '$1'"; }; }
# produced: the record count of the summary line in $work/err.
produced() { sed -nE 's/^strata gen: ([0-9]+) .* records .*/\1/p' "$work/err"; }
count_topic() { "$strata" consume "$1" --from-beginning | wc -l; }

# --- help and usage ---------------------------------------------------------
run 0 gen --help
grep -q "Kinds: transactions stocks app web clickstream cdc external nexmark" "$work/out" ||
  fail "--help does not list the kinds"
run 0 --help
grep -q "^  gen " "$work/out" || fail "strata --help does not list gen"
run 2 gen
err_has "missing the KIND"
run 2 gen stonks --stdout --count 1
err_has "unknown kind 'stonks' (kinds: transactions, stocks"
run 2 gen stocks --invalid-ratio 2
err_has "need a number from 0 to 1"
run 2 gen stocks --invalid-ratio 0.5 --late-ratio 0.4 --anomaly-ratio 0.3 --stdout
err_has "sum to"
run 2 gen stocks --rate fast
err_has "--rate"
run 2 gen stocks --with-keys
err_has "--with-keys goes with --stdout"
run 2 gen stocks extra
err_has "unexpected argument 'extra'"
run 2 gen stocks --start yesterday
err_has "not ISO 8601"

# --- stdout: deterministic per seed and start ---------------------------------
opts=(--count 2000 --start 2026-01-01T00:00:00Z --stdout)
for kind in transactions stocks app web clickstream cdc external nexmark; do
  "$strata" gen "$kind" --seed 5 "${opts[@]}" >"$work/a" 2>/dev/null || fail "$kind: gen failed"
  "$strata" gen "$kind" --seed 5 "${opts[@]}" >"$work/b" 2>/dev/null
  "$strata" gen "$kind" --seed 6 "${opts[@]}" >"$work/c" 2>/dev/null
  [ "$(wc -l <"$work/a")" -eq 2000 ] || fail "$kind: not 2000 lines"
  cmp -s "$work/a" "$work/b" || fail "$kind: the same seed gave different output"
  cmp -s "$work/a" "$work/c" && fail "$kind: another seed gave the same output"
done
echo "ok: --stdout is deterministic for all kinds"

run 0 gen stocks --count 1 --seed 1 --start 2026-01-01T00:00:00Z --stdout --invalid-ratio 0 \
  --late-ratio 0 --anomaly-ratio 0
grep -q '"ts":"2026-01-01T00:00:00.000Z"' "$work/out" || fail "--start ISO 8601 not applied"
cp "$work/out" "$work/iso"
run 0 gen stocks --count 1 --seed 1 --start 1767225600000 --stdout --invalid-ratio 0 \
  --late-ratio 0 --anomaly-ratio 0
cmp -s "$work/out" "$work/iso" || fail "--start in ms differs from the same ISO time"

run 0 gen stocks --count 100 --seed 2 --stdout --with-keys --invalid-ratio 0
/usr/bin/python3 - "$work/out" <<'PY' || fail "--with-keys: key and symbol disagree"
import json, sys
for line in open(sys.argv[1]):
    key, value = line.rstrip("\n").split("\t")
    assert json.loads(value)["symbol"] == key, line
PY
run 0 gen stocks --count 0 --stdout
[ -s "$work/out" ] && fail "--count 0 printed records"
[ "$(produced)" = 0 ] || fail "--count 0: summary says $(produced)"

# A reader that goes away is not an error.
"$strata" gen nexmark --stdout --rate max 2>"$work/err" | head -n 5 >/dev/null
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "gen into a closed pipe failed"
grep -q "records to stdout" "$work/err" || fail "no summary after the pipe closed"

# --- into a topic -------------------------------------------------------------
run 0 gen app --topic a --count 1000 --partitions 3
err_has "created topic a with 3 partitions"
[ "$(produced)" = 1000 ] || fail "summary says $(produced), want 1000"
"$strata" topics describe a >"$work/desc" || fail "describe a"
grep -qE '^partitions +3$' "$work/desc" || fail "topic a does not have 3 partitions"
[ "$(count_topic a)" -eq 1000 ] || fail "topic a does not hold 1000 records"
run 0 gen app --topic a --count 500 --partitions 5
err_has "already has 3 partitions"
[ "$(count_topic a)" -eq 1500 ] || fail "topic a does not hold 1500 records"
run 0 gen cdc --count 10
err_has "to topic customers_cdc"

# --- SIGINT and SIGTERM ---------------------------------------------------------
"$strata" gen stocks --topic live --rate 500/s >"$work/out" 2>"$work/err" &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid" || fail "gen exited $? after SIGINT"
pid=
n=$(produced)
[ -n "$n" ] && [ "$n" -gt 0 ] || { cat "$work/err"; fail "no records before SIGINT"; }
[ "$(count_topic live)" -eq "$n" ] || fail "topic live holds $(count_topic live), summary $n"
echo "ok: SIGINT after $n records"

"$strata" gen web --stdout --rate 2000 >"$work/lines" 2>"$work/err" &
pid=$!
sleep 1
kill -TERM "$pid"
wait "$pid" || fail "gen --stdout exited $? after SIGTERM"
pid=
n=$(produced)
[ "$(wc -l <"$work/lines")" -eq "$n" ] || fail "stdout has $(wc -l <"$work/lines") lines, summary $n"
echo "ok: SIGTERM after $n records"
# --- --stdout --with-keys through a running platform's broker (kcat) -------
# Keys must land where strata's own partitioner puts them, so kcat is told
# to use murmur2 as Kafka's Java client does.
root=$(cd "$(dirname "$0")/../../.." && pwd)
export STRATA_DATA_DIR=$work/up STRATA_STORE_URL=sqlite:$work/up/strata.db
"$strata" up -c "$root/examples/stocks.yaml" --listen 127.0.0.1:0 --no-generators >"$work/up.out" 2>"$work/up.err" &
pid=$!
for _ in $(seq 100); do grep -q '^strata up:' "$work/up.out" && break; sleep 0.1; done
port=$(sed -n 's/^strata broker listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$work/up.out")
[ -n "$port" ] || { cat "$work/up.err"; fail "strata up did not start"; }
"$strata" gen stocks --count 3000 --seed 8 --stdout --with-keys 2>"$work/err" |
  kcat -P -b "127.0.0.1:$port" -t stocks -K $'\t' -z none -X topic.partitioner=murmur2_random ||
  fail "kcat failed"
kill -TERM "$pid"
wait "$pid" || true
pid=
"$strata" consume stocks --keys --from-beginning --data "$work/up" >"$work/got" ||
  fail "consume after kcat"
[ "$(wc -l <"$work/got")" -eq 3000 ] || fail "the broker got $(wc -l <"$work/got") records, not 3000"
for p in 0 1 2 3; do
  "$strata" consume stocks --keys --from-beginning --partition $p --data "$work/up" |
    cut -f1 | sort -u >"$work/keys.$p"
done
[ -z "$(sort "$work"/keys.* | uniq -d)" ] || fail "a key landed in two partitions"
echo "ok: 3000 records through kcat, each key in one partition"
echo "cli.sh: all checks passed"
