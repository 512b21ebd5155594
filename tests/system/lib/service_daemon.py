"""alacrityvmd in service mode (config file + control socket) for a test.

    d = ServiceDaemon(tmp, log_path=logs / "alacrityvmd.log",
                      config_extra='control_group = "grp"').start()
    with d.client() as c:
        c.call("instance.create", name="vm1")
    d.stop()                  # SIGTERM; d.start() again restarts it

    new = take_over(link, logs / "takeover.log", instances=1)
                              # link.daemon replaced by `--takeover`

The config file is tmp/alacrityvmd.conf with control_socket tmp/control.sock
and state_dir tmp/state; instance sockets default to tmp/<name>.sock.
"""

from pathlib import Path
from typing import List, Optional, Protocol, Union

from .daemon import Daemon
from .rpc import RpcClient


class ServiceDaemon(Daemon):
    def __init__(self, tmp: Union[str, Path], *, config_extra: str = "",
                 objects: str = "", log_path: Optional[Union[str, Path]] = None):
        tmp = Path(tmp)
        self.tmp = tmp
        self.config = tmp / "alacrityvmd.conf"
        self.state_dir = tmp / "state"
        self.config.write_text(
            "[daemon]\n"
            f'control_socket = "{tmp / "control.sock"}"\n'
            f'state_dir = "{self.state_dir}"\n'
            f"{config_extra}\n{objects}\n")
        super().__init__(tmp / "control.sock", log_path=log_path)

    def command_line(self) -> List[str]:
        return [str(self.binary), "--config", str(self.config), "--foreground"]

    def client(self) -> RpcClient:
        return RpcClient(self.socket)


class TakeoverService(ServiceDaemon):
    """`alacrityvmd --config F --foreground --takeover` on the old one's files."""

    def __init__(self, old: ServiceDaemon, **kw):
        # Not ServiceDaemon.__init__: the config file stays as it is.
        super(ServiceDaemon, self).__init__(old.socket, binary=old.binary, **kw)
        self.tmp, self.config, self.state_dir = old.tmp, old.config, old.state_dir

    def command_line(self) -> List[str]:
        return super().command_line() + ["--takeover"]


class HoldsDaemon(Protocol):
    daemon: ServiceDaemon


def take_over(holder: HoldsDaemon, log_path: Union[str, Path], instances: int,
              timeout: float = 30) -> TakeoverService:
    """Replaces holder.daemon by `alacrityvmd --takeover` (docs/handover.md,
    "The service hand-over") and returns the new daemon.  It is holder.daemon
    as soon as it runs, so the holder's teardown stops whoever serves.
    Returns once the new process has taken @instances instances and the
    control socket over and serves it, and the old one has exited 0 without
    a RESET (its whole log read)."""
    old = holder.daemon
    new = TakeoverService(old, log_path=log_path)
    new.start(wait_listening=False)
    holder.daemon = new
    new.wait_log(rf"takeover: {instances} instances and the control socket taken over",
                 timeout=timeout)
    assert old.wait_exit(timeout) == 0
    assert "stopping without a RESET" in old.log, old.log[-2000:]
    assert "host RESET" not in old.log, old.log[-2000:]
    new.wait_log(r"control socket .* \(taken over\)", timeout=timeout)
    return new
