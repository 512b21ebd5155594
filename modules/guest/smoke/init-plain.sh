#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "SMOKE: start"
insmod /lib/modules/vbus_pci.ko && echo "SMOKE: insmod vbus_pci ok"
insmod /lib/modules/vbus_enet.ko && echo "SMOKE: insmod vbus_enet ok"
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ]; then
		if [ -e "$d/driver" ]; then echo "SMOKE: $d bound to $(readlink "$d/driver")"; else echo "SMOKE: $d unbound"; fi
	fi
done
ls /sys/bus/vbus/devices /sys/bus/vbus/drivers
lsmod
rmmod vbus_enet && echo "SMOKE: rmmod vbus_enet ok"
rmmod vbus_pci && echo "SMOKE: rmmod vbus_pci ok"
dmesg | grep -iE "vbus|bug|warning|oops|call trace" 
echo "SMOKE: end"
poweroff -f
