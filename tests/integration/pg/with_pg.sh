#!/usr/bin/env bash
# with_pg.sh CMD ARGS...: runs CMD against a throwaway PostgreSQL cluster.
#
# Starts a cluster (pg.sh start) in a fresh temporary directory, exports
# STRATA_TEST_PG_URL (the connection URL) and STRATA_TEST_PG_DIR (the
# cluster directory, for pg.sh kill/restart), runs CMD, and always stops and
# removes the cluster, on success, failure or signal. Exits with CMD's code.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 1 ] || { echo "usage: with_pg.sh CMD ARGS..." >&2; exit 2; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/strata-pg.XXXXXX")
child=
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null || true
        wait "$child" 2>/dev/null || true
    fi
    "$here/pg.sh" stop "$dir" || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

url=$("$here/pg.sh" start "$dir")
export STRATA_TEST_PG_URL=$url
export STRATA_TEST_PG_DIR=$dir
export STRATA_TEST_PG_SH=$here/pg.sh

# CMD runs in the background so a signal reaches the traps at once (bash
# defers traps while a foreground child runs); cleanup stops it first.
status=0
"$@" &
child=$!
wait "$child" || status=$?
child=
exit "$status"
