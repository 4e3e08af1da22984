#!/usr/bin/env bash
# `strata demo`'s memory: the issue's bound is 128 MiB of resident memory
# for 60 s. The demo starts on free ports with its data in a temporary
# directory; its VmRSS (/proc/PID/status) is sampled every second for 60
# samples from its start, while a client polls what one open dashboard tab
# polls (/api/pipelines, /api/topics, /metrics). Prints every sample and
# the peak; fails if one sample is at or over the bound, or if the demo
# stops on its own. Skipped (77) in sanitizer builds, whose shadow memory
# is not the product's.
#
# usage: demo_memory.sh STRATA [--sanitized]
set -euo pipefail
strata=${1:?usage: demo_memory.sh STRATA [--sanitized]}
if [ "${2:-}" = "--sanitized" ]; then
  echo "SKIP: a sanitizer build's RSS is not strata's"
  exit 77
fi
bound_kib=$((128 * 1024))
samples=60

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -20 "$work/err" >&2 || true; exit 1; }

unset STRATA_HTTP_TOKEN
export STRATA_DEMO_DIR=$work/data STRATA_DEMO_STORE=sqlite:$work/data/strata.db
"$strata" demo --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 >"$work/out" 2>"$work/err" &
pid=$!

rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9][0-9]*\) kB$/\1/p' "/proc/$pid/status" 2>/dev/null; }

peak=0
dash=
for i in $(seq "$samples"); do
  sleep 1
  kill -0 "$pid" 2>/dev/null || fail "strata demo stopped after $i s"
  rss=$(rss_kib)
  [ -n "$rss" ] || fail "no VmRSS for pid $pid"
  [ "$rss" -gt "$peak" ] && peak=$rss
  if [ -z "$dash" ]; then dash=$(sed -n -E 's/^  dashboard +(http:[^ ]+)$/\1/p' "$work/out"); fi
  if [ -n "$dash" ]; then
    for p in api/pipelines api/topics metrics; do curl -s -o /dev/null --max-time 5 "$dash$p" || true; done
  fi
  printf 'demo_memory: %2d s  VmRSS %6d KiB (%5.1f MiB)\n' "$i" "$rss" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')"
  [ "$rss" -lt "$bound_kib" ] || fail "VmRSS $rss KiB at $i s is over the bound of $bound_kib KiB (128 MiB)"
done
[ -n "$dash" ] || fail "the demo printed no banner"
grep -q '"running"' <(curl -s "${dash}api/pipelines") || fail "no pipeline runs at the end"

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?; pid=
[ "$rc" -eq 0 ] || fail "strata demo exited $rc on SIGTERM"
printf 'demo_memory: peak VmRSS over %d s: %d KiB (%.1f MiB); the bound is 128 MiB\n' \
  "$samples" "$peak" "$(awk -v k="$peak" 'BEGIN { print k / 1024 }')"
