"""Queries a view over and over while a replay switches it (replay.sh).

Usage: /usr/bin/python3 replay_queries.py STRATA STORE EXPECTED.json VIEW COUNT_FIELD STOPFILE

Runs `strata views query VIEW --all --format json` until STOPFILE exists.
Every answer must be whole and of one version:
  - the command succeeds and the answer is not empty;
  - the count over every window (COUNT_FIELD summed) never goes down: at the
    switch the new version holds every event the old one held;
  - every final row equals DuckDB's value for its window (EXPECTED.json,
    tests/node/ticks.mjs expect): closed windows never change, so an answer
    missing a partition or mixing versions would show up there.
Prints a summary line and exits 1 on any violation.
"""
import datetime
import json
import os
import subprocess
import sys

SKIP = {"key", "window_start", "window_end", "final", "layer"}


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    x, y = float(a), float(b)
    return x == y or abs(x - y) <= 1e-9 * max(abs(x), abs(y))


def us(iso):
    t = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    delta = t - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds


def main():
    strata, store, expected, view, count_field, stopfile = sys.argv[1:7]
    exp = {}
    for r in json.load(open(expected))["views"][view]:
        if r["final"]:
            exp["%s|%d" % (r["key"], int(r["window_start"]))] = r
    queries = failures = empty = decreases = wrong = 0
    last = -1
    first_error = ""
    while not os.path.exists(stopfile):
        p = subprocess.run([strata, "views", "query", view, "--all", "--format", "json",
                            "--store", store], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        queries += 1
        if p.returncode != 0:
            failures += 1
            first_error = first_error or p.stderr.decode(errors="replace").strip()
            continue
        rows = json.loads(p.stdout)
        if not rows:
            empty += 1
            continue
        total = sum(int(r[count_field]) for r in rows)
        if total < last:
            decreases += 1
            first_error = first_error or "count went down from %d to %d" % (last, total)
        last = total
        for r in rows:
            if not r["final"]:
                continue
            e = exp.get("%s|%d" % (r["key"], us(r["window_start"])))
            bad = e is None or any(not close(r[f], e[f]) for f in e if f not in SKIP)
            if bad:
                wrong += 1
                first_error = first_error or "final row %s %s: %s, expected %s" % (
                    r["key"], r["window_start"], json.dumps(r), json.dumps(e))
    ok = queries > 0 and failures == 0 and empty == 0 and decreases == 0 and wrong == 0
    print("%s queries: %d, failed %d, empty %d, count decreases %d, wrong final rows %d, "
          "last count %d%s" % (view, queries, failures, empty, decreases, wrong, last,
                               "" if ok else "; first problem: " + first_error))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
