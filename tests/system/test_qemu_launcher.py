"""tests/lib/qemu.py, the QEMU launcher every suite uses: the process and
its group end with kill(), QEMU's own errors reach wait_for() and the log,
stop() ends QEMU gracefully, SSH is forwarded from 127.0.0.1 only, a disk
runs on a throw-away overlay, a machine in a namespace keeps QEMU's PID.
Paused machines (-S, no kernel): the whole module takes a few seconds."""

import os
import shlex
import subprocess
import time

import pytest
from lib.netns import NetNs
from qemu import Qemu, QemuError, free_port, user_net_ssh_args


def gone(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_paused_machine_answers_qmp_and_kill_ends_its_group(short_tmp, log_dir):
    vm = Qemu(paused=True, memory="64", qmp=short_tmp / "qmp.sock", log_path=log_dir / "q.log")
    with vm.start():
        qmp = vm.qmp()
        try:
            assert qmp.cmd("query-status")["status"] == "prelaunch"
            assert qmp.cmd("query-memory-size-summary")["base-memory"] == 64 << 20
        finally:
            qmp.close()
        assert vm.alive() and not gone(vm.pid)
    assert not vm.alive() and gone(vm.pid)
    first = (log_dir / "q.log").read_text().splitlines()[0]
    assert first == "# " + shlex.join(vm.command_line())


def test_qemu_error_reaches_wait_for_and_the_log(log_dir):
    vm = Qemu(paused=True, args=["-device", "avm-no-such-device"], log_path=log_dir / "q.log")
    with vm.start():
        with pytest.raises(QemuError, match=r"(?s)QEMU exited.*avm-no-such-device"):
            vm.wait_for(r"never printed", timeout=60)
        assert vm.wait_exit(timeout=30) == 1
    assert "avm-no-such-device" in (log_dir / "q.log").read_text()


def test_stop_terminates_gracefully(short_tmp):
    vm = Qemu(paused=True, qmp=short_tmp / "qmp.sock").start()
    vm.qmp().close()                     # QEMU is in its main loop
    assert vm.stop(timeout=30) == 0      # exit 0 on SIGTERM: no SIGKILL was needed
    assert "terminating on signal 15" in vm.console


def listeners(port: int) -> list:
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True,
                         text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines()]


def test_ssh_forward_listens_on_loopback_only():
    port = free_port()
    with Qemu(paused=True, args=user_net_ssh_args(port)).start() as vm:
        deadline = time.monotonic() + 30
        while not listeners(port):
            assert vm.alive(), vm.tail()
            assert time.monotonic() < deadline, "QEMU never listened"
            time.sleep(0.1)
        assert listeners(port) == [f"127.0.0.1:{port}"]


def test_disk_runs_on_an_overlay(short_tmp):
    disk = short_tmp / "disk.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "1M"], check=True)
    before = disk.read_bytes()
    with Qemu(paused=True, disk=disk, qmp=short_tmp / "qmp.sock").start() as vm:
        qmp = vm.qmp()
        try:
            (blk,) = [b["inserted"] for b in qmp.cmd("query-block") if "inserted" in b]
        finally:
            qmp.close()
    # writes go to a temporary overlay whose backing file is the image
    assert blk["backing_file_depth"] == 1, blk
    assert blk["image"]["backing-image"]["filename"] == str(disk), blk
    assert disk.read_bytes() == before


def test_machine_in_a_namespace_keeps_qemus_pid():
    with NetNs(prefix="avmq") as ns, Qemu(paused=True, netns=ns.name).start() as vm:
        deadline = time.monotonic() + 30
        while os.readlink(f"/proc/{vm.pid}/exe").endswith("/ip"):   # until ip execs QEMU
            assert time.monotonic() < deadline and vm.alive(), vm.tail()
            time.sleep(0.05)
        assert os.path.basename(os.readlink(f"/proc/{vm.pid}/exe")).startswith("qemu-system")
        r = subprocess.run(["ip", "netns", "identify", str(vm.pid)], capture_output=True,
                           text=True, check=True)
        assert r.stdout.strip() == ns.name
