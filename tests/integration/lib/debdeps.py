"""Debian packages the offline test VM lacks, as a small local apt repository.

The host image has no network in the test, and none of the Debian libraries
our packages depend on.  This module asks the controller's apt what
installing those dependencies would take *on the VM* (a simulation against
the VM's own dpkg status file), downloads exactly those .debs from the
controller's Debian mirror into a cache, and indexes them as a flat
repository that prepare.yml copies into the VM.  It only serves Debian's own
packages (which the controller's apt verified); the kit's packages come from
the kit's signed repository through the alacrityvm_repo role.
"""

import gzip
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterable, List, Set



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


def missing_on_vm(vm_status: Path, names: Iterable[str], work: Path) -> List[str]:
    """pkg=version for everything apt would install on the VM for names."""
    ext = work / "extended_states"
    ext.write_text("")
    r = subprocess.run(["apt-get", "-s", "-q", "--no-install-recommends",
                        "-o", f"Dir::State::status={vm_status}",
                        "-o", f"Dir::State::extended_states={ext}",
                        "install", *sorted(names)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"apt-get -s install failed:\n{r.stdout}{r.stderr}")
    return [f"{m.group(1)}={m.group(2)}"
            for m in re.finditer(r"^Inst (\S+) (?:\[\S+\] )?\((\S+) ", r.stdout, re.M)]


def build_repo(pins: List[str], repo: Path, cache: Path) -> None:
    """Download pins (pkg=version) into cache, copy them into repo, index it."""
    cache.mkdir(parents=True, exist_ok=True)
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    for pin in pins:
        name, version = pin.split("=", 1)
        quoted = version.replace(":", "%3a")
        hits = list(cache.glob(f"{name}_{quoted}_*.deb"))
        if not hits:
            subprocess.run(["apt-get", "download", "-q", pin], cwd=cache, check=True,
                           capture_output=True, text=True)
            hits = list(cache.glob(f"{name}_{quoted}_*.deb"))
        if not hits:
            raise RuntimeError(f"apt-get download {pin} left no .deb in {cache}")
        shutil.copy2(hits[0], repo / hits[0].name)
    packages = subprocess.run(["apt-ftparchive", "packages", "."], cwd=repo, check=True,
                              capture_output=True, text=True).stdout
    (repo / "Packages").write_text(packages)
