"""The RPMs are built on Debian for Fedora and EL 9 or later: a binary RPM
may require only what every supported release provides (glibc with no
symbol version newer than EL 9's GLIBC_2.34, libgcc_s, libsystemd, /bin/sh,
dkms, make, dracut, kernel-devel, its own subpackages), never a Debian
soname such as libspdlog.so.1.10 or libfmt.so.9; and its ELF binaries need
no other library and no newer symbol version (the spec builds the userspace
with AVM_PORTABLE: spdlog, fmt and toml++ header-only, libstdc++ static)."""

import re

from conftest import run

GLIBC_MAX = (2, 34)  # EL 9
SYSTEMD_MAX = 252  # EL 9's systemd; LIBSYSTEMD_<version> symbol versions
# library -> its symbol versions must pass this check
LIBRARIES = {
    "libc.so.6": "GLIBC",
    "libm.so.6": "GLIBC",
    "ld-linux-x86-64.so.2": "GLIBC",
    "libgcc_s.so.1": "GCC",
    "libsystemd.so.0": "LIBSYSTEMD",
}
# cockpit-bridge: Fedora and EL 9 ship it (the cockpit source package)
PLAIN = {"/bin/sh", "/bin/bash", "/usr/bin/bash", "dkms", "make", "dracut", "kernel-devel",
         "shadow-utils", "rtld(GNU_HASH)", "cockpit-bridge"}


def version_ok(lib, version):
    """Whether symbol version `version` of library `lib` exists on EL 9."""
    kind = LIBRARIES.get(lib)
    if kind == "GLIBC":
        m = re.fullmatch(r"GLIBC_(\d+)\.(\d+)(?:\.\d+)?", version)
        return bool(m) and (int(m[1]), int(m[2])) <= GLIBC_MAX
    if kind == "GCC":
        return re.fullmatch(r"GCC_\d+(\.\d+)*", version) is not None
    if kind == "LIBSYSTEMD":
        m = re.fullmatch(r"LIBSYSTEMD_(\d+)", version)
        return bool(m) and int(m[1]) <= SYSTEMD_MAX
    return False


def requirement_ok(req, own):
    """Whether one line of `rpm -qp --requires` is on the allowlist; `own`:
    the names of the packages built from the spec."""
    name = req.split()[0]
    if name in PLAIN or name.startswith("rpmlib(") or name in own:
        return True
    if re.fullmatch(r"config\(([^)]+)\)", name) and name[7:-1] in own:
        return True
    m = re.fullmatch(r"([^()]+)\(([^()]*)\)\(64bit\)", name)
    if m and m[1] in LIBRARIES:
        return m[2] == "" or version_ok(m[1], m[2])
    return False


def binary_rpms(rpms):
    found = [r for r in rpms if not r.name.endswith(".src.rpm")]
    assert any(r.name.endswith(".x86_64.rpm") for r in found), found
    return found


def test_rpm_requires_allowlist(rpms):
    found = binary_rpms(rpms)
    own = {run(["rpm", "-qp", "--nosignature", "--qf", "%{NAME}", r]).stdout for r in found}
    bad = {}
    for rpm in found:
        reqs = run(["rpm", "-qp", "--nosignature", "--requires", rpm]).stdout.splitlines()
        print(rpm.name, reqs)
        bad.update({f"{rpm.name}: {r}": 1 for r in reqs if not requirement_ok(r, own)})
    assert not bad, "requirements no supported Fedora/EL release provides: " + ", ".join(bad)


def needed_versions(elf):
    """(NEEDED libraries, {(library, symbol version)}) of an ELF file, from
    its dynamic section and its version needs (.gnu.version_r: every symbol
    version the binary binds to, as objdump -T lists them per symbol)."""
    dyn = run(["readelf", "-W", "-d", elf]).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", dyn))
    versions, lib = set(), None
    for line in run(["readelf", "-W", "-V", elf]).stdout.splitlines():
        m = re.search(r"File: (\S+)\s+Cnt:", line)
        if m:
            lib = m[1]
            continue
        m = re.search(r"Name: (\S+)\s+Flags:", line)
        if m and lib:
            versions.add((lib, m[1]))
    return needed, versions


def test_rpm_binaries_portable(rpms, scratch):
    """Every ELF file in the binary RPMs links only the allowed libraries,
    binds no symbol version newer than EL 9 has, and nothing of libstdc++
    (GLIBCXX_, CXXABI_: linked statically, so no libstdc++ is required)."""
    elves = []
    for rpm in binary_rpms(rpms):
        dest = scratch / rpm.name
        dest.mkdir()
        run(["sh", "-c", f"rpm2cpio '{rpm}' | cpio -idm --quiet"], cwd=dest)
        elves += [p for p in dest.rglob("*")
                  if p.is_file() and not p.is_symlink() and p.read_bytes()[:4] == b"\x7fELF"]
    names = sorted(p.name for p in elves)
    print(names)
    assert "alacrityvmd" in names and "avmctl" in names, names
    bad = []
    for elf in elves:
        needed, versions = needed_versions(elf)
        assert versions, f"{elf.name}: no version needs read"
        bad += [f"{elf.name}: NEEDED {lib}" for lib in sorted(needed - LIBRARIES.keys())]
        bad += [f"{elf.name}: {lib} {ver}" for lib, ver in sorted(versions)
                if not version_ok(lib, ver)]
    assert not bad, "not on every supported Fedora/EL release: " + ", ".join(bad)
