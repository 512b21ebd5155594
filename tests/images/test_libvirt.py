"""The guest image under libvirt, as docs/libvirt.md tells a user to run it.

A private libvirtd (libvirtd.py: its own config, state and sockets in a
mount namespace, nothing of the host's) runs QEMU as libvirt's user
(libvirt-qemu) in its primary group, which is the daemon's socket_group: the
instance socket (0660) is reachable only because alacrityvmd gave it that
group.  alacrityvmd (config-file mode) has an instance and a device whose
TAP is in a network namespace of the test with dnsmasq.  The domain is what
`avmctl libvirt-xml INSTANCE --domain IMAGE_DIR --virt-type qemu` prints,
with an overlay of the prebuilt guest image and a fresh SSH key (fw_cfg);
the guest gets its address by DHCP over venet, the test logs in with SSH and
runs `ethtool -S` on the venet link, then destroys and undefines the domain
and checks that nothing is left.  Mostly one TCG boot: 3.5 min at load 9 on
2 cores (libvirtd up in 8 s, DHCP + SSH after 190 s), less on a quiet one."""

import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import LOGS, SSH_OPTS, make_key, run, wait_ssh
from dnsmasq import Dnsmasq  # tests/images
from libvirtd import Domain, PrivateLibvirtd
from lib.avmctl import avmctl  # tests/system/lib
from lib.netns import NetNs
from lib.service_daemon import ServiceDaemon
from venet_guest import check_ethtool

QEMU_USER = "libvirt-qemu"  # Debian's; Fedora's is qemu
INSTANCE = "lv1"
TAP = "avmlvtap0"
MAC = "52:54:00:a1:4c:02"
NS_IP = "10.99.8.1"
RANGE = ("10.99.8.100", "10.99.8.150")


def qemu_processes(name):
    """Pids of QEMU processes of the domain (libvirt names it guest=NAME)."""
    r = subprocess.run(["pgrep", "-f", f"qemu-system.*guest={name}"], capture_output=True,
                       text=True, check=False)
    return r.stdout.split()


@pytest.fixture(scope="module")
def domain(guest_image):
    """The running domain and everything around it; "teardown" undoes it all
    (once) and returns what it checked."""
    try:
        user = pwd.getpwnam(QEMU_USER)
    except KeyError:
        pytest.fail(f"no user {QEMU_USER}: libvirt-daemon-system is a build dependency")
    group = grp.getgrgid(user.pw_gid).gr_name
    logs = LOGS / "libvirt"
    logs.mkdir(parents=True, exist_ok=True)
    # QEMU (as libvirt-qemu) must reach the socket, disk and key in here
    tmp = Path(tempfile.mkdtemp(prefix="avm-lv-", dir="/tmp"))
    tmp.chmod(0o711)
    name = f"avm-lv-{os.getpid()}"
    key = make_key(tmp)
    overlay = tmp / "disk.qcow2"
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
         "-b", guest_image / "disk.qcow2", overlay])
    os.chown(overlay, user.pw_uid, user.pw_gid)
    ns = NetNs(prefix="avmlv")
    state = {"ns": ns, "tmp": tmp, "name": name, "group": group, "done": None,
             "daemon": None, "dnsmasq": None, "libvirtd": None}

    def teardown():
        if state["done"] is not None:
            return state["done"]
        seen = {}
        lv = state["libvirtd"]
        if lv and lv.proc and lv.proc.poll() is None:
            seen["destroy"] = lv.virsh("destroy", name, check=False).returncode
            seen["undefine"] = lv.virsh("undefine", name, check=False).returncode
            seen["domains"] = lv.virsh("list", "--all", "--name", check=False).stdout.split()
        for obj in ("libvirtd", "dnsmasq", "daemon"):
            if state[obj]:
                state[obj].stop()
        # libvirtd exits before QEMU only on a bug; give QEMU a moment
        deadline = time.monotonic() + 10
        while qemu_processes(name) and time.monotonic() < deadline:
            time.sleep(0.5)
        seen["qemu"] = qemu_processes(name)
        seen["left"] = subprocess.run(["pgrep", "-f", str(tmp)], capture_output=True,
                                      text=True, check=False).stdout.split()
        seen["sockets"] = [str(p) for p in tmp.rglob("*") if p.is_socket()]
        ns.delete()
        seen["netns"] = ns.name in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                                  text=True, check=False).stdout
        for f in ("libvirtd.log", "libvirtd.stderr", "log/qemu/" + name + ".log"):
            if (tmp / "libvirt" / f).exists():
                shutil.copy(tmp / "libvirt" / f, logs / Path(f).name)
        shutil.rmtree(tmp, ignore_errors=True)
        seen["tmp"] = tmp.exists()
        state["done"] = seen
        return seen

    try:
        ns.create()
        state["daemon"] = ServiceDaemon(
            tmp, log_path=logs / "alacrityvmd.log",
            config_extra=f'socket_group = "{group}"',
            objects=(f'[[instance]]\nname = "{INSTANCE}"\n\n'
                     f'[[device]]\nname = "{INSTANCE}-net0"\ninstance = "{INSTANCE}"\n'
                     f'tap = "{TAP}"\nnetns = "{ns.name}"\nmac = "{MAC}"\n')).start()
        ns.ip(f"addr add {NS_IP}/24 dev {TAP}")
        ns.ip(f"link set {TAP} up")
        state["dnsmasq"] = Dnsmasq(ns, tmp, logs / "dnsmasq.log", TAP, MAC, RANGE).start()
        (tmp / "libvirt").mkdir()
        lv = state["libvirtd"] = PrivateLibvirtd(tmp / "libvirt", QEMU_USER, group).start()
        xml = avmctl(state["daemon"].socket, "libvirt-xml", INSTANCE, "--domain", guest_image,
                     "--disk", overlay, "--authorized-keys", f"{key}.pub", "--virt-type", "qemu",
                     "--memory", "1536", "--name", name, check=True).stdout
        (logs / "domain.xml").write_text(xml)
        (tmp / "domain.xml").write_text(xml)
        lv.virsh("define", str(tmp / "domain.xml"))
        lv.virsh("start", name)
        vm = Domain(lv, name)
        addr = state["dnsmasq"].wait_ack(vm, timeout=600)
        ssh = ns.cmd(["ssh", "-i", key] + SSH_OPTS + [f"root@{addr}"])
        seconds = wait_ssh(ssh, vm, timeout=600)
        print(f"libvirt guest: SSH over venet after {seconds:.1f} s (virsh start -> SSH)")
        state.update(ssh=ssh, addr=addr, xml=xml, vm=vm)
        yield state, teardown
    finally:
        teardown()


def test_ssh_and_ethtool_over_venet(domain):
    state, _ = domain
    out = run(state["ssh"] + ["ip -o link; ls /sys/firmware/qemu_fw_cfg/by_name/opt/alacrityvm"],
              timeout=120).stdout
    print(out)
    link = re.search(rf"^\d+: (\S+?):.*link/ether {MAC}", out, re.M)
    assert link, "no interface with the venet MAC"
    ifname = link.group(1)
    # venet is the only NIC; the key came by fw_cfg (there is ACPI)
    assert set(re.findall(r"^\d+: (\S+?):", out, re.M)) == {"lo", ifname}
    assert "authorized_keys" in out
    check_ethtool(state["ssh"], ifname)


def test_qemu_reaches_the_socket_through_its_group(domain):
    state, _ = domain
    pids = qemu_processes(state["name"])
    assert len(pids) == 1, pids
    proc = os.stat(f"/proc/{pids[0]}")
    assert pwd.getpwuid(proc.st_uid).pw_name == QEMU_USER
    assert grp.getgrgid(proc.st_gid).gr_name == state["group"]
    sock = state["tmp"] / f"{INSTANCE}.sock"
    st = sock.stat()
    assert grp.getgrgid(st.st_gid).gr_name == state["group"]
    assert st.st_mode & 0o777 == 0o660
    state["daemon"].wait_log(rf"instance {INSTANCE} created .*\(group {state['group']}\)",
                             timeout=5)
    state["daemon"].wait_log(r"link RUN", timeout=5)


def test_destroy_and_undefine_leave_nothing(domain):
    _, teardown = domain
    seen = teardown()
    print(seen)
    assert seen["destroy"] == 0 and seen["undefine"] == 0
    assert seen["domains"] == []
    assert seen["qemu"] == [] and seen["left"] == []
    assert seen["sockets"] == []
    assert not seen["netns"] and not seen["tmp"]
    # the host's network is as it was: libvirt's default network never ran
    assert subprocess.run(["ip", "link", "show", "virbr0"], capture_output=True,
                          check=False).returncode != 0
