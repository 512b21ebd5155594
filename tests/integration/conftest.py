"""pytest fixtures of the provisioning integration test (make check-integration).

Session fixtures, in the order they build on each other:
  run_dir      a private directory under /tmp (SSH key, inventory), removed at the end
  host_vm      the host image booted under QEMU/TCG, SSH on 127.0.0.1:<free port>
  provision    prepare.yml, then site.yml twice: {"first": PlaybookRun, "second": ...}
  host         a Testinfra host over SSH (sudo) on the provisioned VM
  test_vars    host_vars.yml: what the test asked of the roles
Logs (console, playbook output) stay in $AVM_BUILD/integration/logs/.
"""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))   # qemu (the launcher)

from lib import debdeps, env  # noqa: E402
from lib.hostvm import HostVM  # noqa: E402
from lib.playbook import run_playbook  # noqa: E402

HERE = Path(__file__).resolve().parent
TEST_DIR = "/var/lib/avm-test"          # in the VM: Debian dependencies, probe
TIMES = {}   # phase -> seconds, printed at the end of the session


def pytest_terminal_summary(terminalreporter):
    if TIMES:
        terminalreporter.write_sep("-", "integration timings")
        for phase, seconds in TIMES.items():
            terminalreporter.write_line(f"{phase:<28} {seconds:7.1f} s")


def gpg_fingerprints(key_file: Path) -> list:
    """Primary-key fingerprints of a key file, by gpg on the controller."""
    out = subprocess.run(["gpg", "--batch", "--with-colons", "--show-keys", str(key_file)],
                         check=True, capture_output=True, text=True,
                         env={"GNUPGHOME": tempfile.mkdtemp(prefix="avm-gpg-"),
                              "PATH": "/usr/bin:/bin"}
                         ).stdout
    fprs, in_pub = [], False
    for line in out.splitlines():
        f = line.split(":")
        if f[0] in ("pub", "sub"):
            in_pub = f[0] == "pub"
        elif f[0] == "fpr" and in_pub:
            fprs.append(f[9])
            in_pub = False
    return fprs


@pytest.fixture(scope="session")
def test_vars():
    return yaml.safe_load((HERE / "host_vars.yml").read_text())


@pytest.fixture(scope="session")
def run_dir():
    d = Path(tempfile.mkdtemp(prefix="avm-int-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def host_vm(run_dir):
    env.LOG_DIR.mkdir(parents=True, exist_ok=True)
    vm = HostVM(env.HOST_IMAGE, run_dir, env.LOG_DIR / "host-vm.console.log")
    try:
        vm.start()
        TIMES["boot to SSH"] = vm.wait_ssh()
        yield vm
    finally:
        vm.kill()


def debian_deps_repo(vm: HostVM, run_dir: Path, test_vars: dict) -> Path:
    """The local repository of the Debian packages the VM lacks (lib/debdeps.py)."""
    start = time.monotonic()
    status = run_dir / "vm-dpkg-status"
    status.write_text(vm.ssh("cat /var/lib/dpkg/status").stdout)
    packages = env.REPO / "apt" / "dists" / "bookworm" / "main" / "binary-amd64" / "Packages"
    kit = ["alacrityvm", "alacrityvm-archive-keyring"]
    if test_vars.get("alacrityvm_host_dkms"):
        kit.append("alacrityvm-host-dkms")
    names = debdeps.kit_dependencies(packages, kit)
    if test_vars.get("alacrityvm_host_dkms"):
        # what the role installs with the DKMS package: the running kernel's headers
        names.add("linux-headers-" + vm.ssh("uname -r").stdout.strip())
    # Ansible's apt module needs python3-apt on the host; it installs it
    # itself when missing, which takes the network the VM does not have.
    names.add("python3-apt")
    apt = debdeps.PrivateApt()
    apt.update()
    pins = debdeps.missing_on_vm(apt, status, names)
    repo = run_dir / "debian-deps"
    debdeps.build_repo(apt, status, pins, repo)
    TIMES["Debian dependencies"] = time.monotonic() - start
    return repo


def write_inventory(vm: HostVM, run_dir: Path) -> Path:
    inv = run_dir / "inventory"
    (inv / "group_vars").mkdir(parents=True, exist_ok=True)
    ssh_args = (f"-F {vm.ssh_config}")
    (inv / "hosts.yml").write_text(yaml.safe_dump({
        "alacrityvm_hosts": {"hosts": {"avm-test": {
            "ansible_host": "avm-test",
            "ansible_user": vm.user,
            "ansible_ssh_common_args": ssh_args,
        }}},
    }))
    keys = gpg_fingerprints(env.KEYS / "alacrityvm-archive-keyring.gpg")
    (inv / "group_vars" / "all.yml").write_text(yaml.safe_dump({
        "alacrityvm_repo_mirror": str(env.REPO),
        "alacrityvm_repo_key_fingerprints": keys,
        "alacrityvm_host_version": env.kit_version(),
    }))
    shutil.copy(HERE / "host_vars.yml", inv / "group_vars" / "alacrityvm_hosts.yml")
    return inv / "hosts.yml"


@pytest.fixture(scope="session")
def provision(host_vm, run_dir, test_vars):
    deps = debian_deps_repo(host_vm, run_dir, test_vars)
    inventory = write_inventory(host_vm, run_dir)
    # one tar stream over SSH (Ansible's copy costs module runs per file)
    start = time.monotonic()
    push = (f"tar -C {deps} -c . | ssh -F {host_vm.ssh_config} avm-test "
            f"'sudo mkdir -p {TEST_DIR}/debian-deps && sudo tar -C {TEST_DIR}/debian-deps -x' && "
            f"ssh -F {host_vm.ssh_config} avm-test 'sudo tee {TEST_DIR}/ivshmem_probe.py "
            f">/dev/null && sudo chmod 755 {TEST_DIR}/ivshmem_probe.py' "
            f"<{HERE / 'ivshmem_probe.py'}")
    subprocess.run(["bash", "-o", "pipefail", "-c", push], check=True)
    TIMES["push to the VM"] = time.monotonic() - start
    prep = run_playbook(HERE / "prepare.yml", inventory, env.LOG_DIR / "prepare.log")
    TIMES["prepare.yml"] = prep.seconds
    if prep.returncode != 0:
        pytest.fail(f"prepare.yml failed (exit {prep.returncode}), see {prep.log}\n"
                    + prep.output[-3000:])
    runs = {}
    for name in ("first", "second"):
        runs[name] = run_playbook(env.ANSIBLE_DIR / "site.yml", inventory,
                                  env.LOG_DIR / f"site-{name}.log")
        TIMES[f"site.yml, {name} run"] = runs[name].seconds
    return runs


@pytest.fixture(scope="session")
def host(provision, host_vm):
    import testinfra
    return testinfra.get_host("ssh://avm-test", ssh_config=str(host_vm.ssh_config), sudo=True)
