#!/usr/bin/python3
"""The soak test (`make soak`, issue 18): four QEMU (TCG) guests under ONE
alacrityvmd in service mode move checksummed TCP streams both ways while,
on the SCHEDULE below, the daemon is taken over by a new process, links
flap, one guest reloads its drivers, avm-hostile attacks a fifth instance
and instances are created and deleted through the API.

    tests/soak/soak.py --minutes 30 --out build/soak

Writes OUT/report.json and OUT/soak.png (throughput, daemon RSS, fds and
threads over time; logs in OUT/logs/) and exits 1 when a criterion fails
(see CRITERIA in the report).  Needs root (network namespaces).
"""

import argparse
import dataclasses
import heapq
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "system"))

from lib import env  # noqa: E402
from lib.avmctl import avmctl, avmctl_binary, cmake_binary  # noqa: E402
from lib.guest import Guest  # noqa: E402
from lib.initramfs import build_initramfs  # noqa: E402
from lib.netns import NetNs  # noqa: E402
from lib.rpc import RpcClient, RpcError  # noqa: E402
from lib.service_daemon import ServiceDaemon  # noqa: E402
from lib.tools import build_guest_tools  # noqa: E402
from lib.venet import (GUEST_IP, MAC, NS_IP, PREFIX, STREAM_LINE, VECTORS, VenetLink,  # noqa: E402
                       bad_dmesg_lines, venet_initramfs_spec)
from test_daemon_service_handover import TakeoverService, peer_pid  # noqa: E402

GUESTS = 4
RELOADING = "vm0"            # the guest that reloads its drivers
GUEST_MEMORY = "256"         # MiB per QEMU guest
RATE_MBIT = 4                # per guest and direction (tbf on both ends)
RATE = f"{RATE_MBIT}mbit"
STREAM_BYTES = 8 << 20       # one stream; a round is one each way at once
STREAM_GRACE = 60            # s a stream may still finish after its guest's reload
SAMPLE_SECONDS = 5
GROWTH_LIMIT = 5.0           # % RSS and fd growth allowed after warm-up
TAP = "avmtap0"              # one per namespace
BAD_TAP = "avmbad0"
TC = "/usr/sbin/tc"

# event -> (first at, then every) seconds after the streams started
SCHEDULE = {
    "takeover": (120, 120),
    "create_delete": (20, 60),
    "flap": (40, 60),
    "attack": (30, 90),
    "reload": (90, 300),
}


def now() -> float:
    return time.monotonic()


class LockedGuest(Guest):
    """A Guest whose console the stream worker, the sampler and the
    scheduled events share: one command at a time (an RLock, so an event
    can hold it over several commands)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.lock = threading.RLock()

    def run(self, *a, **kw):
        with self.lock:
            return super().run(*a, **kw)


class SoakLink(VenetLink):
    """A guest on instance NAME (device NAME-net0, TAP in a namespace of its
    own) of the soak's service daemon; both ends shaped to RATE."""

    def __init__(self, soak: "Soak", name: str):
        super().__init__(build_initramfs, soak.tools, soak.logs, soak.tmp, name=name)
        self.device = f"{name}-net0"
        self.reload_epoch = 0
        self.reload_done = 0.0
        # set while no flap or reload is under way: only then does a new
        # round connect (a connect while the link is down fails, as it should)
        self.steady = threading.Event()
        self.steady.set()

    def create(self, rpc: RpcClient, initrd: Path) -> None:
        self.ns = NetNs("avmsoak").create()
        rpc.call("instance.create", name=self.name, region_size="16M", vectors=VECTORS)
        rpc.call("device.create", name=self.device, instance=self.name, tap=TAP, mac=MAC,
                 netns=self.ns.name, backend="user")
        args = rpc.call("instance.qemu_args", name=self.name)["args"]
        self.ns.ip(f"addr add {NS_IP}/{PREFIX} dev {TAP}")
        self.ns.ip(f"link set {TAP} up")
        self.ns.run([TC, "qdisc", "add", "dev", TAP, "root", "tbf", "rate", RATE,
                     "burst", "64k", "latency", "400ms"], check=True)
        self.guest = LockedGuest(initrd, qemu_args=args, memory=GUEST_MEMORY,
                                 log_path=self.log_dir / f"{self.name}.console.log")
        self.guest.start()

    def ready(self) -> None:
        self.guest.wait_ready(timeout=300)
        self.configure_guest()
        self.wait_carrier("1", timeout=120)

    def configure_guest(self) -> str:
        with self.guest.lock:
            ifname = super().configure_guest()
            self.guest.run(f"{TC} qdisc replace dev {ifname} root tbf rate {RATE} "
                           "burst 64k latency 400ms", check=True)
        return ifname


@dataclasses.dataclass
class StreamResult:
    guest: str
    direction: str
    outcome: str        # ok, mismatch, broken
    nbytes: int
    why: str = ""


class Worker(threading.Thread):
    """Rounds of two concurrent streams (namespace -> guest and guest ->
    namespace, STREAM_BYTES each, checked against `avm_stream hash`)."""

    def __init__(self, soak: "Soak", link: SoakLink):
        super().__init__(daemon=True, name=f"streams-{link.name}")
        self.soak, self.link = soak, link
        self.stream = str(soak.tools["avm_stream"])
        self.results: List[StreamResult] = []
        self.seeds = itertools.count(1)
        # seconds one stream may take: 4 times its time at RATE, + 2 min
        self.timeout = STREAM_BYTES * 8 / (RATE_MBIT * 1e6) * 4 + 120

    def expected(self, seed: int) -> str:
        r = subprocess.run([self.stream, "hash", str(STREAM_BYTES), str(seed)],
                           check=True, capture_output=True, text=True)
        return STREAM_LINE.search(r.stdout).group(2)

    def run(self) -> None:
        n = 0
        while not self.soak.stop.is_set():
            self.link.steady.wait()
            try:
                self.round(n)
            except Exception as e:  # a console or namespace failure: a broken round
                self.soak.note(f"{self.link.name}: round {n}: {e!r}")
                for d in ("ns->guest", "guest->ns"):
                    self.results.append(StreamResult(self.link.name, d, "broken", 0, repr(e)))
                time.sleep(5)
            n += 1

    def judge(self, direction: str, text: str, status: Optional[int], seed: int,
              why: str) -> StreamResult:
        m = STREAM_LINE.search(text or "")
        if status == 0 and m:
            ok = int(m.group(1)) == STREAM_BYTES and m.group(2) == self.expected(seed)
            return StreamResult(self.link.name, direction, "ok" if ok else "mismatch",
                                int(m.group(1)), "" if ok else text.strip())
        return StreamResult(self.link.name, direction, "broken", int(m.group(1)) if m else 0,
                            why or (text or "").strip()[-300:])

    def round(self, n: int) -> None:
        lk, g = self.link, self.link.guest
        seed_in, seed_out = next(self.seeds), next(self.seeds)
        port_in, port_out = 20000 + 2 * (n % 10000), 20001 + 2 * (n % 10000)
        epoch = lk.reload_epoch
        g.run("rm -f /tmp/rx.out /tmp/tx.out; "
              f"((avm_stream recv {port_in}; echo exit $?) >/tmp/rx.out 2>&1 &)", check=True)
        deadline = now() + 60
        while g.run("grep -q listening /tmp/rx.out").status != 0:
            if now() > deadline:
                raise RuntimeError("the guest's receiver did not listen")
            time.sleep(0.5)
        rx = lk.ns.popen([self.stream, "recv", port_out])
        tx = None
        try:
            assert rx.stdout.readline().strip() == "listening"
            tx = lk.ns.popen([self.stream, "send", GUEST_IP, port_in, STREAM_BYTES, seed_in])
            g.run(f"((avm_stream send {NS_IP} {port_out} {STREAM_BYTES} {seed_out}; "
                  "echo exit $?) >/tmp/tx.out 2>&1 &)", check=True)
            deadline = now() + self.timeout
            guest_rx = None
            why = ""
            while True:
                if guest_rx is None:
                    out = g.run("cat /tmp/rx.out").output
                    m = re.search(r"^exit (\d+)", out, re.M)
                    if m:
                        guest_rx = (out, int(m.group(1)))
                if guest_rx is not None and rx.poll() is not None and tx.poll() is not None:
                    break
                if now() > deadline:
                    why = f"not done after {self.timeout:.0f} s"
                    break
                if lk.reload_epoch != epoch and now() > lk.reload_done + STREAM_GRACE:
                    why = "cut by the driver reload"
                    break
                time.sleep(1)
        finally:
            for p in (rx, tx):
                if p and p.poll() is None:
                    p.kill()
                    p.wait()
        if why:
            g.run("killall avm_stream; true")
        out_rx, _ = rx.communicate()
        out_guest_tx = g.run("cat /tmp/tx.out").output
        res_in = self.judge("ns->guest", guest_rx[0] if guest_rx else "",
                            guest_rx[1] if guest_rx and tx.returncode == 0 else None,
                            seed_in, why)
        res_out = self.judge("guest->ns", out_rx, rx.returncode, seed_out, why)
        for r in (res_in, res_out):
            if r.outcome != "ok":
                self.soak.note(f"{lk.name} round {n} {r.direction}: {r.outcome}: {r.why} "
                               f"(guest sender: {out_guest_tx.strip()[-200:]})")
        self.results.extend([res_in, res_out])


def proc_sample(pid: int) -> Dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))
    threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
    return {"rss_kib": rss, "threads": threads, "fds": len(os.listdir(f"/proc/{pid}/fd"))}


class Soak:
    def __init__(self, minutes: float, out: Path):
        self.duration = minutes * 60
        self.out = out
        self.logs = out / "logs"
        shutil.rmtree(self.logs, ignore_errors=True)
        self.logs.mkdir(parents=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="avmsoak-", dir="/tmp"))
        self.tools = build_guest_tools()
        # Copies: a rebuild of the tree during the soak must not change the
        # binary the next hand-over starts.
        for var, path in (("AVM_DAEMON", env.daemon_binary()), ("AVM_AVMCTL", avmctl_binary()),
                          ("AVM_HOSTILE", cmake_binary("tests/hostile/avm-hostile"))):
            os.environ[var] = shutil.copy2(path, self.tmp)
            if var != "AVM_HOSTILE":  # avm-hostile runs `list` below
                subprocess.run([os.environ[var], "--version"], check=True, capture_output=True)
        self.hostile = Path(os.environ["AVM_HOSTILE"])
        self.stop = threading.Event()
        self.daemon_lock = threading.Lock()
        self.daemon: Optional[ServiceDaemon] = None
        self.links: List[SoakLink] = []
        self.workers: List[Worker] = []
        self.samples: List[dict] = []
        self.events: List[dict] = []
        self.bad_ns: Optional[NetNs] = None
        self.bad_socket = ""
        self.t0 = 0.0
        self.attacks = itertools.cycle(
            re.findall(r"^attack (\S+)$", subprocess.run(
                [str(self.hostile), "list"], capture_output=True, text=True,
                check=True).stdout, re.M))
        self.counters = {k: itertools.count() for k in SCHEDULE}
        self.notes = open(self.logs / "soak.log", "w")
        self.notes_lock = threading.Lock()

    def note(self, text: str) -> None:
        line = f"[{now() - self.t0:8.1f}] {text}" if self.t0 else text
        with self.notes_lock:
            self.notes.write(line + "\n")
            self.notes.flush()
        print(line, flush=True)

    def rpc(self) -> RpcClient:
        with self.daemon_lock:
            return self.daemon.client()

    # -- setup ---------------------------------------------------------------

    def start(self) -> None:
        self.daemon = ServiceDaemon(self.tmp, log_path=self.logs / "alacrityvmd.0.log").start()
        spec = venet_initramfs_spec(self.tools)
        spec = dataclasses.replace(
            spec, dynamic_programs=list(spec.dynamic_programs) + [TC], modules=["sch_tbf"],
            load_modules=list(spec.load_modules) + ["sch_tbf"])
        initrd = build_initramfs(spec)
        with self.rpc() as c:
            for i in range(GUESTS):
                lk = SoakLink(self, f"vm{i}")
                self.links.append(lk)
                lk.create(c, initrd)
            self.bad_ns = NetNs("avmsoakb").create()
            inst = c.call("instance.create", name="bad", region_size="4M", vectors=VECTORS)
            self.bad_socket = inst["socket"]
            c.call("device.create", name="bad-net0", instance="bad", tap=BAD_TAP,
                   netns=self.bad_ns.name, backend="user")
        self.bad_ns.ip(f"link set {BAD_TAP} up")
        for lk in self.links:
            lk.ready()
            self.note(f"{lk.name}: up ({lk.ifname})")

    def stop_all(self) -> None:
        self.stop.set()
        for lk in self.links:
            lk.stop()
        if self.daemon:
            self.daemon.stop()
        if self.bad_ns:
            self.bad_ns.delete()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- sampling --------------------------------------------------------------

    def sampler(self) -> None:
        while not self.stop.wait(SAMPLE_SECONDS):
            try:
                pid = peer_pid(self.tmp / "control.sock")  # whoever serves it
                s = {"t": now() - self.t0, "pid": pid, **proc_sample(pid)}
                with self.rpc() as c:
                    st = c.call("stats")["instances"]
                s["bytes"] = sum(st[lk.name]["devices"][lk.device]["rx_bytes"]
                                 + st[lk.name]["devices"][lk.device]["tx_bytes"]
                                 for lk in self.links if lk.name in st)
                self.samples.append(s)
            except Exception as e:  # e.g. in the middle of a hand-over: next time
                self.note(f"sample skipped: {e!r}")

    # -- events ----------------------------------------------------------------

    def event(self, kind: str) -> None:
        n = next(self.counters[kind])
        t = now() - self.t0
        try:
            detail = getattr(self, f"do_{kind}")(n)
            ok = True
        except Exception as e:
            detail, ok = repr(e), False
        self.events.append({"t": t, "kind": kind, "ok": ok, "seconds": now() - self.t0 - t,
                            "detail": detail})
        self.note(f"{kind} {n}: {'ok' if ok else 'FAILED'}: {detail}")

    def do_takeover(self, n: int) -> str:
        with self.daemon_lock:
            old = self.daemon
            start = len(old.log.splitlines())
            new = TakeoverService(old, log_path=self.logs / f"alacrityvmd.{n + 1}.log")
            new.start(wait_listening=False)
            self.daemon = new
        m = new.wait_log(r"takeover: (\d+) instances and the control socket taken over",
                         timeout=120)
        rc = old.proc.wait(timeout=60)
        assert rc == 0, f"the old daemon exited {rc}"
        tail = old.log.splitlines()[start:]
        assert any("stopping without a RESET" in ln for ln in tail), tail[-10:]
        resets = [ln for ln in tail if "host RESET" in ln]
        assert not resets, resets
        return f"pid {old.proc.pid} -> {new.proc.pid}, {m.group(1)} instances"

    def do_flap(self, n: int) -> str:
        lk = self.links[n % GUESTS]
        with self.daemon_lock:
            sock = self.daemon.socket
        lk.steady.clear()
        try:
            avmctl(sock, "link", lk.device, "down", check=True)
            lk.wait_carrier("0")
            time.sleep(2)
            avmctl(sock, "link", lk.device, "up", check=True)
            lk.wait_carrier("1")
        finally:
            lk.steady.set()
        return lk.device

    def do_reload(self, n: int) -> str:
        lk = next(x for x in self.links if x.name == RELOADING)
        lk.reload_epoch += 1
        lk.steady.clear()
        try:
            with lk.guest.lock:
                lk.guest.run("rmmod vbus_enet && rmmod vbus_pci", check=True, timeout=120)
                lk.guest.run("modprobe vbus_pci && modprobe vbus_enet", check=True, timeout=120)
                lk.configure_guest()
                lk.wait_carrier("1", timeout=120)
        finally:
            lk.reload_done = now()
            lk.steady.set()
        return f"{lk.name}: {lk.ifname}"

    def do_attack(self, n: int) -> str:
        name = next(self.attacks)
        r = subprocess.run(self.bad_ns.cmd([self.hostile, "attack", "--socket", self.bad_socket,
                                            "--ifname", BAD_TAP, "--vectors", VECTORS, name]),
                           capture_output=True, text=True, timeout=300)
        with open(self.logs / "attacks.log", "a") as f:
            f.write(f"== {name}: rc {r.returncode}\n{r.stdout}{r.stderr}")
        assert r.returncode == 0 and f"attack {name}: ok:" in r.stdout, \
            f"{name}: rc {r.returncode}: {(r.stdout + r.stderr)[-300:]}"
        return name

    def do_create_delete(self, n: int) -> str:
        name = f"churn{n}"
        gone: List[str] = []
        with self.rpc() as c:
            try:
                c.call("instance.create", name=name, region_size="4M", vectors=2)
                c.call("device.create", name=f"{name}-net0", instance=name, tap="avmchurn0",
                       netns=self.bad_ns.name, backend="user")
                shown = c.call("instance.show", name=name)
                assert shown["devices"] == [f"{name}-net0"], shown
            finally:
                # also after a failure: a leftover would count as a leak
                for method, obj in (("instance.delete", name), ("device.delete", f"{name}-net0")):
                    try:
                        c.call(method, name=obj)
                    except RpcError as e:
                        gone.append(f"{method} {obj}: {e}")
            names = [i["name"] for i in c.call("instance.list")["instances"]]
            devices = [d["name"] for d in c.call("device.list")["devices"]]
        assert name not in names and f"{name}-net0" not in devices, (names, devices)
        assert not gone, gone
        return name

    def schedule(self) -> None:
        queue = [(first, kind) for kind, (first, _every) in SCHEDULE.items()]
        heapq.heapify(queue)
        end = self.t0 + self.duration
        while queue:
            at, kind = heapq.heappop(queue)
            if self.t0 + at >= end - 10:
                continue
            while now() < self.t0 + at:
                time.sleep(min(1, self.t0 + at - now()))
            self.event(kind)
            heapq.heappush(queue, (at + SCHEDULE[kind][1], kind))
        while now() < end:
            time.sleep(1)

    # -- the run -------------------------------------------------------------------

    def run(self) -> dict:
        self.start()
        self.t0 = now()
        self.note(f"soak: {self.duration / 60:g} min, daemon pid {self.daemon.proc.pid}")
        self.workers = [Worker(self, lk) for lk in self.links]
        for w in self.workers:
            w.start()
        sampler = threading.Thread(target=self.sampler, daemon=True, name="sampler")
        sampler.start()
        self.schedule()
        self.stop.set()
        for w in self.workers:
            w.join(timeout=w.timeout + 120)
        sampler.join(timeout=60)
        return self.report()

    def report(self) -> dict:
        results = [r for w in self.workers for r in w.results]
        dmesg = {lk.name: bad_dmesg_lines(lk.dmesg()) for lk in self.links}
        warm = min(300.0, 0.2 * self.duration)
        window = min(300.0, 0.2 * self.duration)
        first = [s for s in self.samples if warm <= s["t"] < warm + window]
        last = [s for s in self.samples if s["t"] >= self.samples[-1]["t"] - window] \
            if self.samples else []

        def growth(key: str) -> dict:
            a = statistics.median(s[key] for s in first) if first else 0
            b = statistics.median(s[key] for s in last) if last else 0
            return {"after_warmup": a, "last": b,
                    "growth_pct": round(100.0 * (b - a) / a, 2) if a else None}

        counts = {}
        for e in self.events:
            counts.setdefault(e["kind"], {"done": 0, "failed": 0})
            counts[e["kind"]]["done" if e["ok"] else "failed"] += 1
        broken = {}
        for r in results:
            if r.outcome == "broken":
                broken[r.guest] = broken.get(r.guest, 0) + 1
        rss, fds = growth("rss_kib"), growth("fds")
        criteria = {
            "checksum_mismatches_zero": not any(r.outcome == "mismatch" for r in results),
            "no_broken_streams_outside_reloading_guest":
                not any(g != RELOADING for g in broken),
            "every_guest_moved_data": all(
                any(r.guest == lk.name and r.outcome == "ok" for r in results)
                for lk in self.links),
            "rss_growth_under_limit": rss["growth_pct"] is not None
                and rss["growth_pct"] < GROWTH_LIMIT,
            "fd_growth_under_limit": fds["growth_pct"] is not None
                and fds["growth_pct"] < GROWTH_LIMIT,
            "every_event_succeeded": all(e["ok"] for e in self.events),
            "every_event_kind_carried_out": all(counts.get(k, {}).get("done") for k in SCHEDULE),
            "daemon_alive": self.daemon.proc.poll() is None,
            "guest_kernel_logs_clean": not any(dmesg.values()),
        }
        return {
            "minutes": self.duration / 60,
            "guests": GUESTS,
            "rate_per_direction": RATE,
            "stream_bytes": STREAM_BYTES,
            "bytes_moved": sum(r.nbytes for r in results if r.outcome == "ok"),
            "device_bytes": self.samples[-1]["bytes"] - self.samples[0]["bytes"]
            if self.samples else 0,
            "streams": {"ok": sum(r.outcome == "ok" for r in results),
                        "checksum_mismatches": sum(r.outcome == "mismatch" for r in results),
                        "broken": broken, "reloading_guest": RELOADING},
            "warmup_seconds": warm, "window_seconds": window,
            "rss_kib": rss, "fds": fds, "threads": growth("threads"),
            "growth_limit_pct": GROWTH_LIMIT,
            "events": counts,
            "event_failures": [e for e in self.events if not e["ok"]],
            "guest_dmesg_bad_lines": dmesg,
            "criteria": criteria,
            "passed": all(criteria.values()),
            "samples": self.samples,
            "event_log": self.events,
        }


def plot(report: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["samples"]
    t = [x["t"] / 60 for x in s]
    mbps = [max(0, b["bytes"] - a["bytes"]) * 8 / 1e6 / max(b["t"] - a["t"], 1e-3)
            for a, b in zip(s, s[1:])]
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(11, 10))
    series = [(t[1:], mbps, "throughput (Mbit/s, 4 guests)"),
              (t, [x["rss_kib"] / 1024 for x in s], "daemon RSS (MiB)"),
              (t, [x["fds"] for x in s], "daemon fds"),
              (t, [x["threads"] for x in s], "daemon threads")]
    lines = {"takeover": ("k", "--"), "reload": ("tab:red", "-")}
    ticks = {"flap": ("tab:orange", "v"), "attack": ("tab:purple", "x"),
             "create_delete": ("tab:green", "+")}
    for ax, (xs, ys, label) in zip(axes, series):
        ax.plot(xs, ys, lw=1.2)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        for e in report["event_log"]:
            if e["kind"] in lines:
                color, style = lines[e["kind"]]
                ax.axvline(e["t"] / 60, color=color, ls=style, lw=0.8, alpha=0.7)
    axes[0].set_ylim(0, max(mbps + [1]) * 1.35)
    for i, (kind, (color, marker)) in enumerate(ticks.items()):
        xs = [e["t"] / 60 for e in report["event_log"] if e["kind"] == kind]
        axes[0].plot(xs, [max(mbps + [1]) * (1.28 - 0.07 * i)] * len(xs), ls="",
                     marker=marker, color=color, ms=6)
    for ax in axes[1:]:
        ax.axvspan(0, report["warmup_seconds"] / 60, color="0.9", zorder=0)
    handles = [plt.Line2D([], [], color=c, ls=ls, label=k) for k, (c, ls) in lines.items()]
    handles += [plt.Line2D([], [], color=c, ls="", marker=m, label=k)
                for k, (c, m) in ticks.items()]
    axes[0].legend(handles=handles, loc="lower right", fontsize=8, ncol=5)
    fig.suptitle(f"alacrityvmd soak, {report['minutes']:g} min: "
                 f"{'PASSED' if report['passed'] else 'FAILED'}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def summary(report: dict) -> str:
    lines = [f"soak {report['minutes']:g} min: {'PASSED' if report['passed'] else 'FAILED'}",
             f"  bytes moved (verified streams): {report['bytes_moved']}",
             f"  streams: {report['streams']}",
             f"  RSS: {report['rss_kib']}", f"  fds: {report['fds']}",
             f"  threads: {report['threads']}", f"  events: {report['events']}"]
    lines += [f"  {'ok  ' if v else 'FAIL'} {k}" for k, v in report["criteria"].items()]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    soak = Soak(a.minutes, a.out)
    try:
        report = soak.run()
    finally:
        soak.stop_all()
    (a.out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    plot(report, a.out / "soak.png")
    print(summary(report))
    print(f"report: {a.out / 'report.json'}, plot: {a.out / 'soak.png'}")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
