"""Every document the shipped files point a user to is shipped too: the
alacrityvm package's README, docs, man pages, unit, configuration file and
programs name docs/NAME.md (and the docs link each other as NAME.md); each
of those must be in the package's documentation directory, in the .deb
(/usr/share/doc/alacrityvm, compressed or not) and in the RPM
(%{_docdir}/alacrityvm).  The list both formats ship is
packaging/debian/alacrityvm.docs."""

import gzip
import re

import pytest

from conftest import VERSION, run

DOCDIR = "usr/share/doc/alacrityvm"
# docs/NAME.md anywhere; NAME.md as a link target inside the docs themselves
DOCS_PATH = re.compile(rb"(?<![\w/.-])docs/([a-z][a-z0-9-]*\.md)\b")
DOCS_LINK = re.compile(rb"\(([a-z][a-z0-9-]*\.md)\)")


def extract(fmt, debs, rpms, dest):
    if fmt == "deb":
        pkg = next(d for d in debs if d.name.startswith(f"alacrityvm_{VERSION}_"))
        run(["dpkg-deb", "-x", pkg, dest])
    else:
        pkg = next(r for r in rpms if r.name.startswith(f"alacrityvm-{VERSION}-")
                   and r.name.endswith(".x86_64.rpm"))
        dest.mkdir()
        run(["sh", "-c", f"rpm2cpio {pkg} | cpio -idm --quiet"], cwd=dest)
    return dest


def content(path):
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def references(root):
    """{doc name: [shipped files naming it]}"""
    refs = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        text = content(path)
        found = set(DOCS_PATH.findall(text))
        if path.parent == root / DOCDIR:
            found |= set(DOCS_LINK.findall(text))
        for name in found:
            refs.setdefault(name.decode(), []).append(str(path.relative_to(root)))
    return refs


@pytest.mark.parametrize("fmt", ["deb", "rpm"])
def test_every_referenced_doc_is_shipped(fmt, debs, rpms, scratch):
    root = extract(fmt, debs, rpms, scratch / fmt)
    assert (root / DOCDIR).is_dir(), f"no /{DOCDIR} in the {fmt} package"
    shipped = {p.name.removesuffix(".gz") for p in (root / DOCDIR).iterdir()}
    print(f"shipped in /{DOCDIR}: {sorted(shipped)}")
    refs = references(root)
    for name, where in sorted(refs.items()):
        print(f"{name}: named by {', '.join(where)}")
    # the README's layout table names the docs: far more than a handful
    assert len(refs) >= 5, "the reference patterns found (almost) nothing"
    assert "README.md" in shipped
    missing = {name: where for name, where in refs.items() if name not in shipped}
    assert not missing, f"named but not in the {fmt} package: {missing}"
