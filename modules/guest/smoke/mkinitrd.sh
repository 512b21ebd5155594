#!/bin/bash
# Build a busybox initramfs with the guest modules and an init script.
# usage: mkinitrd.sh <init-script> <out.cpio.gz> <dir with the .ko files>
set -euo pipefail
init=${1:?init script}
out=${2:?output}
kodir=${3:?directory with vbus_pci.ko and vbus_enet.ko}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for a in sh mount insmod rmmod lsmod dmesg cat ls echo sleep ip grep poweroff ping ifconfig find readlink wc head tail; do
	ln -sf busybox "$root/bin/$a"
done
cp "$kodir"/vbus_pci.ko "$kodir"/vbus_enet.ko "$root/lib/modules/"
cp "$init" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
