"""Helpers for tests that run synthesis jobs through a real worker with the tiny checkpoint."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from config import queueing
from synthesis.jobs import services
from synthesis.models import SynthesisJob
from tests.support.waiting import wait_for
from tests.synthesis.audio_helpers import write_reference_wav
from voices.models import Voice

TOKENS = 12  # fixed tokens per chunk: random weights rarely emit the stop token
SECONDS_PER_CHUNK = TOKENS * 1024 / 22_050  # one audio token is 1,024 samples at 22.05 kHz


def wait_job(job: SynthesisJob, *, timeout=240.0) -> SynthesisJob:
    def finished():
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, timeout=timeout, what=f"job {job.code} to finish")
    return job


def voice_built_by_worker(worker, owner, tmp_path, *, name, language, engine="", seconds=6.0):
    """A voice whose conditioning the real worker computed from a generated reference WAV."""
    wav = write_reference_wav(tmp_path / f"{name}.wav", seconds=seconds)
    stored = default_storage.save(
        f"test-samples/{owner.code}/{wav.name}", ContentFile(wav.read_bytes())
    )
    voice = Voice.objects.create(owner=owner, name=name, language=language, engine=engine)
    queueing.task_send(
        "voices.tasks.voice_conditioning_compute", voice_id=voice.pk, sample_names=[stored]
    )

    def built():
        voice.refresh_from_db()
        return voice.status != Voice.Status.BUILDING

    wait_for(built, what=f"the conditioning of {name}")
    assert voice.status == Voice.Status.READY, (voice.failure_reason, worker.log()[-3000:])
    return voice


@pytest.fixture
def ready_voice(owner, celery_worker, tmp_path):
    return voice_built_by_worker(celery_worker, owner, tmp_path, name="Test voice", language="en")


def make_job(owner, voice, text, **kwargs) -> SynthesisJob:
    params = {"seed": 7, "max_new_tokens": TOKENS, **kwargs.pop("params", {})}
    return services.job_create(owner=owner, voice=voice, text=text, params=params, **kwargs)
