"""vbus_host.ko, the in-kernel venet backend, inside a test VM.

This host cannot load modules, so one guest (Debian's kernel under TCG) is
booted for the whole module with build/modules/host/vbus_host.ko loaded
(tun comes with it) and avm-kvhost (tests/bench/host), alacrityvmd and
avmctl copied into its initramfs as /usr/bin/<name> (never run from their
build path: the guest mounts a tmpfs on /tmp, which would hide a build
there).
avm-kvhost runs the bridge runtime and a software guest in one process,
over a memfd region, inside the VM; the module serves the device's rings
and moves the packets to and from a TAP in the VM's own namespace, whose
address (10.77.0.1) the VM's kernel answers pings on.

Every test ends with the guest kernel's log free of BUG/WARNING/Oops.
Run time: 25-60 s (boot ~5 s, each avm-kvhost run a few seconds under
TCG; 16 tests in 24 s on an idle-ish machine).
"""

import os
import re
import time
from pathlib import Path

import pytest

from lib import env
from lib.avmctl import avmctl_binary
from lib.initramfs import InitramfsSpec, usr_bin_files
from lib.guest import Guest
from lib.venet import bad_dmesg_lines

FAULT_CASES = {
    # case: VBUS_HOST_FAULT_* the module must report
    "seq": 1,
    "flags": 2,
    "reserved": 3,
    "offset": 4,
    "length": 5,
    "chain": 6,
    "rxshort": 7,
}


def kvhost_binary() -> Path:
    if "AVM_KVHOST" in os.environ:
        return Path(os.environ["AVM_KVHOST"])
    return env.BUILD / "userspace" / "tests" / "bench" / "avm-kvhost"


def host_module() -> Path:
    if "AVM_VBUS_HOST_KO" in os.environ:
        return Path(os.environ["AVM_VBUS_HOST_KO"])
    return env.BUILD / "modules" / "host" / "vbus_host.ko"


# alacrityvmd inside the VM: control socket and state under /tmp/avmd.
DAEMON_CONF = """[daemon]
control_socket = "/tmp/avmd/control.sock"
state_dir = "/tmp/avmd/state"
control_group = "root"
"""
CTL = "avmctl --socket /tmp/avmd/control.sock"


def kv(text: str) -> dict:
    """key=value pairs of avm-kvhost's output (last one wins)."""
    return {m.group(1): m.group(2) for m in re.finditer(r"(\w+)=(\S+)", text)}


@pytest.fixture(scope="module")
def vm(make_initramfs, module_log_dir):
    for p in (kvhost_binary(), host_module()):
        assert p.exists(), f"{p} not built (make userspace modules)"
    for p in (env.daemon_binary(), avmctl_binary()):
        assert p.exists(), f"{p} not built (make userspace)"
    files = usr_bin_files([kvhost_binary(), env.daemon_binary(), avmctl_binary()])
    files.update({"/etc/avmd.conf": DAEMON_CONF,
                  "/etc/group": "root:x:0:\nalacrityvm:x:998:\n"})
    spec = InitramfsSpec(
        files=files,
        modules=["tun"],
        extra_modules=[host_module()],
        load_modules=["vbus_host"],
    )
    g = Guest(make_initramfs(spec), log_path=module_log_dir / "guest.console.log")
    try:
        g.start()
        g.wait_ready()
        assert "AVM-MODPROBE-FAILED" not in g.console, g.tail()
        g.run("test -c /dev/alacrityvm-host", check=True)
        for prog in ("avm-kvhost", "alacrityvmd", "avmctl"):
            g.run(f"test -x /usr/bin/{prog}", check=True)
        yield g
    finally:
        g.kill()


def run_kvhost(vm: Guest, args: str, timeout: float = 180):
    r = vm.run("avm-kvhost " + args, timeout=timeout)
    assert r.status == 0 and "RESULT ok" in r.output, r.output
    return r.output


def assert_dmesg_clean(vm: Guest) -> None:
    bad = bad_dmesg_lines(vm.run("dmesg").output)
    assert not bad, "guest kernel complained:\n" + "\n".join(bad)


def test_module_refuses_bad_attach(vm):
    out = run_kvhost(vm, "refuse")
    # every case printed and matched (avm-kvhost fails otherwise)
    assert out.count("refuse ") == 13, out
    assert_dmesg_clean(vm)


def test_ping_through_kernel_backend(vm):
    out = run_kvhost(vm, "ping --backend kernel --count 300")
    c = kv(out)
    assert int(c["replies"]) == 300, out
    # the module carried them (state 1 = RUNNING) and nothing was refused
    assert c["state"] == "1" and c["fault"] == "none", out
    assert int(c["tx_packets"]) >= 300 and int(c["rx_packets"]) >= 300, out
    assert int(c["tx_errors"]) == 0 and int(c["bad_descriptors"]) == 0, out
    assert_dmesg_clean(vm)


def test_scatter_gather_with_small_buffers(vm):
    """256-byte pool buffers: transmitted frames are descriptor chains
    (several kvec pieces for one sendmsg) and received ones span several
    buffers (VENET_F_MRG_RXBUF, num_buffers)."""
    out = run_kvhost(vm, "ping --backend kernel --count 200 --buf-size 256")
    c = kv(out)
    assert int(c["replies"]) == 200, out
    assert int(c["rx_multi"]) > 100, out  # most replies are > 244 bytes
    assert int(c["tx_errors"]) == 0 and c["fault"] == "none", out
    assert_dmesg_clean(vm)


def test_ping_through_user_backend_same_vm(vm):
    """The baseline of the comparison works in the same VM."""
    out = run_kvhost(vm, "ping --backend user --count 100")
    assert int(kv(out)["replies"]) == 100, out


@pytest.mark.parametrize("case", sorted(FAULT_CASES))
def test_malformed_descriptor_is_refused(vm, case):
    vm.run("dmesg -c >/dev/null", check=True)
    out = run_kvhost(vm, f"fault --case {case}")
    assert "quarantined=1" in out, out
    # traffic flows again after the guest reopened the device
    assert int(kv(out)["after_reopen_replies"]) == 20, out
    log = vm.run("dmesg").output
    want = f"guest fault {FAULT_CASES[case]} on queue"
    assert want in log, log
    assert_dmesg_clean(vm)


def test_owner_killed_mid_traffic_then_reload(vm):
    tun_refs = vm.run("cat /sys/module/tun/refcnt", check=True).output.strip()
    vm.run("(avm-kvhost flood --backend kernel >/tmp/flood.out 2>&1 & "
           "echo $! >/tmp/flood.pid)", check=True)
    deadline = time.monotonic() + 120
    while "before " not in vm.run("cat /tmp/flood.out").output:
        assert time.monotonic() < deadline, vm.run("cat /tmp/flood.out").output
        time.sleep(1)
    # attached: the worker thread runs and the area is mapped by the module
    assert "avm-vhost-" in vm.run("ps").output
    assert "vbus_host" in vm.run("cat /proc/vmallocinfo").output
    assert vm.run("cat /sys/module/vbus_host/refcnt").output.strip() == "1"

    vm.run("kill -9 $(cat /tmp/flood.pid)", check=True)
    deadline = time.monotonic() + 60
    while vm.run("kill -0 $(cat /tmp/flood.pid)").status == 0:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    # close() detached everything: no thread, no mapping, no file
    assert "avm-vhost-" not in vm.run("ps").output
    assert "vbus_host" not in vm.run("cat /proc/vmallocinfo").output
    assert vm.run("cat /sys/module/vbus_host/refcnt").output.strip() == "0"

    vm.run("rmmod vbus_host", check=True)
    assert vm.run("test -e /dev/alacrityvm-host").status != 0
    assert vm.run("cat /sys/module/tun/refcnt").output.strip() == str(int(tun_refs) - 1)
    vm.run("modprobe vbus_host && test -c /dev/alacrityvm-host", check=True)
    out = run_kvhost(vm, "ping --backend kernel --count 50")
    assert int(kv(out)["replies"]) == 50, out
    assert_dmesg_clean(vm)


# -- the daemon inside the VM offloads a device (backend = kernel / auto) --

@pytest.fixture
def daemon(vm):
    vm.run("mkdir -p /tmp/avmd/state && rm -f /tmp/avmd/state/* /tmp/avmd.log", check=True)
    vm.run("(alacrityvmd --config /etc/avmd.conf --foreground >/tmp/avmd.log 2>&1 & "
           "echo $! >/tmp/avmd.pid)", check=True)
    deadline = time.monotonic() + 60
    while vm.run(f"{CTL} ping").status != 0:
        assert time.monotonic() < deadline, vm.run("cat /tmp/avmd.log").output
        time.sleep(1)
    vm.run(f"{CTL} instance create vm1 --vectors 4 --socket-path /tmp/avmd/vm1.sock", check=True)
    try:
        yield vm
    finally:
        vm.run("kill $(cat /tmp/avmd.pid)")
        deadline = time.monotonic() + 60
        while vm.run("kill -0 $(cat /tmp/avmd.pid)").status == 0:
            assert time.monotonic() < deadline, "alacrityvmd did not stop"
            time.sleep(0.5)
        vm.run("modprobe vbus_host")  # a test may have unloaded it


def create_device(vm, backend: str):
    r = vm.run(f"{CTL} --json device create net0 --instance vm1 --tap avmk0 "
               f"--mac 52:54:00:12:34:56 --backend {backend}")
    return r


def tap_up(vm):
    vm.run("ip link set avmk0 up && ip addr add 10.77.0.1/24 dev avmk0", check=True)


def client_ping(vm, count: int):
    return run_kvhost(vm, f"client --socket /tmp/avmd/vm1.sock --vectors 4 --count {count}")


def show(vm) -> dict:
    import json
    return json.loads(vm.run(f"{CTL} --json device show net0", check=True).output)


def test_daemon_offloads_a_device_to_the_module(daemon):
    vm = daemon
    r = create_device(vm, "kernel")
    assert r.status == 0, r.output + vm.run("cat /tmp/avmd.log").output
    tap_up(vm)
    out = client_ping(vm, 200)
    assert int(kv(out)["replies"]) == 200, out
    d = show(vm)
    assert d["backend"] == "kernel" and d["backend_requested"] == "kernel", d
    # the counters are the module's (GET_STATS): it carried the packets
    assert d["stats"]["tx_packets"] >= 200 and d["stats"]["rx_packets"] >= 200, d
    assert d["stats"]["bad_descriptors"] == 0, d
    table = vm.run(f"{CTL} device list", check=True).output
    assert re.search(r"net0 .* kernel ", table), table
    # detach while the module holds it: the worker goes, the module is free
    vm.run(f"{CTL} device detach net0", check=True)
    assert "avm-vhost-" not in vm.run("ps").output
    assert vm.run("cat /sys/module/vbus_host/refcnt").output.strip() == "0"
    vm.run(f"{CTL} device delete net0", check=True)
    assert_dmesg_clean(vm)


def test_auto_without_the_module_falls_back_to_user(daemon):
    vm = daemon
    vm.run("rmmod vbus_host", check=True)
    r = create_device(vm, "auto")
    assert r.status == 0, r.output
    tap_up(vm)
    out = client_ping(vm, 100)
    assert int(kv(out)["replies"]) == 100, out
    d = show(vm)
    assert d["backend"] == "user" and d["backend_requested"] == "auto", d
    assert "/dev/alacrityvm-host" in d.get("backend_note", ""), d
    assert d["stats"]["tx_packets"] >= 100, d
    table = vm.run(f"{CTL} device list", check=True).output
    assert "user (requested auto)" in table, table
    assert "falls back to user" in vm.run("cat /tmp/avmd.log").output


def test_kernel_without_the_module_is_a_clear_error(daemon):
    vm = daemon
    vm.run("rmmod vbus_host", check=True)
    r = create_device(vm, "kernel")
    assert r.status != 0, r.output
    assert "vbus_host.ko is not loaded" in r.output, r.output
    # nothing half-applied: no device, no TAP
    assert "net0" not in vm.run(f"{CTL} device list").output
    assert vm.run("ip link show avmk0").status != 0


def wait_output(vm, path: str, text: str, timeout: float = 120) -> str:
    """The output file of a background avm-kvhost once it contains text
    (fails early if the program ended without it)."""
    deadline = time.monotonic() + timeout
    while True:
        out = vm.run(f"cat {path}").output
        if text in out:
            return out
        assert "RESULT" not in out and time.monotonic() < deadline, out
        time.sleep(0.5)


def test_link_down_and_up_on_a_kernel_device(daemon):
    """avmctl link down/up on a device the module serves: the software
    guest (QEMU's side, through the instance socket) sees the carrier go
    and come back in its config area; requests sent while it is down go
    nowhere and the module counts them as dropped for the link; round trips
    flow again once it is up."""
    vm = daemon
    r = create_device(vm, "kernel")
    assert r.status == 0, r.output + vm.run("cat /tmp/avmd.log").output
    tap_up(vm)
    vm.run("(avm-kvhost link --socket /tmp/avmd/vm1.sock --vectors 4 --count 50 "
           ">/tmp/link.out 2>&1 & echo $! >/tmp/link.pid)", check=True)
    out = wait_output(vm, "/tmp/link.out", "WAIT carrier=down")
    assert int(kv(out)["up_replies"]) == 50, out
    before = show(vm)
    assert before["backend"] == "kernel" and before["link"] == "up", before

    # the module is told before avmctl returns (VBUS_HOST_CONFIGURE), the
    # guest after it (DEV_CONFIG event)
    vm.run(f"{CTL} link net0 down", check=True)
    went_down = show(vm)
    assert went_down["link"] == "down", went_down
    out = wait_output(vm, "/tmp/link.out", "WAIT carrier=up")
    assert "carrier=down" in out, out
    c = kv(out)
    assert int(c["down_sent"]) == 20 and int(c["down_replies"]) == 0, out
    down = show(vm)
    # every request the guest sent after it saw no carrier was dropped by
    # the module (the guest sends nothing between its round trips and
    # then), and while down nothing crossed the TAP in either direction
    dropped = down["stats"]["tx_dropped_link"] - before["stats"]["tx_dropped_link"]
    assert dropped == 20, (before, down)
    for k in ("tx_packets", "rx_packets"):
        assert down["stats"][k] == went_down["stats"][k], (k, went_down, down)

    vm.run(f"{CTL} link net0 up", check=True)
    deadline = time.monotonic() + 120
    while vm.run("kill -0 $(cat /tmp/link.pid)").status == 0:
        assert time.monotonic() < deadline, vm.run("cat /tmp/link.out").output
        time.sleep(0.5)
    out = vm.run("cat /tmp/link.out").output
    assert "RESULT ok" in out and "carrier=up" in out, out
    assert int(kv(out)["up_again_replies"]) == 50, out
    after = show(vm)
    assert after["link"] == "up" and after["backend"] == "kernel", after
    s0, s1 = down["stats"], after["stats"]
    assert s1["tx_packets"] - s0["tx_packets"] >= 50, (down, after)
    assert s1["rx_packets"] - s0["rx_packets"] >= 50, (down, after)
    assert s1["tx_dropped_link"] == s0["tx_dropped_link"], (down, after)
    assert s1["bad_descriptors"] == 0 and s1["tx_errors"] == 0, after
    assert "host link down" in vm.run("cat /tmp/avmd.log").output
    assert_dmesg_clean(vm)
