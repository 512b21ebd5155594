"""No counter of any object goes back across a takeover, and every exported
metric has the type its name says (issue 19, "One counter table per
object"; docs/control-api.md).

Both hand-overs: the service's (`alacrityvmd --takeover`: the API's stats
objects and the Prometheus text) and the legacy one (`--socket/--venet`
with `--takeover-from`: the SIGQUIT `stats:` line).  Each moves traffic
both ways, takes the counters, hands over, moves more traffic and takes
them again: every counter of the bridge, the event queue, the call channel
and the device is at least what it was.  Gauges (which may go down) are the
entries marked kGauge in the tables, read from the headers themselves.
"""

import re

import pytest

from lib import env
from lib.service_daemon import take_over
from lib.venet import Traffic
# The legacy link (module scope): used by the last test only, so that one
# guest runs at a time.
from test_daemon_handover import TakeoverDaemon
from test_daemon_handover import link as legacy_link  # noqa: F401 (a fixture)
from test_daemon_service_handover import ServiceLink, ctl_json, metrics_text

TABLES = ("userspace/venet/venet_counters.h", "userspace/bridge/bridge_counters.h")


def table_rows(header: str) -> dict:
    """{name: kCounter or kGauge} of a statistics table's AVM_*_STATS rows."""
    rows = dict(re.findall(r"X\((\w+), (kCounter|kGauge)", (env.TOP / header).read_text()))
    assert rows, f"{header}: no table rows (moved? update TABLES)"
    return rows


def table_gauges() -> set:
    """The keys the statistics tables mark kGauge."""
    gauges = {k for h in TABLES for k, kind in table_rows(h).items() if kind == "kGauge"}
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
        for obj, keys in [("bridge", s["bridge"])] + [("venet", d) for d in s["devices"].values()]:
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
        flat.update({f"{inst}/bridge/{k}": v for k, v in s["bridge"].items()})
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
    # The line has every entry of the bridge's and the device's tables.
    bridge = (env.TOP / TABLES[1]).read_text()
    evq = re.findall(r'\{"(\w+)", &EventQueueCounters::', bridge)
    calls = re.findall(r'\{"(\w+)", &CallCounters::', bridge)
    assert evq and calls, f"{TABLES[1]}: the tables moved"
    want = {f"venet_{k}" for k in table_rows(TABLES[0])} | \
        {f"bridge_{k}" for k in table_rows(TABLES[1])} | \
        {f"evq_{k}" for k in evq} | {k if k == "calls" else f"call_{k}" for k in calls}
    assert not want - set(line0), f"the stats line misses {sorted(want - set(line0))}"
