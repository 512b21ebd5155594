#!/bin/bash
# Build the .deb packages from the staged source (packaging/source.sh) with
# dpkg-buildpackage, writing debian/changelog from VERSION, into
# $AVM_DIST/deb.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<USAGE
usage: ${0##*/}

Build the binary .deb packages into \$AVM_DIST/deb.  Environment: AVM_BUILD,
AVM_DIST, JOBS, SOURCE_DATE_EPOCH, DEBFULLNAME/DEBEMAIL (changelog author).
USAGE
}
[[ $# -eq 0 ]] || { usage >&2; exit 2; }

name=alacrityvm-$AVM_VERSION
staged=$AVM_PKG_BUILD/src/$name
work=$AVM_PKG_BUILD/deb
[[ -d $staged ]] || die "no staged source in $staged: run packaging/source.sh"

rm -rf "$work"
mkdir -p "$work"
cp -a "$staged" "$work/$name"
cp -a "$AVM_PKG_DIR/debian" "$work/$name/debian"

# The changelog is generated: VERSION is the one version source.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$AVM_TOP" log -1 --format=%ct 2>/dev/null || date +%s)}
cat >"$work/$name/debian/changelog" <<CHANGELOG
alacrityvm ($AVM_VERSION) bookworm; urgency=medium

  * AlacrityVM $AVM_VERSION (changelog generated from VERSION).

 -- ${DEBFULLNAME:-AlacrityVM developers} <${DEBEMAIL:-dev@alacrityvm.example}>  $(date -R -u -d "@$epoch")
CHANGELOG

(
	cd "$work/$name"
	export SOURCE_DATE_EPOCH=$epoch
	dpkg-buildpackage -b -us -uc -J"${JOBS:-$(nproc)}"
) >"$work/build.log" 2>&1 || {
	tail -n 40 "$work/build.log" >&2
	die "dpkg-buildpackage failed (log: $work/build.log)"
}

mkdir -p "$AVM_DIST/deb"
rm -f "$AVM_DIST/deb"/*.deb
cp "$work"/*.deb "$AVM_DIST/deb/"
info "built: $(cd "$AVM_DIST/deb" && echo *.deb)"
