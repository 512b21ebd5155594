"""lintian and rpmlint over every package built, with no errors (and, for
lintian, no warnings): what is left is overridden with a written reason in
packaging/debian/*.lintian-overrides and packaging/rpm/alacrityvm.rpmlintrc."""

import re

import pytest

from conftest import TOP, VERSION, run


def test_lintian(debs):
    out = run(["lintian", "--fail-on", "error,warning", "--display-info", *debs],
              check=False)
    print(out.stdout)
    assert out.returncode == 0, "lintian found errors or warnings"
    assert not re.search(r"^[EW]: ", out.stdout, re.M)


def test_rpmlint(rpms, rpm_home):
    out = run(["rpmlint", "-c", TOP / "packaging/rpm/rpmlint.toml",
               "-r", TOP / "packaging/rpm/alacrityvm.rpmlintrc", *rpms],
              env=rpm_home, check=False)
    print(out.stdout)
    m = re.search(r"(\d+) errors, (\d+) warnings", out.stdout)
    assert m, "no rpmlint summary"
    assert out.returncode == 0 and m.group(1) == "0", "rpmlint found errors"


def test_one_version(debs, rpms):
    """VERSION reaches every package."""
    for deb in debs:
        v = run(["dpkg-deb", "-f", deb, "Version"]).stdout.strip()
        assert v == VERSION, deb
    for rpm in rpms:
        v = run(["rpm", "-qp", "--nosignature", "--qf", "%{VERSION}", rpm]).stdout
        assert v == VERSION, rpm


@pytest.mark.parametrize("side", ["guest", "host"])
def test_dkms_conf_one_generator(debs, rpms, scratch, side):
    """Both formats ship the dkms.conf of packaging/dkms/mkconf.sh; they
    differ only in DEST_MODULE_LOCATION (Debian /updates/dkms, Fedora
    /extra), and every obj-m module of the Kbuild file is in it."""
    deb = next(d for d in debs if f"{side}-dkms" in d.name)
    rpm = next(r for r in rpms if f"{side}-dkms" in r.name)
    run(["dpkg-deb", "-x", deb, scratch / "deb"])
    (scratch / "rpm").mkdir()
    run(["sh", "-c", f"rpm2cpio {rpm} | cpio -idm --quiet"], cwd=scratch / "rpm")
    conf = f"usr/src/alacrityvm-{side}-{VERSION}/dkms.conf"
    deb_conf = (scratch / "deb" / conf).read_text()
    rpm_conf = (scratch / "rpm" / conf).read_text()
    assert deb_conf.replace("/updates/dkms", "/extra") == rpm_conf
    kbuild = (TOP / f"modules/{side}/Kbuild").read_text()
    for mod in re.findall(r"^obj-m\s*\+=\s*(\w+)\.o", kbuild, re.M):
        assert f'="{mod}"' in deb_conf
    assert f'PACKAGE_VERSION="{VERSION}"' in deb_conf
    # the same source files in both

    def tree(root):
        base = root / f"usr/src/alacrityvm-{side}-{VERSION}"
        return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())
    assert tree(scratch / "deb") == tree(scratch / "rpm")
