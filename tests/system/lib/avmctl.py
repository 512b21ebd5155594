"""avmctl and the generator/metrics helper programs, for the test_avmctl_* tests.

    r = avmctl(sock, "instance", "list")        # CompletedProcess, never raises
    r = avmctl(sock, "--json", "stats", check=True)
    cmake_binary("tests/unit/generate/avm-generate-print")

AVM_CMAKE_BUILD overrides the CMake build tree (default $AVM_BUILD/userspace);
AVM_AVMCTL the avmctl binary.
"""

import os
import subprocess
from pathlib import Path
from typing import Union

from . import env


def cmake_build() -> Path:
    return Path(os.environ.get("AVM_CMAKE_BUILD", env.BUILD / "userspace"))


def cmake_binary(rel: str) -> Path:
    p = cmake_build() / rel
    if not p.exists():
        raise FileNotFoundError(f"{p} not built (run make userspace)")
    return p


def avmctl_binary() -> Path:
    if "AVM_AVMCTL" in os.environ:
        return Path(os.environ["AVM_AVMCTL"])
    return cmake_binary("userspace/avmctl/avmctl")


def avmctl(socket: Union[str, Path], *args: str, check: bool = False,
           timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """Runs avmctl --socket SOCKET ARGS; check=True asserts exit 0."""
    r = subprocess.run([str(avmctl_binary()), "--socket", str(socket), *args],
                       capture_output=True, text=True, timeout=timeout, **kw)
    if check:
        assert r.returncode == 0, f"avmctl {' '.join(args)}: {r.returncode}\n{r.stderr}"
    return r
