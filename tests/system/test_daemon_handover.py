"""alacrityvmd replaced by a new process without the guest noticing
(issue 4, hand-over mode; docs/handover.md).

One guest with a venet link for the module.  First a hand-over that is
refused half-way (a taker that reads part of the package and vanishes, one
that vanishes after the whole package): the old daemon serves on, traffic
crosses.  Then the real thing: TCP streams both ways, rate-limited in the
namespace (tbf) so they span the hand-over, `alacrityvmd --takeover-from` takes
over mid-stream, the old process exits 0 without a RESET, both streams end
with the right sha256, and the guest saw no link change at all (carrier
changes, bridge restarts/faults/call timeouts, no new "link up" in dmesg)."""

import json
import os
import re
import socket
import struct
import time

import pytest

import lib.venet as venet
from lib.daemon import LegacyTakeoverDaemon as TakeoverDaemon
from lib.venet import GUEST_IP, NS_IP, TAP, VBUS_PCI_LINK_RUN, Traffic, VenetLink

MAGIC = 0x484D5641
HEADER = struct.Struct("<IHHIIII")
HELLO, BEGIN, END, READY, ABORT = 1, 2, 5, 6, 9
STREAM_BYTES = 24 << 20
RATE = "24mbit"


@pytest.fixture(scope="module")
def link(make_initramfs, guest_tools, module_log_dir, module_tmp):
    ho = str(module_tmp / "ho.sock")
    real = venet.Daemon

    def with_listener(*a, **kw):
        kw["extra_args"] = list(kw.get("extra_args", ())) + ["--handover-listen", ho]
        return real(*a, **kw)

    venet.Daemon = with_listener
    lk = VenetLink(make_initramfs, guest_tools, module_log_dir, module_tmp)
    try:
        lk.start()
        lk.wait_carrier("1")
        lk.handover_path = ho
        yield lk
    finally:
        venet.Daemon = real
        lk.stop()


def guest_link_state(link: VenetLink) -> dict:
    """Everything that would move if the guest saw its link or bridge drop."""
    b = link.bridge_stats()
    changes = link.guest.run(f"cat /sys/class/net/{link.ifname}/carrier_changes").output
    dmesg = link.dmesg()
    return {"link": b["link"], "restarts": b["restarts"], "faults": b["faults"],
            "call_timeouts": b["call_timeouts"], "carrier": link.carrier(),
            "carrier_changes": int(changes.strip()),
            "link_ups": len(re.findall(r"link up \(host epoch", dmesg)),
            "resets": len(re.findall(r"(?i)host (reset|went away|left)|link down", dmesg))}


def frame(kind: int, seq: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(MAGIC, 1, kind, seq, len(payload), 0, 0) + payload


def fake_taker(path: str, frames_before_vanishing: int) -> int:
    """Connects, says HELLO, reads that many frames (closing every fd it
    receives) and vanishes.  Returns the frame types it saw."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(20)
    s.connect(path)
    s.send(frame(HELLO, 0, json.dumps({"version": 1, "pid": os.getpid()}).encode()))
    seen = []
    for _ in range(frames_before_vanishing):
        data, fds, _flags, _addr = socket.recv_fds(s, 65536, 64)
        for fd in fds:
            os.close(fd)
        seen.append(HEADER.unpack_from(data)[2])
        if seen[-1] == END:
            break
    s.close()
    return seen


def start_ns_to_guest(link, t, stream, port, nbytes, seed):
    """Starts `avm_stream recv` in the guest and the namespace's sender."""
    link.guest.run(f"rm -f /tmp/rx.out; (avm_stream recv {port} >/tmp/rx.out 2>&1 &)",
                   check=True)
    t._wait_guest("grep -q listening /tmp/rx.out", 30, "/tmp/rx.out")
    return link.ns.popen([stream, "send", GUEST_IP, str(port), str(nbytes), str(seed)])


def shape_ns_to_guest(link, rate=RATE):
    """A tbf on the namespace's TAP: everything the namespace sends to the
    guest -- its own stream and the ACKs that clock the guest's -- is
    paced, so a stream spans a hand-over or restart."""
    link.ns.run(["tc", "qdisc", "add", "dev", TAP, "root", "tbf", "rate", rate,
                 "burst", "64k", "latency", "400ms"], check=True)


def wait_guest_bytes(link, e0, rx=1 << 20, tx=0, timeout=300):
    """Waits until the guest's interface has received @rx and sent @tx
    bytes more than in @e0 (ethtool stats); a loaded 2-core host can take
    minutes."""
    deadline = time.monotonic() + timeout
    while True:
        e = link.ethtool_stats()
        if e["rx_bytes"] - e0["rx_bytes"] > rx and e["tx_bytes"] - e0["tx_bytes"] > tx:
            return
        assert time.monotonic() < deadline, (e0, e)
        time.sleep(0.3)


def finish_ns_to_guest(link, t, tx, nbytes, seed):
    """Waits for that stream and checks the guest got every byte intact."""
    assert tx.wait(timeout=600) == 0
    t._wait_guest("grep -q sha256 /tmp/rx.out", 600, "/tmp/rx.out")
    text = link.guest.run("cat /tmp/rx.out").output
    m = re.search(r"bytes (\d+) sha256 ([0-9a-f]{64})", text)
    assert m and int(m.group(1)) == nbytes, text
    assert m.group(2) == t.expected(nbytes, seed)


def ping_both_ways(link: VenetLink) -> None:
    r = link.guest.run(f"ping -c 3 -W 5 {NS_IP}")
    assert r.status == 0, r.output
    r = link.ns.run(["busybox", "ping", "-c", "3", "-W", "5", GUEST_IP])
    assert r.returncode == 0, r.stdout + r.stderr


def test_refused_handover_leaves_the_old_daemon_serving(link, guest_tools):
    before = guest_link_state(link)
    # Vanishes after BEGIN and a piece of the state.
    seen = fake_taker(link.handover_path, 2)
    assert seen[0] == BEGIN, seen
    link.daemon.wait_log(r"hand-over to pid \d+ failed, serving on")
    link.daemon.wait_log(r"default: serving")
    ping_both_ways(link)
    # Vanishes after the whole package, without READY.
    seen = fake_taker(link.handover_path, 10000)
    assert seen[-1] == END, seen
    link.daemon.wait_log(r"hand-over to pid \d+ failed, serving on")
    t = Traffic(link, guest_tools["avm_stream"])
    _, n, sha = t.guest_to_ns(4 << 20, 11)
    assert (n, sha) == (4 << 20, t.expected(4 << 20, 11))
    assert link.daemon.proc.poll() is None
    assert guest_link_state(link) == before
    link.assert_dmesg_clean()


def test_handover_mid_stream(link, guest_tools, module_log_dir, module_tmp):
    stream = str(guest_tools["avm_stream"])
    t = Traffic(link, guest_tools["avm_stream"])
    # Slow both directions down in the namespace, so the streams span the
    # hand-over.
    shape_ns_to_guest(link)
    before = guest_link_state(link)
    stats0 = link.daemon_stats()

    # Counters before either stream starts: under TCG the guest can send all
    # of its bytes before the second stream is set up (CI stop 13 saw that).
    e0 = link.ethtool_stats()
    # guest -> namespace
    rx = link.ns.popen([stream, "recv", "5101"])
    assert rx.stdout.readline().strip() == "listening"
    link.guest.run(f"(avm_stream send {NS_IP} 5101 {STREAM_BYTES} 21 >/tmp/tx.out 2>&1 &)",
                   check=True)
    # namespace -> guest
    tx = start_ns_to_guest(link, t, stream, 5102, STREAM_BYTES, 22)

    # Both streams are under way...
    wait_guest_bytes(link, e0, rx=1 << 20, tx=1 << 20)

    # ... when a new process takes over.
    old = link.daemon
    new = TakeoverDaemon(link.handover_path, str(module_tmp / "ho2.sock"),
                         socket=old.socket, log_path=module_log_dir / "takeover.alacrityvmd.log")
    new.start(wait_listening=False)
    link.daemon = new  # teardown stops whoever serves
    new.wait_log(r"takeover: serving instance default")
    assert old.proc.wait(timeout=30) == 0
    old._reader.join(timeout=5)
    assert "stopping without a RESET" in old.log
    assert "host RESET" not in old.log
    e_handover = link.ethtool_stats()

    # Both streams finish, intact.
    out, _ = rx.communicate(timeout=600)
    assert rx.returncode == 0, out
    m = re.search(r"bytes (\d+) sha256 ([0-9a-f]{64})", out)
    assert m and int(m.group(1)) == STREAM_BYTES, out
    assert m.group(2) == t.expected(STREAM_BYTES, 21)
    finish_ns_to_guest(link, t, tx, STREAM_BYTES, 22)

    # Data crossed after the hand-over, through the new process.
    e = link.ethtool_stats()
    assert e["rx_bytes"] > e_handover["rx_bytes"] and e["tx_bytes"] > e_handover["tx_bytes"]
    stats1 = link.daemon_stats()
    assert stats1["venet_tx_packets"] > stats0["venet_tx_packets"]
    assert stats1["venet_rx_packets"] > stats0["venet_rx_packets"]
    assert stats1["venet_bad_descriptors"] == 0 and stats1["bridge_device_faults"] == 0
    assert stats1["bridge_restarts"] == stats0["bridge_restarts"]

    # The guest never saw its link or bridge move.
    assert guest_link_state(link) == before
    assert before["link"] == VBUS_PCI_LINK_RUN and before["carrier"] == "1"
    link.assert_dmesg_clean()
    ping_both_ways(link)
