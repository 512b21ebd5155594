"""Boot the plain host image (the provisioning tests' target) under TCG with
QEMU user networking, SSH forwarded to 127.0.0.1 only: the avm user logs in
with a key handed over at boot (fw_cfg), python3 runs, sudo works without a
password (Ansible's become), and nothing of AlacrityVM is installed."""

import re

import pytest

from conftest import LOGS, SSH_OPTS, image_vm, make_key, run, wait_ssh
from qemu import authorized_keys_args, free_port, user_net_ssh_args  # tests/lib


@pytest.fixture(scope="module")
def host_vm(host_image, module_tmp):
    logs = LOGS / "host_boot"
    logs.mkdir(parents=True, exist_ok=True)
    key = make_key(module_tmp)
    port = free_port()
    vm = image_vm(host_image, logs / "console.log",
                  user_net_ssh_args(port, restrict_off=True) + authorized_keys_args(f"{key}.pub"))
    try:
        vm.start()
        ssh = ["ssh", "-i", str(key), "-p", str(port)] + SSH_OPTS + ["avm@127.0.0.1"]
        seconds = wait_ssh(ssh, vm)
        print(f"host image: SSH after {seconds:.1f} s (QEMU start -> SSH)")
        (logs / "boot-time.txt").write_text(f"ssh {seconds:.1f}\n")
        yield ssh
    finally:
        vm.kill()


def test_python3_and_sudo(host_vm):
    out = run(host_vm + ["python3 -c 'import sys, json; print(\"py\", sys.version_info[:2])'"
                         " && sudo -n id -u && hostname"], timeout=120)
    print(out.stdout)
    assert re.search(r"^py \(3, \d+\)$", out.stdout, re.M)
    assert re.search(r"^0$", out.stdout, re.M)
    assert out.stdout.strip().endswith("avm-host")


def test_boot_finished_cleanly(host_vm):
    out = run(host_vm + ["systemctl is-system-running --wait; systemctl --failed --no-legend;"
                         " systemd-analyze; systemd-analyze blame --no-pager | head -n 12"],
              check=False, timeout=300)
    print(out.stdout)
    assert out.stdout.splitlines()[0] == "running"


def test_nothing_of_ours(host_vm):
    out = run(host_vm + ["dpkg-query -W -f='${Package}\\n'; ls /etc/apt/sources.list.d"],
              timeout=120)
    assert "openssh-server" in out.stdout
    assert "alacrityvm" not in out.stdout


def test_no_password(host_vm):
    out = run(host_vm + ["sudo -n getent shadow | cut -d: -f1,2"], timeout=120)
    users = dict(line.split(":", 1) for line in out.stdout.split() if ":" in line)
    assert "avm" in users and "root" in users
    for user, pw in users.items():
        assert pw[:1] in ("!", "*"), f"{user} has a password or an empty one"
