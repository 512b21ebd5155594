"""avmctl against a fake control socket (lib/fake_control.py).

What the daemon says and how avmctl shows it: tables, --json, every exit
code of docs/control-api.md (0 ok, 1 daemon error, 2 usage, 3 unreachable
or no valid answer, 4 permission denied, the last as user nobody), and the
exact requests on the wire.  Runs in about 2 s.
"""

import json
import os
import shutil
import socket
import subprocess

import pytest

from lib.avmctl import avmctl, avmctl_binary
from lib.fake_control import FakeControl, RpcError

INSTANCE = {"name": "vm1", "origin": "api", "socket": "/run/alacrityvm/vm1.sock",
            "region_size": 4194304, "vectors": 4, "state": "ready",
            "guest": {"peer": 1, "pid": 4242}, "devices": ["vm1-net0"]}
DEVICE = {"name": "vm1-net0", "origin": "api", "type": "venet", "instance": "vm1",
          "tap": "avm-vm1-0", "bridge": None, "mac": "52:54:00:12:34:56", "mtu": 1500,
          "queues": 1, "backend": "user", "link": "up", "guest_open": True,
          "quarantined": False}


def not_found(kind, name):
    raise RpcError(-32000, f"{kind} '{name}' not found", {"kind": kind, "name": name})


def show_instance(params):
    if params.get("name") != "vm1":
        not_found("instance", params.get("name"))
    return dict(INSTANCE, stats={"bridge": {"doorbells": 17, "interrupts": 9}})


@pytest.fixture
def fake(short_tmp):
    handlers = {
        "ping": {"pong": True},
        "version": {"version": "0.1.0", "abi": "1.0"},
        "instance.list": {"instances": [INSTANCE]},
        "instance.show": show_instance,
        "device.list": {"devices": [DEVICE]},
        "device.create": lambda p: dict(DEVICE, **p),
        "device.set_link": lambda p: dict(DEVICE, link="up" if p["up"] else "down"),
        "stats": {"instances": {"vm1": {"bridge": {"doorbells": 17},
                                        "devices": {"vm1-net0": {"tx_packets": 5,
                                                                 "rx_packets": 6}}}}},
        "instance.qemu_args": {"args": ["-chardev",
                                        "socket,id=avm-vm1,path=/run/alacrityvm/vm1.sock",
                                        "-device", "ivshmem-doorbell,chardev=avm-vm1,vectors=4"]},
        "instance.libvirt_xml": {"xml": "<shmem name='avm-vm1'>\n</shmem>\n"},
        "instance.delete": lambda p: (_ for _ in ()).throw(
            RpcError(-32002, "instance 'vm1' has a guest connected; use force")),
    }
    with FakeControl(short_tmp / "control.sock", handlers) as f:
        yield f


def test_tables(fake):
    r = avmctl(fake.path, "instance", "list", check=True)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "GUEST", "REGION", "VECTORS", "DEVICES",
                                "ORIGIN", "SOCKET"]
    assert lines[1].split() == ["vm1", "ready", "peer", "1", "pid", "4242", "4M", "4",
                                "vm1-net0", "api", "/run/alacrityvm/vm1.sock"]
    r = avmctl(fake.path, "device", "list", check=True)
    assert r.stdout.splitlines()[1].split() == [
        "vm1-net0", "venet", "vm1", "up", "open", "avm-vm1-0", "-", "52:54:00:12:34:56",
        "1500", "user", "api"]
    r = avmctl(fake.path, "instance", "show", "vm1", check=True)
    assert "state:        ready\n" in r.stdout
    assert "stats:\n  bridge.doorbells   17\n  bridge.interrupts  9\n" in r.stdout
    r = avmctl(fake.path, "stats", check=True)
    assert r.stdout.splitlines() == [
        "INSTANCE  OBJECT    COUNTER     VALUE",
        "vm1       bridge    doorbells   17",
        "vm1       vm1-net0  rx_packets  6",
        "vm1       vm1-net0  tx_packets  5",
    ]
    assert avmctl(fake.path, "ping", check=True).stdout == "pong\n"
    r = avmctl(fake.path, "qemu-args", "vm1", check=True)
    assert r.stdout.split() == fake.handlers["instance.qemu_args"]["args"]
    r = avmctl(fake.path, "libvirt-xml", "vm1", check=True)
    assert r.stdout == "<shmem name='avm-vm1'>\n</shmem>\n"
    assert avmctl(fake.path, "instance", "list", "--names", check=True).stdout == "vm1\n"


def test_json_is_the_raw_result(fake):
    for args, method in [(["instance", "list"], "instance.list"), (["stats"], "stats"),
                         (["device", "list"], "device.list"), (["version"], "version")]:
        r = avmctl(fake.path, "--json", *args, check=True)
        assert json.loads(r.stdout) == fake.handlers[method], args
    r = avmctl(fake.path, "--json", "instance", "show", "vm1", check=True)
    assert json.loads(r.stdout)["stats"]["bridge"]["doorbells"] == 17


def test_requests_on_the_wire(fake):
    avmctl(fake.path, "device", "create", "n0", "--instance", "vm1", "--mtu", "9000",
           "--backend", "user", "--link", "down", check=True)
    avmctl(fake.path, "link", "n0", "up", check=True)
    reqs = fake.requests
    assert len(reqs) == 2
    assert {k: reqs[0][k] for k in ("jsonrpc", "method", "params")} == {
        "jsonrpc": "2.0", "method": "device.create",
        "params": {"name": "n0", "type": "venet", "instance": "vm1", "mtu": 9000,
                   "backend": "user", "link": "down"}}
    assert isinstance(reqs[0]["id"], int)
    assert reqs[1]["method"] == "device.set_link"
    assert reqs[1]["params"] == {"name": "n0", "up": True}


def test_daemon_errors_exit_1(fake):
    r = avmctl(fake.path, "instance", "show", "nope")
    assert r.returncode == 1
    assert r.stderr == "avmctl: -32000 instance 'nope' not found\n"
    assert r.stdout == ""
    r = avmctl(fake.path, "--json", "instance", "show", "nope")
    assert r.returncode == 1
    assert json.loads(r.stdout) == {"error": {"code": -32000,
                                              "message": "instance 'nope' not found",
                                              "data": {"kind": "instance", "name": "nope"}}}
    r = avmctl(fake.path, "instance", "delete", "vm1")
    assert (r.returncode, r.stderr) == (1, "avmctl: -32002 instance 'vm1' has a guest "
                                           "connected; use force\n")
    r = avmctl(fake.path, "reload")  # the fake has no daemon.reload
    assert (r.returncode, r.stderr) == (1, "avmctl: -32601 method 'daemon.reload' not found\n")


@pytest.mark.parametrize("args", [
    [], ["bogus"], ["instance"], ["device", "attach", "x"], ["link", "x", "maybe"],
    ["instance", "create", "vm1", "--vectors", "four"], ["--timeout", "-1", "ping"],
    ["device", "create", "x", "--backend", "turbo"],
])
def test_usage_errors_exit_2(fake, args):
    r = avmctl(fake.path, *args)
    assert r.returncode == 2, r
    assert r.stderr
    assert fake.requests == []


def test_help_and_version_exit_0(fake):
    r = avmctl(fake.path, "--help")
    assert r.returncode == 0 and "libvirt-xml" in r.stdout
    r = avmctl(fake.path, "device", "create", "--help")
    assert r.returncode == 0 and "--backend" in r.stdout
    r = avmctl(fake.path, "--version")
    assert r.returncode == 0 and r.stdout.startswith("avmctl ")
    assert fake.requests == []


def test_unreachable_exit_3(short_tmp, fake):
    r = avmctl(short_tmp / "missing.sock", "ping")
    assert r.returncode == 3
    assert "No such file or directory" in r.stderr
    # A socket file nobody listens on: connection refused.
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(short_tmp / "dead.sock"))
    dead.close()
    r = avmctl(short_tmp / "dead.sock", "ping")
    assert r.returncode == 3 and "Connection refused" in r.stderr
    # Garbage, an early close, the wrong id, no answer at all.
    for raw in (b"garbage\n", b"", b'{"jsonrpc":"2.0","id":12345,"result":{}}\n'):
        fake.raw = raw
        r = avmctl(fake.path, "ping")
        assert r.returncode == 3, raw
        assert r.stderr.startswith("avmctl: "), r.stderr
    fake.raw = None
    fake.hang = True
    r = avmctl(fake.path, "--timeout", "0.5", "ping")
    assert r.returncode == 3 and "no answer" in r.stderr
    # The environment variable names the socket too.
    r = subprocess.run([str(avmctl_binary()), "ping"], capture_output=True, text=True,
                       env=dict(os.environ, AVMCTL_SOCKET=str(short_tmp / "missing.sock")))
    assert r.returncode == 3 and str(short_tmp / "missing.sock") in r.stderr


def test_permission_denied_exit_4(fake, short_tmp):
    """As user nobody, on a 0660 root-owned socket: exit 4; root gets through."""
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed"
    os.chmod(short_tmp, 0o755)
    os.chmod(fake.path, 0o660)
    binary = avmctl_binary()
    # nobody must be able to run the binary itself: copy it somewhere readable.
    exe = short_tmp / "avmctl"
    shutil.copy(binary, exe)
    os.chmod(exe, 0o755)
    r = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                        str(exe), "--socket", str(fake.path), "ping"],
                       capture_output=True, text=True)
    assert r.returncode == 4, r
    assert "Permission denied" in r.stderr
    assert fake.requests == []
    assert avmctl(fake.path, "ping").returncode == 0
