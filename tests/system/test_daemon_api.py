"""alacrityvmd as a service: config file, JSON-RPC control socket,
state.json (docs/control-api.md).

One daemon per test, its files in a short private directory.  The first
test goes all the way: an instance and a venet device created over
JSON-RPC, a guest booted with the instance's qemu_args, pings cross the
venet link and the device counters move, then the daemon restarts and
the API-created objects are back.  The others: bad requests get their
error codes while another client keeps being served, and a user outside
the control group is refused while a member is served.
"""

import grp
import json
import os
import pwd
import subprocess
import sys

import pytest

from lib.netns import NetNs
from lib.rpc import RpcError
from lib.service_daemon import ServiceDaemon
from lib.guest import Guest
from lib.venet import MAC, NS_IP, PREFIX, TAP, VECTORS, VenetLink, venet_initramfs_spec

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS = -32700, -32600, -32601, -32602
NOT_FOUND, ALREADY_EXISTS, LIMIT, HOST_RESOURCE = -32000, -32001, -32003, -32004


@pytest.fixture
def service(short_tmp, log_dir):
    daemons = []

    def start(config_extra="", objects=""):
        d = ServiceDaemon(short_tmp, config_extra=config_extra, objects=objects,
                          log_path=log_dir / f"alacrityvmd.{len(daemons)}.log").start()
        daemons.append(d)
        return d

    yield start
    for d in daemons:
        d.stop()


class ApiLink(VenetLink):
    """VenetLink whose instance and device come from JSON-RPC calls."""

    def start_api(self, daemon: ServiceDaemon) -> "ApiLink":
        self.ns = NetNs().create()
        self.daemon = daemon
        with daemon.client() as c:
            c.call("instance.create", name="vm1", region_size="16M", vectors=VECTORS)
            dev = c.call("device.create", name="vm1-net0", instance="vm1", tap=TAP, mac=MAC,
                         netns=self.ns.name)
            assert dev["instance"] == "vm1" and dev["mac"] == MAC
            self.qemu_args = c.call("instance.qemu_args", name="vm1")["args"]
        self.ns.ip(f"addr add {NS_IP}/{PREFIX} dev {TAP}")
        self.ns.ip(f"link set {TAP} up")
        initrd = self.make_initramfs(venet_initramfs_spec(self.guest_tools))
        self.guest = Guest(initrd, qemu_args=self.qemu_args,
                           log_path=self.log_dir / "api.console.log")
        self.guest.start()
        self.guest.wait_ready()
        daemon.wait_log(r"guest INIT: link RUN")
        self.configure_guest()
        return self


def test_api_objects_carry_traffic_and_survive_a_restart(service, make_initramfs, guest_tools,
                                                         log_dir, short_tmp):
    d = service()
    link = ApiLink(make_initramfs, guest_tools, log_dir, short_tmp)
    try:
        link.start_api(d)
        with d.client() as c:
            before = c.call("device.show", name="vm1-net0")
            assert before["guest_open"] is True
            assert c.call("instance.show", name="vm1")["state"] == "ready"
            r = link.guest.run(f"ping -c 5 -W 5 {NS_IP}")
            assert r.status == 0, r.output
            after = c.call("device.show", name="vm1-net0")["stats"]
            assert after["tx_packets"] >= before["stats"]["tx_packets"] + 5
            assert after["rx_packets"] >= before["stats"]["rx_packets"] + 5
            stats = c.call("stats", instance="vm1")["instances"]["vm1"]
            assert stats["devices"]["vm1-net0"]["tx_packets"] == after["tx_packets"]
            # Link down over the API: the guest loses its carrier.
            c.call("device.set_link", name="vm1-net0", up=False)
            link.wait_carrier("0")
            c.call("device.set_link", name="vm1-net0", up=True)
            link.wait_carrier("1")
        link.guest.kill()
        link.guest = None
        assert d.stop() == 0
        saved = json.loads((d.state_dir / "state.json").read_text())
        assert [i["name"] for i in saved["instances"]] == ["vm1"]
        assert [x["name"] for x in saved["devices"]] == ["vm1-net0"]
        d.start()
        with d.client() as c:
            inst = c.call("instance.show", name="vm1")
            assert inst["origin"] == "api" and inst["devices"] == ["vm1-net0"]
            dev = c.call("device.show", name="vm1-net0")
            assert dev["instance"] == "vm1" and dev["link"] == "up"
        # The TAP is back in the namespace.
        assert link.ns.run(["ip", "link", "show", TAP]).returncode == 0
    finally:
        link.stop()


def test_bad_requests_get_error_codes_while_others_are_served(service):
    d = service(config_extra="max_request_bytes = 2048\nmax_instances = 2")
    good = d.client()
    bad = d.client()
    try:
        assert good.call("ping") == {"pong": True}
        for line, code in [("{oops", PARSE_ERROR), ("[]", INVALID_REQUEST),
                           ('{"jsonrpc":"2.0","id":1,"method":"nope"}', METHOD_NOT_FOUND),
                           ('{"jsonrpc":"2.0","id":2,"method":"instance.create",'
                            '"params":{"name":7}}', INVALID_PARAMS)]:
            resp = bad.raw(line)
            assert resp["error"]["code"] == code, (line, resp)
            assert good.call("ping") == {"pong": True}
        good.call("instance.create", name="a", region_size="1M", vectors=2)
        with pytest.raises(RpcError) as e:
            good.call("instance.create", name="a")
        assert e.value.code == ALREADY_EXISTS
        with pytest.raises(RpcError) as e:
            good.call("device.attach", name="x", instance="a")
        assert e.value.code == NOT_FOUND and e.value.data == {"kind": "device", "name": "x"}
        good.call("instance.create", name="b", region_size="1M", vectors=2)
        with pytest.raises(RpcError) as e:
            good.call("instance.create", name="c", region_size="1M")
        assert e.value.code == LIMIT and e.value.data["limit"] == "instances"
        # A TAP that cannot be created: nothing is left behind.
        with pytest.raises(RpcError) as e:
            good.call("device.create", name="n0", instance="a", netns="avm-no-such-ns")
        assert e.value.code == HOST_RESOURCE
        assert good.call("device.list") == {"devices": []}
        # An oversized line: answered -32600, then that connection is closed.
        resp = bad.raw(b"x" * 4096)
        assert resp["error"]["code"] == INVALID_REQUEST
        assert bad.read_response() is None
        assert good.call("ping") == {"pong": True}
        assert [i["name"] for i in good.call("instance.list")["instances"]] == ["a", "b"]
    finally:
        good.close()
        bad.close()
    assert d.proc.poll() is None


CONNECT = ("import socket,sys\n"
           "s = socket.socket(socket.AF_UNIX)\n"
           "try:\n"
           "    s.connect(sys.argv[1])\n"
           "except PermissionError:\n"
           "    sys.exit(4)\n"
           "s.sendall(sys.argv[2].encode() + b'\\n')\n"
           "print(s.makefile().readline())\n")


@pytest.fixture
def users():
    """A group, a member and an outsider; all deleted afterwards."""
    tag = f"avmt{os.getpid() % 100000}"
    group, member, outsider = f"{tag}g", f"{tag}in", f"{tag}out"
    made = []
    try:
        subprocess.run(["groupadd", group], check=True)
        made.append(("groupdel", group))
        for user, extra in [(member, ["-G", group]), (outsider, [])]:
            subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", *extra, user],
                           check=True)
            made.insert(0, ("userdel", user))
        yield group, member, outsider
    finally:
        for cmd, name in made:
            subprocess.run([cmd, name], check=False)


def test_a_user_outside_the_group_is_refused(service, users, short_tmp):
    group, member, outsider = users
    os.chmod(short_tmp, 0o755)  # the socket's own mode decides, not the directory
    d = service(config_extra=f'control_group = "{group}"')
    st = os.stat(d.socket)
    assert st.st_mode & 0o777 == 0o660
    assert grp.getgrgid(st.st_gid).gr_name == group

    create = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "instance.create",
                         "params": {"name": "byuser", "region_size": "1M", "vectors": 1}})

    def as_user(user):
        return subprocess.run(["runuser", "-u", user, "--", sys.executable, "-c", CONNECT,
                               str(d.socket), create],
                              capture_output=True, text=True, timeout=60)

    r = as_user(outsider)
    assert r.returncode == 4, (r.stdout, r.stderr)
    r = as_user(member)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"]["name"] == "byuser"
    # The caller of a state-changing call is logged (SO_PEERCRED).
    uid = pwd.getpwnam(member).pw_uid
    d.wait_log(rf"api: instance.create byuser \(pid \d+ uid {uid} ")
    with d.client() as c:
        assert [i["name"] for i in c.call("instance.list")["instances"]] == ["byuser"]
