#!/usr/bin/env bash
# The access token of `strata up` (docs/http.md, "Access token"), end to
# end with curl:
#   - a listener beyond loopback without http.token is a config error
#     (exit 78) naming http.listen and http.token, from the file, from
#     STRATA_HTTP_LISTEN and from --http-listen, and nothing is served;
#   - a malformed token (STRATA_HTTP_TOKEN) is a config error naming
#     http.token that does not repeat the token;
#   - with a token, a non-loopback address passes the check (192.0.2.1 is
#     TEST-NET-1: the bind then fails, so no test listens beyond
#     loopback);
#   - with a token on 127.0.0.1: /healthz is open; the API, /metrics, the
#     dashboard and ingest answer 401 with WWW-Authenticate: Bearer
#     without it or with a wrong one, and serve with it; a browser's page
#     load gets the sign-in page; POST /login hands out an HttpOnly,
#     SameSite=Strict cookie that works in place of the header, and
#     POST /logout clears it;
#   - the token never appears in what strata prints.
#
# usage: token.sh STRATA
set -euo pipefail
# Each case sets the listener itself: scripts/test.sh exports one for every
# test, and the environment would override the config file's.
unset STRATA_HTTP_LISTEN STRATA_HTTP_TOKEN
strata=${1:?usage: token.sh STRATA}
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

token=tok_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$work/t.yaml" <<EOF
data: {dir: $work/data}
store: {url: "sqlite:$work/data/strata.db"}
broker: {enabled: false}
http: {listen: "0.0.0.0:0"}
topics:
  - {name: events, partitions: 1, flush: never}
EOF

# expect_refused WHAT EXPECTED-WORDS... -- COMMAND...: exit 78, the words
# on stderr, nothing served.
expect_refused() {
  local what=$1; shift
  local words=()
  while [ "$1" != "--" ]; do words+=("$1"); shift; done
  shift
  local rc=0
  "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
  [ "$rc" -eq 78 ] || { cat "$work/out" "$work/err" >&2; fail "$what: exit $rc, not 78"; }
  for w in "${words[@]}"; do
    grep -qF -- "$w" "$work/err" || { cat "$work/err" >&2; fail "$what: stderr does not name $w"; }
  done
  if grep -q '^strata http listening' "$work/out"; then fail "$what: HTTP was started"; fi
  echo "ok: $what is refused: $(head -c 120 "$work/err")..."
}

expect_refused "http.listen 0.0.0.0 without a token" http.listen http.token 0.0.0.0:0 -- \
  "$strata" up -c "$work/t.yaml" --no-broker
expect_refused "STRATA_HTTP_LISTEN=[::]:0 without a token" http.listen http.token -- \
  env STRATA_HTTP_LISTEN='[::]:0' "$strata" up -c "$work/t.yaml" --no-broker
expect_refused "--http-listen 10.1.2.3:0 without a token" http.listen http.token 10.1.2.3:0 -- \
  env STRATA_HTTP_LISTEN=127.0.0.1:0 "$strata" up -c "$work/t.yaml" --no-broker --http-listen 10.1.2.3:0
expect_refused "a host name without a token" http.listen http.token -- \
  env STRATA_HTTP_LISTEN=example.invalid:0 "$strata" up -c "$work/t.yaml" --no-broker
expect_refused "a 12-byte token" http.token "12 bytes" -- \
  env STRATA_HTTP_TOKEN=short-secret STRATA_HTTP_LISTEN=127.0.0.1:0 "$strata" up -c "$work/t.yaml" --no-broker
if grep -q short-secret "$work/out" "$work/err"; then fail "the malformed token was printed"; fi
expect_refused "a token with a blank" http.token -- \
  env "STRATA_HTTP_TOKEN=0123456789 abcdefgh" STRATA_HTTP_LISTEN=127.0.0.1:0 "$strata" up -c "$work/t.yaml" --no-broker

# Non-loopback with a token passes the check; the bind to TEST-NET-1 fails.
rc=0
STRATA_HTTP_TOKEN=$token STRATA_HTTP_LISTEN=192.0.2.1:0 "$strata" up -c "$work/t.yaml" --no-broker \
  >"$work/out" 2>"$work/err" </dev/null || rc=$?
[ "$rc" -eq 1 ] && grep -q "192.0.2.1:0" "$work/err" && ! grep -q "http.token" "$work/err" ||
  { cat "$work/err" >&2; fail "a token should let a non-loopback address through to the bind (exit $rc)"; }
echo "ok: with a token a non-loopback address goes on to the bind: $(head -c 120 "$work/err")..."

# Loopback without a token: served as before.
for listen in 127.0.0.1:0 127.7.7.7:0 localhost:0 '[::1]:0'; do
  if [ "$listen" = '[::1]:0' ] && ! python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
    continue
  fi
  STRATA_HTTP_LISTEN=$listen "$strata" up -c "$work/t.yaml" --no-broker >"$work/out" 2>"$work/err" &
  pid=$!
  for _ in $(seq 200); do grep -q '^strata http listening' "$work/out" && break; sleep 0.05; done
  grep -q '^strata http listening' "$work/out" || { cat "$work/err" >&2; fail "$listen without a token did not start"; }
  kill -TERM "$pid"; wait "$pid" || fail "strata up on $listen exited $?"; pid=
  echo "ok: $listen needs no token"
done

# With a token on loopback.
STRATA_HTTP_TOKEN=$token STRATA_HTTP_LISTEN=127.0.0.1:0 "$strata" up -c "$work/t.yaml" --no-broker \
  >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 200); do grep -q '^strata http listening' "$work/out" && break; sleep 0.05; done
port=$(sed -n 's/^strata http listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/out")
[ -n "$port" ] || { cat "$work/out" "$work/err" >&2; fail "strata up with a token did not start"; }
base=http://127.0.0.1:$port

# status METHOD PATH [curl args...]: prints the status; headers in $work/h, body in $work/b.
status() {
  local m=$1 p=$2; shift 2
  curl -s -o "$work/b" -D "$work/h" -w '%{http_code}' -X "$m" "$@" "$base$p"
}
expect() {
  local want=$1; shift
  local got
  got=$(status "$@")
  [ "$got" = "$want" ] || { cat "$work/h" "$work/b" >&2; fail "$* answered $got, not $want"; }
}

expect 200 GET /healthz
for p in /api/topics /metrics /readyz / /static/app.js /api/openapi.json /docs; do
  expect 401 GET "$p"
  grep -qi '^WWW-Authenticate: Bearer' "$work/h" || fail "GET $p: 401 without WWW-Authenticate: Bearer"
  expect 401 GET "$p" -H "Authorization: Bearer ${token}x"
  grep -qi '^WWW-Authenticate: Bearer error="invalid_token"' "$work/h" || fail "GET $p: wrong token not told"
  expect 200 GET "$p" -H "Authorization: Bearer $token"
done
expect 401 POST /topics/events/records -H 'Content-Type: application/json' --data '[{"a":1}]'
expect 200 POST /topics/events/records -H 'Content-Type: application/json' --data '[{"a":1}]' \
  -H "Authorization: Bearer $token"
expect 401 POST /api/jobs/none/run

# A browser's page load gets the sign-in page (JSON for anything else).
expect 401 GET / -H 'Accept: text/html,application/xhtml+xml'
grep -q 'id="signin"' "$work/b" || fail "a page load without the token does not get the sign-in page"
grep -qi '^Content-Type: text/html' "$work/h" || fail "the sign-in page is not text/html"
expect 401 GET /api/topics -H 'Accept: application/json'
grep -q '"error"' "$work/b" || fail "an API call without the token does not get a JSON error"

# POST /login: the cookie.
expect 401 POST /login -H "Authorization: Bearer nope-nope-nope-nope"
expect 204 POST /login -H "Authorization: Bearer $token"
cookie=$(grep -i '^Set-Cookie:' "$work/h" | tr -d '\r')
case "$cookie" in
  *"strata_token=$token;"*HttpOnly*SameSite=Strict*) ;;
  *) fail "POST /login set no HttpOnly, SameSite=Strict token cookie: $cookie" ;;
esac
expect 200 GET /api/topics -H "Cookie: strata_token=$token"
expect 200 GET /static/app.js -H "Cookie: strata_token=$token"
expect 401 GET /api/topics -H "Cookie: strata_token=${token}x"
expect 204 POST /logout -H "Cookie: strata_token=$token"
grep -qi '^Set-Cookie: strata_token=;.*Max-Age=0' "$work/h" || fail "POST /logout does not clear the cookie"

kill -TERM "$pid"
wait "$pid" || fail "strata up exited $?"
pid=
if grep -qF "$token" "$work/out" "$work/err"; then fail "strata printed the token"; fi
echo "ok: the token was never printed"
echo "token.sh: ok"
