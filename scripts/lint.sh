#!/bin/bash
# clang-format (no changes allowed) and clang-tidy (warnings are errors) on
# every C++ file of the userspace and its tests.
#   usage: lint.sh BUILD_DIR   (BUILD_DIR holds compile_commands.json)
set -euo pipefail

build=${1:?usage: lint.sh BUILD_DIR}
top=$(dirname "$(readlink -f "$0")")/..
cd "$top"

mapfile -t files < <(git ls-files --cached --others --exclude-standard \
	'userspace/*.cc' 'userspace/*.h' 'tests/*.cc' 'tests/*.h')
if ((${#files[@]} == 0)); then
	echo "lint: no C++ files"
	exit 0
fi

echo "lint: clang-format on ${#files[@]} files"
clang-format --dry-run --Werror "${files[@]}"

mapfile -t sources < <(printf '%s\n' "${files[@]}" | grep '\.cc$')
echo "lint: clang-tidy on ${#sources[@]} sources"
status=0
out=$(printf '%s\n' "${sources[@]}" |
	xargs -P "$(nproc)" -n 4 clang-tidy --quiet -p "$build" 2>&1) || status=$?
grep -v -E '^[0-9]+ warnings? generated|^Suppressed [0-9]+ warnings|^Use -header-filter' \
	<<<"$out" || true
if ((status != 0)); then
	echo "lint: clang-tidy found problems" >&2
	exit 1
fi
echo "lint: clean"
