# shellcheck shell=bash
# Helpers shared by the integration scripts. Source it, after
# `set -euo pipefail`, with a path relative to the script:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#
# It provides:
#   expect WHAT GOT WANT   prints "ok: WHAT = GOT", or "FAIL: WHAT: got 'GOT',
#                          want 'WANT'" and sets fail=1; returns 0 either
#                          way, so a failed check does not trip set -e and
#                          the script goes on to the next one.
#   expect_in WHAT TEXT FILE
#                          prints "ok: WHAT", or "FAIL: WHAT" with FILE's
#                          content and sets fail=1, as TEXT is in FILE
#                          (a fixed string) or not; returns 0 either way.
#   q SQL                  the first column of the first row of SQL in the
#                          store $store; nothing when there is no row.
#   q_is SQL WANT          whether q SQL prints WANT.
#   wait_for TENTHS CMD... runs CMD every 0.1 s until it succeeds; returns 1
#                          if it has not after TENTHS tries.
#   wait_for_q TENTHS SQL WANT
#                          wait_for q_is; on a timeout prints a FAIL line
#                          with the last value and returns 1.
#   stop PID SIGNAL        sends SIGNAL to PID and reaps it; nothing if PID
#                          is empty (for cleanup traps).
#   broker_port LOG        the port of the "strata broker listening on
#                          127.0.0.1:PORT" line in LOG; fails if there is
#                          none yet.
#   iso MS                 epoch milliseconds as an ISO 8601 UTC time.
#
# Variables:
#   fail   set to 0 here and to 1 by expect: end the script with exit $fail.
#   store  read by q: the strata store URL, sqlite:PATH (read with Python's
#          sqlite3, NULL printed as None) or a PostgreSQL URL (read with psql,
#          NULL printed as nothing). Set it before the first q.

fail=0

# shellcheck disable=SC2034  # fail is read by the sourcing script
expect() {
  if [ "$2" != "$3" ]; then
    echo "FAIL: $1: got '$2', want '$3'"
    fail=1
  else
    echo "ok: $1 = $2"
  fi
}

# shellcheck disable=SC2034  # fail is read by the sourcing script
expect_in() {
  if grep -qF -- "$2" "$3"; then
    echo "ok: $1"
  else
    echo "FAIL: $1: '$2' is not in $3:"
    cat "$3"
    fail=1
  fi
}

q() {
  case ${store:?lib.sh: set store to the store URL before calling q} in
    sqlite:*)
      /usr/bin/python3 -c '
import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()
print("" if r is None else r[0])' "${store#sqlite:}" "$1"
      ;;
    *) psql -X -A -t -q -d "$store" -c "$1" ;;
  esac
}

q_is() { [ "$(q "$1")" = "$2" ]; }

wait_for() {
  local n=$1 i
  shift
  for ((i = 0; i < n; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

wait_for_q() {
  local n=$1
  shift
  wait_for "$n" q_is "$1" "$2" && return 0
  echo "FAIL: timed out waiting for [$1] = $2 (have '$(q "$1")')"
  return 1
}

stop() {
  if [ -n "$1" ]; then
    kill "-$2" "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}

broker_port() {
  local port
  port=$(sed -n 's/^strata broker listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1")
  [ -n "$port" ] && echo "$port"
}

iso() { date -u -d "@$(($1 / 1000))" +%Y-%m-%dT%H:%M:%SZ; }
