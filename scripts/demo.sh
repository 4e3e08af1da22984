#!/usr/bin/env bash
# A guided tour of strata's commit log: installs what the build needs, builds
# the release binary, then creates a topic, produces 1000 bank transactions
# keyed by TransactionID, describes the topic, reads a few records back, and
# serves the same log to kcat through the Kafka-compatible broker.
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
trap 'kill "$broker_pid" 2>/dev/null; wait "$broker_pid" 2>/dev/null; rm -rf "$work"' EXIT
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

step "Done"
if [ -n "${DEMO_DATA:-}" ]; then
    say "The data stays in $data; try: STRATA_DATA=$data $strata consume transactions --from-beginning -n 3"
else
    say "Set DEMO_DATA=DIR to keep the data directory after the demo."
fi
