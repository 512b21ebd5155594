#!/bin/bash
# Entry point of `make images`: builds the guest and the host image into
# $AVM_DIST/images and skips an image when its inputs did not change (a
# stamp holds the digest of the inputs, as packaging/build.sh does).
#
#   guest  dist/images/debian-12/       Debian bookworm, systemd-networkd on
#          every vbus_enet link, the signed prebuilt guest modules and the
#          dracut module installed from the kit's own signed apt repository
#   host   dist/images/debian-12-host/  plain Debian with SSH, python3 and
#          sudo, nothing of ours (for the provisioning tests)
#
# Each holds disk.qcow2 (ext4, no partition table: boot it with -kernel and
# -initrd, root=/dev/vda), vmlinuz, initrd.img, SHA256SUMS and
# SHA256SUMS.asc (detached signature by the packaging key).
#
# An image build must leave the build host's own apt state alone: the
# digests of /etc/apt and /var/lib/apt/lists are compared around each image
# build, and a change fails it (host_apt_state).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../packaging/lib.sh
. "$(dirname "$(readlink -f "$0")")/../packaging/lib.sh"

AVM_IMAGES_DIR=$AVM_TOP/images

usage() {
	cat <<USAGE
usage: ${0##*/} [-f] [guest|host]...

Build the images (default: both) into \$AVM_DIST/images.

  -f    rebuild even if the inputs did not change

Environment:
  AVM_IMAGE_SSH_KEY    public key file baked into root's (and on the host
                       image the avm user's) authorized_keys; default: a
                       test key generated in \$AVM_BUILD/images/ssh
  AVM_MIRROR           Debian mirror (default http://deb.debian.org/debian)
  AVM_SECURITY_MIRROR  (default http://deb.debian.org/debian-security)
  SOURCE_DATE_EPOCH    timestamps in the image (default: the time of the last
                       commit that touched images/ or packaging/)
  GNUPGHOME, AVM_SIGNING_KEY   the signing key (packaging/lib.sh)
See docs/images.md.
USAGE
}

force=0 flavours=()
for arg in "$@"; do
	case $arg in
	-f) force=1 ;;
	-h | --help) usage; exit 0 ;;
	guest | host) flavours+=("$arg") ;;
	*) usage >&2; exit 2 ;;
	esac
done
((${#flavours[@]} > 0)) || flavours=(guest host)

work=$AVM_BUILD/images
mkdir -p "$work" "$AVM_DIST/images"
# one image build at a time per build directory and per output directory
exec 8>"$work/.lock" 9>"$AVM_DIST/images/.lock"
for fd in 8 9; do
	flock -n "$fd" || { info "waiting for another image build to finish"; flock "$fd"; }
done
mirror=${AVM_MIRROR:-http://deb.debian.org/debian}
security=${AVM_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# SOURCE_DATE_EPOCH is an input only when given: the default follows commits
# whose content the stamp covers already (images/ files, the repository)
sde_given=${SOURCE_DATE_EPOCH:-}
if [[ -z ${SOURCE_DATE_EPOCH:-} ]]; then
	SOURCE_DATE_EPOCH=$(git -C "$AVM_TOP" log -1 --format=%ct -- images packaging 2>/dev/null) ||
		true
	[[ -n $SOURCE_DATE_EPOCH ]] || SOURCE_DATE_EPOCH=$(stat -c %Y "$AVM_TOP/VERSION")
fi
export SOURCE_DATE_EPOCH

# The SSH key every image trusts at build time.
ssh_pubkey() {
	if [[ -n ${AVM_IMAGE_SSH_KEY:-} ]]; then
		[[ -s $AVM_IMAGE_SSH_KEY ]] || die "AVM_IMAGE_SSH_KEY=$AVM_IMAGE_SSH_KEY: no such file"
		ssh-keygen -l -f "$AVM_IMAGE_SSH_KEY" >/dev/null ||
			die "AVM_IMAGE_SSH_KEY=$AVM_IMAGE_SSH_KEY is not an SSH public key"
		echo "$AVM_IMAGE_SSH_KEY"
		return
	fi
	local key=$work/ssh/id_ed25519
	if [[ ! -s $key ]]; then
		info "generating the test SSH key $key (no AVM_IMAGE_SSH_KEY given)"
		mkdir -m 700 "$work/ssh"
		ssh-keygen -q -t ed25519 -N '' -C "alacrityvm image test key" -f "$key"
	fi
	echo "$key.pub"
}

# digest of the inputs of image $1 (the packages and repository for the guest)
inputs_digest() {
	local flavour=$1
	{
		cd "$AVM_IMAGES_DIR" && find . -type f -print0 | sort -z | xargs -0 sha256sum
		cat "$(ssh_pubkey)"
		echo "$flavour $sde_given $mirror $security"
		"$AVM_TOP/scripts/kernel-version.sh"
		if [[ $flavour == guest ]]; then
			sha256sum "$AVM_DIST/repo/apt/dists/bookworm/InRelease" \
				"$AVM_DIST/keys/alacrityvm-archive-keyring.gpg"
		fi
	} | sha256sum | cut -d' ' -f1
}

# The build host's own apt state: its configuration and package lists,
# one "sha256  path" line per file.  mmdebstrap runs apt on this host with
# a configuration of its own; an image build must never change the host's
# (a customize hook that removed mmdebstrap's configuration from the root's
# /tmp once made its cleanup run apt-get update against the host, which
# emptied /var/lib/apt/lists).
host_apt_state() {
	local dirs=(/etc/apt /var/lib/apt/lists) skip=/var/lib/apt/lists/partial
	find "${dirs[@]}" -path "$skip" -prune -o -type l -printf '%p -> %l\n' | sort
	find "${dirs[@]}" -path "$skip" -prune -o -type f ! -name lock -print0 | sort -z |
		xargs -0r sha256sum
}

build_one() {
	local flavour=$1 out
	case $flavour in
	guest) out=$AVM_DIST/images/debian-12 ;;
	host) out=$AVM_DIST/images/debian-12-host ;;
	*) usage >&2; exit 2 ;;
	esac
	if [[ $flavour == guest ]]; then
		[[ -s $AVM_DIST/repo/apt/dists/bookworm/InRelease ]] ||
			die "no signed apt repository in $AVM_DIST/repo/apt: run make repos"
	fi
	local digest stamp=$work/$flavour.stamp
	digest=$(inputs_digest "$flavour")
	if ((!force)) && [[ -f $stamp && $(<"$stamp") == "$digest" ]] &&
		[[ -s $out/SHA256SUMS.asc ]]; then
		info "$flavour image up to date ($out)"
		return
	fi
	rm -f "$stamp"
	local start=$SECONDS apt_before apt_changed
	apt_before=$(host_apt_state)
	AVM_IMAGE_SSH_KEY=$(ssh_pubkey) AVM_MIRROR=$mirror AVM_SECURITY_MIRROR=$security \
		"$AVM_IMAGES_DIR/mkimage.sh" "$flavour" "$out"
	if ! apt_changed=$(diff <(echo "$apt_before") <(host_apt_state)); then
		printf '%s\n' "$apt_changed" >&2
		die "the $flavour image build changed the build host's apt state" \
			"(/etc/apt, /var/lib/apt/lists: the difference is above, '<' before," \
			"'>' after); restore the host's lists with apt-get update"
	fi
	echo "$digest" >"$stamp"
	info "time: $flavour image: $((SECONDS - start)) s"
}

for flavour in "${flavours[@]}"; do
	build_one "$flavour"
done
