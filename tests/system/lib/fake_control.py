"""A fake alacrityvmd control socket: JSON-RPC 2.0, one object per line.

    with FakeControl(path, {"ping": {"pong": True}}) as fake:
        ...                               # avmctl --socket path ping
        fake.requests                     # every request object received
    fake.handlers["x"] = lambda params: ...      # result, or raise RpcError
    fake.raw = b"garbage\\n"               # answer every request with these bytes
    fake.raw = b""                        # close without an answer
    fake.hang = True                      # never answer

It answers like the contract in docs/control-api.md says the daemon does:
-32700 for malformed JSON, -32600 for a batch or a non-2.0 request,
-32601 for an unknown method; a handler's RpcError becomes its error object.
"""

import json
import os
import socket
import threading
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Union


class RpcError(Exception):
    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


Handler = Union[Callable[[dict], Any], Any]


class FakeControl:
    def __init__(self, path: Union[str, Path], handlers: Optional[Dict[str, Handler]] = None):
        self.path = Path(path)
        self.handlers: Dict[str, Handler] = dict(handlers or {})
        self.requests: List[Any] = []
        self.raw: Optional[bytes] = None
        self.hang = False
        self._sock: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()

    def start(self) -> "FakeControl":
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.path))
        self._sock.listen(8)
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._serve, daemon=True, name="fake-control")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        if self._sock:
            self._sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> "FakeControl":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                self._client(conn)

    def _client(self, conn: socket.socket) -> None:
        buf = b""
        while True:
            while b"\n" not in buf:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\n", 1)
            if self.hang:
                while not self._stop.is_set():
                    try:
                        if not conn.recv(1):
                            return
                    except socket.timeout:
                        continue
                return
            if self.raw is not None:
                if self.raw:
                    conn.sendall(self.raw)
                return
            reply = self._answer(line)
            if reply is not None:
                conn.sendall(json.dumps(reply).encode() + b"\n")

    def _answer(self, line: bytes) -> Optional[dict]:
        try:
            req = json.loads(line)
        except ValueError:
            self.requests.append(None)
            return _error(None, -32700, "parse error")
        self.requests.append(req)
        if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" \
                or not isinstance(req.get("method"), str):
            return _error(None, -32600, "invalid request")
        if "id" not in req:
            return None
        rid = req["id"]
        handler = self.handlers.get(req["method"])
        if handler is None:
            return _error(rid, -32601, f"method '{req['method']}' not found")
        try:
            result = handler(req.get("params", {})) if callable(handler) else handler
        except RpcError as e:
            return _error(rid, e.code, e.message, e.data)
        return {"jsonrpc": "2.0", "id": rid, "result": result}


def _error(rid: Any, code: int, message: str, data: Any = None) -> dict:
    err = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "id": rid, "error": err}
