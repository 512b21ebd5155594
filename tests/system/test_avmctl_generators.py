"""The generators (userspace/generate) against the real consumers.

qemu_args: Debian's qemu-system-x86_64 (TCG, stopped with -S, no kernel)
started with exactly the generated arguments connects to a real alacrityvmd
in legacy mode: the daemon logs the client joining, and QMP query-pci shows
QEMU's ivshmem-doorbell (1af4:1110) with the daemon's region as BAR2 and
its vectors as MSI-X.  libvirt_shmem_xml: the element inside a complete
domain XML passes virt-xml-validate (libvirt-clients); a broken one fails,
so the validator is really checking.  Runs in about 5 s.
"""

import subprocess

import pytest

from lib.avmctl import cmake_binary
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
