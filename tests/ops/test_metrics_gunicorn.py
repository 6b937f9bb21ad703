"""Under gunicorn with several processes, /metrics sums what every process measured
(prometheus-client's multiprocess mode through PROMETHEUS_MULTIPROC_DIR), whichever answers."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request

import pytest
from django.conf import settings
from prometheus_client.multiprocess import MultiProcessCollector

from synthesis.workers.process import web_command
from tests.ops.conftest import samples
from tests.workers import database_url

LIVE = (
    "timbre_http_request_duration_seconds_count",
    (("method", "GET"), ("status", "2xx"), ("view", "ops:health-live")),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        web_command(bind=f"127.0.0.1:{port}", workers=2, threads=2),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=settings.BASE_DIR,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            # One request that counts (a refused connection never reaches Django).
            _get(f"{base}/health/live").close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((tmp_path / "gunicorn.log").read_text()) from None
            time.sleep(0.2)
    try:
        yield base, metrics_dir
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def _get(url: str):
    return urllib.request.urlopen(url, timeout=30)  # noqa: S310  (http://127.0.0.1 only)


def _processes_that_served_live(metrics_dir) -> int:
    """How many processes' sample files hold a /health/live request."""
    served = 0
    for path in metrics_dir.glob("histogram_*.db"):
        for metric in MultiProcessCollector.merge([str(path)], accumulate=True):
            served += any(
                (s.name, tuple(sorted(s.labels.items()))) == LIVE and s.value > 0
                for s in metric.samples
            )
    return served


def test_every_gunicorn_process_counts_in_each_scrape(gunicorn):
    base, metrics_dir = gunicorn
    made = 1  # the fixture's
    # Until both processes have answered some (the kernel picks which one accepts).
    while _processes_that_served_live(metrics_dir) < 2 and made < 400:
        _get(f"{base}/health/live").close()
        made += 1
    assert _processes_that_served_live(metrics_dir) == 2
    for _ in range(4):  # whichever process answers the scrape, it reports every process's count
        with _get(f"{base}/metrics") as response:
            found = samples(response.read().decode())
        assert found[LIVE] == made
        assert found[("timbre_metrics_source_up", (("source", "database"),))] == 1
