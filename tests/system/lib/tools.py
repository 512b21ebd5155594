"""Guest-side helper programs: tests/system/guest/*.c, built static.

    tools = build_guest_tools()      # {"ivshmem_probe": Path(...), ...}

Each program is compiled with `gcc -static` against the vbus ABI headers
into $AVM_BUILD/system/guest/ and rebuilt only when its source (or a
header) is newer than the binary.
"""

import subprocess
from pathlib import Path
from typing import Dict, Optional

from . import env

GUEST_SRC = env.TOP / "tests" / "system" / "guest"
CFLAGS = ["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-std=gnu11"]


def _newest_input(src: Path) -> float:
    inputs = [src] + list(env.UAPI_DIR.glob("linux/*.h"))
    return max(p.stat().st_mtime for p in inputs)


def build_guest_tools(out_dir: Optional[Path] = None) -> Dict[str, Path]:
    out_dir = Path(out_dir or env.SYSTEM_DIR / "guest")
    out_dir.mkdir(parents=True, exist_ok=True)
    tools = {}
    for src in sorted(GUEST_SRC.glob("*.c")):
        binary = out_dir / src.stem
        if not binary.exists() or binary.stat().st_mtime < _newest_input(src):
            tmp = binary.with_suffix(".tmp")
            subprocess.run(["gcc", *CFLAGS, "-I", str(env.UAPI_DIR), "-o", str(tmp),
                            str(src)], check=True)
            tmp.replace(binary)
        tools[src.stem] = binary
    return tools
