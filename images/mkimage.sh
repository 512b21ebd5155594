#!/bin/bash
# Build one image (run by images/build.sh, which decides whether it is
# needed): mmdebstrap a bookworm root into a tmpfs, customize it
# (images/customize.sh), copy out the kernel and initramfs, put the root
# into an ext4 file system with mkfs.ext4 -d (no loop device, no partition
# table), convert it to a compressed qcow2, write and sign SHA256SUMS.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../packaging/lib.sh
. "$(dirname "$(readlink -f "$0")")/../packaging/lib.sh"

usage() {
	cat <<USAGE
usage: ${0##*/} guest|host OUTDIR

Environment (set by images/build.sh): AVM_IMAGE_SSH_KEY (public key file),
AVM_MIRROR, AVM_SECURITY_MIRROR, SOURCE_DATE_EPOCH; AVM_IMAGE_SIZE (virtual
disk size, default 2G guest / 4G host).
USAGE
}
(($# == 2)) || { usage >&2; exit 2; }
flavour=$1
out=$2
[[ $flavour == guest || $flavour == host ]] || { usage >&2; exit 2; }
: "${AVM_IMAGE_SSH_KEY:?}" "${AVM_MIRROR:?}" "${AVM_SECURITY_MIRROR:?}" "${SOURCE_DATE_EPOCH:?}"

images_dir=$AVM_TOP/images
work=$AVM_BUILD/images/$flavour
cache=$AVM_BUILD/images/cache/archives
root=$work/root
kver=$("$AVM_TOP/scripts/kernel-version.sh")
if [[ $flavour == guest ]]; then
	size=${AVM_IMAGE_SIZE:-2G}
else
	size=${AVM_IMAGE_SIZE:-4G}
fi
nsteps=5
step() { info "step $1/$nsteps ($flavour): $2"; }

cleanup() {
	if mountpoint -q "$root" 2>/dev/null; then
		# whatever mmdebstrap left mounted below the root (on failure)
		findmnt -rn -o TARGET -R "$root" | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
	fi
	rm -rf "$work/disk.raw" "$out.tmp"
	rmdir "$root" 2>/dev/null || true
}
at_exit cleanup

mkdir -p "$work" "$cache"
cleanup
mkdir -p "$root"
# the root lives in a tmpfs: unpacking and removing ~1 GB of small files on
# a shared disk is the slowest part otherwise
mount -t tmpfs -o size=3g,mode=755 avm-image-root "$root"

# --- 1. mmdebstrap -----------------------------------------------------------
include=systemd-sysv,udev,dbus,systemd-resolved,openssh-server,iproute2,iputils-ping,procps
include+=,kmod,less,linux-image-amd64
mirrors=("deb $AVM_MIRROR bookworm main"
	"deb $AVM_MIRROR bookworm-updates main"
	"deb $AVM_SECURITY_MIRROR bookworm-security main")
extra=()
if [[ $flavour == guest ]]; then
	# the kit's own repository, signature checked against our key; the
	# file-mirror-automount hook makes the file:// path visible inside the
	# chroot for dpkg, and takes it away again
	repo=$AVM_DIST/repo/apt
	keyring=$AVM_DIST/keys/alacrityvm-archive-keyring.gpg
	[[ -s $repo/dists/bookworm/InRelease && -s $keyring ]] ||
		die "no signed repository in $repo or no key $keyring: run make repos"
	mirrors+=("deb [signed-by=$keyring] file://$repo bookworm main")
	include+=,dracut,alacrityvm-dracut,alacrityvm-modules-$kver,alacrityvm-archive-keyring
	# ethtool: docs/guest-drivers.md's `ethtool -S`; a guest whose only
	# NIC is venet may have no route to a mirror to fetch it from
	include+=,ethtool
	extra+=(--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount
		--customize-hook="rmdir -p --ignore-fail-on-non-empty \"\$1$repo\" 2>/dev/null || true")
else
	include+=,initramfs-tools,python3,sudo
fi

step 1 "mmdebstrap bookworm ($include)"
start=$SECONDS
# mmdebstrap hands apt a pipe as "cat >&FD" for dash, which cannot parse an
# FD above 9; every low fd inherited from the callers (build.sh's locks on 8
# and 9, the lock of `flock ... make images`) pushes that pipe up (it became
# 11: "Bad fd number", "apt download failed"), so mmdebstrap inherits none
# (the locks stay held by their owners)
for fd in 3 4 5 6 7 8 9; do
	eval "exec $fd>&-"
done
# INITRD=No: the kernel's package scripts make no initramfs (customize.sh
# makes the one the image ships, once, after everything is installed)
INITRD=No mmdebstrap --verbose --mode=root --format=directory --variant=apt \
	--aptopt='Acquire::Retries "3"' \
	--aptopt='APT::Install-Recommends "false"' \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/info/*' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-include=/usr/share/locale/locale.alias' \
	--include="$include" \
	--setup-hook="mkdir -p \"\$1/var/cache/apt/archives\"" \
	--setup-hook="sync-in $cache /var/cache/apt/archives/" \
	--setup-hook="tar -C $images_dir/rootfs/common -c --owner=0 --group=0 . | tar -C \"\$1\" -x" \
	--setup-hook="tar -C $images_dir/rootfs/$flavour -c --owner=0 --group=0 . | tar -C \"\$1\" -x" \
	"${extra[@]}" \
	--customize-hook="sync-out /var/cache/apt/archives $cache" \
	--customize-hook="$images_dir/customize.sh \"\$1\" $flavour $kver $AVM_IMAGE_SSH_KEY" \
	bookworm "$root" "${mirrors[@]}"
info "time: mmdebstrap: $((SECONDS - start)) s"

# --- 2. kernel and initramfs -------------------------------------------------
step 2 "kernel $kver and initramfs"
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
install -m 644 "$root/boot/vmlinuz-$kver" "$out.tmp/vmlinuz"
install -m 644 "$root/boot/initrd.img-$kver" "$out.tmp/initrd.img"
touch -d "@$SOURCE_DATE_EPOCH" "$out.tmp/vmlinuz" "$out.tmp/initrd.img"

# --- 3. ext4 file system ------------------------------------------------------
used=$(du -sm "$root" | cut -f1)
step 3 "ext4 file system of $size from ${used} MiB (mkfs.ext4 -d)"
start=$SECONDS
# a UUID (and directory hash seed) that depends only on the inputs
uuid=$(printf '%s %s %s' "$flavour" "$kver" "$SOURCE_DATE_EPOCH" | sha256sum |
	sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-a\4-\5/')
rm -f "$work/disk.raw"
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH mkfs.ext4 -q -F -L avm-root -U "$uuid" \
	-E "hash_seed=$uuid,root_owner=0:0" -d "$root" "$work/disk.raw" "$size"
info "time: mkfs.ext4: $((SECONDS - start)) s"
umount "$root"
rmdir "$root"

# --- 4. qcow2 -----------------------------------------------------------------
step 4 "compressed qcow2 (qemu-img convert -c)"
start=$SECONDS
qemu-img convert -p -c -f raw -O qcow2 "$work/disk.raw" "$out.tmp/disk.qcow2"
rm -f "$work/disk.raw"
touch -d "@$SOURCE_DATE_EPOCH" "$out.tmp/disk.qcow2"
info "time: qemu-img convert: $((SECONDS - start)) s"

# --- 5. signed checksums --------------------------------------------------------
step 5 "SHA256SUMS and its signature"
signing_env
(cd "$out.tmp" && sha256sum disk.qcow2 vmlinuz initrd.img >SHA256SUMS)
gpg --batch --yes --quiet --armor --detach-sign --local-user "$AVM_SIGNING_KEY" \
	--output "$out.tmp/SHA256SUMS.asc" "$out.tmp/SHA256SUMS"
rm -rf "$out"
mv "$out.tmp" "$out"
info "$flavour image: $out ($(du -m --apparent-size "$out/disk.qcow2" | cut -f1) MiB qcow2," \
	"signed by the $AVM_KEY_KIND key)"
