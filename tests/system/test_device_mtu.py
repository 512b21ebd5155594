"""A device's MTU reaches its TAP (issue 18, 4), and `device show` says
what the TAP has.

One daemon for the module, started from a config file whose device (MTU
4000) gets its TAP in a namespace of the test's own at start-up.  Then,
through avmctl: a device created with --mtu 9000 (its TAP says mtu 9000,
`device show`, its --json and `device list` say 9000), the TAP's MTU
changed from outside (`device show` follows the TAP), one enslaved to a
bridge, an MTU the kernel refuses for a TAP (65535: the answer names it,
no device, no TAP, no bridge port is left), one out of the API's range, and
a reload that changes the config device's MTU.  Runs in a few seconds.
"""

import json
import re

import pytest

from lib.avmctl import avmctl
from lib.netns import NetNs
from test_avmctl_daemon import ConfigDaemon

CONFIG = """
[daemon]
control_socket = "{tmp}/control.sock"
state_dir = "{tmp}/state"

[[instance]]
name = "cfg1"
socket = "{tmp}/cfg1.sock"
vectors = 4

[[device]]
name = "cfg1-net0"
instance = "cfg1"
netns = "{ns}"
tap = "avmmtucfg"
mtu = {mtu}
"""


@pytest.fixture(scope="module")
def netns():
    with NetNs() as ns:
        ns.ip("link add avmmtubr type bridge")
        yield ns


@pytest.fixture(scope="module")
def conf(module_tmp, netns):
    path = module_tmp / "alacrityvmd.conf"
    path.write_text(CONFIG.format(tmp=module_tmp, ns=netns.name, mtu=4000))
    (module_tmp / "state").mkdir()
    return path


@pytest.fixture(scope="module")
def daemon(conf, module_tmp, module_log_dir):
    d = ConfigDaemon(conf, module_tmp / "control.sock",
                     log_path=module_log_dir / "alacrityvmd.log")
    d.start()
    ctl(d, "instance", "create", "vm1", "--socket-path", str(module_tmp / "vm1.sock"),
        "--region-size", "16M", "--vectors", "4")
    yield d
    assert d.stop() == 0, d.log


def ctl(daemon, *args, check=True):
    return avmctl(daemon.socket, *args, check=check)


def show(daemon, device):
    return json.loads(ctl(daemon, "--json", "device", "show", device).stdout)


def tap_mtu(netns, tap):
    out = netns.ip(f"link show {tap}").stdout
    m = re.search(r" mtu (\d+) ", out)
    assert m, out
    return int(m.group(1))


def test_config_file_device(daemon, netns):
    assert tap_mtu(netns, "avmmtucfg") == 4000
    assert show(daemon, "cfg1-net0")["mtu"] == 4000


def test_create_with_mtu_9000(daemon, netns):
    dev = json.loads(ctl(daemon, "--json", "device", "create", "mtu-net0", "--instance", "vm1",
                         "--netns", netns.name, "--tap", "avmmtu0", "--mtu", "9000").stdout)
    assert dev["mtu"] == 9000, dev
    assert tap_mtu(netns, "avmmtu0") == 9000
    assert show(daemon, "mtu-net0")["mtu"] == 9000
    table = ctl(daemon, "device", "show", "mtu-net0").stdout
    assert re.search(r"^mtu: +9000$", table, re.M), table
    rows = [r.split() for r in ctl(daemon, "device", "list").stdout.splitlines()]
    mtu = rows[0].index("MTU")
    assert [r[mtu] for r in rows if r[0] == "mtu-net0"] == ["9000"], rows


def test_show_reads_the_tap(daemon, netns):
    """Changed from outside: show says what the TAP has, not what was asked."""
    netns.ip("link set avmmtu0 mtu 2000")
    try:
        assert show(daemon, "mtu-net0")["mtu"] == 2000
    finally:
        netns.ip("link set avmmtu0 mtu 9000")
    assert show(daemon, "mtu-net0")["mtu"] == 9000


def test_on_a_bridge(daemon, netns):
    ctl(daemon, "device", "create", "mtu-br0", "--instance", "vm1", "--netns", netns.name,
        "--tap", "avmmtub0", "--bridge", "avmmtubr", "--mtu", "9000")
    assert "master avmmtubr" in netns.ip("link show avmmtub0").stdout
    assert tap_mtu(netns, "avmmtub0") == 9000
    assert show(daemon, "mtu-br0")["mtu"] == 9000
    ctl(daemon, "device", "delete", "mtu-br0")


def refused(daemon, *args):
    r = ctl(daemon, *args, check=False)
    assert r.returncode == 1 and r.stdout == "", r
    return r.stderr


def nothing_created(daemon, netns, device, tap):
    assert device not in ctl(daemon, "device", "list", "--names").stdout.split()
    assert netns.ip(f"link show {tap}", check=False).returncode != 0
    assert netns.ip("link show master avmmtubr").stdout == ""


def test_mtu_the_kernel_refuses(daemon, netns):
    """65535 is in the API's range, but not a TAP's (65535 minus the
    Ethernet header): the kernel's EINVAL comes back, and nothing stays."""
    err = refused(daemon, "device", "create", "mtu-bad", "--instance", "vm1", "--netns",
                  netns.name, "--tap", "avmmtubad", "--bridge", "avmmtubr", "--mtu", "65535")
    assert err.startswith("avmctl: -32004 "), err
    assert "tap avmmtubad: MTU 65535 refused by the kernel" in err, err
    nothing_created(daemon, netns, "mtu-bad", "avmmtubad")


def test_mtu_out_of_range(daemon, netns):
    err = refused(daemon, "device", "create", "mtu-big", "--instance", "vm1", "--netns",
                  netns.name, "--tap", "avmmtubig", "--mtu", "65536")
    assert "68..65535" in err, err
    nothing_created(daemon, netns, "mtu-big", "avmmtubig")


def test_reload_applies_a_new_mtu(daemon, netns, conf, module_tmp):
    conf.write_text(CONFIG.format(tmp=module_tmp, ns=netns.name, mtu=6000))
    ctl(daemon, "reload")
    assert tap_mtu(netns, "avmmtucfg") == 6000
    assert show(daemon, "cfg1-net0")["mtu"] == 6000
