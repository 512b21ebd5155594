"""Boot a kernel and an initramfs under QEMU (TCG) and talk to its console.

    with Guest(initrd, qemu_args=["-device", "..."], log_path=p) as g:
        g.start()
        g.wait_ready()                     # AVM-SHELL-READY from init.sh
        r = g.run("cat /proc/cpuinfo")     # -> CommandResult(status, output)
        g.wait_for(r"some marker", timeout=30)
    # QEMU is always killed on exit from the block

The serial console is QEMU's stdio (pipes): a reader thread collects every
byte into `console` (and log_path), so nothing is lost and nothing blocks.
Commands run in a subshell of the guest's shell, their output framed by
markers the harness recognises (the shell has echo off, see init.sh).
"""

import codecs
import dataclasses
import itertools
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import List, Optional, Sequence, Union

from . import env

DEFAULT_TIMEOUT = float(os.environ.get("AVM_GUEST_TIMEOUT", "120"))


class GuestError(Exception):
    """The guest did not do what the test waited for."""


@dataclasses.dataclass
class CommandResult:
    status: int
    output: str

    def check(self, what: str = "command") -> "CommandResult":
        if self.status != 0:
            raise GuestError(f"{what} failed with status {self.status}:\n{self.output}")
        return self


class Guest:
    def __init__(self, initrd: Union[str, Path], *,
                 kernel: Optional[Union[str, Path]] = None,
                 append: str = "",
                 qemu_args: Sequence[str] = (),
                 memory: str = "512",
                 log_path: Optional[Union[str, Path]] = None,
                 qemu: Optional[str] = None):
        self.kernel = Path(kernel or env.vmlinuz())
        self.initrd = Path(initrd)
        self.append = append
        self.qemu_args = list(qemu_args)
        self.memory = memory
        self.log_path = Path(log_path) if log_path else None
        self.qemu = qemu or env.qemu_binary()
        self.proc: Optional[subprocess.Popen] = None
        self._buf = ""         # console text so far, without \r
        self._pos = 0          # wait_for() searches from here
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._cond = threading.Condition()
        self._eof = False
        self._reader: Optional[threading.Thread] = None
        self._log = None
        self._seq = itertools.count(1)

    # -- lifecycle -------------------------------------------------------

    def command_line(self) -> List[str]:
        append = f"console=ttyS0 panic=-1 quiet {self.append}".strip()
        return [self.qemu, "-accel", "tcg", "-m", self.memory,
                "-nographic", "-no-reboot", "-nodefaults",
                "-serial", "stdio", "-monitor", "none",
                "-kernel", str(self.kernel), "-initrd", str(self.initrd),
                "-append", append] + self.qemu_args

    def start(self) -> "Guest":
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "wb")
            self._log.write(("# " + " ".join(self.command_line()) + "\n").encode())
        self.proc = subprocess.Popen(self.command_line(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._reader = threading.Thread(target=self._read_console, daemon=True,
                                        name="guest-console")
        self._reader.start()
        return self

    def _read_console(self) -> None:
        assert self.proc and self.proc.stdout
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            with self._cond:
                if not data:
                    self._eof = True
                    self._cond.notify_all()
                    break
                self._buf += self._decoder.decode(data).replace("\r", "")
                if self._log:
                    self._log.write(data.replace(b"\r", b""))
                    self._log.flush()
                self._cond.notify_all()

    def wait_exit(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Wait for QEMU to exit on its own (poweroff); return its status."""
        assert self.proc
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise GuestError(f"QEMU still running after {timeout}s\n{self.tail()}") from e

    def poweroff(self, timeout: float = 30) -> Optional[int]:
        """Ask the guest to power off; kill QEMU if it does not."""
        if self.proc and self.proc.poll() is None:
            try:
                self.send("poweroff -f\n")
                return self.proc.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        return self.proc.returncode if self.proc else None

    def kill(self) -> None:
        """Kill QEMU (always safe to call)."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc:
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    if f:
                        f.close()
                except OSError:
                    pass
        if self._reader:
            self._reader.join(timeout=5)
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self) -> "Guest":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()

    # -- console ---------------------------------------------------------

    @property
    def console(self) -> str:
        with self._cond:
            return self._buf

    def tail(self, n: int = 40) -> str:
        lines = self.console.splitlines()[-n:]
        return "--- console (last lines) ---\n" + "\n".join(lines)

    def send(self, text: str) -> None:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def wait_for(self, pattern: str, timeout: float = DEFAULT_TIMEOUT) -> re.Match:
        """Wait until pattern (a regex, MULTILINE) appears after the last match."""
        rx = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self._buf, self._pos)
                if m:
                    self._pos = m.end()
                    return m
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    why = "QEMU exited" if self._eof else f"timeout after {timeout}s"
                    tail = "\n".join(self._buf.splitlines()[-40:])
                    raise GuestError(f"waiting for /{pattern}/: {why}\n{tail}")
                self._cond.wait(left)

    def wait_ready(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait for init's shell (see init.sh)."""
        self.wait_for(r"^AVM-SHELL-READY$", timeout)

    def run(self, cmd: str, timeout: float = DEFAULT_TIMEOUT,
            check: bool = False) -> CommandResult:
        """Run cmd (one line of sh) in a subshell; return status and output.

        stdout and stderr are merged.  Keep cmd below the tty line limit
        (4 KiB); put long scripts into the initramfs instead.
        """
        n = next(self._seq)
        # The markers are printed with printf from split words, so the
        # command text itself can never be mistaken for them.
        self.send(f"printf '%s-%s\\n' AVM-BEGIN {n}; ( {cmd}\n) </dev/null 2>&1; "
                  f"printf '\\n%s-%s %s\\n' AVM-END {n} $?\n")
        self.wait_for(rf"^AVM-BEGIN-{n}\n", timeout)
        start = self._pos
        m = self.wait_for(rf"\n?AVM-END-{n} (\d+)\n", timeout)
        with self._cond:
            output = self._buf[start:m.start()]
        result = CommandResult(int(m.group(1)), output)
        if check:
            result.check(cmd)
        return result
