"""Concurrent requests through the real database: exactly the affordable number is accepted.

Each thread has its own database connection (Django's are per thread) and the requests are
released together by a barrier, so on PostgreSQL they really run at the same time and only the
conditional UPDATEs stand between them and an over-spend. On SQLite the database itself lets
one writer at a time through; the outcome must be the same.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.models import CharacterUsage, JobSlots
from synthesis.models import SynthesisJob
from tests.synthesis.api_helpers import make_ready_voice, plan, user_on

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/synthesis"
THREADS = 10


@pytest.fixture(autouse=True)
def no_tasks(monkeypatch):
    # Accepted jobs are queued on commit; no worker should pick these up.
    monkeypatch.setattr("config.queueing.task_send", lambda name, **kwargs: None)


def _race(user, payloads, headers=None) -> list:
    """POST every payload at once from its own thread; [(status, body, start, end)]."""
    barrier = threading.Barrier(len(payloads))
    results = [None] * len(payloads)

    def send(index, payload):
        client = APIClient()
        client.force_authenticate(user=user)
        try:
            barrier.wait(timeout=30)
            start = time.monotonic()
            response = client.post(URL, payload, format="json", **(headers or {}))
            results[index] = (response.status_code, response.json(), start, time.monotonic())
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=send, args=(i, p)) for i, p in enumerate(payloads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert all(results), results
    return results


def _overlapping(results) -> int:
    """How many requests were in flight at the busiest moment."""
    events = sorted([(r[2], 1) for r in results] + [(r[3], -1) for r in results])
    busiest = current = 0
    for _, change in events:
        current += change
        busiest = max(busiest, current)
    return busiest


def test_monthly_characters_are_never_overspent():
    user = user_on(plan(monthly_characters=1_000))
    voice = make_ready_voice(user, "V")
    payloads = [{"text": "x" * 300, "voice": str(voice.code)} for _ in range(THREADS)]
    results = _race(user, payloads)
    statuses = sorted(r[0] for r in results)
    print(f"\n{connection.vendor}: statuses {statuses}, {_overlapping(results)} in flight at once")
    assert statuses == [202] * 3 + [402] * (THREADS - 3)
    assert {r[1]["error"]["code"] for r in results if r[0] == 402} == {"quota_exceeded"}
    counters = CharacterUsage.objects.get(user=user)
    assert (counters.used, counters.reserved) == (0, 900)
    assert SynthesisJob.objects.filter(owner=user).count() == 3


def test_concurrent_job_slots_are_never_overtaken():
    user = user_on(plan(concurrent_jobs=2))
    voice = make_ready_voice(user, "V")
    payloads = [{"text": "Hello.", "voice": str(voice.code)} for _ in range(THREADS)]
    statuses = sorted(r[0] for r in _race(user, payloads))
    assert statuses == [202] * 2 + [429] * (THREADS - 2)
    assert JobSlots.objects.get(user=user).in_use == 2
    assert CharacterUsage.objects.get(user=user).reserved == 12


def test_one_idempotency_key_sent_concurrently_makes_one_job():
    user = user_on(plan())
    voice = make_ready_voice(user, "V")
    payloads = [{"text": "Only once.", "voice": str(voice.code)} for _ in range(THREADS)]
    results = _race(user, payloads, headers={"HTTP_IDEMPOTENCY_KEY": "same-key"})
    assert {r[0] for r in results} == {202}
    assert len({r[1]["id"] for r in results}) == 1
    assert SynthesisJob.objects.filter(owner=user).count() == 1
    assert CharacterUsage.objects.get(user=user).reserved == len("Only once.")
