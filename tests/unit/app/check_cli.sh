#!/usr/bin/env bash
# Integration test of `strata check`: the built binary on the fixture
# configs, and docs/config.md against the binary's own output.
# Usage: check_cli.sh /path/to/strata FIXTURES_DIR /path/to/docs/config.md
#
#   - a valid config exits 0 and prints the summary;
#   - an invalid one exits 78 and reports, as FILE:LINE:COL, an error on
#     every line the fixture marks with "# error";
#   - environment overrides and ${VAR} reach the check;
#   - unreadable files exit 1 and bad usage exits 2;
#   - the key reference in docs/config.md is exactly `strata check
#     --print-keys`, and the sample config in it is valid.
set -uo pipefail

STRATA=${1:?usage: check_cli.sh STRATA FIXTURES DOC}
FIX=${2:?usage: check_cli.sh STRATA FIXTURES DOC}
DOC=${3:?usage: check_cli.sh STRATA FIXTURES DOC}
[ -x "$STRATA" ] || { echo "check_cli.sh: $STRATA is not executable" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/strata-check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unset STRATA_DATA_DIR STRATA_STORE_URL STRATA_BROKER_ENABLED STRATA_BROKER_LISTEN \
    STRATA_HTTP_LISTEN STRATA_TEST_BROKER

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# run WANT_EXIT ARGS...: runs strata, keeps stdout/stderr in $tmp/out, $tmp/err.
run() {
    local want=$1
    shift
    "$STRATA" "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "--- stdout" >&2; head -c 3000 "$tmp/out" >&2
        echo "--- stderr" >&2; head -c 3000 "$tmp/err" >&2
        fail "strata $* exited $got, expected $want"
    fi
}

err_has() {
    grep -qF -- "$1" "$tmp/err" || { cat "$tmp/err" >&2; fail "stderr lacks '$1'"; }
}

# --- a valid config ----------------------------------------------------------
run 0 check -c "$FIX/good.yaml"
[ "$(cat "$tmp/out")" = "ok: 2 topics, 2 schemas, 4 pipelines" ] ||
    fail "unexpected summary: $(cat "$tmp/out")"
[ ! -s "$tmp/err" ] || fail "a valid config printed to stderr: $(cat "$tmp/err")"
run 0 check --config="$FIX/good.yaml"

# --- an invalid config: every marked line is reported --------------------------
run 78 check -c "$FIX/bad.yaml"
[ ! -s "$tmp/out" ] || fail "an invalid config printed to stdout"
marked=$(grep -n '# error' "$FIX/bad.yaml" | cut -d: -f1)
[ -n "$marked" ] || fail "bad.yaml marks no error lines"
for line in $marked; do
    grep -qE "^$FIX/bad.yaml:$line:[0-9]+: " "$tmp/err" ||
        { cat "$tmp/err" >&2; fail "no error reported at bad.yaml line $line"; }
done
# ... and nothing else: one error per marked line.
errors=$(grep -cE "^$FIX/bad.yaml:[0-9]+:[0-9]+: " "$tmp/err")
[ "$errors" -eq "$(echo "$marked" | wc -l)" ] ||
    { cat "$tmp/err" >&2; fail "$errors errors for $(echo "$marked" | wc -l) marked lines"; }
err_has "$FIX/bad.yaml:3:3: data: unknown key 'dri' (did you mean 'dir'?)"
err_has "$FIX/bad.yaml:17:12: pipelines[0].topic: unknown topic 'stock' (did you mean 'stocks'?)"
err_has "$FIX/bad.yaml:26:36: pipelines[1].window.size: invalid duration 'ten'"
err_has "$FIX/bad.yaml: $errors errors; the config is not valid"

# --- the environment and ${VAR} ------------------------------------------------
STRATA_HTTP_LISTEN=nowhere run 78 check -c "$FIX/good.yaml"
err_has "\$STRATA_HTTP_LISTEN: http.listen: invalid listen address 'nowhere'"
STRATA_TEST_BROKER=no-port run 78 check -c "$FIX/good.yaml"
err_has "$FIX/good.yaml:6:11: broker.listen: invalid listen address 'no-port'"
STRATA_HTTP_LISTEN=0.0.0.0:80 run 0 check -c "$FIX/good.yaml"

# --- unreadable files and usage --------------------------------------------------
run 1 check -c "$tmp/missing.yaml"
err_has "missing.yaml"
run 2 check
err_has "missing the config"
run 2 check -c "$FIX/good.yaml" --print-keys
run 2 check -c "$FIX/good.yaml" extra
run 2 check --bogus
run 0 check --help
grep -q "usage: strata check" "$tmp/out" || fail "check --help prints no usage"
run 0 help check
grep -q "print-keys" "$tmp/out" || fail "strata help check prints no options"
run 0 --help
grep -q "check" "$tmp/out" || fail "strata --help does not list check"

# --- docs/config.md --------------------------------------------------------------
run 0 check --print-keys
cp "$tmp/out" "$tmp/keys"
sed -n '/^<!-- BEGIN strata check --print-keys -->$/,/^<!-- END strata check --print-keys -->$/p' \
    "$DOC" | sed '1d;$d' >"$tmp/doc-keys"
[ -s "$tmp/doc-keys" ] || fail "$DOC has no key reference between the BEGIN/END markers"
diff -u "$tmp/doc-keys" "$tmp/keys" >&2 ||
    fail "the key reference in $DOC is stale: regenerate it with 'strata check --print-keys'"
sed -n '/^<!-- BEGIN sample -->$/,/^<!-- END sample -->$/p' "$DOC" |
    sed '1,2d;$d' | sed '$d' >"$tmp/sample.yaml"
[ -s "$tmp/sample.yaml" ] || fail "$DOC has no sample between the BEGIN/END sample markers"
run 0 check -c "$tmp/sample.yaml"

echo "check_cli: ok"
