#!/bin/bash
# Build the signed repositories from the packages in $AVM_DIST:
#   $AVM_DIST/repo/apt   apt-ftparchive: pool/main + dists/bookworm, Release
#                        signed as InRelease (clear-signed) and Release.gpg
#                        (ASCII-armoured detached signature)
#   $AVM_DIST/repo/rpm   createrepo_c over the (rpmsign-ed) binary RPMs,
#                        repodata/repomd.xml signed as repomd.xml.asc
# Each repository also carries the public key at its top.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<USAGE
usage: ${0##*/} [apt|rpm]...

Build (default: both) repositories into \$AVM_DIST/repo.  Environment:
AVM_DIST, GNUPGHOME + AVM_SIGNING_KEY (see packaging/lib.sh), AVM_SUITE
(apt suite and codename, default bookworm).
USAGE
}

suite=${AVM_SUITE:-bookworm}
keys=$AVM_DIST/keys

sign() { # sign "GPG-OPTIONS" IN OUT
	# shellcheck disable=SC2086 # $1 is a list of options
	gpg --batch --yes --quiet --local-user "$AVM_SIGNING_KEY" --digest-algo SHA512 \
		$1 --output "$3" "$2"
}

repo_apt() {
	local repo=$AVM_DIST/repo/apt
	local dist=$repo/dists/$suite
	compgen -G "$AVM_DIST/deb/*.deb" >/dev/null || die "no .deb in $AVM_DIST/deb"
	rm -rf "$repo"
	mkdir -p "$repo/pool/main" "$dist/main/binary-amd64"
	cp "$AVM_DIST"/deb/*.deb "$repo/pool/main/"
	cp "$keys/alacrityvm-archive-keyring.gpg" "$repo/"
	(
		cd "$repo"
		apt-ftparchive packages pool/main >"dists/$suite/main/binary-amd64/Packages"
		gzip -9nk "dists/$suite/main/binary-amd64/Packages"
		apt-ftparchive \
			-o APT::FTPArchive::Release::Origin=AlacrityVM \
			-o APT::FTPArchive::Release::Label=AlacrityVM \
			-o APT::FTPArchive::Release::Suite="$suite" \
			-o APT::FTPArchive::Release::Codename="$suite" \
			-o APT::FTPArchive::Release::Architectures=amd64 \
			-o APT::FTPArchive::Release::Components=main \
			-o APT::FTPArchive::Release::Description="AlacrityVM $AVM_VERSION" \
			release "dists/$suite" >"dists/$suite/Release.new"
		mv "dists/$suite/Release.new" "dists/$suite/Release"
	)
	sign --clearsign "$dist/Release" "$dist/InRelease"
	# apt (2.6) refuses a binary detached signature ("unsupported binary
	# format"): Release.gpg is ASCII-armoured, as Debian's archive signs it
	sign "--armor --detach-sign" "$dist/Release" "$dist/Release.gpg"
	info "apt repository: $repo ($(find "$repo/pool/main" -mindepth 1 -maxdepth 1 | wc -l) packages, suite $suite)"
}

repo_rpm() {
	local repo=$AVM_DIST/repo/rpm
	compgen -G "$AVM_DIST/rpm/*.rpm" >/dev/null || die "no .rpm in $AVM_DIST/rpm"
	rm -rf "$repo"
	mkdir -p "$repo/packages"
	find "$AVM_DIST/rpm" -maxdepth 1 -name '*.rpm' ! -name '*.src.rpm' \
		-exec cp -t "$repo/packages" {} +
	cp "$keys/RPM-GPG-KEY-alacrityvm" "$repo/"
	createrepo_c --quiet --revision "$AVM_VERSION" "$repo" >/dev/null
	# dnf reads the ASCII-armoured detached signature repomd.xml.asc
	sign "--armor --detach-sign" "$repo/repodata/repomd.xml" "$repo/repodata/repomd.xml.asc"
	info "rpm repository: $repo ($(find "$repo/packages" -mindepth 1 -maxdepth 1 | wc -l) packages)"
}

(($# > 0)) || set -- apt rpm
signing_env
[[ -s $keys/alacrityvm-archive-keyring.gpg ]] || die "no keys in $keys: run packaging/keys.sh"
for what in "$@"; do
	case $what in
	apt) repo_apt ;;
	rpm) repo_rpm ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
