"""Figures, ratios, targets and the report files of the network benchmark."""

import statistics
from pathlib import Path
from typing import Dict, List, Optional

KINDS = ("virtio", "venet")
DIRECTIONS = ("g2h", "h2g")
DIR_NAME = {"g2h": "guest→host", "h2g": "host→guest"}

# (summary key, label, comparison, target) for the ratio venet / virtio
TARGETS = [
    ("notif_per_packet_g2h", "notifications/packet guest→host", "<=", 0.55),
    ("notif_per_packet_h2g", "notifications/packet host→guest", "<=", 0.55),
    ("irq_per_packet_g2h", "interrupts/packet guest→host", "<=", 0.50),
    ("irq_per_packet_h2g", "interrupts/packet host→guest", "<=", 0.50),
    ("gbps_g2h", "throughput guest→host", ">=", 1.0),
    ("gbps_h2g", "throughput host→guest", ">=", 1.0),
    ("rr_p50_us", "request/response p50", "<=", 1.0),
]


def _notifications(kind: str, c: dict) -> int:
    """Guest->host notifications: writes to the device's doorbell (ivshmem
    BAR0 offset 12) or to virtio's notify region."""
    return c["ivshmem_doorbells"] if kind == "venet" else c["virtio_notify_writes"]


def _per(a: float, b: float) -> Optional[float]:
    return a / b if b else None


def summarize(r: dict) -> dict:
    s: Dict[str, dict] = {}
    for kind in KINDS:
        k = r["single"][kind]
        o: Dict[str, Optional[float]] = {}
        for d in DIRECTIONS:
            runs = k["runs"][d]
            o[f"gbps_{d}"] = statistics.median(x["gbps"] for x in runs)
            o[f"gbps_{d}_all"] = [round(x["gbps"], 3) for x in runs]
            o[f"retransmits_{d}"] = statistics.median(x["retransmits"] for x in runs)
            t = k["traced"][d]
            o[f"traced_gbps_{d}"] = t["gbps"]
            o[f"packets_{d}"] = t["packets"]
            o[f"bytes_per_packet_{d}"] = _per(t["bytes"], t["packets"])
            o[f"notif_per_packet_{d}"] = _per(_notifications(kind, t), t["packets"])
            o[f"irq_per_packet_{d}"] = _per(t["msi"], t["packets"])
            o[f"guest_irq_per_packet_{d}"] = _per(t["guest_irqs"], t["packets"])
            mib = t["bytes"] / (1 << 20)
            o[f"notif_per_mib_{d}"] = _per(_notifications(kind, t), mib)
            o[f"irq_per_mib_{d}"] = _per(t["msi"], mib)
            gb = sum(x["bytes"] for x in runs) / 1e9
            for what in ("qemu_s", "qemu_vcpu_s", "qemu_other_s", "daemon_s"):
                o[f"cpu_{what}_per_gb_{d}"] = _per(sum(x[what] for x in runs), gb)
            o[f"cpu_backend_s_per_gb_{d}"] = _per(
                sum(x["qemu_other_s"] + x["daemon_s"] for x in runs), gb)
        rt = k["rr_traced"]
        o["rr_p50_us"] = k["rr"]["p50_us"]
        o["rr_p99_us"] = k["rr"]["p99_us"]
        o["rr_notif_per_transaction"] = _per(_notifications(kind, rt), rt["count"])
        o["rr_irq_per_transaction"] = _per(rt["msi"], rt["count"])
        o["ping_p50_ms"] = k["ping"]["p50_ms"]
        o["ping_avg_ms"] = k["ping"]["avg_ms"]
        s[kind] = o
    ratio = {}
    for key, v in s["venet"].items():
        w = s["virtio"].get(key)
        if isinstance(v, (int, float)) and isinstance(w, (int, float)) and w:
            ratio[key] = v / w
    s["ratio"] = ratio
    s["targets"] = []
    for key, label, cmp, target in TARGETS:
        x = ratio.get(key)
        ok = x is not None and (x <= target if cmp == "<=" else x >= target)
        s["targets"].append({"key": key, "label": label, "ratio": x,
                             "target": f"{cmp} {target}", "met": ok})
    return s


def zero_counters(r: dict) -> List[str]:
    """Counters that must move in any run, also --quick; names of those that
    did not (the harness or a counter is broken)."""
    bad = []
    for kind in KINDS:
        k = r["single"][kind]
        for d in DIRECTIONS:
            t = k["traced"][d]
            need = {"packets": t["packets"], "bytes": t["bytes"], "msi": t["msi"],
                    "guest_irqs": t["guest_irqs"], "notifications": _notifications(kind, t),
                    "qemu_cpu": t["qemu_s"], "gbps": t["gbps"]}
            if kind == "virtio":
                need["virtio_queue_notify"] = t["virtio_queue_notify"]
                need["virtio_notify"] = t["virtio_notify"]
            else:
                need["daemon_cpu"] = sum(x["daemon_s"] for x in k["runs"][d]) + t["daemon_s"]
            need["untraced_gbps"] = min(x["gbps"] for x in k["runs"][d])
            bad += [f"{kind}.{d}.{n}" for n, v in need.items() if not v]
        for n, v in (("rr_p50_us", k["rr"]["p50_us"]), ("ping_replies", k["ping"]["replies"]),
                     ("rr_msi", k["rr_traced"]["msi"])):
            if not v:
                bad.append(f"{kind}.{n}")
    return bad


def _f(x, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}f}" if abs(x) < 1000 and digits else f"{x:.0f}"
    return str(x)


ROWS = [
    ("gbps_g2h", "iperf3 guest→host, Gbit/s (median)", 3),
    ("gbps_h2g", "iperf3 host→guest, Gbit/s (median)", 3),
    ("notif_per_packet_g2h", "notifications/packet, guest→host run", 3),
    ("notif_per_packet_h2g", "notifications/packet, host→guest run", 3),
    ("irq_per_packet_g2h", "interrupts (MSI)/packet, guest→host run", 3),
    ("irq_per_packet_h2g", "interrupts (MSI)/packet, host→guest run", 3),
    ("notif_per_mib_g2h", "notifications/MiB, guest→host", 1),
    ("notif_per_mib_h2g", "notifications/MiB, host→guest", 1),
    ("irq_per_mib_g2h", "interrupts/MiB, guest→host", 1),
    ("irq_per_mib_h2g", "interrupts/MiB, host→guest", 1),
    ("bytes_per_packet_g2h", "bytes/packet (both ways), guest→host run", 0),
    ("bytes_per_packet_h2g", "bytes/packet (both ways), host→guest run", 0),
    ("retransmits_g2h", "TCP retransmits per run, guest→host (median)", 0),
    ("retransmits_h2g", "TCP retransmits per run, host→guest (median)", 0),
    ("rr_p50_us", "request/response 64 B, p50 µs", 1),
    ("rr_p99_us", "request/response 64 B, p99 µs", 1),
    ("rr_notif_per_transaction", "notifications/transaction (rr)", 2),
    ("rr_irq_per_transaction", "interrupts/transaction (rr)", 2),
    ("ping_p50_ms", "ping RTT p50, ms", 3),
    ("cpu_backend_s_per_gb_g2h", "backend CPU s/GB guest→host", 2),
    ("cpu_backend_s_per_gb_h2g", "backend CPU s/GB host→guest", 2),
    ("cpu_qemu_s_per_gb_g2h", "QEMU CPU s/GB guest→host", 2),
    ("cpu_qemu_s_per_gb_h2g", "QEMU CPU s/GB host→guest", 2),
    ("cpu_qemu_vcpu_s_per_gb_g2h", "guest vCPU thread s/GB guest→host", 2),
    ("cpu_qemu_vcpu_s_per_gb_h2g", "guest vCPU thread s/GB host→guest", 2),
    ("cpu_daemon_s_per_gb_g2h", "alacrityvmd CPU s/GB guest→host", 2),
    ("cpu_daemon_s_per_gb_h2g", "alacrityvmd CPU s/GB host→guest", 2),
    ("traced_gbps_g2h", "traced run guest→host, Gbit/s", 3),
    ("traced_gbps_h2g", "traced run host→guest, Gbit/s", 3),
]


def markdown(r: dict) -> str:
    s = r["summary"]
    p = r["plan"]
    h = r["host"]
    out = [f"# venet vs virtio-net ({r['mode']} run, {r['date']})", "",
           f"{h['qemu']}, TCG, one vCPU per guest, guest kernel {h['guest_kernel']}, "
           f"{h['cpus']} host CPUs, load average {h['loadavg_start']:.1f} at the start and "
           f"{h['loadavg_end']:.1f} at the end; {r['wall_seconds']:.0f} s wall.", "",
           f"iperf3: {p['reps']} × {p['seconds']} s per direction (median), counters from one "
           f"traced run of {p['trace_seconds']} s; request/response: "
           f"{p['reps']} × {p['rr_count']} × 64 B (medians); "
           f"ping: {p['pings']}."
           + (f" alacrityvmd --venet extra keys: `{p['venet_opts']}`." if p.get("venet_opts")
              else ""), "",
           "| metric | virtio-net | venet | venet/virtio |", "|---|---:|---:|---:|"]
    for key, label, digits in ROWS:
        a, b = s["virtio"].get(key), s["venet"].get(key)
        out.append(f"| {label} | {_f(a, digits)} | {_f(b, digits)} | "
                   f"{_f(s['ratio'].get(key), 2)} |")
    out += ["", "## Targets (venet / virtio-net)", "", "| target | ratio | wanted | met |",
            "|---|---:|---:|---|"]
    for t in s["targets"]:
        out.append(f"| {t['label']} | {_f(t['ratio'], 2)} | {t['target']} | "
                   f"{'yes' if t['met'] else '**no**'} |")
    if r.get("multi"):
        out += ["", "## Several guests at once (iperf3, aggregate Gbit/s, Jain fairness)", "",
                "| guests | direction | virtio-net | venet | venet/virtio | fairness virtio | "
                "fairness venet |", "|---:|---|---:|---:|---:|---:|---:|"]
        for d in DIRECTIONS:
            v1, n1 = s["virtio"][f"gbps_{d}"], s["venet"][f"gbps_{d}"]
            out.append(f"| 1 | {DIR_NAME[d]} | {_f(v1)} | {_f(n1)} | {_f(_per(n1, v1), 2)} "
                       "| – | – |")
            for n, m in r["multi"].items():
                if "error" in m["virtio"] or "error" in m["venet"]:
                    out.append(f"| {n} | {DIR_NAME[d]} | failed: see report.json | | | | |")
                    continue
                a, b = m["virtio"][d], m["venet"][d]
                ratio = b["aggregate_gbps"] / a["aggregate_gbps"] if a["aggregate_gbps"] else None
                out.append(f"| {n} | {DIR_NAME[d]} | {_f(a['aggregate_gbps'])} | "
                           f"{_f(b['aggregate_gbps'])} | {_f(ratio, 2)} | "
                           f"{_f(a['fairness'], 2)} | {_f(b['fairness'], 2)} |")
    if r.get("zero_counters"):
        out += ["", "Counters that stayed at zero: " + ", ".join(r["zero_counters"])]
    return "\n".join(out) + "\n"


def plot(r: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = r["summary"]
    colors = {"virtio": "#7f7f7f", "venet": "#1f77b4"}
    panels = [
        ("Throughput (Gbit/s)", [("g→h", "gbps_g2h"), ("h→g", "gbps_h2g")]),
        ("Notifications / packet", [("g→h", "notif_per_packet_g2h"),
                                    ("h→g", "notif_per_packet_h2g")]),
        ("Interrupts / packet", [("g→h", "irq_per_packet_g2h"), ("h→g", "irq_per_packet_h2g")]),
        ("Request/response (µs)", [("p50", "rr_p50_us"), ("p99", "rr_p99_us")]),
        ("Backend CPU s / GB", [("g→h", "cpu_backend_s_per_gb_g2h"),
                                ("h→g", "cpu_backend_s_per_gb_h2g")]),
    ]
    multi = r.get("multi") or {}
    n_panels = len(panels) + (1 if multi else 0)
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5))
    axes = axes.flatten()
    for ax, (title, bars) in zip(axes, panels):
        x = range(len(bars))
        for i, kind in enumerate(KINDS):
            vals = [s[kind].get(key) or 0 for _, key in bars]
            ax.bar([j + (i - 0.5) * 0.38 for j in x], vals, 0.38, label=kind,
                   color=colors[kind])
        ax.set_xticks(list(x))
        ax.set_xticklabels([b[0] for b in bars])
        ax.set_title(title)
    if multi:
        ax = axes[len(panels)]
        ns = [1] + [int(n) for n in multi]
        for kind in KINDS:
            for d, style in (("g2h", "-o"), ("h2g", "--s")):
                ys = [s[kind][f"gbps_{d}"]] + [multi[str(n)][kind].get(d, {}).get(
                    "aggregate_gbps", float("nan")) for n in ns[1:]]
                ax.plot(ns, ys, style, color=colors[kind], label=f"{kind} {d}")
        ax.set_xticks(ns)
        ax.set_xlabel("guests")
        ax.set_title("Aggregate throughput (Gbit/s)")
        ax.legend(fontsize=7)
    for ax in axes[n_panels:]:
        ax.axis("off")
    axes[0].legend()
    fig.suptitle(f"venet vs virtio-net under TCG ({r['mode']} run, {r['date']})")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
