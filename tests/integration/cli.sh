#!/usr/bin/env bash
# Integration test of the strata command line: real processes on a real data
# directory. Usage: cli.sh /path/to/strata
#
# Each check runs the binary in a fresh process, so every consume also proves
# that what produce wrote survives a close and a reopen.
set -uo pipefail

STRATA=${1:?usage: cli.sh /path/to/strata}
[ -x "$STRATA" ] || { echo "cli.sh: $STRATA is not executable" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export STRATA_DATA="$tmp/data"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# run WANT_EXIT CMD...: runs strata, keeps stdout/stderr in $tmp/out, $tmp/err.
run() {
    local want=$1
    shift
    "$STRATA" "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "--- stdout" >&2; head -c 2000 "$tmp/out" >&2
        echo "--- stderr" >&2; head -c 2000 "$tmp/err" >&2
        fail "strata $* exited $got, expected $want"
    fi
}

err_has() {
    grep -q -- "$1" "$tmp/err" || { cat "$tmp/err" >&2; fail "stderr lacks '$1' ($2)"; }
}

# --- usage, help, version ---------------------------------------------------
run 0 --help
grep -q "usage: strata" "$tmp/out" || fail "--help prints no usage"
run 0 -V
grep -qx "strata [0-9][0-9.]*" "$tmp/out" || fail "-V prints '$(cat "$tmp/out")'"
run 2 frobnicate
err_has "unknown command" "unknown command"
run 2
run 2 --no-such-option
run 0 produce --help
run 0 consume -h
run 0 topics create --help
run 0 help topics
run 2 topics
run 2 topics create
run 2 topics create t --partitions zero
run 2 consume
run 2 consume t --from-beginning --offset 3
run 2 consume t -n

# Read-only commands do not create a data directory.
run 1 topics list
[ -e "$STRATA_DATA" ] && fail "topics list created the data directory"

# --- topics -----------------------------------------------------------------
run 0 topics create orders --partitions 3 --flush always
run 0 topics create events
run 0 topics list
printf 'events\norders\n' | diff - "$tmp/out" >/dev/null || fail "topics list printed: $(cat "$tmp/out")"
run 0 topics describe orders
grep -q "partitions *3" "$tmp/out" || fail "describe lacks the partition count"
grep -q "flush *always" "$tmp/out" || fail "describe lacks the flush policy"
[ "$(grep -c ' ok$' "$tmp/out")" -eq 3 ] || fail "describe does not show 3 ok partitions"
run 1 topics create orders
err_has "already" "duplicate create"
run 1 topics describe nosuch
err_has "nosuch" "unknown topic named"
run 1 topics create "bad name"
err_has "bad name" "bad name: space"
err_has "character" "bad name: the reason"
run 1 topics create ..
err_has "'.' or '..'" "bad name: .."
run 1 topics create "$(printf 'a%.0s' {1..250})"
err_has "limit is 249" "bad name: 250 characters"
# 249 characters, the longest name Kafka allows, must work.
run 0 topics create "$(printf 'a%.0s' {1..249})"
run 1 topics create bad --segment-bytes 10
err_has "segment.bytes" "config check"
run 0 topics delete events
run 0 topics list
grep -qx events "$tmp/out" && fail "events still listed after delete"
run 1 topics delete events
run 1 produce events </dev/null

# --- produce and consume, byte for byte ------------------------------------
run 0 topics create lines
{
    for i in $(seq 1 996); do printf 'line %d\tvalue "%d" ü €\n' "$i" $((i * 7)); done
    printf '\n'               # an empty value
    printf '   \n'            # spaces only
    printf '{"k": 1}\n'
    printf 'last\n'
} >"$tmp/in"
[ "$(wc -l <"$tmp/in")" -eq 1000 ] || fail "test input is not 1000 lines"
run 0 produce lines --batch 64 <"$tmp/in"
err_has "produced 1000 records to lines" "produce summary"
run 0 consume lines --from-beginning
cmp -s "$tmp/in" "$tmp/out" || { diff "$tmp/in" "$tmp/out" | head >&2; fail "consume differs from input"; }
# Default start is the log end: nothing to print.
run 0 consume lines
[ -s "$tmp/out" ] && fail "consume without a start offset printed records"

# Every codec round-trips; --offset lands inside a compressed batch.
for codec in gzip snappy lz4 zstd; do
    run 0 topics create "z-$codec"
    run 0 produce "z-$codec" --compression "$codec" --batch 300 <"$tmp/in"
    run 0 consume "z-$codec" --from-beginning
    cmp -s "$tmp/in" "$tmp/out" || fail "$codec: consume differs from input"
    run 0 consume "z-$codec" --offset 450 -n 2
    sed -n '451,452p' "$tmp/in" | cmp -s - "$tmp/out" || fail "$codec: --offset 450 printed: $(cat "$tmp/out")"
done
run 2 produce lines --compression brotli </dev/null

# CRLF is stripped; a last line without a newline is still a record.
printf 'a\r\nb\nc' | "$STRATA" produce lines 2>/dev/null || fail "produce CRLF input"
run 0 consume lines --offset 1000
printf 'a\nb\nc\n' | cmp -s - "$tmp/out" || fail "CRLF/unterminated lines: $(od -c "$tmp/out" | head -3)"

# --- --offset and -n ------------------------------------------------------
run 0 consume lines --offset 10 -n 3
sed -n '11,13p' "$tmp/in" | cmp -s - "$tmp/out" || fail "--offset 10 -n 3 printed: $(cat "$tmp/out")"
run 0 consume lines --from-beginning -n 5
head -n 5 "$tmp/in" | cmp -s - "$tmp/out" || fail "-n 5 printed: $(cat "$tmp/out")"
run 1 consume lines --offset 5000
err_has "offset 5000 out of range \[0, 1003) for lines-0" "out-of-range offset"
run 2 consume orders --offset 0
run 1 consume orders --partition 3 --from-beginning

# --- --key-field placement -------------------------------------------------
run 0 topics create keyed --partitions 4
for i in $(seq 1 400); do
    k=$((i % 23))
    if [ $((i % 2)) -eq 0 ]; then
        printf '{"n": %d, "s": "a,b}\\"", "nested": {"user": "x", "a": [1, "]"]}, "user": "u%d"}\n' "$i" "$k"
    else
        printf '{"user" : "u%d", "n": %d}\n' "$k" "$i"
    fi
done >"$tmp/keyed"
run 0 produce keyed --key-field user --batch 7 <"$tmp/keyed"
for p in 0 1 2 3; do
    run 0 consume keyed --partition "$p" --from-beginning --keys
    cut -f1 "$tmp/out" | sort -u | sed "s/\$/ $p/" >>"$tmp/placement"
done
[ "$(wc -l <"$tmp/placement")" -eq 23 ] || fail "23 keys map to $(wc -l <"$tmp/placement") key/partition pairs"
[ "$(cut -d' ' -f2 "$tmp/placement" | sort -u | wc -l)" -gt 1 ] || fail "all keys landed in one partition"
# Every record, in per-key order.
run 0 consume keyed --from-beginning
[ "$(wc -l <"$tmp/out")" -eq 400 ] || fail "keyed topic holds $(wc -l <"$tmp/out") records, not 400"

# Kafka's default partitioner: murmur2("foobar") -> 2, ("abc") -> 3 of 4.
run 0 topics create kafkakeys --partitions 4
printf '{"id":"foobar"}\n{"id":"abc"}\n{"id":"a\\u0062c"}\n' | "$STRATA" produce kafkakeys --key-field id 2>/dev/null ||
    fail "produce kafkakeys"
run 0 consume kafkakeys --partition 2 --from-beginning --keys
printf 'foobar\t{"id":"foobar"}\n' | cmp -s - "$tmp/out" || fail "foobar not in partition 2: $(cat "$tmp/out")"
run 0 consume kafkakeys --partition 3 --from-beginning --keys
[ "$(cut -f1 "$tmp/out" | sort -u)" = "abc" ] || fail "abc (and its \\u escape) not in partition 3: $(cat "$tmp/out")"

# A line that is not JSON, or lacks the key: the records before it stay.
printf '{"user":"a"}\n{"user":"b"}\nnot json\n{"user":"c"}\n' >"$tmp/badjson"
run 1 produce keyed --key-field user <"$tmp/badjson"
err_has "line 3" "bad JSON line number"
err_has "2 records before line 3 were appended" "bad JSON: what stays"
printf '{"user":"d"}\n{"other":1}\n' >"$tmp/nokey"
run 1 produce keyed --key-field user <"$tmp/nokey"
err_has 'line 2' "missing key line number"
err_has 'no top-level field "user"' "missing key reason"
run 0 consume keyed --from-beginning
[ "$(wc -l <"$tmp/out")" -eq 403 ] || fail "after the bad lines the topic holds $(wc -l <"$tmp/out") records, not 403"
grep -q '"user":"c"' "$tmp/out" && fail "a record after the bad line was appended"

# --- the message cap ---------------------------------------------------------
run 0 topics create small --max-message-bytes 2048
{ echo short; head -c 3000 /dev/zero | tr '\0' x; echo; echo after; } >"$tmp/big"
run 1 produce small <"$tmp/big"
err_has "line 2" "over-cap line number"
err_has "max.message.bytes" "over-cap reason"
run 0 consume small --from-beginning
[ "$(cat "$tmp/out")" = short ] || fail "over-cap produce left: $(head -c 100 "$tmp/out")"
# Just under the cap but too big once batch headers are added: refused too.
head -c 2040 /dev/zero | tr '\0' y >"$tmp/near"
run 1 produce small <"$tmp/near"
err_has "line 1" "near-cap line number"

# --- reopen: a new process sees everything, describe agrees -------------------
run 0 topics describe lines
grep -Eq '^ +0 +0 +1003 ' "$tmp/out" || fail "describe lines after reopen: $(cat "$tmp/out")"
run 0 consume lines --from-beginning -n 1000
cmp -s "$tmp/in" "$tmp/out" || fail "data changed across reopens"

# --- --data beats STRATA_DATA -----------------------------------------------
run 0 --data "$tmp/other" topics create elsewhere
run 0 topics list --data "$tmp/other"
[ "$(cat "$tmp/out")" = elsewhere ] || fail "--data not honoured: $(cat "$tmp/out")"

echo "cli.sh: all checks passed"
