#!/bin/bash
# Entry point of `make packages` and `make repos`: runs the packaging steps
# in order and skips them when their inputs have not changed (a stamp holds
# the digest of the inputs), so a second `make` does no work.
#
#   packages: keys.sh -> source.sh -> deb.sh + rpm.sh + modules.sh
#             (dist/deb, dist/rpm; modules.sh: the signed prebuilt modules for
#             Debian's current kernel, alacrityvm-modules-KVER)
#   repos:    repos.sh                                    (dist/repo/{apt,rpm})
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<USAGE
usage: ${0##*/} [-f] packages|repos...

  -f    rebuild even if the inputs did not change

Environment: AVM_BUILD, AVM_DIST, GNUPGHOME + AVM_SIGNING_KEY (package and
repository signing key), AVM_MODULE_KEY + AVM_MODULE_CERT (module signing
key); without them development keys are generated.  AVM_REPO_URL,
AVM_SOURCE, AVM_KVER, JOBS.
See docs/packaging.md.
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
shift $((OPTIND - 1))
(($# > 0)) || { usage >&2; exit 2; }

# digest_of FILE...: one digest over names and contents
digest_of() {
	(($# > 0)) || { echo none; return; }
	sha256sum "$@" | sha256sum | cut -d' ' -f1
}

# up_to_date NAME DIGEST: true if stamp NAME holds DIGEST (and not -f)
up_to_date() {
	((!force)) && [[ -f $AVM_PKG_BUILD/$1.stamp && $(<"$AVM_PKG_BUILD/$1.stamp") == "$2" ]]
}

packages() {
	"$AVM_PKG_DIR/keys.sh"
	"$AVM_PKG_DIR/source.sh"
	local digest
	digest=$(cd "$AVM_PKG_BUILD/src" && mapfile -d '' -t f < <(find . -type f -print0 | sort -z) &&
		{ digest_of "${f[@]}"; "$AVM_TOP/scripts/kernel-version.sh"; echo "${AVM_MODULE_CERT:-dev}"; } |
		sha256sum | cut -d' ' -f1)
	if up_to_date packages "$digest" && compgen -G "$AVM_DIST/deb/*.deb" >/dev/null &&
		compgen -G "$AVM_DIST/rpm/*.rpm" >/dev/null &&
		compgen -G "$AVM_DIST/deb/alacrityvm-modules-*.deb" >/dev/null; then
		info "packages up to date"
		return
	fi
	rm -f "$AVM_PKG_BUILD/packages.stamp"
	timed deb "$AVM_PKG_DIR/deb.sh"
	timed rpm "$AVM_PKG_DIR/rpm.sh"
	timed modules "$AVM_PKG_DIR/modules.sh"
	echo "$digest" >"$AVM_PKG_BUILD/packages.stamp"
}

repos() {
	local digest
	digest=$(digest_of "$AVM_DIST"/deb/*.deb "$AVM_DIST"/rpm/*.rpm "$AVM_DIST"/keys/*)
	if up_to_date repos "$digest" && [[ -s $AVM_DIST/repo/apt/dists/bookworm/InRelease &&
		-s $AVM_DIST/repo/rpm/repodata/repomd.xml.asc ]]; then
		info "repositories up to date"
		return
	fi
	rm -f "$AVM_PKG_BUILD/repos.stamp"
	timed repos "$AVM_PKG_DIR/repos.sh"
	echo "$digest" >"$AVM_PKG_BUILD/repos.stamp"
}

mkdir -p "$AVM_PKG_BUILD"
for what in "$@"; do
	case $what in
	packages) packages ;;
	repos) repos ;;
	*) usage >&2; exit 2 ;;
	esac
done
