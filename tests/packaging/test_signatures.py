"""Every RPM carries a signature that verifies with the exported key, and
the repository metadata signatures (InRelease, Release.gpg, repomd.xml.asc)
verify; a changed byte makes each of them fail."""

import shutil

import pytest

from conftest import DIST, run, tamper

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
    if "AVM_SIGNING_KEY" not in __import__("os").environ:
        assert all("NOT FOR PRODUCTION" in uid for uid in uids), uids
