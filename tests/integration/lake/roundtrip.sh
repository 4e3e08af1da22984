#!/usr/bin/env bash
# Round trip of the Parquet writer through an independent reader: the test
# program writes every case (all column types with nulls, all codecs,
# dictionary on and off and its fallback, tiny, many-page, size-rolled and
# empty files) with a manifest of every value, and the reader's checker
# compares values, statistics, schema and layout.
#
# usage: roundtrip.sh duckdb|hyparquet TEST_LAKE_FILES
set -euo pipefail
reader=$1
writer=$2
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$(cd "$here/../../node" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$writer" "$work"
case "$reader" in
  duckdb) node "$here/check_duckdb.mjs" "$node_dir" "$work" ;;
  hyparquet) node "$here/check_hyparquet.mjs" "$node_dir" "$work" "$writer" ;;
  *) echo "roundtrip.sh: unknown reader '$reader'" >&2; exit 2 ;;
esac
