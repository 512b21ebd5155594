"""A non-default MTU: alacrityvmd --venet ...,mtu=9000 (the daemon gives the
TAP in the namespace 9000 too).  The guest's interface comes up with MTU 9000,
8900-byte pings cross in one frame each (counted by the guest driver) (no IP fragments), and 32 MiB
of TCP cross each way with the checksum verified at the far end."""

import pytest

from lib.venet import GUEST_IP, NS_IP, TAP, Traffic, VenetLink

MTU = 9000
PING = 8900  # ICMP payload: 8928-byte IP packets, one frame at MTU 9000
COUNT = 10
# Frames besides the pings a fresh interface may send meanwhile (ARP,
# IPv6 router solicitations, MLD); fragmented pings would be 7 frames each.
NOISE = 8
STREAM_BYTES = 32 << 20


@pytest.fixture(scope="module")
def link(make_initramfs, guest_tools, module_log_dir, module_tmp):
    lk = VenetLink(make_initramfs, guest_tools, module_log_dir, module_tmp, name="mtu9000")
    try:
        lk.start(mtu=MTU)
        lk.wait_carrier("1")
        yield lk
    finally:
        lk.stop()


@pytest.fixture(autouse=True)
def clean_guest_kernel(link):
    yield
    link.assert_dmesg_clean()


def test_interface_has_mtu_9000(link):
    r = link.guest.run(f"cat /sys/class/net/{link.ifname}/mtu", check=True)
    assert r.output.strip() == str(MTU)


def test_tap_has_mtu_9000(link):
    out = link.ns.ip(f"link show {TAP}").stdout
    assert f" mtu {MTU} " in out, out


def test_jumbo_ping_guest_to_namespace(link):
    before = link.ethtool_stats()
    r = link.guest.run(f"ping -c {COUNT} -W 5 -s {PING} {NS_IP}")
    assert r.status == 0, r.output
    assert f"{COUNT} packets transmitted, {COUNT} packets received" in r.output, r.output
    after = link.ethtool_stats()
    # one frame per echo request
    sent = after["tx_packets"] - before["tx_packets"]
    assert COUNT <= sent <= COUNT + NOISE, sent
    assert after["tx_bytes"] - before["tx_bytes"] >= COUNT * (PING + 28)


def test_jumbo_ping_namespace_to_guest(link):
    before = link.ethtool_stats()
    r = link.ns.run(["busybox", "ping", "-c", str(COUNT), "-W", "5", "-s", str(PING), GUEST_IP])
    assert r.returncode == 0, r.stdout + r.stderr
    after = link.ethtool_stats()
    got = after["rx_packets"] - before["rx_packets"]
    assert COUNT <= got <= COUNT + NOISE, got


def test_tcp_both_ways_at_mtu_9000(link, guest_tools):
    t = Traffic(link, guest_tools["avm_stream"])
    _, got, digest = t.guest_to_ns(STREAM_BYTES, seed=3)
    assert (got, digest) == (STREAM_BYTES, t.expected(STREAM_BYTES, seed=3))
    _, got, digest = t.ns_to_guest(STREAM_BYTES, seed=4)
    assert (got, digest) == (STREAM_BYTES, t.expected(STREAM_BYTES, seed=4))
