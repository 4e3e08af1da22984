#!/usr/bin/env bash
# `strata gen` feeding the example platforms: generated data goes into a
# fresh data directory, `strata up -c examples/<config>.yaml --once` runs
# every pipeline over it, and the SQLite store must agree with the classes
# the generator reported: per pipeline, as many dlq rows that are not
# `late` as invalid records; as many `late` dlq rows as late records in
# every windowed pipeline; table rows and aggregate counts for the valid
# records. For cdc, the mirrored customers table must equal the table that
# an independent Python replay of the change events builds.
#
# usage: examples.sh STRATA stocks|transactions|events
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
strata=$1 which=$2
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=$work/data
db=$data/strata.db
store=sqlite:$db

# gen KIND TOPIC SEED: generates 5000 records; sets normal/invalid/late/anomaly.
gen() {
  "$strata" gen "$1" --topic "$2" --count 5000 --seed "$3" --invalid-ratio 0.04 \
    --late-ratio 0.03 --anomaly-ratio 0.02 --start 2026-11-22T13:00:00Z --data "$data" \
    2>"$work/gen.err" || { cat "$work/gen.err"; exit 1; }
  local line
  line=$(grep '^strata gen: 5000 ' "$work/gen.err") || { cat "$work/gen.err"; exit 1; }
  read -r normal invalid late anomaly < <(echo "$line" |
    sed -E 's/.*normal ([0-9]+), invalid ([0-9]+), late ([0-9]+), anomaly ([0-9]+);.*/\1 \2 \3 \4/')
  echo "gen $1: normal $normal invalid $invalid late $late anomaly $anomaly"
  if [ "$invalid" -eq 0 ] || [ "$late" -eq 0 ] || [ "$anomaly" -eq 0 ]; then
    echo "FAIL: $1: every class should occur"; exit 1
  fi
}

up() {
  "$strata" up -c "$root/examples/$1.yaml" --once --data "$data" --store "$store" \
    >"$work/up.out" 2>&1 || { cat "$work/up.out"; exit 1; }
}

invalid_rows() { q "select count(*) from dlq where pipeline = '$1' and kind <> 'late'"; }
late_rows() { q "select count(*) from dlq where pipeline = '$1' and kind = 'late'"; }

case $which in
stocks)
  gen stocks stocks 7
  up stocks
  for p in ohlc_1m trades_10s; do
    expect "$p invalid dlq rows" "$(invalid_rows $p)" "$invalid"
    expect "$p late dlq rows" "$(late_rows $p)" "$late"
  done
  valid=$((normal + anomaly))
  expect "ticks counted in ohlc_1m" "$(q 'select sum(trades) from stocks_ohlc_1m')" "$valid"
  # Hopping 10 s / 2 s windows: every tick is in five of them.
  expect "ticks counted in trades_10s" "$(q 'select sum(trades) from stocks_trades_10s')" \
    "$((5 * valid))"
  expect "ohlc_1m symbols" "$(q 'select count(distinct key) from stocks_ohlc_1m')" 30
  ;;
transactions)
  gen transactions transactions 7
  up transactions
  for p in transactions_table customer_daily location_hourly transaction_alerts; do
    expect "$p invalid dlq rows" "$(invalid_rows $p)" "$invalid"
  done
  for p in customer_daily location_hourly; do
    expect "$p late dlq rows" "$(late_rows $p)" "$late"
  done
  for p in transactions_table transaction_alerts; do
    expect "$p late dlq rows" "$(late_rows $p)" 0
  done
  # Late records are valid: the table holds them, the windows do not.
  expect "table rows" "$(q 'select count(*) from transactions')" "$((normal + anomaly + late))"
  expect "distinct transaction ids" "$(q 'select count(distinct transaction_id) from transactions')" \
    "$((normal + anomaly + late))"
  expect "customer_daily count" "$(q 'select sum(transactions) from customer_daily')" \
    "$((normal + anomaly))"
  expect "location_hourly count" "$(q 'select sum(transactions) from location_hourly')" \
    "$((normal + anomaly))"
  bursts=$(q "select count(*) from anomalies where rule = 'burst'")
  spikes=$(q "select count(*) from anomalies where rule = 'large_amount'")
  echo "anomalies: burst $bursts, large_amount $spikes"
  if [ "$bursts" -eq 0 ] || [ "$spikes" -eq 0 ]; then
    echo "FAIL: injected bursts and amount spikes should be detected"; fail=1
  fi
  ;;
events)
  gen app app_events 21
  app=($normal $invalid $late $anomaly)
  gen web web_events 22
  web=($normal $invalid $late $anomaly)
  gen clickstream clicks 23
  clicks=($normal $invalid $late $anomaly)
  gen cdc customers_cdc 24
  cdc=($normal $invalid $late $anomaly)
  # The same options print the same events: the oracle's copy.
  "$strata" gen cdc --count 5000 --seed 24 --invalid-ratio 0.04 --late-ratio 0.03 \
    --anomaly-ratio 0.02 --start 2026-11-22T13:00:00Z --stdout >"$work/cdc.ndjson" 2>/dev/null
  up events
  for p in app_sessions app_hourly; do
    expect "$p invalid dlq rows" "$(invalid_rows $p)" "${app[1]}"
    expect "$p late dlq rows" "$(late_rows $p)" "${app[2]}"
  done
  for p in web_pages_hourly web_sessions; do
    expect "$p invalid dlq rows" "$(invalid_rows $p)" "${web[1]}"
    expect "$p late dlq rows" "$(late_rows $p)" "${web[2]}"
  done
  expect "clicks_by_referrer invalid dlq rows" "$(invalid_rows clicks_by_referrer)" "${clicks[1]}"
  expect "clicks_by_referrer late dlq rows" "$(late_rows clicks_by_referrer)" "${clicks[2]}"
  expect "app_hourly count" "$(q 'select sum(events) from app_hourly')" "$((app[0] + app[3]))"
  expect "app_sessions count" "$(q 'select sum(events) from app_sessions')" "$((app[0] + app[3]))"
  expect "web_sessions count" "$(q 'select sum(pages) from web_sessions')" "$((web[0] + web[3]))"
  expect "clicks count" "$(q 'select sum(clicks) from clicks_by_referrer')" \
    "$((clicks[0] + clicks[3]))"
  expect "customers invalid dlq rows" "$(invalid_rows customers)" "${cdc[1]}"
  # Replay the change events independently and compare the tables.
  /usr/bin/python3 - "$work/cdc.ndjson" "$db" "${cdc[1]}" <<'PY' || fail=1
import json, re, sqlite3, sys, datetime
path, db, want_invalid = sys.argv[1], sys.argv[2], int(sys.argv[3])
def no_dups(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate member")
    return dict(pairs)
def bad_const(c):
    raise ValueError(c)
def valid_row(r, partial):
    if not isinstance(r, dict):
        return False
    if "id" not in r:
        return partial
    if type(r["id"]) is not int:
        return False
    if "email" in r and not re.fullmatch(r"[^@ ]+@[^@ ]+", r["email"]):
        return False
    if "updated_at" in r:
        try:
            datetime.datetime.fromisoformat(r["updated_at"].replace("Z", "+00:00"))
        except ValueError:
            return False
    return True
table, invalid = {}, 0
for line in open(path):
    try:
        ev = json.loads(line, object_pairs_hook=no_dups, parse_constant=bad_const)
        op = ev["op"]
        if op in ("c", "r", "u"):
            ok = valid_row(ev.get("after"), False)
            if ok:
                table[ev["after"]["id"]] = ev["after"]
        elif op == "d":
            ok = valid_row(ev.get("before"), True) and "id" in ev["before"]
            if ok:
                table.pop(ev["before"]["id"], None)
        else:
            ok = False
    except (ValueError, KeyError, TypeError):
        ok = False
    invalid += not ok
got = {r[0]: r[1:] for r in sqlite3.connect(db).execute(
    "select id, name, email, city from customers")}
want = {i: (r["name"], r["email"], r["city"]) for i, r in table.items()}
print(f"cdc replay: {len(want)} rows expected, {len(got)} in the store, {invalid} invalid events")
if invalid != want_invalid:
    print(f"FAIL: the replay finds {invalid} invalid events, the generator made {want_invalid}")
    sys.exit(1)
if got != want:
    diff = [i for i in set(got) | set(want) if got.get(i) != want.get(i)]
    print("FAIL: customers differ, e.g.", diff[:5])
    sys.exit(1)
PY
  ;;
*)
  echo "usage: examples.sh STRATA stocks|transactions|events" >&2
  exit 2
  ;;
esac
exit $fail
