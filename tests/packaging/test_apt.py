"""apt in a fresh Debian bookworm root (mmdebstrap, cached tarball): the
signed file:// repository is configured the way a user does it (the archive
key in /usr/share/keyrings, a deb822 .sources with Signed-By), signature
checking on, and `apt install alacrityvm alacrityvm-guest-dkms` works; DKMS
builds the guest modules for Debian's 6.1 kernel in the root; the dracut
module puts them in an initramfs.  A changed .deb, a changed InRelease and a
repository signed by another key are rejected."""

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import DIST, HERE, VERSION, WORK, run, tamper

SOURCES = """Types: deb
URIs: file://{uri}
Suites: bookworm
Components: main
Signed-By: {keyring}
"""
KEYRING = "/usr/share/keyrings/alacrityvm-archive-keyring.gpg"


@pytest.fixture(scope="module")
def root():
    tarball = Path(subprocess.run([HERE / "rootfs.sh"], check=True, text=True,
                                  stdout=subprocess.PIPE).stdout.strip())
    # The root lives in a tmpfs for the tests of this module: unpacking is
    # quick and removing it is an unmount (deleting ~1 GB of small files on
    # a busy disk took longer than all the tests).
    root = WORK / "root"
    if subprocess.run(["mountpoint", "-q", root], check=False).returncode == 0:
        run(["umount", "--lazy", root])
    if root.exists():
        run(["rm", "-rf", "--one-file-system", root])
    root.mkdir(parents=True)
    run(["mount", "-t", "tmpfs", "-o", "size=4g,mode=755", "avm-test-root", root])
    run(["tar", "--numeric-owner", "-xf", tarball, "-C", root])
    # Debian packages fetched by earlier runs (kernel image, libraries), so
    # that a rerun downloads nothing; ours are never cached.
    archives = tarball.parent / "archives"
    archives.mkdir(exist_ok=True)
    for deb in archives.glob("*.deb"):
        shutil.copy(deb, root / "var/cache/apt/archives")
    # the repository, the key and the source, as a user would set them up
    shutil.copytree(DIST / "repo" / "apt", root / "srv/alacrityvm/apt")
    shutil.copy(DIST / "keys" / "alacrityvm-archive-keyring.gpg", root / KEYRING.lstrip("/"))
    (root / "etc/apt/sources.list.d/alacrityvm.sources").write_text(
        SOURCES.format(uri="/srv/alacrityvm/apt", keyring=KEYRING))
    yield root
    for deb in (root / "var/cache/apt/archives").glob("*.deb"):
        if not deb.name.startswith("alacrityvm") and not (archives / deb.name).exists():
            shutil.copy(deb, archives)
    run(["umount", root])
    root.rmdir()


def chroot(root, script, check=True, timeout=900):
    return run([HERE / "chroot.sh", root, "/bin/bash", "-euo", "pipefail", "-c", script],
               check=check, timeout=timeout)


def kernel_release(root):
    out = chroot(root, "dpkg-query -W -f='${Depends}' linux-headers-amd64").stdout
    import re
    return re.search(r"linux-headers-(\d\S*-amd64)", out).group(1)


def test_apt_install(root):
    out = chroot(root, """
        apt-get update -q -o APT::Update::Error-Mode=any
        apt-get install -y -q --no-install-recommends \
            alacrityvm alacrityvm-guest-dkms alacrityvm-dracut alacrityvm-archive-keyring
        dpkg-query -W alacrityvm alacrityvm-guest-dkms alacrityvm-dracut \
            alacrityvm-archive-keyring
        alacrityvmd --version
    """)
    print(out.stdout[-3000:])
    for pkg in ("alacrityvm", "alacrityvm-guest-dkms", "alacrityvm-dracut",
                "alacrityvm-archive-keyring"):
        assert f"{pkg}\t{VERSION}" in out.stdout
    assert out.stdout.rstrip().endswith(VERSION)


def test_dkms_built_for_debian_kernel(root):
    kver = kernel_release(root)
    assert kver.startswith("6.1.")
    out = chroot(root, f"""
        dkms status alacrityvm-guest/{VERSION}
        # run by the package's postinst already; idempotent
        dkms install alacrityvm-guest/{VERSION} -k {kver} >/dev/null || true
        for m in vbus_pci vbus_enet; do
            f=$(modinfo -k {kver} -n $m)
            echo "$m $f $(modinfo -F vermagic "$f")| signer: $(modinfo -F signer "$f")"
        done
    """)
    print(out.stdout)
    assert f"alacrityvm-guest/{VERSION}, {kver}, x86_64: installed" in out.stdout
    for mod in ("vbus_pci", "vbus_enet"):
        assert f"{mod} /lib/modules/{kver}/updates/dkms/{mod}.ko {kver} SMP" in out.stdout
    # bookworm's DKMS signs what it builds with its own MOK key
    assert "signer: DKMS module signing key" in out.stdout


def test_host_dkms_built_for_debian_kernel(root):
    """The host module's DKMS package builds vbus_host for the same kernel."""
    kver = kernel_release(root)
    out = chroot(root, f"""
        apt-get install -y -q --no-install-recommends alacrityvm-host-dkms
        dkms status alacrityvm-host/{VERSION}
        f=$(modinfo -k {kver} -n vbus_host)
        echo "vbus_host $f $(modinfo -F vermagic "$f")"
        modinfo -k {kver} -F alias vbus_host
    """)
    print(out.stdout[-3000:])
    assert f"alacrityvm-host/{VERSION}, {kver}, x86_64: installed" in out.stdout
    assert f"vbus_host /lib/modules/{kver}/updates/dkms/vbus_host.ko {kver} SMP" in out.stdout


def test_dracut_puts_modules_in_initramfs(root):
    kver = kernel_release(root)
    out = chroot(root, f"""
        dracut --quiet --force --no-hostonly --no-compress --modules alacrityvm \
            --kver {kver} /tmp/initrd.img 2>/dev/null
        lsinitrd /tmp/initrd.img | grep -E 'vbus_(pci|enet)\\.ko'
    """)
    print(out.stdout)
    assert "vbus_pci.ko" in out.stdout and "vbus_enet.ko" in out.stdout


def isolated_apt(name, uri, keyring=KEYRING):
    """apt options and a sources file of their own, so a test repository
    never touches the root's configured sources or lists."""
    base = f"/tmp/apt-{name}"
    return f"""
        rm -rf {base}; mkdir -p {base}/lists/partial {base}/archives/partial
        cat >{base}/test.sources <<'SOURCES'
{SOURCES.format(uri=uri, keyring=keyring)}SOURCES
        opts=(-o Dir::Etc::SourceList={base}/test.sources -o Dir::Etc::SourceParts=-
              -o Dir::State::Lists={base}/lists -o Dir::Cache::Archives={base}/archives
              -o APT::Update::Error-Mode=any -q)
    """


def copy_repo(root, name):
    dest = root / "srv" / name
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(DIST / "repo" / "apt", dest)
    return dest


def test_tampered_deb_rejected(root):
    repo = copy_repo(root, "tampered-deb")
    deb = next(repo.glob("pool/main/alacrityvm-dracut_*.deb"))
    tamper(deb)
    out = chroot(root, isolated_apt("deb", "/srv/tampered-deb") + """
        apt-get "${opts[@]}" update
        if apt-get "${opts[@]}" install -y --reinstall alacrityvm-dracut; then
            echo INSTALLED; fi
    """)
    print(out.stdout[-2000:])
    assert "INSTALLED" not in out.stdout
    assert "Hash Sum mismatch" in out.stdout or "Size mismatch" in out.stdout


def test_tampered_inrelease_rejected(root):
    repo = copy_repo(root, "tampered-inrelease")
    tamper(repo / "dists/bookworm/InRelease", b"SHA256:")
    out = chroot(root, isolated_apt("inrelease", "/srv/tampered-inrelease") + """
        if apt-get "${opts[@]}" update; then echo UPDATED; fi
        echo POLICY
        apt-cache "${opts[@]}" policy alacrityvm-dracut
    """)
    print(out.stdout[-2000:])
    assert "UPDATED" not in out.stdout
    assert "BADSIG" in out.stdout or "signatures were invalid" in out.stdout
    # nothing from that repository is offered
    assert "tampered-inrelease" not in out.stdout.split("POLICY")[1]


def test_other_key_rejected(root):
    """The right repository with Signed-By naming another key (Debian's)."""
    out = chroot(root, isolated_apt(
        "otherkey", "/srv/alacrityvm/apt",
        keyring="/usr/share/keyrings/debian-archive-keyring.gpg") + """
        if apt-get "${opts[@]}" update; then echo UPDATED; fi
    """)
    print(out.stdout[-2000:])
    assert "UPDATED" not in out.stdout
    assert "NO_PUBKEY" in out.stdout or "is not signed" in out.stdout


def test_prebuilt_modules_install(root):
    """alacrityvm-modules-KVER installs from the repository (with Debian's
    kernel image it depends on), replacing the DKMS package, and its modules
    are the ones modprobe would load: signed by the AlacrityVM key."""
    kver = kernel_release(root)
    # INITRD=No: the kernel image's hook skips building its initramfs (not
    # what is tested here, and the slowest part of installing it)
    out = chroot(root, f"""
        INITRD=No apt-get install -y -q --no-install-recommends alacrityvm-modules-{kver}
        dpkg-query -W -f='${{db:Status-Abbrev}} ${{Package}}\\n' alacrityvm-guest-dkms || true
        for m in vbus_pci vbus_enet; do
            f=$(modinfo -k {kver} -n $m)
            echo "$m $f | signer: $(modinfo -F signer "$f")"
        done
    """, timeout=900)
    print(out.stdout[-3000:])
    for mod in ("vbus_pci", "vbus_enet"):
        assert f"{mod} /lib/modules/{kver}/updates/alacrityvm/{mod}.ko | signer: " \
            "AlacrityVM" in out.stdout
    assert "ii  alacrityvm-guest-dkms" not in out.stdout


def repack_with_version(deb: Path, version: str, dest: Path) -> Path:
    """The same package under another version: what an upgrade from the
    repository looks like to dpkg (same conffiles, newer version)."""
    tree = dest / "tree"
    shutil.rmtree(tree, ignore_errors=True)
    run(["dpkg-deb", "-R", deb, tree])
    control = tree / "DEBIAN" / "control"
    lines = [f"Version: {version}" if line.startswith("Version:") else line
             for line in control.read_text().splitlines()]
    control.write_text("\n".join(lines) + "\n")
    out = dest / f"alacrityvm_{version}_amd64.deb"
    run(["dpkg-deb", "--root-owner-group", "-b", tree, out])
    shutil.rmtree(tree)
    return out


def test_conffile_upgrade_and_purge(root):
    """The daemon package's life as an admin sees it: install from the
    repository, edit the config, upgrade (the edit survives, no prompt),
    purge (nothing of ours is left: config, state, units, binaries)."""
    conf = "/etc/alacrityvm/alacrityvmd.conf"
    deb = DIST / "deb" / f"alacrityvm_{VERSION}_amd64.deb"
    newer = repack_with_version(deb, f"{VERSION}.1", root / "tmp")
    # what the root holds before our package: every path but the ones that
    # churn on any install (dpkg/apt bookkeeping, logs, caches)
    # (/run is a tmpfs on a real system; the group stays, as Debian keeps
    # system accounts, so the shadow files' backups may appear)
    listing = """find / -xdev \\( -path /proc -o -path /sys -o -path /dev -o -path /tmp \
        -o -path /run -o -name 'group-' -o -name 'gshadow-' \
        -o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache -o -path /var/log \
        -o -path /var/lib/systemd/deb-systemd-helper-enabled \
        -o -path /var/lib/systemd/deb-systemd-helper-masked -o -path /srv \\) -prune \
        -o -print | sort"""
    out = chroot(root, f"""
        apt-get purge -y -q alacrityvm >/dev/null 2>&1 || true
        {listing} >/tmp/before
        apt-get install -y -q --no-install-recommends alacrityvm
        test -f {conf}
        dpkg-query -W -f='${{Conffiles}}\\n' alacrityvm
        sed -i '1i # edited by the admin' {conf}
        mkdir -p /var/lib/alacrityvm && echo '{{}}' >/var/lib/alacrityvm/state.json
        apt-get install -y -q /tmp/{newer.name}
        dpkg-query -W -f='${{Version}}\\n' alacrityvm
        head -1 {conf}
        ls {conf}.dpkg-* 2>/dev/null || echo NO-DPKG-FILES
        apt-get purge --autoremove -y -q alacrityvm
        {listing} >/tmp/after
        echo LEFT-BEHIND; comm -13 /tmp/before /tmp/after; echo END
    """)
    print(out.stdout[-4000:])
    assert conf in out.stdout  # listed among the package's conffiles
    assert f"{VERSION}.1\n# edited by the admin\nNO-DPKG-FILES" in out.stdout
    left = out.stdout.split("LEFT-BEHIND\n")[1].split("END")[0].split()
    assert left == [], f"left behind after purge: {left}"
