"""Guests for the network benchmark: virtio-net and venet, set up alike.

    g = BenchGuest("venet", index=0, initrd=image, work=tmpdir, logs=logdir)
    g.start()                            # netns + TAP, (daemon,) QEMU, addresses
    g.trace(True); ...; g.trace(False)   # QEMU trace events, via QMP
    c = g.counters()                     # snapshot: guest netdev, CPU, trace offset
    ...
    d = g.delta(c0, c1)                  # what a window cost
    g.stop()                             # QEMU killed, daemon stopped, netns deleted

Both kinds boot the same kernel and initramfs with one vCPU, have their TAP
"avmtap0" inside a namespace of their own (10.99.0.1 there, 10.99.0.2 in
the guest, same MAC, MTU 1500) and `ioeventfd=off` on the device, so that
every guest->host notification is an MMIO write QEMU's trace events see:

  virtio  -netdev tap,ifname=avmtap0,vhost=off -device virtio-net-pci,ioeventfd=off
          (QEMU's own userspace backend; QEMU runs inside the namespace so
          that it creates the TAP there)
  venet   alacrityvmd --venet tap=avmtap0,netns=NS + -device
          ivshmem-doorbell,ioeventfd=off (QEMU also runs inside the namespace,
          where it needs nothing: same process setup for both)

The harness pieces (Guest, NetNs, Daemon, initramfs) are tests/system's; QEMU
and QMP are tests/lib/qemu.py's.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[2]
sys.path.insert(0, str(TOP / "tests" / "system"))

from lib import env  # noqa: E402
from lib.daemon import Daemon  # noqa: E402
from lib.guest import Guest  # noqa: E402
from lib.initramfs import InitramfsSpec, build_initramfs  # noqa: E402
from lib.netns import NetNs  # noqa: E402
from qemu import Qmp, ivshmem_args, virtio_tap_args  # noqa: E402 (tests/lib)

NS_IP = "10.99.0.1"
GUEST_IP = "10.99.0.2"
MAC = "52:54:00:12:34:56"
TAP = "avmtap0"
MTU = 1500
VECTORS = 4
RR_PORT = 7000
IPERF_PORT = 5201
KINDS = ("virtio", "venet")

# QEMU trace events that count notifications and interrupts (DESIGN §5).
TRACE_EVENTS = ("memory_region_ops_write", "virtio_queue_notify", "virtio_notify",
                "virtio_notify_irqfd")

BENCH_BUILD = env.BUILD / "bench"
GUEST_SRC = HERE / "guest"
CFLAGS = ["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-std=gnu11"]


def build_programs(out_dir: Path = BENCH_BUILD / "bin") -> Dict[str, Path]:
    """tests/bench/net/guest/*.c, static (they run in the guest and in the
    namespace); rebuilt when the source is newer."""
    out_dir.mkdir(parents=True, exist_ok=True)
    progs = {}
    for src in sorted(GUEST_SRC.glob("*.c")):
        binary = out_dir / src.stem
        if not binary.exists() or binary.stat().st_mtime < src.stat().st_mtime:
            tmp = binary.with_suffix(".tmp")
            subprocess.run(["gcc", *CFLAGS, "-o", str(tmp), str(src)], check=True)
            tmp.replace(binary)
        progs[src.stem] = binary
    return progs


def guest_initramfs(programs: Dict[str, Path]) -> Path:
    """One image for both kinds: virtio_net and our vbus modules."""
    mods = env.BUILD / "modules" / "guest"
    spec = InitramfsSpec(
        programs=list(programs.values()),
        dynamic_programs=["/usr/bin/iperf3", "/usr/sbin/ethtool"],
        modules=["virtio_pci", "virtio_net"],
        extra_modules=[mods / "vbus_pci.ko", mods / "vbus_enet.ko"],
    )
    return build_initramfs(spec)


def proc_threads(pid: int) -> Dict[str, float]:
    """CPU seconds (utime + stime) of a process's threads, summed by kind:
    "vcpu" (QEMU's "CPU n/TCG" threads) and "other"."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {"vcpu": 0.0, "other": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "stat").read_text()
        except OSError:
            continue  # thread gone
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        secs = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        out["vcpu" if re.match(r"CPU \d+/", comm) else "other"] += secs
    return out


def proc_cpu(pid: int) -> float:
    """CPU seconds of a whole process (all its threads, also dead ones)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# memory_region_ops_write cpu 0 mr 0x.. addr 0xc value 0x10000 size 4 name 'ivshmem-mmio'
MR_WRITE = re.compile(rb"memory_region_ops_write cpu (-?\d+) mr \S+ addr (0x[0-9a-f]+) "
                      rb"value (0x[0-9a-f]+) size \d+ name '([^']*)'")
QUEUE_NOTIFY = re.compile(rb"virtio_queue_notify vdev \S+ n (\d+)")


def count_trace(data: bytes) -> Dict[str, int]:
    """Counts of one window of QEMU's trace log (the "log" backend)."""
    c = {"ivshmem_doorbells": 0, "virtio_notify_writes": 0, "virtio_queue_notify": 0,
         "virtio_notify": 0, "virtio_notify_irqfd": 0, "msi": 0, "nic_mmio_writes": 0,
         "trace_lines": 0}
    for line in data.splitlines():
        c["trace_lines"] += 1
        if b"memory_region_ops_write" in line:
            m = MR_WRITE.search(line)
            if not m:
                continue
            cpu, addr, value, name = m.groups()
            if name == b"apic-msi":
                if cpu == b"-1":  # written by a device (or QEMU's IOAPIC)
                    c["msi"] += 1
                    vec = f"msi_vector_{int(value, 16) & 0xff:#04x}"
                    c[vec] = c.get(vec, 0) + 1
            elif name == b"ivshmem-mmio" or name.startswith(b"virtio-pci"):
                c["nic_mmio_writes"] += 1
                # addr is absolute; BAR0 is 256 bytes, the doorbell at 12
                if name == b"ivshmem-mmio" and int(addr, 16) & 0xff == 12:
                    c["ivshmem_doorbells"] += 1
                elif name.startswith(b"virtio-pci-notify"):
                    c["virtio_notify_writes"] += 1
        elif line.startswith(b"virtio_queue_notify"):
            c["virtio_queue_notify"] += 1
        elif line.startswith(b"virtio_notify_irqfd"):
            c["virtio_notify_irqfd"] += 1
        elif line.startswith(b"virtio_notify"):
            c["virtio_notify"] += 1
    return c


class BenchGuest:
    def __init__(self, kind: str, index: int, initrd: Path, work: Path, logs: Path,
                 rr: Path, venet_opts: str = ""):
        assert kind in KINDS
        self.kind = kind
        self.name = f"{kind}{index}"
        self.initrd = initrd
        self.work = work
        self.logs = logs
        self.rr_bin = rr
        self.venet_opts = venet_opts  # extra --venet keys (ring=, buf=), experiments
        self.ns: Optional[NetNs] = None
        self.daemon: Optional[Daemon] = None
        self.guest: Optional[Guest] = None
        self.qmp: Optional[Qmp] = None
        self.trace_path = work / f"{self.name}.trace"
        self.ifname = ""

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> "BenchGuest":
        """Boots without waiting; finish() waits (so several boot at once)."""
        self.ns = NetNs(prefix="avmb").create()
        args = ["-name", f"{self.name},debug-threads=on", "-trace", f"file={self.trace_path}"]
        if self.kind == "venet":
            venet = f"tap={TAP},mac={MAC},mtu={MTU},netns={self.ns.name}"
            if self.venet_opts:
                venet += "," + self.venet_opts
            self.daemon = Daemon(self.work / f"{self.name}.sock", region_size="16M",
                                 vectors=VECTORS, extra_args=["--venet", venet],
                                 log_path=self.logs / f"{self.name}.alacrityvmd.log").start()
            args += ivshmem_args(self.daemon.socket, VECTORS, ioeventfd=False)
        else:
            args += virtio_tap_args(TAP, MAC, ioeventfd=False)
        # QEMU runs in the namespace (`ip netns exec` execs it: the PID is QEMU's)
        self.guest = Guest(self.initrd, qemu_args=args, cpus=1, netns=self.ns.name,
                           qmp=self.work / f"{self.name}.qmp",
                           log_path=self.logs / f"{self.name}.console.log")
        self.guest.start()
        self.qmp = self.guest.qmp()
        self._wait(lambda: self.ns.ip(f"link show {TAP}", check=False).returncode == 0,
                   30, f"{TAP} in {self.ns.name}")
        self.ns.ip(f"link set {TAP} mtu {MTU}")
        self.ns.ip(f"addr add {NS_IP}/24 dev {TAP}")
        self.ns.ip(f"link set {TAP} up")
        return self

    def finish(self, timeout: float = 300) -> "BenchGuest":
        g = self.guest
        g.wait_ready(timeout)
        self._wait(lambda: self._find_interface(), 120, "the guest's interface")
        g.run(f"ip link set {self.ifname} mtu {MTU} && ip addr add {GUEST_IP}/24 dev "
              f"{self.ifname} && ip link set {self.ifname} up", check=True)
        self._wait(lambda: self.ns.run(["busybox", "ping", "-c", "1", "-W", "2", GUEST_IP],
                                       timeout=10).returncode == 0, 120, "a ping reply")
        g.run(f"iperf3 -s -D -p {IPERF_PORT} && avm_rr server {RR_PORT}", check=True)
        self.wait_listening(IPERF_PORT, RR_PORT)
        return self

    def wait_listening(self, *ports: int, timeout: float = 60) -> None:
        """Until the guest listens on every port (iperf3 -s reopens its
        socket after each test, which takes a moment under TCG)."""
        tcp = "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null"
        cmd = " && ".join(f"{tcp} | grep -q ':{p:04X} [0:]* 0A'" for p in ports)
        self._wait(lambda: self.guest.run(cmd).status == 0, timeout,
                   f"listener on {ports}")

    def stop(self) -> None:
        """Tear everything down, each part even when another one failed."""
        errors = []
        for part, end in ((self.qmp, "close"), (self.guest, "kill"), (self.daemon, "stop"),
                          (self.ns, "delete")):
            try:
                if part:
                    getattr(part, end)()
            except Exception as e:  # noqa: BLE001 - the rest must still go
                errors.append(f"{type(part).__name__}.{end}: {e}")
        self.trace_path.unlink(missing_ok=True)
        if errors:
            raise RuntimeError(f"{self.name}: teardown: " + "; ".join(errors))

    def _find_interface(self) -> bool:
        r = self.guest.run("for i in /sys/class/net/*; do "
                           f"[ \"$(cat $i/address)\" = {MAC} ] && basename $i; done; true")
        self.ifname = r.output.strip()
        return bool(self.ifname)

    def _wait(self, cond, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no {what} after {timeout}s\n"
                                   + (self.guest.tail() if self.guest else ""))
            time.sleep(0.3)

    # -- counters ------------------------------------------------------------

    def trace(self, on: bool) -> None:
        for ev in TRACE_EVENTS:
            self.qmp.cmd("trace-event-set-state", name=ev, enable=on)

    def driver_stats(self) -> Dict[str, int]:
        """The guest driver's `ethtool -S` (virtio_net or vbus_enet)."""
        r = self.guest.run(f"ethtool -S {self.ifname}", check=True)
        return {m.group(1): int(m.group(2)) for m in
                re.finditer(r"^\s*([A-Za-z0-9_.]+):\s*(\d+)\s*$", r.output, re.M)}

    def daemon_stats(self) -> Dict[str, int]:
        """alacrityvmd logs every counter as one JSON line on SIGQUIT."""
        if not self.daemon:
            return {}
        self.daemon.proc.send_signal(signal.SIGQUIT)
        m = self.daemon.wait_log(r"stats: (\{.*\})$")
        return {k: v for k, v in json.loads(m.group(1)).items() if isinstance(v, int)}

    def counters(self, detail: bool = True) -> dict:
        """A snapshot; delta() of two is what the window between cost.
        detail: also the driver's and the daemon's own counters."""
        r = self.guest.run(f"cd /sys/class/net/{self.ifname}/statistics && "
                           "echo $(cat tx_packets rx_packets tx_bytes rx_bytes) && "
                           "grep -E 'virtio|vbus' /proc/interrupts; true", check=True)
        lines = r.output.strip().splitlines()
        tx_p, rx_p, tx_b, rx_b = (int(x) for x in lines[0].split())
        irqs = 0
        for ln in lines[1:]:
            f = ln.split()
            if len(f) > 1 and f[1].isdigit():
                irqs += int(f[1])  # one CPU
        snap = {"tx_packets": tx_p, "rx_packets": rx_p, "tx_bytes": tx_b, "rx_bytes": rx_b,
                "guest_irqs": irqs, "t": time.monotonic(),
                "trace_offset": self.trace_path.stat().st_size}
        q = proc_threads(self.guest.proc.pid)
        snap["qemu_vcpu_s"], snap["qemu_other_s"] = q["vcpu"], q["other"]
        snap["daemon_s"] = proc_cpu(self.daemon.proc.pid) if self.daemon else 0.0
        if detail:
            snap["driver"] = self.driver_stats()
            snap["backend"] = self.daemon_stats()
        return snap

    def delta(self, a: dict, b: dict, traced: bool) -> dict:
        d = {k: b[k] - a[k] for k in a if k not in ("trace_offset", "driver", "backend")}
        for part in ("driver", "backend"):
            if part in a and part in b:
                d[part] = {k: v - a[part].get(k, 0) for k, v in b[part].items()
                           if v != a[part].get(k, 0)}
        d["seconds"] = d.pop("t")
        d["packets"] = d["tx_packets"] + d["rx_packets"]
        d["bytes"] = d["tx_bytes"] + d["rx_bytes"]
        d["qemu_s"] = d["qemu_vcpu_s"] + d["qemu_other_s"]
        if traced:
            with open(self.trace_path, "rb") as f:
                f.seek(a["trace_offset"])
                d.update(count_trace(f.read(b["trace_offset"] - a["trace_offset"])))
        return d

    # -- workloads (the namespace end runs on the host) ---------------------

    def iperf3_cmd(self, direction: str, seconds: int) -> List[str]:
        """direction "g2h": the guest sends (-R), "h2g": the namespace sends."""
        argv = ["iperf3", "-c", GUEST_IP, "-p", str(IPERF_PORT), "-t", str(seconds), "-J"]
        return self.ns.cmd(argv + (["-R"] if direction == "g2h" else []))

    def iperf3_popen(self, direction: str, seconds: int,
                     wait: bool = True) -> subprocess.Popen:
        if wait:
            self.wait_listening(IPERF_PORT)
        return subprocess.Popen(self.iperf3_cmd(direction, seconds), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    @staticmethod
    def iperf3_result(p: subprocess.Popen, timeout: float) -> dict:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise RuntimeError(f"iperf3 still running after {timeout} s") from None
        data = json.loads(out) if out.strip().startswith("{") else {}
        if p.returncode != 0 or "error" in data:
            raise RuntimeError(f"iperf3 failed: {data.get('error', '')} {err}")
        end = data["end"]
        return {"gbps": end["sum_received"]["bits_per_second"] / 1e9,
                "iperf_bytes": end["sum_received"]["bytes"],
                "retransmits": end["sum_sent"].get("retransmits", 0)}

    def rr(self, count: int, size: int = 64, warmup: int = 50) -> dict:
        r = self.ns.run([self.rr_bin, "client", GUEST_IP, RR_PORT, count, size, warmup],
                        timeout=600)
        m = re.search(r"p50_us ([\d.]+) p90_us ([\d.]+) p99_us ([\d.]+) max_us ([\d.]+) "
                      r"mean_us ([\d.]+)", r.stdout)
        if r.returncode != 0 or not m:
            raise RuntimeError(f"avm_rr failed: {r.stdout} {r.stderr}")
        return {"p50_us": float(m.group(1)), "p90_us": float(m.group(2)),
                "p99_us": float(m.group(3)), "max_us": float(m.group(4)),
                "mean_us": float(m.group(5)), "count": count, "size": size}

    def ping(self, count: int, interval: float = 0.1) -> dict:
        r = self.ns.run(["busybox", "ping", "-c", count, "-i", interval, GUEST_IP],
                        timeout=count * interval + 60)
        times = sorted(float(t) for t in re.findall(r"time=([\d.]+) ms", r.stdout))
        if not times:
            raise RuntimeError(f"ping failed: {r.stdout} {r.stderr}")
        return {"p50_ms": times[len(times) // 2], "min_ms": times[0], "max_ms": times[-1],
                "avg_ms": sum(times) / len(times), "replies": len(times), "sent": count}
