"""alacrityvm-cockpit (docs/cockpit.md): architecture-independent in both
formats, the page `make cockpit` built and nothing else in
/usr/share/cockpit/alacrityvm, the same files in the .deb and the .rpm, and
the dependencies Cockpit needs to show it."""

from conftest import BUILD, VERSION, run

PAGE = "usr/share/cockpit/alacrityvm"


def tree(base):
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())


def test_cockpit_package(debs, rpms, scratch):
    deb = next(d for d in debs if d.name.startswith("alacrityvm-cockpit_"))
    rpm = next(r for r in rpms if r.name.startswith("alacrityvm-cockpit-"))
    assert run(["dpkg-deb", "-f", deb, "Architecture"]).stdout.strip() == "all"
    depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    assert "cockpit-bridge" in depends and f"alacrityvm (>= {VERSION})" in depends, depends
    assert run(["rpm", "-qp", "--nosignature", "--qf", "%{ARCH}", rpm]).stdout == "noarch"
    requires = run(["rpm", "-qp", "--nosignature", "--requires", rpm]).stdout.splitlines()
    assert "cockpit-bridge" in requires and f"alacrityvm >= {VERSION}" in requires, requires
    run(["dpkg-deb", "-x", deb, scratch / "deb"])
    (scratch / "rpm").mkdir()
    run(["sh", "-c", f"rpm2cpio {rpm} | cpio -idm --quiet"], cwd=scratch / "rpm")
    built = tree(BUILD / "cockpit" / "alacrityvm")
    assert tree(scratch / "deb" / PAGE) == tree(scratch / "rpm" / PAGE) == built, "files differ"
    assert "manifest.json" in built and "index.html" in built
    index = (scratch / "deb" / PAGE / "index.html").read_text()
    assert '<script src="../base1/cockpit.js"></script>' in index
