"""Boot the host image under QEMU (TCG) with SSH forwarded to 127.0.0.1.

    vm = HostVM(image_dir, run_dir, log_path)
    vm.start()            # -snapshot: the image itself is never written
    vm.wait_ssh()         # sshd answers with our key (given via fw_cfg)
    vm.ssh("systemctl is-system-running --wait")
    vm.kill()             # always safe

The image takes SSH public keys from the fw_cfg entry
opt/alacrityvm/authorized_keys at boot (docs/images.md); the harness makes a
fresh key per run, so nothing depends on the key the image was built with.
"""

import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import List, Optional

from . import env


class VMError(Exception):
    """The VM did not come up or a command failed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HostVM:
    user = "avm"

    def __init__(self, image_dir: Path, run_dir: Path, log_path: Path,
                 memory: str = "1024", cpus: int = 1):
        self.image_dir = Path(image_dir)
        self.run_dir = Path(run_dir)
        self.log_path = Path(log_path)
        self.memory = memory
        self.cpus = cpus
        self.port = 0
        self.key = self.run_dir / "id_ed25519"
        self.known_hosts = self.run_dir / "known_hosts"
        self.ssh_config = self.run_dir / "ssh_config"
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    # -- lifecycle ---------------------------------------------------------

    def command_line(self) -> List[str]:
        d = self.image_dir
        return [env.qemu_binary(), "-accel", "tcg", "-m", self.memory,
                "-smp", str(self.cpus), "-nographic", "-no-reboot", "-nodefaults",
                "-serial", "stdio", "-monitor", "none", "-snapshot",
                "-kernel", str(d / "vmlinuz"), "-initrd", str(d / "initrd.img"),
                "-append", "root=/dev/vda rw console=ttyS0 panic=-1",
                "-drive", f"file={d / 'disk.qcow2'},format=qcow2,if=virtio",
                "-nic", f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{self.port}-:22",
                "-fw_cfg", f"name=opt/alacrityvm/authorized_keys,file={self.key}.pub"]

    def start(self) -> "HostVM":
        for f in ("disk.qcow2", "vmlinuz", "initrd.img"):
            if not (self.image_dir / f).is_file():
                raise VMError(f"no {self.image_dir / f}: build the host image (make images)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                            "-C", "alacrityvm integration test", "-f", str(self.key)],
                           check=True)
        self.port = free_port()
        self.ssh_config.write_text(
            f"Host avm-test\n"
            f"  HostName 127.0.0.1\n"
            f"  Port {self.port}\n"
            f"  User {self.user}\n"
            f"  IdentityFile {self.key}\n"
            f"  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.known_hosts}\n"
            f"  StrictHostKeyChecking accept-new\n"
            f"  BatchMode yes\n"
            f"  ConnectTimeout 10\n"
            f"  ServerAliveInterval 15\n"
            f"  ServerAliveCountMax 8\n"
            f"  LogLevel ERROR\n"
            # one SSH handshake for all of Testinfra's commands (each costs
            # seconds of TCG guest time); Ansible sets its own ControlPath
            f"  ControlMaster auto\n"
            f"  ControlPath {self.run_dir}/cm-%C\n"
            f"  ControlPersist 600\n")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        self._log.write(("# " + shlex.join(self.command_line()) + "\n").encode())
        self._log.flush()
        self.proc = subprocess.Popen(self.command_line(), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        return self

    def kill(self) -> None:
        if self.ssh_config.exists():   # the ControlPersist master, if any
            subprocess.run(["ssh", "-F", str(self.ssh_config), "-O", "exit", "avm-test"],
                           capture_output=True, timeout=30, check=False)
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc:
            self.proc.wait()
        if self._log:
            self._log.close()
            self._log = None

    def console_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()[-n:]
        except OSError:
            return ""
        return "--- console (last lines) ---\n" + "\n".join(lines)

    # -- SSH ---------------------------------------------------------------

    def ssh_argv(self, command: str) -> List[str]:
        return ["ssh", "-F", str(self.ssh_config), "avm-test", command]

    def ssh(self, command: str, timeout: float = 300, check: bool = True,
            ) -> subprocess.CompletedProcess:
        r = subprocess.run(self.ssh_argv(command), capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise VMError(f"ssh {command!r}: exit {r.returncode}\n{r.stdout}{r.stderr}")
        return r

    def wait_ssh(self, timeout: float = 300) -> float:
        """Wait until a command runs over SSH; return the seconds it took."""
        start = time.monotonic()
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise VMError(f"QEMU exited before SSH came up\n{self.console_tail()}")
            try:
                r = self.ssh("true", timeout=30, check=False)
                if r.returncode == 0:
                    return time.monotonic() - start
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() - start > timeout:
                raise VMError(f"no SSH after {timeout}s\n{self.console_tail()}")
            time.sleep(3)
