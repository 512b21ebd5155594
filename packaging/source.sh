#!/bin/bash
# Stage the source both package formats are built from:
#   $AVM_PKG_BUILD/src/alacrityvm-VERSION/      the tree
#   $AVM_PKG_BUILD/alacrityvm-VERSION.tar.gz    the same, as the RPM Source0
# The tree is the committed HEAD (git archive), so that work in progress in
# a shared checkout never ends up in a package, with packaging/ itself taken
# from the working tree (packaging changes can be tried before committing);
# AVM_SOURCE=worktree takes every file git knows about or would (tracked and
# untracked, not ignored) from the working tree instead.  Added to it:
# packaging/generated/, the exported public key (packaging/keys.sh), the
# repository definitions filled in from packaging/repo/*.in and the built
# Cockpit page (cockpit/alacrityvm).
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<USAGE
usage: ${0##*/}

Stage the package source tree and tarball in \$AVM_PKG_BUILD (run
packaging/keys.sh first).  Environment: AVM_BUILD, AVM_REPO_URL,
AVM_SOURCE (head: committed tree + working packaging/, the default;
worktree: the working tree), SOURCE_DATE_EPOCH (default: last commit's time).
USAGE
}
[[ $# -eq 0 ]] || { usage >&2; exit 2; }

name=alacrityvm-$AVM_VERSION
src=$AVM_PKG_BUILD/src/$name
keys=$AVM_PKG_BUILD/keys
[[ -s $keys/alacrityvm-archive-keyring.gpg ]] || die "no exported key in $keys: run packaging/keys.sh"
git -C "$AVM_TOP" rev-parse --git-dir >/dev/null 2>&1 || die "$AVM_TOP is not a git checkout"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$AVM_TOP" log -1 --format=%ct)}

rm -rf "$src"
mkdir -p "$src"
worktree_files() { # NUL-separated list of the working tree's files
	git -C "$AVM_TOP" ls-files -z --cached --others --exclude-standard "$@" |
		while IFS= read -r -d '' f; do
			[[ -f $AVM_TOP/$f ]] && printf '%s\0' "$f"
		done
}
case ${AVM_SOURCE:-head} in
head)
	git -C "$AVM_TOP" archive --format=tar HEAD | tar -xf - -C "$src"
	rm -rf "$src/packaging"
	worktree_files packaging | tar -C "$AVM_TOP" --null -T - -cf - | tar -xf - -C "$src"
	;;
worktree)
	worktree_files | tar -C "$AVM_TOP" --null -T - -cf - | tar -xf - -C "$src"
	;;
*) die "AVM_SOURCE must be head or worktree" ;;
esac

gen=$src/packaging/generated
mkdir -p "$gen"
cp "$keys/alacrityvm-archive-keyring.gpg" "$keys/RPM-GPG-KEY-alacrityvm" "$gen/"
for in in "$AVM_PKG_DIR"/repo/*.in; do
	out=$gen/$(basename "$in" .in)
	sed -e "s|@REPO_URL@|$AVM_REPO_URL|g" -e "s|@VERSION@|$AVM_VERSION|g" "$in" >"$out"
done

# The Cockpit page as `make cockpit` built it (cockpit/build.sh: the npm
# tools do not run inside the package builds), for alacrityvm-cockpit.
page=$AVM_BUILD/cockpit/alacrityvm
[[ -s $page/manifest.json ]] || die "no Cockpit page in $page: run make cockpit"
mkdir -p "$gen/cockpit"
cp -a "$page" "$gen/cockpit/"

tar -C "$AVM_PKG_BUILD/src" --sort=name --mtime="@$SOURCE_DATE_EPOCH" \
	--owner=0 --group=0 --numeric-owner -cf - "$name" |
	gzip -n >"$AVM_PKG_BUILD/$name.tar.gz"
info "staged $src and $name.tar.gz"
