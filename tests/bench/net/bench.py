#!/usr/bin/python3
"""make bench: venet against virtio-net, side by side (docs/performance.md).

    /usr/bin/python3 tests/bench/net/bench.py [--quick] [--out DIR]

Writes DIR/report.json, report.md and report.png (default $AVM_BUILD/bench,
--quick: $AVM_BUILD/bench/quick).  Exit status 1 when a counter that must
move stayed at zero (the harness is broken), never because of a rate.
"""

import argparse
import dataclasses
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import KINDS, BenchGuest  # noqa: E402
import report  # noqa: E402
from qemu import qemu_binary  # noqa: E402 (tests/lib, on sys.path through harness)

DIRECTIONS = ("g2h", "h2g")


@dataclasses.dataclass
class Plan:
    reps: int = 3            # untraced iperf3 runs per kind and direction
    seconds: int = 10        # each
    trace_seconds: int = 5   # one traced iperf3 run per kind and direction
    rr_count: int = 2000     # request/response transactions (64 bytes)
    rr_traced: int = 300     # transactions in the traced rr run
    pings: int = 50
    multi: tuple = (2, 4)    # guests at once (1 comes from the single runs)
    multi_seconds: int = 10
    venet_opts: str = ""     # extra alacrityvmd --venet keys, for experiments


QUICK = Plan(reps=1, seconds=2, trace_seconds=2, rr_count=200, rr_traced=50, pings=5,
             multi=(), multi_seconds=2)


def log(msg: str) -> None:
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def window(g: BenchGuest, traced: bool, work) -> dict:
    """Runs work() between two counter snapshots; the trace events are on
    only inside (the snapshots talk to the guest's serial console, whose
    interrupts would otherwise count)."""
    a = g.counters()
    if traced:
        g.trace(True)
    try:
        res = work()
    finally:
        if traced:
            g.trace(False)
    b = g.counters()
    d = g.delta(a, b, traced)
    d.update(res)
    return d


def iperf3(g: BenchGuest, direction: str, seconds: int, traced: bool) -> dict:
    def work():
        return BenchGuest.iperf3_result(g.iperf3_popen(direction, seconds), seconds + 120)
    try:
        d = window(g, traced, work)
    except RuntimeError as e:  # one retry: iperf3 -s can be slow to listen again
        log(f"  {g.name} {direction}: {e}; once more")
        d = window(g, traced, work)
    log(f"  {g.name} {direction} {'traced ' if traced else ''}{d['gbps']:.3f} Gbit/s, "
        f"{d['packets']} packets")
    return d


def boot(kind: str, n: int, image: Path, work: Path, logs: Path, rr: Path,
         first: int = 0, venet_opts: str = "") -> List[BenchGuest]:
    guests = [BenchGuest(kind, first + i, image, work, logs, rr,
                         venet_opts if kind == "venet" else "") for i in range(n)]
    try:
        for g in guests:
            g.start()
        for g in guests:
            g.finish()
    except BaseException:
        for g in guests:
            g.stop()
        raise
    return guests


def single(plan: Plan, image: Path, work: Path, logs: Path, rr: Path) -> dict:
    """One guest of each kind, booted together; the two kinds take turns."""
    out = {k: {"runs": {d: [] for d in DIRECTIONS}, "traced": {}} for k in KINDS}
    guests: Dict[str, BenchGuest] = {}
    try:
        for kind in KINDS:
            guests.update({kind: g for g in boot(kind, 1, image, work, logs, rr,
                                                 venet_opts=plan.venet_opts)})
        for rep in range(plan.reps):
            order = KINDS if rep % 2 == 0 else tuple(reversed(KINDS))
            for direction in DIRECTIONS:
                for kind in order:
                    out[kind]["runs"][direction].append(
                        iperf3(guests[kind], direction, plan.seconds, traced=False))
        for direction in DIRECTIONS:
            for kind in KINDS:
                out[kind]["traced"][direction] = iperf3(guests[kind], direction,
                                                        plan.trace_seconds, traced=True)
        # Request/response takes turns too: one run of either kind swings
        # by a third from run to run here, so the table has the medians.
        for rep in range(plan.reps):
            order = KINDS if rep % 2 == 0 else tuple(reversed(KINDS))
            for kind in order:
                out[kind].setdefault("rr_runs", []).append(guests[kind].rr(plan.rr_count))
        for kind in KINDS:
            g = guests[kind]
            out[kind]["rr"] = rr_median(out[kind]["rr_runs"])
            out[kind]["rr_traced"] = window(g, True, lambda: g.rr(plan.rr_traced))
            out[kind]["ping"] = g.ping(plan.pings)
            log(f"  {g.name} rr p50 {out[kind]['rr']['p50_us']} us p99 "
                f"{out[kind]['rr']['p99_us']} us, ping p50 {out[kind]['ping']['p50_ms']} ms")
    finally:
        for g in guests.values():
            g.stop()
    return out


def rr_median(runs: List[dict]) -> dict:
    """Each latency figure of several request/response runs: its median."""
    out = dict(runs[len(runs) // 2])
    for key, value in runs[0].items():
        if key.endswith("_us"):
            out[key] = statistics.median(r[key] for r in runs)
    return out


def jain(xs: List[float]) -> float:
    """Jain's fairness index: 1 = equal shares, 1/n = one takes all."""
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs)) if any(xs) else 0.0


def multi(plan: Plan, image: Path, work: Path, logs: Path, rr: Path) -> dict:
    out: Dict[str, dict] = {}
    for n in plan.multi:
        for kind in KINDS:
            log(f"{n} x {kind}: booting")
            guests = []
            try:
                guests = boot(kind, n, image, work, logs, rr, first=10 * n,
                              venet_opts=plan.venet_opts)
                res = {}
                for direction in DIRECTIONS:
                    for g in guests:
                        g.wait_listening(harness.IPERF_PORT)
                    procs = [g.iperf3_popen(direction, plan.multi_seconds, wait=False)
                             for g in guests]
                    rates = [BenchGuest.iperf3_result(p, plan.multi_seconds + 180)["gbps"]
                             for p in procs]
                    res[direction] = {"gbps": rates, "aggregate_gbps": sum(rates),
                                      "fairness": jain(rates)}
                    log(f"  {n} x {kind} {direction}: {sum(rates):.3f} Gbit/s "
                        f"({', '.join(f'{r:.3f}' for r in rates)})")
                out.setdefault(str(n), {})[kind] = res
            except Exception as e:  # noqa: BLE001 - report it, keep the rest
                log(f"  {n} x {kind} failed: {e}")
                out.setdefault(str(n), {})[kind] = {"error": str(e)[:2000]}
            finally:
                for g in guests:
                    g.stop()
    return out


def host_facts() -> dict:
    qemu = subprocess.run([qemu_binary(), "--version"], capture_output=True,
                          text=True).stdout.splitlines()[0]
    return {"cpus": os.cpu_count(), "qemu": qemu, "guest_kernel": harness.env.kernel_version(),
            "loadavg_start": os.getloadavg()[0]}


def run(quick: bool, out: Path, **overrides) -> dict:
    plan = dataclasses.replace(QUICK if quick else Plan(), **overrides)
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    t0 = time.monotonic()
    progs = harness.build_programs()
    image = harness.guest_initramfs(progs)
    work = Path(tempfile.mkdtemp(prefix="avmb-", dir="/tmp"))  # short: UNIX sockets
    results = {"mode": "quick" if quick else "full", "plan": dataclasses.asdict(plan),
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "host": host_facts()}
    try:
        log(f"single guests, {plan.reps} x {plan.seconds} s per direction")
        results["single"] = single(plan, image, work, logs, progs["avm_rr"])
        results["multi"] = multi(plan, image, work, logs, progs["avm_rr"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["host"]["loadavg_end"] = os.getloadavg()[0]
    results["wall_seconds"] = round(time.monotonic() - t0, 1)
    results["summary"] = report.summarize(results)
    results["zero_counters"] = report.zero_counters(results)
    (out / "report.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "report.md").write_text(report.markdown(results))
    report.plot(results, out / "report.png")
    log(f"wrote {out}/report.{{json,md,png}} in {results['wall_seconds']} s")
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run (make check-bench)")
    ap.add_argument("--out", type=Path, help="report directory")
    ap.add_argument("--reps", type=int, help="iperf3 runs per kind and direction")
    ap.add_argument("--seconds", type=int, help="length of each iperf3 run")
    ap.add_argument("--trace-seconds", type=int, help="length of the traced iperf3 runs")
    ap.add_argument("--multi", help="guests at once, e.g. 2,4 ('' for none)")
    ap.add_argument("--venet-opts", help="extra --venet keys for alacrityvmd, e.g. "
                    "ring=1024,buf=4096 (experiments; the report says so)")
    ap.add_argument("--render", type=Path, metavar="DIR",
                    help="only rewrite DIR/report.md and report.png from DIR/report.json")
    args = ap.parse_args()
    if args.render:
        results = json.loads((args.render / "report.json").read_text())
        results["summary"] = report.summarize(results)
        (args.render / "report.json").write_text(json.dumps(results, indent=1) + "\n")
        (args.render / "report.md").write_text(report.markdown(results))
        report.plot(results, args.render / "report.png")
        print((args.render / "report.md").read_text())
        return 0
    overrides = {k: v for k, v in (("reps", args.reps), ("seconds", args.seconds),
                                   ("trace_seconds", args.trace_seconds),
                                   ("venet_opts", args.venet_opts)) if v is not None}
    if args.multi is not None:
        overrides["multi"] = tuple(int(n) for n in args.multi.split(",") if n)
    out = args.out or harness.BENCH_BUILD / ("quick" if args.quick else "")
    results = run(args.quick, out, **overrides)
    print((out / "report.md").read_text())
    if results["zero_counters"]:
        print("counters that stayed at zero: " + ", ".join(results["zero_counters"]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
