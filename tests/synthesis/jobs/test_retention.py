"""Retention: outputs are deleted once the plan's retention_days have passed."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from audit.models import AuditEvent
from synthesis.batches.services import batch_create, batch_finish
from synthesis.models import SynthesisBatch, SynthesisJob
from synthesis.tasks import retention_sweep
from tests.synthesis.api_helpers import (
    job_finish,
    job_request,
    make_ready_voice,
    plan,
    session_client,
    user_on,
)

pytestmark = pytest.mark.django_db


def test_expiry_comes_from_the_plan_and_the_sweep_deletes_only_expired_audio(
    django_capture_on_commit_callbacks,
):
    user = user_on(plan(retention_days=7))
    voice = make_ready_voice(user, "V")
    old = job_finish(job_request(user, voice, "Old."))
    fresh = job_finish(job_request(user, voice, "Fresh."))
    assert abs(old.expires_at - (old.finished_at + timedelta(days=7))) < timedelta(seconds=1)
    SynthesisJob.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    old_name, fresh_name = old.audio.name, fresh.audio.name

    with django_capture_on_commit_callbacks(execute=True):
        result = retention_sweep.apply().get()  # the beat task, run here
    assert result["jobs"] == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert not old.audio and old.audio_deleted_reason == "expired" and old.audio_bytes == 0
    assert not default_storage.exists(old_name)
    assert fresh.audio and default_storage.exists(fresh_name)
    assert AuditEvent.objects.filter(
        action="synthesis.job.audio_expired", target_id=str(old.code)
    ).exists()

    client = session_client(user)
    response = client.get(f"/api/v1/synthesis/{old.code}/audio")
    assert response.status_code == 410
    assert "retention" in response.json()["error"]["message"]
    detail = client.get(f"/api/v1/synthesis/{old.code}").json()
    assert detail["audio_url"] is None and detail["audio_deleted"] == "expired"
    assert retention_sweep.apply().get()["jobs"] == 0  # nothing left to do


def test_batch_archives_expire_too(django_capture_on_commit_callbacks):
    user = user_on(plan(retention_days=1))
    voice = make_ready_voice(user, "V")
    batch = batch_create(owner=user, items=[{"voice": voice, "text": "Hi."}])
    job_finish(batch.jobs.get())
    batch = batch_finish(batch_id=batch.pk)
    name = batch.archive.name
    SynthesisBatch.objects.filter(pk=batch.pk).update(expires_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert retention_sweep.apply().get()["batches"] == 1
    batch.refresh_from_db()
    assert not batch.archive and not default_storage.exists(name)
    response = session_client(user).get(f"/api/v1/synthesis/batch/{batch.code}/archive")
    assert response.status_code == 410


def test_abandoned_stream_channels_are_removed(settings):
    from synthesis.jobs.streaming import CHANNEL_TTL_SECONDS

    root = Path(settings.DATA_DIR) / "streams"
    stale, live = root / "stale-test-channel", root / "live-test-channel"
    for folder in (stale, live):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "00000000.pcm").write_bytes(b"\0\0")
    past = time.time() - CHANNEL_TTL_SECONDS - 60
    os.utime(stale, (past, past))
    assert retention_sweep.apply().get()["streams"] >= 1
    assert not stale.exists() and live.exists()
    (live / "00000000.pcm").unlink()
    live.rmdir()
