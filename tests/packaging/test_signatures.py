"""Every RPM carries a signature that verifies with the exported key, and
the repository metadata signatures (InRelease, Release.gpg, repomd.xml.asc)
verify; a changed byte makes each of them fail.  apt itself accepts the apt
repository through InRelease and through Release + Release.gpg alone, and
refuses it with a changed Release.  No gpg-agent of the build's development
key outlives the signing scripts."""

import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import BUILD, DIST, TOP, VERSION, run, tamper

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


APT_CONF = """Dir::Etc "{d}/etc";
Dir::State "{d}/state";
Dir::Cache "{d}/cache";
APT::Sandbox::User "root";
"""


def apt_update(repo, scratch):
    """apt-get update of the file:// repository alone, its key as signed-by,
    with a private configuration, state and cache (APT_CONFIG is read before
    anything under /etc/apt): the host's apt is neither read nor changed."""
    d = scratch / "apt"
    for sub in ("etc/apt.conf.d", "etc/sources.list.d", "etc/preferences.d",
                "state/lists/partial", "cache/archives/partial"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    (d / "apt.conf").write_text(APT_CONF.format(d=d))
    (d / "etc/sources.list").write_text(
        f"deb [signed-by={KEYRING}] file://{repo} bookworm main\n")
    out = run(["apt-get", "update", "-o", "APT::Update::Error-Mode=any"],
              env=dict(os.environ, APT_CONFIG=str(d / "apt.conf")), check=False)
    print(out.stdout)
    return out, sorted(p.name for p in (d / "state/lists").glob("*_*"))


@pytest.mark.parametrize("signed", ["InRelease", "Release.gpg"])
def test_apt_accepts_repository(signed, scratch):
    """apt reads InRelease if there is one, else Release + Release.gpg: both
    must be accepted (apt 2.6 refuses a binary Release.gpg: "Detached
    signature file ... is in unsupported binary format"), and a changed
    Release must be refused."""
    repo = scratch / "repo"
    shutil.copytree(DIST / "repo" / "apt", repo)
    dist = repo / "dists/bookworm"
    if signed == "Release.gpg":
        (dist / "InRelease").unlink()
    out, lists = apt_update(repo, scratch / "good")
    assert out.returncode == 0 and "W:" not in out.stdout and "E:" not in out.stdout
    assert any(name.endswith(f"_bookworm_{signed}") for name in lists), lists
    assert any(name.endswith("_binary-amd64_Packages") for name in lists), lists
    tamper(dist / ("InRelease" if signed == "InRelease" else "Release"), b"SHA256:")
    out, lists = apt_update(repo, scratch / "bad")
    assert out.returncode != 0 and "BADSIG" in out.stdout
    assert not any(name.endswith("_Packages") for name in lists), lists


def gpg_agents(home: Path, wait=5.0):
    """pids of the gpg-agents serving GNUPGHOME home (gpg starts them as
    gpg-agent --homedir HOME ... --daemon), once none is left or after
    `wait` seconds (an agent told to stop takes a moment to exit)."""
    deadline = time.monotonic() + wait
    while True:
        pids = []
        for proc in Path("/proc").iterdir():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if os.path.basename(argv[0]) == b"gpg-agent" and str(home).encode() in argv:
                pids.append(int(proc.name))
        if not pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


@pytest.mark.skipif("AVM_SIGNING_KEY" in os.environ,
                    reason="a production GNUPGHOME's agent is the user's")
def test_no_gpg_agent_left(scratch):
    """The development key's gpg-agent (packaging/lib.sh) is the build's
    own: none is running after the repositories are signed."""
    home = BUILD / "packaging" / "gnupg"
    run(["gpgconf", "--kill", "gpg-agent"], env=dict(os.environ, GNUPGHOME=str(home)))
    assert not gpg_agents(home)
    dist = scratch / "dist"
    for sub in ("deb", "rpm", "keys"):
        shutil.copytree(DIST / sub, dist / sub)
    run([TOP / "packaging/repos.sh"], env=dict(os.environ, AVM_DIST=str(dist)))
    assert (dist / "repo/apt/dists/bookworm/InRelease").stat().st_size > 0
    assert not gpg_agents(home), "gpg-agent left running by packaging/repos.sh"


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
