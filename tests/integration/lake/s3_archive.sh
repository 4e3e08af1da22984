#!/usr/bin/env bash
# `strata up` archiving a topic into S3: s3rver behind the SigV4-checking
# gateway (s3_server.mjs) on 127.0.0.1 at a free port, and s3_archive.yaml.
# Each phase produces records of new hours into both partitions, runs
# strata, and compares the bucket with the lake (s3_check.mjs compare: every
# .parquet file and _SUCCESS marker under raw/lake/ticks/..., with the same
# bytes, and nothing else):
#   1. credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: everything
#      is uploaded while strata runs;
#   2. a wrong secret (STRATA_S3_SECRET_ACCESS_KEY, which beats AWS_*): the
#      new files are refused with an error naming the endpoint, bucket and
#      key, and are not in the bucket; no log line holds a secret;
#   3. the endpoint down (503) when strata starts, up a while later: the
#      refused files of phase 2 and the new ones go once it is up, without
#      a restart;
#   4. the endpoint down, strata killed (SIGKILL) after publishing new files
#      it could not upload, the endpoint up, strata started again: its
#      start-up scan uploads them; and the files that stopping it closes are
#      uploaded before it exits (drain_timeout). The journal then lists
#      every file of the lake.
# strata and the servers are stopped however the test ends.
#
# usage: s3_archive.sh STRATA
set -euo pipefail
strata=$1
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$(cd "$here/../../node" && pwd)
work=$(mktemp -d)
server= up=
cleanup() {
  for p in $up $server; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
export STRATA_HTTP_ENABLED=false
export S3T_DATA=$work/data
key=AKIDARCHIVETEST secret='archive/Secret+0123456789abcdefghijKLMN'
wrong='archive/WRONG+0123456789abcdefghijKLMN'
lake=$S3T_DATA/lake

node "$here/s3_server.mjs" "$node_dir" "$work/store" lake "$key" "$secret" >"$work/server.out" \
  2>"$work/server.log" &
server=$!
port=
for _ in $(seq 200); do
  port=$(awk '/^port /{print $2}' "$work/server.out" 2>/dev/null || true)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "FAIL: the S3 server did not start"; cat "$work/server.log"; exit 1; }
export S3T_ENDPOINT=http://127.0.0.1:$port
node "$here/s3_check.mjs" selftest "$S3T_ENDPOINT" lake "$key" "$secret"

export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret
"$strata" check -c "$here/s3_archive.yaml" >/dev/null
"$strata" topics create ticks --partitions 2 --data "$S3T_DATA" >/dev/null

# Records of hours FIRST..LAST of 2024-05-01 into both partitions.
produce() {
  local first=$1 last=$2 h p i
  for p in 0 1; do
    for ((h = first; h <= last; h++)); do
      for ((i = 0; i < 60; i++)); do
        printf '{"sym":"S%d","px":%d.5,"ts":"2024-05-01T%02d:%02d:%02dZ"}\n' "$p" "$i" "$h" "$i" "$p"
      done
    done >"$work/p$p.ndjson"
    "$strata" produce ticks --partition "$p" --data "$S3T_DATA" <"$work/p$p.ndjson" \
      >>"$work/produce.log" 2>&1
  done
}
files() { find "$lake/ticks" -path '*/date=*' \( -name '*.parquet' -o -name _SUCCESS \) 2>/dev/null | wc -l; }
listed() { node "$here/s3_check.mjs" list "$S3T_ENDPOINT" lake "$key" "$secret" raw/lake/ticks/ | wc -l; }
start() {
  "$strata" up -c "$here/s3_archive.yaml" --no-broker >"$work/up$1.log" 2>&1 &
  up=$!
}
stop() {
  kill -TERM "$up" 2>/dev/null || true
  wait "$up" 2>/dev/null || true
  up=
}
# Waits until both partitions have a file of hour H in the lake (published:
# its commit is done), for run N.
wait_hour() {
  local dir=$lake/ticks/date=2024-05-01/hour=$1 n=0
  for _ in $(seq 1200); do
    n=$(find "$dir" -name '*.parquet' 2>/dev/null | sed 's/.*+\([01]\)+[0-9]*\.parquet$/\1/' | sort -u | wc -l || true)
    [ "$n" -eq 2 ] && break
    sleep 0.05
  done
  [ "$n" -eq 2 ] || { echo "FAIL: no files of hour $1 in the lake"; cat "$work/up$2.log"; exit 1; }
}
compare() {
  node "$here/s3_check.mjs" compare "$S3T_ENDPOINT" lake "$key" "$secret" raw/lake "$lake" ticks "$1"
}
no_secrets() {
  if grep -qF -e "$secret" -e "$wrong" -e "Signature=" "$@"; then
    echo "FAIL: a secret or a signature was logged:"; grep -F -e "$secret" -e "$wrong" -e "Signature=" "$@"; exit 1
  fi
}

echo "phase 1: upload while running"
produce 10 12
start 1
wait_hour 12 1
compare 60
markers=$(find "$lake/ticks" -name _SUCCESS | wc -l)
[ "$markers" -ge 2 ] || { echo "FAIL: $markers _SUCCESS markers, expected hours 10 and 11"; exit 1; }
stop
no_secrets "$work/up1.log"

echo "phase 2: a wrong secret is refused"
before=$(listed)
produce 13 13
STRATA_S3_SECRET_ACCESS_KEY=$wrong start 2
wait_hour 13 2
for _ in $(seq 200); do grep -q SignatureDoesNotMatch "$work/up2.log" && break; sleep 0.05; done
stop
grep -q "ERROR.*$S3T_ENDPOINT refused PUT of raw/lake/ticks/date=2024-05-01/.* to bucket lake: HTTP 403 SignatureDoesNotMatch" \
  "$work/up2.log" || { echo "FAIL: no error naming the endpoint, bucket, key and S3's code:"; cat "$work/up2.log"; exit 1; }
[ "$(listed)" -eq "$before" ] || { echo "FAIL: objects were uploaded with a wrong secret"; exit 1; }
# One line for the lot, not one per file.
[ "$(grep -c SignatureDoesNotMatch "$work/up2.log")" -eq 1 ] ||
  { echo "FAIL: refusals like the first are logged once a minute:"; cat "$work/up2.log"; exit 1; }
no_secrets "$work/up2.log"

echo "phase 3: endpoint down, then up"
kill -USR2 "$server"
produce 14 14
start 3
wait_hour 14 3
[ "$(listed)" -eq "$before" ] || { echo "FAIL: uploads while the endpoint was down"; exit 1; }
grep -q "HTTP 503 ServiceUnavailable.*trying again" "$work/up3.log" ||
  { echo "FAIL: no retry logged"; cat "$work/up3.log"; exit 1; }
kill -USR1 "$server"
compare 60
stop
no_secrets "$work/up3.log"

echo "phase 4: killed before uploading, uploaded after the restart"
kill -USR2 "$server"
produce 15 15
start 4
wait_hour 15 4
kill -9 "$up"
wait "$up" 2>/dev/null || true
up=
kill -USR1 "$server"
if compare 0 >"$work/before5.out" || ! grep -q "missing: raw/lake/ticks/date=2024-05-01/hour=15/" \
  "$work/before5.out"; then
  echo "FAIL: the files of hour 15 should not be in the bucket before the restart:"
  cat "$work/before5.out"; exit 1
fi
start 5
compare 60
stop
# Stopping closed the open files; they were published, and uploaded while
# strata drained its queue (drain_timeout), before it exited.
compare 10
# The journal lists every file of the lake, once the uploads are done.
journal=$lake/ticks/_s3_journal
head -1 "$journal" | grep -qx "strata-s3-journal 1 $S3T_ENDPOINT/lake/raw/lake" ||
  { echo "FAIL: the journal's first line: $(head -1 "$journal")"; exit 1; }
jn=$(tail -n +2 "$journal" | cut -d' ' -f3- | sort -u | wc -l || true)
[ "$jn" -eq "$(files)" ] || { echo "FAIL: the journal lists $jn files, the lake has $(files)"; exit 1; }
no_secrets "$work/up4.log" "$work/up5.log" "$work/server.log"
if grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer' "$work"/up*.log; then
  echo "FAIL: a sanitizer spoke:"; cat "$work"/up*.log; exit 1
fi
echo "s3_archive: ok"
