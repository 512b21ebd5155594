#!/bin/bash
# Print the kernel release (uname -r form) of Debian's current amd64 kernel,
# read from the linux-headers-amd64 metapackage so that no ABI number is
# ever written down in this repository.
set -euo pipefail

meta=${1:-linux-headers-amd64}
depends=$(dpkg-query -W -f='${Depends}' "$meta" 2>/dev/null) || {
	echo "kernel-version: $meta is not installed (run make deps)" >&2
	exit 1
}
# Depends: linux-headers-6.1.0-NN-amd64 (= ...)
release=$(sed -n 's/.*linux-\(headers\|image\)-\([0-9][^ ,]*-amd64\).*/\2/p' <<<"$depends")
if [[ -z $release ]]; then
	echo "kernel-version: cannot parse '$depends'" >&2
	exit 1
fi
echo "$release"
