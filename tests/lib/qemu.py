"""The one QEMU launcher of every test suite (system, images, integration,
bench, soak): the command line, the process, its serial console and QMP.

    vm = Qemu(kernel=k, initrd=i, append="console=ttyS0", memory="512",
              args=ivshmem_args(sock, 4), log_path=p)
    with vm.start():
        vm.wait_for(r"^login:", timeout=120)   # the console (a regex)
        vm.send("root\\n")
    # QEMU (its whole process group) is killed on exit from the block

Every machine runs under TCG (-accel tcg: the test hosts have no KVM) with
-nodefaults, no display, no monitor and no reboot (a guest that panics or
reboots ends QEMU).  Its serial console is QEMU's stdio on pipes: a reader
thread collects every byte into `console` and log_path (the log's first line
is the command line), so nothing is lost and nothing blocks; QEMU's own
error messages land there too.  A machine boots a kernel + initramfs, a
disk image (kernel and initrd beside it, the disk in snapshot mode so the
image is never written), or nothing (paused=True: -S, for QMP only).

Argument helpers: ivshmem_args() (alacrityvmd's device; a daemon instance
also prints them, `avmctl qemu-args`), virtio_tap_args() (the virtio-net
baseline), user_net_ssh_args() (SSH forwarded from 127.0.0.1 only),
authorized_keys_args() (a public key for the images' first boot).
wait_ssh() retries an SSH command until the guest answers.

Environment: AVM_QEMU (the binary, default qemu-system-x86_64),
AVM_GUEST_TIMEOUT (seconds per wait, default 120).
"""

import codecs
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import List, Optional, Sequence, Union

DEFAULT_TIMEOUT = float(os.environ.get("AVM_GUEST_TIMEOUT", "120"))
PathLike = Union[str, Path]


class QemuError(Exception):
    """QEMU or its guest did not do what the test waited for."""


def qemu_binary() -> str:
    return os.environ.get("AVM_QEMU", "qemu-system-x86_64")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- arguments -------------------------------------------------------------

def ivshmem_args(sock: PathLike, vectors: int, dev_id: str = "avm0",
                 ioeventfd: Optional[bool] = None) -> List[str]:
    """An ivshmem-doorbell device on alacrityvmd's instance socket."""
    device = f"ivshmem-doorbell,chardev={dev_id},vectors={vectors}"
    if ioeventfd is not None:
        device += f",ioeventfd={'on' if ioeventfd else 'off'}"
    return ["-chardev", f"socket,id={dev_id},path={sock}", "-device", device]


def virtio_tap_args(tap: str, mac: str, ioeventfd: bool = False) -> List[str]:
    """virtio-net on TAP (created by QEMU in its namespace), QEMU's own
    userspace backend (vhost=off)."""
    return ["-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no,vhost=off",
            "-device", f"virtio-net-pci,netdev=n0,mac={mac},"
                       f"ioeventfd={'on' if ioeventfd else 'off'}"]


def user_net_ssh_args(port: int, restrict_off: bool = False) -> List[str]:
    """User networking (virtio-net) with the guest's port 22 forwarded from
    127.0.0.1:port (never another address of the host)."""
    opts = "user,model=virtio-net-pci"
    if restrict_off:
        opts += ",restrict=off"
    return ["-nic", f"{opts},hostfwd=tcp:127.0.0.1:{port}-:22"]


def authorized_keys_args(pub: PathLike) -> List[str]:
    """The images take SSH keys from this fw_cfg entry at boot (docs/images.md)."""
    return ["-fw_cfg", f"name=opt/alacrityvm/authorized_keys,file={pub}"]


# -- the machine -----------------------------------------------------------

class Qemu:
    def __init__(self, *,
                 kernel: Optional[PathLike] = None,
                 initrd: Optional[PathLike] = None,
                 append: str = "",
                 disk: Optional[PathLike] = None,
                 memory: str = "512",
                 cpus: Optional[int] = None,
                 paused: bool = False,
                 qmp: Optional[PathLike] = None,
                 args: Sequence[PathLike] = (),
                 netns: Optional[str] = None,
                 log_path: Optional[PathLike] = None,
                 qemu: Optional[str] = None):
        """kernel/initrd/append: direct boot; disk: a qcow2 image (as
        virtio, snapshot=on); paused: -S, no console (QMP only); qmp: a UNIX
        socket for qmp(); args: appended as given (devices keep their order,
        so PCI slots do too); netns: run QEMU in that network namespace
        (`ip netns exec` execs it: the PID is still QEMU's)."""
        self.kernel = Path(kernel) if kernel else None
        self.initrd = Path(initrd) if initrd else None
        self.append = append
        self.disk = Path(disk) if disk else None
        self.memory = memory
        self.cpus = cpus
        self.paused = paused
        self.qmp_path = Path(qmp) if qmp else None
        self.args = [str(a) for a in args]
        self.netns = netns
        self.log_path = Path(log_path) if log_path else None
        self.qemu = qemu or qemu_binary()
        self.proc: Optional[subprocess.Popen] = None
        self.started = 0.0     # time.monotonic() of start()
        self._buf = ""         # console text so far, without \r
        self._pos = 0          # wait_for() searches from here
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._cond = threading.Condition()
        self._eof = False
        self._reader: Optional[threading.Thread] = None
        self._log = None

    # -- lifecycle ---------------------------------------------------------

    def command_line(self) -> List[str]:
        cmd = ["ip", "netns", "exec", self.netns] if self.netns else []
        cmd += [self.qemu, "-accel", "tcg", "-m", self.memory]
        if self.cpus is not None:
            cmd += ["-smp", str(self.cpus)]
        cmd += ["-nodefaults", "-display", "none", "-monitor", "none"]
        if self.paused:
            cmd += ["-S"]
        else:
            cmd += ["-no-reboot", "-serial", "stdio"]
        if self.kernel:
            cmd += ["-kernel", str(self.kernel)]
        if self.initrd:
            cmd += ["-initrd", str(self.initrd)]
        if self.kernel and self.append:
            cmd += ["-append", self.append]
        if self.disk:
            cmd += ["-drive", f"file={self.disk},if=virtio,format=qcow2,snapshot=on"]
        if self.qmp_path:
            cmd += ["-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        return cmd + self.args

    def start(self) -> "Qemu":
        cmd = self.command_line()
        if self.log_path:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "wb")
            self._log.write(("# " + shlex.join(cmd) + "\n").encode())
            self._log.flush()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._reader = threading.Thread(target=self._read_console, daemon=True,
                                        name="qemu-console")
        self._reader.start()
        return self

    def _read_console(self) -> None:
        assert self.proc and self.proc.stdout
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            with self._cond:
                if not data:
                    self._eof = True
                    self._cond.notify_all()
                    break
                self._buf += self._decoder.decode(data).replace("\r", "")
                if self._log:
                    self._log.write(data.replace(b"\r", b""))
                    self._log.flush()
                self._cond.notify_all()

    @property
    def pid(self) -> int:
        assert self.proc
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        """Wait for QEMU to exit on its own (the guest powered off); its status."""
        assert self.proc
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise QemuError(f"QEMU still running after {timeout}s\n{self.tail()}") from e

    def stop(self, timeout: float = 10) -> Optional[int]:
        """SIGTERM (QEMU exits as if the power went), SIGKILL after timeout;
        QEMU's status."""
        if self.alive():
            try:
                self.proc.terminate()
                self.proc.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        return self.proc.returncode if self.proc else None

    def kill(self) -> None:
        """Kill QEMU's process group, close the pipes and the log (always safe)."""
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc:
            self.proc.wait()
            for f in (self.proc.stdin, self.proc.stdout):
                try:
                    if f:
                        f.close()
                except OSError:
                    pass
        if self._reader:
            self._reader.join(timeout=5)
        with self._cond:
            if self._log:
                self._log.close()
                self._log = None

    def __enter__(self) -> "Qemu":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()

    # -- console -----------------------------------------------------------

    @property
    def console(self) -> str:
        """Everything the guest (and QEMU) printed so far."""
        with self._cond:
            return self._buf

    def tail(self, n: int = 40) -> str:
        lines = self.console.splitlines()[-n:]
        return "--- console (last lines) ---\n" + "\n".join(lines)

    def send(self, text: str) -> None:
        assert self.proc and self.proc.stdin
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def wait_for(self, pattern: str, timeout: float = DEFAULT_TIMEOUT) -> re.Match:
        """Wait until pattern (a regex, MULTILINE) appears after the last match."""
        rx = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self._buf, self._pos)
                if m:
                    self._pos = m.end()
                    return m
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    why = "QEMU exited" if self._eof else f"timeout after {timeout}s"
                    tail = "\n".join(self._buf.splitlines()[-40:])
                    raise QemuError(f"waiting for /{pattern}/: {why}\n{tail}")
                self._cond.wait(left)

    def text_since(self, start: int, end: int) -> str:
        """The console between two offsets (wait_for's matches are offsets)."""
        with self._cond:
            return self._buf[start:end]

    @property
    def position(self) -> int:
        """Where the next wait_for() starts searching."""
        return self._pos

    # -- QMP ---------------------------------------------------------------

    def qmp(self, timeout: float = 30) -> "Qmp":
        """A QMP connection on the machine's qmp socket (close() it)."""
        assert self.qmp_path, "Qemu(qmp=...) not given"
        return Qmp(self.qmp_path, timeout)


class Qmp:
    """Just enough QMP: connect (retried while QEMU creates the socket),
    capabilities negotiation, commands; events are skipped."""

    def __init__(self, path: PathLike, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.file = self.sock.makefile("rwb")
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self) -> dict:
        while True:
            line = self.file.readline()
            if not line:
                raise QemuError("QMP connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def cmd(self, command: str, **args):
        self.file.write(json.dumps({"execute": command, "arguments": args}).encode() + b"\n")
        self.file.flush()
        msg = self._read()
        if "error" in msg:
            raise QemuError(f"QMP {command}: {msg['error']}")
        return msg["return"]

    def close(self) -> None:
        for f in (self.file, self.sock):
            try:
                f.close()
            except OSError:
                pass


# -- SSH -------------------------------------------------------------------

def wait_ssh(vm: Qemu, argv: Sequence[PathLike], timeout: float,
             attempt_timeout: float) -> float:
    """Run argv (an ssh command that exits 0 once the guest answers, e.g.
    `ssh ... true`) every 3 s until it succeeds; the seconds since QEMU
    started.  Fails when QEMU exits or after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if not vm.alive():
            code = vm.proc.returncode if vm.proc else None
            raise QemuError(f"QEMU exited ({code}) before SSH came up\n{vm.tail()}")
        try:
            r = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               timeout=attempt_timeout, check=False)
            if r.returncode == 0:
                return time.monotonic() - vm.started
            last = r.stdout
        except subprocess.TimeoutExpired:
            last = f"ssh still running after {attempt_timeout}s"
        if time.monotonic() > deadline:
            raise QemuError(f"no SSH after {timeout}s: {last}\n{vm.tail()}")
        time.sleep(3)
