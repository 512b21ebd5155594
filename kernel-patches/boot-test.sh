#!/bin/bash
# Boot the packaged, patched kernel and use its in-tree vbus drivers.
set -euo pipefail

# shellcheck source=kernel-patches/lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<EOF
usage: ${0##*/} [IMAGE.deb]

Boots the kernel of a linux-image package built by packages.sh (default:
the one in \$DIST/kernel) in QEMU with TCG, with the guest smoke test of
modules/guest/smoke (smoke.py normal: busybox initramfs, alacrityvmd as
the host, a venet link into a network namespace).  The in-tree
vbus_pci.ko and vbus_enet.ko from the same package must load, bring up
eth0, answer ping, unload, and the kernel must log no warning.  Needs
alacrityvmd built (make userspace).  About a minute.  Output in
build/kernel-patches/boot/.

Environment: DIST (default dist/), AVM_BUILD.
EOF
}

[[ ${1:-} != -h ]] || { usage; exit 0; }
DIST=${DIST:-$AVM_TOP/dist}
image=${1:-}
if [[ -z $image ]]; then
	image=$(find "$DIST/kernel" -maxdepth 1 -name 'linux-image-*.deb' \
		! -name '*-dbg_*' 2>/dev/null | head -n 1)
fi
[[ -n $image && -f $image ]] ||
	die "no linux-image .deb (run 'make kernel-packages' first)"
SMOKE=$AVM_TOP/modules/guest/smoke
out=$KP_BUILD/boot
rm -rf "$out"
mkdir -p "$out/ko"
dpkg-deb -x "$image" "$out/root"
kernel=$(find "$out/root/boot" -name 'vmlinuz-*' | head -n 1)
[[ -n $kernel ]] || die "$image has no /boot/vmlinuz-*"
krel=${kernel##*/vmlinuz-}
for ko in drivers/vbus/vbus_pci.ko drivers/net/vbus_enet.ko; do
	cp "$out/root/lib/modules/$krel/kernel/$ko" "$out/ko/" ||
		die "$image has no $ko"
done
info "booting $krel with its in-tree vbus_pci.ko and vbus_enet.ko"

started=$(now)
"$SMOKE/smoke.py" --kernel "$kernel" --modules "$out/ko" --out "$out" normal ||
	die "the smoke test failed on $krel (${out#"$AVM_TOP"/})"
info "boot test: ok ($(($(now) - started)) s, ${out#"$AVM_TOP"/}/guest-normal.log)"
