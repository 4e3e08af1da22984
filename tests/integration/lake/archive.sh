#!/usr/bin/env bash
# The archive sink end to end: generated events (all field types, nulls,
# keyed and unkeyed records, out-of-order, very late and invalid ones) are
# produced into a 3-partition topic, `strata up --once` archives them by
# event time and by arrival, and DuckDB must read back exactly the valid
# records, every value, in the right date/hour folders, with _SUCCESS in
# exactly the hours the watermark has passed (archive.mjs check).
#
# usage: archive.sh STRATA [EVENTS] [SEED]
set -euo pipefail
strata=$1 events=${2:-20000} seed=${3:-7}
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$(cd "$here/../../node" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# No broker, no HTTP server: nothing listens (the ports may be taken).
export STRATA_HTTP_ENABLED=false
export ARC_DATA=$work/data

node "$here/archive.mjs" gen "$work/in" "$events" 3 1 "$seed"
"$strata" check -c "$here/archive.yaml" >/dev/null
"$strata" topics create events --partitions 3 --data "$ARC_DATA" >/dev/null
from=$(date +%s%3N)
"$here/archive_produce.sh" "$strata" "$ARC_DATA" "$work/in/c000"
to=$(date +%s%3N)
"$strata" up -c "$here/archive.yaml" --once

fail=0
node "$here/archive.mjs" check "$node_dir" "$work/in" "$ARC_DATA/lake" events event_time 120000 "$from" "$to" || fail=1
node "$here/archive.mjs" check "$node_dir" "$work/in" "$ARC_DATA/lake_arrival" events arrival 0 "$from" "$to" || fail=1
left=$(find "$ARC_DATA/lake" "$ARC_DATA/lake_arrival" -name '*.tmp' | wc -l)
if [ "$left" -ne 0 ]; then echo "FAIL: $left temporary files left"; fail=1; fi
exit $fail
