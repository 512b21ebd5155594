#!/bin/bash
# Build alacrityvm-modules-KVER: the guest modules prebuilt for Debian's
# current kernel ABI (KVER from scripts/kernel-version.sh) and signed with
# the kernel's sign-file, into $AVM_DIST/deb; the signing certificate goes to
# $AVM_DIST/keys (PEM and DER, the form mokutil --import takes).
#
# Module signing key: AVM_MODULE_KEY (PEM private key) + AVM_MODULE_CERT
# (X.509 PEM) from the environment, else a development key generated in
# $AVM_PKG_BUILD/module-signing whose subject says NOT FOR PRODUCTION.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<USAGE
usage: ${0##*/}

Build the signed prebuilt module package into \$AVM_DIST/deb (run
packaging/source.sh first).  Environment: AVM_MODULE_KEY, AVM_MODULE_CERT,
AVM_KVER (default: scripts/kernel-version.sh), AVM_BUILD, AVM_DIST, JOBS.
USAGE
}
[[ $# -eq 0 ]] || { usage >&2; exit 2; }

kver=${AVM_KVER:-$("$AVM_TOP/scripts/kernel-version.sh")}
[[ -x /usr/src/linux-headers-$kver/scripts/sign-file ]] ||
	die "no linux-headers-$kver with scripts/sign-file"
staged=$AVM_PKG_BUILD/src/alacrityvm-$AVM_VERSION
[[ -d $staged ]] || die "no staged source in $staged: run packaging/source.sh"

# the module signing key
if [[ -n ${AVM_MODULE_KEY:-} || -n ${AVM_MODULE_CERT:-} ]]; then
	[[ -r ${AVM_MODULE_KEY:-} && -r ${AVM_MODULE_CERT:-} ]] ||
		die "AVM_MODULE_KEY and AVM_MODULE_CERT must both name readable files"
	key=$(readlink -f "$AVM_MODULE_KEY") cert=$(readlink -f "$AVM_MODULE_CERT")
else
	dir=$AVM_PKG_BUILD/module-signing
	key=$dir/signing_key.pem cert=$dir/signing_key.x509.pem
	if [[ ! -s $key || ! -s $cert ]]; then
		info "generating the development module signing key (NOT FOR PRODUCTION)"
		mkdir -p "$dir"
		chmod 700 "$dir"
		# as the kernel's certs/default_x509.genkey
		openssl req -new -nodes -utf8 -sha512 -days 36500 -batch -x509 \
			-newkey rsa:3072 -keyout "$key" -out "$cert" \
			-subj "/O=AlacrityVM/CN=AlacrityVM development module signing key (NOT FOR PRODUCTION)" \
			-addext "basicConstraints=critical,CA:FALSE" \
			-addext "keyUsage=digitalSignature" \
			-addext "extendedKeyUsage=codeSigning" 2>/dev/null
	fi
fi

name=alacrityvm-modules-$kver
work=$AVM_PKG_BUILD/modules
rm -rf "$work"
mkdir -p "$work"
cp -a "$staged" "$work/$name"
deb=$work/$name/debian
cp -a "$AVM_PKG_DIR/modules/debian" "$deb"
cp "$AVM_PKG_DIR/debian/copyright" "$deb/copyright"
sed "s/@KVER@/$kver/g" "$deb/control.in" >"$deb/control"
rm "$deb/control.in"
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$AVM_TOP" log -1 --format=%ct 2>/dev/null || date +%s)}
cat >"$deb/changelog" <<CHANGELOG
$name ($AVM_VERSION) bookworm; urgency=medium

  * AlacrityVM $AVM_VERSION for Linux $kver.

 -- ${DEBFULLNAME:-AlacrityVM developers} <${DEBEMAIL:-dev@alacrityvm.example}>  $(date -R -u -d "@$epoch")
CHANGELOG

(
	cd "$work/$name"
	export SOURCE_DATE_EPOCH=$epoch AVM_KVER=$kver AVM_MODULE_KEY=$key AVM_MODULE_CERT=$cert
	dpkg-buildpackage -b -us -uc -J"${JOBS:-$(nproc)}"
) >"$work/build.log" 2>&1 || {
	tail -n 40 "$work/build.log" >&2
	die "dpkg-buildpackage failed (log: $work/build.log)"
}

mkdir -p "$AVM_DIST/deb" "$AVM_DIST/keys"
rm -f "$AVM_DIST"/deb/alacrityvm-modules-*.deb
cp "$work"/alacrityvm-modules-*.deb "$AVM_DIST/deb/"
openssl x509 -in "$cert" -out "$AVM_DIST/keys/alacrityvm-module-signing.pem"
openssl x509 -in "$cert" -outform DER -out "$AVM_DIST/keys/alacrityvm-module-signing.der"
info "built: $(cd "$work" && echo alacrityvm-modules-*.deb) (modules signed by: $(openssl x509 -in "$cert" -noout -subject))"
