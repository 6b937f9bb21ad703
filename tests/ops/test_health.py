"""/health/live and /health/ready, on the real database, broker, cache and storage of the test
settings, and with each of them pointed at something that is down."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from synthesis.models import EngineStatusRecord


def _worker(engine="toy", seconds_ago=0.0, ready=True):
    return EngineStatusRecord.objects.create(
        hostname=f"{engine}@test-host",
        engine=engine,
        ready=ready,
        heartbeat_at=timezone.now() - timedelta(seconds=seconds_ago),
    )


def test_live_answers_without_database_or_allowed_host(client):
    # No database fixture: any query would fail the request. The host is not in ALLOWED_HOSTS.
    response = client.get("/health/live", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert response.json() == {"status": "live"}
    assert "no-cache" in response["Cache-Control"]


def test_live_refuses_writes(client):
    assert client.post("/health/live").status_code == 405


@pytest.fixture
def fast_checks(settings):
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 2.0
    settings.WORKER_HEARTBEAT_SECONDS = 1.0
    return settings


def test_ready_when_every_check_passes(transactional_db, client, fast_checks):
    _worker()
    response = client.get("/health/ready", HTTP_HOST="web:8000")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "broker", "cache", "storage", "workers"}
    for name, check in body["checks"].items():
        assert check["ok"] is True, name
        assert check["ms"] >= 0
    assert body["checks"]["workers"]["engines"] == ["toy"]


def test_not_ready_without_a_worker_or_with_a_stale_or_unready_one(
    transactional_db, client, fast_checks
):
    response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["workers"]["ok"] is False
    assert "No synthesis worker" in body["checks"]["workers"]["error"]
    assert body["checks"]["database"]["ok"] is True

    _worker(engine="toy", seconds_ago=10)  # killed: its heartbeat stopped 10 beats ago
    EngineStatusRecord.objects.create(  # alive, but its engine did not load
        hostname="piper@test-host",
        engine="piper",
        ready=False,
        reason="No voice model found.",
        heartbeat_at=timezone.now(),
    )
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["workers"]["unavailable"] == {"piper": "No voice model found."}

    EngineStatusRecord.objects.filter(engine="toy").update(heartbeat_at=timezone.now())
    assert client.get("/health/ready").status_code == 200


def test_broker_down_is_503_with_detail(transactional_db, client, fast_checks, closed_port):
    _worker()
    fast_checks.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{closed_port}//"
    fast_checks.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False
    assert checks["broker"]["error"]
    assert "guest" not in checks["broker"]["error"]  # no credentials in the detail
    assert all(checks[name]["ok"] for name in ("database", "cache", "storage", "workers"))


def test_broker_that_never_answers_is_reported_timed_out(
    transactional_db, client, fast_checks, silent_port
):
    _worker()
    fast_checks.HEALTH_CHECK_TIMEOUT_SECONDS = 0.5
    fast_checks.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{silent_port}//"
    fast_checks.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = client.get("/health/ready")
    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker["ok"] is False
    assert "timed out" in broker["error"].lower()


def test_cache_down_is_503_despite_the_fail_open_cache(
    transactional_db, client, fast_checks, closed_port
):
    _worker()
    fast_checks.CACHES = {
        "default": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    response = client.get("/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["cache"]["ok"] is False
    assert "ConnectionError" in checks["cache"]["error"]
    assert checks["broker"]["ok"] is True


def test_storage_that_cannot_write_is_503(transactional_db, client, fast_checks, tmp_path):
    _worker()
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    fast_checks.MEDIA_ROOT = str(blocker / "media")
    response = client.get("/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["storage"]["ok"] is False
    assert checks["database"]["ok"] is True


@pytest.mark.django_db
def test_pages_do_not_call_an_engine_ready_whose_worker_went_silent():
    from synthesis.workers.status import engine_summary

    _worker(seconds_ago=0)
    assert engine_summary("toy").ready
    EngineStatusRecord.objects.filter(engine="toy").update(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    summary = engine_summary("toy")
    assert not summary.ready
    assert "has not answered" in summary.reason
