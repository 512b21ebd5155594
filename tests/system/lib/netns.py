"""A network namespace owned by one test (or one module of tests).

    with NetNs() as ns:                     # ip netns add avm-<pid>-<n>
        ns.ip("link set avmtap0 up")        # ip -n NS link set ...
        ns.run(["iperf3", "-s", "-1"])      # ip netns exec NS ...
        p = ns.popen(["avm_stream", "recv", "5001"])
    # deleted on exit, also when the body raised

Everything a networking test sends stays inside its namespace: the TAP of
the daemon lives there and only namespace addresses are ever used.
"""

import itertools
import os
import subprocess
import time
from typing import List, Sequence

_counter = itertools.count()


class NetNs:
    def __init__(self, prefix: str = "avm"):
        self.name = f"{prefix}-{os.getpid()}-{next(_counter)}"
        self.created = False

    def create(self) -> "NetNs":
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.created = True
        self.ip("link set lo up")
        return self

    def delete(self) -> None:
        if self.created:
            subprocess.run(["ip", "netns", "del", self.name], check=False)
            self.created = False

    def __enter__(self) -> "NetNs":
        return self.create()

    def __exit__(self, *exc) -> None:
        self.delete()

    def cmd(self, argv: Sequence[str]) -> List[str]:
        return ["ip", "netns", "exec", self.name] + [str(a) for a in argv]

    def ip(self, args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "-n", self.name] + args.split(), check=check,
                              capture_output=True, text=True)

    def wait_link(self, name: str, timeout: float = 60) -> None:
        """Until the interface @name exists here (a daemon creates its TAP
        after its socket listens)."""
        deadline = time.monotonic() + timeout
        while self.ip(f"link show {name}", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"no interface {name} in namespace {self.name}")
            time.sleep(0.05)

    def run(self, argv: Sequence[str], timeout: float = 120,
            check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(argv), capture_output=True, text=True,
                              timeout=timeout, check=check)

    def popen(self, argv: Sequence[str], **kw) -> subprocess.Popen:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.STDOUT)
        kw.setdefault("text", True)
        return subprocess.Popen(self.cmd(argv), **kw)
