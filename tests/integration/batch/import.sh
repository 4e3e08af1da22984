#!/usr/bin/env bash
# `strata import` end to end with the example config examples/transactions.yaml:
#   1. shared/data/bank_transactions_sample.csv into `transactions`: every
#      outcome counted (imported, invalid by kind and line) and every record
#      compared field by field with what Python's csv module and an
#      independent reading of the schema's rules expect; transaction ids
#      kept as keys and in the values;
#   2. a file with broken rows (bad numbers, missing ids, enum and pattern
#      violations, impossible dates, short rows, a bad quote): each lands in
#      the dlq with its kind, line, file and the raw row;
#   3. the sample again: skipped, no new record;
#   4. a 600,000-row file killed with kill -9 in the middle of its import,
#      then imported again: every row in the topic exactly once.
# The store is SQLite, or PostgreSQL when STRATA_TEST_PG_URL is set.
#
# usage: import.sh STRATA
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
strata=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
sample=${STRATA_BANK_SAMPLE:-$root/../shared/data/bank_transactions_sample.csv}
[ -r "$sample" ] || { echo "FAIL: the bank sample $sample is missing"; exit 1; }
py=/usr/bin/python3
work=$(mktemp -d)
pid=
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  stop "$pid" KILL
  rm -rf "$work"
}
trap cleanup EXIT

data=$work/data
url=${STRATA_TEST_PG_URL:-sqlite:$data/strata.db}
q_rows() { # SQL: every row, columns separated by |
  if [ -n "${STRATA_TEST_PG_URL:-}" ]; then psql -X -q -At -F '|' "$url" -c "$1"
  else sqlite3 -separator '|' "$data/strata.db" "$1"; fi
}
maps=(--key transaction_id --time-field ts
  --map transaction_id=TransactionID --map customer_id=CustomerID
  --map customer_dob=CustomerDOB --map gender=CustGender --map location=CustLocation
  --map account_balance=CustAccountBalance --map 'amount=TransactionAmount (INR)'
  --expr "ts=to_timestamp(\"TransactionDate\" || ' ' || lpad(\"TransactionTime\", 6, '0'), '%d/%m/%y %H%M%S')")
imp() {
  "$strata" import "$@" -c "$root/examples/transactions.yaml" --data "$data" --store "$url" \
    "${maps[@]}"
}
consume() {
  "$strata" consume "$1" --from-beginning --keys --data "$data"
}

# ---- The oracle: Python's csv module and the transactions schema's rules,
# read from examples/transactions.yaml by hand (fields, patterns, enum,
# max_length, min, the amount rule).
cat >"$work/oracle.py" <<'PY'
import csv, datetime, json, re, sys

NUM = re.compile(r'[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?')

def null(s):
    return s == '' or s.lower() in ('nan', 'null')

def ts_of(date, time):
    """to_timestamp(date || ' ' || lpad(time, 6, '0'), '%d/%m/%y %H%M%S')"""
    if null(date) or null(time):
        return None
    t = time.rjust(6, '0')[:6]
    m = re.fullmatch(r'(\d{1,2})/(\d{1,2})/(\d{2})', date)
    if not m or not re.fullmatch(r'\d{6}', t):
        return None
    d, mo, y = int(m[1]), int(m[2]), int(m[3])
    y += 2000 if y <= 68 else 1900
    try:
        v = datetime.datetime(y, mo, d, int(t[:2]), int(t[2:4]), int(t[4:]))
    except ValueError:
        return None
    return v.strftime('%Y-%m-%dT%H:%M:%SZ')

def check(row):
    """(kind, record) for one row of the bank CSV."""
    if len(row) != 9:
        return 'invalid_csv', None
    tid, cid, dob, gender, loc, bal, date, time, amount = row
    rec = {}
    # Fields in schema order: the first failure is the one reported.
    for name, cell, kind in (('transaction_id', tid, 'string'), ('customer_id', cid, 'string'),
                             ('customer_dob', dob, 'string'), ('gender', gender, 'string'),
                             ('location', loc, 'string'), ('account_balance', bal, 'float'),
                             ('amount', amount, 'float')):
        required = name in ('transaction_id', 'customer_id', 'amount')
        if null(cell):
            if required:
                return 'required', None
            rec[name] = None
            continue
        if kind == 'float':
            if not NUM.fullmatch(cell):
                return 'type', None
            rec[name] = float(cell)
        else:
            rec[name] = cell
        if name == 'transaction_id' and not re.fullmatch(r'T[0-9]+', cell):
            return 'check', None
        if name == 'customer_id' and not re.fullmatch(r'C[0-9]+', cell):
            return 'check', None
        if name == 'gender' and cell not in ('M', 'F', 'T'):
            return 'check', None
        if name == 'location' and len(cell) > 64:
            return 'check', None
        if name == 'amount' and rec[name] < 0:
            return 'check', None
    rec['ts'] = ts_of(date, time)
    if rec['ts'] is None:
        return 'required', None
    if not rec['amount'] < 100000000:
        return 'rule', None
    return 'ok', rec

def expect(path, overrides):
    """{line: kind} of the invalid rows and {id: record} of the valid ones.
    overrides: {line: kind} for rows the generator broke at the CSV level."""
    bad, good = {}, {}
    with open(path, newline='') as f:
        r = csv.reader(f)
        next(r)
        start = r.line_num + 1
        for row in r:
            kind, rec = check(row)
            kind = overrides.get(start, kind)
            if kind == 'ok':
                good[rec['transaction_id']] = rec
            else:
                bad[start] = kind
            start = r.line_num + 1
    return bad, good
PY

# ---- 1. The sample.
imp "$sample" --topic transactions >"$work/out1"
cat "$work/out1"
$py - "$work" "$sample" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from oracle import expect
work, sample = sys.argv[1:3]
bad, good = expect(sample, {})
out = open(f"{work}/out1").read()
want = f"rows: {len(good)} imported, {len(bad)} invalid (in the dlq)"
assert want in out, (want, out)
assert "files: 1 imported, 0 skipped" in out, out
json.dump({"bad": bad, "good": sorted(good)}, open(f"{work}/expect1.json", "w"))
print(f"sample: {len(good)} valid rows, {len(bad)} invalid, as expected")
PY
consume transactions >"$work/topic1"
$py - "$work" "$sample" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from oracle import expect
work, sample = sys.argv[1:3]
bad, good = expect(sample, {})
seen = {}
for line in open(f"{work}/topic1", encoding="utf-8"):
    key, value = line.rstrip("\n").split("\t", 1)
    v = json.loads(value)
    assert key == v["transaction_id"], (key, v)
    assert key not in seen, f"{key} twice"
    seen[key] = v
assert set(seen) == set(good), (len(seen), len(good))
wrong = [k for k, r in good.items() if seen[k] != r]
for k in wrong[:5]:
    print("mismatch", k, seen[k], good[k])
assert not wrong, f"{len(wrong)} records differ"
print(f"topic: {len(seen)} records, each equal to the oracle's, ids kept")
PY

# ---- 2. Broken rows, written around rows of the sample with new ids.
$py - "$work" "$sample" <<'PY'
import csv, json, sys
work, sample = sys.argv[1:3]
rows = list(csv.reader(open(sample, newline='')))
out = open(f"{work}/dirty.csv", "w", newline="")
w = csv.writer(out, lineterminator="\r\n")
w.writerow(rows[0])
overrides = {}
line = 2
def put(r):
    global line
    w.writerow(r)
    line += sum(c.count("\n") for c in r) + 1
for i, r in enumerate(rows[1:301]):
    r = list(r)
    r[0] = "T77%07d" % i
    k = i % 15
    if k == 1: r[8] = "12,5"           # amount not a number (quoted, one field)
    if k == 2: r[0] = ""               # missing id
    if k == 3: r[3] = "X"              # gender not in the enum
    if k == 4: r[1] = "D123"           # customer id pattern
    if k == 5: r[6] = "31/2/16"        # impossible date: ts null
    if k == 6: r = r[:8]               # short row
    if k == 7: r[8] = "-4"             # below min
    if k == 8: r[8] = "200000000"      # the amount rule
    if k == 9: r[4] = "L" * 65         # location too long
    if k == 10: r[4] = "NEW\nDELHI"    # a quoted line break: valid
    if k == 11: r[5] = "nan"           # optional balance: null, valid
    if k == 12:                        # a character after a closing quote
        overrides[line] = "invalid_csv"
        out.write(f'"{r[0]}"x,' + ",".join(r[1:]) + "\r\n")
        line += 1
        continue
    put(r)
out.close()
json.dump(overrides, open(f"{work}/overrides.json", "w"))
PY
imp "$work/dirty.csv" --topic transactions >"$work/out2"
cat "$work/out2"
q_rows "SELECT \"offset\", \"kind\", \"partition\", \"reason\" FROM \"dlq\" WHERE \"topic\" = '$work/dirty.csv'" \
  >"$work/dlq2"
if [ -n "${STRATA_TEST_PG_URL:-}" ]; then text="convert_from(\"value\", 'UTF8')"; else text="CAST(\"value\" AS TEXT)"; fi
q_rows "SELECT $text FROM \"dlq\" WHERE \"topic\" = '$work/dirty.csv' AND \"kind\" = 'check' ORDER BY \"offset\" LIMIT 1" \
  >"$work/dlq2_value"
consume transactions >"$work/topic2"
$py - "$work" <<'PY'
import collections, csv, json, sys
sys.path.insert(0, sys.argv[1])
from oracle import expect
work = sys.argv[1]
path = f"{work}/dirty.csv"
overrides = {int(k): v for k, v in json.load(open(f"{work}/overrides.json")).items()}
bad, good = expect(path, overrides)
out = open(f"{work}/out2").read()
want = f"rows: {len(good)} imported, {len(bad)} invalid (in the dlq)"
assert want in out, (want, out)
got = {}
for row in open(f"{work}/dlq2", encoding="utf-8"):
    off, kind, part, reason = row.rstrip("\n").split("|", 3)
    got[int(off)] = kind
    assert part == "-1", row
    assert reason.startswith(f"{path} line {off}: "), reason
assert got == bad, sorted(set(got.items()) ^ set(bad.items()))[:10]
kinds = collections.Counter(bad.values())
print("dirty file: invalid rows by kind", dict(sorted(kinds.items())))
assert set(kinds) == {"type", "required", "check", "rule", "invalid_csv"}, kinds
# The raw row is kept: the first 'check' row, as written (CRLF cut).
first = min(l for l, k in bad.items() if k == "check")
raw = open(path, newline="").read().split("\r\n")[first - 1]
assert open(f"{work}/dlq2_value").read().rstrip("\n") == raw
ids = [l.split("\t", 1)[0] for l in open(f"{work}/topic2", encoding="utf-8")]
new = [i for i in ids if i.startswith("T77") and len(i) == 10]
assert sorted(new) == sorted(good), (len(new), len(good))
assert len(ids) == len(set(ids)), "duplicate ids"
print(f"dirty file: {len(good)} valid rows in the topic, {len(bad)} in the dlq, as expected")
PY

# ---- 3. The sample again: skipped.
before=$(wc -l <"$work/topic2")
imp "$sample" --topic transactions >"$work/out3"
cat "$work/out3"
grep -q '^files: 0 imported, 1 skipped' "$work/out3" || { echo "FAIL: not skipped"; exit 1; }
grep -q '^rows: 0 imported, 0 invalid' "$work/out3" || { echo "FAIL: rows on a skip"; exit 1; }
after=$(consume transactions | wc -l)
[ "$before" = "$after" ] || { echo "FAIL: $before records before, $after after"; exit 1; }
echo "again: skipped, still $after records"

# ---- 4. kill -9 in the middle of an import, then again. The big file is
# copies of the sample with new ids, large enough that a kill lands while
# the import runs.
copies=30
$py - "$work" "$sample" "$copies" <<'PY'
import csv, sys
work, sample = sys.argv[1:3]
COPIES = int(sys.argv[3])
rows = list(csv.reader(open(sample, newline='')))
w = csv.writer(open(f"{work}/big.csv", "w", newline=""), lineterminator="\n")
w.writerow(rows[0])
for k in range(COPIES):
    for r in rows[1:]:
        w.writerow(["T%d%07d" % (k + 1, int(r[0][1:]))] + r[1:])
PY
"$strata" topics create replay --partitions 4 --data "$data" >/dev/null
big=("$strata" import "$work/big.csv" --topic replay --schema transaction --job replay_load
  -c "$root/examples/transactions.yaml" --data "$data" --store "$url" "${maps[@]}")
state() { q_rows "SELECT \"state\" || ':' || \"rows\" FROM \"strata_imports\" WHERE \"topic\" = 'replay'"; }
interrupted=
for delay in 0.05 0.1 0.15 0.3 0.5 0.8 1.2 1.8 2.5; do
  "${big[@]}" >"$work/out4" 2>&1 &
  pid=$! # strata itself, so that the kill reaches it
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
  s=$(state)
  echo "killed after ${delay}s: strata_imports says '${s:-nothing}'"
  case "$s" in
    running:0|"") ;;
    running:*) interrupted=$s; break ;;
    completed:*) break ;;
  esac
done
[ -n "$interrupted" ] || { echo "FAIL: no kill landed in the middle of the import"; exit 1; }
# The next run of the job finds the killed run (its process is gone) and
# marks it failed before it starts.
"${big[@]}" >"$work/out5"
cat "$work/out5"
consume replay | cut -f1 >"$work/ids5"
$py - "$work" "$sample" "$copies" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from oracle import expect
work, sample = sys.argv[1:3]
COPIES = int(sys.argv[3])
bad, good = expect(sample, {})
ids = open(f"{work}/ids5").read().split()
assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicates"
assert len(ids) == COPIES * len(good), (len(ids), COPIES * len(good))
print(f"after kill -9 and a retry: {len(ids)} records, each once")
PY
[ "$(state)" = "completed:$(wc -l <"$work/ids5")" ] || { echo "FAIL: strata_imports $(state)"; exit 1; }
echo "PASS"
