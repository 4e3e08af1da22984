#!/usr/bin/env bash
# `strata gen --broker kafka://...` against a real `strata broker` (the
# bus's librdkafka implementation on one side, the Kafka wire protocol on
# the other): usage errors; a missing topic created with --partitions
# through the admin API; the records on the broker are exactly the
# --stdout output of the same seed and start, each in the partition
# murmur2 of its key gives (checked against an independent rendering of
# Kafka's murmur2 and against `strata gen` into an embedded log), in
# generation order, with the event time as the record timestamp (read
# back with kcat); an existing topic appended to; a paced run; a run
# longer than one unlimited-rate flush.
#
# usage: broker.sh STRATA
set -uo pipefail
strata=${1:?usage: broker.sh STRATA}
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
unset STRATA_DATA

fail() { echo "FAIL: $*" >&2; exit 1; }

run() {
  local want=$1
  shift
  "$strata" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    head -c 2000 "$work/out" >&2; head -c 3000 "$work/err" >&2
    fail "strata $* exited $got, expected $want"
  fi
}
err_has() { grep -q -- "$1" "$work/err" || { cat "$work/err" >&2; fail "stderr lacks '$1'"; }; }

# --- usage ----------------------------------------------------------------------
run 2 gen stocks --count 1 --broker 127.0.0.1:9092
err_has "--broker wants kafka://HOST:PORT"
run 2 gen stocks --count 1 --broker kafka://127.0.0.1:9092 --stdout
err_has "--broker and --stdout exclude each other"
run 2 gen stocks --count 1 --kafka-property acks=all
err_has "--kafka-property goes with --broker"
run 2 gen stocks --count 1 --broker kafka://127.0.0.1:9092 --kafka-property acks
err_has "want NAME=VALUE"

# --- a broker on a free port ------------------------------------------------------
"$strata" broker --listen 127.0.0.1:0 --data "$work/broker" >"$work/broker.out" 2>"$work/broker.err" &
pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/broker.out" && break; sleep 0.1; done
port=$(sed -n 's/^strata broker listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$work/broker.out")
[ -n "$port" ] || { cat "$work/broker.err"; fail "strata broker did not start"; }
url=kafka://127.0.0.1:$port

opts=(--count 5000 --seed 3 --start 2026-01-01T00:00:00Z)
run 0 gen stocks "${opts[@]}" --broker "$url"
err_has "created topic stocks with 4 partitions on $url"
err_has "5000 stocks records to topic stocks on $url"
run 0 gen stocks --count 100 --seed 4 --topic other --partitions 3 --broker "$url" \
  --kafka-property client.id=gen-test
err_has "created topic other with 3 partitions"

# Records with partition, timestamp and key, while the broker runs.
for p in 0 1 2 3; do
  kcat -C -b "127.0.0.1:$port" -t stocks -p "$p" -o beginning -e -q \
    -f '%p\t%T\t%k\t%s\n' >"$work/kcat.$p" || fail "kcat -C partition $p"
done
cat "$work"/kcat.[0-3] >"$work/kcat"

# The same run into the embedded log, for strata's own partitioner.
run 0 gen stocks "${opts[@]}" --data "$work/embedded"
"$strata" gen stocks "${opts[@]}" --stdout --with-keys >"$work/stdout" 2>/dev/null ||
  fail "gen --stdout"

/usr/bin/python3 - "$work/stdout" "$work/kcat" <<'PY' || fail "the broker's records differ"
import json, sys
from datetime import datetime, timezone

def murmur2(data):  # Kafka's murmur2 (seed 0x9747b28c), as its Java client
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    n = len(data) // 4 * 4
    for i in range(0, n, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = data[n:]
    if len(rest) >= 3: h ^= rest[2] << 16
    if len(rest) >= 2: h ^= rest[1] << 8
    if len(rest) >= 1:
        h ^= rest[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h

want = {p: [] for p in range(4)}
for line in open(sys.argv[1], "rb"):
    key, value = line.rstrip(b"\n").split(b"\t", 1)
    want[(murmur2(key) & 0x7FFFFFFF) % 4].append((key, value))
got = {p: [] for p in range(4)}
stamps = 0
for line in open(sys.argv[2], "rb"):
    p, ts, key, value = line.rstrip(b"\n").split(b"\t", 3)
    got[int(p)].append((key, value))
    try:
        t = json.loads(value)["ts"]
        when = datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except (ValueError, KeyError, TypeError):
        continue  # an invalid record
    assert int(ts) == round(when.timestamp() * 1000), (ts, t)
    stamps += 1
for p in range(4):
    assert got[p] == want[p], "partition %d: %d records, want %d" % (p, len(got[p]), len(want[p]))
assert sum(len(v) for v in got.values()) == 5000
assert stamps > 4500, stamps
print("ok: 5000 records, murmur2 partitions, %d timestamps checked" % stamps)
PY

# Appending to an existing topic; a paced run.
run 0 gen stocks --count 1000 --seed 9 --rate 2000/s --partitions 2 --broker "$url"
err_has "already has 4 partitions on $url; --partitions 2 ignored"
err_has "1000 stocks records to topic stocks on $url"

# More records than one unlimited-rate flush into a cluster (65,536).
run 0 gen stocks --count 150000 --seed 5 --topic big --partitions 2 --broker "$url"
err_has "150000 stocks records to topic big on $url"

kill -TERM "$pid"
wait "$pid" || fail "strata broker exited $? after SIGTERM"
pid=

# After the broker stopped: its data directory against the embedded run.
for p in 0 1 2 3; do
  "$strata" consume stocks --keys --from-beginning --partition "$p" --data "$work/broker" \
    >"$work/broker.$p" || fail "consume partition $p of the broker's data"
  "$strata" consume stocks --keys --from-beginning --partition "$p" --data "$work/embedded" \
    >"$work/embedded.$p" || fail "consume partition $p of the embedded log"
  n=$(wc -l <"$work/embedded.$p")
  head -n "$n" "$work/broker.$p" | cmp -s - "$work/embedded.$p" ||
    fail "partition $p: the broker's first $n records differ from the embedded log's"
done
[ "$(cat "$work"/broker.[0-3] | wc -l)" -eq 6000 ] || fail "the broker holds not 6000 records"
n=$("$strata" consume big --from-beginning --data "$work/broker" | wc -l)
[ "$n" -eq 150000 ] || fail "topic big holds $n records, not 150000"
echo "ok: the broker's partitions match the embedded log's; 1000 more appended"
echo "broker.sh: all checks passed"
