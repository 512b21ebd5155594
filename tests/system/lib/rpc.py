"""A tiny JSON-RPC 2.0 client for alacrityvmd's control socket
(docs/control-api.md: one JSON object per line).

    with RpcClient(path) as c:
        c.call("ping")                       # -> {"pong": True}
        c.call("instance.create", name="vm1")
        try:
            c.call("instance.show", name="nope")
        except RpcError as e:
            assert e.code == -32000
"""

import itertools
import json
import socket
from pathlib import Path
from typing import Any, Optional, Union


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.data = data


class RpcClient:
    def __init__(self, path: Union[str, Path], timeout: float = 30.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")
        self._ids = itertools.count(1)

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_response(self) -> Optional[dict]:
        """The next response line as a dict; None when the daemon closed."""
        line = self.file.readline()
        if not line:
            return None
        return json.loads(line)

    def raw(self, line: Union[str, bytes]) -> Optional[dict]:
        """Sends one line as is (a newline is added) and reads one answer."""
        data = line.encode() if isinstance(line, str) else line
        self.send_raw(data + b"\n")
        return self.read_response()

    def call(self, method: str, **params: Any) -> Any:
        req = {"jsonrpc": "2.0", "id": next(self._ids), "method": method}
        if params:
            req["params"] = params
        resp = self.raw(json.dumps(req))
        if resp is None:
            raise ConnectionError("the daemon closed the connection")
        if "error" in resp:
            e = resp["error"]
            raise RpcError(e["code"], e["message"], e.get("data"))
        assert resp["id"] == req["id"], resp
        return resp["result"]

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> "RpcClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
