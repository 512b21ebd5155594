"""The image files themselves: SHA256SUMS signed by the packaging key and
matching the files, a tampered checksum list refused, the guest initramfs
holding the vbus drivers, the host image holding nothing of ours, both
disks valid compressed qcow2 images."""

import json
import re
import shutil

import pytest

from conftest import FILES, KEYRING, TOP, run


@pytest.fixture(params=["guest", "host"])
def image(request, guest_image, host_image):
    return guest_image if request.param == "guest" else host_image


def test_checksums_signed_and_match(image):
    out = run(["gpgv", "--keyring", KEYRING, image / "SHA256SUMS.asc", image / "SHA256SUMS"])
    print(out.stdout)
    assert "Good signature" in out.stdout
    listed = re.findall(r"^[0-9a-f]{64}  (\S+)$", (image / "SHA256SUMS").read_text(), re.M)
    assert sorted(listed) == sorted(FILES)
    check = run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=image)
    assert check.stdout.count(": OK") == len(FILES)


def test_tampered_checksums_refused(image, scratch):
    for f in ("SHA256SUMS", "SHA256SUMS.asc"):
        shutil.copy(image / f, scratch / f)
    sums = scratch / "SHA256SUMS"
    text = sums.read_text()
    # one hex digit of the disk's checksum changed
    i = text.index("  disk.qcow2") - 1
    sums.write_text(text[:i] + ("0" if text[i] != "0" else "1") + text[i + 1:])
    out = run(["gpgv", "--keyring", KEYRING, scratch / "SHA256SUMS.asc", sums], check=False)
    print(out.stdout)
    assert out.returncode != 0
    assert "BAD signature" in out.stdout


def test_qcow2(image):
    info = json.loads(run(["qemu-img", "info", "--output=json", image / "disk.qcow2"]).stdout)
    mib = info["actual-size"] / 2**20
    print(f"{image.name}: qcow2 {mib:.0f} MiB on disk, virtual {info['virtual-size'] >> 20} MiB")
    assert info["format"] == "qcow2"
    run(["qemu-img", "check", image / "disk.qcow2"])


def test_guest_initramfs_has_vbus_drivers(guest_image):
    out = run(["lsinitrd", guest_image / "initrd.img"]).stdout
    mods = re.findall(r"\S*/(vbus_\w+)\.ko", out)
    print("\n".join(line for line in out.splitlines()
                    if "vbus_" in line or "force_drivers" in line))
    assert "vbus_pci" in mods and "vbus_enet" in mods
    # the dracut module of alacrityvm-dracut put them there
    assert re.search(r"^alacrityvm$", out, re.M), "dracut module alacrityvm not in the image"


def test_host_initramfs_has_nothing_of_ours(host_image):
    out = run(["lsinitrd", host_image / "initrd.img"], check=False).stdout
    # initramfs-tools builds it; lsinitrd reads it all the same
    assert "kernel/" in out
    assert "vbus_" not in out


def test_docs_libvirt_domain_validates(scratch):
    """The libvirt domain in docs/images.md is valid libvirt XML."""
    text = (TOP / "docs" / "images.md").read_text()
    xml = re.search(r"```xml\n(.*?)```", text, re.S).group(1)
    assert "<shmem" in xml and "ivshmem-doorbell" in xml
    (scratch / "domain.xml").write_text(xml)
    out = run(["virt-xml-validate", scratch / "domain.xml", "domain"])
    assert "validates" in out.stdout
