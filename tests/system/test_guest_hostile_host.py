"""The guest drivers against a buggy host (issue 6, guest side): an
alacrityvmd with a venet device serves a QEMU guest running vbus_pci and
vbus_enet; `avm-hostile host-bug` joins the same ivshmem socket as one more
peer (every peer gets the region and the other peers' vector eventfds),
writes one corrupt entry where the guest reads next -- in the event queue
or in the venet RX used ring -- and raises the guest's MSI-X vector 0
through the guest's own eventfd, as the daemon would.

The guest must log the protocol violation, reset its bridge (the daemon
sees a guest RESET and a new INIT), bring the venet link back and pass
traffic again; its kernel log must show no BUG/WARNING/Oops/general
protection, and it must still run commands at the end.  One guest serves
every case (a boot costs seconds under TCG)."""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from lib import env
from lib.venet import GUEST_IP, NS_IP, PREFIX, VenetLink, bad_dmesg_lines

# mode -> what the guest must say (vbus_pci_fault / vbus_dev_report_fault)
HOST_BUGS = {
    "evq-type": r"host protocol violation: unknown event type \(30583\)",
    "evq-seq": r"host protocol violation: event sequence \(\d+\)",
    "evq-queue": r"host protocol violation: signal event queue index \(1000\)",
    "evq-call": r"host protocol violation: call-done event slot \(100000\)",
    "used-len": r"host protocol violation: rx used length beyond its buffer",
    "used-seq": r"host protocol violation: corrupt rx used entry",
}


def hostile_binary() -> Path:
    if "AVM_HOSTILE" in os.environ:
        return Path(os.environ["AVM_HOSTILE"])
    return env.BUILD / "userspace" / "tests" / "hostile" / "avm-hostile"


@pytest.fixture(scope="module")
def link(make_initramfs, guest_tools, module_log_dir, module_tmp):
    if not hostile_binary().exists():
        pytest.fail(f"{hostile_binary()} not built (make userspace)")
    lk = VenetLink(make_initramfs, guest_tools, module_log_dir, module_tmp)
    try:
        lk.start()
        lk.wait_carrier("1")
        yield lk
    finally:
        lk.stop()


def ping_ok(link: VenetLink, timeout: float = 60) -> None:
    """The venet link passes traffic (after a reset the interface may be a
    new one: find it again, address it, ping the namespace)."""
    deadline = time.monotonic() + timeout
    while True:
        link.ifname = link.wait_interface()
        link.guest.run(f"ip addr replace {GUEST_IP}/{PREFIX} dev {link.ifname} && "
                       f"ip link set {link.ifname} up", check=True)
        r = link.guest.run(f"ping -c 1 -W 2 {NS_IP}")
        if r.status == 0:
            return
        assert time.monotonic() < deadline, f"no ping after the reset:\n{r.output}"
        time.sleep(1)


def wait_dmesg(link: VenetLink, pattern: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not re.search(pattern, link.dmesg()):
        assert time.monotonic() < deadline, f"/{pattern}/ not in the guest's dmesg:\n" \
            + link.dmesg()[-3000:]
        time.sleep(0.5)


def test_link_works_before(link):
    ping_ok(link)


@pytest.mark.parametrize("mode", list(HOST_BUGS))
def test_guest_resets_on_corrupt_entry(link, mode):
    daemon = link.daemon
    faults0 = link.bridge_stats().get("faults", 0)
    r = subprocess.run([hostile_binary(), "host-bug", "--socket", daemon.socket, mode],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    wait_dmesg(link, HOST_BUGS[mode])
    # The bridge reset reaches the host as a guest RESET and a new INIT.
    daemon.wait_log(r"bridge: guest RESET: link down", timeout=30)
    daemon.wait_log(r"bridge: guest INIT: link RUN", timeout=30)
    ping_ok(link)
    stats = link.bridge_stats()
    assert stats["faults"] > faults0, stats
    assert stats["link"] == 3, stats  # enum vbus_pci_link: RUN


def test_guest_kernel_clean_and_alive(link):
    bad = bad_dmesg_lines(link.dmesg())
    assert not bad, "guest kernel complained:\n" + "\n".join(bad)
    r = link.guest.run("echo alive && cat /proc/uptime")
    assert r.status == 0 and "alive" in r.output, r.output
    faults = re.findall(r"host protocol violation", link.dmesg())
    assert len(faults) >= len(HOST_BUGS), faults
