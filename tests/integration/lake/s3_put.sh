#!/usr/bin/env bash
# The S3 client (src/lake/s3.c) against s3rver behind the SigV4-checking
# gateway (s3_server.mjs), on 127.0.0.1 at free ports: the gateway's own
# refusals first (s3_check.mjs selftest: a wrong secret, a wrong payload
# hash, an unknown key id), then test_lake_s3_put's puts, each object
# fetched back and compared byte for byte, its refusals (a wrong secret, an
# unknown bucket), a put that succeeds after two 503s, and one that gives up
# after max_attempts 503s. The servers are stopped however the test ends.
#
# usage: s3_put.sh TEST_LAKE_S3_PUT
set -euo pipefail
put=$1
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$(cd "$here/../../node" && pwd)
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
key=AKIDSTRATATEST secret='strata/Test+Secret0123456789abcdefghij'

# Starts s3_server.mjs with extra options; sets $port.
start_server() {
  local name=$1; shift
  node "$here/s3_server.mjs" "$node_dir" "$work/$name" lake "$key" "$secret" "$@" \
    >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  port=
  for _ in $(seq 200); do
    port=$(awk '/^port /{print $2}' "$work/$name.out" 2>/dev/null || true)
    [ -n "$port" ] && break
    sleep 0.05
  done
  if [ -z "$port" ]; then echo "FAIL: $name did not start"; cat "$work/$name.log"; exit 1; fi
}

fail=0
start_server main
ep=http://127.0.0.1:$port
node "$here/s3_check.mjs" selftest "$ep" lake "$key" "$secret" || fail=1
mkdir -p "$work/files"
"$put" basic "$ep" lake "$key" "$secret" "$work/files" >"$work/basic.out" || fail=1
grep FAIL "$work/basic.out" || true
objects=0
while IFS=$'\t' read -r k f; do
  case "$k" in FAIL*) continue ;; esac
  node "$here/s3_check.mjs" object "$ep" lake "$key" "$secret" "$k" "$f" || fail=1
  objects=$((objects + 1))
done <"$work/basic.out"
if [ "$objects" -ne 4 ]; then echo "FAIL: $objects objects put, expected 4"; fail=1; fi
listed=$(node "$here/s3_check.mjs" list "$ep" lake "$key" "$secret" "" | wc -l)
if [ "$listed" -ne 4 ]; then echo "FAIL: the bucket lists $listed objects, expected 4"; fail=1; fi
if grep -q "$secret" "$work/main.log" "$work/basic.out"; then echo "FAIL: the secret was printed"; fail=1; fi

start_server retry --fail-first 2
"$put" retry "http://127.0.0.1:$port" lake "$key" "$secret" "$work/files" >"$work/retry.out" || fail=1
grep FAIL "$work/retry.out" || true
n503=$(grep -c '503 (injected)' "$work/retry.log" || true)
if [ "$n503" -ne 2 ]; then echo "FAIL: retry: $n503 injected 503s, expected 2"; fail=1; fi
node "$here/s3_check.mjs" object "http://127.0.0.1:$port" lake "$key" "$secret" retry/t+0+0.parquet \
  "$work/files/retry" || fail=1

start_server giveup --down
"$put" giveup "http://127.0.0.1:$port" lake "$key" "$secret" "$work/files" || fail=1
n503=$(grep -c '503 (injected)' "$work/giveup.log" || true)
if [ "$n503" -ne 3 ]; then echo "FAIL: giveup: $n503 attempts, expected 3"; fail=1; fi

[ $fail -eq 0 ] && echo "s3_put: ok"
exit $fail
