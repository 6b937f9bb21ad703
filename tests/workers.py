"""Real Celery worker processes for tests: same settings, same database, same broker."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

from config.celery import QUEUES
from config.celery import app as celery_app
from synthesis.workers.process import celery_worker_command


def database_url() -> str:
    """The URL of the test database pytest-django created, for a worker process to use."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    def __init__(self, *, queues=QUEUES, extra_env: dict | None = None, log_dir: Path):
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.log_path = log_dir / f"worker-{uuid.uuid4().hex[:8]}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            **(extra_env or {}),
        }
        cmd = celery_worker_command(queues=queues, name=self.name)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=settings.BASE_DIR
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Worker exited early:\n{self.log()}")
            if " ready." in self.log():
                return
            time.sleep(0.2)
        raise RuntimeError(f"Worker not ready after {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def purge_queues(*queues: str) -> None:
    """Drop messages left by earlier runs on `queues` (default: the three fixed ones) so a test
    only sees its own tasks."""
    with celery_app.connection_for_write() as conn:
        for queue in queues or QUEUES:
            # A queue that does not exist yet holds nothing to purge.
            with contextlib.suppress(Exception):
                conn.default_channel.queue_purge(queue)
