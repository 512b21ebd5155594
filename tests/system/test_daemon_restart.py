"""alacrityvmd restarted through systemd's FD store, without systemd.

A fake service manager stands in for systemd: a NOTIFY_SOCKET datagram
socket that keeps what the daemon stores with FDSTORE=1/FDNAME= (and drops
what FDSTOREREMOVE=1 names), and a wrapper that starts the next daemon with
those fds at 3.. and LISTEN_FDS/LISTEN_FDNAMES/LISTEN_PID set, as systemd
does on `systemctl restart`.  The old daemon gets SIGTERM mid-stream; the
streams finish with intact checksums and the guest sees no carrier change.
"""

import array
import os
import signal
import socket
import sys
import threading

import pytest

from lib.daemon import Daemon
from lib.venet import VBUS_PCI_LINK_RUN, Traffic, VenetLink
from test_daemon_handover import (finish_ns_to_guest, guest_link_state, ping_both_ways,
                                  shape_ns_to_guest, start_ns_to_guest, wait_guest_bytes)

STREAM_BYTES = 16 << 20

WRAPPER = r"""
import os, sys
fds = [int(x) for x in os.environ.pop("AVM_FDS").split(",") if x]
high = [os.dup(f) for f in fds]
high = [os.dup2(h, 1000 + i) or 1000 + i for i, h in enumerate(high)]
for i, h in enumerate(high):
    os.dup2(h, 3 + i)
    os.close(h)
os.environ["LISTEN_FDS"] = str(len(fds))
os.environ["LISTEN_FDNAMES"] = os.environ.pop("AVM_FDNAMES")
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[1], sys.argv[1:])
"""


class FakeManager:
    """The FD store half of systemd's notify protocol."""

    def __init__(self, path: str):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.store = {}  # name -> [fds]
        self.messages = []
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                data, anc, _f, _a = self.sock.recvmsg(8192, socket.CMSG_SPACE(4 * 253))
            except socket.timeout:
                continue
            fds = array.array("i")
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
            fields = dict(kv.split("=", 1) for kv in data.decode().splitlines() if "=" in kv)
            with self.lock:
                self.messages.append(fields)
                name = fields.get("FDNAME", "stored")
                if fields.get("FDSTOREREMOVE") == "1":
                    for fd in self.store.pop(name, []):
                        os.close(fd)
                if fields.get("FDSTORE") == "1":
                    self.store.setdefault(name, []).extend(fds)
                else:
                    for fd in fds:
                        if fields.get("FDSTORE") != "1":
                            os.close(fd)

    def close(self):
        self.stop = True
        self.thread.join(timeout=5)
        self.sock.close()
        for fds in self.store.values():
            for fd in fds:
                os.close(fd)
        os.unlink(self.path)


class RestartedDaemon(Daemon):
    def __init__(self, old: Daemon, wrapper: str, **kw):
        super().__init__(old.socket, region_size=old.region_size, vectors=old.vectors,
                         extra_args=old.extra_args, binary=old.binary, **kw)
        self.wrapper = wrapper

    def command_line(self):
        return [sys.executable, self.wrapper] + super().command_line()


@pytest.fixture(scope="module")
def link(make_initramfs, guest_tools, module_log_dir, module_tmp):
    mgr = FakeManager(str(module_tmp / "notify.sock"))
    os.environ["NOTIFY_SOCKET"] = mgr.path
    lk = VenetLink(make_initramfs, guest_tools, module_log_dir, module_tmp)
    try:
        lk.start()
        lk.wait_carrier("1")
        lk.manager = mgr
        yield lk
    finally:
        os.environ.pop("NOTIFY_SOCKET", None)
        lk.stop()
        mgr.close()


def test_fdstore_restart_mid_stream(link, guest_tools, module_log_dir, module_tmp):
    stream = str(guest_tools["avm_stream"])
    t = Traffic(link, guest_tools["avm_stream"])
    shape_ns_to_guest(link)
    before = guest_link_state(link)
    mgr = link.manager

    # namespace -> guest, the direction the tbf above paces, so the stream
    # is still running when the daemon restarts even on a fast machine
    e0 = link.ethtool_stats()
    tx = start_ns_to_guest(link, t, stream, 5201, STREAM_BYTES, 31)
    wait_guest_bytes(link, e0)

    # systemctl restart: SIGTERM, the old one saves everything and exits...
    old = link.daemon
    old.proc.send_signal(signal.SIGTERM)
    assert old.proc.wait(timeout=60) == 0
    old._reader.join(timeout=5)
    assert "instances kept in the FD store" in old.log, old.log
    assert "host RESET" not in old.log
    with mgr.lock:
        names, fds = [], []
        for name, got in mgr.store.items():
            for fd in got:
                names.append(name)
                fds.append(fd)
    assert "avm-state" in names and "default.region" in names, names

    # ... and the manager starts the next one with the store.
    wrapper = module_tmp / "listen_fds.py"
    wrapper.write_text(WRAPPER)
    os.environ["AVM_FDS"] = ",".join(map(str, fds))
    os.environ["AVM_FDNAMES"] = ":".join(names)
    new = RestartedDaemon(old, str(wrapper), log_path=module_log_dir / "restarted.alacrityvmd.log")
    real_popen = __import__("subprocess").Popen
    try:
        import subprocess

        def popen(*a, **kw):
            kw["pass_fds"] = tuple(fds)
            return real_popen(*a, **kw)
        subprocess.Popen = popen
        new.start(wait_listening=False)
    finally:
        subprocess.Popen = real_popen
        os.environ.pop("AVM_FDS", None)
        os.environ.pop("AVM_FDNAMES", None)
    link.daemon = new
    new.wait_log(r"continues from the FD store")
    e_restart = link.ethtool_stats()

    finish_ns_to_guest(link, t, tx, STREAM_BYTES, 31)
    assert link.ethtool_stats()["rx_bytes"] > e_restart["rx_bytes"]
    assert guest_link_state(link) == before
    assert before["link"] == VBUS_PCI_LINK_RUN and before["carrier"] == "1"
    link.assert_dmesg_clean()
    ping_both_ways(link)
