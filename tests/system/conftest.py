"""pytest fixtures for AlacrityVM system tests (see lib/ for the harness).

Fixtures:
  guest_tools      {name: Path} of the static helper programs in guest/
  base_initramfs   busybox + every guest tool, no modules
  make_initramfs   make_initramfs(InitramfsSpec) -> Path (cached image)
  log_dir          $AVM_BUILD/system/logs/<test>/, kept after the test
  short_tmp        a short private directory for UNIX sockets (< 108 bytes)
  boot_guest       boot_guest(initrd=None, qemu_args=(), append="", wait=True,
                   name="guest") -> started lib.guest.Guest; killed at teardown
  start_daemon     start_daemon(region_size="4M", vectors=4, name=..., socket=None,
                   extra_args=()) -> running lib.daemon.Daemon; stopped at teardown
  module_log_dir   $AVM_BUILD/system/logs/<test module>/ (module scope)
  module_tmp       a short private directory (module scope)
"""

import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lib import env  # noqa: E402
from lib.daemon import Daemon  # noqa: E402
from lib.guest import Guest  # noqa: E402
from lib.initramfs import InitramfsSpec, build_initramfs  # noqa: E402
from lib.tools import build_guest_tools  # noqa: E402


@pytest.fixture(scope="session")
def guest_tools():
    return build_guest_tools()


@pytest.fixture(scope="session")
def make_initramfs():
    return build_initramfs


@pytest.fixture(scope="session")
def base_initramfs(guest_tools):
    return build_initramfs(InitramfsSpec(programs=list(guest_tools.values())))


@pytest.fixture
def log_dir(request):
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
    d = env.LOG_DIR / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


@pytest.fixture
def short_tmp():
    d = Path(tempfile.mkdtemp(prefix="avm-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def boot_guest(base_initramfs, log_dir):
    guests = []

    def boot(initrd=None, qemu_args=(), append="", wait=True, name="guest"):
        g = Guest(initrd or base_initramfs, qemu_args=qemu_args, append=append,
                  log_path=log_dir / f"{name}.console.log")
        guests.append(g)
        g.start()
        if wait:
            g.wait_ready()
        return g

    yield boot
    for g in guests:
        g.kill()


@pytest.fixture
def start_daemon(short_tmp, log_dir):
    daemons = []

    def start(region_size="4M", vectors=4, name="alacrityvmd", socket=None,
              extra_args=()):
        d = Daemon(socket or short_tmp / f"{name}.sock", region_size=region_size,
                   vectors=vectors, extra_args=extra_args,
                   log_path=log_dir / f"{name}.log")
        daemons.append(d)
        return d.start()

    yield start
    for d in daemons:
        d.stop()


@pytest.fixture(scope="module")
def module_log_dir(request):
    """$AVM_BUILD/system/logs/<module>/ for module-scoped fixtures."""
    d = env.LOG_DIR / Path(request.node.nodeid).stem
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


@pytest.fixture(scope="module")
def module_tmp():
    """A short private directory (UNIX sockets) for a module's fixtures."""
    d = Path(tempfile.mkdtemp(prefix="avm-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)
