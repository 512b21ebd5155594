#!/bin/bash
# Install the Debian packages listed in build-deps.txt that are missing.
# Quick no-op when everything is present.  Needs root only when it has work.
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
list=${1:-$here/build-deps.txt}

mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list")

missing=()
for pkg in "${wanted[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
	[[ $status == ii* ]] || missing+=("$pkg")
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
