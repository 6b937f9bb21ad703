"""A voice whose stored conditioning is missing or corrupt: the job fails with a message the
owner understands, refunded, and the voice is rebuilt from its samples."""

from __future__ import annotations

import pickle

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.usage import usage_summary
from synthesis.models import SynthesisJob
from tests.support.waiting import wait_for
from tests.synthesis.audio_helpers import write_reference_wav
from tests.synthesis.support import make_job, voice_built_by_worker, wait_job
from voices.models import Sample, Voice

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _voice_with_samples(worker, owner, tmp_path, name):
    voice = voice_built_by_worker(worker, owner, tmp_path, name=name, language="en")
    wav = write_reference_wav(tmp_path / f"{name}-sample.wav", seconds=6.0)
    clean = default_storage.save(
        f"test-samples/{owner.code}/{name}-clean.wav", ContentFile(wav.read_bytes())
    )
    Sample.objects.create(
        owner=owner,
        voice=voice,
        purpose=Sample.Purpose.VOICE,
        status=Sample.Status.READY,
        clean=clean,
        size=wav.stat().st_size,
        duration_seconds=6.0,
    )
    return voice


@pytest.mark.parametrize("damage", ["pickle", "missing"])
def test_an_unreadable_voice_fails_its_job_clearly_and_is_rebuilt(
    owner, celery_worker, tmp_path, damage
):
    voice = _voice_with_samples(celery_worker, owner, tmp_path, f"Poison {damage}")
    if damage == "pickle":
        with default_storage.open(voice.conditioning.name, "wb") as handle:
            handle.write(pickle.dumps({"not": "a conditioning"}))
    else:
        default_storage.delete(voice.conditioning.name)

    job = wait_job(make_job(owner, voice, "Hello there.", output_format="wav"))
    assert job.status == SynthesisJob.Status.FAILED
    assert "could not be read" in job.error and "rebuilt" in job.error
    assert "pickle" not in job.error.lower() and "internal error" not in job.error.lower()
    assert job.quota_state == SynthesisJob.QuotaState.REFUNDED
    assert usage_summary(user=owner)["characters"]["used"] == 0

    def rebuilt():
        voice.refresh_from_db()
        return voice.status == Voice.Status.READY

    wait_for(rebuilt, timeout=180, what="the voice to be rebuilt from its samples")
    again = wait_job(make_job(owner, voice, "Hello again.", output_format="wav"))
    assert again.status == SynthesisJob.Status.SUCCEEDED, again.error


def test_a_job_for_a_voice_being_rebuilt_is_refused_with_the_reason(owner, celery_worker, tmp_path):
    from config.service_errors import ServiceError
    from synthesis.jobs import services

    voice = _voice_with_samples(celery_worker, owner, tmp_path, "Rebuilding")
    Voice.objects.filter(pk=voice.pk).update(status=Voice.Status.NEEDS_REBUILD)
    voice.refresh_from_db()
    with pytest.raises(ServiceError) as caught:
        services.job_create(owner=owner, voice=voice, text="Hello.")
    assert caught.value.code == "voice_not_ready"
