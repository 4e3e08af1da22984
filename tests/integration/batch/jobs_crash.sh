#!/usr/bin/env bash
# The scheduler under kill -9: a triggered run of a slow SQL job is running
# when `strata up` is killed. At the next start the run is marked failed
# (retrying, error "interrupted") and retried: it completes at attempt 2,
# its output is there exactly once (the killed attempt's transaction never
# committed), and the runs of the job never overlapped.
#
# usage: jobs_crash.sh STRATA
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# The HTTP server of `strata up` on a free port: tests run side by side.
export STRATA_HTTP_LISTEN=127.0.0.1:0
strata=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  stop "$pid" KILL
  rm -rf "$work"
}
trap cleanup EXIT

export JOBS_DATA=$work/data JOBS_STORE=sqlite:$work/data/strata.db JOBS_COUNT=6000000
store=$JOBS_STORE
cfg=$here/jobs.yaml

mkdir -p "$JOBS_DATA"
"$strata" up -c "$cfg" >"$work/up1.log" 2>&1 &
pid=$!
wait_for_q 600 "select count(*) from sqlite_master where name = 'job_runs'" 1 || exit 1
"$strata" jobs trigger slow -c "$cfg" --param from=2026-11-20 --param to=2026-11-21
wait_for_q 600 "select state from job_runs" running || exit 1
sleep 0.3
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=
expect "state after kill -9" "$(q 'select state from job_runs')" running
expect "output after kill -9" "$(q "select count(*) from sqlite_master where name = 'done'")" 0

"$strata" up -c "$cfg" >"$work/up2.log" 2>&1 &
pid=$!
wait_for_q 600 "select state from job_runs" completed || exit 1
expect "attempt" "$(q 'select attempt from job_runs')" 2
expect "runs" "$(q 'select count(*) from job_runs')" 1
expect "output rows" "$(q 'select count(*) from done')" 1
expect "output" "$(q 'select n || "@" || ds from done')" "$JOBS_COUNT@2026-11-20"
grep -q 'interrupted run' "$work/up2.log" || { echo "FAIL: no recovery logged"; cat "$work/up2.log"; fail=1; }

# Two triggers at once: both complete, one after the other.
"$strata" jobs trigger slow -c "$cfg" --param from=2026-11-21 --param to=2026-11-22 >/dev/null
"$strata" jobs trigger slow -c "$cfg" --param from=2026-11-22 --param to=2026-11-23 >/dev/null
wait_for_q 600 "select count(*) from job_runs where state = 'completed'" 3 || exit 1
expect "overlapping runs" "$(q 'select count(*) from job_runs a join job_runs b on a.id < b.id where a.started_at < b.finished_at and b.started_at < a.finished_at')" 0
expect "jobs table" "$(q "select kind from jobs where name = 'slow'")" sql
"$strata" jobs runs slow -c "$cfg" | grep -q completed || { echo "FAIL: jobs runs"; fail=1; }
"$strata" jobs show 1 -c "$cfg" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["state"]=="completed" and r["attempt"]==2 and r["lineage"]["outputs"][1]["rows"]==1, r' || { echo "FAIL: jobs show"; fail=1; }
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=
exit $fail
