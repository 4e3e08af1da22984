#!/usr/bin/env bash
# Installs everything strata needs to build, run and test on Debian 12, as
# root. Idempotent: packages already present are left alone, and apt's lists
# are refreshed only when a package is missing.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  # libraries (DESIGN.md §4)
  zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev
  # the external-Kafka bus, and a real Kafka client in tests
  librdkafka-dev
  # the serving store (SQLite embedded, PostgreSQL client and, for tests,
  # server), and the YAML config
  libsqlite3-dev libpq-dev postgresql-15 libyaml-dev
  # the HTTP server: ingest, REST API, metrics, dashboard
  libmicrohttpd-dev
  # the HTTP client of the lake's uploads to S3 (docs/development.md)
  libcurl4-openssl-dev
  # job schedules in named time zones (the tz database)
  tzdata
  # tests: unit tests, lint, and real Kafka clients (DESIGN.md §4); promtool
  # (prometheus) checks /metrics
  libcmocka-dev libjansson-dev clang-format util-linux git python3
  kcat python3-confluent-kafka python3-kafka python3-snappy python3-lz4 python3-zstandard
  prometheus chromium
)
# Node.js comes from Debian unless the machine already has one.
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup.sh: all ${#packages[@]} packages present"
fi

# kafkajs 2.2.4 for the broker tests, pinned by its package-lock.json. npm ci
# reinstalls from scratch, so skip it when the pinned version is present.
kjs="$(cd "$(dirname "$0")/.." && pwd)/tests/integration/kafka/kafkajs"
if ! grep -qs '"version": "2.2.4"' "$kjs/node_modules/kafkajs/package.json"; then
  echo "setup.sh: installing kafkajs into $kjs"
  (cd "$kjs" && npm ci --no-audit --no-fund --loglevel=error)
fi

# DuckDB (@duckdb/node-api) for the tests that check computed results
# against an independent engine, hyparquet as a second Parquet reader, and
# s3rver for the S3 upload tests, pinned by tests/node/package.json and its
# lock. npm install, not npm ci: npm 11's ci rejects this lock because the
# other platforms' optional binding packages are not listed in it.
tnode="$(cd "$(dirname "$0")/.." && pwd)/tests/node"
if ! grep -qs '"version": "1.5.6-r.1"' "$tnode/node_modules/@duckdb/node-api/package.json" ||
  [ ! -f "$tnode/node_modules/hyparquet/package.json" ] ||
  ! grep -qs '"version": "3.7.1"' "$tnode/node_modules/s3rver/package.json"; then
  echo "setup.sh: installing the test tools into $tnode"
  (cd "$tnode" && npm install --no-audit --no-fund --loglevel=error)
fi

# uPlot for the dashboard's charts, pinned by web/package.json and its lock;
# the build embeds its dist files (docs/dashboard.md) and fails without them.
web="$(cd "$(dirname "$0")/.." && pwd)/web"
if ! grep -qs '"version": "1.6.32"' "$web/node_modules/uplot/package.json"; then
  echo "setup.sh: installing uPlot into $web"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
fi

# playwright-core for the dashboard's browser test (it drives Debian's chromium).
tweb="$(cd "$(dirname "$0")/.." && pwd)/tests/web"
if ! grep -qs '"version": "1.65.1"' "$tweb/node_modules/playwright-core/package.json"; then
  echo "setup.sh: installing playwright-core into $tweb"
  (cd "$tweb" && npm ci --no-audit --no-fund --loglevel=error)
fi
