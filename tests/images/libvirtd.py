"""A private libvirtd for a test, and a domain of it that the image-test
helpers can wait on.

    with PrivateLibvirtd(tmp, qemu_user="libvirt-qemu", qemu_group="kvm") as lv:
        lv.virsh("define", "domain.xml")

libvirtd runs as root (privileged: its qemu:///system driver) in a mount
namespace of its own where /etc/libvirt, /var/lib/libvirt,
/var/cache/libvirt, /var/log/libvirt and /run are directories under tmp, so
it reads none of the host's configuration (no default network, no virbr0),
writes none of its state, and talks to no host daemon over /run (D-Bus,
machined).  Its sockets are in tmp/sock, where virsh finds them.  QEMU runs
as qemu_user:qemu_group without namespaces, cgroups, virtlogd or relabelling
(dynamic_ownership off: libvirt never chowns the images).
"""

import subprocess
import time
from pathlib import Path
from typing import List

# bind-mounted over these, from tmp/<name>
PRIVATE = {"etc": "/etc/libvirt", "lib": "/var/lib/libvirt", "cache": "/var/cache/libvirt",
           "log": "/var/log/libvirt", "run": "/run"}


class PrivateLibvirtd:
    def __init__(self, tmp: Path, qemu_user: str, qemu_group: str):
        self.tmp = Path(tmp)
        self.qemu_user = qemu_user
        self.qemu_group = qemu_group
        self.sock_dir = self.tmp / "sock"
        self.log_path = self.tmp / "libvirtd.log"
        self.proc = None

    @property
    def uri(self) -> str:
        return f"qemu:///system?socket={self.sock_dir}/libvirt-sock"

    def start(self, timeout: float = 60) -> "PrivateLibvirtd":
        for name in PRIVATE:
            (self.tmp / name).mkdir(mode=0o755)
        (self.tmp / "run" / "libvirt").mkdir(mode=0o755)
        self.sock_dir.mkdir(mode=0o700)
        conf = self.tmp / "etc" / "libvirtd.conf"
        conf.write_text(
            f'unix_sock_dir = "{self.sock_dir}"\n'
            'unix_sock_rw_perms = "0700"\n'
            'auth_unix_ro = "none"\n'
            'auth_unix_rw = "none"\n'
            f'log_outputs = "3:file:{self.log_path}"\n')
        (self.tmp / "etc" / "qemu.conf").write_text(
            f'user = "{self.qemu_user}"\n'
            f'group = "{self.qemu_group}"\n'
            "dynamic_ownership = 0\n"
            "remember_owner = 0\n"
            'security_driver = "none"\n'
            "namespaces = []\n"
            "cgroup_controllers = []\n"
            'stdio_handler = "file"\n')
        mounts = " && ".join(f"mount --bind {self.tmp / name} {target}"
                             for name, target in PRIVATE.items())
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
             f'{mounts} && exec libvirtd --config "$1"', "sh", str(conf)],
            stdout=subprocess.DEVNULL, stderr=open(self.tmp / "libvirtd.stderr", "w"))
        deadline = time.monotonic() + timeout
        while self.virsh("version", check=False).returncode != 0:
            if self.proc.poll() is not None:
                raise AssertionError(f"libvirtd exited ({self.proc.returncode}): "
                                     + self.log_tail())
            if time.monotonic() > deadline:
                raise AssertionError(f"libvirtd: no answer in {timeout} s: " + self.log_tail())
            time.sleep(0.5)
        return self

    def virsh(self, *args: str, check: bool = True, timeout: float = 120):
        r = subprocess.run(["virsh", "-q", "-c", self.uri, *args], capture_output=True,
                           text=True, timeout=timeout, check=False)
        if check:
            assert r.returncode == 0, f"virsh {' '.join(args)}: {r.stdout}{r.stderr}"
        return r

    def log_tail(self, n: int = 30) -> str:
        lines: List[str] = []
        for f in (self.tmp / "libvirtd.stderr", self.log_path):
            if f.exists():
                lines += f.read_text(errors="replace").splitlines()[-n:]
        return "\n".join(lines)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "PrivateLibvirtd":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Domain:
    """A running domain of a PrivateLibvirtd, with what Dnsmasq.wait_ack and
    qemu.wait_ssh ask of a VM: alive(), tail(), proc, started."""

    def __init__(self, libvirtd: PrivateLibvirtd, name: str):
        self.libvirtd = libvirtd
        self.name = name
        self.proc = None
        self.started = time.monotonic()

    def alive(self) -> bool:
        r = self.libvirtd.virsh("domstate", self.name, check=False)
        return r.returncode == 0 and r.stdout.strip() == "running"

    def tail(self, n: int = 40) -> str:
        log = self.libvirtd.tmp / "log" / "qemu" / f"{self.name}.log"
        text = log.read_text(errors="replace") if log.exists() else "(no QEMU log)"
        return "\n".join(text.splitlines()[-n:])
