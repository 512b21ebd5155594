"""dnf with gpgcheck=1 and repo_gpgcheck=1 against the file:// rpm
repository, in an --installroot: it resolves and downloads alacrityvm,
installs alacrityvm-release (package signature checked), and the .repo file
that package ships works as installed.  A changed repomd.xml, a changed RPM
and an unsigned RPM in correctly signed metadata are rejected."""

import os
import shutil

from conftest import DIST, TOP, VERSION, run, tamper

REPO = """[alacrityvm]
name=AlacrityVM test
baseurl=file://{repo}
enabled=1
gpgcheck=1
repo_gpgcheck=1
gpgkey=file://{key}
"""
KEY = DIST / "keys" / "RPM-GPG-KEY-alacrityvm"


def dnf(base, *args, repo=None, reposdir=None, check=True):
    """dnf in base/root with its own cache and repository definition."""
    if reposdir is None:
        reposdir = base / "repos.d"
        reposdir.mkdir(parents=True, exist_ok=True)
        (reposdir / "alacrityvm.repo").write_text(
            REPO.format(repo=repo or DIST / "repo" / "rpm", key=KEY))
    return run(["dnf", "-y", f"--installroot={base / 'root'}",
                f"--setopt=reposdir={reposdir}", f"--setopt=cachedir={base / 'cache'}",
                "--releasever=12", "--disableplugin=local", "--setopt=skip_if_unavailable=False",
                "--setopt=install_weak_deps=False", *args], check=check)


def copy_repo(scratch):
    dest = scratch / "repo"
    shutil.copytree(DIST / "repo" / "rpm", dest)
    return dest


def test_dnf_resolves_and_downloads(scratch, rpm_home):
    out = dnf(scratch, "download", f"--destdir={scratch / 'dl'}", "alacrityvm")
    got = sorted(p.name for p in (scratch / "dl").iterdir())
    assert got == [f"alacrityvm-{VERSION}-1.x86_64.rpm"], out.stdout
    run(["rpmkeys", "-K", scratch / "dl" / got[0]], env=rpm_home)


def test_dnf_installs_release_and_its_repo_file_works(scratch):
    dnf(scratch, "install", "alacrityvm-release")
    root = scratch / "root"
    repo_file = (root / "etc/yum.repos.d/alacrityvm.repo").read_text()
    assert "gpgcheck=1" in repo_file and "repo_gpgcheck=1" in repo_file
    assert (root / "etc/pki/rpm-gpg/RPM-GPG-KEY-alacrityvm").read_bytes() == KEY.read_bytes()
    out = run(["rpm", f"--root={root}", "-q", "alacrityvm-release", "gpg-pubkey"])
    assert f"alacrityvm-release-{VERSION}-1.noarch" in out.stdout
    # the shipped definition, pointed at the local repository and key
    shipped = scratch / "shipped.d"
    shipped.mkdir()
    (shipped / "alacrityvm.repo").write_text(
        repo_file.replace(repo_file.split("baseurl=")[1].split("\n")[0],
                          f"file://{DIST / 'repo' / 'rpm'}")
        .replace("file:///etc/pki", f"file://{root}/etc/pki"))
    out = dnf(scratch, "--refresh", "download", f"--destdir={scratch / 'dl'}",
              "alacrityvm-dracut", reposdir=shipped)
    assert (scratch / "dl" / f"alacrityvm-dracut-{VERSION}-1.noarch.rpm").exists()


def test_tampered_repomd_rejected(scratch):
    repo = copy_repo(scratch)
    tamper(repo / "repodata/repomd.xml", b"<revision>")
    out = dnf(scratch, "makecache", repo=repo, check=False)
    print(out.stdout)
    assert out.returncode != 0
    assert "GPG signature verification error" in out.stdout or "Bad GPG signature" in out.stdout


def test_tampered_rpm_rejected(scratch):
    repo = copy_repo(scratch)
    tamper(next(repo.glob("packages/alacrityvm-release-*.rpm")))
    out = dnf(scratch, "install", "alacrityvm-release", repo=repo, check=False)
    print(out.stdout)
    assert out.returncode != 0
    assert "incorrect checksum" in out.stdout or "GPG check FAILED" in out.stdout
    assert not (scratch / "root/etc/yum.repos.d/alacrityvm.repo").exists()


def test_unsigned_rpm_rejected(scratch):
    """Metadata signed with the right key, the package itself unsigned:
    gpgcheck=1 refuses it."""
    dist = scratch / "dist"
    shutil.copytree(DIST / "keys", dist / "keys")
    (dist / "rpm").mkdir()
    release = next(DIST.glob("rpm/alacrityvm-release-*.noarch.rpm"))
    shutil.copy(release, dist / "rpm")
    run(["rpmsign", "--delsign", dist / "rpm" / release.name])
    run([TOP / "packaging/repos.sh", "rpm"], env=dict(os.environ, AVM_DIST=str(dist)))
    out = dnf(scratch, "install", "alacrityvm-release", repo=dist / "repo/rpm", check=False)
    print(out.stdout)
    assert out.returncode != 0
    assert "not signed" in out.stdout or "GPG check FAILED" in out.stdout
    assert not (scratch / "root/etc/yum.repos.d/alacrityvm.repo").exists()
