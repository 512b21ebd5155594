"""Fixtures for the image tests: where the images and keys are, a command
runner that logs and times every command, and a QEMU runner for booting an
image from its own vmlinuz/initrd.img with the disk in snapshot mode (the
image in dist/ is never written).

The system-test harness (tests/system/lib: NetNs, Daemon) is reused for the
network namespace and alacrityvmd."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOP = Path(os.environ.get("AVM_TOP", HERE.parent.parent))
BUILD = Path(os.environ.get("AVM_BUILD", TOP / "build"))
DIST = Path(os.environ.get("AVM_DIST", TOP / "dist"))
IMAGES = DIST / "images"
GUEST = IMAGES / "debian-12"
HOST = IMAGES / "debian-12-host"
KEYRING = DIST / "keys" / "alacrityvm-archive-keyring.gpg"
# the key images/build.sh bakes in when AVM_IMAGE_SSH_KEY is not given
BUILD_KEY = BUILD / "images" / "ssh" / "id_ed25519"
LOGS = BUILD / "images" / "logs"
FILES = ("disk.qcow2", "vmlinuz", "initrd.img")

sys.path.insert(0, str(TOP / "tests" / "system"))


def run(cmd, *, check=True, timeout=300, **kw):
    """Run cmd (a list), print it with its time; stdout and stderr merged."""
    start = time.monotonic()
    proc = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace",
                          timeout=timeout, check=False, **kw)
    took = time.monotonic() - start
    print(f"$ {' '.join(str(c) for c in cmd)}  [{took:.1f} s, rc {proc.returncode}]")
    if check and proc.returncode != 0:
        print(proc.stdout[-4000:])
        raise AssertionError(f"command failed with {proc.returncode}: {cmd}")
    return proc


def image_dir(path: Path) -> Path:
    missing = [f for f in FILES + ("SHA256SUMS", "SHA256SUMS.asc") if not (path / f).is_file()]
    assert not missing, f"{path}: missing {missing}: run make images"
    return path


@pytest.fixture(scope="session")
def guest_image():
    return image_dir(GUEST)


@pytest.fixture(scope="session")
def host_image():
    return image_dir(HOST)


@pytest.fixture
def scratch():
    d = Path(tempfile.mkdtemp(prefix="avm-img-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def module_tmp():
    """Short private directory (UNIX sockets, keys) for a module."""
    d = Path(tempfile.mkdtemp(prefix="avm-img-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def make_key(directory: Path, name: str = "id_ed25519") -> Path:
    """A fresh SSH key pair (private key path returned)."""
    key = directory / name
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "avm image test", "-f", key])
    return key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
            "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"]


class Qemu:
    """One VM booted from an image directory under TCG.  The serial console
    goes to log_path; kill() at teardown (also on failure)."""

    def __init__(self, image: Path, log_path: Path, extra_args=(), memory="1536"):
        self.image = image
        self.log_path = log_path
        self.extra_args = [str(a) for a in extra_args]
        self.memory = memory
        self.proc = None
        self.started = 0.0

    def command_line(self):
        return [os.environ.get("AVM_QEMU", "qemu-system-x86_64"),
                "-accel", "tcg", "-m", self.memory, "-smp", "1",
                "-nodefaults", "-display", "none", "-no-reboot", "-monitor", "none",
                "-serial", f"file:{self.log_path}",
                "-kernel", self.image / "vmlinuz", "-initrd", self.image / "initrd.img",
                # the RCU stall detector fires when the host starves TCG
                # (seen at load 12 on 2 cores); that is not a guest bug
                "-append", "root=/dev/vda rw console=ttyS0 panic=-1 "
                           "rcupdate.rcu_cpu_stall_suppress=1",
                "-drive", f"file={self.image / 'disk.qcow2'},if=virtio,format=qcow2,snapshot=on",
                "-device", "virtio-rng-pci"] + self.extra_args

    def start(self) -> "Qemu":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [str(c) for c in self.command_line()]
        print("$", " ".join(cmd))
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def console(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def wait_ssh(ssh_cmd, vm: Qemu, timeout: float = 900) -> float:
    """Retry `ssh ... true` until it works; seconds since QEMU started."""
    deadline = time.monotonic() + timeout
    while True:
        if not vm.alive():
            out = vm.proc.stdout.read() if vm.proc and vm.proc.stdout else ""
            raise AssertionError(f"QEMU exited with {vm.proc.returncode}: {out}\n{vm.console()}")
        r = subprocess.run(ssh_cmd + ["true"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60, check=False)
        if r.returncode == 0:
            return time.monotonic() - vm.started
        if time.monotonic() > deadline:
            raise AssertionError(f"no SSH after {timeout} s: {r.stdout}\n{vm.console()}")
        time.sleep(3)
