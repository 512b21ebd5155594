# shellcheck shell=bash
# kernel-patches/lib.sh: helpers shared by generate.sh, check.sh and
# packages.sh.  Sourced, never run.  Callers set `set -euo pipefail`.

KP_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
AVM_TOP=${AVM_TOP:-$(dirname "$KP_DIR")}
AVM_BUILD=${AVM_BUILD:-$AVM_TOP/build}
LINUX_SOURCE=${LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
# Everything this folder caches lives here; `make clean` removes it.
KP_BUILD=$AVM_BUILD/kernel-patches
KP_PRISTINE=$KP_BUILD/pristine
# The committed series (one directory per kernel series)
KP_SERIES_DIR=$KP_DIR/6.1
JOBS=${JOBS:-$(nproc)}
# The kernel builds here are independent: an outer make's flags (-s, its
# jobserver) must not leak into them; JOBS sets their parallelism.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

info() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# now: seconds since the epoch, for step timings
now() { date +%s; }

# ensure_pristine: extract $LINUX_SOURCE once into $KP_PRISTINE.  The stamp
# names the tarball's size and mtime, so a new linux-source-6.1 package
# triggers a fresh extraction.  The tree is only ever read or hard-link
# copied (quilt and the kernel build replace files, never rewrite them).
ensure_pristine() {
	local want stamp=$KP_PRISTINE/.avm-pristine
	[[ -f $LINUX_SOURCE ]] ||
		die "$LINUX_SOURCE missing (apt-get install linux-source-6.1)"
	want="$(stat -c '%s %Y' "$LINUX_SOURCE") $LINUX_SOURCE"
	if [[ -f $stamp && $(<"$stamp") == "$want" ]]; then
		return 0
	fi
	info "extracting $LINUX_SOURCE into ${KP_PRISTINE#"$AVM_TOP"/}"
	rm -rf "$KP_PRISTINE" "$KP_PRISTINE.tmp"
	mkdir -p "$KP_PRISTINE.tmp"
	tar -xJf "$LINUX_SOURCE" -C "$KP_PRISTINE.tmp" --strip-components=1
	[[ -f $KP_PRISTINE.tmp/Makefile && -d $KP_PRISTINE.tmp/drivers ]] ||
		die "$LINUX_SOURCE does not look like a kernel source tarball"
	printf '%s\n' "$want" >"$KP_PRISTINE.tmp/.avm-pristine"
	mv "$KP_PRISTINE.tmp" "$KP_PRISTINE"
}

# kernel_version DIR: "6.1.192" from the tree's top Makefile
kernel_version() {
	local dir=${1:?kernel tree required}
	make -s -C "$dir" kernelversion 2>/dev/null ||
		die "cannot read the kernel version of $dir"
}

# fresh_tree DEST: hard-link copy of the pristine tree with the committed
# series applied by quilt (exactly as a user would apply it).  No fuzz is
# accepted.  A patched file must be a new inode, never the pristine one.
fresh_tree() {
	local dest=${1:?destination required} f
	[[ $dest != / && $dest == "$KP_BUILD"/* ]] ||
		die "refusing to replace $dest (not under $KP_BUILD)"
	ensure_pristine
	rm -rf "$dest"
	cp -al "$KP_PRISTINE" "$dest"
	rm -f "$dest/.avm-pristine"
	(cd "$dest" && QUILT_PATCHES=$KP_SERIES_DIR QUILT_PC=.pc \
		quilt --quiltrc=/dev/null push -a -q --fuzz=0) ||
		die "the series does not apply to $(kernel_version "$KP_PRISTINE")"
	while read -r f; do
		[[ $(stat -c %h "$dest/$f") == 1 ]] ||
			die "$f in the copy still shares its inode with the pristine tree"
	done < <(cd "$dest" && quilt --quiltrc=/dev/null files -a 2>/dev/null | sort -u)
}
