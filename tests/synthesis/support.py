"""Helpers for tests that run synthesis jobs through a real worker with the tiny checkpoint."""

from __future__ import annotations

import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from synthesis.jobs import services
from synthesis.models import SynthesisJob
from tests.synthesis.audio_helpers import write_reference_wav
from voices.models import Voice
from voices.tasks import voice_conditioning_compute

TOKENS = 12  # fixed tokens per chunk: random weights rarely emit the stop token
SECONDS_PER_CHUNK = TOKENS * 1024 / 22_050  # one audio token is 1,024 samples at 22.05 kHz


def wait_for(predicate, *, timeout=240.0, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def wait_job(job: SynthesisJob, *, timeout=240.0) -> SynthesisJob:
    def finished():
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, timeout=timeout, what=f"job {job.code} to finish")
    return job


@pytest.fixture
def ready_voice(owner, celery_worker, tmp_path):
    wav = write_reference_wav(tmp_path / "ref.wav", seconds=6.0)
    name = default_storage.save(f"test-samples/{owner.code}/ref.wav", ContentFile(wav.read_bytes()))
    voice = Voice.objects.create(owner=owner, name="Test voice", language="en")
    voice_conditioning_compute.delay(voice_id=voice.pk, sample_names=[name])

    def built():
        voice.refresh_from_db()
        return voice.status != Voice.Status.BUILDING

    wait_for(built, what="voice conditioning")
    assert voice.status == Voice.Status.READY, (voice.failure_reason, celery_worker.log()[-3000:])
    return voice


def make_job(owner, voice, text, **kwargs) -> SynthesisJob:
    params = {"seed": 7, "max_new_tokens": TOKENS, **kwargs.pop("params", {})}
    return services.job_create(owner=owner, voice=voice, text=text, params=params, **kwargs)
