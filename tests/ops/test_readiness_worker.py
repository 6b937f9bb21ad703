"""Readiness follows the real synthesis workers: it drops at once when the only one stops
cleanly, and comes back when a worker (a new process) has its engine ready again."""

from __future__ import annotations

import pytest

from synthesis.models import EngineStatusRecord
from tests.support.waiting import wait_for
from tests.workers import WorkerProcess, purge_queues

HEARTBEAT = "1"


def _synthesis_worker(tmp_path) -> WorkerProcess:
    # The toy engine loads at once; the worker beats every second.
    return WorkerProcess(
        queues=("synthesis",),
        extra_env={"TIMBRE_WORKER_ENGINES": "toy", "WORKER_HEARTBEAT_SECONDS": HEARTBEAT},
        log_dir=tmp_path,
    )


def _ready(client) -> bool:
    return client.get("/health/ready").status_code == 200


def _wait_ready(client, worker: WorkerProcess) -> None:
    try:
        wait_for(lambda: _ready(client), timeout=60, what="readiness with a worker")
    except AssertionError as exc:
        last = client.get("/health/ready").json()
        raise AssertionError(f"{exc}: {last}\nworker log:\n{worker.log()}") from None


@pytest.fixture
def workers(tmp_path):
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        started.append(_synthesis_worker(tmp_path))
        started[-1].wait_ready()
        return started[-1]

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.stop()


def test_readiness_follows_the_synthesis_worker(transactional_db, client, settings, workers):
    settings.WORKER_HEARTBEAT_SECONDS = float(HEARTBEAT)
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 3.0
    purge_queues()
    EngineStatusRecord.objects.all().delete()  # nothing left by earlier tests' workers
    assert client.get("/health/ready").status_code == 503

    first = workers()
    _wait_ready(client, first)
    record = EngineStatusRecord.objects.get(engine="toy")
    assert record.hostname.startswith("test-") and record.ready
    beat = record.heartbeat_at
    wait_for(
        lambda: EngineStatusRecord.objects.get(pk=record.pk).heartbeat_at > beat,
        timeout=10,
        what="a heartbeat",
    )

    first.stop()  # warm shutdown: the worker marks itself stopped on its way out
    response = client.get("/health/ready")
    assert response.status_code == 503, first.log()
    workers_check = response.json()["checks"]["workers"]
    assert workers_check["ok"] is False and "No synthesis worker" in workers_check["error"]
    assert not EngineStatusRecord.objects.get(pk=record.pk).ready

    second = workers()
    _wait_ready(client, second)
    body = client.get("/health/ready").json()
    assert body["checks"]["workers"]["engines"] == ["toy"]
