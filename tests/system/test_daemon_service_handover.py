"""alacrityvmd in service mode replaced by `alacrityvmd --takeover`
(issue 4, hand-over mode; docs/handover.md, "The service hand-over").

One service daemon (config file, control socket, metrics on a UNIX socket)
with a config-file instance and an API-created instance plus venet device
that a guest uses.  First takers that fail (one vanishes mid-package, one
sends garbage instead of HELLO, one garbage instead of READY): the old
daemon serves on, the control socket answers, traffic crosses.  Then a
namespace -> guest TCP stream through a shaper, and `alacrityvmd --takeover`
mid-stream: the old process exits 0 without a RESET, the stream ends with
the right sha256, the guest saw no carrier change, bridge restart or
fault, and avmctl is answered by the new process with both instances.
Last, `--takeover` with nobody to take over from, and with a giver that
refuses, exits non-zero and says why.
"""

import json
import os
import socket
import struct
import subprocess
import threading
import time

import pytest

from lib.avmctl import avmctl
from lib.guest import Guest
from lib.netns import NetNs
# TakeoverService: tests/soak/soak.py imports it from here
from lib.service_daemon import ServiceDaemon, TakeoverService, take_over  # noqa: F401
from lib.venet import (MAC, NS_IP, PREFIX, TAP, VBUS_PCI_LINK_RUN, VECTORS, Traffic, VenetLink,
                       venet_initramfs_spec)
from test_daemon_handover import (ABORT, BEGIN, END, HELLO, HEADER, MAGIC, fake_taker, frame,
                                  finish_ns_to_guest, guest_link_state, ping_both_ways,
                                  shape_ns_to_guest, start_ns_to_guest, wait_guest_bytes)

STREAM_BYTES = 16 << 20
CONFIG_INSTANCE = """
[[instance]]
name = "cfg1"
region_size = "1M"
vectors = 2
"""


def peer_pid(path) -> int:
    """The pid SO_PEERCRED names for a connection to @path (the process
    that last called listen() on it)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        cred = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", cred)[0]


def metrics_text(path) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(path))
        s.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    return b"".join(chunks).decode(errors="replace")


def ctl_json(daemon, *args):
    r = avmctl(daemon.socket, "--json", *args, check=True)
    return json.loads(r.stdout)


class ServiceLink(VenetLink):
    """A guest on the API instance vm1 (device vm1-net0, user backend) of a
    service daemon that also has the config instance cfg1."""

    def start_service(self, tmp) -> "ServiceLink":
        self.ns = NetNs().create()
        self.daemon = ServiceDaemon(
            tmp, log_path=self.log_dir / "service.alacrityvmd.log", objects=CONFIG_INSTANCE,
            config_extra=f'[metrics]\nenabled = true\nlisten = "unix:{tmp / "metrics.sock"}"\n'
        ).start()
        self.metrics = tmp / "metrics.sock"
        self.handover_path = str(tmp / "handover.sock")
        with self.daemon.client() as c:
            c.call("instance.create", name="vm1", region_size="16M", vectors=VECTORS)
            c.call("device.create", name="vm1-net0", instance="vm1", tap=TAP, mac=MAC,
                   netns=self.ns.name, backend="user")
            qemu_args = c.call("instance.qemu_args", name="vm1")["args"]
        self.ns.ip(f"addr add {NS_IP}/{PREFIX} dev {TAP}")
        self.ns.ip(f"link set {TAP} up")
        initrd = self.make_initramfs(venet_initramfs_spec(self.guest_tools))
        self.guest = Guest(initrd, qemu_args=qemu_args,
                           log_path=self.log_dir / "service.console.log")
        self.guest.start()
        self.guest.wait_ready()
        self.daemon.wait_log(r"guest INIT: link RUN")
        self.configure_guest()
        return self

    def device_stats(self) -> dict:
        with self.daemon.client() as c:
            return c.call("device.show", name="vm1-net0")["stats"]


@pytest.fixture(scope="module")
def link(make_initramfs, guest_tools, module_log_dir, module_tmp):
    lk = ServiceLink(make_initramfs, guest_tools, module_log_dir, module_tmp)
    try:
        lk.start_service(module_tmp)
        lk.wait_carrier("1")
        yield lk
    finally:
        lk.stop()


def garbage_taker(path: str, after_package: bool) -> list:
    """Sends garbage instead of HELLO, or instead of READY after reading
    the whole package.  Returns the frame types it saw."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(20)
    s.connect(path)
    seen = []
    if after_package:
        s.send(frame(HELLO, 0, json.dumps({"version": 1, "pid": os.getpid()}).encode()))
        while not seen or seen[-1] != END:
            data, fds, _flags, _addr = socket.recv_fds(s, 65536, 64)
            for fd in fds:
                os.close(fd)
            if not data:
                break
            seen.append(HEADER.unpack_from(data)[2])
    s.send(b"\x00garbage, not a frame" * 3)
    try:
        data = s.recv(65536)
        if len(data) >= HEADER.size:
            seen.append(HEADER.unpack_from(data)[2])
    except OSError:
        pass
    s.close()
    return seen


def assert_serving(link, before, port):
    """The old daemon still serves: avmctl answers with both instances,
    traffic crosses, the guest saw nothing."""
    assert link.daemon.proc.poll() is None
    names = sorted(i["name"] for i in ctl_json(link.daemon, "instance", "list")["instances"])
    assert names == ["cfg1", "vm1"]
    t = Traffic(link, link.guest_tools["avm_stream"])
    _, n, sha = t.ns_to_guest(2 << 20, port, port=5300 + port)
    assert (n, sha) == (2 << 20, t.expected(2 << 20, port))
    assert guest_link_state(link) == before


def test_failed_takers_leave_the_old_daemon_serving(link):
    before = guest_link_state(link)
    d = link.daemon

    # Vanishes after BEGIN and a piece of the state: the instances were
    # quiesced and serve again.
    seen = fake_taker(link.handover_path, 2)
    assert seen[0] == BEGIN, seen
    d.wait_log(r"hand-over to pid \d+ failed, serving on")
    d.wait_log(r"vm1: serving")
    assert_serving(link, before, 1)

    # Garbage instead of HELLO: refused before anything is quiesced.
    seen = garbage_taker(link.handover_path, after_package=False)
    assert seen == [ABORT], seen
    d.wait_log(r"hand-over to pid \d+ refused")
    assert_serving(link, before, 2)

    # Garbage instead of READY, after the whole package.
    seen = garbage_taker(link.handover_path, after_package=True)
    assert BEGIN in seen and END in seen, seen
    d.wait_log(r"hand-over to pid \d+ failed, serving on")
    assert_serving(link, before, 3)
    assert "host RESET" not in d.log
    link.assert_dmesg_clean()


def test_takeover_mid_stream(link, guest_tools, module_log_dir):
    stream = str(guest_tools["avm_stream"])
    t = Traffic(link, guest_tools["avm_stream"])
    shape_ns_to_guest(link)
    old = link.daemon
    assert peer_pid(old.socket) == old.proc.pid
    before = guest_link_state(link)
    dev0 = link.device_stats()
    inst0 = ctl_json(old, "stats")["instances"]["vm1"]["bridge"]
    assert inst0["calls"] > 0 and inst0["evq_posted"] > 0, inst0

    # namespace -> guest, paced by the tbf so that it spans the hand-over
    e0 = link.ethtool_stats()
    tx = start_ns_to_guest(link, t, stream, 5401, STREAM_BYTES, 41)
    wait_guest_bytes(link, e0)

    # Control clients keep asking during the switch: every answer comes,
    # from whichever process serves.
    stop = threading.Event()
    answers, failures = [], []

    def ask():
        while not stop.is_set():
            r = avmctl(old.socket, "ping")
            (answers if r.returncode == 0 else failures).append(r.stderr)
            time.sleep(0.05)

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    new = take_over(link, module_log_dir / "takeover.alacrityvmd.log", instances=2)
    stop.set()
    asker.join(timeout=60)
    assert answers and not failures, failures
    e_handover = link.ethtool_stats()

    finish_ns_to_guest(link, t, tx, STREAM_BYTES, 41)
    assert link.ethtool_stats()["rx_bytes"] > e_handover["rx_bytes"]
    assert guest_link_state(link) == before
    assert before["link"] == VBUS_PCI_LINK_RUN and before["carrier"] == "1"

    # The new process answers the control socket, with both instances and
    # the device's counters carried on.
    assert peer_pid(new.socket) == new.proc.pid
    listed = {i["name"]: i for i in ctl_json(new, "instance", "list")["instances"]}
    assert sorted(listed) == ["cfg1", "vm1"]
    assert listed["cfg1"]["origin"] == "config" and listed["vm1"]["origin"] == "api"
    stats = ctl_json(new, "stats")["instances"]
    assert sorted(stats) == ["cfg1", "vm1"]
    dev1 = stats["vm1"]["devices"]["vm1-net0"]
    assert dev1["rx_packets"] > dev0["rx_packets"] and dev1["tx_packets"] > dev0["tx_packets"]
    # so do the instance's own (bridge, event queue, call channel): none
    # starts from 0 again
    inst1 = stats["vm1"]["bridge"]
    went_back = {k: (v, inst1.get(k)) for k, v in inst0.items()
                 if isinstance(v, int) and not (isinstance(inst1.get(k), int) and inst1[k] >= v)}
    assert not went_back, went_back
    assert inst1["evq_posted"] > inst0["evq_posted"]
    assert "alacrityvm_" in metrics_text(link.metrics)
    assert peer_pid(link.metrics) == new.proc.pid  # bound again by the new process
    link.assert_dmesg_clean()
    ping_both_ways(link)

    # And the new one can be replaced the same way.
    assert os.path.exists(link.handover_path)
    third = take_over(link, module_log_dir / "takeover2.alacrityvmd.log", instances=2)
    assert peer_pid(third.socket) == third.proc.pid
    ping_both_ways(link)
    assert guest_link_state(link) == before


def run_takeover(tmp, timeout=60) -> subprocess.CompletedProcess:
    d = ServiceDaemon(tmp)
    return subprocess.run(d.command_line() + ["--takeover"], capture_output=True, text=True,
                          timeout=timeout)


def test_takeover_without_a_daemon_fails(short_tmp):
    r = run_takeover(short_tmp)
    assert r.returncode != 0
    assert "no alacrityvmd takes hand-over requests on" in r.stderr, r.stderr
    assert str(short_tmp / "handover.sock") in r.stderr
    assert not (short_tmp / "control.sock").exists()


def test_takeover_refused_by_the_giver_fails(short_tmp):
    # A giver that answers HELLO with ABORT.
    path = str(short_tmp / "handover.sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ls.bind(path)
    ls.listen(1)
    got = []

    def give():
        c, _ = ls.accept()
        with c:
            got.append(HEADER.unpack_from(c.recv(65536)))
            why = b"not today"
            c.send(HEADER.pack(MAGIC, 1, ABORT, 0, len(why), 0, 0) + why)
            c.recv(65536)

    th = threading.Thread(target=give, daemon=True)
    th.start()
    try:
        r = run_takeover(short_tmp)
    finally:
        th.join(timeout=10)
        ls.close()
    assert got and got[0][2] == HELLO
    assert r.returncode != 0
    assert "refused (the old daemon serves on)" in r.stderr, r.stderr
    assert "not today" in r.stderr, r.stderr
    assert not (short_tmp / "control.sock").exists()
