"""vbus_pci leaves an ivshmem device alone when its region has no vbus
header: a guest with a plain ivshmem device (ivshmem-plain on a zeroed
file in /dev/shm) next to alacrityvmd's ivshmem-doorbell device binds only
the latter, and its venet link works."""

import os
from pathlib import Path

import pytest

from lib.venet import NS_IP, VenetLink


@pytest.fixture
def shm_file():
    p = Path(f"/dev/shm/avm-plain-{os.getpid()}")
    with open(p, "wb") as f:
        f.truncate(1 << 20)
    yield p
    p.unlink(missing_ok=True)


def test_plain_ivshmem_is_left_unbound(make_initramfs, guest_tools, log_dir, short_tmp,
                                       shm_file):
    lk = VenetLink(make_initramfs, guest_tools, log_dir, short_tmp)
    try:
        lk.start(extra_qemu_args=[
            "-object", f"memory-backend-file,id=plainmem,share=on,mem-path={shm_file},size=1M",
            "-device", "ivshmem-plain,memdev=plainmem"])
        r = lk.guest.run("for d in /sys/bus/pci/devices/*; do "
                         "[ $(cat $d/vendor):$(cat $d/device) = 0x1af4:0x1110 ] || continue; "
                         "drv=none; [ -e $d/driver ] && drv=$(basename $(readlink $d/driver)); "
                         "echo $(basename $d) $(($(stat -c %s $d/resource2))) $drv; done",
                         check=True)
        devices = [line.split() for line in r.output.splitlines() if line.strip()]
        assert len(devices) == 2, r.output
        by_size = {int(size): drv for _, size, drv in devices}
        assert by_size == {1 << 20: "none", 16 << 20: "vbus_pci"}, r.output
        assert "no vbus bridge in this ivshmem region" in lk.dmesg()
        # the real bridge next to it works
        lk.wait_carrier("1")
        r = lk.guest.run(f"ping -c 3 -W 5 {NS_IP}")
        assert r.status == 0, r.output
        lk.assert_dmesg_clean()
    finally:
        lk.stop()
