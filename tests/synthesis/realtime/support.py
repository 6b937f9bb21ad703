"""A real uvicorn process serving config.asgi over TLS, for the WebSocket and ASGI streaming
tests (this module holds no tests).

The elevenlabs SDK's convert_realtime always dials wss://, so the server has a certificate the
test makes; clients trust it through SSL_CERT_FILE (the SDK's websockets and httpx read it).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

from django.conf import settings

from synthesis.workers.process import asgi_command
from tests.workers import database_url

# The server's settings differ from the test process's only here (it cannot see pytest's
# `settings` fixture): fixed audio tokens, and a small per-connection text limit.
SERVER_ENV = {
    "SYNTHESIS_DEFAULT_PARAMS": json.dumps({"max_new_tokens": 10, "seed": 7}),
    "STREAM_INPUT_MAX_CHARACTERS": "2000",
}


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost that is its own CA, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "timbre test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AsgiServer:
    """uvicorn on config.asgi with the test database, broker and data folder."""

    def __init__(self, *, log_dir: Path, cert: Path, key: Path, extra_env: dict | None = None):
        self.port, self.cert = free_port(), cert
        self.url = f"https://127.0.0.1:{self.port}"
        self.ws_url = f"wss://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"uvicorn-{uuid.uuid4().hex[:8]}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            **SERVER_ENV,
            **(extra_env or {}),
        }
        command = asgi_command(
            host="127.0.0.1", port=self.port, certfile=str(cert), keyfile=str(key)
        )
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited early:\n{self.log()}")
            if "Application startup complete" in self.log():
                return
            time.sleep(0.2)
        raise RuntimeError(f"uvicorn not ready after {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def ws_connect(server: AsgiServer, path: str, *, headers: dict | None = None):
    """A plain websockets client on the server (for what the SDK does not expose)."""
    from websockets.sync.client import connect

    return connect(
        server.ws_url + path,
        ssl=server.ssl_context(),
        additional_headers=headers or {},
        # The first connection of a fresh uvicorn also loads the whole URLconf and its views;
        # on a busy 2-core CI machine that alone has taken over 20 s.
        open_timeout=60,
        max_size=2**24,
    )


def received(socket_, *, timeout: float = 120.0) -> tuple[list[dict], int | None, str]:
    """Every JSON message until the server closes, and the close code and reason."""
    from websockets.exceptions import ConnectionClosed

    messages = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            messages.append(json.loads(socket_.recv(timeout=max(deadline - time.monotonic(), 0))))
    except ConnectionClosed:
        pass
    except TimeoutError as exc:
        raise AssertionError(f"the server did not close in time; got {messages!r}") from exc
    close = socket_.protocol.close_rcvd
    return messages, (close.code if close else None), (close.reason if close else "")
