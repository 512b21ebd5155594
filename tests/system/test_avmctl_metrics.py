"""avm_metrics' text format and HTTP server, from outside the process.

avm-metrics-serve (tests/unit/metrics) serves families shaped like the
daemon's on a UNIX socket and on loopback TCP; curl fetches them
(--unix-socket for the former) and Debian's promtool checks the text.
Bad requests get 400/404/405 and the server keeps serving; non-loopback
addresses are refused at start.  Runs in about 2 s.
"""

import socket
import subprocess

import pytest

from lib.avmctl import cmake_binary


class MetricsServe:
    def __init__(self, listen):
        self.proc = subprocess.Popen([str(cmake_binary("tests/unit/metrics/avm-metrics-serve")),
                                      listen], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), line + self.proc.stderr.read()
        self.address = line.split()[-1]

    def stop(self):
        self.proc.stdin.close()  # EOF on stdin: it exits
        try:
            assert self.proc.wait(timeout=10) == 0
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def serve():
    servers = []

    def start(listen):
        s = MetricsServe(listen)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def curl(address, path="/metrics", *extra):
    """(status, body) of an HTTP request to a unix:/path or host:port address."""
    if address.startswith("unix:"):
        target = ["--unix-socket", address[5:], f"http://localhost{path}"]
    else:
        target = [f"http://{address}{path}"]
    r = subprocess.run(["curl", "-sS", "--http1.0", "--max-time", "10",
                        "-w", "\n%{http_code}", *extra, *target],
                       capture_output=True, text=True, check=True)
    body, _, status = r.stdout.rpartition("\n")
    return int(status), body


def promtool_check(text):
    return subprocess.run(["promtool", "check", "metrics"], input=text,
                          capture_output=True, text=True)


@pytest.mark.parametrize("listen", ["unix", "127.0.0.1:0", "[::1]:0"])
def test_scrape_passes_promtool(serve, short_tmp, listen):
    if listen == "unix":
        listen = f"unix:{short_tmp}/metrics.sock"
    s = serve(listen)
    status, body = curl(s.address)
    assert status == 200
    assert "# TYPE alacrityvm_venet_rx_packets_total counter\n" in body
    assert ('alacrityvm_venet_rx_packets_total{device="vm1-net0",instance="vm1"} 12345\n'
            in body)
    # Label escaping as the format wants it.
    assert 'device="odd \\"name\\" \\\\ here"' in body
    r = promtool_check(body)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr


def test_promtool_is_really_checking():
    for bad in ("# TYPE x counter\nx{a=\"b\" 1\n",             # unterminated labels
                "# TYPE x_total counter\n# TYPE x_total counter\nx_total 1\n",
                "x 1\nx 1\n"):                                 # duplicate series
        assert promtool_check(bad).returncode != 0, bad


def test_bad_requests(serve, short_tmp):
    s = serve(f"unix:{short_tmp}/metrics.sock")
    assert curl(s.address, "/")[0] == 404
    assert curl(s.address, "/metrics/../x")[0] == 404
    assert curl(s.address, "/metrics", "-X", "POST", "-d", "x")[0] == 405
    assert curl(s.address, "/metrics", "-X", "DELETE")[0] == 405
    status, body = curl(s.address, "/metrics", "-I")  # HEAD
    assert status == 200 and "Content-Length:" in body
    # Not HTTP at all, and a request line that never ends.
    sock = f"{short_tmp}/metrics.sock"
    for garbage in (b"\x00\x01\x02 hello\r\n\r\n", b"GET /metrics HTTP/1.0\r\nX: " + b"a" * 20000):
        with socket.socket(socket.AF_UNIX) as c:
            c.settimeout(10)
            c.connect(sock)
            try:
                c.sendall(garbage)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer and close before all of it is sent
            reply = b""
            while chunk := c.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.0 400 Bad Request\r\n"), reply[:200]
    # Still serving.
    assert curl(s.address)[0] == 200


@pytest.mark.parametrize("listen", ["0.0.0.0:9464", "192.0.2.1:9464", "[::]:9464",
                                    "localhost:9464", "unix:relative.sock", "9464"])
def test_refuses_non_loopback(listen):
    r = subprocess.run([str(cmake_binary("tests/unit/metrics/avm-metrics-serve")), listen],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=10)
    assert r.returncode == 1, r
    assert r.stdout == ""
    assert "metrics listen address" in r.stderr
