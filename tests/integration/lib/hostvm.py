"""Boot the host image under QEMU (TCG, tests/lib/qemu.py) with SSH
forwarded to 127.0.0.1.

    vm = HostVM(image_dir, run_dir, log_path)
    vm.start()            # disk in snapshot mode: the image is never written
    vm.wait_ssh()         # sshd answers with our key (given via fw_cfg)
    vm.ssh("systemctl is-system-running --wait")
    vm.kill()             # always safe

The image takes SSH public keys from the fw_cfg entry
opt/alacrityvm/authorized_keys at boot (docs/images.md); the harness makes a
fresh key per run, so nothing depends on the key the image was built with.
"""

import subprocess
from pathlib import Path
from typing import List, Optional

from qemu import Qemu, authorized_keys_args, free_port, user_net_ssh_args, wait_ssh


class VMError(Exception):
    """The VM did not come up or a command failed."""


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
        self.vm: Optional[Qemu] = None

    # -- lifecycle ---------------------------------------------------------

    def machine(self) -> Qemu:
        d = self.image_dir
        return Qemu(kernel=d / "vmlinuz", initrd=d / "initrd.img", disk=d / "disk.qcow2",
                    append="root=/dev/vda rw console=ttyS0 panic=-1",
                    memory=self.memory, cpus=self.cpus,
                    args=user_net_ssh_args(self.port) + authorized_keys_args(f"{self.key}.pub"),
                    log_path=self.log_path)

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
        self.vm = self.machine().start()
        return self

    def kill(self) -> None:
        if self.ssh_config.exists():   # the ControlPersist master, if any
            subprocess.run(["ssh", "-F", str(self.ssh_config), "-O", "exit", "avm-test"],
                           capture_output=True, timeout=30, check=False)
        if self.vm:
            self.vm.kill()

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
        """Wait until a command runs over SSH; the seconds since QEMU started."""
        return wait_ssh(self.vm, self.ssh_argv("true"), timeout=timeout, attempt_timeout=30)
