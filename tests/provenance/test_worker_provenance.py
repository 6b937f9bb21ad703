"""Provenance end to end through the real worker: outputs are watermarked and signed, the
detect endpoint (its check runs on the worker's audio queue) tells them from audio made
elsewhere, and refuses what is not audio."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import c2pa
import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from provenance.credentials import GENERATION_LABEL, TRAINED_ALGORITHMIC_MEDIA
from tests.factories import UserFactory
from tests.provenance.support import espeak_wav, stock_job, trial_keys  # noqa: F401

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _worker(celery_worker):
    return celery_worker


URL = "/api/v1/provenance/detect"


def _detect(client, path: Path):
    with open(path, "rb") as handle:
        return client.post(URL, {"file": handle}, format="multipart")


def test_outputs_are_watermarked_and_espeak_speech_is_not(owner, owner_client, tmp_path):
    today = datetime.now(UTC).date().isoformat()
    for fmt in ("wav", "mp3", "opus"):
        job = stock_job(owner, fmt=fmt)
        response = _detect(owner_client, Path(job.audio.path))
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["watermarked"] is True and body["confidence"] >= 0.9, (fmt, body)
        assert body["c2pa"] is None  # no signing key in this test
        # Made here, and when; a caller who is not staff never learns the account.
        assert body["generated_here"] == {"generated": True, "date": today}, fmt
    for voice in ("en-us", "en+f3", "de"):
        response = _detect(owner_client, espeak_wav(tmp_path / f"{voice}.wav", voice=voice))
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["watermarked"] is False and body["confidence"] < 0.5, (voice, body)
        assert body["c2pa"] is None and body["generated_here"] is None


def test_streamed_output_is_watermarked_too(owner, owner_client):
    # A streamed job is marked piece by piece as the engine yields them (its stored copy too).
    job = stock_job(owner, fmt="wav", stream=True)
    body = _detect(owner_client, Path(job.audio.path)).json()
    assert body["watermarked"] is True and body["confidence"] >= 0.9, body


def test_staff_see_the_account_and_the_lookup_is_audited(owner, tmp_path):
    job = stock_job(owner, fmt="mp3")
    admin = UserFactory(email="admin@example.com", is_staff=True)
    client = APIClient()
    client.force_login(admin)
    body = _detect(client, Path(job.audio.path)).json()
    match = body["generated_here"]["matches"][0]
    assert match["job_id"] == str(job.code)
    assert match["account"]["email"] == owner.email and match["account"]["id"] == str(owner.code)
    assert match["voice_id"] == str(job.voice.code) and match["model"] == "piper"
    event = AuditEvent.objects.get(action="provenance.detect.admin_lookup")
    assert event.actor_user_id == admin.pk and str(job.code) in event.data["matched_jobs"]


def test_stored_mp3_and_wav_carry_valid_content_credentials(owner, trial_keys):  # noqa: F811
    for fmt, mime in (("mp3", "audio/mpeg"), ("wav", "audio/wav")):
        job = stock_job(owner, fmt=fmt)
        with (
            open(job.audio.path, "rb") as stream,
            c2pa.Reader(mime, stream) as reader,  # c2pa's own defaults: no trust list
        ):
            store = json.loads(reader.json())
        # Signature and bindings hold; only the trial root is unknown to the reader.
        assert store["validation_state"] == "Valid", store.get("validation_status")
        codes = {status["code"] for status in store.get("validation_status", [])}
        assert codes <= {"signingCredential.untrusted"}
        manifest = store["manifests"][store["active_manifest"]]
        assertions = {item["label"]: item["data"] for item in manifest["assertions"]}
        actions = next(v for k, v in assertions.items() if k.startswith("c2pa.actions"))
        created = actions["actions"][0]
        assert created["action"] == "c2pa.created"
        assert created["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
        generation = assertions[GENERATION_LABEL]
        assert generation["service"] == "Timbre" and generation["model"] == "piper"
        assert generation["voice_id"] == str(job.voice.code)  # the code, never the name
        assert job.voice.name not in json.dumps(manifest)
        assert generation["job_id"] == str(job.code)
        assert generation["created"].startswith(job.created_at.date().isoformat())
        # This server trusts its own root (PROVENANCE_C2PA_TRUST_ANCHORS): "Trusted" here.
        body = _detect_as(owner, Path(job.audio.path))
        assert body["c2pa"]["validation_state"] == "Trusted"
        assert body["c2pa"]["digital_source_type"] == TRAINED_ALGORITHMIC_MEDIA
        assert body["watermarked"] is True


def test_an_edited_signed_file_no_longer_validates(owner, trial_keys, tmp_path):  # noqa: F811
    job = stock_job(owner, fmt="wav")
    edited = tmp_path / "edited.wav"
    data = bytearray(Path(job.audio.path).read_bytes())
    data[-200:] = bytes(200)  # silence the last samples
    edited.write_bytes(bytes(data))
    assert _detect_as(owner, edited)["c2pa"]["validation_state"] == "Invalid"


def _detect_as(user, path: Path) -> dict:
    client = APIClient()
    client.force_login(user)
    response = _detect(client, path)
    assert response.status_code == 200, response.json()
    return response.json()


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("notes.wav", b"These are my notes, not a recording.\n" * 50, 415, "not_audio"),
        ("empty.mp3", b"", 415, "not_audio"),
        ("image.wav", b"\x89PNG\r\n\x1a\n" + b"\0" * 512, 415, "not_audio"),
    ],
)
def test_non_audio_is_refused_with_a_4xx(owner_client, celery_worker, name, data, status, code):
    import io

    upload = io.BytesIO(data)
    upload.name = name
    response = owner_client.post(URL, {"file": upload}, format="multipart")
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code


def test_the_public_page_checks_a_file_anonymously(celery_worker, owner, tmp_path):
    from django.test import Client

    job = stock_job(owner, fmt="mp3")
    client = Client()
    with open(job.audio.path, "rb") as handle:
        page = client.post("/provenance/check/", {"file": handle}).content.decode()
    assert 'data-testid="check-result"' in page
    assert "Found" in page and "Yes, on " in page
    assert owner.email not in page
    with open(espeak_wav(tmp_path / "other.wav"), "rb") as handle:
        page = client.post("/provenance/check/", {"file": handle}).content.decode()
    assert "Not found" in page and "No record found" in page
