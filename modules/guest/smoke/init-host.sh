#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "SMOKE: start"
insmod /lib/modules/vbus_pci.ko && echo "SMOKE: insmod vbus_pci ok"
insmod /lib/modules/vbus_enet.ko && echo "SMOKE: insmod vbus_enet ok"
ls /sys/bus/vbus/devices
sleep 1
ip link show
ip addr add 10.0.2.15/24 dev eth0
ip link set eth0 up
sleep 1
ping -c 5 10.0.2.2
ping -c 3 -s 5000 10.0.2.2
ping -c 3 -s 30000 10.0.2.2
ping -c 50 -i 0.05 10.0.2.2 | tail -3
sleep 1
ip link show eth0
ip link set eth0 up 2>/dev/null; ip addr add 10.0.2.15/24 dev eth0 2>/dev/null
ping -c 3 10.0.2.2 | tail -2
for f in /sys/bus/pci/drivers/vbus_pci/0000:*/vbus_link /sys/bus/pci/drivers/vbus_pci/0000:*/statistics/*; do echo "SMOKE: sysfs ${f##*/}=$(cat "$f")"; done
for f in rx_packets tx_packets rx_errors tx_errors rx_dropped tx_dropped; do echo "$f $(cat /sys/class/net/eth0/statistics/$f)"; done
ip link set eth0 down
rmmod vbus_enet && echo "SMOKE: rmmod vbus_enet ok"
ls /sys/bus/vbus/devices
insmod /lib/modules/vbus_enet.ko && echo "SMOKE: re-insmod vbus_enet ok"
ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0
ping -c 3 10.0.2.2 | tail -2
rmmod vbus_enet && echo "SMOKE: rmmod vbus_enet ok"
rmmod vbus_pci && echo "SMOKE: rmmod vbus_pci ok"
dmesg | grep -iE "vbus|bug|warning|oops|call trace|eth0"
echo "SMOKE: end"
poweroff -f
