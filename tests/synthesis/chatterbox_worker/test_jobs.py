"""Chatterbox jobs through the real Chatterbox worker: long text in two languages, every output
format, seeds, and cancel (with the quota refunded)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from django.core.files.storage import default_storage

from accounts.models import CharacterUsage
from audit.models import AuditEvent
from synthesis.jobs import services
from synthesis.jobs.encoding import FORMATS
from synthesis.models import SynthesisJob
from tests.support.waiting import wait_for
from tests.synthesis.audio_helpers import ffprobe
from tests.synthesis.chatterbox_worker.conftest import SECONDS_PER_CHUNK, make_job
from tests.synthesis.format_checks import g711_seconds
from tests.synthesis.support import wait_job

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Three sentences over the language's chunk limit (300 en, 280 de characters): two chunks.
TEXTS = {
    "en": (
        "The old keeper climbed the long spiral stairs of the lighthouse every single evening, "
        "counting each of the one hundred and twelve steps aloud. At the top he trimmed the wick, "
        "polished the great lens and wound the clockwork that turned it. Then he sat by the "
        "window and watched the ships pass in the dark."
    ),
    "de": (
        "Der alte Wärter stieg jeden Abend die lange Wendeltreppe des Leuchtturms hinauf und "
        "zählte dabei laut jede einzelne der einhundertzwölf Stufen. Oben schnitt er den "
        "Docht, putzte die große Linse und zog das Uhrwerk auf, das sie drehte. Dann setzte "
        "er sich ans Fenster und sah den Schiffen in der Dunkelheit nach."
    ),
}
CODECS = {"mp3": "mp3", "opus": "opus", "aac": "aac", "flac": "flac", "wav": "pcm_s16le"}


def audio_bytes(job: SynthesisJob) -> bytes:
    with default_storage.open(job.audio.name, "rb") as handle:
        return handle.read()


def test_long_text_in_two_languages(owner, cb_voice):
    jobs = {
        language: make_job(owner, cb_voice, text, language=language, output_format="wav")
        for language, text in TEXTS.items()
    }
    for language, job in jobs.items():
        job = wait_job(job)
        assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
        assert (job.engine, job.language) == ("chatterbox", language)
        assert job.chunks_total >= 2 and job.chunks_done == job.chunks_total, language
        info = ffprobe(job.audio.path)
        assert (info["codec"], info["sample_rate"], info["channels"]) == ("pcm_s16le", 24_000, 1)
        # Each chunk is at most TOKENS speech tokens; the join adds short pauses.
        assert 0 < info["duration"] <= job.chunks_total * (SECONDS_PER_CHUNK + 1.0), language
        assert job.audio_seconds == pytest.approx(info["duration"], abs=0.05)


def test_every_format_decodes_and_the_seed_reproduces(owner, cb_voice):
    text = "One short line."
    jobs = {}
    for fmt in FORMATS:  # one at a time: the plan runs two jobs at once
        rate = 8_000 if fmt in ("ulaw", "alaw") else None
        jobs[fmt] = wait_job(make_job(owner, cb_voice, text, output_format=fmt, sample_rate=rate))
    for fmt, job in jobs.items():
        assert job.status == SynthesisJob.Status.SUCCEEDED, (fmt, job.error)
        assert job.engine == "chatterbox"
        data = audio_bytes(job)
        if fmt == "pcm":
            assert len(data) % 2 == 0
            seconds = len(data) / 2 / 24_000
        elif fmt in ("ulaw", "alaw"):
            seconds = g711_seconds(data, {"ulaw": "mulaw", "alaw": "alaw"}[fmt])
        else:
            info = ffprobe(job.audio.path)  # a file: ffprobe reads no duration from a pipe
            assert (info["codec"], info["channels"]) == (CODECS[fmt], 1), fmt
            seconds = info["duration"]
        assert 0 < seconds <= SECONDS_PER_CHUNK + 0.5, (fmt, seconds)

    # Two jobs with the same seed, text and voice (wav and raw pcm): the same samples.
    same, _ = sf.read(io.BytesIO(audio_bytes(jobs["wav"])), dtype="int16")
    assert np.array_equal(same, np.frombuffer(audio_bytes(jobs["pcm"]), dtype="<i2"))
    other = wait_job(make_job(owner, cb_voice, text, output_format="wav", params={"seed": 8}))
    assert other.status == SynthesisJob.Status.SUCCEEDED, other.error
    different, _ = sf.read(io.BytesIO(audio_bytes(other)), dtype="int16")
    assert not np.array_equal(same[: different.size], different[: same.size])


def test_cancel_a_running_job_charges_nothing(owner, cb_voice):
    text = " ".join(f"This is sentence number {n} of a long text." for n in range(120))
    job = make_job(owner, cb_voice, text, output_format="mp3")
    usage = CharacterUsage.objects.get(user=owner)
    assert usage.reserved == len(text)

    def running_with_progress():
        job.refresh_from_db()
        return job.status == SynthesisJob.Status.RUNNING and job.chunks_done >= 1

    wait_for(running_with_progress, what="the first chunk")
    services.job_cancel(job=job, user=owner)
    job = wait_job(job)
    assert job.status == SynthesisJob.Status.CANCELLED
    assert job.chunks_done < job.chunks_total
    assert not job.audio
    assert job.quota_state == SynthesisJob.QuotaState.REFUNDED
    usage.refresh_from_db()
    assert (usage.reserved, usage.used) == (0, 0)
    assert AuditEvent.objects.filter(
        action="synthesis.job.stopped", target_id=str(job.code)
    ).exists()
