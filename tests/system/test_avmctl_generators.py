"""The generators (userspace/generate) against the real consumers.

qemu_args: Debian's qemu-system-x86_64 (TCG, stopped with -S, no kernel)
started with exactly the generated arguments connects to a real alacrityvmd
in legacy mode: the daemon logs the client joining, and QMP query-pci shows
QEMU's ivshmem-doorbell (1af4:1110) with the daemon's region as BAR2 and
its vectors as MSI-X.  libvirt_shmem_xml: the element inside a complete
domain XML passes virt-xml-validate (libvirt-clients); a broken one fails,
so the validator is really checking.  `avmctl libvirt-xml INSTANCE --domain
IMAGE_DIR` against a real daemon: a whole domain that validates, boots the
image's kernel with ACPI, hands the key over by fw_cfg, has the daemon's
element as its only network (tests/images/test_libvirt.py boots it).  Runs
in about 6 s.
"""

import subprocess
import xml.etree.ElementTree as ET

import pytest

from lib.avmctl import avmctl, cmake_binary
from lib.service_daemon import ServiceDaemon
from qemu import Qemu  # tests/lib

MIB = 1 << 20


def generate(kind, name, sock, vectors):
    tool = cmake_binary("tests/unit/generate/avm-generate-print")
    r = subprocess.run([str(tool), kind, name, str(sock), str(vectors)],
                       capture_output=True, text=True, check=True)
    return r.stdout


@pytest.mark.parametrize("vectors,region", [(4, "4M"), (2, "8M")])
def test_qemu_accepts_the_generated_args(start_daemon, short_tmp, log_dir, vectors, region):
    # A comma in the socket's directory: QEMU must get it doubled.
    sockdir = short_tmp / "a,b"
    sockdir.mkdir()
    daemon = start_daemon(region_size=region, vectors=vectors, socket=sockdir / "vm.sock")
    args = generate("qemu", "vm1", daemon.socket, vectors).splitlines()
    assert args[0] == "-chardev" and args[2] == "-device"
    assert ",path=" + str(sockdir).replace(",", ",,") + "/vm.sock" in args[1]

    qemu = Qemu(paused=True, memory="64", qmp=short_tmp / "qmp.sock", args=args,
                log_path=log_dir / "qemu.log").start()
    try:
        daemon.wait_log(r"client (\d+) joined")
        qmp = qemu.qmp()
        try:
            buses = qmp.cmd("query-pci")
        finally:
            qmp.close()
        devs = [d for bus in buses for d in bus["devices"]
                if d["id"]["vendor"] == 0x1AF4 and d["id"]["device"] == 0x1110]
        assert len(devs) == 1, buses
        bars = {b["bar"]: b for b in devs[0]["regions"]}
        assert bars[2]["size"] == int(region[:-1]) * MIB
        assert qemu.alive(), "QEMU exited"
    finally:
        qemu.kill()
    daemon.wait_log(r"client (\d+) left")


DOMAIN = """<domain type='kvm'>
  <name>avm-test</name>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
{shmem}
  </devices>
</domain>
"""


def validate(tmp, text):
    f = tmp / "domain.xml"
    f.write_text(text)
    return subprocess.run(["virt-xml-validate", str(f), "domain"],
                          capture_output=True, text=True)


@pytest.mark.parametrize("sock", ["/run/alacrityvm/vm1.sock", "/tmp/o'dd & <weird>,dir/vm.sock"])
def test_libvirt_xml_validates(short_tmp, sock):
    shmem = generate("libvirt", "vm1", sock, 4)
    assert shmem.startswith("<shmem name='avm-vm1'>\n")
    r = validate(short_tmp, DOMAIN.format(shmem=shmem))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "validates" in r.stdout + r.stderr


def test_libvirt_validator_rejects_a_broken_element(short_tmp):
    shmem = generate("libvirt", "vm1", "/run/x.sock", 4)
    for broken in (shmem.replace("ivshmem-doorbell", "ivshmem-bell"),
                   shmem.replace("ioeventfd='on'", "ioeventfd='yes please'"),
                   shmem.replace("<server", "<serve")):
        r = validate(short_tmp, DOMAIN.format(shmem=broken))
        assert r.returncode != 0, broken


def test_avmctl_writes_a_whole_domain_for_an_image(short_tmp, log_dir, monkeypatch):
    d = ServiceDaemon(short_tmp, log_path=log_dir / "alacrityvmd.log",
                      objects='[[instance]]\nname = "vm1"\nvectors = 2\n').start()
    try:
        shmem = avmctl(d.socket, "libvirt-xml", "vm1", check=True).stdout
        assert shmem.startswith("<shmem name='avm-vm1'>") and "<domain" not in shmem
        monkeypatch.chdir(short_tmp)
        text = avmctl(d.socket, "libvirt-xml", "vm1", "--domain", "img", "--disk", "vm1.qcow2",
                      "--authorized-keys", "/k/vm1.pub", "--virt-type", "qemu", "--memory",
                      "1536", "--vcpus", "2", "--name", "guest1", check=True).stdout
        plain = avmctl(d.socket, "libvirt-xml", "vm1", "--domain", str(short_tmp / "img"),
                       check=True).stdout
        refused = avmctl(d.socket, "libvirt-xml", "vm1", "--domain", "img",
                         "--virt-type", "xen")
        orphan = avmctl(d.socket, "libvirt-xml", "vm1", "--memory", "512")
    finally:
        d.stop()
    r = validate(short_tmp, text)
    assert r.returncode == 0, text + r.stdout + r.stderr
    dom = ET.fromstring(text)
    img = short_tmp / "img"
    assert dom.get("type") == "qemu"
    assert dom.findtext("name") == "guest1"
    assert dom.findtext("memory") == "1536" and dom.find("memory").get("unit") == "MiB"
    assert dom.findtext("vcpu") == "2"
    assert dom.findtext("os/kernel") == str(img / "vmlinuz")
    assert dom.findtext("os/initrd") == str(img / "initrd.img")
    assert "root=/dev/vda" in dom.findtext("os/cmdline")
    assert "console=ttyS0" in dom.findtext("os/cmdline")
    assert dom.find("features/acpi") is not None
    entry = dom.find("sysinfo[@type='fwcfg']/entry")
    assert entry.get("name") == "opt/alacrityvm/authorized_keys"
    assert entry.get("file") == "/k/vm1.pub"
    devs = dom.find("devices")
    assert [e.tag for e in devs] == ["disk", "shmem", "rng", "serial", "console"]
    assert devs.find("disk/source").get("file") == str(short_tmp / "vm1.qcow2")
    assert devs.find("disk/target").get("dev") == "vda"
    # the daemon's element as it is (tags and attributes, every level)
    assert ([(e.tag, e.attrib) for e in devs.find("shmem").iter()]
            == [(e.tag, e.attrib) for e in ET.fromstring(shmem).iter()])
    assert devs.find("interface") is None
    # defaults: the instance's name, KVM, the image's disk, no key
    dom = ET.fromstring(plain)
    assert dom.get("type") == "kvm" and dom.findtext("name") == "vm1"
    assert dom.find("devices/disk/source").get("file") == str(img / "disk.qcow2")
    assert dom.find("sysinfo") is None
    assert validate(short_tmp, plain).returncode == 0
    # usage errors: a type libvirt's QEMU driver does not run, an option
    # without --domain
    assert refused.returncode == 2 and "<domain" not in refused.stdout
    assert orphan.returncode == 2 and "<" not in orphan.stdout
