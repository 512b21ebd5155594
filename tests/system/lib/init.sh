#!/bin/sh
# /init of the AlacrityVM test initramfs (busybox).  Generated images put it
# at /init; the harness (tests/system/lib/guest.py) relies on its markers:
#
#   AVM-INIT-OK              filesystems mounted, modules loaded
#   AVM-MODPROBE-FAILED m    module m could not be loaded
#   AVM-PAYLOAD-EXIT n       the payload (avm.run=PATH) ended with status n
#   AVM-SHELL-READY          a shell reads commands on the console
#
# Kernel command line options:
#   avm.run=PATH   run PATH instead of a shell, then power off
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin

mkdir -p /proc /sys /dev /tmp /run /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
exec </dev/console >/dev/console 2>&1

ip link set lo up 2>/dev/null

if [ -f /etc/avm/modules ]; then
	while read -r m; do
		[ -n "$m" ] || continue
		modprobe "$m" || echo "AVM-MODPROBE-FAILED $m"
	done </etc/avm/modules
fi

run=
read -r cmdline </proc/cmdline
for arg in $cmdline; do
	case "$arg" in
	avm.run=*) run=${arg#avm.run=} ;;
	esac
done

echo "AVM-INIT-OK"
if [ -n "$run" ]; then
	"$run"
	echo "AVM-PAYLOAD-EXIT $?"
	sync
	poweroff -f
fi

# No echo and no line editing: the harness writes commands and reads back
# only their output between markers.
stty -echo 2>/dev/null
export HOME=/root PS1='' PS2=''
cd /root || exit 1
echo "AVM-SHELL-READY"
setsid cttyhack sh
echo "AVM-SHELL-EXIT $?"
poweroff -f
