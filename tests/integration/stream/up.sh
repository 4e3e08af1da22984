#!/usr/bin/env bash
# `strata up -c examples/stocks.yaml` end to end: ticks fed by `strata
# produce` before the start, and by kcat through the embedded broker while
# it runs, must show up as the right per-minute OHLC rows in the store
# (SQLite, or PostgreSQL when STRATA_TEST_PG_URL is set). `strata check`
# accepts every example config.
#
# usage: up.sh STRATA
set -euo pipefail
# The HTTP server of `strata up` on a free port: tests run side by side.
export STRATA_HTTP_LISTEN=127.0.0.1:0
strata=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

for f in "$root"/examples/*.yaml; do "$strata" check -c "$f" >/dev/null; done

export STRATA_DATA_DIR=$work/data
export STRATA_STORE_URL=${STRATA_TEST_PG_URL:-sqlite:$work/data/strata.db}
"$strata" topics create stocks --partitions 4 --data "$STRATA_DATA_DIR" >/dev/null

# Three symbols, three minutes, one tick every 5 s, in order. Prices follow
# a fixed pattern so the expected bars are easy to compute.
/usr/bin/python3 - "$work" <<'PY'
import json, sys, datetime
work = sys.argv[1]
base = datetime.datetime(2026, 11, 22, 13, 0, tzinfo=datetime.timezone.utc)
first, second = [], []
for i in range(36):  # 3 minutes
    for j, sym in enumerate(["AAPL", "MSFT", "NVDA"]):
        t = base + datetime.timedelta(seconds=5 * i, milliseconds=j)
        price = round(100 + 10 * j + ((i * 7) % 11) * 0.25, 2)
        rec = {"symbol": sym, "price": price, "volume": 10 + i, "ts": t.isoformat().replace("+00:00", "Z")}
        (first if i < 24 else second).append(rec)
bars = {}
for r in first + second:
    k = (r["symbol"], r["ts"][:16])
    b = bars.setdefault(k, {"open": r["price"], "high": r["price"], "low": r["price"], "volume": 0, "trades": 0})
    b["high"] = max(b["high"], r["price"]); b["low"] = min(b["low"], r["price"])
    b["close"] = r["price"]; b["volume"] += r["volume"]; b["trades"] += 1
open(f"{work}/first.ndjson", "w").write("".join(json.dumps(r) + "\n" for r in first))
open(f"{work}/second.ndjson", "w").write("".join(json.dumps(r) + "\n" for r in second))
json.dump({f"{s}|{m}": b for (s, m), b in bars.items()}, open(f"{work}/bars.json", "w"))
PY
"$strata" produce stocks --key-field symbol --data "$STRATA_DATA_DIR" <"$work/first.ndjson" 2>/dev/null

"$strata" up -c "$root/examples/stocks.yaml" --listen 127.0.0.1:0 --no-generators >"$work/up.out" 2>"$work/up.err" &
pid=$!
for _ in $(seq 100); do grep -q '^strata up:' "$work/up.out" && break; sleep 0.1; done
grep -q '^strata up:' "$work/up.out" || { cat "$work/up.err"; echo "FAIL: strata up did not start"; exit 1; }
port=$(sed -n 's/^strata broker listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$work/up.out")
/usr/bin/python3 -c '
import json, sys
for line in open(sys.argv[1]):
    print(json.loads(line)["symbol"] + "|" + line.strip())' "$work/second.ndjson" |
  kcat -P -b "127.0.0.1:$port" -t stocks -K '|' -z none -X topic.partitioner=murmur2_random

# Poll until every bar is there with its trades counted, then compare.
check() {
  "$strata" views query stocks_ohlc_1m --store "$STRATA_STORE_URL" --format json >"$work/got.json"
  /usr/bin/python3 - "$work" "$1" <<'PY'
import json, sys
work, final = sys.argv[1], sys.argv[2] == "final"
want = json.load(open(f"{work}/bars.json"))
got = {f"{r['key']}|{r['window_start'][:16]}": r for r in json.load(open(f"{work}/got.json"))}
bad = [k for k, b in want.items() if k not in got or any(
    abs(got[k][f] - b[f]) > 1e-9 for f in ("open", "high", "low", "close", "volume", "trades"))]
extra = [k for k in got if k not in want]
if final:
    for k in bad[:5]: print("mismatch", k, want[k], got.get(k))
    for k in extra[:5]: print("unexpected", k)
    # Minutes that ended 5 s (out of orderness) + 10 s (lateness) before the
    # last tick are final; the last minute is still open.
    finals = sorted(k for k in got if got[k]["final"])
    print(f"{len(want)} bars expected, {len(got)} found, {len(bad)} wrong, {len(finals)} final")
    sys.exit(1 if bad or extra or len(finals) != 6 else 0)
sys.exit(1 if bad or extra else 0)
PY
}
for _ in $(seq 100); do check poll && break; sleep 0.1; done
check final
