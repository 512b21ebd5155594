"""A booted guest with a venet link to a network namespace, for the
test_venet_*.py system tests.

    link = VenetLink(make_initramfs, guest_tools, log_dir, short_tmp)
    link.start(mtu=1500)        # netns + alacrityvmd --venet + QEMU + ip config
    link.guest.run(f"ping -c 1 {NS_IP}")
    link.ns.run(["ping", "-c", "1", GUEST_IP])
    link.stop()                 # QEMU killed, daemon stopped, netns deleted

The daemon creates its TAP inside the namespace (--venet ...,netns=NS);
the namespace gets NS_IP, the guest's vbus_enet interface GUEST_IP.
Nothing is addressed outside 10.99.0.0/24 inside the namespace.
"""

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from qemu import ivshmem_args  # tests/lib

from . import env
from .daemon import Daemon
from .guest import Guest
from .initramfs import InitramfsSpec
from .netns import NetNs

NS_IP = "10.99.0.1"
GUEST_IP = "10.99.0.2"
PREFIX = 24
MAC = "52:54:00:12:34:56"
TAP = "avmtap0"
VECTORS = 4
# vbus_pci's vbus_link file, in the order of enum vbus_pci_link
VBUS_PCI_LINK_NAMES = ("down", "init", "wait", "run", "dead")
VBUS_PCI_LINK_RUN = VBUS_PCI_LINK_NAMES.index("run")

# What must never appear in a guest's kernel log (case matters: "not a
# bug" in harmless boot messages is not a BUG).
BAD_DMESG = re.compile(r"BUG|WARNING|Oops|general protection|Call Trace|Kernel panic")


def guest_modules() -> List[Path]:
    d = env.BUILD / "modules" / "guest"
    return [d / "vbus_pci.ko", d / "vbus_enet.ko"]


def venet_initramfs_spec(guest_tools: Dict[str, Path]) -> InitramfsSpec:
    return InitramfsSpec(
        programs=list(guest_tools.values()),
        dynamic_programs=["/usr/bin/iperf3", "/usr/sbin/ethtool"],
        extra_modules=guest_modules(),
        load_modules=["vbus_pci", "vbus_enet"],
    )


def bad_dmesg_lines(text: str) -> List[str]:
    return [ln for ln in text.splitlines() if BAD_DMESG.search(ln)]


def parse_kv(text: str) -> Dict[str, int]:
    """`ethtool -S` style "name: number" lines."""
    out = {}
    for m in re.finditer(r"^\s*([A-Za-z0-9_]+):\s*(\d+)\s*$", text, re.M):
        out[m.group(1)] = int(m.group(2))
    return out


class VenetLink:
    def __init__(self, make_initramfs, guest_tools, log_dir: Path, short_tmp: Path,
                 name: str = "venet"):
        self.make_initramfs = make_initramfs
        self.guest_tools = guest_tools
        self.log_dir = Path(log_dir)
        self.short_tmp = Path(short_tmp)
        self.name = name
        self.ns: Optional[NetNs] = None
        self.daemon: Optional[Daemon] = None
        self.guest: Optional[Guest] = None
        self.ifname = ""
        self.mtu = 1500

    # -- lifecycle ---------------------------------------------------------

    def start(self, mtu: int = 1500, region_size: str = "16M",
              extra_qemu_args: Sequence[str] = ()) -> "VenetLink":
        self.mtu = mtu
        self.ns = NetNs().create()
        self.daemon = Daemon(self.short_tmp / f"{self.name}.sock", region_size=region_size,
                             vectors=VECTORS,
                             extra_args=["--venet",
                                         f"tap={TAP},mac={MAC},mtu={mtu},netns={self.ns.name}"],
                             log_path=self.log_dir / f"{self.name}.alacrityvmd.log").start()
        self.ns.wait_link(TAP)
        self.ns.ip(f"addr add {NS_IP}/{PREFIX} dev {TAP}")
        self.ns.ip(f"link set {TAP} up")
        initrd = self.make_initramfs(venet_initramfs_spec(self.guest_tools))
        args = ivshmem_args(self.daemon.socket, VECTORS) + list(extra_qemu_args)
        self.guest = Guest(initrd, qemu_args=args,
                           log_path=self.log_dir / f"{self.name}.console.log")
        self.guest.start()
        self.guest.wait_ready()
        self.daemon.wait_log(r"guest INIT: link RUN")
        self.configure_guest()
        return self

    def configure_guest(self) -> str:
        """Find the vbus_enet interface (by MAC; its name may change after a
        module reload), give it GUEST_IP and bring it up."""
        self.ifname = self.wait_interface()
        self.guest.run(f"ip addr add {GUEST_IP}/{PREFIX} dev {self.ifname} && "
                       f"ip link set {self.ifname} up", check=True)
        return self.ifname

    def stop(self) -> None:
        if self.guest:
            self.guest.kill()
        if self.daemon:
            self.daemon.stop()
        if self.ns:
            self.ns.delete()

    # -- guest side ----------------------------------------------------------

    def find_interface(self) -> str:
        r = self.guest.run("for i in /sys/class/net/*; do "
                           f"[ \"$(cat $i/address)\" = {MAC} ] && basename $i; done; true")
        return r.output.strip()

    def wait_interface(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            name = self.find_interface()
            if name:
                return name
            time.sleep(0.5)
        raise AssertionError(f"no interface with MAC {MAC} in the guest\n{self.guest.tail()}")

    def carrier(self) -> str:
        return self.guest.run(f"cat /sys/class/net/{self.ifname}/carrier").output.strip()

    def wait_carrier(self, want: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.carrier() != want:
            if time.monotonic() > deadline:
                raise AssertionError(f"carrier never became {want}\n{self.guest.tail()}")
            time.sleep(0.2)

    def wait_link_gone(self, timeout: float = 30) -> None:
        """Until the guest has taken the venet link down: the bridge tears
        its devices down when the host leaves RUN, so the interface either
        vanished or has no carrier."""
        deadline = time.monotonic() + timeout
        while self.find_interface() and self.carrier() != "0":
            if time.monotonic() > deadline:
                raise AssertionError(f"the venet link stayed up\n{self.guest.tail()}")
            time.sleep(0.2)

    def bridge_stats(self) -> Dict[str, int]:
        """vbus_pci's counters, one value per file in
        /sys/bus/pci/drivers/vbus_pci/<bdf>/statistics/, and "link": its
        vbus_link file as enum vbus_pci_link (3 = RUN).  A file holding
        anything but one value fails."""
        r = self.guest.run("cd /sys/bus/pci/drivers/vbus_pci/0000:*/ && "
                           "for f in statistics/* vbus_link; do "
                           "printf '%s=%s\\n' \"${f#statistics/}\" \"$(cat $f)\"; done",
                           check=True)
        stats: Dict[str, int] = {}
        for name, value in re.findall(r"^([a-z_]+)=(.*?)\r?$", r.output, re.M):
            assert re.fullmatch(r"\w+", value), \
                f"vbus_pci sysfs: {name} holds more than one value: {value!r}"
            if name == "vbus_link":
                stats["link"] = VBUS_PCI_LINK_NAMES.index(value)
            else:
                stats[name] = int(value)
        assert "link" in stats and "irqs" in stats, r.output
        return stats

    def ethtool_stats(self) -> Dict[str, int]:
        r = self.guest.run(f"ethtool -S {self.ifname}", check=True)
        return parse_kv(r.output)

    def dmesg(self) -> str:
        return self.guest.run("dmesg").output

    def assert_dmesg_clean(self) -> None:
        bad = bad_dmesg_lines(self.dmesg())
        assert not bad, "guest kernel complained:\n" + "\n".join(bad)

    # -- daemon side ---------------------------------------------------------

    def daemon_stats(self) -> Dict[str, int]:
        """SIGQUIT makes alacrityvmd log its counters as one JSON line."""
        self.daemon.proc.send_signal(signal.SIGQUIT)
        m = self.daemon.wait_log(r"stats: (\{.*\})$")
        return json.loads(m.group(1))

    def set_host_link(self, up: bool) -> None:
        """SIGUSR2 / SIGUSR1: the venet device's host-side link up / down."""
        self.daemon.proc.send_signal(signal.SIGUSR2 if up else signal.SIGUSR1)
        self.daemon.wait_log(r"venet \d+: host link " + ("up" if up else "down"))


# -- traffic -----------------------------------------------------------------

STREAM_LINE = re.compile(r"bytes (\d+) sha256 ([0-9a-f]{64})")


def delta(before: Dict[str, int], after: Dict[str, int]) -> Dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after}


class Traffic:
    """Transfers and iperf3 runs over a started VenetLink.  `stream` is the
    avm_stream binary (static: it runs in the guest and in the namespace)."""

    def __init__(self, link: VenetLink, stream: Path):
        self.link = link
        self.stream = Path(stream)

    def expected(self, nbytes: int, seed: int) -> str:
        """sha256 of the stream, computed on the host without any network."""
        r = subprocess.run([str(self.stream), "hash", str(nbytes), str(seed)],
                           check=True, capture_output=True, text=True)
        m = STREAM_LINE.search(r.stdout)
        assert m and int(m.group(1)) == nbytes, r.stdout
        return m.group(2)

    def guest_to_ns(self, nbytes: int, seed: int, port: int = 5001,
                    timeout: float = 600) -> Tuple[float, int, str]:
        """The guest sends, the namespace receives and hashes.  Returns
        (seconds, bytes received, receiver's sha256)."""
        rx = self.link.ns.popen([self.stream, "recv", port])
        try:
            first = rx.stdout.readline().strip()
            assert first == "listening", first
            t0 = time.monotonic()
            r = self.link.guest.run(f"avm_stream send {NS_IP} {port} {nbytes} {seed}",
                                    timeout=timeout)
            assert r.status == 0, r.output
            out, _ = rx.communicate(timeout=timeout)
            seconds = time.monotonic() - t0
        finally:
            if rx.poll() is None:
                rx.kill()
                rx.wait()
        assert rx.returncode == 0, out
        m = STREAM_LINE.search(out)
        assert m, out
        return seconds, int(m.group(1)), m.group(2)

    def ns_to_guest(self, nbytes: int, seed: int, port: int = 5002,
                    timeout: float = 600) -> Tuple[float, int, str]:
        """The namespace sends, the guest receives and hashes."""
        g = self.link.guest
        out = f"/tmp/recv.{port}"
        g.run(f"rm -f {out}; (avm_stream recv {port} >{out} 2>&1 &)", check=True)
        self._wait_guest(f"grep -q listening {out}", 30, out)
        t0 = time.monotonic()
        tx = self.link.ns.run([self.stream, "send", GUEST_IP, port, nbytes, seed],
                              timeout=timeout)
        assert tx.returncode == 0, tx.stdout + tx.stderr
        self._wait_guest(f"grep -q sha256 {out}", timeout, out)
        seconds = time.monotonic() - t0
        text = g.run(f"cat {out}").output
        m = STREAM_LINE.search(text)
        assert m, text
        return seconds, int(m.group(1)), m.group(2)

    def _wait_guest(self, cond: str, timeout: float, show: str) -> None:
        deadline = time.monotonic() + timeout
        while self.link.guest.run(cond).status != 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"guest: `{cond}` not true after {timeout}s:\n"
                                     + self.link.guest.run(f"cat {show}").output)
            time.sleep(0.5)

    def start_iperf3_server(self) -> None:
        """iperf3 -s in the guest, daemonized (one per guest)."""
        self.link.guest.run("pidof iperf3 >/dev/null || iperf3 -s -D -p 5201", check=True)
        # listening on port 5201 (0x1451): state 0A in /proc/net/tcp{,6}
        self._wait_guest("cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | "
                         "grep -q ':1451 [0:]* 0A'", 30, "/dev/null")

    def iperf3(self, reverse: bool, seconds: int = 10) -> dict:
        """iperf3 client in the namespace against the guest's server.
        reverse=False: namespace -> guest; reverse=True (-R): guest ->
        namespace.  Returns {gbps, retransmits, bytes, guest, daemon} with
        the guest's (ethtool -S) and the daemon's counter deltas."""
        self.start_iperf3_server()
        e0, d0 = self.link.ethtool_stats(), self.link.daemon_stats()
        argv = ["iperf3", "-c", GUEST_IP, "-p", "5201", "-t", seconds, "-J"]
        r = self.link.ns.run(argv + (["-R"] if reverse else []), timeout=seconds + 120)
        e1, d1 = self.link.ethtool_stats(), self.link.daemon_stats()
        data = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
        assert r.returncode == 0 and "error" not in data, r.stdout + r.stderr
        end = data["end"]
        return {
            "direction": "guest->ns" if reverse else "ns->guest",
            "seconds": end["sum_received"]["seconds"],
            "gbps": end["sum_received"]["bits_per_second"] / 1e9,
            "bytes": end["sum_received"]["bytes"],
            "retransmits": end["sum_sent"].get("retransmits", 0),
            "guest": delta(e0, e1),
            "daemon": delta(d0, d1),
        }


def notification_ratios(run: dict) -> Dict[str, float]:
    """Doorbells (guest -> host kicks) and interrupts (host -> guest) per
    packet, packets as the guest driver counts them (GSO frames count once)
    and per MiB moved."""
    g, d = run["guest"], run["daemon"]
    packets = g["tx_packets"] + g["rx_packets"]
    mib = (g["tx_bytes"] + g["rx_bytes"]) / (1 << 20)
    doorbells = g["tx_doorbells"] + g["rx_doorbells"]
    irqs = d["evq_interrupts"]
    return {
        "packets": packets,
        "mib": round(mib, 1),
        "doorbells": doorbells,
        "interrupts": irqs,
        "doorbells_per_packet": round(doorbells / max(packets, 1), 4),
        "interrupts_per_packet": round(irqs / max(packets, 1), 4),
        "doorbells_per_mib": round(doorbells / max(mib, 1e-9), 2),
        "interrupts_per_mib": round(irqs / max(mib, 1e-9), 2),
        "host_doorbells_seen": d["venet_doorbells"],
    }
