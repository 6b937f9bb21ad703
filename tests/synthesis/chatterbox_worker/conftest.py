"""Chatterbox end to end through real worker processes (issue 14, part 5): the session worker
(`celery_worker`: audio and default queues, XTTS and the toys) and the Chatterbox worker
(`chatterbox_worker`: `synthesis.chatterbox` only, the tiny random-weight checkpoint).

Every job is capped at a few speech tokens (25 a second) so the directory stays cheap on a
small CPU; random weights rarely emit the stop token, so a chunk is about TOKENS long.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from synthesis.jobs import services
from synthesis.models import SynthesisJob
from tests.synthesis.audio_helpers import write_reference_wav
from tests.synthesis.engines_per_job.test_jobs_per_engine import wait_built
from tests.voices.helpers import make_consent
from voices import services as voice_services
from voices.models import Sample, Voice

TOKENS = 10  # speech tokens per chunk: 0.4 s of audio
SECONDS_PER_CHUNK = TOKENS / 25
MODEL = "chatterbox-multilingual"


def clean_sample(owner, tmp_path, *, seconds=1.0, seed=0) -> Sample:
    """A ready voice sample whose clean WAV is a voice-like signal (as intake leaves it).
    Short: S3Gen re-runs its flow over the reference with every chunk, so a longer one costs
    every job of the test more."""
    wav = write_reference_wav(tmp_path / f"take-{seed}.wav", seconds=seconds, seed=seed)
    sample = Sample(owner=owner, status=Sample.Status.READY, original_name=wav.name)
    sample.raw.save("raw", ContentFile(wav.read_bytes()), save=False)
    sample.clean.save("clean.wav", ContentFile(wav.read_bytes()), save=False)
    sample.report = {"ok": True, "speech_seconds": seconds, "advice": []}
    sample.duration_seconds = seconds
    sample.save()
    return sample


def voice_built(owner, tmp_path, worker, *, name="Keeper", engines=("chatterbox",)) -> Voice:
    """A voice built by the workers for `engines` from one clean sample and one consent."""
    sample = clean_sample(owner, tmp_path)
    consent = make_consent(owner, recorded=False)
    voice = voice_services.voice_create(
        owner=owner,
        name=name,
        sample_codes=[sample.code],
        consent_code=consent.code,
        language="en",
        engines=list(engines),
    )
    return wait_built(voice, worker)


def make_job(owner, voice, text, **kwargs) -> SynthesisJob:
    params = {"seed": 7, "max_new_tokens": TOKENS, **kwargs.pop("params", {})}
    kwargs.setdefault("engine", "chatterbox")
    return services.job_create(owner=owner, voice=voice, text=text, params=params, **kwargs)


@pytest.fixture
def cb_voice(owner, celery_worker, chatterbox_worker, tmp_path, settings):
    """A ready voice built for Chatterbox alone by the Chatterbox worker."""
    settings.VOICES_CONSENT_RECORDING_REQUIRED = False  # no consent recording to verify
    return voice_built(owner, tmp_path, chatterbox_worker)
