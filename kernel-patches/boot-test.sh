#!/bin/bash
# Boot the packaged, patched kernel and use its in-tree vbus drivers.
set -euo pipefail

# shellcheck source=kernel-patches/lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<EOF
usage: ${0##*/} [IMAGE.deb]

Boots the kernel of a linux-image package built by packages.sh (default:
the one in \$DIST/kernel) in QEMU with TCG, using the guest smoke test of
modules/guest/smoke (busybox initramfs, fakehost.py as the vbus host).
The in-tree vbus_pci.ko and vbus_enet.ko from the same package must load,
bring up eth0, answer ping, unload, and the kernel must log no warning.
About a minute.  Output in build/kernel-patches/boot/.

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

"$SMOKE/mkinitrd.sh" "$SMOKE/init-host.sh" "$out/host.cpio.gz" "$out/ko"
sock=$out/fakehost.sock
python3 "$SMOKE/fakehost.py" "$sock" 240 normal >"$out/fakehost.log" 2>&1 &
host_pid=$!
trap 'kill "$host_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	[[ -S $sock ]] && break
	sleep 0.1
done
[[ -S $sock ]] || die "fakehost.py did not start: $(cat "$out/fakehost.log")"
started=$(now)
timeout 300 qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot \
	-nic none -kernel "$kernel" -initrd "$out/host.cpio.gz" \
	-append 'console=ttyS0 panic=-1 quiet' \
	-chardev socket,id=ivs,path="$sock" \
	-device ivshmem-doorbell,chardev=ivs,vectors=2 \
	>"$out/guest.log" 2>&1 || true
log=$out/guest.log
for want in 'SMOKE: insmod vbus_pci ok' 'SMOKE: insmod vbus_enet ok' \
	'3 packets transmitted, 3 packets received' \
	'SMOKE: rmmod vbus_pci ok' 'SMOKE: end'; do
	grep -qF "$want" "$log" ||
		die "guest did not print '$want' (${log#"$AVM_TOP"/})"
done
if grep -E 'WARNING:|BUG:|Oops|Call Trace|general protection' "$log" >&2; then
	die "the guest kernel logged a warning (${log#"$AVM_TOP"/})"
fi
info "boot test: ok ($(($(now) - started)) s, ${log#"$AVM_TOP"/})"
