"""The broker goes down while requests arrive, then comes back.

Choice (documented in deploy/SCALING.md): a job or an upload accepted while the broker is down
is answered 202 and kept (its row is the outbox, marked unsent); the sweeper sends it once the
broker is back. A caller that waits for audio (a stream, /v1/audio/speech) gets a 503 at once
and is not charged. Never a 500.
"""

from __future__ import annotations

import time

import pytest
from django.test import override_settings

from accounts.usage import usage_summary
from synthesis.jobs.recovery import outbox_sweep
from synthesis.models import SynthesisJob
from tests.faults.support import RedisServer, all_queues, broker_app, purge, start_worker
from tests.support.waiting import wait_for
from tests.synthesis.compat.support import api_key, bearer_client
from tests.synthesis.support import voice_built_by_worker
from tests.voices.helpers import upload, wav_bytes
from voices.models import Sample

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_broker(tmp_path_factory, monkeypatch):
    server = RedisServer(tmp_path_factory.mktemp("broker"))
    app = broker_app(server.url)
    purge(app, all_queues())
    monkeypatch.setattr("config.queueing.app", app)
    yield server
    server.stop()


def test_requests_during_a_broker_outage_are_kept_and_run_when_it_returns(
    owner, owner_client, redis_broker, tmp_path, xtts_tiny_dir
):
    worker = start_worker(tmp_path, redis_broker.url, xtts_tiny_dir)
    try:
        voice = voice_built_by_worker(worker, owner, tmp_path, name="Outage", language="en")
        redis_broker.stop()

        body = {
            "voice": str(voice.code),
            "text": "Accepted while the broker was down.",
            "format": "wav",
        }
        started = time.monotonic()
        response = owner_client.post(
            "/api/v1/synthesis", body, format="json", HTTP_IDEMPOTENCY_KEY="outage-1"
        )
        assert response.status_code == 202, response.content
        assert time.monotonic() - started < 10  # a quick answer, not a hang on the broker
        job = SynthesisJob.objects.get(code=response.json()["id"])
        assert job.status == SynthesisJob.Status.QUEUED and job.dispatched_at is None

        again = owner_client.post(
            "/api/v1/synthesis", body, format="json", HTTP_IDEMPOTENCY_KEY="outage-1"
        )
        assert again.status_code == 202 and again.json()["id"] == str(job.code)
        assert SynthesisJob.objects.filter(owner=owner).count() == 1

        uploaded = upload(owner_client, "/api/v1/samples", wav_bytes(), name="outage.wav")
        assert uploaded.status_code == 202, uploaded.content
        sample = Sample.objects.get(code=uploaded.json()["id"])
        assert sample.status == Sample.Status.UPLOADED and sample.dispatched_at is None

        # A caller waiting for audio gets a 503 at once, and is not charged.
        speech = bearer_client(api_key(owner, "tts")).post(
            "/v1/audio/speech",
            {"model": "tts-1", "input": "Nobody can hear this.", "voice": voice.name},
            format="json",
        )
        assert speech.status_code == 503, speech.content
        assert usage_summary(user=owner)["characters"]["reserved"] == job.characters

        redis_broker.start()  # the same port: the web and the worker reconnect on their own
        with override_settings(OUTBOX_GRACE_SECONDS=0):

            def all_done():
                outbox_sweep()
                job.refresh_from_db()
                sample.refresh_from_db()
                return job.is_terminal and sample.status != Sample.Status.UPLOADED

            wait_for(all_done, timeout=240, interval=2, what="the kept requests to run")
        assert job.status == SynthesisJob.Status.SUCCEEDED, (job.error, worker.log()[-3000:])
        assert job.dispatched_at is not None
        wait_for(
            lambda: (
                Sample.objects.get(pk=sample.pk).status
                in (Sample.Status.READY, Sample.Status.REJECTED)
            ),
            timeout=120,
            what="the sample's intake",
        )
        usage = usage_summary(user=owner)
        assert usage["characters"]["used"] == job.characters
        assert usage["characters"]["reserved"] == 0
        assert usage["concurrent_jobs"]["in_use"] == 0
    finally:
        worker.stop()
