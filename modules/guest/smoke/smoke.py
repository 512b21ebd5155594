#!/usr/bin/python3
"""Boot a kernel in QEMU (TCG) with the guest modules and check that they
load, work and unload without a kernel warning.  The host side is the
product: alacrityvmd is the ivshmem server, with one venet device whose TAP
lives in a network namespace of its own (10.0.2.2, what the guest pings).
QEMU is tests/lib/qemu.py, the launcher of every test suite.

usage: smoke.py [--kernel VMLINUZ] [--modules DIR] [--out DIR] plain|normal|restart
  plain    a plain ivshmem device (no vbus magic): vbus_pci leaves it unbound
  normal   alacrityvmd's ivshmem-doorbell device: link, venet, ping (small
           and fragmented), link down/up, rmmod/insmod of vbus_enet, rmmod
  restart  like normal, and the host restarts mid-run as alacrityvmd does:
           a second process takes the instance over (--takeover-from) while
           the guest pings, and serves it to the end

Defaults: Debian's current kernel (scripts/kernel-version.sh) and
$AVM_BUILD/modules/guest; output (initramfs, console and daemon logs) in
$AVM_BUILD/smoke.  BUF (bytes per venet pool buffer; 1024 makes full-size
frames two-entry chains both ways).  kernel-patches/boot-test.sh runs
`normal` on the patched kernel with its in-tree drivers.  Exit status 0
when every check passed, 1 (with the reasons) otherwise.
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[2]
sys.path[:0] = [str(TOP / "tests" / "lib"), str(TOP / "tests" / "system")]

from lib import env  # noqa: E402 (tests/system/lib)
from lib.daemon import Daemon, LegacyTakeoverDaemon  # noqa: E402
from lib.netns import NetNs  # noqa: E402
from qemu import Qemu, QemuError, ivshmem_args  # noqa: E402 (tests/lib)

APPEND = "console=ttyS0 panic=-1 quiet"
TIMEOUT = 300            # seconds for one boot, as before
HOST_IP = "10.0.2.2/24"  # what init-host.sh pings
GUEST_MAC = "52:54:00:00:00:01"
TAP = "avmsmoke0"
VECTORS = 2              # the bridge's and the venet device's
BAD = ("WARNING:", "BUG:", "Oops", "Call Trace", "general protection")


def mkinitrd(init: str, out: Path, ko_dir: Path) -> Path:
    subprocess.run([str(HERE / "mkinitrd.sh"), str(HERE / init), str(out), str(ko_dir)],
                   check=True)
    return out


def boot(kernel: Path, initrd: Path, args, log: Path, during=None) -> str:
    """Boots until the guest powers off (or TIMEOUT); its console.  @during(vm)
    runs while it is up."""
    with Qemu(kernel=kernel, initrd=initrd, append=APPEND, args=args, log_path=log) as vm:
        vm.start()
        try:
            if during:
                during(vm)
            vm.wait_exit(TIMEOUT)
        except QemuError as e:
            print(f"smoke: {e}", file=sys.stderr)
        return vm.console


def run_plain(kernel: Path, ko_dir: Path, out: Path) -> str:
    initrd = mkinitrd("init-plain.sh", out / "plain.cpio.gz", ko_dir)
    shm = Path(f"/dev/shm/vbus-smoke-{os.getpid()}")
    with open(shm, "wb") as f:
        f.truncate(1 << 20)
    try:
        return boot(kernel, initrd,
                    ["-object", f"memory-backend-file,id=m,share=on,mem-path={shm},size=1M",
                     "-device", "ivshmem-plain,memdev=m"], out / "guest-plain.log")
    finally:
        shm.unlink(missing_ok=True)


def run_host(mode: str, kernel: Path, ko_dir: Path, out: Path, failures: list) -> str:
    initrd = mkinitrd("init-host.sh", out / "host.cpio.gz", ko_dir)
    venet = f"tap={TAP},mac={GUEST_MAC}"
    if os.environ.get("BUF"):
        venet += f",buf={os.environ['BUF']}"
    handover = out / "handover.sock"
    sock = out / "vm.sock"
    handover.unlink(missing_ok=True)
    daemons = []
    with NetNs("avm-smoke") as ns:
        first = Daemon(sock, region_size="4M", vectors=VECTORS,
                       extra_args=["--venet", f"{venet},netns={ns.name}",
                                   "--handover-listen", str(handover)],
                       log_path=out / f"alacrityvmd-{mode}.log")
        daemons.append(first)
        try:
            first.start()
            ns.wait_link(TAP)
            ns.ip(f"addr add {HOST_IP} dev {TAP}")
            ns.ip(f"link set {TAP} up")

            def restart(vm: Qemu) -> None:
                # mid-run: the guest is in its big pings
                vm.wait_for(r"30000 data bytes", timeout=TIMEOUT)
                new = LegacyTakeoverDaemon(handover, socket=sock,
                                           log_path=out / f"alacrityvmd-{mode}-2.log")
                daemons.append(new)
                new.start(wait_listening=False)
                new.wait_log(r"takeover: serving instance default", timeout=60)
                if first.wait_exit(60) != 0:
                    failures.append(f"the old alacrityvmd exited {first.proc.returncode}")

            return boot(kernel, initrd, ivshmem_args(sock, VECTORS),
                        out / f"guest-{mode}.log", restart if mode == "restart" else None)
        finally:
            for d in daemons:
                d.stop()


def check(mode: str, console: str, failures: list) -> None:
    want = ["SMOKE: insmod vbus_pci ok", "SMOKE: insmod vbus_enet ok",
            "SMOKE: rmmod vbus_pci ok", "SMOKE: end"]
    if mode == "plain":
        if not any(ln.startswith("SMOKE: ") and ln.endswith(" unbound")
                   for ln in console.splitlines()):
            failures.append("the plain ivshmem device did not stay unbound")
    else:
        want += ["3 packets transmitted, 3 packets received",
                 # vbus_pci's sysfs: the link state and one counter per file
                 "SMOKE: sysfs vbus_link=run"]
        irqs = [ln for ln in console.splitlines() if ln.startswith("SMOKE: sysfs irqs=")]
        if not irqs or not irqs[-1].split("=", 1)[1].strip().isdigit() \
                or int(irqs[-1].split("=", 1)[1]) == 0:
            failures.append(f"vbus_pci's statistics/irqs is not a positive number: {irqs}")
    failures += [f"the guest did not print '{w}'" for w in want if w not in console]
    failures += [f"kernel warning: {ln}" for ln in console.splitlines()
                 if any(b in ln for b in BAD)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mode", choices=["plain", "normal", "restart"])
    p.add_argument("--kernel", type=Path, default=None, help="default: Debian's current")
    p.add_argument("--modules", type=Path, default=env.BUILD / "modules" / "guest",
                   help="directory with vbus_pci.ko and vbus_enet.ko")
    p.add_argument("--out", type=Path, default=env.BUILD / "smoke")
    a = p.parse_args()
    kernel = a.kernel or env.vmlinuz()
    a.out.mkdir(parents=True, exist_ok=True)
    failures: list = []
    if a.mode == "plain":
        console = run_plain(kernel, a.modules, a.out)
    else:
        console = run_host(a.mode, kernel, a.modules, a.out, failures)
    check(a.mode, console, failures)
    log = a.out / f"guest-{a.mode}.log"
    if failures:
        print(f"smoke {a.mode}: FAIL ({log})\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    print(f"smoke {a.mode}: ok ({log})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
