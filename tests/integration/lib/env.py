"""Where things are: source tree, build tree, the kit's dist/ and the host image.

The Makefile exports AVM_TOP and AVM_BUILD; both default to this checkout.
"""

import os
from pathlib import Path

TOP = Path(os.environ.get("AVM_TOP", Path(__file__).resolve().parents[3]))
BUILD = Path(os.environ.get("AVM_BUILD", TOP / "build"))
DIST = Path(os.environ.get("AVM_DIST", TOP / "dist"))
ANSIBLE_DIR = TOP / "ansible"
WORK = BUILD / "integration"            # caches (Debian dependencies)
LOG_DIR = WORK / "logs"                 # console, playbook output
HOST_IMAGE = Path(os.environ.get("AVM_HOST_IMAGE", DIST / "images" / "debian-12-host"))
REPO = DIST / "repo"
KEYS = DIST / "keys"
PYTHON = "/usr/bin/python3"


def kit_version() -> str:
    return (TOP / "VERSION").read_text().strip()
