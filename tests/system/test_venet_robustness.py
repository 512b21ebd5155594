"""The guest survives what the host and its own admin do to the link
during traffic: rmmod/insmod of vbus_enet and of vbus_pci, alacrityvmd
stopped with SIGTERM (the link goes down cleanly) and killed with SIGKILL
(nobody answers any more).  Every test fails on BUG/WARNING/Oops/general
protection in the guest's kernel log.  Each test boots its own guest."""

import signal
import time

import pytest

from lib.venet import GUEST_IP, NS_IP, VBUS_PCI_LINK_RUN, Traffic, VenetLink

BIG = 1 << 40  # bytes a background sender would send: traffic until killed


@pytest.fixture
def link(make_initramfs, guest_tools, log_dir, short_tmp):
    lk = VenetLink(make_initramfs, guest_tools, log_dir, short_tmp)
    try:
        lk.start()
        lk.wait_carrier("1")
        yield lk
    finally:
        lk.stop()


class Background:
    """Traffic both ways until stopped: iperf3 namespace -> guest, and
    avm_stream guest -> namespace.  Either may end early when the link goes
    away; neither result is checked (the tests check the guest, the link
    afterwards and the kernel log)."""

    def __init__(self, link: VenetLink, stream):
        self.link = link
        self.t = Traffic(link, stream)
        self.t.start_iperf3_server()
        self.iperf = link.ns.popen(["iperf3", "-c", GUEST_IP, "-p", "5201", "-t", "60"])
        self.rx = link.ns.popen([stream, "recv", "5003"])
        assert self.rx.stdout.readline().strip() == "listening"
        link.guest.run(f"(avm_stream send {NS_IP} 5003 {BIG} 1 >/tmp/bg.out 2>&1 & "
                       "echo $! >/tmp/bg.pid)", check=True)

    def wait_flowing(self, timeout: float = 60) -> None:
        """Until the guest has moved a few MiB each way."""
        start = self.link.ethtool_stats()
        deadline = time.monotonic() + timeout
        while True:
            now = self.link.ethtool_stats()
            if (now["rx_bytes"] - start["rx_bytes"] > 4 << 20
                    and now["tx_bytes"] - start["tx_bytes"] > 4 << 20):
                return
            assert time.monotonic() < deadline, (start, now)
            time.sleep(0.5)

    def stop(self) -> None:
        self.link.guest.run("kill $(cat /tmp/bg.pid) 2>/dev/null; true")
        for p in (self.iperf, self.rx):
            if p.poll() is None:
                p.kill()
            p.wait()


def ping_both_ways(link: VenetLink) -> None:
    r = link.guest.run(f"ping -c 3 -W 5 {NS_IP}")
    assert r.status == 0, r.output
    r = link.ns.run(["busybox", "ping", "-c", "3", "-W", "5", GUEST_IP])
    assert r.returncode == 0, r.stdout + r.stderr


def test_rmmod_insmod_during_traffic(link, guest_tools):
    bg = Background(link, guest_tools["avm_stream"])
    try:
        bg.wait_flowing()
        for cycle in range(2):
            r = link.guest.run("rmmod vbus_enet")
            assert r.status == 0, f"cycle {cycle}: {r.output}"
            assert link.find_interface() == ""
            r = link.guest.run("modprobe vbus_enet")
            assert r.status == 0, f"cycle {cycle}: {r.output}"
            link.configure_guest()
            link.wait_carrier("1")
            ping_both_ways(link)
        # the whole stack, the bridge included, while iperf3 still sends
        r = link.guest.run("rmmod vbus_enet && rmmod vbus_pci")
        assert r.status == 0, r.output
        r = link.guest.run("modprobe vbus_pci && modprobe vbus_enet")
        assert r.status == 0, r.output
        link.configure_guest()
        link.wait_carrier("1")
        ping_both_ways(link)
    finally:
        bg.stop()
    link.assert_dmesg_clean()
    # the daemon saw the guest close and reopen the device and restart the bridge
    assert link.daemon.log.count("venet 1: open on tap") >= 4
    stats = link.daemon_stats()
    assert stats["bridge_inits"] >= 2
    assert stats["venet_bad_descriptors"] == 0 and stats["bridge_device_faults"] == 0


def test_daemon_sigterm_takes_the_link_down(link, guest_tools):
    bg = Background(link, guest_tools["avm_stream"])
    try:
        bg.wait_flowing()
        assert link.bridge_stats()["link"] == VBUS_PCI_LINK_RUN
        assert link.daemon.stop() == 0
        link.daemon.wait_log(r"bridge: host RESET")
        link.wait_link_gone()
        assert link.bridge_stats()["link"] != VBUS_PCI_LINK_RUN
    finally:
        bg.stop()
    assert link.guest.run(f"ping -c 2 -W 2 {NS_IP}").status != 0
    # the bridge knows the host is gone: the driver unloads without waiting
    r = link.guest.run("rmmod vbus_enet; rmmod vbus_pci", timeout=60)
    assert r.status == 0, r.output
    link.assert_dmesg_clean()


def test_daemon_sigkill_during_traffic(link, guest_tools):
    bg = Background(link, guest_tools["avm_stream"])
    try:
        bg.wait_flowing()
        link.daemon.proc.send_signal(signal.SIGKILL)
        link.daemon.proc.wait()
        time.sleep(3)  # the guest keeps transmitting into the dead rings
        r = link.guest.run("echo alive")
        assert r.output.strip() == "alive"
    finally:
        bg.stop()
    assert link.guest.run(f"ping -c 2 -W 2 {NS_IP}").status != 0
    # unloading talks to a host that never answers: calls time out, no hang
    r = link.guest.run("rmmod vbus_enet && rmmod vbus_pci", timeout=120)
    assert r.status == 0, r.output
    assert link.guest.run("echo alive").output.strip() == "alive"
    link.assert_dmesg_clean()
