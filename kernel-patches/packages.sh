#!/bin/bash
# Build a patched Linux 6.1 guest kernel as .deb and .rpm packages.
set -euo pipefail

# shellcheck source=kernel-patches/lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<EOF
usage: ${0##*/} [-t deb|rpm|all] [-f] [-n]

Applies kernel-patches/6.1 to a fresh copy of linux-source-6.1, configures
it as a KVM guest kernel (defconfig + kvm_guest.config + alacrityvm.config,
LOCALVERSION $LOCALVERSION) and builds packages with the kernel's own
targets into \$DIST/kernel/:

  deb   make bindeb-pkg   linux-image, linux-headers, linux-libc-dev .debs
  rpm   make \$RPM_TARGET  rpm-pkg: kernel, kernel-headers, kernel-devel
        .rpms and a .src.rpm, built from a source tarball;
        binrpm-pkg: kernel and kernel-headers .rpms

Every package set is checked to contain vbus_pci.ko and vbus_enet.ko,
and the .deb's kernel is booted in QEMU with those drivers talking to
alacrityvmd (boot-test.sh, modules/guest/smoke/smoke.py; -n skips it).
A full kernel build takes long (about an hour on 2 busy cores; rpm-pkg
runs 'make clean' and builds everything again inside rpmbuild).  When
the stamp in \$DIST/kernel matches the series and this script, nothing is
rebuilt.

  -t WHAT   deb, rpm or all (default: all)
  -f        rebuild even when the stamp matches
  -n        no boot test
  -h        this help

Environment: JOBS (default nproc), DIST (default dist/), RPM_TARGET
(rpm-pkg, the default, or binrpm-pkg to package the build deb used),
LINUX_SOURCE, AVM_BUILD.
EOF
}

LOCALVERSION=-alacrityvm
RPM_TARGET=${RPM_TARGET:-rpm-pkg}
DIST=${DIST:-$AVM_TOP/dist}
what=all
force=0
boot=1
while getopts t:fnh opt; do
	case $opt in
	t) what=$OPTARG ;;
	f) force=1 ;;
	n) boot=0 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
case $what in deb | rpm | all) ;; *) usage >&2; exit 2 ;; esac
case $RPM_TARGET in rpm-pkg | binrpm-pkg) ;; *) die "bad RPM_TARGET $RPM_TARGET" ;; esac

W=$KP_BUILD/packages
TREE=$W/linux
OUT=$DIST/kernel
started=$(now)

stamp=$( (cat "$KP_SERIES_DIR"/* "$0" "$KP_DIR/lib.sh"
	echo "$what $RPM_TARGET $(stat -c '%s %Y' "$LINUX_SOURCE")") |
	sha256sum | cut -d' ' -f1)
if ((!force)) && [[ -f $OUT/.stamp && $(<"$OUT/.stamp") == "$stamp" ]]; then
	info "packages in ${OUT#"$AVM_TOP"/} are up to date (-f rebuilds)"
	exit 0
fi

info "applying the series to a fresh linux-source-6.1 copy"
mkdir -p "$W"
rm -rf "$W"/*.deb "$W"/*.buildinfo "$W"/*.changes "$W/rpmbuild"
fresh_tree "$TREE"

info "configuring: defconfig + kvm_guest.config + alacrityvm.config"
printf 'CONFIG_LOCALVERSION="%s"\n# CONFIG_LOCALVERSION_AUTO is not set\n' \
	"$LOCALVERSION" >"$W/package.config"
make -s -C "$TREE" defconfig
(cd "$TREE" && scripts/kconfig/merge_config.sh -m .config \
	kernel/configs/kvm_guest.config "$KP_SERIES_DIR/alacrityvm.config" \
	"$W/package.config") >"$W/config.log"
make -s -C "$TREE" olddefconfig
for want in CONFIG_VBUS_PCI=m CONFIG_VBUS_ENET=m; do
	grep -qx "$want" "$TREE/.config" || die "$want missing from .config"
done
make -s -C "$TREE" syncconfig	# kernelrelease reads include/config/auto.conf
krel=$(make -s -C "$TREE" kernelrelease)
[[ $krel == *"$LOCALVERSION" ]] || die "kernel release $krel lacks $LOCALVERSION"
info "kernel release $krel, $JOBS jobs"

# has_modules LISTING_FILE: both drivers are in a package's file list
has_modules() {
	grep -q "/lib/modules/$krel/kernel/drivers/vbus/vbus_pci.ko" "$1" &&
		grep -q "/lib/modules/$krel/kernel/drivers/net/vbus_enet.ko" "$1"
}

build_rpm() {
	local t r
	t=$(now)
	info "make $RPM_TARGET (log: ${W#"$AVM_TOP"/}/rpm.log)"
	make -C "$TREE" -j"$JOBS" "$RPM_TARGET" \
		RPMOPTS="--nodeps --define '_topdir $W/rpmbuild'" \
		>"$W/rpm.log" 2>&1 || die "$RPM_TARGET failed: $(tail -n 30 "$W/rpm.log")"
	r=$(find "$W/rpmbuild/RPMS" -name "kernel-[0-9]*.rpm" | head -n 1)
	[[ -n $r ]] || die "$RPM_TARGET produced no kernel rpm"
	rpm -qlp "$r" >"$W/rpm.files" 2>/dev/null
	has_modules "$W/rpm.files" || die "$r lacks vbus_pci.ko or vbus_enet.ko"
	info "$RPM_TARGET: ok ($(($(now) - t)) s)"
}

build_deb() {
	local t d
	t=$(now)
	info "make bindeb-pkg (log: ${W#"$AVM_TOP"/}/deb.log)"
	make -C "$TREE" -j"$JOBS" bindeb-pkg >"$W/deb.log" 2>&1 ||
		die "bindeb-pkg failed: $(tail -n 30 "$W/deb.log")"
	d=$(find "$W" -maxdepth 1 -name "linux-image-${krel}_*.deb" | head -n 1)
	[[ -n $d ]] || die "bindeb-pkg produced no linux-image package"
	dpkg-deb -c "$d" | awk '{ print $NF }' | sed 's|^\.||' >"$W/deb.files"
	has_modules "$W/deb.files" || die "$d lacks vbus_pci.ko or vbus_enet.ko"
	info "bindeb-pkg: ok ($(($(now) - t)) s)"
}

# rpm-pkg starts with 'make clean', so it goes first; binrpm-pkg reuses
# the build bindeb-pkg made, so it goes second.
if [[ $what != deb && $RPM_TARGET == rpm-pkg ]]; then build_rpm; fi
if [[ $what != rpm ]]; then build_deb; fi
if [[ $what != deb && $RPM_TARGET == binrpm-pkg ]]; then build_rpm; fi

rm -rf "$OUT"
mkdir -p "$OUT"
if [[ $what != rpm ]]; then cp "$W"/*.deb "$OUT"/; fi
if [[ $what != deb ]]; then
	find "$W/rpmbuild/RPMS" "$W/rpmbuild/SRPMS" -name '*.rpm' \
		-exec cp {} "$OUT"/ \; 2>/dev/null
fi
shopt -s nullglob
pkgs=("$OUT"/*.deb "$OUT"/*.rpm)
((${#pkgs[@]} > 0)) || die "no packages were built"
(cd "$OUT" && sha256sum -- "${pkgs[@]##*/}" >SHA256SUMS)
if [[ $what != rpm ]] && ((boot)); then
	"$KP_DIR/boot-test.sh" "$(find "$OUT" -name "linux-image-${krel}_*.deb" | head -n 1)"
fi
printf '%s\n' "$stamp" >"$OUT/.stamp"
info "${#pkgs[@]} packages in ${OUT#"$AVM_TOP"/} ($(($(now) - started)) s)"
