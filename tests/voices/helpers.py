"""Builders for voices tests that need no worker: rows in the states the worker would leave."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from accounts import services as account_services
from synthesis.engines.base import Conditioning
from tests.support.waiting import wait_for
from voices import services
from voices.models import Consent, Sample, Voice
from voices.services.conditioning import conditioning_store


def wav_bytes(seconds: float = 1.0, rate: int = 22_050, freq: float = 220.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, 0.3 * np.sin(2 * np.pi * freq * t), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def make_sample(
    owner, *, status=Sample.Status.READY, purpose=Sample.Purpose.VOICE, voice=None, name="take.wav"
) -> Sample:
    """A sample as intake would leave it (a ready one has a clean WAV and a report)."""
    sample = Sample(owner=owner, status=status, purpose=purpose, voice=voice, original_name=name)
    if status != Sample.Status.REJECTED:
        sample.raw.save("raw", ContentFile(wav_bytes()), save=False)
    if status == Sample.Status.READY:
        sample.clean.save("clean.wav", ContentFile(wav_bytes()), save=False)
        sample.report = {"ok": True, "speech_seconds": 12.0, "advice": []}
        sample.duration_seconds = 1.0
    if status == Sample.Status.REJECTED:
        sample.error_code, sample.error_message = "not_audio", "The file is empty."
    sample.save()
    return sample


def make_consent(owner, *, recorded=True, recording_status=Sample.Status.READY) -> Consent:
    consent = services.consent_issue(owner=owner, attest=True)
    if recorded:
        recording = make_sample(owner, status=recording_status, purpose=Sample.Purpose.CONSENT)
        Consent.objects.filter(pk=consent.pk).update(
            recording=recording, status=Consent.Status.RECORDED
        )
        consent.refresh_from_db()
    return consent


XTTS_SHAPES = {"gpt_cond_latent": (1, 32, 1024), "speaker_embedding": (1, 512, 1)}


def fake_conditioning(seed: int, *, engine="xtts", version="test-1", shapes=None) -> Conditioning:
    rng = np.random.default_rng(seed)
    arrays = {
        name: rng.standard_normal(shape).astype(np.float32)
        for name, shape in (shapes or XTTS_SHAPES).items()
    }
    return Conditioning(engine=engine, engine_version=version, arrays=arrays)


def make_ready_voice(owner, name: str, *, seed: int = 0, engine="xtts", **kwargs) -> Voice:
    """A ready voice with a stored (random) conditioning, as a finished build leaves it."""
    voice = Voice.objects.create(owner=owner, name=name, engine=engine, **kwargs)
    make_sample(owner, voice=voice)
    conditioning_store(voice=voice, conditioning=fake_conditioning(seed, engine=engine))
    return voice


def make_stock_voice(name="Stock Alba", stock_id="piper:en_GB-alba") -> Voice:
    return Voice.objects.create(
        owner=None,
        is_stock=True,
        stock_id=stock_id,
        name=name,
        engine="piper",
        status=Voice.Status.READY,
    )


def key_client(user, scopes: list[str]) -> APIClient:
    _, secret = account_services.api_key_create(user=user, name="test", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def upload(client, path: str, content: bytes, name="take.wav", **extra):
    return client.post(path, {"file": ContentFile(content, name=name)}, format="multipart", **extra)


BOUNDARY = "timbre-test-boundary"


def multipart_body(filename: str, content: bytes, field: str = "file") -> bytes:
    """A multipart body written by hand, so the file name reaches the server exactly as given."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode("utf-8", "surrogateescape")
    return head + content + f"\r\n--{BOUNDARY}--\r\n".encode()


MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def wait_samples_done(codes, *, timeout=600.0) -> dict:
    """{code: Sample} once none of them is uploaded/processing any more."""
    open_states = (Sample.Status.UPLOADED, Sample.Status.PROCESSING)

    def done():
        samples = {str(s.code): s for s in Sample.objects.filter(code__in=codes)}
        if any(s.status in open_states for s in samples.values()):
            return None
        return samples

    return wait_for(done, timeout=timeout, what=f"{len(codes)} samples to finish intake")
