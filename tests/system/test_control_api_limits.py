"""One control client cannot stall the control API or grow the daemon
(issue 18; docs/control-api.md, "Limits").

A real alacrityvmd in service mode with the default limits.  For a few
seconds, at the same time:
- a flooding client sends `instance.list` requests in a tight loop and
  never reads its answers;
- a storm of silent connections: more idle connections than
  max_connections, opened in two waves and held;
- a pinger pings every 10 ms, on a connection of its own and, every third
  ping, on a fresh connection as avmctl does.
Every ping must be answered within 100 ms, the daemon's RSS (VmRSS) must
grow by less than 16 MiB, and once the clients are gone its fd count is
back to where it was.  Then the flooder reads: every request it managed to
send is answered.  Runs in about 10 s.
"""

import json
import multiprocessing
import os
import re
import select
import socket
import threading
import time

import pytest

from lib.rpc import RpcClient
from lib.service_daemon import ServiceDaemon

PING_LIMIT = 0.100          # seconds
RSS_GROWTH_LIMIT = 16 << 20
RUN_SECONDS = 4.0
LIMIT_REACHED = -32003
LIST = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "instance.list"}).encode() + b"\n"


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        kb = re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)
    return int(kb.group(1)) * 1024


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    return s


def flood(path, seconds, conn):
    """Sends LIST in a tight loop for @seconds, never reads; then reports
    how many went out and reads until every one is answered."""
    s = connect(path)
    s.setblocking(False)
    sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            # One short line: a UNIX stream socket takes it whole or not at all.
            if s.send(LIST) == len(LIST):
                sent += 1
        except BlockingIOError:
            select.select([], [s], [], 0.01)
    conn.send(sent)
    s.setblocking(True)
    s.settimeout(10)
    answered, buf = 0, b""
    try:
        while answered < sent:
            data = s.recv(1 << 20)
            if not data:
                break
            buf += data
            lines = buf.split(b"\n")
            buf = lines.pop()
            answered += sum(1 for line in lines if json.loads(line).get("id") == 7)
    except OSError:
        pass
    conn.send(answered)
    s.close()


def storm(path, count, seconds, conn):
    """Two waves of @count silent connections, held until @seconds are up;
    reports how many were closed by the daemon with a -32003 line."""
    held = []
    deadline = time.monotonic() + seconds
    for _ in range(2):
        for _ in range(count):
            try:
                held.append(connect(path))
            except OSError:
                pass
        time.sleep(seconds / 3)
    time.sleep(max(0.0, deadline - time.monotonic()))
    evicted = 0
    for s in held:
        s.setblocking(False)
        try:
            line = s.recv(4096).split(b"\n")[0]
            if line and json.loads(line)["error"]["code"] == LIMIT_REACHED:
                evicted += 1
        except (BlockingIOError, ValueError, KeyError):
            pass
        s.close()
    conn.send(evicted)


def spawn(target, *args):
    ours, theirs = multiprocessing.Pipe()
    p = multiprocessing.Process(target=target, args=(*args, theirs), daemon=True)
    p.start()
    return p, ours


@pytest.fixture
def daemon(short_tmp, log_dir):
    d = ServiceDaemon(short_tmp, log_path=log_dir / "alacrityvmd.log").start()
    yield d
    assert d.stop() == 0, d.log


def test_a_flooder_and_idle_connections_do_not_stall_or_grow_the_daemon(daemon):
    limit = int(daemon.wait_log(r"control socket .*max (\d+) connections").group(1))
    pid = daemon.proc.pid
    with daemon.client() as c:
        for i in range(3):  # answers of a realistic size
            c.call("instance.create", name=f"lim{i}", region_size="1M", vectors=1)
        c.call("instance.list")
    time.sleep(0.2)
    base_fds, base_rss = fds(pid), rss(pid)

    peaks = [base_rss]
    sampling = threading.Event()

    def sample_rss():  # on its own: a stalled ping must not stall it
        while not sampling.wait(0.02):
            peaks.append(max(peaks[-1], rss(pid)))

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    pinger = RpcClient(daemon.socket, timeout=5)
    pinger.call("ping")
    flooder, flood_pipe = spawn(flood, daemon.socket, RUN_SECONDS)
    stormer, storm_pipe = spawn(storm, daemon.socket, limit + 8, RUN_SECONDS)
    pings = 0
    slow, times = [], []
    start = time.monotonic()
    deadline = start + RUN_SECONDS + 0.5
    try:
        while time.monotonic() < deadline:
            fresh = pings % 3 == 2
            t0 = time.monotonic()
            try:
                if fresh:
                    with RpcClient(daemon.socket, timeout=5) as once:
                        assert once.call("ping") == {"pong": True}
                else:
                    assert pinger.call("ping") == {"pong": True}
            except (OSError, ConnectionError) as e:
                pytest.fail(f"ping {pings} ({'fresh' if fresh else 'kept'} connection): {e!r}")
            took = time.monotonic() - t0
            times.append((round(took * 1000, 1), round(t0 - start, 2), fresh))
            if took > PING_LIMIT:
                slow.append((pings, fresh, round(took * 1000)))
            pings += 1
            time.sleep(0.01)
        sent = flood_pipe.recv()
        answered = flood_pipe.recv() if flood_pipe.poll(15) else None
        evicted = storm_pipe.recv() if storm_pipe.poll(10) else None
    finally:
        sampling.set()
        sampler.join()
        pinger.close()
        for p in (flooder, stormer):
            p.join(timeout=15)
            if p.is_alive():
                p.kill()
    peak = max(peaks[-1], rss(pid))

    assert not slow, f"pings over {PING_LIMIT * 1000:.0f} ms (index, fresh, ms): {slow}"
    assert pings > 100, pings
    assert peak - base_rss < RSS_GROWTH_LIMIT, \
        f"RSS grew by {(peak - base_rss) / 2**20:.1f} MiB (from {base_rss >> 20} MiB)"
    # The flooder filled its socket and got the daemon to stop reading it,
    # yet nothing it sent is lost.
    assert sent > 1000, sent
    assert answered == sent, (answered, sent)
    # Silent connections made room for the fresh pings (and the second wave).
    assert evicted is not None and evicted >= limit, evicted
    deadline = time.monotonic() + 5
    while fds(pid) != base_fds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fds(pid) == base_fds, (fds(pid), base_fds, os.listdir(f"/proc/{pid}/fd"))
    with daemon.client() as c:
        assert c.call("ping") == {"pong": True}
    print(f"{pings} pings, slowest (ms, at s, fresh) {sorted(times)[-5:]}; "
          f"RSS {base_rss >> 20} MiB + "
          f"{(peak - base_rss) / 2**20:.1f} MiB; flooder sent {sent}; {evicted} evicted")
