"""Fixtures for the malicious-guest test (tests/hostile).

The harness of tests/system (Daemon, NetNs, env) is reused as is.

  hostile_binary   path of avm-hostile (AVM_HOSTILE, else the build tree's)
  hostile_rig      module scope: one alacrityvmd process serving two instances,
                   "good" and "bad", each with a venet TAP in a namespace of
                   its own; a well-behaved software guest moving traffic on
                   "good".  Everything is stopped and deleted at teardown,
                   also after a failure.
"""

import json
import os
import re
import shutil
import signal
import socket
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


class ServiceDaemon(Daemon):
    """One alacrityvmd process serving the instances of a config file."""

    def __init__(self, config: Path, control: Path, log_path: Path):
        super().__init__(control, log_path=log_path)
        self.config = config

    def command_line(self) -> List[str]:
        return [str(self.binary), "--config", str(self.config), "--foreground"]

    def rpc(self, method: str, params: Optional[dict] = None, timeout: float = 30) -> dict:
        """One JSON-RPC call on the control socket; the result (errors raise)."""
        req = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            req["params"] = params
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.socket))
            s.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        resp = json.loads(buf)
        if "error" in resp:
            raise AssertionError(f"{method}: {resp['error']}")
        return resp["result"]

    def instance_stats(self, name: str) -> dict:
        return self.rpc("stats", {"instance": name})["instances"][name]


class Rig:
    """Two instances, "good" and "bad", of ONE alacrityvmd process (a config
    file with two [[instance]] and two [[device]]), each venet TAP in a
    namespace of its own."""

    def __init__(self, binary: Path, log_dir: Path, tmp: Path):
        self.binary = binary
        self.log_dir = log_dir
        self.tmp = tmp
        self.good_ns: Optional[NetNs] = None
        self.bad_ns: Optional[NetNs] = None
        self.daemon: Optional[ServiceDaemon] = None
        self.guest: Optional[GoodGuest] = None

    # The attacked and the good instance live in the same process.
    @property
    def bad(self) -> ServiceDaemon:
        return self.daemon

    @property
    def good(self) -> ServiceDaemon:
        return self.daemon

    def socket(self, name: str) -> Path:
        return self.tmp / f"{name}.sock"

    def write_config(self) -> Path:
        conf = self.tmp / "alacrityvmd.conf"
        text = (f'[daemon]\ncontrol_socket = "{self.tmp}/control.sock"\n'
                f'state_dir = "{self.tmp}/state"\n')
        for name, ns, tap in (("good", self.good_ns, GOOD_TAP), ("bad", self.bad_ns, BAD_TAP)):
            text += (f'\n[[instance]]\nname = "{name}"\nsocket = "{self.socket(name)}"\n'
                     f'region_size = "4M"\nvectors = {VECTORS}\n'
                     f'\n[[device]]\nname = "{name}-net0"\ntype = "venet"\n'
                     f'instance = "{name}"\ntap = "{tap}"\nnetns = "{ns.name}"\n'
                     'backend = "user"\n')
        conf.write_text(text)
        return conf

    def start(self) -> "Rig":
        self.good_ns = NetNs("avmhg").create()
        self.bad_ns = NetNs("avmhb").create()
        self.daemon = ServiceDaemon(self.write_config(), self.tmp / "control.sock",
                                    self.log_dir / "alacrityvmd.log").start()
        for name, ns, tap in (("good", self.good_ns, GOOD_TAP), ("bad", self.bad_ns, BAD_TAP)):
            deadline = time.monotonic() + 30
            while not self.socket(name).is_socket():
                assert time.monotonic() < deadline, f"instance {name} never listened"
                time.sleep(0.1)
            ns.ip(f"link set {tap} up")
        self.guest = GoodGuest(self.good_ns.cmd([
            self.binary, "good", "--socket", self.socket("good"), "--ifname", GOOD_TAP,
            "--vectors", VECTORS]), self.log_dir / "good-guest.log")
        self.guest.wait_line(r"good: running", 30)
        return self

    def attack(self, name: str, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = self.bad_ns.cmd([self.binary, "attack", "--socket", self.socket("bad"),
                                "--ifname", BAD_TAP, "--vectors", VECTORS, name])
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        with open(self.log_dir / "attacks.log", "a") as f:
            f.write(r.stdout + r.stderr)
        return r

    def stop(self) -> None:
        if self.guest:
            self.guest.stop()
        if self.daemon:
            self.daemon.stop()
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
