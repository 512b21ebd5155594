"""First light: a Linux guest's vbus_enet interface talks to a network
namespace through alacrityvmd's venet backend.

One guest (Debian's kernel under TCG, vbus_pci + vbus_enet from
build/modules/guest, iperf3 and ethtool) is booted for the whole module
against alacrityvmd --venet tap=avmtap0,...,netns=NS; the TAP sits in a
namespace of this module's own.  The tests are independent of each other's
order: each starts from "link up, addresses set" and leaves it that way.

The transfer sizes and times, the iperf3 rates and the doorbells and
interrupts per packet are written to <log dir>/results.json.
"""

import json
import time

import pytest

from lib.venet import (GUEST_IP, MAC, NS_IP, Traffic, VenetLink,
                       notification_ratios)

MIB = 1 << 20
STREAM_BYTES = 256 * MIB


@pytest.fixture(scope="module")
def results(module_log_dir):
    data = {}
    yield data
    (module_log_dir / "results.json").write_text(json.dumps(data, indent=2) + "\n")


@pytest.fixture(scope="module")
def link(make_initramfs, guest_tools, module_log_dir, module_tmp, results):
    t0 = time.monotonic()
    lk = VenetLink(make_initramfs, guest_tools, module_log_dir, module_tmp)
    try:
        lk.start(mtu=1500)
        lk.wait_carrier("1")
        results["boot_to_link_seconds"] = round(time.monotonic() - t0, 1)
        yield lk
    finally:
        lk.stop()


@pytest.fixture(scope="module")
def traffic(link, guest_tools):
    return Traffic(link, guest_tools["avm_stream"])


@pytest.fixture(autouse=True)
def clean_guest_kernel(link):
    """Every test ends with a guest kernel log free of BUG/WARNING/Oops."""
    yield
    link.assert_dmesg_clean()


def test_driver_binds_with_configured_mac_and_mtu(link):
    name = link.ifname
    r = link.guest.run(f"cat /sys/class/net/{name}/address /sys/class/net/{name}/mtu "
                       f"/sys/class/net/{name}/carrier; "
                       f"basename $(readlink /sys/class/net/{name}/device/driver)", check=True)
    assert r.output.split() == [MAC, "1500", "1", "vbus_enet"]
    # the bridge: the ivshmem PCI device is driven by vbus_pci
    r = link.guest.run("for d in /sys/bus/pci/devices/*; do "
                       "[ $(cat $d/vendor):$(cat $d/device) = 0x1af4:0x1110 ] && "
                       "basename $(readlink $d/driver); done", check=True)
    assert r.output.split() == ["vbus_pci"]


def test_ping_guest_to_namespace(link):
    r = link.guest.run(f"ping -c 5 -W 5 {NS_IP}")
    assert r.status == 0, r.output
    assert "5 packets transmitted, 5 packets received" in r.output, r.output


def test_ping_namespace_to_guest(link):
    r = link.ns.run(["busybox", "ping", "-c", "5", "-W", "5", GUEST_IP])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 packets transmitted, 5 packets received" in r.stdout, r.stdout


def test_tcp_256mib_guest_to_namespace(traffic, results):
    seconds, got, digest = traffic.guest_to_ns(STREAM_BYTES, seed=7)
    assert got == STREAM_BYTES
    assert digest == traffic.expected(STREAM_BYTES, seed=7)
    results["tcp_256mib_guest_to_ns"] = {"seconds": round(seconds, 2),
                                         "mbit_s": round(got * 8 / seconds / 1e6)}


def test_tcp_256mib_namespace_to_guest(traffic, results):
    seconds, got, digest = traffic.ns_to_guest(STREAM_BYTES, seed=9)
    assert got == STREAM_BYTES
    assert digest == traffic.expected(STREAM_BYTES, seed=9)
    results["tcp_256mib_ns_to_guest"] = {"seconds": round(seconds, 2),
                                         "mbit_s": round(got * 8 / seconds / 1e6)}


@pytest.mark.parametrize("reverse", [False, True], ids=["ns_to_guest", "guest_to_ns"])
def test_iperf3_10s(link, traffic, results, reverse):
    run = traffic.iperf3(reverse=reverse, seconds=10)
    ratios = notification_ratios(run)
    summary = {k: run[k] for k in ("direction", "seconds", "gbps", "bytes", "retransmits")}
    summary["ratios"] = ratios
    summary["guest"] = run["guest"]
    summary["daemon"] = run["daemon"]
    results[f"iperf3_{run['direction']}"] = summary
    print(json.dumps({k: summary[k] for k in ("direction", "gbps", "retransmits")} | ratios))
    assert run["seconds"] >= 9.5
    assert run["bytes"] > 0
    g, d = run["guest"], run["daemon"]
    # no errors anywhere on the path
    for k in ("rx_errors", "tx_errors", "tx_drops"):
        assert g[k] == 0, (k, g)
    for k in ("venet_tx_errors", "venet_tap_write_errors", "venet_bad_descriptors",
              "venet_resets", "bridge_device_faults", "evq_overflows"):
        assert d[k] == 0, (k, d)
    # both ends counted the same packets
    assert d["venet_tx_packets"] == g["tx_packets"]
    assert d["venet_rx_packets"] == g["rx_packets"]
    # every doorbell the guest rang on the device vector reached the I/O thread
    assert d["venet_doorbells"] <= g["tx_doorbells"] + g["rx_doorbells"]
    assert ratios["packets"] > 1000


def test_host_link_down_up(link):
    link.set_host_link(False)
    link.wait_carrier("0")
    r = link.guest.run(f"ping -c 2 -W 2 {NS_IP}")
    assert r.status != 0, r.output
    r = link.ns.run(["busybox", "ping", "-c", "2", "-W", "2", GUEST_IP])
    assert r.returncode != 0, r.stdout

    link.set_host_link(True)
    link.wait_carrier("1")
    r = link.guest.run(f"ping -c 3 -W 5 {NS_IP}")
    assert r.status == 0, r.output
    r = link.ns.run(["busybox", "ping", "-c", "3", "-W", "5", GUEST_IP])
    assert r.returncode == 0, r.stdout + r.stderr
