"""Testinfra checks of the host provisioned by site.yml (over SSH, sudo)."""

import json
import re
import tempfile
import tomllib
from pathlib import Path

import pytest

from conftest import gpg_fingerprints
from lib import env

CONFIG = "/etc/alacrityvm/alacrityvmd.conf"
SOCKET = "/run/alacrityvm/control.sock"
PROBE = "/var/lib/avm-test/ivshmem_probe.py"
EXIT_PERMISSION_DENIED = 4      # docs/control-api.md, avmctl exit codes


def as_user(host, user, command):
    """Run command as user, with that user's groups (runuser does initgroups)."""
    return host.run(f"runuser -u {user} -- {command}")


@pytest.mark.parametrize("name", ["alacrityvm", "alacrityvm-archive-keyring"])
def test_package_installed_at_kit_version(host, name):
    pkg = host.package(name)
    assert pkg.is_installed, f"{name} not installed"
    assert pkg.version == env.kit_version()


def test_repository_key_and_sources(host):
    keyring = host.file("/usr/share/keyrings/alacrityvm-archive-keyring.gpg")
    assert keyring.is_file and keyring.user == "root" and keyring.mode == 0o644
    with tempfile.NamedTemporaryFile(suffix=".gpg") as f:
        f.write(keyring.content)
        f.flush()
        on_host = gpg_fingerprints(Path(f.name))
    expected = gpg_fingerprints(env.KEYS / "alacrityvm-archive-keyring.gpg")
    assert on_host == expected and expected
    sources = host.file("/etc/apt/sources.list.d/alacrityvm.sources").content_string
    fields = dict(line.split(": ", 1) for line in sources.splitlines()
                  if line and not line.startswith("#"))
    assert fields == {
        "Types": "deb",
        "URIs": "file:///var/lib/alacrityvm-repo/apt",
        "Suites": "bookworm",
        "Components": "main",
        "Signed-By": "/usr/share/keyrings/alacrityvm-archive-keyring.gpg",
    }
    # apt really takes alacrityvm from that source, signature checked
    policy = host.check_output("apt-cache policy alacrityvm")
    assert "file:/var/lib/alacrityvm-repo/apt bookworm/main" in policy, policy


def test_daemon_active_and_enabled(host):
    svc = host.service("alacrityvmd")
    assert svc.is_running
    assert svc.is_enabled


def test_control_socket_mode_and_group(host):
    sock = host.file(SOCKET)
    assert sock.is_socket
    assert sock.mode == 0o660
    assert sock.group == "alacrityvm"


def test_config_file_matches_the_variables(host, test_vars):
    f = host.file(CONFIG)
    assert f.user == "root" and f.mode == 0o644
    conf = tomllib.loads(f.content_string)
    assert conf["daemon"] == {
        "control_socket": SOCKET,
        "control_group": "alacrityvm",
        "socket_group": "alacrityvm",
        "state_dir": "/var/lib/alacrityvm",
        "log_level": test_vars["alacrityvm_host_log_level"],
        "max_instances": test_vars["alacrityvm_host_max_instances"],
        "max_devices": test_vars["alacrityvm_host_max_devices"],
        "max_region_size": test_vars["alacrityvm_host_max_region_size"],
        "max_request_bytes": test_vars["alacrityvm_host_max_request_bytes"],
        "max_connections": test_vars["alacrityvm_host_max_connections"],
    }
    assert conf["metrics"] == {"enabled": test_vars["alacrityvm_host_metrics_enabled"],
                               "listen": test_vars["alacrityvm_host_metrics_listen"]}
    assert conf["instance"] == test_vars["alacrityvm_host_instances"]
    assert conf["device"] == test_vars["alacrityvm_host_devices"]
    assert set(conf) == {"daemon", "metrics", "instance", "device"}
    # and the daemon itself accepts it
    host.run_expect([0], f"alacrityvmd --check-config --config {CONFIG}")


def test_operator_is_in_the_group(host):
    assert "alacrityvm" in host.user("avmop").groups
    assert "alacrityvm" not in host.user("avmnobody").groups


def test_avmctl_works_for_an_operator(host):
    r = as_user(host, "avmop", "avmctl --json ping")
    assert r.rc == 0, r.stderr
    assert json.loads(r.stdout) == {"pong": True}
    r = as_user(host, "avmop", "avmctl --json instance list")
    assert r.rc == 0, r.stderr
    names = [i["name"] for i in json.loads(r.stdout)["instances"]]
    assert "vm1" in names            # defined in the config file by the role


def test_avmctl_refused_for_a_non_member(host):
    for command in ("avmctl ping", "avmctl instance list"):
        r = as_user(host, "avmnobody", command)
        assert r.rc == EXIT_PERMISSION_DENIED, (command, r.rc, r.stdout, r.stderr)


def test_bridge_up_with_its_address(host):
    assert host.service("alacrityvm-bridge@avmbr0").is_running
    assert host.service("alacrityvm-bridge@avmbr0").is_enabled
    link = json.loads(host.check_output("ip -j address show dev avmbr0"))[0]
    assert link["operstate"] in ("UP", "UNKNOWN", "DOWN")  # no ports yet: no carrier
    assert "UP" in link["flags"]
    assert {(a["local"], a["prefixlen"]) for a in link["addr_info"] if a["family"] == "inet"} \
        == {("192.0.2.1", 24)}
    assert host.file("/sys/class/net/avmbr0/bridge").is_directory


def test_config_device_tap_is_on_the_bridge(host):
    r = host.run("avmctl --json device show vm1-net0")
    assert r.rc == 0, r.stderr
    dev = json.loads(r.stdout)
    assert dev["instance"] == "vm1" and dev["bridge"] == "avmbr0"
    assert dev["mac"] == "52:54:00:a1:b2:c3"
    link = json.loads(host.check_output(f"ip -j link show dev {dev['tap']}"))[0]
    assert link.get("master") == "avmbr0", (
        link, host.run("networkctl list --no-pager").stdout,
        host.run("journalctl -b --no-pager -u alacrityvmd -u systemd-networkd | tail -n 40").stdout)


def test_restart_keeps_instance_and_region(host):
    """systemctl restart: an API-created instance survives with the same
    shared-memory region (the daemon keeps the memfd in systemd's FD store).
    An instance whose device the kernel backend serves cannot be kept: it is
    reset and comes back from the config file, and the journal says why."""
    host.run("avmctl instance delete restart-test --force")   # leftover of a failed run
    r = as_user(host, "avmop", "avmctl --json instance create restart-test --region-size 1M")
    assert r.rc == 0, r.stderr
    created = json.loads(r.stdout)
    vm1_backend = json.loads(host.check_output("avmctl --json device show vm1-net0"))["backend"]
    try:
        before = json.loads(host.check_output(f"{PROBE} {created['socket']}"))
        since = host.check_output("date +%s.%N")
        host.run_expect([0], "systemctl restart alacrityvmd")
        assert host.service("alacrityvmd").is_running
        r = as_user(host, "avmop", "avmctl --json instance show restart-test")
        assert r.rc == 0, r.stderr
        assert json.loads(r.stdout)["region_size"] == created["region_size"]
        after = json.loads(host.check_output(f"{PROBE} {created['socket']}"))
        journal = host.check_output(
            f"journalctl --no-pager -o cat -u alacrityvmd --since @{since}")
        assert after == before, ("the region was re-created, not kept across the restart",
                                 journal[-3000:])
        kept = re.search(r"FD store: (\d+) instances and \d+ fds kept", journal)
        assert kept and int(kept.group(1)) >= 1, journal[-3000:]
        if vm1_backend == "kernel":
            assert "FD store: instance vm1 cannot be kept" in journal, journal[-3000:]
        assert json.loads(host.check_output("avmctl --json device show vm1-net0"))["instance"] \
            == "vm1"
    finally:
        host.run("avmctl instance delete restart-test --force")


def test_vbus_host_module(host, test_vars):
    """alacrityvm_host_dkms: DKMS built vbus_host for the running kernel, the
    role loaded it and listed it in modules-load.d, and modprobe works: an
    unload and load again when nothing holds it (packages from 8c40e78 on
    probe the kernel backend at device attach, so vm1-net0 may hold it)."""
    dkms_pkg = host.package("alacrityvm-host-dkms")
    if not test_vars.get("alacrityvm_host_dkms"):
        assert not dkms_pkg.is_installed
        assert not host.file("/etc/modules-load.d/alacrityvm.conf").exists
        return
    assert dkms_pkg.is_installed and dkms_pkg.version == env.kit_version()
    kernel = host.check_output("uname -r")
    path = host.check_output(f"modinfo -k {kernel} -F filename vbus_host")
    assert path.startswith(f"/lib/modules/{kernel}/updates/dkms/vbus_host.ko"), path
    assert "vbus_host" in host.file("/etc/modules-load.d/alacrityvm.conf").content_string.split()
    assert host.file("/sys/module/vbus_host").is_directory      # loaded by the role
    # daemons with backend = "auto" hold the module while a device uses it
    if host.file("/sys/module/vbus_host/refcnt").content_string.strip() == "0":
        host.run_expect([0], "modprobe -r vbus_host")
        assert not host.file("/sys/module/vbus_host").exists
    r = host.run("modprobe vbus_host")
    assert r.rc == 0, r.stderr
    assert host.file("/sys/module/vbus_host").is_directory
    host.run_expect([0], "test -c /dev/alacrityvm-host")
