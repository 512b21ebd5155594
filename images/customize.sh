#!/bin/bash
# mmdebstrap customize hook of images/mkimage.sh: turn the freshly installed
# root into a bootable VM image.  Runs on the build host; ROOT is the chroot.
#
#   both   hostname, fstab, Debian's apt sources (deb822), the build-time SSH
#          key, no password anywhere, no SSH host keys (made on first boot),
#          systemd-networkd + resolved, the first-boot units
#   guest  the initramfs made by dracut (vbus_pci, vbus_enet inside; the
#          package scripts made none: INITRD=No), and checks: no compiler,
#          no kernel headers
#   host   the avm user (key-only SSH, passwordless sudo for Ansible), the
#          initramfs made by initramfs-tools with the drivers a VM needs
#   both   one kernel only, KVER (the one our modules are built for)
set -euo pipefail

usage() {
	echo "usage: ${0##*/} ROOT guest|host KVER SSH_PUBKEY_FILE" >&2
	exit 2
}
(($# == 4)) || usage
root=$1 flavour=$2 kver=$3 pubkey=$4
[[ $root != / && -x $root/bin/sh ]] || usage

info() { printf 'customize: %s\n' "$*" >&2; }
die() {
	printf 'customize: error: %s\n' "$*" >&2
	exit 1
}
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-}" "$@"; }

mirror=${AVM_MIRROR:-http://deb.debian.org/debian}
security=${AVM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

if [[ $flavour == guest ]]; then
	hostname=avm-guest
else
	hostname=avm-host
fi
echo "$hostname" >"$root/etc/hostname"
cat >"$root/etc/hosts" <<HOSTS
127.0.0.1	localhost
127.0.1.1	$hostname
::1		localhost ip6-localhost ip6-loopback
HOSTS
# no partition table: the whole disk is the root file system
echo "/dev/vda / ext4 rw,errors=remount-ro 0 1" >"$root/etc/fstab"

# apt: Debian only (the kit's file:// repository was for the build; the
# archive key package ships an example .sources for the real one)
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

# users: no password for anybody; root logs in with the key only
in_root usermod --lock root
if [[ $flavour == host ]]; then
	in_root useradd --create-home --shell /bin/bash --groups sudo avm
	in_root usermod --lock avm
	chmod 440 "$root/etc/sudoers.d/avm"
fi
install_key() {
	local user=$1 home
	home=$(in_root getent passwd "$user" | cut -d: -f6)
	install -d -m 700 "$root$home/.ssh"
	install -m 600 "$pubkey" "$root$home/.ssh/authorized_keys"
	in_root chown -R "$user:" "$home/.ssh"
}
install_key root
[[ $flavour == host ]] && install_key avm
if awk -F: '$2 !~ /^[!*]/ { bad = 1; print "user with a password: " $1 } END { exit bad }' \
	"$root/etc/shadow" >&2; then :; else die "a password is set"; fi

# SSH host keys are made on each VM's first boot (avm-ssh-hostkeys.service)
rm -f "$root"/etc/ssh/ssh_host_*

in_root systemctl enable systemd-networkd.service systemd-resolved.service \
	avm-ssh-hostkeys.service avm-authorized-keys.service ssh.service
# e2scrub_reap cleans up after e2scrub on LVM, which the images do not use
in_root systemctl disable e2scrub_reap.service
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
# a fresh machine id on first boot
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

kernels=$(cd "$root/boot" && echo vmlinuz-*)
[[ $kernels == "vmlinuz-$kver" ]] ||
	die "the image has kernel(s) '$kernels', expected $kver (Debian's kernel moved on?" \
		"update linux-headers-amd64, then make packages repos images)"
if [[ $flavour == host ]]; then
	printf '%s\n' virtio_pci virtio_blk virtio_scsi virtio_net sd_mod sr_mod ahci ata_piix \
		ext4 >>"$root/etc/initramfs-tools/modules"
	info "update-initramfs: initramfs for $kver"
	in_root update-initramfs -c -k "$kver"
else
	info "dracut: initramfs for $kver"
	in_root dracut --force --reproducible --kver "$kver" "/boot/initrd.img-$kver"
	listing=$(in_root lsinitrd "/boot/initrd.img-$kver")
	for mod in vbus_pci vbus_enet; do
		grep -q "/$mod\.ko" <<<"$listing" || die "$mod.ko is not in the initramfs"
	done
	for pkg in gcc cpp make "linux-headers-$kver" dkms; do
		# shellcheck disable=SC2016 # dpkg-query's own ${...} syntax
		if in_root dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii'; then
			die "$pkg is installed in the guest image"
		fi
	done
fi

# caches and logs of the build. Not $root/tmp: mmdebstrap keeps its own apt
# configuration there until its cleanup, which empties /tmp itself; without
# that file its cleanup's apt-get update runs against the build host's lists.
rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old \
	"$root"/var/log/apt/* "$root"/var/log/dpkg.log "$root"/var/log/alternatives.log \
	"$root"/var/tmp/*
info "$flavour root customized"
