"""Fixtures for the malicious-guest test (tests/hostile).

The harness of tests/system (Daemon, NetNs, env) is reused as is.

  hostile_binary   path of avm-hostile (AVM_HOSTILE, else the build tree's)
  hostile_rig      module scope: two alacrityvmd processes, each with a venet
                   TAP in a namespace of its own; a well-behaved software
                   guest moving traffic on the "good" one.  Everything is
                   stopped and deleted at teardown, also after a failure.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import List, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "system"))

from lib import env  # noqa: E402
from lib.daemon import Daemon  # noqa: E402
from lib.netns import NetNs  # noqa: E402

VECTORS = 4
GOOD_TAP = "avmgood0"
BAD_TAP = "avmbad0"


def hostile_path() -> Path:
    if "AVM_HOSTILE" in os.environ:
        return Path(os.environ["AVM_HOSTILE"])
    return env.BUILD / "userspace" / "tests" / "hostile" / "avm-hostile"


class Program:
    """A subprocess whose stdout lines are collected by a thread."""

    def __init__(self, argv: List[str], log_path: Path):
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace")
        self.lines: List[str] = []
        self._cond = threading.Condition()
        self._log = open(log_path, "w")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._log.write(line)
            self._log.flush()
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_line(self, pattern: str, timeout: float, start: int = 0) -> re.Match:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ln in self.lines[start:]:
                    m = rx.search(ln)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no /{pattern}/ from {self.proc.args[-1]}:\n"
                                         + "\n".join(self.lines[-20:]))
                self._cond.wait(min(left, 0.5))

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        self._log.close()
        return self.proc.returncode


class GoodGuest(Program):
    PROGRESS = re.compile(r"good: progress tx (\d+) rx (\d+) lost (\d+) corrupt (\d+)")

    def progress(self):
        """(tx, rx, lost, corrupt) of the last progress line."""
        with self._cond:
            for ln in reversed(self.lines):
                m = self.PROGRESS.search(ln)
                if m:
                    return tuple(int(x) for x in m.groups())
        return (0, 0, 0, 0)

    def errors(self) -> List[str]:
        with self._cond:
            return [ln for ln in self.lines if "error" in ln]

    def wait_progress(self, tx: int, rx: int, timeout: float = 60) -> None:
        """Until both directions moved past (tx, rx)."""
        deadline = time.monotonic() + timeout
        while True:
            now = self.progress()
            if now[0] > tx and now[1] > rx:
                return
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"the good guest stopped moving at {now}:\n"
                                     + "\n".join(self.lines[-10:]))
            time.sleep(0.2)


class Rig:
    def __init__(self, binary: Path, log_dir: Path, tmp: Path):
        self.binary = binary
        self.log_dir = log_dir
        self.tmp = tmp
        self.good_ns: Optional[NetNs] = None
        self.bad_ns: Optional[NetNs] = None
        self.good: Optional[Daemon] = None
        self.bad: Optional[Daemon] = None
        self.guest: Optional[GoodGuest] = None

    def _daemon(self, name: str, ns: NetNs, tap: str) -> Daemon:
        d = Daemon(self.tmp / f"{name}.sock", region_size="4M", vectors=VECTORS,
                   extra_args=["--venet", f"tap={tap},netns={ns.name}"],
                   log_path=self.log_dir / f"{name}.alacrityvmd.log").start()
        ns.ip(f"link set {tap} up")
        return d

    def start(self) -> "Rig":
        self.good_ns = NetNs("avmhg").create()
        self.bad_ns = NetNs("avmhb").create()
        self.good = self._daemon("good", self.good_ns, GOOD_TAP)
        self.bad = self._daemon("bad", self.bad_ns, BAD_TAP)
        self.guest = GoodGuest(self.good_ns.cmd([
            self.binary, "good", "--socket", self.good.socket, "--ifname", GOOD_TAP,
            "--vectors", VECTORS]), self.log_dir / "good-guest.log")
        self.guest.wait_line(r"good: running", 30)
        return self

    def attack(self, name: str, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = self.bad_ns.cmd([self.binary, "attack", "--socket", self.bad.socket,
                                "--ifname", BAD_TAP, "--vectors", VECTORS, name])
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        with open(self.log_dir / "attacks.log", "a") as f:
            f.write(r.stdout + r.stderr)
        return r

    def stop(self) -> None:
        if self.guest:
            self.guest.stop()
        for d in (self.good, self.bad):
            if d:
                d.stop()
        for ns in (self.good_ns, self.bad_ns):
            if ns:
                ns.delete()


@pytest.fixture(scope="session")
def hostile_binary() -> Path:
    p = hostile_path()
    if not p.exists():
        pytest.fail(f"{p} not built (make userspace)")
    return p


@pytest.fixture(scope="module")
def hostile_log_dir(request) -> Path:
    d = env.LOG_DIR / "hostile" / Path(request.node.nodeid).stem
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


@pytest.fixture(scope="module")
def hostile_rig(hostile_binary, hostile_log_dir):
    tmp = Path(tempfile.mkdtemp(prefix="avmh-", dir="/tmp"))
    rig = Rig(hostile_binary, hostile_log_dir, tmp)
    try:
        yield rig.start()
    finally:
        rig.stop()
        shutil.rmtree(tmp, ignore_errors=True)
