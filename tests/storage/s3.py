"""A real S3-compatible server (moto's server mode) for the storage tests, and what a process
needs to use it. The fixtures are in conftest.py beside this module.

moto runs as a subprocess on a free port and is spoken to over HTTP, exactly as the web and
worker processes speak to MinIO or AWS in production. Nothing here mocks boto3.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ACCESS_KEY = "timbre-test-access"
SECRET_KEY = "timbre-test-secret"  # moto accepts any credentials
REGION = "us-east-1"
# Small, so that reading any stored file in the tests goes through django-storages' spill to a
# temporary file (as a long audiobook would in production), not only through memory.
MAX_MEMORY_SIZE = 16 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MotoServer:
    """`python -m moto.server` on 127.0.0.1, answering S3 over HTTP."""

    def __init__(self, log_dir: Path):
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / "moto.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def wait_ready(self, timeout: float = 30.0) -> str | None:
        """None once the server answers an S3 request; else why it did not."""
        deadline = time.monotonic() + timeout
        client = self.client()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return f"moto exited with {self.proc.returncode}: {self.log()[-2000:]}"
            with contextlib.suppress(Exception):
                client.list_buckets()
                return None
            time.sleep(0.2)
        return f"moto did not answer within {timeout:.0f} s: {self.log()[-2000:]}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


def settings_under_env(env: dict[str, str]) -> dict:
    """STORAGES, MEDIA_ROOT and the broker options config.settings.test gives a process with
    `env` (read in a fresh interpreter, as a worker started with it reads them)."""
    code = (
        "import json\n"
        "from django.conf import settings\n"
        "print(json.dumps({'STORAGES': settings.STORAGES, 'MEDIA_ROOT': str(settings.MEDIA_ROOT),"
        " 'BROKER': settings.CELERY_BROKER_URL,"
        " 'BROKER_OPTIONS': settings.CELERY_BROKER_TRANSPORT_OPTIONS}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def celery_broker(url: str, transport_options: dict):
    """Send this process's tasks (config.queueing) to another broker for the block: a Celery app
    of its own, so the project's app and its connection pools are never touched."""
    from tests.faults.support import broker_app

    app = broker_app(url)
    app.conf.broker_transport_options = transport_options
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("config.queueing.app", app)
        yield
