"""A kernel + busybox initramfs under QEMU (tests/lib/qemu.py) and the
shell init.sh starts on its serial console.

    with Guest(initrd, qemu_args=["-device", "..."], log_path=p) as g:
        g.start()
        g.wait_ready()                     # AVM-SHELL-READY from init.sh
        r = g.run("cat /proc/cpuinfo")     # -> CommandResult(status, output)
        g.wait_for(r"some marker", timeout=30)
    # QEMU is always killed on exit from the block

Commands run in a subshell of the guest's shell, their output framed by
markers the harness recognises (the shell has echo off, see init.sh).
"""

import dataclasses
import itertools
import subprocess
from pathlib import Path
from typing import Optional, Sequence, Union

from qemu import DEFAULT_TIMEOUT, Qemu, QemuError  # tests/lib

from . import env

__all__ = ["DEFAULT_TIMEOUT", "CommandResult", "Guest", "GuestError"]

GuestError = QemuError   # the guest did not do what the test waited for


@dataclasses.dataclass
class CommandResult:
    status: int
    output: str

    def check(self, what: str = "command") -> "CommandResult":
        if self.status != 0:
            raise GuestError(f"{what} failed with status {self.status}:\n{self.output}")
        return self


class Guest(Qemu):
    def __init__(self, initrd: Union[str, Path], *,
                 kernel: Optional[Union[str, Path]] = None,
                 append: str = "",
                 qemu_args: Sequence[str] = (),
                 memory: str = "512",
                 log_path: Optional[Union[str, Path]] = None,
                 qemu: Optional[str] = None,
                 **launch):
        """launch: more of Qemu's arguments (cpus, qmp, netns)."""
        super().__init__(kernel=kernel or env.vmlinuz(), initrd=initrd,
                         append=f"console=ttyS0 panic=-1 quiet {append}".strip(),
                         memory=memory, args=qemu_args, log_path=log_path, qemu=qemu,
                         **launch)
        self._seq = itertools.count(1)

    def poweroff(self, timeout: float = 30) -> Optional[int]:
        """Ask the guest to power off; kill QEMU if it does not."""
        if self.alive():
            try:
                self.send("poweroff -f\n")
                return self.proc.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        return self.proc.returncode if self.proc else None

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
        start = self.position
        m = self.wait_for(rf"\n?AVM-END-{n} (\d+)\n", timeout)
        result = CommandResult(int(m.group(1)), self.text_since(start, m.start()))
        if check:
            result.check(cmd)
        return result
