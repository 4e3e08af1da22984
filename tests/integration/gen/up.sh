#!/usr/bin/env bash
# The config's `generators` run inside `strata up` (docs/generators.md, "In
# the config"):
#
#   1. a transactions generator (500/s, count 2000, fixed seed and start)
#      feeds a table pipeline: the table ends with the valid records and
#      the dlq with the invalid ones, as many as `strata gen` with the same
#      options reports, and the topic holds exactly the records that
#      `strata gen --stdout` prints for those options; a generator without
#      a count runs until SIGTERM, its seed is the one derived from its
#      name, and its topic holds what its summary line says; a disabled one
#      writes nothing; `strata up` exits 0;
#   2. `--once` runs no generator; `--no-generators` starts none;
#   3. a restart with a fixed start writes the same 2000 records again.
#
# usage: up.sh STRATA
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
export LC_ALL=C STRATA_HTTP_LISTEN=127.0.0.1:0
unset STRATA_DATA_DIR STRATA_STORE_URL STRATA_BROKER_ENABLED STRATA_BROKER_LISTEN
strata=$1
work=$(mktemp -d)
pid=
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  stop "$pid" TERM
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
data=$work/data
store=sqlite:$data/strata.db

cat >"$work/gen.yaml" <<EOF
data: {dir: $data}
store: {url: '$store'}
topics:
  - {name: tx, partitions: 3, schema: transaction}
  - {name: live, partitions: 2, schema: transaction}
  - {name: off, schema: transaction}
schemas:
  - name: transaction
    fields:
      - {name: transaction_id, type: string, required: true, pattern: 'T[0-9]+'}
      - {name: customer_id, type: string, required: true, pattern: 'C[0-9]+'}
      - {name: customer_dob, type: string}
      - {name: gender, type: string, enum: [M, F, T]}
      - {name: location, type: string, max_length: 64}
      - {name: account_balance, type: float}
      - {name: amount, type: float, required: true, min: 0}
      - {name: ts, type: timestamp, format: iso8601, required: true}
    rules:
      - {name: amount_within_reason, check: 'amount < 100000000'}
pipelines:
  - {name: tx_table, kind: table, topic: tx}
generators:
  - name: tx
    kind: transactions
    topic: tx
    rate: 500/s
    count: 2000
    seed: 11
    start: 2026-11-22T13:00:00Z
    invalid_ratio: 0.05
    late_ratio: 0.02
    anomaly_ratio: 0.02
  - {name: live, kind: transactions, topic: live, rate: 200}
  - {name: idle, kind: stocks, topic: off, rate: 100, enabled: false}
EOF
"$strata" check -c "$work/gen.yaml" >/dev/null || fail "strata check refused the config"

records() { "$strata" consume "$1" --from-beginning --data "$data" | wc -l; }

# What the tx generator must write: `strata gen` with the same options (in
# the background: at 500/s it takes 4 s, as strata up does).
"$strata" gen transactions --stdout --count 2000 --seed 11 --start 2026-11-22T13:00:00Z \
  --rate 500/s --invalid-ratio 0.05 --late-ratio 0.02 --anomaly-ratio 0.02 \
  >"$work/want.ndjson" 2>"$work/want.err" &
gen_pid=$!

# --- 1. strata up with its generators ------------------------------------------
"$strata" up -c "$work/gen.yaml" --no-broker >"$work/up.out" 2>"$work/up.err" &
pid=$!
for _ in $(seq 300); do
  grep -q '^strata up: generator tx finished' "$work/up.out" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
grep -q '^strata up: 2 generators running (1 disabled)$' "$work/up.out" ||
  { cat "$work/up.out" "$work/up.err"; fail "no 'strata up: 2 generators running (1 disabled)'"; }
grep -q '^strata up: generator tx finished: 2000 transactions records to tx: ' "$work/up.out" ||
  { cat "$work/up.out" "$work/up.err"; fail "the tx generator did not finish its 2000 records"; }
wait "$gen_pid" || { cat "$work/want.err"; fail "strata gen failed"; }
want=$(sed -n 's/^strata gen: 2000 transactions records to stdout .*: \(normal [0-9]*, invalid [0-9]*, late [0-9]*, anomaly [0-9]*\);.*/\1/p' "$work/want.err")
[ -n "$want" ] || { cat "$work/want.err"; fail "no summary from strata gen"; }
grep -qF "generator tx finished: 2000 transactions records to tx: $want" "$work/up.out" ||
  { cat "$work/up.out"; fail "strata up's counts differ from strata gen's ($want)"; }
invalid=$(echo "$want" | sed 's/.*invalid \([0-9]*\),.*/\1/')
[ "$invalid" -gt 0 ] || fail "the generator made no invalid records"

# The pipeline stores every valid record and sends every invalid one to the dlq.
rows= dlq=
for _ in $(seq 300); do
  rows=$(q 'select count(*) from tx_table' 2>/dev/null || echo 0)
  dlq=$(q "select count(*) from dlq where pipeline = 'tx_table'" 2>/dev/null || echo 0)
  [ $((rows + dlq)) -ge 2000 ] && break
  sleep 0.1
done
[ "$rows" -eq $((2000 - invalid)) ] || fail "tx_table holds $rows rows, want $((2000 - invalid))"
[ "$dlq" -eq "$invalid" ] || fail "the dlq holds $dlq rows of tx_table, want $invalid"
echo "ok: tx_table $rows rows, dlq $dlq rows ($want)"

# The live generator: the seed derived from its name (FNV-1a 64, top bit
# cleared), and a clean stop on SIGTERM.
seed=$(/usr/bin/python3 -c '
h = 0xcbf29ce484222325
for b in b"live":
    h = ((h ^ b) * 0x100000001b3) % 2**64
print(h & (2**63 - 1))')
grep -q "^strata up: generator live: transactions into live at 200/s, seed $seed, start " \
  "$work/up.out" || { cat "$work/up.out"; fail "live: no start line with seed $seed"; }
kill -TERM "$pid" # live has run for the 4 s of tx: some 800 records
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || { cat "$work/up.err"; fail "strata up exited $rc after SIGTERM"; }
live=$(sed -n 's/^strata up: generator live stopped: \([0-9]*\) transactions records to live: .*/\1/p' "$work/up.out")
[ -n "$live" ] && [ "$live" -gt 0 ] || { cat "$work/up.out"; fail "live: no stop summary"; }
[ "$(records live)" -eq "$live" ] || fail "topic live holds $(records live), summary says $live"
[ "$(records off)" -eq 0 ] || fail "the disabled generator wrote to topic off"
! grep -q 'generator idle' "$work/up.out" || fail "the disabled generator was started"
echo "ok: SIGTERM after $live live records; exit 0; idle wrote nothing"

# The topic holds exactly what strata gen printed for the same options.
"$strata" consume tx --from-beginning --data "$data" | sort >"$work/got.sorted"
sort "$work/want.ndjson" >"$work/want.sorted"
cmp -s "$work/got.sorted" "$work/want.sorted" ||
  fail "topic tx differs from strata gen's records ($(wc -l <"$work/got.sorted") lines)"
echo "ok: topic tx = strata gen --stdout with the same seed, start and rate"

# --- 2. --once and --no-generators start no generator ----------------------------
"$strata" up -c "$work/gen.yaml" --once >"$work/once.out" 2>"$work/once.err" ||
  { cat "$work/once.err"; fail "strata up --once failed"; }
! grep -q 'generator' "$work/once.out" || { cat "$work/once.out"; fail "--once ran generators"; }
"$strata" up -c "$work/gen.yaml" --no-broker --no-generators >"$work/no.out" 2>"$work/no.err" &
pid=$!
for _ in $(seq 100); do grep -q 'generators running' "$work/no.out" && break; sleep 0.1; done
grep -q '^strata up: 0 generators running (3 in the config; --no-generators)$' "$work/no.out" ||
  { cat "$work/no.out" "$work/no.err"; fail "--no-generators: no such line"; }
sleep 0.5
kill -TERM "$pid"
wait "$pid" || fail "strata up --no-generators exited $?"
pid=
[ "$(records tx)" -eq 2000 ] && [ "$(records live)" -eq "$live" ] ||
  fail "--once or --no-generators changed the topics"
echo "ok: --once and --no-generators run no generator"

# --- 3. a restart repeats a generator with a fixed start -------------------------
"$strata" up -c "$work/gen.yaml" --no-broker >"$work/up2.out" 2>"$work/up2.err" &
pid=$!
for _ in $(seq 300); do
  grep -q '^strata up: generator tx finished' "$work/up2.out" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || fail "the restarted strata up exited $?"
pid=
grep -qF "generator tx finished: 2000 transactions records to tx: $want" "$work/up2.out" ||
  { cat "$work/up2.out" "$work/up2.err"; fail "the restart did not repeat the tx generator"; }
"$strata" consume tx --from-beginning --data "$data" | sort | uniq -c |
  awk '$1 != 2 { bad++ } END { exit bad > 0 }' || fail "after a restart, not every tx record is there twice"
[ "$(records tx)" -eq 4000 ] || fail "topic tx holds $(records tx) records after a restart"
echo "ok: the restart wrote the same 2000 records again"
echo "up.sh: all checks passed"
