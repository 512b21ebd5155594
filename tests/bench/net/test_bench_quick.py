"""make check-bench: the network benchmark's --quick mode as a smoke test.

It asserts that the harness works end to end and that every counter moved
(packets, bytes, notifications and interrupts from QEMU's trace events,
interrupts in the guest, CPU of QEMU and of alacrityvmd, rates, latency).
It asserts no rate, latency or ratio: those are what `make bench` reports.
"""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench  # noqa: E402
import harness  # noqa: E402


def netns_list():
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def test_quick_run_moves_every_counter():
    out = harness.BENCH_BUILD / "quick"
    before = {ln.split()[0] for ln in netns_list().splitlines() if ln.startswith("avmb-")}
    results = bench.run(quick=True, out=out)

    assert results["zero_counters"] == [], results["zero_counters"]
    for kind in harness.KINDS:
        for d in bench.DIRECTIONS:
            t = results["single"][kind]["traced"][d]
            # every byte iperf3 counted crossed the guest's interface
            assert t["bytes"] >= t["iperf_bytes"], (kind, d, t)
    virtio = results["single"]["virtio"]["traced"]["g2h"]
    venet = results["single"]["venet"]["traced"]["g2h"]
    # the two trace views of a virtio kick agree; each kind sees only its own device
    assert virtio["virtio_notify_writes"] == virtio["virtio_queue_notify"]
    assert virtio["ivshmem_doorbells"] == 0 and venet["virtio_queue_notify"] == 0
    # the report files exist and the JSON is what run() returned
    assert json.loads((out / "report.json").read_text())["zero_counters"] == []
    assert "| metric |" in (out / "report.md").read_text()
    assert (out / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    after = {ln.split()[0] for ln in netns_list().splitlines() if ln.startswith("avmb-")}
    assert after <= before, f"namespaces left behind: {after - before}"
