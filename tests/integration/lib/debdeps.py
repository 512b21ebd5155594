"""Debian packages the offline test VM lacks, as a small local apt repository.

The host image has no network in the test, and none of the Debian libraries
our packages depend on.  This module asks the controller's apt what
installing those dependencies would take *on the VM* (a simulation against
the VM's own dpkg status file), downloads exactly those .debs from
Debian's mirror into a cache, and indexes them as a flat repository that
prepare.yml copies into the VM.  It only serves Debian's own
packages (which the controller's apt verified); the kit's packages come from
the kit's signed repository through the alacrityvm_repo role.
"""

import gzip
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterable, List, Set

from . import env

MIRROR = os.environ.get("AVM_MIRROR", "http://deb.debian.org/debian")
SECURITY = os.environ.get("AVM_SECURITY_MIRROR", "http://deb.debian.org/debian-security")
LISTS_MAX_AGE = 24 * 3600


class PrivateApt:
    """apt with its own sources, lists and caches under WORK/apt: nothing on
    the controller's own apt state is read or changed (others may be
    updating or cleaning it at the same time)."""

    def __init__(self, root: Path = env.WORK / "apt"):
        self.root = root
        self.sources = root / "debian.sources"
        self.lists = root / "lists"
        self.cache = root / "cache"
        self.archives = root / "archives"

    def options(self, status: Path) -> List[str]:
        opts = {
            "Dir::Etc::SourceList": self.sources,
            "Dir::Etc::SourceParts": "-",
            "Dir::State::Lists": self.lists,
            "Dir::Cache": self.cache,
            "Dir::Cache::archives": self.archives,
            "Dir::State::status": status,
            "Dir::State::extended_states": self.root / "extended_states",
            "APT::Sandbox::User": "root",
            "APT::Architecture": "amd64",
            "APT::Architectures": "amd64",
        }
        return [a for k, v in opts.items() for a in ("-o", f"{k}={v}")]

    def update(self) -> None:
        """apt-get update into the private lists, at most once a day."""
        for d in (self.lists / "partial", self.cache / "archives" / "partial",
                  self.archives / "partial"):
            d.mkdir(parents=True, exist_ok=True)
        (self.root / "extended_states").touch()
        self.sources.write_text(
            f"Types: deb\nURIs: {MIRROR}\nSuites: bookworm bookworm-updates\n"
            f"Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
            f"Types: deb\nURIs: {SECURITY}\nSuites: bookworm-security\n"
            f"Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")
        stamp = self.root / "updated"
        if stamp.exists() and time.time() - stamp.stat().st_mtime < LISTS_MAX_AGE:
            return
        empty = self.root / "empty-status"
        empty.touch()
        r = subprocess.run(["apt-get", "update", "-q", *self.options(empty)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"apt-get update (private lists) failed:\n{r.stdout}{r.stderr}")
        stamp.touch()


def kit_dependencies(packages_file: Path, wanted: Iterable[str]) -> Set[str]:
    """Names in Depends/Pre-Depends of the wanted kit packages that are not ours."""
    text = (gzip.open(packages_file, "rt") if packages_file.suffix == ".gz"
            else open(packages_file)).read()
    wanted = set(wanted)
    names: Set[str] = set()
    for stanza in text.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.M))
        if fields.get("Package") not in wanted:
            continue
        for key in ("Pre-Depends", "Depends"):
            for dep in fields.get(key, "").split(","):
                name = dep.split("|")[0].strip().split(" ")[0].split(":")[0]
                if name and not name.startswith("alacrityvm"):
                    names.add(name)
    return names


def missing_on_vm(apt: PrivateApt, vm_status: Path, names: Iterable[str]) -> List[str]:
    """pkg=version for everything apt would install on the VM for names."""
    r = subprocess.run(["apt-get", "-s", "-q", "--no-install-recommends",
                        *apt.options(vm_status), "install", *sorted(names)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"apt-get -s install failed:\n{r.stdout}{r.stderr}")
    return [f"{m.group(1)}={m.group(2)}"
            for m in re.finditer(r"^Inst (\S+) (?:\[\S+\] )?\((\S+) ", r.stdout, re.M)]


def build_repo(apt: PrivateApt, vm_status: Path, pins: List[str], repo: Path) -> None:
    """Download pins (pkg=version) into the cache, copy them into repo, index it."""
    cache = apt.archives
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    for pin in pins:
        name, version = pin.split("=", 1)
        quoted = version.replace(":", "%3a")
        hits = list(cache.glob(f"{name}_{quoted}_*.deb"))
        if not hits:
            r = subprocess.run(["apt-get", "download", "-q", *apt.options(vm_status), pin],
                               cwd=cache, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"apt-get download {pin} failed:\n{r.stdout}{r.stderr}")
            hits = list(cache.glob(f"{name}_{quoted}_*.deb"))
        if not hits:
            raise RuntimeError(f"apt-get download {pin} left no .deb in {cache}")
        shutil.copy2(hits[0], repo / hits[0].name)
    packages = subprocess.run(["apt-ftparchive", "packages", "."], cwd=repo, check=True,
                              capture_output=True, text=True).stdout
    (repo / "Packages").write_text(packages)
