#!/usr/bin/env bash
# The archive sink under kill -9: archive.mjs's events arrive in CYCLES
# chunks; after each chunk `strata up` runs and is killed with SIGKILL at a
# random moment, files open and closing (small rolls, frequent commits).
# A last `strata up --once` finishes. Then every valid record must be in
# exactly one file, with its values (archive.mjs check: count(*) =
# count(distinct (_partition, _offset)) = the valid records), every file
# readable and named after its first offset, no temporary file left, and
# _SUCCESS in exactly the hours the final watermark has passed.
#
# usage: archive_crash.sh STRATA [CYCLES] [EVENTS] [SEED]
set -euo pipefail
strata=$1 cycles=${2:-12} events=${3:-30000} seed=${4:-5}
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$(cd "$here/../../node" && pwd)
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# No broker, no HTTP server: nothing listens (the ports may be taken).
export STRATA_HTTP_ENABLED=false
export ARC_DATA=$work/data ARC_ROLL_ROWS=300 ARC_ROLL_AGE=1s ARC_COMMIT=20ms

node "$here/archive.mjs" gen "$work/in" "$events" 3 "$cycles" "$seed"
"$strata" topics create events --partitions 3 --data "$ARC_DATA" >/dev/null
from=$(date +%s%3N)
RANDOM=$seed
interrupted=0 # cycles killed with a file still being written or not yet published
for ((i = 0; i < cycles; i++)); do
  "$here/archive_produce.sh" "$strata" "$ARC_DATA" "$(printf '%s/in/c%03d' "$work" "$i")"
  "$strata" up -c "$here/archive.yaml" --no-broker >"$work/up.log" 2>&1 &
  pid=$!
  # Kill while it archives: after the start (slow under sanitizers), at a
  # random moment.
  for _ in $(seq 200); do grep -q '^strata up:' "$work/up.log" && break; sleep 0.05; done
  sleep "0.$(printf '%03d' $((30 + RANDOM % 600)))"
  if ! kill -9 "$pid" 2>/dev/null; then
    echo "FAIL: cycle $i: strata up exited by itself:"; cat "$work/up.log"; exit 1
  fi
  wait "$pid" 2>/dev/null || true
  pid=
  if grep -qE 'stopped:|AddressSanitizer|runtime error:' "$work/up.log"; then
    echo "FAIL: cycle $i: a pipeline stopped, or a sanitizer spoke:"; cat "$work/up.log"; exit 1
  fi
  # (a lake folder the killed run had not made yet is no error: || true)
  tmp=$(find "$ARC_DATA/lake" "$ARC_DATA/lake_arrival" -path '*/_staging/*' -name '*.tmp' 2>/dev/null | wc -l || true)
  if [ "$tmp" -gt 0 ]; then interrupted=$((interrupted + 1)); fi
done
files=$(find "$ARC_DATA/lake" -name '*.parquet' 2>/dev/null | wc -l || true)
"$strata" up -c "$here/archive.yaml" --once >/dev/null
to=$(date +%s%3N)

fail=0
node "$here/archive.mjs" check "$node_dir" "$work/in" "$ARC_DATA/lake" events event_time 120000 "$from" "$to" || fail=1
node "$here/archive.mjs" check "$node_dir" "$work/in" "$ARC_DATA/lake_arrival" events arrival 0 "$from" "$to" || fail=1
left=$(find "$ARC_DATA/lake" "$ARC_DATA/lake_arrival" -name '*.tmp' | wc -l)
if [ "$left" -ne 0 ]; then echo "FAIL: $left temporary files left"; fail=1; fi
# The kills must have hit the archive at work: files published before the
# last run, and cycles that died with files unfinished.
if [ "$files" -eq 0 ]; then echo "FAIL: no file was published before the final run"; fail=1; fi
if [ "$interrupted" -eq 0 ]; then echo "FAIL: no kill interrupted a file"; fail=1
else echo "ok: $interrupted of $cycles kills left files unfinished; $files files published by then"; fi
exit $fail
