#!/usr/bin/env bash
# Every C source and header of the tree is as .clang-format lays it out;
# SQL text is laid out by hand between /* clang-format off */ and
# /* clang-format on */. Fails naming each file that drifted and how to fix
# it: clang-format -i FILE.
set -uo pipefail
root=${1:?usage: check_format.sh SOURCE_DIR}
cd "$root" || exit 2
command -v clang-format >/dev/null || { echo "clang-format is not installed (scripts/deps.sh)" >&2; exit 2; }
mapfile -t files < <(find api cli common worker tests -name '*.[ch]' -not -path '*/node_modules/*' | sort)
[ ${#files[@]} -gt 100 ] || { echo "found only ${#files[@]} C files under $root" >&2; exit 2; }
out=$(clang-format --dry-run -Werror "${files[@]}" 2>&1)
mapfile -t bad < <(grep -oE '^[^ :]+:[0-9]+:[0-9]+: error' <<<"$out" | cut -d: -f1 | sort -u)
if [ ${#bad[@]} -gt 0 ]; then
    for f in "${bad[@]}"; do
        echo "$f is not formatted: clang-format -i $f"
        clang-format "$f" | diff "$f" - | head -10
    done
    exit 1
fi
echo "${#files[@]} C files are formatted"
