#!/bin/bash
# Generate the in-tree patch series for Linux 6.1 from modules/.
set -euo pipefail

# shellcheck source=kernel-patches/lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<EOF
usage: ${0##*/} [-o DIR] [-k TREE]

Write the AlacrityVM patch series for Linux 6.1 (git format-patch files,
a quilt 'series' file, alacrityvm.config and alacrityvm_host.config)
generated from modules/
into DIR, replacing what was there.  The output is byte-for-byte
reproducible: fixed author and dates, no git version in it.

  -o DIR    output directory (default: kernel-patches/6.1)
  -k TREE   pristine Linux 6.1 tree the patches are made against
            (default: \$LINUX_SOURCE extracted once under build/)
  -h        this help

Environment: LINUX_SOURCE (default /usr/src/linux-source-6.1.tar.xz),
AVM_BUILD (default build/).
EOF
}

# The one identity and the dates every patch carries
PATCH_NAME="AlacrityVM developers"
PATCH_EMAIL="devel@alacrityvm.example"
PATCH_EPOCH=1767225600	# 2026-01-01 00:00:00 UTC; patch n is n minutes later

out=$KP_SERIES_DIR
tree=
while getopts o:k:h opt; do
	case $opt in
	o) out=$OPTARG ;;
	k) tree=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
(($# == 0)) || { usage >&2; exit 2; }
[[ $out != / ]] || die "refusing to write the series to /"
if [[ -z $tree ]]; then
	ensure_pristine
	tree=$KP_PRISTINE
fi
[[ -f $tree/MAINTAINERS && -f $tree/drivers/net/Kconfig ]] ||
	die "$tree is not a kernel source tree"

MOD=$AVM_TOP/modules
GUEST=$MOD/guest
UAPI=$MOD/include/uapi/linux
SRC=$KP_DIR/src

# --- what modules/ holds, and where each file goes in-tree ----------------
# Anything the generator does not know how to place is an error, so a new
# module, source or header cannot silently go missing from the series.

kbuild_value() { # VAR [KBUILD]: the right-hand side of "VAR +=" / "VAR :="
	sed -n -E "s/^$1[[:space:]]*[:+]?=[[:space:]]*//p" "${2:-$GUEST/Kbuild}" |
		tr -s ' \t\n' ' ' | sed 's/ $//'
}

modules=$(kbuild_value obj-m | tr ' ' '\n' | LC_ALL=C sort | tr '\n' ' ')
[[ $modules == "vbus_enet.o vbus_pci.o " ]] ||
	die "modules/guest/Kbuild builds '$modules'; the series knows only" \
		"vbus_pci.o and vbus_enet.o: add a patch for the new module"
pci_objs=$(kbuild_value vbus_pci-y)
[[ -n $pci_objs ]] || die "no vbus_pci-y objects in modules/guest/Kbuild"
[[ -z $(kbuild_value vbus_enet-y) ]] ||
	die "vbus_enet became a multi-file module: teach ${0##*/} its objects"

declare -A placed=()	# modules/ file -> in-tree path
for o in $pci_objs; do
	[[ -f $GUEST/${o%.o}.c ]] || die "Kbuild names $o, but ${o%.o}.c is missing"
	placed[guest/${o%.o}.c]=drivers/vbus/${o%.o}.c
done
placed[guest/vbus_bus.h]=include/linux/vbus_bus.h
placed[guest/vbus_pci.h]=drivers/vbus/vbus_pci.h
placed[guest/vbus_enet.c]=drivers/net/vbus_enet.c
for f in "$GUEST"/*.c "$GUEST"/*.h; do
	[[ -n ${placed[guest/${f##*/}]:-} ]] ||
		die "modules/guest/${f##*/} has no place in the series"
done
# the kernel-internal headers (modules/include/linux) go to include/linux
KINC=$MOD/include/linux
kernel_headers=()
for f in "$KINC"/*.h; do
	[[ -e $f ]] || continue
	[[ ${f##*/} == vbus*.h ]] ||
		die "modules/include/linux/${f##*/} is not a vbus*.h header"
	kernel_headers+=("${f##*/}")
	placed[include/linux/${f##*/}]=include/linux/${f##*/}
done
uapi_headers=()
for f in "$UAPI"/*.h; do
	[[ ${f##*/} == vbus*.h ]] ||
		die "modules/include/uapi/linux/${f##*/} is not a vbus*.h header"
	uapi_headers+=("${f##*/}")
done
HOST=$MOD/host
[[ $(kbuild_value obj-m "$HOST/Kbuild") == vbus_host.o ]] ||
	die "modules/host/Kbuild builds '$(kbuild_value obj-m "$HOST/Kbuild")';" \
		"the series knows only vbus_host.o: add a patch for the new module"
[[ -z $(kbuild_value vbus_host-y "$HOST/Kbuild") ]] ||
	die "vbus_host became a multi-file module: teach ${0##*/} its objects"
placed[host/vbus_host.c]=drivers/vbus/vbus_host.c
for f in "$HOST"/*.c "$HOST"/*.h; do
	[[ -e $f ]] || continue
	[[ -n ${placed[host/${f##*/}]:-} ]] ||
		die "modules/host/${f##*/} has no place in the series"
done

# --- a scratch git repository holding only the files the series touches ---

scratch=$(mktemp -d "${TMPDIR:-/tmp}/avm-kp.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
repo=$scratch/linux

# No user or system git configuration may change the output.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$scratch
export GIT_AUTHOR_NAME=$PATCH_NAME GIT_AUTHOR_EMAIL=$PATCH_EMAIL
export GIT_COMMITTER_NAME=$PATCH_NAME GIT_COMMITTER_EMAIL=$PATCH_EMAIL
export TZ=UTC LC_ALL=C
g() { git -C "$repo" "$@"; }

n=0
commit() { # MESSAGE_FILE: commit everything as the next patch
	local date="@$((PATCH_EPOCH + n * 60)) +0000"
	g add -A
	GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
		g commit -q -s --cleanup=strip -F "$1"
	n=$((n + 1))
}

# place SRC DEST: copy a file into the tree, mode 0644
place() {
	install -D -m 0644 "$1" "$repo/$2"
}

# netdev_comments: the networking block comment style checkpatch wants
# under drivers/net/ ("/* Text" instead of a lone "/*" line).  Only a
# lone "/*" followed by " * text" at the same indent is joined; kernel-doc
# ("/**") and everything else pass through unchanged.
netdev_comments() {
	awk '
		held != "" {
			ind = held; sub(/\/\*$/, "", ind)
			if (index($0, ind " * ") == 1 && length($0) > length(ind) + 3) {
				print ind "/* " substr($0, length(ind) + 4)
				held = ""
				next
			}
			print held
			held = ""
		}
		/^[ \t]*\/\*$/ { held = $0; next }
		{ print }
		END { if (held != "") print held }
	'
}

# place_source MODULES_FILE: copy a driver file to its in-tree path; the
# private "vbus_bus.h" include becomes <linux/vbus_bus.h>, and files under
# drivers/net/ get the networking comment style.  A local include must be
# of a file placed next to the includer (vbus_pci.h in drivers/vbus/).
place_source() {
	local dest=${placed[$1]} style=cat inc
	[[ $dest != drivers/net/* ]] || style=netdev_comments
	mkdir -p "$(dirname "$repo/$dest")"
	sed 's|^#include "vbus_bus.h"$|#include <linux/vbus_bus.h>|' \
		"$MOD/$1" | $style >"$repo/$dest"
	while read -r inc; do
		[[ ${placed[guest/$inc]:-} == "$(dirname "$dest")/$inc" ]] ||
			die "$1 has a local include the series cannot place: $inc"
	done < <(sed -n 's|^#include "\(.*\)"$|\1|p' "$repo/$dest")
}

# insert FILE ANCHOR TEXTFILE [after]: insert TEXTFILE before (or after)
# the one line of FILE that is exactly ANCHOR
insert() {
	local file=$repo/$1 anchor=$2 text=$3 where=${4:-before} count
	count=$(grep -cxF -- "$anchor" "$file" || true)
	[[ $count == 1 ]] ||
		die "$1: expected the line '$anchor' once, found it $count times"
	awk -v anchor="$anchor" -v text="$text" -v where="$where" '
		function emit(   line) {
			while ((getline line < text) > 0)
				print line
			close(text)
		}
		$0 == anchor && where == "before" { emit() }
		{ print }
		$0 == anchor && where == "after" { emit() }
	' "$file" >"$file.new"
	mv "$file.new" "$file"
}

# maintainers_add PATTERN: add an F: line to our MAINTAINERS section,
# keeping its F: lines sorted as checkpatch wants
MAINT_TITLE="ALACRITYVM VBUS DRIVERS"
maintainers_add() {
	awk -v title="$MAINT_TITLE" -v pat="$1" '
		function flush(   i, j, t) {
			for (i = 1; i <= nf; i++)
				for (j = i + 1; j <= nf; j++)
					if (f[j] < f[i]) { t = f[i]; f[i] = f[j]; f[j] = t }
			for (i = 1; i <= nf; i++)
				print "F:\t" f[i]
			nf = 0
		}
		$0 == title { in_sec = 1; print; next }
		in_sec && /^F:\t/ { f[++nf] = substr($0, 4); next }
		in_sec && $0 == "" { f[++nf] = pat; flush(); in_sec = 0; found = 1 }
		{ print }
		END { if (!found) exit 1 }
	' "$repo/MAINTAINERS" >"$repo/MAINTAINERS.new" ||
		die "no '$MAINT_TITLE' section in MAINTAINERS"
	mv "$repo/MAINTAINERS.new" "$repo/MAINTAINERS"
}

tmp=$scratch/text
mkdir -p "$tmp"

git init -q -b base "$repo"
for f in MAINTAINERS drivers/Kconfig drivers/Makefile drivers/net/Kconfig \
	drivers/net/Makefile; do
	place "$tree/$f" "$f"
done
printf 'Linux 6.1: the files the series touches\n' >"$tmp/base"
commit "$tmp/base"
base=$(g rev-parse HEAD)
n=1

# 1: the uapi headers, and the MAINTAINERS section
for h in "${uapi_headers[@]}"; do
	place "$UAPI/$h" "include/uapi/linux/$h"
done
cat >"$tmp/maint" <<EOF
$MAINT_TITLE
M:	$PATCH_NAME <$PATCH_EMAIL>
S:	Maintained

EOF
insert MAINTAINERS "ALCATEL SPEEDTOUCH USB DRIVER" "$tmp/maint"
maintainers_add "include/uapi/linux/vbus*.h"
commit "$SRC/messages/1-uapi.txt"

# 2: vbus_pci, its bus and the class driver API
for o in $pci_objs; do
	place_source "guest/${o%.o}.c"
done
place_source guest/vbus_pci.h
place_source guest/vbus_bus.h
for h in "${kernel_headers[@]}"; do
	place_source "include/linux/$h"
	maintainers_add "include/linux/$h"
done
place "$SRC/drivers/vbus/Kconfig" drivers/vbus/Kconfig
# shellcheck disable=SC2016 # $(CONFIG_...) is make syntax
{
	printf '# SPDX-License-Identifier: GPL-2.0\n\n'
	printf 'obj-$(CONFIG_VBUS_PCI) += vbus_pci.o\n'
	printf 'vbus_pci-y := %s\n' "$pci_objs"
} >"$repo/drivers/vbus/Makefile"
printf 'source "drivers/vbus/Kconfig"\n\n' >"$tmp/kconfig"
insert drivers/Kconfig 'source "drivers/vhost/Kconfig"' "$tmp/kconfig"
printf '%s\n' "# before net/: vbus_enet registers with the bus when built in" \
	"obj-\$(CONFIG_VBUS_PCI)		+= vbus/" >"$tmp/makefile"
insert drivers/Makefile "obj-\$(CONFIG_VDPA)		+= vdpa/" "$tmp/makefile" after
maintainers_add drivers/vbus/
maintainers_add include/linux/vbus_bus.h
commit "$SRC/messages/2-vbus_pci.txt"

# 3: vbus_enet
place_source guest/vbus_enet.c
insert drivers/net/Kconfig "config NLMON" "$SRC/drivers/net/Kconfig.vbus_enet"
# shellcheck disable=SC2016
printf 'obj-$(CONFIG_VBUS_ENET) += vbus_enet.o\n' >"$tmp/netmake"
insert drivers/net/Makefile "obj-\$(CONFIG_VIRTIO_NET) += virtio_net.o" \
	"$tmp/netmake" after
maintainers_add drivers/net/vbus_enet.c
commit "$SRC/messages/3-vbus_enet.txt"

# 4: the config fragment
place "$SRC/alacrityvm.config" kernel/configs/alacrityvm.config
maintainers_add kernel/configs/alacrityvm.config
commit "$SRC/messages/4-config.txt"

# 5: vbus_host, the in-kernel venet backend (the host's module; it needs
# tun, not vbus_pci, so drivers/ also descends into vbus/ for it)
place_source host/vbus_host.c
insert drivers/vbus/Kconfig "endmenu" "$SRC/drivers/vbus/Kconfig.vbus_host"
# shellcheck disable=SC2016
printf 'obj-$(CONFIG_VBUS_HOST) += vbus_host.o\n' >>"$repo/drivers/vbus/Makefile"
printf '%s\n' "obj-\$(CONFIG_VBUS_HOST)		+= vbus/" >"$tmp/makefile"
insert drivers/Makefile "obj-\$(CONFIG_VBUS_PCI)		+= vbus/" "$tmp/makefile" after
place "$SRC/alacrityvm_host.config" kernel/configs/alacrityvm_host.config
maintainers_add kernel/configs/alacrityvm_host.config
commit "$SRC/messages/5-vbus_host.txt"

# --- write the series -------------------------------------------------------

new=$scratch/out
mkdir -p "$new"
g format-patch -q -o "$new" --no-signature --zero-commit --no-numbered \
	--no-cover-letter --no-thread --no-attach --no-base --no-notes \
	--no-renames --diff-algorithm=myers --abbrev=12 --stat=80 \
	--stat-graph-width=40 --summary --no-color "$base"..HEAD
{
	printf '# AlacrityVM drivers for Linux 6.1, generated from\n'
	printf '# modules/ by kernel-patches/generate.sh: do not edit.\n'
	(cd "$new" && ls -- *.patch)
} >"$new/series"
install -m 0644 "$SRC/alacrityvm.config" "$new/alacrityvm.config"
install -m 0644 "$SRC/alacrityvm_host.config" "$new/alacrityvm_host.config"

mkdir -p "$out"
rm -f "$out"/*.patch "$out/series" "$out/alacrityvm.config" \
	"$out/alacrityvm_host.config"
cp "$new"/* "$out"/
info "wrote $(grep -vc '^#' "$out/series") patches to $out"
