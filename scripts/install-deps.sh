#!/bin/bash
# Install the Debian packages listed in build-deps.txt that are missing.
# Quick no-op when everything is present.  Needs root only when it has work.
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
list=${1:-$here/build-deps.txt}

# A line "a|b" is met by either package; the first is installed when neither
# is (nodesource's nodejs brings its own npm and conflicts with Debian's).
mapfile -t entries < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$list")
IFS='|' read -ra wanted <<<"$(IFS='|' && echo "${entries[*]}")"

# One dpkg-query for the whole list: one per package took 3-14 s, and make
# check runs this before each of its steps.
declare -A installed=()
while read -r status pkg; do
	[[ $status == ii* ]] && installed[$pkg]=1
done < <(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${wanted[@]}" 2>/dev/null || true)
missing=()
for entry in "${entries[@]}"; do
	IFS='|' read -ra alternatives <<<"$entry"
	met=0
	for pkg in "${alternatives[@]}"; do
		[[ -n ${installed[$pkg]:-} ]] && met=1
	done
	((met)) || missing+=("${alternatives[0]}")
done

if ((${#missing[@]} == 0)); then
	exit 0
fi

echo "install-deps: missing: ${missing[*]}"
if ((EUID != 0)); then
	echo "install-deps: run 'make deps' as root, or install them yourself" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
