"""dnsmasq in a test's network namespace: DHCP on one TAP only, no DNS,
its log kept (image tests: test_guest_boot, test_libvirt)."""

import re
import subprocess
import threading
import time

from lib.netns import NetNs  # tests/system/lib


class Dnsmasq:
    """dnsmasq in the namespace: DHCP on the TAP only, no DNS, log on stderr."""

    def __init__(self, ns: NetNs, tmp, log_path, tap: str, mac: str,
                 dhcp_range=("10.99.7.100", "10.99.7.150")):
        self.ns = ns
        self.tap = tap
        self.mac = mac
        self.range = dhcp_range
        self.tmp = tmp
        self.log_path = log_path
        self.lines = []
        self.proc = None

    def start(self):
        self.proc = self.ns.popen([
            "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
            "--no-resolv", "--no-hosts", "--bind-interfaces", f"--interface={self.tap}",
            f"--dhcp-range={self.range[0]},{self.range[1]},255.255.255.0,1h", "--log-dhcp",
            "--log-facility=-", f"--dhcp-leasefile={self.tmp / 'leases'}",
            f"--pid-file={self.tmp / 'dnsmasq.pid'}", "--user=root", "--group=root"])
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self):
        with open(self.log_path, "w") as log:
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                log.write(line)
                log.flush()

    def wait_ack(self, vm, timeout: float = 900) -> str:
        """The address dnsmasq acknowledged for the MAC; vm: a Qemu (or
        anything with alive() and tail()), whose exit ends the wait."""
        rx = re.compile(rf"DHCPACK\({self.tap}\) (\S+) {self.mac}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                m = rx.search(line)
                if m:
                    return m.group(1)
            assert self.proc.poll() is None, "dnsmasq exited:\n" + "\n".join(self.lines)
            assert vm.alive(), f"QEMU exited\n{vm.tail()}"
            time.sleep(1)
        raise AssertionError(f"no DHCPACK for {self.mac} in {timeout} s\n"
                             + "\n".join(self.lines[-20:]) + "\n" + vm.tail())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
