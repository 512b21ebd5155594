"""Busybox initramfs images for test guests.

    spec = InitramfsSpec(
        programs=[tools["ivshmem_probe"]],          # static binaries -> /bin
        dynamic_programs=["/usr/bin/iperf3"],        # + their libraries (ldd)
        files={"/etc/avm/hello": b"hi\\n",          # bytes or a host Path
               **usr_bin_files([build / "avmctl"])}, # /usr/bin/avmctl + libs
        modules=["tun"],                             # /lib/modules/KVER, deps
        extra_modules=[build / "vbus_pci.ko"],       # .ko files of our own
        load_modules=["vbus_pci"],                   # modprobe'd at boot
        payload="#!/bin/sh\\n...",                   # /avm/payload (avm.run=)
    )
    image = build_initramfs(spec)                    # cached by content

Images are cached under $AVM_BUILD/system/initramfs/, keyed by a hash of
everything that goes into them, so an unchanged spec costs nothing.
"""

import dataclasses
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

from . import env

BUSYBOX = Path("/bin/busybox")
INIT_SCRIPT = Path(__file__).with_name("init.sh")


@dataclasses.dataclass
class InitramfsSpec:
    # statically linked programs, copied to /bin under their own name
    programs: Sequence[Union[str, Path]] = ()
    # dynamically linked programs, copied to their own path with the
    # libraries ldd lists for them
    dynamic_programs: Sequence[Union[str, Path]] = ()
    # guest path -> contents (bytes or str) or a host file to copy
    files: Dict[str, Union[bytes, str, Path]] = dataclasses.field(default_factory=dict)
    # modules of the installed kernel, by name; dependencies are added
    modules: Sequence[str] = ()
    # our own .ko files, installed under /lib/modules/KVER/extra/
    extra_modules: Sequence[Union[str, Path]] = ()
    # module names init loads at boot, in this order (default: modules
    # and extra_modules, in the order given)
    load_modules: Optional[Sequence[str]] = None
    # shell script installed as /avm/payload; boot with avm.run=/avm/payload
    payload: Optional[str] = None
    # kernel release the modules come from (default: Debian's current one)
    kernel_version: Optional[str] = None


def _norm(name: str) -> str:
    return name.replace("-", "_")


def _module_name(path: str) -> str:
    base = os.path.basename(path)
    return _norm(re.sub(r"\.ko(\.(xz|zst|gz))?$", "", base))


class ModuleIndex:
    """modules.dep of one kernel: module name -> path and dependencies."""

    def __init__(self, moddir: Path):
        self.moddir = moddir
        self.paths: Dict[str, str] = {}
        self.deps: Dict[str, List[str]] = {}
        with open(moddir / "modules.dep") as f:
            for line in f:
                if ":" not in line:
                    continue
                mod, rest = line.split(":", 1)
                name = _module_name(mod)
                self.paths[name] = mod
                self.deps[name] = [_module_name(d) for d in rest.split()]
        self.builtin = set()
        builtin = moddir / "modules.builtin"
        if builtin.exists():
            self.builtin = {_module_name(x) for x in builtin.read_text().split()}

    def add(self, name: str, rel: str, deps: Sequence[str]) -> None:
        """Adds a module of our own (rel: its path under the modules dir)."""
        self.paths[_norm(name)] = rel
        self.deps[_norm(name)] = [_norm(d) for d in deps]

    def closure(self, names: Sequence[str]) -> List[str]:
        """names and everything they depend on, dependencies first."""
        out: List[str] = []
        seen = set()

        def visit(name: str) -> None:
            name = _norm(name)
            if name in seen:
                return
            seen.add(name)
            if name in self.builtin and name not in self.paths:
                return
            if name not in self.paths:
                raise KeyError(f"module {name} not found in {self.moddir}/modules.dep")
            for dep in self.deps[name]:
                visit(dep)
            out.append(name)

        for n in names:
            visit(n)
        return out


def _ko_depends(path: Path) -> List[str]:
    out = subprocess.run(["modinfo", "-F", "depends", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return [_norm(d) for d in out.strip().split(",") if d]


def ldd_libraries(program: Path) -> List[Path]:
    """Shared libraries (and the loader) a dynamic program needs."""
    out = subprocess.run(["ldd", str(program)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"ldd {program}: {out.stderr.strip() or out.stdout.strip()}")
    libs = []
    for line in out.stdout.splitlines():
        m = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if m:
            libs.append(Path(m.group(1)))
    return libs


def usr_bin_files(programs: Sequence[Union[str, Path]]) -> Dict[str, Path]:
    """InitramfsSpec.files that install each dynamic program as
    /usr/bin/<name>, with the libraries ldd lists (at their own paths).

    Unlike dynamic_programs this does not keep the build path, which a
    guest does not see when the build lives under /tmp (init mounts a
    tmpfs there)."""
    files: Dict[str, Path] = {}
    for prog in map(Path, programs):
        files[f"/usr/bin/{prog.name}"] = prog
        for lib in ldd_libraries(prog):
            if str(lib).startswith("/tmp/"):
                raise RuntimeError(f"{prog} needs {lib}, which /tmp would hide")
            files[str(lib)] = lib.resolve()
    return files


def _hash_file(h, path: Path) -> None:
    h.update(str(path).encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)


class _Stage:
    """A directory tree that becomes the image."""

    def __init__(self, root: Path):
        self.root = root

    def path(self, guest_path: str) -> Path:
        p = self.root / guest_path.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def copy(self, src: Path, guest_path: str, mode: Optional[int] = None) -> None:
        dst = self.path(guest_path)
        shutil.copyfile(src, dst)
        shutil.copymode(src, dst)
        if mode is not None:
            os.chmod(dst, mode)

    def write(self, guest_path: str, data: Union[bytes, str], mode: int = 0o644) -> None:
        dst = self.path(guest_path)
        dst.write_bytes(data.encode() if isinstance(data, str) else data)
        os.chmod(dst, mode)


def _populate(spec: InitramfsSpec, stage: _Stage, kver: str) -> None:
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc/avm", "proc", "sys",
              "dev", "tmp", "run", "root", "lib", "avm"):
        (stage.root / d).mkdir(parents=True, exist_ok=True)
    stage.copy(BUSYBOX, "/bin/busybox", 0o755)
    os.symlink("busybox", stage.root / "bin" / "sh")
    stage.copy(INIT_SCRIPT, "/init", 0o755)
    try:  # the kernel opens /dev/console before /init runs
        os.mknod(stage.root / "dev" / "console", 0o600 | 0o020000, os.makedev(5, 1))
    except PermissionError:
        pass  # not root: init reopens /dev/console after mounting devtmpfs

    for prog in spec.programs:
        prog = Path(prog)
        stage.copy(prog, f"/bin/{prog.name}", 0o755)

    for prog in spec.dynamic_programs:
        prog = Path(prog)
        stage.copy(prog, str(prog), 0o755)
        for lib in ldd_libraries(prog):
            stage.copy(lib.resolve(), str(lib), 0o755)

    for guest_path, content in spec.files.items():
        if isinstance(content, Path):
            stage.copy(content, guest_path)
        else:
            stage.write(guest_path, content)

    load: List[str] = []
    if spec.modules or spec.extra_modules:
        index = ModuleIndex(Path("/lib/modules") / kver)
        # Our own modules join the index under extra/, with the
        # dependencies modinfo lists (in-tree ones or each other).
        sources: Dict[str, Path] = {}
        extra_names = []
        for ko in spec.extra_modules:
            ko = Path(ko)
            name = _module_name(ko.name)
            index.add(name, f"extra/{ko.name}", _ko_depends(ko))
            sources[name] = ko
            extra_names.append(name)
        names = index.closure(list(spec.modules) + extra_names)
        dep_lines = []
        for name in names:
            rel = index.paths[name]
            src = sources.get(name, index.moddir / rel)
            stage.copy(src, f"/lib/modules/{kver}/{rel}")
            # modules.dep lists every dependency, the ones to load last first
            deps = [index.paths[d] for d in index.closure(index.deps[name])
                    if d in index.paths]
            dep_lines.append(f"{rel}: " + " ".join(reversed(deps)))
        stage.write(f"/lib/modules/{kver}/modules.dep", "\n".join(dep_lines) + "\n")
        builtin = index.moddir / "modules.builtin"
        if builtin.exists():
            stage.copy(builtin, f"/lib/modules/{kver}/modules.builtin")
        load = [_norm(m) for m in spec.modules] + extra_names
    if spec.load_modules is not None:
        load = [_norm(m) for m in spec.load_modules]
    stage.write("/etc/avm/modules", "".join(f"{m}\n" for m in load))

    if spec.payload is not None:
        stage.write("/avm/payload", spec.payload, 0o755)


def _cache_key(spec: InitramfsSpec, kver: str) -> str:
    h = hashlib.sha256()
    h.update(repr((kver, spec.load_modules, spec.payload, list(spec.modules))).encode())
    for p in (BUSYBOX, INIT_SCRIPT, Path(__file__)):
        _hash_file(h, p)
    for p in list(spec.programs) + list(spec.dynamic_programs) + list(spec.extra_modules):
        _hash_file(h, Path(p))
    for p in spec.dynamic_programs:
        for lib in ldd_libraries(Path(p)):
            _hash_file(h, lib.resolve())
    for guest_path, content in sorted(spec.files.items()):
        h.update(guest_path.encode())
        if isinstance(content, Path):
            _hash_file(h, content)
        else:
            h.update(content.encode() if isinstance(content, str) else content)
    return h.hexdigest()[:16]


def build_initramfs(spec: InitramfsSpec = InitramfsSpec(),
                    cache_dir: Optional[Path] = None) -> Path:
    """Build (or reuse) a gzip'ed newc cpio image for spec; return its path."""
    kver = spec.kernel_version or env.kernel_version()
    cache_dir = Path(cache_dir or env.SYSTEM_DIR / "initramfs")
    cache_dir.mkdir(parents=True, exist_ok=True)
    image = cache_dir / f"initramfs-{_cache_key(spec, kver)}.cpio.gz"
    if image.exists():
        return image

    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".stage-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        _populate(spec, _Stage(root), kver)
        names = subprocess.run(["find", ".", "-mindepth", "1"], cwd=root, check=True,
                               capture_output=True).stdout
        cpio = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"],
                              cwd=root, input=names, check=True, capture_output=True).stdout
        partial = Path(tmp) / "image"
        with gzip.open(partial, "wb", compresslevel=1) as f:
            f.write(cpio)
        os.replace(partial, image)  # atomic: concurrent builders agree
    return image
