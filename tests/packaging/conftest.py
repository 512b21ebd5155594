"""Fixtures for the packaging tests: where the packages are, a command
runner that logs and times every command, throw-away rpm databases and gpg
homes, and the bookworm root the apt install tests run in."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TOP = Path(os.environ.get("AVM_TOP", HERE.parent.parent))
BUILD = Path(os.environ.get("AVM_BUILD", TOP / "build"))
DIST = Path(os.environ.get("AVM_DIST", TOP / "dist"))
VERSION = (TOP / "VERSION").read_text().split()[0]
WORK = BUILD / "packaging" / "test"


def run(cmd, *, check=True, env=None, cwd=None, timeout=900):
    """Run cmd (a list), print it with its time, return the CompletedProcess
    (stdout and stderr merged into .stdout)."""
    start = time.monotonic()
    proc = subprocess.run(
        [str(c) for c in cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    took = time.monotonic() - start
    print(f"$ {' '.join(str(c) for c in cmd)}  [{took:.1f} s, rc {proc.returncode}]")
    if check and proc.returncode != 0:
        print(proc.stdout)
        raise AssertionError(f"command failed with {proc.returncode}: {cmd}")
    return proc


def tamper(path: Path, needle: bytes = None):
    """Change one byte of path: inside `needle` if given (a text file's
    signed content), else near the end (an RPM's payload, a .deb's data
    member; an RPM's signature header has reserved space no digest covers)."""
    data = bytearray(path.read_bytes())
    pos = data.index(needle) if needle else len(data) - 64
    data[pos] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture(scope="session")
def work():
    WORK.mkdir(parents=True, exist_ok=True)
    return WORK


@pytest.fixture
def scratch(work, request):
    """A fresh directory per test under build/packaging/test."""
    d = work / request.node.name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    return d


@pytest.fixture(scope="session")
def debs():
    found = sorted(DIST.glob("deb/*.deb"))
    assert found, f"no .deb in {DIST}/deb: run make packages"
    return found


@pytest.fixture(scope="session")
def rpms():
    found = sorted(DIST.glob("rpm/*.rpm"))
    assert found, f"no .rpm in {DIST}/rpm: run make packages"
    return found


@pytest.fixture(scope="session")
def rpm_home(work):
    """A HOME whose ~/.rpmmacros points rpm at a private database holding
    only our public key (the host's rpm database stays untouched)."""
    home = work / "rpm-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir()
    (home / ".rpmmacros").write_text(f"%_dbpath {home}/rpmdb\n")
    env = dict(os.environ, HOME=str(home))
    run(["rpmkeys", "--import", DIST / "keys" / "RPM-GPG-KEY-alacrityvm"], env=env)
    return env
