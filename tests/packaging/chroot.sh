#!/bin/bash
# Run a command inside a root file system, in a private mount namespace with
# /proc, /sys and /dev mounted (they go away with the namespace).
set -euo pipefail

usage() {
	cat <<USAGE
usage: ${0##*/} ROOT COMMAND [ARG]...

Run COMMAND in ROOT with chroot(8), inside unshare --mount; ROOT must not
be /.  Environment is reset to a minimal PATH, HOME, LANG and
DEBIAN_FRONTEND=noninteractive.
USAGE
}
(($# >= 2)) || { usage >&2; exit 2; }
root=$(readlink -f "${1:?root required}")
shift
[[ $root != / && -x $root/bin/sh ]] || { echo "${0##*/}: refusing root '$root'" >&2; exit 2; }

# shellcheck disable=SC2016 # the script below expands its own arguments
exec unshare --mount --propagation private -- /bin/bash -euc '
	root=$1; shift
	mount -t proc proc "$root/proc"
	mount --rbind /sys "$root/sys"
	mount --rbind /dev "$root/dev"
	exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"
' chroot.sh "$root" "$@"
