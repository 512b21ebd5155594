"""Fixtures for the image tests: where the images and keys are, a command
runner that logs and times every command, and image_vm(): an image booted
from its own vmlinuz/initrd.img with the disk in snapshot mode (the image in
dist/ is never written) by the shared launcher, tests/lib/qemu.py.

The system-test harness (tests/system/lib: NetNs, Daemon) is reused for the
network namespace and alacrityvmd."""

import os
import shutil
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
sys.path.insert(0, str(TOP / "tests" / "lib"))

import qemu  # noqa: E402
from qemu import Qemu  # noqa: E402


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


SSH_OPTS = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes",
            "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"]


def image_vm(image: Path, log_path: Path, extra_args=(), memory="1536") -> Qemu:
    """A VM booted from an image directory (its vmlinuz, initrd.img and
    disk.qcow2, the disk in snapshot mode) under TCG, the serial console in
    log_path; kill() it at teardown (also on failure)."""
    return Qemu(kernel=image / "vmlinuz", initrd=image / "initrd.img", disk=image / "disk.qcow2",
                # the RCU stall detector fires when the host starves TCG
                # (seen at load 12 on 2 cores); that is not a guest bug
                append="root=/dev/vda rw console=ttyS0 panic=-1 "
                       "rcupdate.rcu_cpu_stall_suppress=1",
                memory=memory, cpus=1, args=["-device", "virtio-rng-pci", *extra_args],
                log_path=log_path)


def wait_ssh(ssh_cmd, vm: Qemu, timeout: float = 900) -> float:
    """Retry `ssh ... true` until it works; seconds since QEMU started."""
    return qemu.wait_ssh(vm, ssh_cmd + ["true"], timeout=timeout, attempt_timeout=60)
