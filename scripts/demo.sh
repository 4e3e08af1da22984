#!/usr/bin/env bash
# A guided tour of strata: installs what the build needs, builds the release
# binary, then creates a topic, produces 1000 bank transactions keyed by
# TransactionID, describes the topic, reads a few records back, serves the
# same log to kcat through the Kafka-compatible broker, and finally runs
# `strata up` with the stocks example: ticks in through the broker, per-minute
# OHLC bars out of the serving store, bad and late records in the dlq; and
# last `strata demo`, the whole platform with live data and the dashboard,
# until Ctrl-C (or for $DEMO_SECONDS seconds).
#
# The data directory is $DEMO_DATA if set (wiped first, kept afterwards), else
# a temporary directory removed at exit. Safe to run again and again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
root=$(pwd)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '%s\n' "$*"; }

step "1. Install build dependencies (scripts/setup.sh)"
bash scripts/setup.sh

step "2. Build the release binary (scripts/build.sh release)"
bash scripts/build.sh release
strata="$root/build/release/strata"
"$strata" --version

work=$(mktemp -d "${TMPDIR:-/tmp}/strata-demo.XXXXXX")
if [ -n "${DEMO_DATA:-}" ]; then
    data=$DEMO_DATA
    rm -rf "$data"
    trap 'rm -rf "$work"' EXIT
else
    data="$work/data"
    trap 'rm -rf "$work"' EXIT
fi
export STRATA_DATA="$data"

step "3. Create the topic 'transactions' with 3 partitions"
say "Data directory: $data. Each partition is a folder of segments holding"
say "Kafka RecordBatch v2 bytes; flush=always means every append is fsynced."
"$strata" topics create transactions --partitions 3 --flush always

step "4. Turn the first 1000 CSV rows into JSON lines"
csv="$here/../../shared/data/bank_transactions_sample.csv"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
if [ -f "$csv" ]; then
    say "Source: $csv"
    "$py" - "$csv" >"$work/transactions.jsonl" <<'EOF'
import csv, json, sys
numeric = {"CustAccountBalance", "TransactionAmount (INR)"}
with open(sys.argv[1], newline="") as f:
    for i, row in enumerate(csv.DictReader(f)):
        if i == 1000:
            break
        for k in numeric & row.keys():
            try:
                row[k] = float(row[k])
            except ValueError:
                pass  # keep odd values as the text they were
        print(json.dumps(row, separators=(",", ":")))
EOF
else
    say "No sample CSV at $csv; generating 1000 synthetic transactions instead."
    "$py" - >"$work/transactions.jsonl" <<'EOF'
import json, random
random.seed(7)
cities = ["MUMBAI", "DELHI", "BANGALORE", "CHENNAI", "PUNE"]
for i in range(1, 1001):
    print(json.dumps({"TransactionID": f"T{i}", "CustomerID": f"C{random.randrange(10**6, 10**7)}",
                      "CustLocation": random.choice(cities),
                      "TransactionAmount (INR)": round(random.uniform(1, 50000), 2)},
                     separators=(",", ":")))
EOF
fi
say "$(wc -l <"$work/transactions.jsonl") lines; the first one:"
head -n 1 "$work/transactions.jsonl"

step "5. Produce them, keyed by TransactionID"
say "Each record's key is its TransactionID; Kafka's default partitioner"
say "(murmur2 of the key) picks the partition, so one ID always lands in one place."
"$strata" produce transactions --key-field TransactionID <"$work/transactions.jsonl"

step "6. Describe the topic"
say "log_end is the next offset per partition; durable_end shows what is fsynced."
"$strata" topics describe transactions

step "7. Consume 5 records from the beginning (a new process: the data was reopened)"
"$strata" consume transactions --from-beginning -n 5 --keys

step "8. Count the records per partition"
total=0
for p in 0 1 2; do
    n=$("$strata" consume transactions --partition "$p" --from-beginning | wc -l)
    say "partition $p: $n records"
    total=$((total + n))
done
say "total: $total"
[ "$total" -eq "$(wc -l <"$work/transactions.jsonl")" ] || { say "demo: record count mismatch" >&2; exit 1; }

step "9. Serve the same log to Kafka clients: strata broker + kcat"
say "The broker speaks the Kafka protocol over the data directory, so kcat,"
say "librdkafka, kafka-python and kafkajs work unchanged. A free port on loopback:"
"$strata" broker --listen 127.0.0.1:0 >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
trap 'kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
    grep -q "listening on" "$work/broker.out" && break
    sleep 0.1
done
cat "$work/broker.out"
bootstrap=$(sed -E 's/.* listening on //' "$work/broker.out")
say "kcat -L (metadata):"
kcat -b "$bootstrap" -L | head -8
say "Produce 3 records with zstd and acks=all (answered after an fsync):"
printf 'alpha\nbeta\ngamma\n' | kcat -b "$bootstrap" -t greetings -P -z zstd -X acks=all
say "Consume them back:"
kcat -b "$bootstrap" -t greetings -C -e -o beginning -q
say "And the transactions produced above, through the broker:"
kcat -b "$bootstrap" -t transactions -C -e -o beginning -q -c 2
kill -INT "$broker_pid"
wait "$broker_pid"
say "The broker stopped cleanly (exit $?)."

step "10. The speed layer: strata up -c examples/stocks.yaml"
say "One process runs the log, the broker and two pipelines: per-minute OHLC"
say "bars per symbol (tumbling, updated as ticks arrive) and 10 s trade counts"
say "sliding every 2 s. Rows go to SQLite, exactly once, with the offsets."
export STRATA_DATA_DIR="$work/stocks" STRATA_STORE_URL="sqlite:$work/stocks/strata.db"
"$strata" check -c examples/stocks.yaml
"$strata" up -c examples/stocks.yaml --no-generators --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 >"$work/up.out" 2>"$work/up.err" &
up_pid=$!
trap 'kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
    grep -q "^strata up:" "$work/up.out" && break
    sleep 0.1
done
cat "$work/up.out"
bootstrap=$(sed -n -E 's/^strata broker listening on //p' "$work/up.out")
say "Three minutes of ticks for five symbols, one bad record and one very late"
say "tick among them, produced with kcat (murmur2: Kafka's Java partitioner):"
"$py" - >"$work/ticks.txt" <<'EOF'
import json, random, datetime
random.seed(3)
base = datetime.datetime(2026, 11, 22, 13, 0, tzinfo=datetime.timezone.utc)
price = {s: 100.0 + 20 * i for i, s in enumerate(["AAPL", "MSFT", "NVDA", "AMZN", "GOOG"])}
for i in range(900):
    sym = random.choice(list(price))
    price[sym] = round(price[sym] * (1 + random.uniform(-0.002, 0.002)), 2)
    t = base + datetime.timedelta(milliseconds=200 * i)
    rec = {"symbol": sym, "price": price[sym], "volume": random.randint(1, 500),
           "ts": t.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    print(sym + "|" + json.dumps(rec))
print('AAPL|{"symbol":"AAPL","price":"a lot","volume":1,"ts":"2026-11-22T13:03:00Z"}')
print('AAPL|{"symbol":"AAPL","price":101,"volume":1,"ts":"2026-11-22T13:00:30Z"}')
EOF
kcat -b "$bootstrap" -t stocks -P -K '|' -X topic.partitioner=murmur2_random <"$work/ticks.txt"
sleep 1
say "The OHLC view, merged across partitions (final once the watermark passed):"
"$strata" views query stocks_ohlc_1m --store "$STRATA_STORE_URL" --format table
say "The dlq holds the bad record and the late one, each with its reason:"
"$py" - "$work/stocks/strata.db" <<'EOF'
import sqlite3, sys
q = 'select pipeline, "partition", "offset", kind, reason from dlq order by 1, 3'
for row in sqlite3.connect(sys.argv[1]).execute(q):
    print(*row, sep="  ")
EOF
kill -INT "$up_pid"
wait "$up_pid"
say "strata up stopped cleanly (exit $?): pipelines committed, log closed."

step "11. The whole platform: strata demo"
say "One process with a built-in config: the broker, generators for bank"
say "transactions, stock ticks, app, web, clickstream and CDC events, every"
say "example pipeline, the batch jobs (a recompute every minute), the REST API"
say "and the live dashboard. Open the dashboard URL it prints. It runs until"
say "Ctrl-C (or for \$DEMO_SECONDS seconds when that is set)."
unset STRATA_DATA_DIR STRATA_STORE_URL
demo_dir=${STRATA_DEMO_DIR:-$root/strata-demo}
export STRATA_DEMO_DIR=$demo_dir STRATA_DEMO_STORE="sqlite:$demo_dir/strata.db"
mkdir -p "$demo_dir"
if [ -n "${DEMO_SECONDS:-}" ]; then
    "$strata" demo &
    demo_pid=$!
    trap 'kill "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
    sleep "$DEMO_SECONDS"
    say "The views in the store after ${DEMO_SECONDS}s:"
    "$strata" views list --store "$STRATA_DEMO_STORE" | head -20 || true
    kill -INT "$demo_pid"
    wait "$demo_pid" || true
    say "strata demo stopped cleanly. Its data stays in $demo_dir."
else
    "$strata" demo || true
fi
