"""alacrityvmd in service mode (config file + control socket) for a test.

    d = ServiceDaemon(tmp, log_path=logs / "alacrityvmd.log",
                      config_extra='control_group = "grp"').start()
    with d.client() as c:
        c.call("instance.create", name="vm1")
    d.stop()                  # SIGTERM; d.start() again restarts it

The config file is tmp/alacrityvmd.conf with control_socket tmp/control.sock
and state_dir tmp/state; instance sockets default to tmp/<name>.sock.
"""

from pathlib import Path
from typing import List, Optional, Union

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
