"""Where things are: source tree, build tree, Debian's kernel, caches.

The Makefile exports AVM_TOP (source tree) and AVM_BUILD (build tree); both
default to this checkout and its build/ when pytest runs on its own.
"""

import functools
import os
import subprocess
from pathlib import Path

TOP = Path(os.environ.get("AVM_TOP", Path(__file__).resolve().parents[3]))
BUILD = Path(os.environ.get("AVM_BUILD", TOP / "build"))
UAPI_DIR = TOP / "modules" / "include" / "uapi"
SYSTEM_DIR = BUILD / "system"          # caches: initramfs images, guest tools
LOG_DIR = SYSTEM_DIR / "logs"          # console and daemon logs per test


@functools.lru_cache(maxsize=None)
def kernel_version() -> str:
    """Release of Debian's current amd64 kernel (scripts/kernel-version.sh)."""
    out = subprocess.run([str(TOP / "scripts" / "kernel-version.sh")],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def vmlinuz() -> Path:
    return Path("/boot") / f"vmlinuz-{kernel_version()}"


def modules_dir() -> Path:
    return Path("/lib/modules") / kernel_version()


def daemon_binary() -> Path:
    """The alacrityvmd built by CMake (override with AVM_DAEMON)."""
    if "AVM_DAEMON" in os.environ:
        return Path(os.environ["AVM_DAEMON"])
    candidates = [
        BUILD / "userspace" / "userspace" / "daemon" / "alacrityvmd",
        BUILD / "userspace" / "bin" / "alacrityvmd",
    ]
    for c in candidates:
        if c.exists():
            return c
    return candidates[0]
