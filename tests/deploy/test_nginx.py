"""deploy/nginx/timbre.conf: its limits match the app's, its unbuffered locations are the real
streaming URLs and go to uvicorn (timbre_asgi), and (where nginx is installed) a live nginx
streams, upgrades WebSockets, refuses and forwards as intended in front of stand-in upstreams."""

from __future__ import annotations

import getpass
import http.client
import importlib
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.urls import reverse

from voices.uploads import MB, MULTIPART_OVERHEAD_BYTES

NGINX_DIR = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
SITE = (NGINX_DIR / "timbre.conf").read_text()
STREAMING_URLS = [
    ("api-synthesis-stream", {}),
    ("compat-openai-speech", {}),
    ("compat-eleven-tts", {"voice_id": "a1b2c3"}),
    ("compat-eleven-tts-stream", {"voice_id": "a1b2c3"}),
    ("compat-eleven-tts-stream-timestamps", {"voice_id": "a1b2c3"}),
]
# Served by config.asgi's WebSocket router, not by a Django URL.
STREAM_INPUT = "/v1/text-to-speech/a1b2c3/stream-input"


def _unbuffered_locations() -> list[tuple[str, str, str]]:
    """(modifier, pattern, body) of each `=`/`~`/`^~` location that turns buffering off."""
    blocks = re.findall(r"location\s+(=|~|\^~)\s+(\S+)\s*\{([^{}]*)\}", SITE)
    return [block for block in blocks if "proxy_buffering off;" in block[2]]


def _matches(path: str, modifier: str, pattern: str, body: str = "") -> bool:
    if modifier == "=":
        return path == pattern
    if modifier == "^~":
        return path.startswith(pattern)
    return re.search(pattern, path) is not None


def test_body_limit_fits_the_largest_plan_upload():
    plans = importlib.import_module("accounts.migrations.0002_default_plans").PLANS
    largest = max(plan["max_upload_mb"] for plan in plans) * MB + MULTIPART_OVERHEAD_BYTES
    size = re.search(r"^\s*client_max_body_size (\d+)m;", SITE, re.M)
    limit = int(size[1]) * 1024 * 1024  # nginx's m is MiB
    assert largest <= limit < largest + 5 * MB  # room for the envelope, not a different limit


def test_streaming_urls_are_unbuffered_and_go_to_uvicorn():
    locations = _unbuffered_locations()
    assert all("proxy_pass http://timbre_asgi;" in body for _, _, body in locations)
    for path in [reverse(name, kwargs=kwargs) for name, kwargs in STREAMING_URLS] + [STREAM_INPUT]:
        assert any(_matches(path, *location) for location in locations), path
    # ... and nothing else is: a job's audio download stays buffered.
    job_audio = reverse(
        "api-synthesis-audio", kwargs={"code": "00000000-0000-0000-0000-000000000000"}
    )
    assert not any(_matches(job_audio, *location) for location in locations)
    for upstreams in ("upstream-host.conf", "upstream-compose.conf"):
        assert "upstream timbre_asgi {" in (NGINX_DIR / upstreams).read_text()


# --- a live nginx ------------------------------------------------------------------------------
class _Upstream(BaseHTTPRequestHandler):
    """Stands in for gunicorn: streams slowly, echoes the headers it got, answers static misses.
    It never sends X-Accel-Buffering, so only nginx's own configuration can unbuffer."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def end_headers(self):
        self.send_header("X-Upstream", self.server.name)
        super().end_headers()

    def do_GET(self):
        if self.path.partition("?")[0].endswith("/stream-input"):  # a WebSocket: echo a line
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.write(self.rfile.readline())
            self.wfile.flush()
            self.close_connection = True
        elif self.path.startswith("/echo"):
            self._send(json.dumps({k.lower(): v for k, v in self.headers.items()}).encode())
        elif self.path.startswith("/static/"):
            self._send(b"from the app")
        else:
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b"first", b"second"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                time.sleep(1.5)
            self.wfile.write(b"0\r\n\r\n")

    do_POST = do_GET

    def _send(self, body: bytes):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_nginx(tmp_path):
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if nginx is None:
        pytest.skip("nginx is not installed")
    upstreams = {}
    for name in ("web", "asgi"):  # gunicorn's and uvicorn's stand-ins, told apart by a header
        upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
        upstream.daemon_threads, upstream.name = True, name
        threading.Thread(target=upstream.serve_forever, daemon=True).start()
        upstreams[name] = upstream

    static = tmp_path / "staticfiles"
    (static / "css").mkdir(parents=True)
    (static / "css" / "timbre.css").write_text("body {}")
    port = _free_port()
    site = SITE.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("listen [::]:80;", "").replace("/srv/timbre/var/staticfiles/", f"{static}/")
    hosts = (NGINX_DIR / "upstream-host.conf").read_text()
    hosts = hosts.replace("127.0.0.1:8000", f"127.0.0.1:{upstreams['web'].server_address[1]}")
    hosts = hosts.replace("127.0.0.1:8001", f"127.0.0.1:{upstreams['asgi'].server_address[1]}")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "upstream.conf").write_text(hosts)
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{user}\nworker_processes 1;\npid {tmp_path}/nginx.pid;\n"
        f"error_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n types {{ text/css css; }}\n"
        # Compression buffers what it compresses: an operator's gzip must not hold streams.
        " gzip on;\n gzip_types *;\n gzip_min_length 0;\n"
        f" client_body_temp_path {tmp_path}/body;\n proxy_temp_path {tmp_path}/proxy;\n"
        f" include {tmp_path}/upstream.conf;\n include {tmp_path}/site.conf;\n}}\n"
    )
    conf = ["-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    check = subprocess.run([nginx, "-t", *conf], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([nginx, *conf, "-g", "daemon off;"])
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        for upstream in upstreams.values():
            upstream.shutdown()


def _first_bytes_after(port: int, path: str) -> tuple[float, http.client.HTTPResponse]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    started = time.monotonic()
    headers = {"Host": "timbre.example.com", "Accept-Encoding": "gzip"}
    connection.request("POST", path, body=b"{}", headers=headers)
    response = connection.getresponse()
    response.read(5)
    return time.monotonic() - started, response


def test_live_streams_pass_at_once_and_the_rest_is_buffered(live_nginx):
    waited, response = _first_bytes_after(live_nginx, "/api/v1/synthesis/stream")
    assert waited < 1.0  # the upstream waits 1.5 s before its second piece
    assert response.getheader("X-Accel-Buffering") == "no"
    assert response.getheader("X-Upstream") == "asgi"
    tts = "/v1/text-to-speech/a1b2c3"
    for path in (f"{tts}/stream", f"{tts}/stream/with-timestamps", tts):
        waited, response = _first_bytes_after(live_nginx, path)
        assert waited < 1.0 and response.getheader("X-Upstream") == "asgi"
    # The control: the same answer on another path is held until the upstream is done.
    waited, response = _first_bytes_after(live_nginx, "/api/v1/synthesis")
    assert waited >= 1.4 and response.getheader("X-Upstream") == "web"


def test_live_websocket_stream_input_is_upgraded_through_to_uvicorn(live_nginx):
    with socket.create_connection(("127.0.0.1", live_nginx), timeout=10) as sock:
        sock.sendall(
            f"GET {STREAM_INPUT}?model_id=x HTTP/1.1\r\nHost: timbre.example.com\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        head, _, rest = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        assert b"X-Upstream: asgi" in head and b"Upgrade: websocket" in head
        sock.sendall(b"both ways\n")  # the tunnel is open in both directions
        while b"\n" not in rest:
            rest += sock.recv(4096)
        assert rest == b"both ways\n"


def test_live_forwarded_headers_and_websocket_upgrade(live_nginx):
    connection = http.client.HTTPConnection("127.0.0.1", live_nginx, timeout=10)
    connection.request(
        "GET",
        "/echo",
        headers={
            "Host": "timbre.example.com",
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https",  # a client's claim: nginx says how it was reached
            "Upgrade": "websocket",
            "Connection": "Upgrade",
        },
    )
    seen = json.loads(connection.getresponse().read())
    assert seen["host"] == "timbre.example.com"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"  # NUM_PROXIES=1 takes the last
    assert seen["x-real-ip"] == "127.0.0.1"
    assert re.fullmatch(r"[0-9a-f]{32}", seen["x-request-id"])
    assert seen["upgrade"] == "websocket" and seen["connection"] == "upgrade"


def test_live_oversized_upload_gets_the_api_error_shape(live_nginx):
    with socket.create_connection(("127.0.0.1", live_nginx), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/voices HTTP/1.1\r\nHost: timbre.example.com\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 60000000\r\n\r\n"
        )
        answer = b""
        while b"}}" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert b"application/json" in head
    assert json.loads(body)["error"]["code"] == "upload_too_large"


def test_live_static_files_come_from_disk_else_from_the_app(live_nginx):
    connection = http.client.HTTPConnection("127.0.0.1", live_nginx, timeout=10)
    connection.request("GET", "/static/css/timbre.css", headers={"Host": "timbre.example.com"})
    assert connection.getresponse().read() == b"body {}"
    connection.request("GET", "/static/css/new.css", headers={"Host": "timbre.example.com"})
    assert connection.getresponse().read() == b"from the app"
