"""Run alacrityvmd for a test and follow its log.

    d = Daemon(socket=tmp / "vm.sock", region_size="4M", vectors=4,
               log_path=logs / "alacrityvmd.log").start()
    d.wait_log(r"listening on")          # regex on the stderr log
    ...
    d.stop()                              # SIGTERM; returns the exit status

LegacyTakeoverDaemon is `--takeover-from` (the legacy hand-over).
"""

import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import List, Optional, Sequence, Union

from . import env

DEFAULT_TIMEOUT = 30.0


class DaemonError(Exception):
    pass


class Daemon:
    def __init__(self, socket: Union[str, Path], *, region_size: str = "4M",
                 vectors: int = 4, extra_args: Sequence[str] = (),
                 log_path: Optional[Union[str, Path]] = None,
                 binary: Optional[Union[str, Path]] = None):
        self.socket = Path(socket)
        self.region_size = region_size
        self.vectors = vectors
        self.extra_args = list(extra_args)
        self.log_path = Path(log_path) if log_path else None
        self.binary = Path(binary or env.daemon_binary())
        self.proc: Optional[subprocess.Popen] = None
        self._lines: List[str] = []
        self._pos = 0
        self._cond = threading.Condition()
        self._eof = False
        self._reader: Optional[threading.Thread] = None

    def command_line(self) -> List[str]:
        return [str(self.binary), "--socket", str(self.socket),
                "--region-size", self.region_size, "--vectors", str(self.vectors),
                "--foreground"] + self.extra_args

    def start(self, wait_listening: bool = True) -> "Daemon":
        if not self.binary.exists():
            raise DaemonError(f"{self.binary} not built (run make userspace)")
        self.proc = subprocess.Popen(self.command_line(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, errors="replace")
        self._reader = threading.Thread(target=self._read, daemon=True, name="daemon-log")
        self._reader.start()
        if wait_listening:
            self.wait_socket()
        return self

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        log = open(self.log_path, "w") if self.log_path else None
        try:
            for line in self.proc.stdout:
                with self._cond:
                    self._lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
                if log:
                    log.write(line)
                    log.flush()
        finally:
            if log:
                log.close()
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    @property
    def log(self) -> str:
        with self._cond:
            return "\n".join(self._lines)

    def wait_log(self, pattern: str, timeout: float = DEFAULT_TIMEOUT) -> re.Match:
        """Wait for a log line matching pattern, after the last match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._pos < len(self._lines):
                    m = rx.search(self._lines[self._pos])
                    self._pos += 1
                    if m:
                        return m
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    why = "daemon exited" if self._eof else f"timeout after {timeout}s"
                    raise DaemonError(f"waiting for /{pattern}/ in the daemon log: {why}\n"
                                      + "\n".join(self._lines[-30:]))
                self._cond.wait(left)

    def wait_socket(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.socket.is_socket():
            if self.proc and self.proc.poll() is not None:
                self._reader and self._reader.join(timeout=5)
                raise DaemonError(f"alacrityvmd exited with {self.proc.returncode}:\n{self.log}")
            if time.monotonic() > deadline:
                raise DaemonError(f"{self.socket} did not appear in {timeout}s\n{self.log}")
            time.sleep(0.05)

    def wait_exit(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Waits for the daemon to exit on its own and for the rest of its
        log; its exit status."""
        assert self.proc
        code = self.proc.wait(timeout=timeout)
        if self._reader:
            self._reader.join(timeout=5)
        return code

    def stop(self, timeout: float = DEFAULT_TIMEOUT) -> Optional[int]:
        """SIGTERM, wait; SIGKILL if it hangs.  Returns the exit status."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._reader:
            self._reader.join(timeout=5)
        return self.proc.returncode

    def __enter__(self) -> "Daemon":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class LegacyTakeoverDaemon(Daemon):
    """`alacrityvmd --takeover-from H [--handover-listen L]`: no --socket,
    it adopts the old one's (docs/handover.md)."""

    def __init__(self, handover: Union[str, Path], listen: Union[str, Path] = "", **kw):
        super().__init__(kw.pop("socket"), **kw)
        self.handover = str(handover)
        self.listen = str(listen)

    def command_line(self) -> List[str]:
        cmd = [str(self.binary), "--foreground", "--takeover-from", self.handover]
        return cmd + (["--handover-listen", self.listen] if self.listen else [])
