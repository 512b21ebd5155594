"""No counter of any object goes back across a takeover, and every exported
metric has the type its name says (issue 19, "One counter table per
object"; docs/control-api.md).

Both hand-overs: the service's (`alacrityvmd --takeover`: the API's stats
objects and the Prometheus text) and the legacy one (`--socket/--venet`
with `--takeover-from`: the SIGQUIT `stats:` line).  Each moves traffic
both ways, takes the counters, hands over, moves more traffic and takes
them again: every counter of the bridge, the event queue, the call channel,
the ivshmem server and the device is at least what it was.  Gauges (which
may go down) are the entries marked kGauge in the tables, read from the
headers themselves.  Without a guest: the ivshmem server's counters go on
from the handed-over values, and the old process's last `stats:` line is
the counters it handed over.
"""

import json
import re
import socket
import time
import types

import pytest

from lib import env
from lib.service_daemon import ServiceDaemon, take_over
from lib.venet import Traffic
# The legacy link (module scope): used by the last test only, so that one
# guest runs at a time.
from test_daemon_handover import TakeoverDaemon
from test_daemon_handover import link as legacy_link  # noqa: F401 (a fixture)
from test_daemon_service_handover import CONFIG_INSTANCE, ServiceLink, ctl_json, metrics_text

# Every statistics table: its X-macro and where it is (bridge/stat_table.h).
TABLES = {
    "venet": ("userspace/venet/venet_counters.h", "AVM_VENET_STATS"),
    "bridge": ("userspace/bridge/bridge_counters.h", "AVM_BRIDGE_STATS"),
    "evq": ("userspace/bridge/event_queue.h", "AVM_EVENT_QUEUE_STATS"),
    "call": ("userspace/bridge/call_server.h", "AVM_CALL_STATS"),
    "ivshmem": ("userspace/ivshmem/server_counters.h", "AVM_IVSHMEM_STATS"),
}


def table_rows(table: str) -> dict:
    """{name: kCounter or kGauge} of the rows of one statistics table."""
    header, macro = TABLES[table]
    m = re.search(rf"^#define {macro}\(X\)((?:.*\\\n)*.*)$", (env.TOP / header).read_text(), re.M)
    assert m, f"{header}: no #define {macro} (moved? update TABLES)"
    rows = dict(re.findall(r"X\((\w+), (kCounter|kGauge)", m.group(1)))
    assert rows, f"{header}: {macro} has no rows"
    return rows


def table_gauges() -> set:
    """The keys the statistics tables mark kGauge."""
    gauges = {k for t in TABLES for k, kind in table_rows(t).items() if kind == "kGauge"}
    assert "busy_poll_us" in gauges
    return gauges


def move_traffic(link, guest_tools, seed: int) -> None:
    """A stream each way (the TX stream timer and the busy poll run)."""
    t = Traffic(link, guest_tools["avm_stream"])
    for run, port in ((t.guest_to_ns, 5601), (t.ns_to_guest, 5602)):
        _, n, sha = run(4 << 20, seed, port=port)
        assert (n, sha) == (4 << 20, t.expected(4 << 20, seed))


def went_back(before: dict, after: dict, gauges: set) -> dict:
    """{key: (before, after)} of every counter that is missing or lower."""
    return {k: (v, after.get(k)) for k, v in before.items()
            if k not in gauges and not (isinstance(after.get(k), int) and after[k] >= v)}


# -- Prometheus ----------------------------------------------------------------

def parse_metrics(text: str):
    """({family: type}, {(name, labels): value}) of an exposition text."""
    body = text.split("\r\n\r\n", 1)[-1]
    types, samples = {}, {}
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name not in types, f"# TYPE {name} twice"
            types[name] = kind
        elif line and not line.startswith("#"):
            m = re.fullmatch(r"([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)", line)
            assert m, line
            samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return types, samples


def metric_name(obj: str, key: str, gauges: set) -> str:
    """What a stats key is exported as (docs/control-api.md)."""
    base = f"alacrityvm_{obj}_" + (key[:-3] + "_seconds" if key.endswith("_us") else key)
    return base if key in gauges else base + "_total"


def check_types(types: dict, samples: dict, stats: dict, gauges: set) -> None:
    """counter <=> _total; every sample has a # TYPE; every API key is
    exported under the name and type the table gives it."""
    wrong = {n: t for n, t in types.items() if (t == "counter") != n.endswith("_total")}
    assert not wrong, f"type disagrees with the name: {wrong}"
    untyped = {n for n, _ in samples if n not in types}
    assert not untyped, untyped
    for inst, s in stats.items():
        for obj, keys in [("bridge", s["bridge"]), ("ivshmem", s["ivshmem"])] + \
                [("venet", d) for d in s["devices"].values()]:
            for key in keys:
                name = metric_name(obj, key, gauges)
                assert types.get(name) == ("gauge" if key in gauges else "counter"), \
                    f"{inst}: {key} exported as {name} {types.get(name)}"


def counters_only(types: dict, samples: dict) -> dict:
    return {f"{n}{labels}": int(v) for (n, labels), v in samples.items()
            if types.get(n) == "counter"}


# -- the service's hand-over ---------------------------------------------------

@pytest.fixture
def service_link(make_initramfs, guest_tools, log_dir, short_tmp):
    lk = ServiceLink(make_initramfs, guest_tools, log_dir, short_tmp)
    try:
        lk.start_service(short_tmp)
        lk.wait_carrier("1")
        yield lk
    finally:
        lk.stop()


def service_snapshot(link):
    """({instance/object/key: value} of the API, the Prometheus counters,
    and what check_types() needs)."""
    stats = ctl_json(link.daemon, "stats")["instances"]
    types, samples = parse_metrics(metrics_text(link.metrics))
    flat = {}
    for inst, s in stats.items():
        flat.update({f"{inst}/{obj}/{k}": v for obj in ("bridge", "ivshmem")
                     for k, v in s[obj].items()})
        for dev, d in s["devices"].items():
            flat.update({f"{inst}/{dev}/{k}": v for k, v in d.items()})
    return flat, counters_only(types, samples), (types, samples, stats)


def test_service_takeover_keeps_every_counter(service_link, guest_tools, log_dir):
    link, gauges = service_link, table_gauges()
    move_traffic(link, guest_tools, 61)
    api0, prom0, exported0 = service_snapshot(link)
    assert api0["vm1/vm1-net0/tx_packets"] > 0 and api0["vm1/bridge/calls"] > 0, api0
    print({k: v for k, v in api0.items() if k.startswith("vm1/vm1-net0/")})

    take_over(link, log_path=log_dir / "takeover.alacrityvmd.log", instances=2)

    move_traffic(link, guest_tools, 62)
    api1, prom1, exported1 = service_snapshot(link)
    key_gauges = {k for k in api0 if k.rsplit("/", 1)[1] in gauges}
    assert not went_back(api0, api1, key_gauges), went_back(api0, api1, key_gauges)
    assert not went_back(prom0, prom1, set()), went_back(prom0, prom1, set())
    assert api1["vm1/vm1-net0/tx_packets"] > api0["vm1/vm1-net0/tx_packets"]
    for exported in (exported0, exported1):
        check_types(*exported, gauges)


# -- the legacy hand-over (--socket/--venet) -------------------------------------

def test_legacy_takeover_keeps_every_counter(legacy_link, guest_tools,  # noqa: F811
                                             log_dir, short_tmp):
    link, gauges = legacy_link, table_gauges()
    move_traffic(link, guest_tools, 71)
    line0 = link.daemon_stats()
    assert line0["venet_tx_packets"] > 0, line0
    print(line0)

    old = link.daemon
    new = TakeoverDaemon(link.handover_path, str(short_tmp / "ho2.sock"), socket=old.socket,
                         log_path=log_dir / "takeover.alacrityvmd.log")
    new.start(wait_listening=False)
    link.daemon = new
    new.wait_log(r"takeover: serving instance default")
    assert old.proc.wait(timeout=30) == 0

    move_traffic(link, guest_tools, 72)
    line1 = link.daemon_stats()
    line_gauges = {k for k in line0 if k.split("_", 1)[-1] in gauges}
    assert not went_back(line0, line1, line_gauges), went_back(line0, line1, line_gauges)
    assert line1["venet_tx_packets"] > line0["venet_tx_packets"]
    # The line has every entry of every table.
    want = {k if k == "calls" else f"call_{k}" for k in table_rows("call")} | \
        {f"{t}_{k}" for t in ("venet", "bridge", "evq", "ivshmem") for k in table_rows(t)}
    assert not want - set(line0), f"the stats line misses {sorted(want - set(line0))}"


# -- the ivshmem server and the old process's last line (no guest) -------------

def ivshmem_stats(daemon, until) -> dict:
    """The API's ivshmem stats of cfg1 once until(them) holds (10 s)."""
    deadline = time.monotonic() + 10
    while True:
        with daemon.client() as c:
            iv = c.call("stats", instance="cfg1")["instances"]["cfg1"]["ivshmem"]
        if until(iv) or time.monotonic() > deadline:
            assert until(iv), iv
            return iv
        time.sleep(0.05)


def ivshmem_metrics(path) -> dict:
    """{name: (type, value)} of the alacrityvm_ivshmem_* families, once the
    metrics socket answers (a taker binds it a moment after it serves)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            types_, samples = parse_metrics(metrics_text(path))
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    return {n: (types_.get(n), v) for (n, labels), v in samples.items()
            if n.startswith("alacrityvm_ivshmem_") and labels == '{instance="cfg1"}'}


def test_ivshmem_counters_and_the_last_stats_line(short_tmp, log_dir):
    """QEMU-less clients of cfg1's ivshmem server (connect, get the
    handshake, one leaves), a takeover: the old process's last stats line
    is what it handed over (it was {"instances":{}}), the new one's
    counters go on from exactly that, and each is exported as the counter
    alacrityvm_ivshmem_<name>_total."""
    metrics = short_tmp / "metrics.sock"
    holder = types.SimpleNamespace(daemon=ServiceDaemon(
        short_tmp, log_path=log_dir / "service.alacrityvmd.log", objects=CONFIG_INSTANCE,
        config_extra=f'[metrics]\nenabled = true\nlisten = "unix:{metrics}"\n').start())
    clients = []
    try:
        old = holder.daemon
        with old.client() as c:
            path = c.call("instance.show", name="cfg1")["socket"]
        for _ in range(3):
            clients.append(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
            clients[-1].connect(path)
        ivshmem_stats(old, lambda iv: iv["joined"] == 3)
        clients.pop().close()
        before = ivshmem_stats(old, lambda iv: iv["left"] == 1)
        assert before["accepted"] == 3, before

        take_over(holder, log_path=log_dir / "takeover.alacrityvmd.log", instances=1)
        lines = re.findall(r"stats: (\{.*\})$", old.log, re.M)
        assert lines, old.log[-2000:]
        last = json.loads(lines[-1])
        assert "cfg1" in last.get("instances", {}), f"the last stats line lost cfg1: {lines[-1]}"
        assert last["instances"]["cfg1"]["ivshmem"] == before, last
        new = holder.daemon
        assert ivshmem_stats(new, lambda iv: True) == before

        clients.append(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        clients[-1].connect(path)
        after = ivshmem_stats(new, lambda iv: iv["joined"] == before["joined"] + 1)
        assert after["accepted"] == before["accepted"] + 1, after
        assert not went_back(before, after, set()), went_back(before, after, set())
        exported = ivshmem_metrics(metrics)
        for key in table_rows("ivshmem"):
            name = metric_name("ivshmem", key, set())
            assert exported.get(name) == ("counter", after[key]), (name, exported.get(name))
        assert len(exported) == len(table_rows("ivshmem")), exported
    finally:
        for c in clients:
            c.close()
        holder.daemon.stop()


def test_the_docs_list_every_ivshmem_counter():
    """docs/control-api.md's table of the ivshmem keys is AVM_IVSHMEM_STATS."""
    doc = (env.TOP / "docs/control-api.md").read_text()
    m = re.search(r"The `ivshmem` stats of an instance.*?\n\n((?:\|.*\n)+)", doc, re.S)
    assert m, "docs/control-api.md: the ivshmem table moved"
    documented = re.findall(r"^\| `(\w+)` \|", m.group(1), re.M)
    assert sorted(documented) == sorted(table_rows("ivshmem")), documented
