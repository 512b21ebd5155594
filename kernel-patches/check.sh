#!/bin/bash
# Test the committed Linux 6.1 series: up to date, applies, builds, clean.
set -euo pipefail

# shellcheck source=kernel-patches/lib.sh
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<EOF
usage: ${0##*/} [-h]

Checks kernel-patches/6.1 (make check-kernel-patches runs this):

  1. drift       regenerating from modules/ gives the committed series
  2. checkpatch  scripts/checkpatch.pl --strict on every patch: 0 errors,
                 0 warnings (CHECKs are reported)
  3. apply       quilt push -a (no fuzz) on a fresh copy of linux-source-6.1;
                 git am gives the same files
  4. headers     make headers; every vbus uapi header compiles on its own
                 with -std=c90 -Wall -Werror, like the kernel's header test
                 and 'make defconfig kvm_guest.config alacrityvm.config
                 alacrityvm_host.config' works in the patched tree
  5. build =m    defconfig + kvm_guest.config + alacrityvm.config +
                 alacrityvm_host.config, modules_prepare, then
                 drivers/vbus/ (vbus_pci, vbus_host) and vbus_enet.o
                 compiled as modules with W=1; any warning fails (defconfig
                 sets CONFIG_WERROR, and the log is searched too)
  6. build =y    the same with the drivers (and tun) built in

The pristine tree and the object directory are cached under
build/kernel-patches/ (a clean build/ works, it just takes longer); the
patched source tree is recreated every run.

Environment: JOBS (parallel jobs, default nproc), LINUX_SOURCE,
AVM_BUILD (default build/).
EOF
}

while getopts h opt; do
	case $opt in
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

W=$KP_BUILD/check
SRC_TREE=$W/linux
OBJ=$W/obj
LOGS=$W/logs
mkdir -p "$W" "$LOGS"
started=$(now)
step_start=$started

step() { # NAME: print how long the previous step took, start NAME
	local t
	t=$(now)
	if [[ -n ${step_name:-} ]]; then
		info "$step_name: ok ($((t - step_start)) s)"
	fi
	step_name=$1
	step_start=$t
}

kmake() { # kernel make in the cached object directory, always W=1
	make -C "$SRC_TREE" O="$OBJ" W=1 -j"$JOBS" "$@"
}

# modinfo OBJECT: the .modinfo strings of an object, one per line
modinfo() {
	objcopy -O binary --only-section=.modinfo "$1" "$W/modinfo.bin"
	tr '\0' '\n' <"$W/modinfo.bin" | sed '/^$/d'
}

# --- 1. drift ----------------------------------------------------------------
step drift
ensure_pristine
regen=$W/regenerated
rm -rf "$regen"
"$KP_DIR/generate.sh" -o "$regen" 2>"$LOGS/generate.log" ||
	die "generate.sh failed: $(cat "$LOGS/generate.log")"
grep 'warning' "$LOGS/generate.log" >&2 || true
if ! diff -ru "$KP_SERIES_DIR" "$regen" >"$LOGS/drift.diff"; then
	head -n 60 "$LOGS/drift.diff" >&2
	die "kernel-patches/6.1 is stale: modules/ or kernel-patches/src changed." \
		"Run 'make kernel-patches' and commit the result" \
		"(full diff: ${LOGS#"$AVM_TOP"/}/drift.diff)"
fi
mapfile -t patches < <(grep -v '^#' "$KP_SERIES_DIR/series")
((${#patches[@]} > 0)) || die "the series file lists no patches"

# --- 2. checkpatch -----------------------------------------------------------
step checkpatch
fail=0
for p in "${patches[@]}"; do
	# --strict adds CHECKs, which are reported but do not fail the test
	out=$(cd "$KP_PRISTINE" && ./scripts/checkpatch.pl --strict --show-types \
		"$KP_SERIES_DIR/$p" 2>&1) || true
	total=$(grep '^total:' <<<"$out" || echo 'total: checkpatch did not finish')
	info "checkpatch --strict: $p: ${total#total: }"
	if ! grep -q '^total: 0 errors, 0 warnings' <<<"$out"; then
		printf '%s\n' "$out" >&2
		fail=1
	fi
done
((fail == 0)) || die "checkpatch found errors or warnings"

# --- 3. apply ----------------------------------------------------------------
step apply
fresh_tree "$SRC_TREE" >"$LOGS/quilt.log"
[[ -f $SRC_TREE/drivers/vbus/Kconfig ]] || die "the tree was not patched"
# Built in, vbus_enet's initcall must run after the bus is registered.
# shellcheck disable=SC2016 # $(CONFIG_...) is make syntax
vbus_line=$(grep -n '^obj-$(CONFIG_VBUS_PCI)[[:space:]]*+= vbus/$' \
	"$SRC_TREE/drivers/Makefile" | cut -d: -f1)
net_line=$(grep -n '^obj-y[[:space:]]*+= net/$' "$SRC_TREE/drivers/Makefile" |
	cut -d: -f1)
if [[ -z $vbus_line || -z $net_line ]] || ((vbus_line > net_line)); then
	die "drivers/Makefile must descend into vbus/ before net/"
fi
# git am takes the same patches (mail format, From/Date/Signed-off-by) and
# gives the same files as quilt: a repository with just the touched files.
am=$W/git-am
rm -rf "$am"
git init -q "$am"
mapfile -t touched < <(cat "$KP_SERIES_DIR"/*.patch |
	sed -n 's|^--- a/||p' | sort -u)
for f in "${touched[@]}"; do
	# a file an earlier patch creates (drivers/vbus/Kconfig) is not there
	[[ ! -f $KP_PRISTINE/$f ]] || install -D -m 0644 "$KP_PRISTINE/$f" "$am/$f"
done
(
	cd "$am"
	export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
	git add -A
	git -c user.name=check -c user.email=check@localhost commit -q -m base
	for p in "${patches[@]}"; do
		git -c user.name=check -c user.email=check@localhost \
			am -q --whitespace=error-all "$KP_SERIES_DIR/$p" ||
			die "git am $p failed"
	done
	[[ $(git log -1 --format=%an) == "AlacrityVM developers" ]] ||
		die "git am lost the patch author"
) >"$LOGS/git-am.log" 2>&1 || die "git am: $(tail -n 5 "$LOGS/git-am.log")"
while read -r f; do
	cmp -s "$am/$f" "$SRC_TREE/$f" || die "$f differs between git am and quilt"
done < <(cd "$am" && git ls-files)

# --- 4. uapi headers ---------------------------------------------------------
step headers
kmake -s headers >"$LOGS/headers.log" 2>&1 ||
	die "make headers failed: $(tail -n 20 "$LOGS/headers.log")"
n=0
for h in "$SRC_TREE"/include/uapi/linux/vbus*.h; do
	h=${h##*/}
	[[ -f $OBJ/usr/include/linux/$h ]] || die "make headers did not install $h"
	gcc -std=c90 -Wall -Werror -fsyntax-only -I "$OBJ/usr/include" \
		-include "linux/$h" -x c /dev/null 2>"$LOGS/uapi-$h.log" ||
		die "uapi header $h does not compile on its own:" \
			"$(cat "$LOGS/uapi-$h.log")"
	n=$((n + 1))
done
((n >= 3)) || die "expected at least 3 vbus uapi headers, found $n"

# Patch 4 makes the fragment a make target of the tree.
step "make alacrityvm.config"
cfg_obj=$W/obj-config
make -s -C "$SRC_TREE" O="$cfg_obj" defconfig kvm_guest.config \
	alacrityvm.config alacrityvm_host.config >"$LOGS/config-target.log" 2>&1 ||
	die "make defconfig kvm_guest.config alacrityvm.config" \
		"alacrityvm_host.config failed"
for want in CONFIG_VBUS_PCI=m CONFIG_VBUS_ENET=m CONFIG_VBUS_HOST=m; do
	grep -qx "$want" "$cfg_obj/.config" ||
		die "'make alacrityvm.config' did not give $want"
done

# --- 5./6. build as modules, then built in ------------------------------------
for mode in m y; do
	step "build =$mode"
	log=$LOGS/build-$mode.log
	kmake -s defconfig >"$log" 2>&1
	frags=("$SRC_TREE/kernel/configs/kvm_guest.config" \
		"$KP_SERIES_DIR/alacrityvm.config" \
		"$KP_SERIES_DIR/alacrityvm_host.config")
	if [[ $mode == y ]]; then
		# vbus_host =y needs tun =y (depends on TUN)
		sed -n 's/^\(CONFIG_\(VBUS_[A-Z_]*\|TUN\)\)=m$/\1=y/p' \
			"$KP_SERIES_DIR/alacrityvm.config" \
			"$KP_SERIES_DIR/alacrityvm_host.config" >"$W/builtin.config"
		frags+=("$W/builtin.config")
	fi
	(cd "$SRC_TREE" && scripts/kconfig/merge_config.sh -m -O "$OBJ" \
		"$OBJ/.config" "${frags[@]}") >>"$log" 2>&1 ||
		die "merge_config.sh failed, see $log"
	kmake -s olddefconfig >>"$log" 2>&1
	# every line of our fragment (and the =y override) is in the result
	while read -r want; do
		grep -qxF "$want" "$OBJ/.config" ||
			die "=$mode: $want did not survive into .config" \
				"(have: $(grep "^${want%%=*}=" "$OBJ/.config" || echo unset))"
	done < <(sed -e '/^#/d' -e '/^$/d' "${frags[@]:1}" |
		awk -F= '{ v[$1] = $0 } END { for (k in v) print v[k] }')
	kmake -s modules_prepare >>"$log" 2>&1 ||
		die "modules_prepare failed: $(tail -n 20 "$log")"

	# Remove what an earlier run left, so every object is compiled here.
	rm -rf "$OBJ/drivers/vbus"
	rm -f "$OBJ"/drivers/net/vbus_enet.* "$OBJ"/drivers/net/.vbus_enet.*
	blog=$LOGS/drivers-$mode.log
	kmake drivers/vbus/ drivers/net/vbus_enet.o >"$blog" 2>&1 ||
		die "=$mode build failed: $(grep -E 'error|warning' "$blog" | head -n 30)"
	if grep -E 'warning:|error:' "$blog" >&2; then
		die "=$mode: the W=1 build has warnings (${blog#"$AVM_TOP"/})"
	fi

	# kbuild's quiet output: "  CC [M]  obj" for modules, "  CC      obj"
	tag=$([[ $mode == m ]] && echo '  CC [M]  ' || echo '  CC      ')
	for o in $(cd "$SRC_TREE" && ls drivers/vbus/*.c) drivers/net/vbus_enet.c; do
		grep -qxF "$tag${o%.c}.o" "$blog" ||
			die "=$mode: ${o%.c}.o was not compiled as '$tag' in this run"
	done
	if [[ $mode == m ]]; then
		# composite module linked, objects carry module-style .modinfo
		[[ -f $OBJ/drivers/vbus/vbus_pci.o ]] || die "no vbus_pci.o"
		modinfo "$OBJ/drivers/vbus/vbus_pci.o" >"$W/mi"
		grep -qx 'license=GPL' "$W/mi" || die "vbus_pci.o: no module license"
		grep -qx 'parm=call_timeout_ms:.*' "$W/mi" ||
			die "vbus_pci.o: no module parameters in .modinfo"
		modinfo "$OBJ/drivers/net/vbus_enet.o" >"$W/mi"
		grep -qx 'license=GPL' "$W/mi" || die "vbus_enet.o: no module license"
		grep -q 'DMODULE' "$OBJ/drivers/net/.vbus_enet.o.cmd" ||
			die "vbus_enet.o was not compiled as a module"
		modinfo "$OBJ/drivers/vbus/vbus_host.o" >"$W/mi"
		grep -qx 'license=GPL' "$W/mi" || die "vbus_host.o: no module license"
		grep -q 'DMODULE' "$OBJ/drivers/vbus/.vbus_host.o.cmd" ||
			die "vbus_host.o was not compiled as a module"
	else
		# both objects in the directory's built-in archive, built-in .modinfo
		ar t "$OBJ/drivers/vbus/built-in.a" >"$W/ar"
		for o in $(cd "$SRC_TREE" && ls drivers/vbus/*.c); do
			grep -q "$(basename "$o" .c).o\$" "$W/ar" ||
				die "$(basename "$o" .c).o is not in drivers/vbus/built-in.a"
		done
		modinfo "$OBJ/drivers/net/vbus_enet.o" >"$W/mi"
		grep -qx 'vbus_enet.license=GPL' "$W/mi" ||
			die "vbus_enet.o was not compiled as built-in code"
		! grep -q 'DMODULE' "$OBJ/drivers/net/.vbus_enet.o.cmd" ||
			die "vbus_enet.o was compiled as a module"
		modinfo "$OBJ/drivers/vbus/vbus_host.o" >"$W/mi"
		grep -qx 'vbus_host.license=GPL' "$W/mi" ||
			die "vbus_host.o was not compiled as built-in code"
	fi
	info "=$mode: $(grep -cE '^  CC' "$blog") objects compiled with W=1, 0 warnings"
done

step finish
info "all checks passed in $(($(now) - started)) s"
