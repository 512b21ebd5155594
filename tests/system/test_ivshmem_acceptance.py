"""Acceptance: stock QEMU's ivshmem-doorbell device served by alacrityvmd.

alacrityvmd is started as the ivshmem server; Debian's QEMU (TCG) boots
Debian's kernel with a busybox initramfs and an ivshmem-doorbell device on
alacrityvmd's socket; from inside the guest, ivshmem_probe (guest/) finds
the PCI device, maps BAR2 and prints the vbus bridge header the daemon laid
out.  The daemon's log shows the client joining and, once QEMU is gone,
leaving.
"""

import re

import pytest
from qemu import ivshmem_args  # tests/lib

VBUS_MAGIC = 0x535542562D4D5641
VBUS_ABI_MAJOR = 1
VBUS_STATE_READY = 2
MIB = 1 << 20


def parse_probe(output: str) -> dict:
    """ivshmem_probe's "key: value" lines, as a dict of strings."""
    fields = {}
    for line in output.splitlines():
        m = re.match(r"^([a-z0-9_]+): (.*)$", line)
        if m:
            fields.setdefault(m.group(1), m.group(2))
    return fields


@pytest.mark.parametrize("size_arg,size", [("4M", 4 * MIB), ("8M", 8 * MIB)])
def test_guest_sees_the_bridge(start_daemon, boot_guest, size_arg, size):
    vectors = 4
    daemon = start_daemon(region_size=size_arg, vectors=vectors)
    guest = boot_guest(qemu_args=ivshmem_args(daemon.socket, vectors))
    daemon.wait_log(r"client (\d+) joined")

    r = guest.run("ivshmem_probe")
    fields = parse_probe(r.output)
    assert r.status == 0, r.output
    assert fields["devices"] == "1", r.output
    assert int(fields["bar2_size"]) == size
    assert int(fields["magic"], 16) == VBUS_MAGIC
    assert fields["magic_ok"] == "1"
    # the bytes "AVM-VBUS" at offset 0
    assert bytes.fromhex(fields["bytes"].replace(" ", ""))[:8] == b"AVM-VBUS"
    assert int(fields["abi_major"]) == VBUS_ABI_MAJOR
    assert int(fields["region_size"]) == size
    assert int(fields["num_vectors"]) == vectors
    assert int(fields["host_peer_id"]) == 0
    assert int(fields["host_state"]) == VBUS_STATE_READY

    # QEMU's ivshmem device: class "RAM memory" (0x0500), 1af4:1110.
    dev = f"/sys/bus/pci/devices/{fields['device']}"
    ids = guest.run(f"cat {dev}/vendor {dev}/device {dev}/class", check=True)
    assert ids.output.split() == ["0x1af4", "0x1110", "0x050000"]

    guest.poweroff()
    daemon.wait_log(r"client \d+ left")
    assert daemon.stop() == 0


def test_guest_doorbell_reaches_the_daemon(start_daemon, boot_guest):
    """A guest write to the doorbell register (BAR0 + 12) wakes peer 0."""
    daemon = start_daemon(region_size="4M", vectors=4, extra_args=["--verbose"])
    guest = boot_guest(qemu_args=ivshmem_args(daemon.socket, 4))
    daemon.wait_log(r"client \d+ joined")
    r = guest.run("ivshmem_probe --doorbell 0 3")
    assert r.status == 0, r.output
    daemon.wait_log(r"doorbell: vector 3 \(total 1\)")
    r = guest.run("ivshmem_probe --doorbell 0 1")
    assert r.status == 0, r.output
    daemon.wait_log(r"doorbell: vector 1 \(total 1\)")
