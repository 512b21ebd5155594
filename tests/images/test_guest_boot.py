"""Boot the guest image under TCG with one AlacrityVM network device as its
only NIC (-nic none): alacrityvmd (legacy CLI mode) serves the ivshmem
device and puts its TAP into a network namespace of this test, where
dnsmasq hands out addresses.  The guest loads vbus_pci/vbus_enet from its
initramfs, systemd-networkd asks for an address by DHCP over venet, and the
test logs in with SSH from inside the namespace.

The SSH key is a fresh one handed over at boot through QEMU's fw_cfg
(avm-authorized-keys.service); the key baked in at build time is tried too
when it is the generated test key."""

import hashlib
import os
import re
import subprocess
import time

import pytest

from conftest import BUILD_KEY, LOGS, SSH_OPTS, image_vm, make_key, run, wait_ssh
from dnsmasq import Dnsmasq  # tests/images
from venet_guest import check_ethtool
from lib.daemon import Daemon  # tests/system/lib
from lib.netns import NetNs
from qemu import authorized_keys_args, ivshmem_args  # tests/lib

TAP = "avmtap0"
MAC = "52:54:00:a1:4c:01"
NS_IP = "10.99.7.1"
RANGE = ("10.99.7.100", "10.99.7.150")
VECTORS = 4


@pytest.fixture(scope="module")
def booted(guest_image, module_tmp):
    """(ssh command prefix, guest address, seconds QEMU start -> SSH, dnsmasq)"""
    logs = LOGS / "guest_boot"
    logs.mkdir(parents=True, exist_ok=True)
    key = make_key(module_tmp)
    ns = NetNs(prefix="avmimg")
    daemon = dnsmasq = vm = None
    try:
        ns.create()
        daemon = Daemon(module_tmp / "vm.sock", region_size="4M", vectors=VECTORS,
                        extra_args=["--venet", f"tap={TAP},mac={MAC},netns={ns.name}"],
                        log_path=logs / "alacrityvmd.log").start()
        ns.ip(f"addr add {NS_IP}/24 dev {TAP}")
        ns.ip(f"link set {TAP} up")
        dnsmasq = Dnsmasq(ns, module_tmp, logs / "dnsmasq.log", TAP, MAC, RANGE).start()
        vm = image_vm(guest_image, logs / "console.log",
                      ["-nic", "none", *ivshmem_args(daemon.socket, VECTORS),
                       *authorized_keys_args(f"{key}.pub")]).start()
        addr = dnsmasq.wait_ack(vm)
        dhcp_at = time.monotonic() - vm.started
        ssh = ns.cmd(["ssh", "-i", key] + SSH_OPTS + [f"root@{addr}"])
        seconds = wait_ssh(ssh, vm)
        print(f"guest: DHCP address {addr} after {dhcp_at:.1f} s, "
              f"SSH over venet after {seconds:.1f} s (QEMU start -> SSH)")
        (logs / "boot-time.txt").write_text(f"dhcp {dhcp_at:.1f}\nssh {seconds:.1f}\n")
        yield {"ssh": ssh, "addr": addr, "seconds": seconds, "ns": ns, "dnsmasq": dnsmasq,
               "daemon": daemon}
    finally:
        if vm:
            vm.kill()
        if dnsmasq:
            dnsmasq.stop()
        if daemon:
            daemon.stop()
        ns.delete()


def guest(booted, command: str, check=True):
    return run(booted["ssh"] + [command], check=check, timeout=120)


def test_ssh_over_venet_with_dhcp(booted):
    out = guest(booted, "cat /proc/modules; ip -o addr; ip -o link; networkctl list --no-pager")
    print(out.stdout)
    mods = {line.split()[0] for line in out.stdout.splitlines() if " Live " in line}
    assert {"vbus_pci", "vbus_enet"} <= mods
    # the DHCP address sits on the interface with the venet MAC
    link = re.search(rf"^\d+: (\S+?):.*link/ether {MAC}", out.stdout, re.M)
    assert link, "no interface with the venet MAC"
    ifname = link.group(1)
    assert re.search(rf"^\d+: {ifname}\s+inet {re.escape(booted['addr'])}/24 .*dynamic",
                     out.stdout, re.M)
    # configured by systemd-networkd (20-vbus-enet.network)
    assert re.search(rf"{ifname}\s+ether\s+routable\s+configured", out.stdout)
    # and it is the only network device besides loopback
    names = re.findall(r"^\d+: (\S+?):", out.stdout, re.M)
    assert set(names) == {"lo", ifname}
    check_ethtool(booted["ssh"], ifname)


def test_bulk_transfer_over_venet(booted):
    """4 MiB of random bytes into the guest and back over SSH (TCP over the
    venet link both ways); the checksums must match on both ends."""
    data = os.urandom(4 << 20)
    want = hashlib.sha256(data).hexdigest()
    cmd = booted["ssh"] + ["cat >/tmp/blob && sha256sum /tmp/blob"]
    up = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        timeout=300, check=False)
    assert up.returncode == 0, up.stderr
    assert up.stdout.decode().split()[0] == want
    down = subprocess.run(booted["ssh"] + ["cat /tmp/blob"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=300, check=False)
    assert down.returncode == 0, down.stderr
    assert hashlib.sha256(down.stdout).hexdigest() == want


def test_drivers_came_from_the_package(booted):
    out = guest(booted, "for m in vbus_pci vbus_enet; do "
                        "echo $m $(modinfo -n $m) $(modinfo -F signer $m); done; "
                        "dpkg-query -W -f='${Package} ${Status}\\n' 'alacrityvm-*'")
    print(out.stdout)
    for mod in ("vbus_pci", "vbus_enet"):
        assert re.search(rf"^{mod} /lib/modules/\S+/updates/alacrityvm/{mod}\.ko AlacrityVM",
                         out.stdout, re.M)
    assert re.search(r"^alacrityvm-modules-\S+ install ok installed", out.stdout, re.M)
    assert re.search(r"^alacrityvm-dracut install ok installed", out.stdout, re.M)


def test_no_compiler_no_headers(booted):
    out = guest(booted, "dpkg -l gcc cpp make 'linux-headers-*' dkms 2>&1; "
                        "ls /usr/bin/gcc* /usr/bin/cc /usr/src/linux-headers-* 2>&1; true")
    print(out.stdout)
    assert not re.search(r"^ii\s", out.stdout, re.M)
    assert "No such file" in out.stdout and "/usr/bin/gcc-" not in out.stdout


def test_no_password_and_key_only_ssh(booted):
    out = guest(booted, "getent shadow | cut -d: -f1,2 | sed 's/^/shadow /'; sshd -T | grep -Ei "
                        "'^(passwordauthentication|kbdinteractiveauthentication|permitrootlogin) '")
    print(out.stdout)
    shadow = re.findall(r"^shadow ([^:]+):(.*)$", out.stdout, re.M)
    assert ("root" in dict(shadow)) and len(shadow) > 5
    for user, pw in shadow:
        # locked ("!...") or no password possible ("*"); never empty, never a hash
        assert pw[:1] in ("!", "*"), f"{user} has a password or an empty one"
    assert "passwordauthentication no" in out.stdout
    assert "kbdinteractiveauthentication no" in out.stdout
    assert "permitrootlogin without-password" in out.stdout
    # and the server really refuses a password
    r = run(booted["ns"].cmd(["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                              "-o", "UserKnownHostsFile=/dev/null", "-o",
                              "PreferredAuthentications=password,keyboard-interactive",
                              f"root@{booted['addr']}", "true"]), check=False, timeout=60)
    assert r.returncode != 0 and "Permission denied" in r.stdout


def test_boot_finished_cleanly(booted):
    """No unit failed (systemctl would say "degraded"); where the time went
    is printed for the report."""
    out = guest(booted, "systemctl is-system-running --wait; systemctl --failed --no-legend; "
                        "systemd-analyze; systemd-analyze blame --no-pager | head -n 12",
                check=False)
    print(out.stdout)
    assert out.stdout.splitlines()[0] == "running"


def test_host_keys_made_on_first_boot(booted):
    out = guest(booted, "systemctl is-active avm-ssh-hostkeys.service avm-authorized-keys.service"
                        " systemd-networkd.service ssh.service; ls /etc/ssh/ssh_host_ed25519_key;"
                        " journalctl -b -u avm-authorized-keys.service --no-pager -o cat")
    print(out.stdout)
    # oneshot units are inactive once done; failure would show "failed"
    assert "failed" not in out.stdout
    assert "1 key(s) offered at boot installed" in out.stdout


def test_boot_time_keys_are_validated(booted, module_tmp):
    """/boot/alacrityvm/authorized_keys is untrusted: only well-formed keys
    of known types are installed; options (command=...), junk and broken
    base64 are dropped."""
    good = (make_key(module_tmp, "extra").with_suffix(".pub").read_text().strip())
    body = good.split()[1]
    offered = "\n".join([
        f'command="/bin/sh -c id" {good}',
        "ssh-ed25519 not*base64 junk",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDbroken",
        f"ssh-dss {body} unknown type",
        good,
        "",
    ])
    out = run(booted["ssh"] + [
        "cp /root/.ssh/authorized_keys /tmp/ak.before && mkdir -p /boot/alacrityvm && "
        "cat >/boot/alacrityvm/authorized_keys && "
        "systemctl restart avm-authorized-keys.service && "
        "diff /tmp/ak.before /root/.ssh/authorized_keys; "
        "rm -f /boot/alacrityvm/authorized_keys; stat -c '%a %U' /root/.ssh/authorized_keys"],
        check=False, timeout=120, input=offered)
    print(out.stdout)
    added = [ln[2:] for ln in out.stdout.splitlines() if ln.startswith("> ")]
    removed = [ln for ln in out.stdout.splitlines() if ln.startswith("< ")]
    assert added == [good] and not removed
    assert "600 root" in out.stdout


@pytest.mark.skipif(bool(os.environ.get("AVM_IMAGE_SSH_KEY")),
                    reason="the image was built with a user's key, not the test key")
def test_build_time_key(booted):
    assert BUILD_KEY.is_file(), f"{BUILD_KEY} missing: run make images"
    ssh = booted["ns"].cmd(["ssh", "-i", BUILD_KEY] + SSH_OPTS + [f"root@{booted['addr']}"])
    out = run(ssh + ["hostname"], timeout=120)
    assert out.stdout.strip().endswith("avm-guest")


def test_guest_kernel_log_clean(booted):
    out = guest(booted, "dmesg")
    bad = [ln for ln in out.stdout.splitlines()
           if re.search(r"BUG|WARNING|Oops|general protection|Call Trace|Kernel panic", ln)]
    assert not bad, "\n".join(bad)


def test_daemon_saw_the_guest(booted):
    assert booted["daemon"].proc.poll() is None
    booted["daemon"].wait_log(r"link RUN", timeout=5)
