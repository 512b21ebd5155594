"""Checks of a booted guest image's venet link over SSH, shared by the image
tests that boot it (test_guest_boot: QEMU, test_libvirt: libvirt)."""

import re

from conftest import TOP, run

# the names of `ethtool -S`, from the driver's {name, offset} tables
VENET_COUNTERS = re.findall(r'VBUS_ENET_[A-Z]{2}_STAT\("(\w+)"',
                            (TOP / "modules/guest/vbus_enet.c").read_text())


def check_ethtool(ssh, ifname: str) -> dict:
    """The image carries ethtool (docs/guest-drivers.md's `ethtool -S`):
    @ifname is vbus_enet's, `ethtool -S` lists every counter of its tables
    and the DHCP + SSH traffic is counted.  Returns the counters."""
    assert len(VENET_COUNTERS) > 10
    stats = run(ssh + [f"ethtool -i {ifname}; ethtool -S {ifname}"], timeout=120).stdout
    print(stats)
    assert re.search(r"^driver: vbus_enet$", stats, re.M)
    counters = dict(re.findall(r"^\s+(\w+): (\d+)$", stats, re.M))
    assert set(counters) == set(VENET_COUNTERS)
    assert int(counters["rx_packets"]) > 0 and int(counters["tx_packets"]) > 0
    return counters
