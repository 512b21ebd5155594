#!/bin/bash
# Runs shellcheck on every shell script and flake8 on every Python file of the
# tree (settings: .shellcheckrc, .flake8 at the root).  Shell scripts are
# found by name (*.sh) and by their #! line, so hooks and maintainer scripts
# without a suffix are checked too.
#   usage: lint-scripts.sh
set -euo pipefail

top=$(dirname "$(readlink -f "$0")")/..
cd "$top"

shell=() python=()
while IFS= read -r -d '' f; do
	[[ -f $f ]] || continue
	case $f in
	*.sh) shell+=("$f") ;;
	*.py) python+=("$f") ;;
	*)
		first=$(head -n 1 -- "$f" 2>/dev/null | tr -d '\0' || true)
		case $first in
		'#!'*/sh | '#!'*/bash | '#!'*'env bash') shell+=("$f") ;;
		'#!'*python3*) python+=("$f") ;;
		esac
		;;
	esac
done < <(git ls-files -z --cached --others --exclude-standard)

echo "lint: shellcheck on ${#shell[@]} scripts"
shellcheck "${shell[@]}"
echo "lint: flake8 on ${#python[@]} Python files"
flake8 "${python[@]}"
echo "lint: scripts clean"
