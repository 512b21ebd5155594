#!/usr/bin/python3
"""Userspace vs kernel venet backend, same VM (make bench-host).

Boots one test VM (Debian's kernel under TCG, vbus_host.ko loaded) and runs
`avm-kvhost bench` alternately with --backend kernel and --backend user
(ROUNDS times each, SECONDS each): a software guest floods ICMP echo
requests at the TAP's address with 16 in flight and checks every reply.
Per backend it reports round trips per second, payload Mbit/s (both
directions) and, per packet moved (tx + rx), guest doorbells, host->guest
notify decisions that fired, interrupts raised and backend wake-ups.

Writes $AVM_BUILD/bench/host.json and host.md.  TCG numbers are ratios,
not absolute speeds: compare the two rows, not with real hardware.
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(TOP / "tests" / "system"))

from lib import env  # noqa: E402
from lib.guest import Guest  # noqa: E402
from lib.initramfs import InitramfsSpec, build_initramfs, usr_bin_files  # noqa: E402

KEYS = ("tx_packets", "rx_packets", "doorbells", "tx_signals", "rx_signals",
        "interrupts", "wakeups")


def counters(line: str) -> dict:
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line) if k in KEYS}


def one_run(g: Guest, backend: str, seconds: int) -> dict:
    r = g.run(f"avm-kvhost bench --backend {backend} --seconds {seconds} 2>/dev/null",
              timeout=seconds + 120)
    if r.status != 0 or "RESULT ok" not in r.output:
        raise RuntimeError(r.output)
    head = re.search(r"^backend=.*$", r.output, re.M).group(0)
    before = counters(re.search(r"^before (.*)$", r.output, re.M).group(1))
    after = counters(re.search(r"^after (.*)$", r.output, re.M).group(1))
    d = {k: after[k] - before[k] for k in KEYS}
    d["seconds"] = float(re.search(r"seconds=([\d.]+)", head).group(1))
    d["replies"] = int(re.search(r"replies=(\d+)", head).group(1))
    d["payload_mbit"] = float(re.search(r"payload_mbit=([\d.]+)", head).group(1))
    return d


def summarise(runs: list) -> dict:
    tot = {k: sum(r[k] for r in runs) for k in runs[0]}
    pk = max(tot["tx_packets"] + tot["rx_packets"], 1)
    return {
        "round_trips_per_s": round(tot["replies"] / tot["seconds"]),
        "payload_mbit_s": round(tot["payload_mbit"] / len(runs), 2),
        "doorbells_per_packet": round(tot["doorbells"] / pk, 4),
        "guest_signals_per_packet": round((tot["tx_signals"] + tot["rx_signals"]) / pk, 4),
        "interrupts_per_packet": round(tot["interrupts"] / pk, 4),
        "wakeups_per_packet": round(tot["wakeups"] / pk, 4),
        "packets": pk,
        "runs": len(runs),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=env.BUILD / "bench")
    a = ap.parse_args()
    kvhost = Path(os.environ.get("AVM_KVHOST",
                                 env.BUILD / "userspace" / "tests" / "bench" / "avm-kvhost"))
    ko = env.BUILD / "modules" / "host" / "vbus_host.ko"
    # /usr/bin/avm-kvhost: the VM's /tmp is a tmpfs, so not the build path
    spec = InitramfsSpec(files=usr_bin_files([kvhost]), modules=["tun"],
                         extra_modules=[ko], load_modules=["vbus_host"])
    a.out.mkdir(parents=True, exist_ok=True)
    g = Guest(build_initramfs(spec), log_path=a.out / "host.console.log")
    runs = {"kernel": [], "user": []}
    try:
        g.start()
        g.wait_ready()
        g.run("test -x /usr/bin/avm-kvhost", check=True)
        for _ in range(a.rounds):
            for b in ("kernel", "user"):
                runs[b].append(one_run(g, b, a.seconds))
                print(b, runs[b][-1], flush=True)
    finally:
        g.kill()
    res = {b: summarise(r) for b, r in runs.items()}
    res["kernel_vs_user_throughput"] = round(
        res["kernel"]["round_trips_per_s"] / max(res["user"]["round_trips_per_s"], 1), 2)
    (a.out / "host.json").write_text(json.dumps({"summary": res, "runs": runs}, indent=2) + "\n")
    rows = ["| backend | round trips/s | payload Mbit/s | doorbells/pkt | "
            "guest signals/pkt | interrupts/pkt | backend wake-ups/pkt |",
            "|---|---|---|---|---|---|---|"]
    for b in ("kernel", "user"):
        s = res[b]
        rows.append(f"| {b} | {s['round_trips_per_s']} | {s['payload_mbit_s']} | "
                    f"{s['doorbells_per_packet']} | {s['guest_signals_per_packet']} | "
                    f"{s['interrupts_per_packet']} | {s['wakeups_per_packet']} |")
    table = "\n".join(rows) + "\n"
    (a.out / "host.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
