#!/bin/bash
# Boot Debian's kernel in QEMU (TCG) with the guest modules and check that
# they load, work and unload without a kernel warning.
#
# usage: run.sh plain|normal|restart
#   plain    a plain ivshmem device (no vbus magic): probe must say -ENODEV
#   normal   ivshmem-doorbell served by fakehost.py: link, venet, ping
#   restart  like normal, and the fake host restarts (epoch bump) mid-run
#
# Environment: BUILD (build dir, default <repo>/build), BUF (fake host pool
# buffer size; 1024 forces multi-buffer chains).  Output in $BUILD/smoke.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
mode=${1:?plain, normal or restart}
build=${BUILD:-$top/build}
out=$build/smoke
kver=$("$top"/scripts/kernel-version.sh)
mkdir -p "$out"
qemu=(qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot -nic none
      -kernel /boot/vmlinuz-"$kver" -append 'console=ttyS0 panic=-1 quiet')
hp=
cleanup() { [[ -n $hp ]] && kill "$hp" 2>/dev/null; rm -f "$out/shm"; }
trap cleanup EXIT

if [[ $mode == plain ]]; then
	"$here"/mkinitrd.sh "$here"/init-plain.sh "$out"/plain.cpio.gz "$build"/modules/guest
	shm=/dev/shm/vbus-smoke-$$
	truncate -s 1M "$shm"
	timeout 300 "${qemu[@]}" -initrd "$out"/plain.cpio.gz \
		-object memory-backend-file,id=m,share=on,mem-path="$shm",size=1M \
		-device ivshmem-plain,memdev=m >"$out"/guest-plain.log 2>&1 || true
	rm -f "$shm"
	grep -q 'SMOKE: .* unbound' "$out"/guest-plain.log
else
	"$here"/mkinitrd.sh "$here"/init-host.sh "$out"/host.cpio.gz "$build"/modules/guest
	sock=$out/fakehost.sock
	rm -f "$sock"
	python3 "$here"/fakehost.py "$sock" 240 "$mode" >"$out"/fakehost-"$mode".log 2>&1 &
	hp=$!
	# a busy machine can take seconds to start python: wait for the socket
	for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
	timeout 300 "${qemu[@]}" -initrd "$out"/host.cpio.gz \
		-chardev socket,id=ivs,path="$sock" \
		-device ivshmem-doorbell,chardev=ivs,vectors=2 \
		>"$out"/guest-"$mode".log 2>&1 || true
	grep -q '3 packets transmitted, 3 packets received' "$out"/guest-"$mode".log
	# vbus_pci's sysfs: the link state and one counter per file
	grep -q '^SMOKE: sysfs vbus_link=run' "$out"/guest-"$mode".log
	grep -qE '^SMOKE: sysfs irqs=[1-9][0-9]*.?$' "$out"/guest-"$mode".log
fi
log=$out/guest-$mode.log
grep -q 'SMOKE: rmmod vbus_pci ok' "$log"
grep -q 'SMOKE: end' "$log"
if grep -E 'WARNING:|BUG:|Oops|Call Trace|general protection' "$log"; then
	echo "smoke $mode: FAIL (kernel warning)" >&2
	exit 1
fi
echo "smoke $mode: ok ($log)"
