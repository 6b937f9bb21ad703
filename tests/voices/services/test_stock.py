"""Stock voices (Piper): real speech through the real worker, with or without XTTS weights."""

import subprocess

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from synthesis.engines import engine_build, runtime
from synthesis.jobs import services
from synthesis.models import EngineStatusRecord, SynthesisJob
from synthesis.workers import lifecycle
from tests.synthesis.audio_helpers import ffprobe
from tests.synthesis.support import wait_job
from voices.audio.quality import detect_speech
from voices.models import Voice

TEXT = "Good morning. This is the stock voice speaking, clearly and without any download."


def _decode(path, rate=16_000) -> np.ndarray:
    pcm = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "f32le",
            "-ac",
            "1",
            "-ar",
            str(rate),
            "pipe:1",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(pcm, dtype="<f4")


@pytest.fixture
def stock_voice(celery_worker):
    # The worker syncs stock voices when it starts; a test's database flush may have removed
    # them since, so wait for the row or sync again through the same function.
    from voices.services.stock import stock_voices_sync

    voice = Voice.objects.filter(is_stock=True, stock_id="piper:en_US-joe-medium").first()
    if voice is None:
        stock_voices_sync(runtime.engine_get("piper"))
        voice = Voice.objects.get(stock_id="piper:en_US-joe-medium")
    return voice


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["mp3", "wav", "opus"])
def test_stock_voice_speaks_real_speech(owner, stock_voice, fmt):
    assert stock_voice.is_stock and stock_voice.owner is None and stock_voice.language == "en"
    job = services.job_create(owner=owner, voice=stock_voice, text=TEXT, output_format=fmt)
    job = wait_job(job, timeout=180)
    assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
    info = ffprobe(job.audio.path)
    assert info["channels"] == 1
    assert 3.0 < info["duration"] < 12.0
    audio = _decode(job.audio.path)
    speech = sum(end - start for start, end in detect_speech(audio, 16_000)) / 16_000
    assert speech > 0.6 * info["duration"]  # voice activity detection hears speech


@pytest.mark.django_db
def test_worker_start_publishes_both_engines_and_syncs_stock_voices(settings, monkeypatch):
    settings.XTTS_MODEL_DIR = "/nonexistent/xtts"
    settings.XTTS_ACCEPT_LICENSE = False
    monkeypatch.setattr(runtime, "_engines", {})
    lifecycle.worker_start()
    xtts = EngineStatusRecord.objects.get(engine="xtts")
    assert not xtts.ready and "XTTS_MODEL_DIR" in xtts.fix
    assert EngineStatusRecord.objects.get(engine="piper").ready
    assert Voice.objects.filter(is_stock=True, status=Voice.Status.READY).count() >= 1
    lifecycle.worker_start()  # idempotent: no duplicate rows
    assert Voice.objects.filter(stock_id="piper:en_US-joe-medium").count() == 1


@pytest.mark.django_db
def test_dashboard_says_cloning_is_unavailable_and_why(client, owner):
    EngineStatusRecord.objects.create(
        hostname="w1",
        engine="xtts",
        ready=False,
        reason="No XTTS model directory is set.",
        fix="Set XTTS_MODEL_DIR to a directory holding config.json, model.pth and vocab.json.",
    )
    client.force_login(owner)
    page = client.get("/dashboard/").content.decode()
    # A user is told plainly; the reason and the fix (a setting) are for the operator only.
    assert "Voice cloning is not available on this server yet." in page
    assert "XTTS_MODEL_DIR" not in page
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    page = client.get("/dashboard/").content.decode()
    assert "No XTTS model directory is set." in page and "XTTS_MODEL_DIR" in page


@pytest.mark.django_db
def test_dashboard_without_any_worker_says_so(client, owner):
    owner.is_staff = True  # the operator's detail; users see the plain sentence
    owner.save(update_fields=["is_staff"])
    client.force_login(owner)
    page = client.get("/dashboard/").content.decode()
    assert "No synthesis worker has reported yet." in page


@pytest.mark.django_db
def test_stock_voices_cannot_be_used_by_nobody_else_only_offered(owner, stranger):
    from voices.services.stock import stock_voices_sync

    with override_settings(PIPER_VOICES_DIR=""):
        voices = stock_voices_sync(engine_build("piper", django_settings))
    # Stock voices belong to nobody and every user may synthesize with them.
    for user in (owner, stranger):
        job = services.job_create(owner=user, voice=voices[0], text="Hello.", output_format="wav")
        assert job.voice == voices[0]


@pytest.mark.browser
@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_speak_page_with_a_stock_voice_end_to_end(live_server, page, owner, stock_voice):
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=login]", owner.email)
    page.fill("input[name=password]", "correct horse battery")
    page.locator("main form button[type=submit]").click()
    page.goto(live_server.url + "/speak/")
    page.select_option("select[name=voice]", str(stock_voice.code))  # options carry codes
    page.fill("textarea[name=text]", "Hello from the speak page.")
    page.select_option("select[name=output_format]", "wav")
    page.locator("[data-testid=speak-form] button[type=submit]").click()
    page.wait_for_selector("[data-testid=job-audio]", timeout=120_000)
    job = SynthesisJob.objects.get(owner=owner)
    assert job.status == SynthesisJob.Status.SUCCEEDED
    response = page.request.get(live_server.url + f"/jobs/{job.code}/audio")
    assert response.status == 200 and response.body()[:4] == b"RIFF"
