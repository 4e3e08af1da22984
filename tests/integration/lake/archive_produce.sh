#!/usr/bin/env bash
# Produces one cycle of archive.mjs's chunk files into topic `events`, in
# order: p<N>.<seq>.k.ndjson keyed by the id (--key-field id), .n. files
# without keys, each into partition N.
#
# usage: archive_produce.sh STRATA DATA_DIR CYCLE_DIR
set -euo pipefail
strata=$1 data=$2 dir=$3
err=$(mktemp)
trap 'rm -f "$err"' EXIT
for name in $(ls "$dir" | sort); do
  p=${name#p}; p=${p%%.*}
  key=()
  case "$name" in *.k.ndjson) key=(--key-field id) ;; esac
  "$strata" produce events --partition "$p" "${key[@]}" --data "$data" <"$dir/$name" >/dev/null 2>"$err" ||
    { cat "$err"; echo "FAIL: producing $dir/$name"; exit 1; }
done
