#!/usr/bin/env bash
# Builds one flavour of strata into build/<flavour>:
#   release  gcc, optimised
#   asan     clang, AddressSanitizer + UndefinedBehaviorSanitizer, libFuzzer targets
set -euo pipefail
cd "$(dirname "$0")/.."
flavour=${1:-release}
jobs=$(nproc)
case "$flavour" in
  release) cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
             -DCMAKE_C_FLAGS=-O2 >/dev/null ;;
  asan)    cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
             -DSTRATA_SANITIZE=ON -DSTRATA_FUZZ=ON >/dev/null ;;
  *) echo "build.sh: unknown flavour '$flavour' (release, asan)" >&2; exit 2 ;;
esac
cmake --build "build/$flavour" -j "$jobs"
