#!/bin/bash
# dracut module 90alacrityvm: put the AlacrityVM guest drivers (vbus_pci, the
# bridge on the ivshmem PCI device, and vbus_enet, the network driver) into
# the initramfs, so a guest can bring its vbus network up before the root
# file system is mounted.  Installed by alacrityvm-dracut.

# Included by default once installed: the package is only installed in
# guests that use AlacrityVM devices.
check() {
	return 0
}

depends() {
	return 0
}

# Host-only images keep only the drivers of the hardware they find, and the
# ivshmem device has no in-tree driver that would pull ours in, so ask for
# them explicitly, host-only or not.
installkernel() {
	hostonly='' instmods vbus_pci vbus_enet
}
