#!/usr/bin/env bash
# Lint: the rules of shared/STYLE.md that a machine can check.
#   1. No banned functions (sprintf, strcpy, strcat, atoi, strtok, gets) in C
#      sources.
#   2. Every C file is formatted as the committed .clang-format says.
#   3. Every module header compiles on its own.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
status=0
files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h' 'bench/*.c' 2>/dev/null ||
        find src tests bench -name '*.[ch]')

banned=$(grep -nE '\b(sprintf|strcpy|strcat|atoi|strtok|gets)[[:space:]]*\(' $files |
         grep -vE '^\S+:[0-9]+:\s*(/\*|\*|//)' || true)
if [ -n "$banned" ]; then
  echo "lint: banned functions (STYLE.md rule 12):"
  echo "$banned"
  status=1
fi

if command -v clang-format >/dev/null; then
  unformatted=""
  for f in $files; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || unformatted="$unformatted $f"
  done
  if [ -n "$unformatted" ]; then
    echo "lint: not formatted per .clang-format (run: clang-format -i FILE):$unformatted"
    status=1
  fi
else
  echo "lint: clang-format is missing (scripts/setup.sh installs it)"
  status=1
fi

for h in src/*/*.h; do
  if ! echo "#include \"${h#src/}\"" | ${CC:-cc} -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror \
       -I src -x c -fsyntax-only - 2>/tmp/lint-header.$$; then
    echo "lint: $h does not compile on its own:"
    cat /tmp/lint-header.$$
    status=1
  fi
done
rm -f /tmp/lint-header.$$

[ $status -eq 0 ] && echo "lint: ok ($(echo $files | wc -w) files)"
exit $status
