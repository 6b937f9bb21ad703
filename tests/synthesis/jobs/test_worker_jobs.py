"""Synthesis jobs through a real worker process with the tiny XTTS checkpoint."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.core.files.storage import default_storage

from audit.models import AuditEvent
from synthesis.engines.base import Conditioning
from synthesis.jobs import services
from synthesis.models import EngineStatusRecord, SynthesisJob
from synthesis.tasks import synthesize
from tests.synthesis.audio_helpers import ffprobe
from tests.synthesis.support import SECONDS_PER_CHUNK, make_job, wait_for, wait_job

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_worker_publishes_engine_status(celery_worker):
    # Published at worker start; earlier tests may have flushed the table, so ask again.
    from synthesis.tasks import engine_status_publish

    engine_status_publish.delay()
    record = wait_for(
        lambda: EngineStatusRecord.objects.filter(engine="xtts").first(), what="engine status"
    )
    assert record.ready, (record.reason, record.fix)
    assert record.device == "cpu"
    assert record.load_seconds > 0
    assert record.model_version


def test_conditioning_is_stored_as_npz_without_pickle(ready_voice):
    assert ready_voice.conditioning.name.endswith(".npz")
    with ready_voice.conditioning.open("rb") as handle:
        data = handle.read()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert len(npz.files) >= 3
    cond = Conditioning.from_npz_bytes(data)
    assert cond.engine == "xtts"
    assert set(cond.arrays) == {"gpt_cond_latent", "speaker_embedding"}
    assert AuditEvent.objects.filter(
        action="voices.voice.built", target_id=str(ready_voice.code)
    ).exists()


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("en", "The first sentence is short. The second one follows it! Is this the third?"),
        ("de", "Das ist der erste Satz. Hier kommt der zweite Satz! Und ist das der dritte?"),
    ],
)
def test_multi_sentence_text_in_two_languages(owner, ready_voice, language, text):
    job = wait_job(make_job(owner, ready_voice, text, language=language, output_format="wav"))
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    assert job.chunks_total >= 1 and job.chunks_done == job.chunks_total
    assert job.progress == 1.0
    info = ffprobe(job.audio.path)
    assert (info["codec"], info["sample_rate"], info["channels"]) == ("pcm_s16le", 24_000, 1)
    expected = job.chunks_total * SECONDS_PER_CHUNK
    assert expected * 0.85 <= info["duration"] <= expected * 1.15 + 1.0
    assert job.audio_seconds == pytest.approx(info["duration"], abs=0.05)
    assert job.compute_seconds > 0


EXPECTED_CODEC = {"mp3": "mp3", "opus": "opus", "aac": "aac", "flac": "flac", "wav": "pcm_s16le"}


@pytest.mark.parametrize("fmt", ["wav", "mp3", "opus", "aac", "flac", "pcm"])
def test_every_format(owner, ready_voice, fmt):
    text = "One sentence in this format. And a second one."
    job = wait_job(make_job(owner, ready_voice, text, output_format=fmt))
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    expected = job.chunks_total * SECONDS_PER_CHUNK
    data = Path(job.audio.path).read_bytes()
    if fmt == "pcm":
        assert len(data) % 2 == 0
        duration = len(data) / 2 / 24_000
    else:
        info = ffprobe(job.audio.path)
        assert info["codec"] == EXPECTED_CODEC[fmt]
        assert info["channels"] == 1
        duration = info["duration"]
    assert expected * 0.85 <= duration <= expected * 1.15 + 1.0


def test_other_sample_rate(owner, ready_voice):
    job = wait_job(
        make_job(
            owner,
            ready_voice,
            "Sixteen kilohertz, please.",
            output_format="flac",
            sample_rate=16_000,
        )
    )
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    assert ffprobe(job.audio.path)["sample_rate"] == 16_000


def _samples(job: SynthesisJob) -> np.ndarray:
    data, _ = sf.read(job.audio.path, dtype="int16")
    return data


def test_same_seed_same_audio_other_seed_other_audio(owner, ready_voice):
    text = "Determinism matters for reproducible takes."
    first = wait_job(make_job(owner, ready_voice, text, output_format="wav"))
    second = wait_job(make_job(owner, ready_voice, text, output_format="wav"))
    other = wait_job(make_job(owner, ready_voice, text, output_format="wav", params={"seed": 8}))
    assert {first.status, second.status, other.status} == {SynthesisJob.Status.SUCCEEDED}
    assert np.array_equal(_samples(first), _samples(second))
    assert not np.array_equal(_samples(first), _samples(other))


def test_cancel_a_running_job_stops_between_chunks(owner, ready_voice):
    text = " ".join(f"This is sentence number {n} of a long text." for n in range(200))
    job = make_job(owner, ready_voice, text, output_format="mp3")

    def running_with_progress():
        job.refresh_from_db()
        return job.status == SynthesisJob.Status.RUNNING and job.chunks_done >= 1

    wait_for(running_with_progress, what="first chunk")
    services.job_cancel(job=job, user=owner)
    job = wait_job(job)
    assert job.status == SynthesisJob.Status.CANCELLED
    assert job.chunks_done < job.chunks_total
    assert not job.audio
    assert AuditEvent.objects.filter(
        action="synthesis.job.stopped", target_id=str(job.code)
    ).exists()


def test_cancel_a_queued_job_is_immediate(owner, ready_voice):
    from django.db import transaction

    with transaction.atomic():  # the task is only sent on commit; cancel before that
        job = make_job(owner, ready_voice, "Never spoken.")
        services.job_cancel(job=job, user=owner)
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.CANCELLED
    time.sleep(2)  # give the worker the chance to (wrongly) run it
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.CANCELLED
    assert job.attempts == 0


def test_job_delivered_twice_produces_one_result(owner, ready_voice):
    job = make_job(owner, ready_voice, "Delivered twice, produced once.", output_format="wav")
    synthesize.delay(job_id=job.pk)  # a second message for the same job
    job = wait_job(job)
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    time.sleep(3)  # let the duplicate be consumed too
    job.refresh_from_db()
    assert job.attempts == 1
    assert (
        AuditEvent.objects.filter(action="synthesis.job.completed", target_id=str(job.code)).count()
        == 1
    )
    _, files = default_storage.listdir(f"synthesis/{owner.code}")
    assert [f for f in files if f.startswith(str(job.code))] == [f"{job.code}.wav"]


def test_streamed_job_sends_audio_while_generating_and_stores_the_same(owner, ready_voice):
    from synthesis.jobs.streaming import stream_encoded

    text = "Streaming starts early. It keeps going. And then it ends."
    job = make_job(
        owner, ready_voice, text, output_format="wav", stream=True, params={"max_new_tokens": 40}
    )
    started = time.monotonic()
    arrivals, body = [], b""
    for data in stream_encoded(str(job.code), fmt="pcm", sample_rate_in=24_000):
        arrivals.append(time.monotonic() - started)
        body += data
    job = wait_job(job)
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    assert len(arrivals) >= 3  # pieces came one by one, not as one block at the end
    assert arrivals[0] < arrivals[-1]
    streamed = np.frombuffer(body, dtype="<i2")
    stored, rate = sf.read(job.audio.path, dtype="int16")
    assert rate == 24_000
    assert streamed.shape == stored.shape
    assert np.abs(streamed.astype(int) - stored.astype(int)).max() <= 1  # int16 rounding
