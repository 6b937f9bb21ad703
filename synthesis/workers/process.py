"""The command lines of Timbre's own processes, for whatever starts them as subprocesses
(`manage.py bench_ops`, the test suite): one place that knows how a worker and the web start."""

from __future__ import annotations

import sys
from pathlib import Path


def celery_worker_command(*, queues, name: str, concurrency: int = 1, pool: str = "") -> list[str]:
    """A Celery worker on `queues` (the Procfile's, without gossip or mingle: nothing to sync);
    `pool="threads"` for a synthesis worker with SYNTHESIS_SCHEDULER on (synthesis.serving)."""
    return [
        sys.executable, "-m", "celery", "-A", "config", "worker",
        "-Q", ",".join(queues), "-c", str(concurrency), "-n", name,
        "--without-gossip", "--without-mingle", "--loglevel", "INFO",
        *(["--pool", pool] if pool else []),
    ]  # fmt: skip


def web_command(*, bind: str, workers: int = 1, threads: int = 4) -> list[str]:
    """gunicorn serving the WSGI app, as the Procfile does."""
    return [
        str(Path(sys.executable).parent / "gunicorn"), "config.wsgi", "--bind", bind,
        "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
        "--timeout", "120",
    ]  # fmt: skip


def asgi_command(
    *, host: str, port: int, workers: int = 1, certfile: str = "", keyfile: str = ""
) -> list[str]:
    """uvicorn serving the ASGI app (HTTP and the WebSocket stream-input), as the Procfile does;
    with `certfile` and `keyfile`, over TLS (wss://, which the elevenlabs SDK always dials)."""
    command = [
        sys.executable, "-m", "uvicorn", "config.asgi:application",
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--ws", "websockets-sansio", "--ws-max-size", "1048576",
        "--timeout-graceful-shutdown", "10",
    ]  # fmt: skip
    if certfile:
        command += ["--ssl-certfile", certfile, "--ssl-keyfile", keyfile]
    return command
