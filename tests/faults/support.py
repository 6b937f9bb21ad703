"""Real processes for fault tests: brokers and caches of our own that a test may stop, and
Celery workers bound to them.

Never the machine's shared services: a Redis the test starts on a free port, and a RabbitMQ
virtual host of our own on the shared RabbitMQ (it is never stopped, only its consumers die).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from celery import Celery

from config.celery import QUEUES
from config.celery import app as main_app
from tests.workers import WorkerProcess

RABBIT_HOST, RABBIT_PORT = "127.0.0.1", 5672
RABBIT_VHOST = "timbre_faults"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own, on a free port; `stop()` and `start()` it at will."""

    def __init__(self, tmp: Path) -> None:
        if not shutil.which("redis-server"):
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.dir = tmp
        self.proc: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # an outage, not a shutdown: nothing is saved
            self.proc.wait(10)


def rabbitmq_url() -> str:
    """The URL of a RabbitMQ virtual host of our own, created on the shared server; skip (or
    fail, when TIMBRE_REQUIRE_RABBITMQ is set, as in CI) when RabbitMQ is not running."""
    try:
        socket.create_connection((RABBIT_HOST, RABBIT_PORT), timeout=1).close()
    except OSError:
        if os.environ.get("TIMBRE_REQUIRE_RABBITMQ"):
            raise
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    if shutil.which("rabbitmqctl"):
        subprocess.run(["rabbitmqctl", "add_vhost", RABBIT_VHOST], capture_output=True)
        subprocess.run(
            ["rabbitmqctl", "set_permissions", "-p", RABBIT_VHOST, "guest", ".*", ".*", ".*"],
            capture_output=True,
        )
        vhost = RABBIT_VHOST
    else:
        vhost = ""
    return f"amqp://guest:guest@{RABBIT_HOST}:{RABBIT_PORT}/{vhost}"


def broker_app(url: str) -> Celery:
    """A Celery app like the project's, on another broker: what the web sends through."""
    app = Celery("timbre-faults", broker=url, set_as_current=False)
    keep = (
        "task_serializer",
        "accept_content",
        "task_default_queue",
        "task_queues",
        "task_routes",
        "task_publish_retry_policy",
        "broker_connection_timeout",
        "task_ignore_result",
    )
    app.conf.update({key: main_app.conf[key] for key in keep})
    if url.startswith("amqp"):
        app.conf.broker_transport_options = {"confirm_publish": True}
    return app


def purge(app: Celery, queues) -> None:
    with app.connection_for_write() as conn:
        for queue in queues:
            with contextlib.suppress(Exception):
                conn.default_channel.queue_purge(queue)


def all_queues() -> tuple[str, ...]:
    from config.celery import engine_queue
    from synthesis.engines import engine_names

    return (*QUEUES, *(engine_queue(name) for name in engine_names()))


def start_worker(tmp: Path, broker_url: str, xtts_dir, **env) -> WorkerProcess:
    worker = WorkerProcess(
        log_dir=tmp,
        extra_env={
            "CELERY_BROKER_URL": broker_url,
            "XTTS_MODEL_DIR": str(xtts_dir),
            "TIMBRE_DEVICE": "cpu",
            "SYNTHESIS_HEARTBEAT_SECONDS": "1",
            "SYNTHESIS_STALE_SECONDS": "8",
            **{key: str(value) for key, value in env.items()},
        },
    )
    worker.wait_ready()
    return worker


def pool_children(worker: WorkerProcess) -> list[int]:
    return [child.pid for child in psutil.Process(worker.proc.pid).children()]


def kill9(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
