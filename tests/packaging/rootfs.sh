#!/bin/bash
# Build (once) the Debian bookworm root the install test starts from: a
# mmdebstrap tarball with apt, dkms and Debian's current kernel headers,
# cached in $AVM_BUILD/packaging/cache.  Prints the tarball's path.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/../../packaging/lib.sh"

usage() {
	cat <<USAGE
usage: ${0##*/} [-f]

Print the path of the cached bookworm root tarball, building it first with
mmdebstrap (variant apt, packages: dkms linux-headers-amd64) if missing.

  -f    rebuild even if cached

Environment: AVM_BUILD, AVM_MIRROR (default http://deb.debian.org/debian),
AVM_SECURITY_MIRROR (default http://deb.debian.org/debian-security).
USAGE
}

force=0
while getopts fh opt; do
	case $opt in
	f) force=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

mirror=${AVM_MIRROR:-http://deb.debian.org/debian}
security=${AVM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
cache=$AVM_PKG_BUILD/cache
tarball=$cache/bookworm-dkms.tar

if ((force)) || [[ ! -s $tarball ]]; then
	mkdir -p "$cache"
	info "building $tarball (mmdebstrap bookworm, variant apt)"
	mmdebstrap --quiet --variant=apt --format=tar \
		--include=dkms,linux-headers-amd64,ca-certificates \
		--aptopt='Acquire::Retries "3"' \
		bookworm "$tarball.tmp" \
		"deb $mirror bookworm main" \
		"deb $mirror bookworm-updates main" \
		"deb $security bookworm-security main" >&2
	mv "$tarball.tmp" "$tarball"
fi
echo "$tarball"
