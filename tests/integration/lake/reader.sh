#!/usr/bin/env bash
# strata's Parquet reader on files DuckDB wrote: DuckDB writes every column
# type strata reads (with nulls, NaN, infinities, -0.0, empty, long and
# non-ASCII strings, low-cardinality columns it dictionary-encodes,
# timestamps in micros, millis and nanos, with and without a zone) with
# zstd, snappy and no compression, in one and in many row groups; the
# reader (test_lake_dump) must give exactly the values DuckDB reads back
# from the same files. Files DuckDB writes with PARQUET_VERSION v2
# (DELTA and BYTE_STREAM_SPLIT encodings) and with gzip must be refused
# with an error naming the file and the column.
#
# usage: reader.sh TEST_LAKE_DUMP
set -euo pipefail
dump=$1
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$(cd "$here/../../node" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node "$here/reader.mjs" "$node_dir" "$work" "$dump"
