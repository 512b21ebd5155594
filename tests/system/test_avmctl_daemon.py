"""avmctl driving the real alacrityvmd (config-file mode, control socket).

One daemon for the module, started from a config file in a private
directory (control socket, state, metrics on a UNIX socket, one instance
defined in the file); every TAP lives in a network namespace of the test's
own.  Walks the API through avmctl: create an instance, create and attach a
device (its TAP appears in the namespace), tables and --json, link down/up,
stats, qemu-args (QEMU started with exactly those, the daemon sees it join,
the instance turns "connected" and refuses a delete), libvirt-xml through
virt-xml-validate, the daemon's own /metrics through promtool, detach,
delete; and the daemon's errors as avmctl's exit 1 with the JSON-RPC code.
Runs in about 10 s.
"""

import json
import shlex
import subprocess

import pytest

from lib import env
from lib.avmctl import avmctl
from lib.daemon import Daemon
from lib.netns import NetNs
from qemu import Qemu  # tests/lib
from test_avmctl_generators import DOMAIN, validate

MIB = 1 << 20


class ConfigDaemon(Daemon):
    """alacrityvmd --config FILE --foreground (no legacy instance)."""

    def __init__(self, config, control, **kw):
        super().__init__(control, **kw)
        self.config = config

    def command_line(self):
        return [str(self.binary), "--config", str(self.config), "--foreground"]


@pytest.fixture(scope="module")
def netns():
    with NetNs() as ns:
        yield ns


@pytest.fixture(scope="module")
def daemon(module_tmp, module_log_dir):
    conf = module_tmp / "alacrityvmd.conf"
    conf.write_text(f"""
[daemon]
control_socket = "{module_tmp}/control.sock"
state_dir = "{module_tmp}/state"
log_level = "debug"

[metrics]
enabled = true
listen = "unix:{module_tmp}/metrics.sock"

[[instance]]
name = "cfg1"
socket = "{module_tmp}/cfg1.sock"
vectors = 2
""")
    (module_tmp / "state").mkdir()
    d = ConfigDaemon(conf, module_tmp / "control.sock",
                     log_path=module_log_dir / "alacrityvmd.log")
    d.start()
    yield d
    assert d.stop() == 0, d.log


def ctl(daemon, *args, check=True):
    return avmctl(daemon.socket, *args, check=check)


def ctl_json(daemon, *args):
    return json.loads(ctl(daemon, "--json", *args).stdout)


def expect_error(daemon, code, *args):
    r = ctl(daemon, *args, check=False)
    assert r.returncode == 1, r
    assert r.stderr.startswith(f"avmctl: {code} "), r.stderr
    assert r.stdout == ""
    return r.stderr


def test_ping_version(daemon):
    assert ctl(daemon, "ping").stdout == "pong\n"
    v = ctl_json(daemon, "version")
    assert v["version"] == env.TOP.joinpath("VERSION").read_text().strip()
    assert ctl(daemon, "version").stdout.startswith(f"alacrityvmd {v['version']} (ABI ")


def test_config_instance_is_read_only(daemon):
    inst = ctl_json(daemon, "instance", "show", "cfg1")
    assert inst["origin"] == "config" and inst["vectors"] == 2
    err = expect_error(daemon, -32005, "instance", "delete", "cfg1")
    assert "edit the file" in err


def test_errors(daemon):
    expect_error(daemon, -32000, "instance", "show", "nope")
    expect_error(daemon, -32000, "device", "attach", "nope", "cfg1")
    expect_error(daemon, -32602, "instance", "create", "Bad Name!")
    expect_error(daemon, -32602, "instance", "create", "x1", "--region-size", "3M")
    expect_error(daemon, -32001, "instance", "create", "cfg1")
    r = ctl(daemon, "--json", "instance", "show", "nope", check=False)
    assert r.returncode == 1
    err = json.loads(r.stdout)["error"]
    assert err["code"] == -32000 and err["data"]["name"] == "nope", err
    assert ctl_json(daemon, "instance", "list")["instances"][0]["name"] == "cfg1"


def test_instance_device_lifecycle(daemon, netns, module_tmp, log_dir):
    sock = module_tmp / "vm1.sock"
    out = ctl(daemon, "instance", "create", "vm1", "--socket-path", str(sock),
              "--region-size", "4M", "--vectors", "4").stdout
    assert "state:        waiting\n" in out and "region_size:  4M\n" in out
    assert sock.is_socket()
    assert sorted(ctl(daemon, "instance", "list", "--names").stdout.split()) == ["cfg1", "vm1"]

    # A device in our namespace, attached at creation.
    dev = ctl_json(daemon, "device", "create", "vm1-net0", "--instance", "vm1",
                   "--netns", netns.name, "--tap", "avmctl0", "--mtu", "1400", "--mac",
                   "52:54:00:aa:bb:cc")
    assert dev["instance"] == "vm1" and dev["tap"] == "avmctl0" and dev["mtu"] == 1400
    assert netns.ip("link show avmctl0").returncode == 0
    rows = ctl(daemon, "device", "list", "--instance", "vm1").stdout.splitlines()
    assert rows[0].split()[:4] == ["NAME", "TYPE", "INSTANCE", "LINK"]
    assert rows[1].split()[:4] == ["vm1-net0", "venet", "vm1", "up"]
    assert "52:54:00:aa:bb:cc" in rows[1]
    assert ctl_json(daemon, "instance", "show", "vm1")["devices"] == ["vm1-net0"]
    expect_error(daemon, -32001, "device", "create", "vm1-net0", "--netns", netns.name)

    assert ctl(daemon, "link", "vm1-net0", "down").stdout == "vm1-net0: link down\n"
    assert ctl_json(daemon, "device", "show", "vm1-net0")["link"] == "down"
    ctl(daemon, "link", "vm1-net0", "up")
    assert ctl_json(daemon, "device", "show", "vm1-net0")["link"] == "up"

    stats = ctl_json(daemon, "stats", "vm1")
    counters = stats["instances"]["vm1"]["devices"]["vm1-net0"]
    assert "tx_packets" in counters and "rx_packets" in counters, counters
    table = ctl(daemon, "stats", "vm1").stdout.splitlines()
    assert table[0].split() == ["INSTANCE", "OBJECT", "COUNTER", "VALUE"]
    assert any(r.split()[:3] == ["vm1", "vm1-net0", "tx_packets"] for r in table), table
    # Guest faults the bridge counts (docs/control-api.md, stats).
    bridge = stats["instances"]["vm1"]["bridge"]
    # No guest yet: the attach's DEV_ADD and both links' DEV_CONFIG went
    # nowhere (dropped while the bridge is not RUN), and nothing else.
    assert bridge["evq_disabled_drops"] >= 3, bridge
    for name in ("evq_bad_consumed", "call_errors", "call_bad_len"):
        assert bridge[name] == 0, bridge
    for name in ("evq_bad_consumed", "evq_disabled_drops", "call_errors", "call_bad_len"):
        assert ["vm1", "bridge", name, str(bridge[name])] in [r.split() for r in table], table

    # QEMU with exactly what qemu-args prints.
    line = ctl(daemon, "qemu-args", "vm1").stdout
    args = shlex.split(line)
    assert args == ctl_json(daemon, "qemu-args", "vm1")["args"]
    qemu = Qemu(paused=True, memory="64", qmp=module_tmp / "qmp.sock", args=args,
                log_path=log_dir / "qemu.log").start()
    try:
        daemon.wait_log(r"joined")
        qmp = qemu.qmp()
        try:
            devs = [d for bus in qmp.cmd("query-pci") for d in bus["devices"]
                    if d["id"]["vendor"] == 0x1AF4 and d["id"]["device"] == 0x1110]
        finally:
            qmp.close()
        assert len(devs) == 1
        assert {b["bar"]: b["size"] for b in devs[0]["regions"]}[2] == 4 * MIB
        inst = ctl_json(daemon, "instance", "show", "vm1")
        assert inst["state"] == "connected", inst
        assert inst["guest"]["peer"] >= 1, inst
        # The QEMU process itself, from SO_PEERCRED of its ivshmem socket.
        assert inst["guest"]["pid"] == qemu.pid, inst
        guest = f"peer {inst['guest']['peer']} pid {qemu.pid}"
        assert f"guest:        {guest}\n" in ctl(daemon, "instance", "show", "vm1").stdout
        listed = ctl(daemon, "instance", "list").stdout
        assert listed.count("connected") == 1 and guest in listed, listed
        expect_error(daemon, -32002, "instance", "delete", "vm1")
    finally:
        qemu.kill()
    daemon.wait_log(r"left")

    # libvirt: the element inside a full domain validates.
    xml = ctl(daemon, "libvirt-xml", "vm1").stdout
    assert f"path='{sock}'" in xml
    r = validate(module_tmp, DOMAIN.format(shmem=xml))
    assert r.returncode == 0, r.stdout + r.stderr

    # Detach, re-attach, delete: the TAP goes with the device.
    assert ctl_json(daemon, "device", "detach", "vm1-net0")["instance"] is None
    assert ctl_json(daemon, "instance", "show", "vm1")["devices"] == []
    assert ctl(daemon, "device", "attach", "vm1-net0", "vm1").stdout == \
        "vm1-net0: attached to vm1\n"
    ctl(daemon, "device", "delete", "vm1-net0")
    assert netns.ip("link show avmctl0", check=False).returncode != 0
    expect_error(daemon, -32000, "device", "show", "vm1-net0")
    ctl(daemon, "instance", "delete", "vm1")
    assert ctl(daemon, "instance", "list", "--names").stdout == "cfg1\n"


def test_daemon_metrics_pass_promtool(daemon, netns, module_tmp):
    """The daemon's own /metrics, with an instance and a device in it."""
    ctl(daemon, "instance", "create", "vm2", "--socket-path", str(module_tmp / "vm2.sock"))
    ctl(daemon, "device", "create", "vm2-net0", "--instance", "vm2", "--netns", netns.name,
        "--tap", "avmctl1")
    try:
        r = subprocess.run(["curl", "-sS", "--fail", "--max-time", "10", "--unix-socket",
                            str(module_tmp / "metrics.sock"), "http://localhost/metrics"],
                           capture_output=True, text=True, check=True)
    finally:
        ctl(daemon, "device", "delete", "vm2-net0")
        ctl(daemon, "instance", "delete", "vm2")
    assert 'device="vm2-net0"' in r.stdout, r.stdout
    # Guest faults that are counted: in the scrape too (docs/control-api.md).
    for name in ("evq_bad_consumed", "evq_disabled_drops", "call_errors", "call_bad_len"):
        assert f'alacrityvm_bridge_{name}_total{{instance="vm2"}} ' in r.stdout, r.stdout
    p = subprocess.run(["promtool", "check", "metrics"], input=r.stdout, capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == "" and p.stderr.strip() == "", p.stdout + p.stderr


def test_reload(daemon, module_tmp):
    conf = daemon.config.read_text()
    r = ctl(daemon, "reload").stdout.splitlines()
    assert [line.split(":")[0] for line in r] == ["added", "removed", "changed", "kept"]
    assert [line.split()[1] for line in r] == ["-", "-", "-", "-"]
    try:
        daemon.config.write_text(conf + f"""
[[instance]]
name = "cfg2"
socket = "{module_tmp}/cfg2.sock"
""")
        r = ctl(daemon, "reload").stdout
        assert "added:    cfg2\n" in r, r
        assert ctl_json(daemon, "instance", "show", "cfg2")["origin"] == "config"
        # A file with errors changes nothing.
        daemon.config.write_text(conf + "[[instance]]\nname = 7\n")
        r = ctl(daemon, "reload", check=False)
        assert r.returncode == 1, r
        assert ctl_json(daemon, "instance", "show", "cfg2")["origin"] == "config"
    finally:
        daemon.config.write_text(conf)
    assert "removed:  cfg2\n" in ctl(daemon, "reload").stdout
    expect_error(daemon, -32000, "instance", "show", "cfg2")


def test_sizes_and_tuning_fields(daemon, netns, module_tmp):
    """One size grammar (issue 19: "16MiB" was refused by the daemon, which
    took only "16M"), and the device tuning once only --venet could set:
    ring_size and buf_size size the device's pools in the region (4096
    entries of 7680 bytes cannot fit 4 MiB, 64 of 2048 can), and the
    values are what state.json keeps."""
    inst = ctl_json(daemon, "instance", "create", "tune1", "--region-size", "4MiB")
    assert inst["region_size"] == 4 * MIB, inst
    err = expect_error(daemon, -32003, "device", "create", "tune1-big", "--instance", "tune1",
                       "--netns", netns.name, "--tap", "avmtune0", "--ring-size", "4096")
    assert "tune1-big" not in ctl(daemon, "device", "list", "--names").stdout, err
    assert netns.ip("link show avmtune0", check=False).returncode != 0
    ctl(daemon, "device", "create", "tune1-net0", "--instance", "tune1", "--netns", netns.name,
        "--tap", "avmtune1", "--ring-size", "64", "--buf-size", "2048", "--rx-coalesce-us", "0",
        "--busy-poll-max-us", "10")
    assert netns.ip("link show avmtune1").returncode == 0
    state = json.loads((module_tmp / "state" / "state.json").read_text())
    saved = {d["name"]: d for d in state["devices"]}["tune1-net0"]
    assert (saved["ring_size"], saved["buf_size"], saved["rx_coalesce_us"],
            saved["busy_poll_max_us"]) == (64, 2048, 0, 10), saved
    expect_error(daemon, -32602, "device", "create", "tune1-bad", "--ring-size", "100")
    ctl(daemon, "device", "delete", "tune1-net0")
    ctl(daemon, "instance", "delete", "tune1")
