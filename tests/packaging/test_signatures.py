"""Every RPM carries a signature that verifies with the exported key, and
the repository metadata signatures (InRelease, Release.gpg, repomd.xml.asc)
verify; a changed byte makes each of them fail."""

import os
import shutil

import pytest

from conftest import DIST, TOP, VERSION, run, tamper

KEYRING = DIST / "keys" / "alacrityvm-archive-keyring.gpg"
APT = DIST / "repo" / "apt" / "dists" / "bookworm"
RPMREPO = DIST / "repo" / "rpm"


def test_rpm_signatures_verify(rpms, rpm_home):
    for rpm in rpms:
        out = run(["rpmkeys", "-Kv", rpm], env=rpm_home)
        assert "Signature, key ID" in out.stdout and ": OK" in out.stdout, rpm
        assert "NOKEY" not in out.stdout and "NOT OK" not in out.stdout


def test_rpm_unknown_key_fails(rpms, scratch):
    """Without the key imported, rpm -K refuses (NOKEY)."""
    home = scratch / "home"
    home.mkdir()
    (home / ".rpmmacros").write_text(f"%_dbpath {home}/rpmdb\n")
    out = run(["rpmkeys", "-K", rpms[0]], env={"HOME": str(home), "PATH": "/usr/bin:/bin"},
              check=False)
    print(out.stdout)
    assert out.returncode != 0 and "SIGNATURES NOT OK" in out.stdout


def test_tampered_rpm_rejected(rpms, rpm_home, scratch):
    for rpm in rpms:
        bad = scratch / rpm.name
        shutil.copy(rpm, bad)
        tamper(bad)
        out = run(["rpmkeys", "-K", bad], env=rpm_home, check=False)
        assert out.returncode != 0 and "NOT OK" in out.stdout, rpm


@pytest.mark.parametrize("signed,data", [
    ("InRelease", None),
    ("Release.gpg", "Release"),
])
def test_apt_release_signature(signed, data, scratch):
    args = [APT / signed] + ([APT / data] if data else [])
    run(["gpgv", "--keyring", KEYRING, *args])
    # the same with one byte of the signed text changed
    copy = scratch / (data or signed)
    shutil.copy(APT / (data or signed), copy)
    tamper(copy, b"SHA256:")
    bad = [copy] if not data else [APT / signed, copy]
    out = run(["gpgv", "--keyring", KEYRING, *bad], check=False)
    assert out.returncode != 0 and "BAD signature" in out.stdout


def test_repomd_signature(scratch):
    run(["gpgv", "--keyring", KEYRING, RPMREPO / "repodata/repomd.xml.asc",
         RPMREPO / "repodata/repomd.xml"])
    copy = scratch / "repomd.xml"
    shutil.copy(RPMREPO / "repodata/repomd.xml", copy)
    tamper(copy, b"<revision>")
    out = run(["gpgv", "--keyring", KEYRING, RPMREPO / "repodata/repomd.xml.asc", copy],
              check=False)
    assert out.returncode != 0 and "BAD signature" in out.stdout


def test_development_key_is_marked():
    """Without a key from the environment, the key says it is not for
    production (in every place a user sees it)."""
    out = run(["gpg", "--show-keys", "--with-colons", KEYRING]).stdout
    uids = [line.split(":")[9] for line in out.splitlines() if line.startswith("uid:")]
    assert uids, "no user id in the exported key"
    if "AVM_SIGNING_KEY" not in os.environ:
        assert all("NOT FOR PRODUCTION" in uid for uid in uids), uids


MODULE_MAGIC = b"~Module signature appended~\n"


def split_module_signature(ko: bytes):
    """(signed content, PKCS#7 signature) of a module signed by sign-file:
    content | PKCS#7 | struct module_signature (12 bytes) | magic."""
    assert ko.endswith(MODULE_MAGIC), "module is not signed"
    info = ko[-len(MODULE_MAGIC) - 12:-len(MODULE_MAGIC)]
    assert info[2] == 2, "signature is not PKCS#7"  # id_type PKEY_ID_PKCS7
    sig_len = int.from_bytes(info[8:12], "big")
    end = len(ko) - len(MODULE_MAGIC) - 12
    return ko[:end - sig_len], ko[end - sig_len:end]


def cms_verify(content: bytes, sig: bytes, cert, scratch):
    (scratch / "content").write_bytes(content)
    (scratch / "sig.p7").write_bytes(sig)
    return run(["openssl", "cms", "-verify", "-binary", "-inform", "DER",
                "-in", scratch / "sig.p7", "-content", scratch / "content",
                "-certfile", cert, "-nointern", "-noverify", "-out", "/dev/null"],
               check=False)


def test_prebuilt_modules_signed(debs, scratch):
    """alacrityvm-modules-KVER: vbus_pci and vbus_enet built for Debian's
    kernel, signed by sign-file; the signature verifies against the shipped
    certificate (the one to enrol with mokutil) and a changed byte fails."""
    deb = next(d for d in debs if d.name.startswith("alacrityvm-modules-"))
    kver = run([TOP / "scripts/kernel-version.sh"]).stdout.strip()
    assert deb.name.startswith(f"alacrityvm-modules-{kver}_{VERSION}_")
    run(["dpkg-deb", "-x", deb, scratch / "pkg"])
    shipped = scratch / "pkg/usr/share/alacrityvm/alacrityvm-module-signing.der"
    assert shipped.read_bytes() == (DIST / "keys/alacrityvm-module-signing.der").read_bytes()
    cert = DIST / "keys/alacrityvm-module-signing.pem"
    for mod in ("vbus_pci", "vbus_enet"):
        ko = scratch / f"pkg/lib/modules/{kver}/updates/alacrityvm/{mod}.ko"
        out = run(["/sbin/modinfo", "-F", "vermagic", ko]).stdout
        assert out.startswith(f"{kver} SMP"), out
        content, sig = split_module_signature(ko.read_bytes())
        assert cms_verify(content, sig, cert, scratch).returncode == 0, mod
        bad = bytearray(content)
        bad[len(bad) // 2] ^= 0x01
        assert cms_verify(bytes(bad), sig, cert, scratch).returncode != 0, mod
    if "AVM_MODULE_CERT" not in os.environ:
        subject = run(["openssl", "x509", "-noout", "-subject", "-in", cert]).stdout
        assert "NOT FOR PRODUCTION" in subject
