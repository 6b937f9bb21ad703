"""Helpers for the provenance tests: audio made here (real worker jobs) and audio not made here
(espeak-ng speech), and a trial C2PA key at the paths the workers read."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from synthesis.jobs import services
from synthesis.models import SynthesisJob
from tests.synthesis.support import wait_job
from voices.models import Voice

TEXT = "Good morning. This recording was generated on this server, and it says so."


def espeak_wav(out: Path, *, voice: str = "en-us", text: str = TEXT) -> Path:
    """Plain espeak-ng speech (made elsewhere, never watermarked)."""
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(out), text], check=True, timeout=60)
    return out


def stock_voice_get() -> Voice:
    from synthesis.engines import runtime
    from voices.services.stock import stock_voices_sync

    voice = Voice.objects.filter(is_stock=True, stock_id="piper:en_US-joe-medium").first()
    if voice is None:  # a database flush removed what the worker synced at start
        stock_voices_sync(runtime.engine_get("piper"))
        voice = Voice.objects.get(stock_id="piper:en_US-joe-medium")
    return voice


def stock_job(owner, *, fmt: str, text: str = TEXT, stream: bool = False) -> SynthesisJob:
    """A finished job of the real worker with the stock Piper voice."""
    job = services.job_create(
        owner=owner, voice=stock_voice_get(), text=text, output_format=fmt, stream=stream
    )
    job = wait_job(job, timeout=180)
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    return job


@pytest.fixture
def trial_keys():
    """A trial key pair where the workers look (the default paths under the data directory),
    removed afterwards so that other tests' outputs stay unsigned."""
    from provenance.management.commands.provenance_keys import trial_chain

    paths = [
        Path(settings.PROVENANCE_C2PA_KEY),
        Path(settings.PROVENANCE_C2PA_CERT),
        Path(settings.PROVENANCE_C2PA_TRUST_ANCHORS),
    ]
    if any(path.exists() for path in paths):
        pytest.skip("a signing key is configured in this environment already")
    key, chain, root = trial_chain(organisation="Timbre tests", days=2)
    for path, data in zip(paths, (key, chain, root), strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    try:
        yield paths
    finally:
        for path in paths:
            path.unlink(missing_ok=True)
