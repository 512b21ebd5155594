"""avmctl's and alacrityvmd's man pages and avmctl's bash completion.

The pages (docs/man, scdoc -> roff by CMake) pass mandoc's lint at the
error level and groff's warnings, have a NAME line for whatis, and name
every option alacrityvmd --help and every command avmctl --help lists;
cmake --install puts them and the completion where man and bash look.
The completion is run in bash: commands, options, and instance and device
names asked from a (fake) daemon.  Runs in about 3 s.
"""

import os
import re
import subprocess

import pytest

from lib import env
from lib.avmctl import avmctl_binary, cmake_build
from lib.fake_control import FakeControl

PAGES = ["alacrityvmd.8", "avmctl.8", "alacrityvmd.conf.5"]
COMPLETION = env.TOP / "userspace" / "avmctl" / "avmctl.bash-completion"


def page(name):
    p = cmake_build() / "docs" / "man" / name
    assert p.exists(), f"{p} not built"
    return p


@pytest.mark.parametrize("name", PAGES)
def test_man_page_lints_clean(name):
    p = page(name)
    r = subprocess.run(["mandoc", "-T", "lint", "-W", "error", str(p)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "", r.stdout + r.stderr
    r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", str(p)],
                       capture_output=True, text=True,
                       env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8"))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "SEE ALSO" in r.stdout
    r = subprocess.run(["lexgrog", str(p)], capture_output=True, text=True)
    assert r.returncode == 0 and f'"{name.rsplit(".", 1)[0]} - ' in r.stdout, r.stdout


def rendered(name):
    return subprocess.run(["man", "-E", "UTF-8", "-l", str(page(name))], capture_output=True,
                          text=True, check=True,
                          env=dict(os.environ, MANWIDTH="200", LC_ALL="C.UTF-8")).stdout


def test_alacrityvmd_page_has_every_option():
    daemon = env.daemon_binary()
    assert daemon.exists(), daemon
    out = subprocess.run([str(daemon), "--help"], capture_output=True, text=True).stdout
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", out))
    assert "--config" in options and "--socket" in options, out
    text = rendered("alacrityvmd.8")
    missing = sorted(o for o in options if o not in text)
    assert not missing, f"alacrityvmd.8 does not describe {missing}"


def test_avmctl_page_has_every_command():
    text = rendered("avmctl.8")
    binary = str(avmctl_binary())
    top = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    commands = re.findall(r"^  ([a-z][a-z-]+) ", top.split("Subcommands:")[1], re.M)
    assert {"ping", "instance", "device", "qemu-args"} <= set(commands), top
    for cmd in commands:
        sub = subprocess.run([binary, cmd, "--help"], capture_output=True, text=True).stdout
        subs = re.findall(r"^  ([a-z][a-z-]+) ", sub.split("Subcommands:")[1], re.M) \
            if "Subcommands:" in sub else []
        for s in subs or [""]:
            words = f"{cmd} {s}".strip()
            assert re.search(rf"^\s+{re.escape(words)}\b", text, re.M), \
                f"avmctl.8 has no entry for '{words}'"
            # ...and every option of that command.
            h = subprocess.run([binary, *words.split(), "--help"], capture_output=True,
                               text=True).stdout
            for opt in re.findall(r"(--[a-z][a-z-]+)", h):
                assert opt in text, f"avmctl.8 does not mention {words} {opt}"


def test_install_layout(tmp_path):
    subprocess.run(["cmake", "--install", str(cmake_build()), "--prefix", str(tmp_path)],
                   check=True, capture_output=True)
    for name in PAGES:
        assert (tmp_path / "share" / "man" / f"man{name[-1]}" / name).is_file()
    comp = tmp_path / "share" / "bash-completion" / "completions" / "avmctl"
    assert comp.read_text() == COMPLETION.read_text()
    assert (tmp_path / "bin" / "avmctl").is_file()


def complete(words, socket=None):
    """COMPREPLY of _avmctl for the command line @words (the last is the
    word being completed), with avmctl from the build on PATH."""
    line = ["avmctl"] + (["--socket", str(socket)] if socket else []) + words
    script = f"""
source {COMPLETION}
COMP_WORDS=({' '.join(_q(w) for w in line)})
COMP_CWORD={len(line) - 1}
_avmctl
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    path = f"{avmctl_binary().parent}:{os.environ['PATH']}"
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                       env=dict(os.environ, PATH=path), timeout=30)
    assert r.returncode == 0, r.stderr
    return sorted(w for w in r.stdout.split("\n") if w)


def _q(word):
    return "'" + word.replace("'", "'\\''") + "'"


def test_completion(short_tmp):
    assert complete([""]) == sorted(["ping", "version", "instance", "device", "link", "stats",
                                     "qemu-args", "libvirt-xml", "reload"])
    assert complete(["in"]) == ["instance"]
    assert complete(["instance", ""]) == ["create", "delete", "list", "show"]
    assert complete(["device", "create", "x", "--b"]) == ["--backend", "--bridge"]
    assert complete(["device", "create", "x", "--backend", ""]) == ["auto", "kernel", "user"]
    assert "--json" in complete(["--j"])
    handlers = {"instance.list": {"instances": [{"name": "vm1"}, {"name": "vm2"}]},
                "device.list": {"devices": [{"name": "vm1-net0"}]}}
    with FakeControl(short_tmp / "c.sock", handlers) as fake:
        s = fake.path
        assert complete(["qemu-args", "vm"], s) == ["vm1", "vm2"]
        assert complete(["instance", "show", ""], s) == ["vm1", "vm2"]
        assert complete(["link", ""], s) == ["vm1-net0"]
        assert complete(["link", "vm1-net0", ""], s) == ["down", "up"]
        assert complete(["device", "attach", "vm1-net0", ""], s) == ["vm1", "vm2"]
        assert complete(["device", "create", "n", "--instance", ""], s) == ["vm1", "vm2"]
        assert complete(["stats", "vm1", ""], s) == []
    # No daemon: no names, no noise.
    assert complete(["qemu-args", ""], short_tmp / "none.sock") == []
