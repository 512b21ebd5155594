"""Reusable harness for AlacrityVM system tests (QEMU under TCG).

Modules:
  env        where things are: source tree, build tree, kernel, caches
  initramfs  busybox initramfs images (programs, files, kernel modules)
  guest      boot a kernel + initramfs under QEMU, talk to its serial shell
  daemon     run alacrityvmd and follow its log
  tools      compile the guest-side helper programs (tests/system/guest)

QEMU itself is launched by tests/lib/qemu.py, shared with the other suites;
importing this package puts tests/lib on sys.path (as `qemu`).
"""

import sys
from pathlib import Path

_SHARED = str(Path(__file__).resolve().parents[2] / "lib")
if _SHARED not in sys.path:
    sys.path.append(_SHARED)
