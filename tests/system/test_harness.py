"""The system-test harness itself: an initramfs with kernel modules (and
their dependencies), a dynamically linked program with its libraries,
extra files and a payload; commands' output and exit status."""

from lib.initramfs import InitramfsSpec, ModuleIndex
from lib import env


def test_module_index_resolves_dependencies():
    index = ModuleIndex(env.modules_dir())
    order = index.closure(["vxlan"])
    # vxlan needs udp_tunnel and ip6_udp_tunnel, loaded before it
    assert order[-1] == "vxlan"
    assert "udp_tunnel" in order and "ip6_udp_tunnel" in order


def test_module_index_orders_our_own_modules():
    index = ModuleIndex(env.modules_dir())
    index.add("avm_b", "extra/avm_b.ko", ["avm_a"])
    index.add("avm_a", "extra/avm_a.ko", ["udp_tunnel"])
    order = index.closure(["avm_b"])
    assert order.index("udp_tunnel") < order.index("avm_a") < order.index("avm_b")


def test_guest_with_modules_programs_and_files(make_initramfs, guest_tools, boot_guest):
    spec = InitramfsSpec(
        programs=list(guest_tools.values()),
        dynamic_programs=["/usr/bin/iperf3"],
        files={"/etc/avm/hello": "hello from the host\n"},
        modules=["vxlan"],
    )
    guest = boot_guest(make_initramfs(spec))
    assert "AVM-MODPROBE-FAILED" not in guest.console

    r = guest.run("grep -o '^[a-z0-9_]*' /proc/modules | sort")
    assert r.status == 0
    assert {"vxlan", "udp_tunnel", "ip6_udp_tunnel"} <= set(r.output.split())

    r = guest.run("iperf3 --version")
    assert r.status == 0, r.output
    assert r.output.startswith("iperf 3")

    assert guest.run("cat /etc/avm/hello").output == "hello from the host\n"

    r = guest.run("echo out; echo err >&2; exit 7")
    assert (r.status, r.output) == (7, "out\nerr\n")
    assert guest.run("true").status == 0
    assert guest.poweroff() is not None


def test_payload_runs_and_powers_off(make_initramfs, boot_guest):
    spec = InitramfsSpec(payload="#!/bin/sh\necho payload says hi\nexit 3\n")
    guest = boot_guest(make_initramfs(spec), append="avm.run=/avm/payload", wait=False)
    guest.wait_for(r"^payload says hi$")
    guest.wait_for(r"^AVM-PAYLOAD-EXIT 3$")
    assert guest.wait_exit() == 0
