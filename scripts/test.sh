#!/usr/bin/env bash
# Sets up, builds and runs every test: the release build (gcc) and the
# sanitizer build (clang, ASan + UBSan). Prints "N passed, N failed" last and
# exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

# Servers that `strata up` starts listen on free ports: tests run two at a
# time, and the defaults (9092, 8080) may be taken on this machine.
export STRATA_HTTP_LISTEN=127.0.0.1:0

passed=0
failed=0
for flavour in release asan; do
  echo "== build $flavour"
  bash scripts/build.sh "$flavour" || { echo "build $flavour failed"; echo "0 passed, 1 failed"; exit 1; }
  echo "== test $flavour"
  log=$(mktemp)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "build/$flavour" --output-on-failure -j 2 --timeout 600 2>&1 | tee "$log"
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  rm -f "$log"
  if [ -z "$line" ]; then
    echo "ctest ($flavour) did not report a summary"
    failed=$((failed + 1))
    continue
  fi
  nfail=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  ntotal=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + ntotal - nfail))
  failed=$((failed + nfail))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
