"""README.md's "Run a VM" names only what exists.

Every avmctl command of its shell block (and of `$(avmctl ...)` inside the
QEMU line) is run against a fake control socket: avmctl must accept it
(exit 0), send one request, and pass every option's value on as the
parameter of the same name; the options of the avmctl commands in its
prose must be in that command's --help.  The unit it starts and reloads, the
configuration file the daemon reads by default, the default instance
socket, the configuration tables it names (avmctl --fields), the image
files and fw_cfg key name, and every document it links are checked against
their sources.  Runs in about 1 s.
"""

import json
import re
import shlex
import subprocess

import pytest

from lib import env
from lib.avmctl import avmctl, avmctl_binary
from lib.fake_control import FakeControl

README = env.TOP / "README.md"


def section():
    text = README.read_text()
    m = re.search(r"^## Run a VM\n(.*?)(?=^## )", text, re.M | re.S)
    assert m, "README.md has no '## Run a VM' section"
    return m.group(1)


def commands():
    """The shell block's commands: continuation lines joined, comments cut."""
    block = re.search(r"```sh\n(.*?)```", section(), re.S)
    assert block, "no sh block in 'Run a VM'"
    joined = block.group(1).replace("\\\n", " ")
    return [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()
            if line.strip()]


def avmctl_calls():
    calls = []
    for cmd in commands():
        if cmd.startswith("avmctl "):
            calls.append(cmd)
        calls += re.findall(r"\$\((avmctl [^)]*)\)", cmd)
    return [shlex.split(c)[1:] for c in calls]


class AnyMethod(dict):
    """Answers every method with an empty result."""

    def get(self, key, default=None):
        return {}


def test_the_block_is_the_documented_procedure():
    words = [c.split()[0] for c in commands()]
    assert words[:2] == ["apt", "systemctl"], words
    assert "qemu-system-x86_64" in words
    assert {" ".join(c[:2]) for c in avmctl_calls()} >= {
        "instance create", "device create", "qemu-args vm1"}


@pytest.mark.parametrize("args", avmctl_calls(), ids=" ".join)
def test_avmctl_command_is_accepted(args, short_tmp):
    with FakeControl(short_tmp / "control.sock") as fake:
        fake.handlers = AnyMethod()
        r = avmctl(fake.path, "--json", *args)
        assert r.returncode == 0, f"avmctl {' '.join(args)}: {r.returncode}\n{r.stderr}"
        assert len(fake.requests) == 1, fake.requests
        params = fake.requests[0].get("params", {})
    # every --option VALUE of the README reaches the daemon as option=VALUE
    for opt, value in re.findall(r"--([a-z-]+) (\S+)", " ".join(args)):
        assert params.get(opt.replace("-", "_")) == value, (opt, params)


def test_avmctl_commands_in_the_text_exist():
    """`avmctl ...` in the prose: the command and each --option it names."""
    binary = str(avmctl_binary())
    spans = re.findall(r"`(avmctl [^`]+)`", section().replace("\n", " "))
    assert spans
    for span in spans:
        words = span.split()[1:]
        path = []
        for w in words:
            if w.startswith("-") or w.isupper():
                break
            sub = subprocess.run([binary, *path, w, "--help"], capture_output=True, text=True)
            if sub.returncode != 0:
                break
            path.append(w)
        help_text = subprocess.run([binary, *path, "--help"], capture_output=True,
                                   text=True, check=True).stdout
        for opt in re.findall(r"(?<!\w)--[a-z][a-z-]*", span):
            if re.search(rf"(?<![\w-]){opt}\b", help_text):
                continue
            # a flag --help does not list (--fields): avmctl must not call it
            # a usage error (exit 2)
            r = subprocess.run([binary, "--socket", "/nonexistent", *path, opt],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode != 2, f"{span}: no {opt}: {r.stderr}"


def test_service_names_and_paths():
    text = section()
    unit = env.TOP / "userspace/daemon/systemd/alacrityvmd.service"
    assert "systemctl enable --now alacrityvmd" in text
    assert "alacrityvmd.service" in text and unit.is_file()
    if "systemctl reload alacrityvmd" in text:
        assert re.search(r"^ExecReload=", unit.read_text(), re.M)
    # the file the daemon reads when given no --config
    help_text = subprocess.run([str(env.daemon_binary()), "--help"], capture_output=True,
                               text=True, check=True).stdout
    for path in re.findall(r"/etc/alacrityvm/[\w.]+", text):
        assert f"default {path}" in help_text, path
    # the instance socket avmctl instance create defaults to
    create = subprocess.run([str(avmctl_binary()), "instance", "create", "--help"],
                            capture_output=True, text=True, check=True).stdout
    for path in re.findall(r"/run/alacrityvm/(\w+)\.sock", text):
        assert "default /run/alacrityvm/NAME.sock" in create
        assert f"avmctl instance create {path}" in text


def test_config_tables_exist():
    fields = json.loads(subprocess.run([str(avmctl_binary()), "--fields"], capture_output=True,
                                       text=True, check=True).stdout)
    named = re.findall(r"\[\[(\w+)\]\]", section())
    assert named, "no [[table]] named"
    for table in named:
        assert table in fields, f"[[{table}]]: not a table of avmctl --fields"


def test_image_files_and_key_name():
    text = " ".join(commands())
    mkimage = (env.TOP / "images/mkimage.sh").read_text()
    for name in set(re.findall(r"dist/images/debian-12/([\w.]+)", text)):
        assert re.search(rf'\$out\.tmp/{re.escape(name)}\b', mkimage), name
    keys = (env.TOP / "images/rootfs/common/usr/local/lib/alacrityvm-image/authorized-keys")
    for name in re.findall(r"-fw_cfg name=([\w/]+)", text):
        assert f"/by_name/{name}/raw" in keys.read_text(), name


def test_linked_docs_exist():
    links = re.findall(r"\]\(([^)#]+)\)", section())
    assert links
    missing = [link for link in links if not (env.TOP / link).is_file()]
    assert not missing, missing
