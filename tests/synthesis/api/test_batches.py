"""Batches without a worker: one charge for all, a zip with manifest.json when all ended."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from accounts.models import CharacterUsage, JobSlots
from audit.models import AuditEvent
from synthesis.batches.services import batch_finish
from synthesis.models import SynthesisBatch, SynthesisJob
from tests.synthesis.api_helpers import (
    AUDIO,
    job_fail,
    job_finish,
    make_ready_voice,
    plan,
    session_client,
    user_on,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/synthesis/batch"


@pytest.fixture
def user():
    return user_on(plan(monthly_characters=100, concurrent_jobs=1))


@pytest.fixture
def voice(user):
    return make_ready_voice(user, "V")


@pytest.fixture
def client(user):
    return session_client(user)


def items(*texts, **extra):
    return [{"text": text, **extra} for text in texts]


def test_batch_is_charged_at_once_and_holds_one_slot(user, voice, client):
    other = make_ready_voice(user, "Other")
    payload = {
        "voice": str(voice.code),
        "format": "wav",
        "items": [
            *items("First one.", "Second one."),
            {"text": "Third.", "voice": str(other.code), "format": "flac"},
        ],
    }
    response = client.post(URL, payload, format="json")
    assert response.status_code == 202, response.content
    batch = response.json()
    assert batch["status"] == "running" and batch["total_items"] == 3
    assert batch["total_characters"] == 27 and response["character-cost"] == "27"
    assert batch["counts"]["queued"] == 3
    assert [item["index"] for item in batch["items"]] == [0, 1, 2]
    jobs = SynthesisJob.objects.filter(batch__code=batch["id"]).order_by("batch_index")
    assert [(j.voice, j.output_format) for j in jobs] == [
        (voice, "wav"),
        (voice, "wav"),
        (other, "flac"),
    ]
    assert CharacterUsage.objects.get(user=user).reserved == 27
    assert JobSlots.objects.get(user=user).in_use == 1  # one slot for the whole batch
    assert AuditEvent.objects.filter(action="synthesis.batch.requested").count() == 1


def test_a_batch_over_the_quota_is_refused_whole(user, voice, client):
    response = client.post(
        URL, {"voice": str(voice.code), "items": items("x" * 60, "y" * 41)}, format="json"
    )
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "quota_exceeded"
    assert not SynthesisJob.objects.exists() and not SynthesisBatch.objects.exists()
    assert not CharacterUsage.objects.filter(user=user, reserved__gt=0).exists()
    assert AuditEvent.objects.filter(action="accounts.quota.refused").exists()


def test_bad_items_name_the_item(voice, client, settings):
    settings.SYNTHESIS_BATCH_MAX_ITEMS = 2
    too_many = client.post(
        URL, {"voice": str(voice.code), "items": items("a", "b", "c")}, format="json"
    )
    assert too_many.status_code == 400
    assert "items" in too_many.json()["error"]["details"]
    empty = client.post(URL, {"voice": str(voice.code), "items": []}, format="json")
    assert empty.status_code == 400
    bad = client.post(URL, {"voice": str(voice.code), "items": items("Fine.", "  ")}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "empty_text"
    assert bad.json()["error"]["message"].startswith("items[1]:")
    no_voice = client.post(URL, {"items": items("Who speaks?")}, format="json")
    assert no_voice.status_code == 400
    assert not SynthesisJob.objects.exists()


def test_zip_with_manifest_when_every_item_ended(user, voice, client):
    created = client.post(
        URL,
        {"voice": str(voice.code), "format": "mp3", "items": items("One.", "Two.", "Three.")},
        format="json",
    ).json()
    batch = SynthesisBatch.objects.get(code=created["id"])
    first, second, third = batch.jobs.order_by("batch_index")
    job_finish(first)
    assert batch_finish(batch_id=batch.pk) is None  # items still running: nothing yet
    assert client.get(f"{URL}/{batch.code}/archive").status_code == 409
    job_fail(second, error="Engine hiccup.")
    job_finish(third, audio=b"third" * 100)
    batch = batch_finish(batch_id=batch.pk)
    assert batch.status == "done"
    assert batch_finish(batch_id=batch.pk) is None  # a second call packs nothing
    assert JobSlots.objects.get(user=user).in_use == 0

    data = client.get(f"{URL}/{batch.code}").json()
    assert data["counts"] == {
        "queued": 0,
        "running": 0,
        "succeeded": 2,
        "failed": 1,
        "cancelled": 0,
    }
    assert data["archive_url"].endswith(f"{URL}/{batch.code}/archive")
    response = client.get(f"{URL}/{batch.code}/archive")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["batch"] == str(batch.code)
    files = [item["file"] for item in manifest["items"]]
    assert files == [f"001-{first.code}.mp3", None, f"003-{third.code}.mp3"]
    assert [item["status"] for item in manifest["items"]] == ["succeeded", "failed", "succeeded"]
    assert manifest["items"][1]["error"] == "Engine hiccup."
    assert manifest["items"][0]["text"] == "One." and manifest["items"][0]["characters"] == 4
    assert archive.read(files[0]) == AUDIO and archive.read(files[2]) == b"third" * 100
    assert sorted(archive.namelist()) == sorted([files[0], files[2], "manifest.json"])
    ranged = client.get(f"{URL}/{batch.code}/archive", HTTP_RANGE="bytes=0-3")
    assert ranged.status_code == 206 and b"".join(ranged.streaming_content) == b"PK\x03\x04"
    counters = CharacterUsage.objects.get(user=user)
    assert (counters.used, counters.reserved) == (10, 0)  # the failed item was refunded
    assert AuditEvent.objects.filter(action="synthesis.batch.completed").count() == 1


def test_batch_webhook_and_idempotency(user, voice, client, settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    monkeypatch.setattr("synthesis.webhooks.services.task_send_on_commit", lambda *a, **kw: None)
    payload = {
        "voice": str(voice.code),
        "items": items("A.", "B."),
        "webhook_url": "http://127.0.0.1:9/b",
    }
    first = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="b-1")
    again = client.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="b-1")
    assert first.json()["id"] == again.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert SynthesisBatch.objects.count() == 1
    changed = client.post(
        URL, {**payload, "items": items("C.")}, format="json", HTTP_IDEMPOTENCY_KEY="b-1"
    )
    assert changed.status_code == 409
    batch = SynthesisBatch.objects.get()
    for job in batch.jobs.all():
        job_finish(job)
    batch_finish(batch_id=batch.pk)
    delivery = batch.webhook_deliveries.get()
    assert delivery.event == "synthesis.batch.completed"
    assert delivery.payload["data"]["batch"]["status"] == "done"
    assert not SynthesisJob.objects.filter(batch=batch).exclude(webhook_url="").exists()
