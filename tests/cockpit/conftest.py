"""Fixtures of the Cockpit page test (tests/cockpit, docs/cockpit.md).

  host     module scope: alacrityvmd (service mode, control_group a
           throwaway group) with instance vm1 and device vm1-net0 (TAP in a
           namespace of its own), the software guest of tests/hostile
           (`avm-hostile good`) moving frames through it, two throwaway users
           (one in the group, one not) and the built page on a data path
           cockpit-bridge reads.  Removed at teardown, also after a failure.
  browser  browser(user, bin_dir=None) -> a Page: cockpit-ws --no-tls
           --local-session run as that user (no systemd, no login; bin_dir
           first on its PATH) and headless chromium through chromedriver and
           selenium; screenshots and logs in LOG_DIR.
"""

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "system"))

from lib import env  # noqa: E402
from lib.netns import NetNs  # noqa: E402
from lib.service_daemon import ServiceDaemon  # noqa: E402

# The software guest of tests/hostile: GoodGuest and the avm-hostile path.
_spec = importlib.util.spec_from_file_location("hostile_rig",
                                               HERE.parent / "hostile" / "conftest.py")
hostile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hostile)

LOG_DIR = env.BUILD / "cockpit-test"
PAGE = env.BUILD / "cockpit" / "alacrityvm"
COCKPIT_WS = Path("/usr/lib/cockpit/cockpit-ws")
AVMCTL = env.BUILD / "userspace" / "userspace" / "avmctl" / "avmctl"
INSTANCE, DEVICE, TAP = "vm1", "vm1-net0", "avmck0"
VECTORS = 4


def run(argv: List[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True, **kw)


class Host:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        tag = f"{os.getpid() % 100000}"
        self.group = f"avmck{tag}"
        self.member = f"avmck{tag}in"
        self.outsider = f"avmck{tag}out"
        self.users: List[str] = []
        self.group_made = False
        self.ns: Optional[NetNs] = None
        self.daemon: Optional[ServiceDaemon] = None
        self.guest = None
        self.guests = 0

    def start(self) -> "Host":
        run(["groupadd", self.group])
        self.group_made = True
        for user, groups in ((self.member, [self.group]), (self.outsider, [])):
            home = self.tmp / "home" / user
            run(["useradd", "--no-create-home", "--home-dir", home, "--shell", "/bin/sh",
                 "--user-group"] + (["--groups", ",".join(groups)] if groups else []) + [user])
            self.users.append(user)
            home.mkdir(parents=True)
            shutil.chown(home, user, user)
        # The page where cockpit-bridge looks (XDG_DATA_DIRS/cockpit/NAME).
        shutil.copytree(PAGE, self.tmp / "data" / "cockpit" / "alacrityvm")
        self.ns = NetNs("avmck").create()
        self.daemon = ServiceDaemon(
            self.tmp, log_path=LOG_DIR / "alacrityvmd.log",
            config_extra=f'control_group = "{self.group}"',
            objects=(f'[[instance]]\nname = "{INSTANCE}"\nsocket = "{self.tmp}/{INSTANCE}.sock"\n'
                     f'vectors = {VECTORS}\n\n[[device]]\nname = "{DEVICE}"\ntype = "venet"\n'
                     f'instance = "{INSTANCE}"\ntap = "{TAP}"\nnetns = "{self.ns.name}"\n'
                     'backend = "user"\n')).start()
        self.ns.wait_link(TAP)
        self.ns.ip(f"link set {TAP} up")
        self.start_guest()
        return self

    def start_guest(self) -> None:
        """A new software guest (the one before, if any, killed): a guest
        whose frames were dropped at a down link has its window full of
        frames that never arrive and stops sending."""
        if self.guest:
            self.guest.stop(signal.SIGKILL)
        self.guest = hostile.GoodGuest(self.ns.cmd([
            hostile.hostile_path(), "good", "--socket", self.tmp / f"{INSTANCE}.sock",
            "--ifname", TAP, "--vectors", VECTORS]), LOG_DIR / f"good-guest.{self.guests}.log")
        self.guests += 1
        self.guest.wait_line(r"good: running", 30)

    def rpc(self, method: str, **params):
        with self.daemon.client() as c:
            return c.call(method, **params)

    def stop(self) -> None:
        if self.guest:
            self.guest.stop()
        if self.daemon:
            self.daemon.stop()
        if self.ns:
            self.ns.delete()
        for user in self.users:
            subprocess.run(["userdel", user], check=False, capture_output=True)
        if self.group_made:
            subprocess.run(["groupdel", self.group], check=False, capture_output=True)


class Page:
    """cockpit-ws as `user` and a headless chromium on the page."""

    def __init__(self, host: Host, user: str, bin_dir: Optional[Path] = None):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.host, self.user = host, user
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        pw = pwd.getpwnam(user)
        environ = {
            "HOME": pw.pw_dir, "USER": user, "LANG": "C.UTF-8",
            "PATH": ":".join(([str(bin_dir)] if bin_dir else [])
                             + [str(AVMCTL.parent), "/usr/bin:/bin:/usr/sbin:/sbin"]),
            "XDG_DATA_DIRS": f"{host.tmp / 'data'}:/usr/share",
            "AVMCTL_SOCKET": str(host.daemon.socket),
        }
        self.ws_log = open(LOG_DIR / f"cockpit-ws.{user}.log", "w")
        self.ws = subprocess.Popen(
            ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups",
             "--reset-env", "env", *[f"{k}={v}" for k, v in environ.items()],
             str(COCKPIT_WS), "--no-tls", "--local-session=cockpit-bridge",
             "--address=127.0.0.1", f"--port={self.port}"],
            stdin=subprocess.DEVNULL, stdout=self.ws_log, stderr=subprocess.STDOUT,
            cwd=pw.pw_dir, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert self.ws.poll() is None, "cockpit-ws exited, see " + self.ws_log.name
                assert time.monotonic() < deadline, "cockpit-ws does not listen"
                time.sleep(0.1)
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,1400",
                    f"--user-data-dir={host.tmp / ('chromium-' + user)}"):
            opts.add_argument(arg)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        self.driver.implicitly_wait(0)
        self.console: List[dict] = []

    def open(self) -> None:
        """The page on its own, as the shell's iframe loads it."""
        self.driver.get(f"http://127.0.0.1:{self.port}/cockpit/@localhost/alacrityvm/index.html")

    def logs(self) -> List[dict]:
        self.console += self.driver.get_log("browser")
        return self.console

    def errors(self) -> List[dict]:
        return [e for e in self.logs() if e["level"] == "SEVERE"]

    def screenshot(self, name: str) -> Path:
        path = LOG_DIR / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def close(self) -> None:
        try:
            with open(LOG_DIR / f"console.{self.user}.log", "w") as f:
                for e in self.logs():
                    f.write(f"{e['level']} {e['message']}\n")
        finally:
            self.driver.quit()
            # cockpit-ws, its bridge and the session's dbus-daemon and
            # ssh-agent: the process group cockpit-ws leads.
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.ws.pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(1)
            self.ws.wait()
            self.ws_log.close()


@pytest.fixture(scope="module")
def host():
    for what, path in (("make cockpit", PAGE / "manifest.json"), ("make userspace", AVMCTL),
                       ("make userspace", hostile.hostile_path()), ("cockpit-ws", COCKPIT_WS)):
        if not path.exists():
            pytest.fail(f"{path} missing ({what})")
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    LOG_DIR.mkdir(parents=True)
    tmp = Path(tempfile.mkdtemp(prefix="avmck-", dir="/tmp"))
    tmp.chmod(0o755)  # the users reach the control socket and the page in it
    h = Host(tmp)
    try:
        yield h.start()
    finally:
        h.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(host):
    pages = []

    def start(user: str, bin_dir: Optional[Path] = None) -> Page:
        p = Page(host, user, bin_dir)
        pages.append(p)
        return p

    yield start
    for p in pages:
        p.close()
