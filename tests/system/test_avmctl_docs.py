"""avmctl's and alacrityvmd's man pages and avmctl's bash completion.

The pages (docs/man, scdoc -> roff by CMake) pass mandoc's lint at the
error level and groff's warnings, have a NAME line for whatis, and name
every option alacrityvmd --help and every command avmctl --help lists;
cmake --install puts them and the completion where man and bash look.
The completion (written by `avmctl completion bash` at build time) is run
in bash: commands, options, and instance and device names asked from a
(fake) daemon.  Runs in about 4 s.
"""

import json
import os
import re
import subprocess

import pytest

from lib import env
from lib.avmctl import avmctl_binary, cmake_build
from lib.fake_control import FakeControl

PAGES = ["alacrityvmd.8", "avmctl.8", "alacrityvmd.conf.5"]


def completion():
    """The completion script the build wrote (avmctl completion bash)."""
    p = cmake_build() / "userspace" / "avmctl" / "avmctl.bash-completion"
    assert p.exists(), f"{p} not built"
    return p


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


def daemon_help():
    """{option: (value name, help entry)} of alacrityvmd --help (the flag
    table of userspace/daemon/options.cc)."""
    out = subprocess.run([str(env.daemon_binary()), "--help"], capture_output=True,
                         text=True, check=True).stdout
    entries = {}
    for entry in re.split(r"\n(?=\s+-)", out):
        m = re.match(r"\s+(?:-\w,)?(--[a-z-]+)(?: ([A-Z]+))?\s+(.*)", entry, re.S)
        if m:
            entries[m.group(1)] = (m.group(2) or "", " ".join(m.group(3).split()))
    assert "--vectors" in entries and "--socket" in entries, out
    return entries


def daemon_page_entries():
    """{option: (value name, entry text)} of alacrityvmd(8)'s OPTIONS."""
    src = (env.TOP / "docs" / "man" / "alacrityvmd.8.scd").read_text()
    options = src.split("# OPTIONS")[1].split("\n# ")[0]
    out = {}
    for m in re.finditer(r"^(\S.*)\n((?:\t.*\n)+)", options, re.M):
        head, body = m.group(1), " ".join(m.group(2).split())
        value = re.search(r"_([A-Z]+)_\s*$", head)
        for opt in re.findall(r"\*(--[a-z-]+)\*", head):
            out[opt] = (value.group(1) if value else "", body)
    return out


def test_alacrityvmd_help_and_page_agree():
    """Every option of --help is an entry of alacrityvmd(8) with the same
    value name, range and default, and every entry is an option --help
    lists (--help comes from the flag table: this is the table against
    the page)."""
    helps = daemon_help()
    entries = daemon_page_entries()
    assert set(helps) == set(entries), (sorted(set(helps) - set(entries)),
                                        sorted(set(entries) - set(helps)))
    for opt, (value, text) in helps.items():
        page_value, body = entries[opt]
        assert page_value == value, f"{opt}: --help {value}, alacrityvmd.8 {page_value}"
        rng = re.search(r"\((\d+)\.\.(\d+)", text)
        if rng:
            assert f"{rng.group(1)} to {rng.group(2)}" in body, f"{opt}: no range in {body}"
        default = re.search(r"default ([^\s,)]+)\)", text)
        if default:
            plain = re.sub(r"(?<![\w/])_|_(?![\w/])", "", body)  # no _emphasis_
            m = re.search(r"Default: ([^\s,;]+?)\.?(?:[\s,;]|$)", plain)
            assert m, f"alacrityvmd.8 {opt}: no Default:"
            got = m.group(1)
            if value == "SIZE":
                assert size_bytes(got) == size_bytes(default.group(1)), (opt, got)
            else:
                assert got == default.group(1), f"{opt}: --help {default.group(1)}, page {got}"


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
    assert comp.read_text() == completion().read_text()
    assert (tmp_path / "bin" / "avmctl").is_file()


def complete(words, socket=None):
    """COMPREPLY of _avmctl for the command line @words (the last is the
    word being completed), with avmctl from the build on PATH."""
    line = ["avmctl"] + (["--socket", str(socket)] if socket else []) + words
    script = f"""
source {completion()}
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


def test_completion_is_what_avmctl_prints():
    """The installed script is avmctl's own account of its commands, and
    shellcheck-clean (it is written by a program, not checked by make
    lint)."""
    out = subprocess.run([str(avmctl_binary()), "completion", "bash"], capture_output=True,
                         text=True, check=True).stdout
    assert out == completion().read_text()
    assert out.rstrip().endswith("complete -F _avmctl avmctl")
    r = subprocess.run(["shellcheck", "-s", "bash", "-"], input=out, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_completion(short_tmp):
    assert complete([""]) == sorted(["ping", "version", "instance", "device", "link", "stats",
                                     "qemu-args", "libvirt-xml", "reload", "completion"])
    assert complete(["completion", ""]) == ["bash"]
    assert complete(["--timeout", "5", "ins"]) == ["instance"]
    assert complete(["in"]) == ["instance"]
    assert complete(["instance", ""]) == ["create", "delete", "list", "show"]
    assert complete(["device", "create", "x", "--b"]) == [
        "--backend", "--bridge", "--buf-size", "--busy-poll-max-us"]
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
        assert complete(["device", "list", "-i", ""], s) == ["vm1", "vm2"]
        assert complete(["device", "list", "-i", "vm1", "--n"], s) == ["--names"]
    # No daemon: no names, no noise.
    assert complete(["qemu-args", ""], short_tmp / "none.sock") == []


# The field tables (userspace/daemon/spec_fields.h) against the docs and
# the --help texts: every field, its default and its range.

def fields():
    out = subprocess.run([str(avmctl_binary()), "--fields"], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def size_bytes(text):
    m = re.fullmatch(r"(\d+)([KMGT]?)(?:i?B)?", text, re.I)
    assert m, text
    return int(m.group(1)) << (10 * " KMGT".index(m.group(2).upper() or " "))


def conf_entries():
    """{section: {key: entry text}} of alacrityvmd.conf(5)'s source."""
    src = (env.TOP / "docs" / "man" / "alacrityvmd.conf.5.scd").read_text()
    out = {}
    for part in re.split(r"^# ", src, flags=re.M)[1:]:
        head, _, body = part.partition("\n")
        section = head.strip("[] ")
        entries = re.split(r"^\*([a-z_]+)\* = ", body, flags=re.M)
        out[section] = {entries[i]: entries[i + 1] for i in range(1, len(entries) - 1, 2)}
    return out


def documented_default(entry):
    entry = " ".join(entry.split())
    m = re.search(r"Default: (\"[^\"]*\"|[^\s,;]+?)\.?(?:\s|$)", entry)
    return m and m.group(1).strip('"')


def test_config_page_has_every_field_with_its_default_and_range():
    docs = conf_entries()
    for section, table in fields().items():
        for f in table:
            entry = docs.get(section, {}).get(f["name"])
            assert entry is not None, f"alacrityvmd.conf(5) [{section}] lacks {f['name']}"
            if f["default"] not in ("", "0") or f["type"] == "integer":
                got = documented_default(entry)
                assert got is not None, f"[{section}] {f['name']}: no Default:"
                if f["type"] == "size":
                    assert size_bytes(got) == int(f["default"]), (section, f["name"], got)
                elif f["default"] != "":
                    assert got == f["default"], (section, f["name"], got, f["default"])
            if f["type"] == "integer":
                rng = f"{f['min']} to {f['max']}"
                assert rng in " ".join(entry.split()), f"[{section}] {f['name']}: no '{rng}'"
            for choice in f["choices"].split():
                assert f'"{choice}"' in entry, f"[{section}] {f['name']}: no \"{choice}\""


def flag(name):
    return "--socket-path" if name == "socket" else "--" + name.replace("_", "-")


def test_avmctl_help_and_page_have_every_create_field():
    text = " ".join(rendered("avmctl.8").split())
    for obj in ("instance", "device"):
        h = subprocess.run([str(avmctl_binary()), obj, "create", "--help"], capture_output=True,
                           text=True, check=True).stdout
        lines = {}  # option: its help entry, continuation lines joined
        for entry in re.split(r"\n(?=\s+-)", h):
            m = re.match(r"\s+(?:-\w,)?(--[a-z-]+)", entry)
            if m:
                lines[m.group(1)] = " ".join(entry.split())
        for f in fields()[obj]:
            if f["name"] == "name":
                continue
            opt = flag(f["name"])
            assert opt in lines, f"avmctl {obj} create --help lacks {opt}"
            assert opt in text, f"avmctl.8 lacks {obj} create {opt}"
            if f["default"]:
                assert f"default {f['default']}" in lines[opt], lines[opt]
            if f["type"] == "integer":
                assert f"{f['min']}..{f['max']}" in lines[opt], lines[opt]


def test_alacrityvmd_venet_keys_and_defaults_agree():
    """--venet's keys in --help and alacrityvmd(8) are the device table's
    legacy keys (rx_coalesce_us was missing from --help), and every
    default --help shows is the man page's (--vectors said 1, is 4)."""
    out = subprocess.run([str(env.daemon_binary()), "--help"], capture_output=True,
                         text=True).stdout
    help_text = " ".join(out.split())
    page = " ".join(rendered("alacrityvmd.8").split())
    for f in fields()["device"]:
        if f["legacy_key"]:
            key = f["legacy_key"] + "="
            assert key in help_text, f"alacrityvmd --help: --venet lacks {key}"
            assert key in page, f"alacrityvmd.8: --venet lacks {key}"
    assert "(1..256, default 4)" in daemon_help()["--vectors"][1]


def test_completion_offers_every_option():
    """Every option --help lists, for every command, is offered; and every
    field of the create commands with its choices, or nothing after an
    option that takes a value."""
    binary = str(avmctl_binary())
    top = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    commands = re.findall(r"^  ([a-z][a-z-]+) ", top.split("Subcommands:")[1], re.M)
    paths = [[]]
    for cmd in commands:
        h = subprocess.run([binary, cmd, "--help"], capture_output=True, text=True).stdout
        subs = re.findall(r"^  ([a-z][a-z-]+) ", h.split("Subcommands:")[1], re.M) \
            if "Subcommands:" in h else []
        paths += [[cmd, s] for s in subs] or [[cmd]]
    for words in paths:
        h = subprocess.run([binary, *words, "--help"], capture_output=True, text=True).stdout
        wanted = set(re.findall(r"^\s+(?:-\w,\s*)?(--[a-z][a-z-]+)", h, re.M))
        assert "--help" in wanted, (words, h)
        offered = set(complete(words + ["--"]))
        assert wanted <= offered, (words, sorted(wanted - offered))
    for obj in ("instance", "device"):
        offered = complete([obj, "create", "x", "--"])
        for f in fields()[obj]:
            if f["name"] == "name":
                continue
            opt = flag(f["name"])
            assert opt in offered, f"completion of {obj} create lacks {opt}"
            if f["choices"]:
                assert complete([obj, "create", "x", opt, ""]) == sorted(f["choices"].split())
            else:
                # a value follows: no option or command offered for it
                assert complete([obj, "create", "x", opt, "--"]) == [], opt
