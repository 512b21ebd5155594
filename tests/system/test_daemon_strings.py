"""Strings from users reach nothing unchecked (docs/control-api.md, "Names
and paths"), and the daemon's log stays printable text.

Over the real control socket: instance.create and device.create with a NUL,
a control character, an over-long interface name, a '/' in a netns name
(and the like) are each answered -32602 naming the field; nothing is
created, no socket is bound, state.json holds only the one good instance
created afterwards.  A reload of a file whose key names carry control
characters is refused, and its errors reach the log escaped (\\xNN).  The
log has no raw control byte.  `alacrityvmd --check-config` on a file with
several errors prints every one of them and exits 1.
"""

import json
import subprocess

import pytest

from lib import env
from lib.rpc import RpcError
from lib.service_daemon import ServiceDaemon

INVALID_PARAMS = -32602


def raw_log_problems(data: bytes):
    """The control bytes (other than the newline) and DEL in a log."""
    return sorted({b for b in data if (b < 0x20 and b != 0x0a) or b == 0x7f})


def expect_invalid(client, field, method, **params):
    with pytest.raises(RpcError) as e:
        client.call(method, **params)
    assert e.value.code == INVALID_PARAMS, (method, params, e.value)
    assert e.value.data["param"] == field, (method, params, e.value.data)
    assert e.value.message.startswith(f"{field}: "), e.value.message


def test_bad_strings_are_refused_and_never_logged_raw(short_tmp, log_dir):
    log = log_dir / "alacrityvmd.log"
    d = ServiceDaemon(short_tmp, config_extra='log_level = "debug"', log_path=log).start()
    prefix = short_tmp / "a.sock"
    try:
        with d.client() as c:
            # instance.create: the socket bound at the prefix before the NUL.
            expect_invalid(c, "socket", "instance.create", name="vm1",
                           socket=f"{prefix}\u0000/evil")
            expect_invalid(c, "socket", "instance.create", name="vm1",
                           socket=f"{short_tmp}/b\u001b[2J.sock")
            expect_invalid(c, "socket", "instance.create", name="vm1",
                           socket=f"{short_tmp}/c\u0085.sock")
            expect_invalid(c, "name", "instance.create", name="vm\u0000")
            expect_invalid(c, "name", "instance.create", name="vm\n1")
            expect_invalid(c, "name", "instance.show", name="vm\u0000")
            # device.create: every string field.
            expect_invalid(c, "name", "device.create", name="d\u0000")
            expect_invalid(c, "tap", "device.create", name="d0", tap="t" * 16)
            expect_invalid(c, "tap", "device.create", name="d0", tap="t\u0000p")
            expect_invalid(c, "tap", "device.create", name="d0", tap="tap%d")
            expect_invalid(c, "netns", "device.create", name="d0", netns="../etc")
            expect_invalid(c, "netns", "device.create", name="d0", netns="a/b")
            expect_invalid(c, "netns", "device.create", name="d0", netns="ns\u0007")
            expect_invalid(c, "bridge", "device.create", name="d0", bridge="br\t0")
            expect_invalid(c, "instance", "device.attach", name="d0", instance="v\u0000")
            assert c.call("instance.list") == {"instances": []}
            assert c.call("device.list") == {"devices": []}
            assert not prefix.exists(), "the socket was bound at the NUL's prefix"
            state = d.state_dir / "state.json"
            assert not state.exists(), state.read_text()
            # A good one is written; state.json has nothing else.
            good = c.call("instance.create", name="vm1", socket=f"{short_tmp}/vm1.sock")
            assert good["socket"] == f"{short_tmp}/vm1.sock"
            saved = json.loads(state.read_text())
            assert [i["name"] for i in saved["instances"]] == ["vm1"]
            assert saved["devices"] == []
            assert "\\u00" not in state.read_text()

            # A reload of a file whose keys carry a NUL and an escape
            # sequence: refused, its errors logged escaped.
            text = d.config.read_text()
            d.config.write_text(text.replace(
                "[daemon]\n", '[daemon]\n"k\\u0000\\u001b[2J" = 1\n'))
            with pytest.raises(RpcError) as e:
                c.call("daemon.reload")
            assert e.value.code == INVALID_PARAMS
            assert any("daemon.k\u0000\u001b[2J: unknown key" in x
                       for x in e.value.data["errors"]), e.value.data
            d.wait_log(r"daemon\.k\\x00\\x1b\[2J: unknown key")
    finally:
        assert d.stop() == 0, d.log
    data = log.read_bytes()
    assert b"instance vm1 created" in data
    assert raw_log_problems(data) == [], data


def test_check_config_prints_every_error(short_tmp):
    conf = short_tmp / "bad.conf"
    conf.write_text(
        "[daemon]\n"
        'control_socket = "relative.sock"\n'
        'log_level = "loud"\n'
        "[[instance]]\n"
        'name = "Bad Name"\n'
        'socket = "/tmp/a\\u0000b"\n'
        'region_size = "3M"\n'
        "[[instance]]\n"
        'name = "vm2"\n'
        "vectors = 65\n"
        "[[device]]\n"
        'name = "d0"\n'
        'tap = "much-too-long-ifname"\n'
        'netns = "a/b"\n'
        "[[device]]\n"
        'tap = "t\\u001b0"\n')
    r = subprocess.run([str(env.daemon_binary()), "--check-config", "--config", str(conf)],
                       capture_output=True, timeout=30)
    assert r.returncode == 1, r
    assert r.stdout == b"", r.stdout
    lines = r.stderr.decode().splitlines()
    f = str(conf)
    want = [
        f"{f}:2:18: daemon.control_socket: must be an absolute path",
        f'{f}:3:13: daemon.log_level: must be "trace", "debug", "info", "warn" or "error"',
        f"{f}:5:8: instance[0].name: must match [a-z0-9][a-z0-9_-]{{0,31}}",
        f"{f}:6:10: instance[0].socket: contains a NUL byte (at byte 6)",
        f"{f}:7:15: instance[0].region_size: must be a power of two, 1M or more",
        f"{f}:10:11: instance[1].vectors: must be 1..64",
        f"{f}:13:7: device[0].tap: not an interface name: longer than 15 bytes",
        f"{f}:14:9: device[0].netns: not a namespace name: must not contain '/' "
        "(a name in /run/netns)",
        "device[1].name: missing",
        f"{f}:16:7: device[1].tap: not an interface name: contains a control character "
        "(at byte 1)",
    ]
    assert len(lines) == len(want), lines
    for w in want:
        assert sum(w in line for line in lines) == 1, (w, lines)
    assert raw_log_problems(r.stderr) == [], r.stderr
