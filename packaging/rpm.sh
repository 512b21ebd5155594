#!/bin/bash
# Build the RPMs (one spec, packaging/rpm/alacrityvm.spec) from the staged
# source tarball with rpmbuild, sign them with rpmsign, and copy them to
# $AVM_DIST/rpm (binary RPMs and the SRPM).
#
# This runs on Debian: BuildRequires name Fedora packages, so rpmbuild gets
# --nodeps and the build uses Debian's toolchain and libraries.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<USAGE
usage: ${0##*/}

Build and sign the RPMs into \$AVM_DIST/rpm.  Environment: AVM_BUILD,
AVM_DIST, GNUPGHOME + AVM_SIGNING_KEY (see packaging/lib.sh), JOBS.
USAGE
}
[[ $# -eq 0 ]] || { usage >&2; exit 2; }

name=alacrityvm-$AVM_VERSION
tarball=$AVM_PKG_BUILD/$name.tar.gz
top=$AVM_PKG_BUILD/rpm
[[ -s $tarball ]] || die "no $tarball: run packaging/source.sh"
signing_env

rm -rf "$top"
mkdir -p "$top/SOURCES" "$top/SPECS"
cp "$tarball" "$top/SOURCES/"

# The version and the %changelog are filled in from VERSION (the one version
# source), so the SRPM's spec rebuilds on its own (rpmbuild --rebuild).
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$AVM_TOP" log -1 --format=%ct 2>/dev/null || date +%s)}
spec=$top/SPECS/alacrityvm.spec
{
	printf '%%global avm_version %s\n' "$AVM_VERSION"
	cat "$AVM_PKG_DIR/rpm/alacrityvm.spec"
	printf '%%changelog\n* %s %s <%s> - %s-1\n- AlacrityVM %s (changelog generated from VERSION).\n' \
		"$(LC_ALL=C date -u -d "@$epoch" '+%a %b %d %Y')" \
		"${DEBFULLNAME:-AlacrityVM developers}" "${DEBEMAIL:-dev@alacrityvm.example}" \
		"$AVM_VERSION" "$AVM_VERSION"
} >"$spec"

SOURCE_DATE_EPOCH=$epoch rpmbuild -ba --nodeps \
	--define "_topdir $top" \
	--define "packager ${DEBFULLNAME:-AlacrityVM developers} <${DEBEMAIL:-dev@alacrityvm.example}>" \
	--define "_smp_build_ncpus ${JOBS:-$(nproc)}" \
	"$spec" >"$top/build.log" 2>&1 || {
	tail -n 40 "$top/build.log" >&2
	die "rpmbuild failed (log: $top/build.log)"
}

mapfile -t rpms < <(find "$top/RPMS" "$top/SRPMS" -name '*.rpm' | sort)
rpmsign --addsign \
	--define "__gpg /usr/bin/gpg" \
	--define "_gpg_name $AVM_SIGNING_KEY" \
	"${rpms[@]}" >"$top/sign.log" 2>&1 || {
	cat "$top/sign.log" >&2
	die "rpmsign failed"
}

mkdir -p "$AVM_DIST/rpm"
rm -f "$AVM_DIST/rpm"/*.rpm
cp "${rpms[@]}" "$AVM_DIST/rpm/"
info "built and signed ($AVM_KEY_KIND key): $(cd "$AVM_DIST/rpm" && echo *.rpm)"
