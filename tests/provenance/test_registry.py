"""The generation registry with the real fpcalc: outputs are found again after re-encoding,
resampling and trimming, unrelated audio is not, and a record outlives its account."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from accounts.services import account_delete
from provenance import registry
from provenance.admin import account_label
from provenance.models import GenerationKey, GenerationRecord
from synthesis.models import SynthesisJob
from tests.factories import UserFactory
from voices.models import Voice

pytestmark = pytest.mark.django_db

SENTENCES = [
    "Your parcel will arrive on Thursday between nine and noon.",
    "The museum opens its new wing to visitors next spring.",
    "Please remember to water the tomatoes before you leave.",
    "A gentle breeze carried the smell of rain across the valley.",
]


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


def speech(tmp: Path, name: str, text: str, *, voice: str = "en-us") -> Path:
    wav = tmp / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True, timeout=60)
    return wav


def output_of(job: SynthesisJob, wav: Path, tmp: Path) -> Path:
    """`wav` encoded the way the pipeline stores job outputs (format and rate of the job)."""
    if job.output_format == "pcm":
        out = tmp / f"{job.code}.pcm"
        ffmpeg("-i", str(wav), "-ac", "1", "-ar", str(job.sample_rate), "-f", "s16le", str(out))
        return out
    out = tmp / f"{job.code}.{job.output_format}"
    ffmpeg("-i", str(wav), "-ac", "1", "-ar", str(job.sample_rate), str(out))
    return out


def make_job(owner=None, *, fmt: str = "mp3") -> SynthesisJob:
    owner = owner or UserFactory()
    voice = Voice.objects.create(owner=owner, name=f"v{owner.pk}", engine="xtts")
    return SynthesisJob.objects.create(
        owner=owner, voice=voice, text="x", characters=1, output_format=fmt, sample_rate=24_000
    )


def duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout)


@pytest.fixture
def registry_with_outputs(tmp_path):
    """Four recorded outputs of four accounts: {sentence index: (job, source wav)}."""
    outputs = {}
    for index, text in enumerate(SENTENCES):
        job = make_job()
        wav = speech(tmp_path, f"s{index}", text)
        record = registry.registry_record(output_of(job, wav, tmp_path), job=job)
        assert record is not None
        outputs[index] = (job, wav)
    return outputs


def test_short_clips_get_a_usable_fingerprint(tmp_path):
    # Stock chromaprint gives a 3 s clip a handful of items (or none); the slowed-down
    # preparation gives one item per 31 ms.
    wav = speech(tmp_path, "short", "Hello there, how are you?")  # about 1.7 s
    items = registry.fingerprint_file(wav)
    assert len(items) >= 25
    assert all(0 <= item < 2**32 for item in items)


def test_a_reencoded_output_finds_its_account(registry_with_outputs, tmp_path):
    job, wav = registry_with_outputs[1]
    source = output_of(job, wav, tmp_path)
    mp3 = tmp_path / "passed-on.mp3"
    ffmpeg("-i", str(source), "-b:a", "64k", str(mp3))
    resampled = tmp_path / "resampled-16k.wav"
    ffmpeg("-i", str(mp3), "-ar", "16000", str(resampled))
    telephone = tmp_path / "telephone-8k.wav"
    ffmpeg("-i", str(source), "-ar", "8000", str(telephone))
    seconds = duration(source)
    middle = tmp_path / "middle.mp3"
    ffmpeg("-ss", f"{seconds * 0.25:.3f}", "-t", f"{seconds * 0.5:.3f}", "-i", str(source),
           "-b:a", "64k", str(middle))  # fmt: skip
    for copy in (mp3, resampled, telephone, middle):
        matches = registry.registry_lookup(copy)
        assert matches, copy.name
        best = matches[0]
        assert best.record.job_code == job.code, copy.name
        assert best.record.user == job.owner and best.record.voice_code == job.voice.code
        assert registry.MATCH_SCORE <= best.score <= 1.0
        # The other three outputs are different speech: none of them is named.
        assert [m.record.job_code for m in matches] == [job.code], copy.name


def test_unrelated_audio_matches_nothing(registry_with_outputs, tmp_path):
    other_text = speech(tmp_path, "other", "Nobody recorded this sentence on the server.")
    # The same words as a recorded output, in another voice: still not that output.
    same_words = speech(tmp_path, "same-words", SENTENCES[2], voice="en+f3")
    tones = tmp_path / "tones.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-f", "lavfi",
           "-i", "sine=frequency=660:duration=3", "-filter_complex", "amix=inputs=2",
           str(tones))  # fmt: skip
    for path in (other_text, same_words, tones):
        assert registry.registry_lookup(path) == [], path.name


def test_a_headerless_pcm_output_is_recorded_and_found(tmp_path):
    job = make_job(fmt="pcm")
    wav = speech(tmp_path, "pcm", SENTENCES[3])
    record = registry.registry_record(output_of(job, wav, tmp_path), job=job)
    assert record is not None and record.output_format == "pcm"
    assert record.duration_seconds == pytest.approx(duration(wav), abs=0.05)
    assert [m.record for m in registry.registry_lookup(wav)] == [record]


def test_the_index_is_bounded_and_a_retry_replaces_the_record(tmp_path):
    job = make_job()
    long_wav = tmp_path / "long.wav"
    parts = [speech(tmp_path, f"p{i}", text) for i, text in enumerate(SENTENCES * 4)]
    ffmpeg(*[arg for part in parts for arg in ("-i", str(part))],
           "-filter_complex", f"concat=n={len(parts)}:v=0:a=1", str(long_wav))  # fmt: skip
    record = registry.registry_record(output_of(job, long_wav, tmp_path), job=job)
    assert record is not None
    assert len(record.items) > registry.INDEX_KEYS_MAX
    assert GenerationKey.objects.filter(record=record).count() == registry.INDEX_KEYS_MAX
    # A retried job's new output replaces the record (one per job).
    again = registry.registry_record(output_of(job, parts[0], tmp_path), job=job)
    assert again.pk == record.pk
    assert GenerationRecord.objects.filter(job_code=job.code).count() == 1
    assert GenerationKey.objects.filter(record=record).count() < registry.INDEX_KEYS_MAX
    # The bottom-k index still finds a 3 s excerpt from the middle of a long output.
    excerpt = tmp_path / "excerpt.mp3"
    ffmpeg("-ss", "20", "-t", "3", "-i", str(long_wav), "-b:a", "64k", str(excerpt))
    other = make_job()
    registry.registry_record(output_of(other, long_wav, tmp_path), job=other)
    assert other.code in [m.record.job_code for m in registry.registry_lookup(excerpt)]


def test_recording_never_raises_into_the_pipeline(tmp_path, caplog):
    job = make_job()
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"not audio at all" * 100)
    assert registry.registry_record(garbage, job=job) is None
    assert registry.registry_record(tmp_path / "missing.mp3", job=job) is None
    assert not GenerationRecord.objects.filter(job_code=job.code).exists()
    assert "generation registry" in caplog.text


def test_the_record_outlives_the_account_and_names_it_from_the_audit_log(
    registry_with_outputs, tmp_path
):
    job, wav = registry_with_outputs[0]
    owner = job.owner
    email, code, user_id = owner.email, owner.code, owner.pk
    account_delete(user=owner)
    assert not SynthesisJob.objects.filter(code=job.code).exists()
    record = GenerationRecord.objects.get(job_code=job.code)
    assert record.user is None and record.voice is None
    assert (record.account_id, record.account_code) == (user_id, code)
    assert record.voice_code == job.voice.code
    # No email is stored in the registry; the admin reads it from the deletion's audit event.
    assert email not in repr(GenerationRecord.objects.filter(pk=record.pk).values().get())
    assert email in account_label(record, resolve_deleted=True)
    matches = registry.registry_lookup(wav)
    assert [m.record.pk for m in matches] == [record.pk]


def test_scores_of_the_same_and_other_fingerprints():
    rng = np.random.default_rng(0)
    items = rng.integers(0, 2**32, size=200, dtype=np.uint64).astype(np.uint32)
    assert registry.fingerprint_score(items, items) == 1.0
    assert registry.fingerprint_score(items, items[50:120]) == 1.0  # an excerpt, found by offset
    other = rng.integers(0, 2**32, size=200, dtype=np.uint64).astype(np.uint32)
    assert registry.fingerprint_score(items, other) == 0.0
    assert registry.fingerprint_score(items, []) == 0.0
