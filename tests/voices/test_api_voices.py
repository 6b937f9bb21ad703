"""Voices from samples through the API: create, list, rename, delete, slots, query counts."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Plan
from audit.models import AuditEvent
from tests.support.tasks import task_spy
from tests.voices.helpers import (
    make_consent,
    make_ready_voice,
    make_sample,
    make_stock_voice,
)
from voices import services
from voices.models import Consent, Sample, Voice

pytestmark = pytest.mark.django_db


def create(client, samples, consent, name="My voice", **extra):
    payload = {
        "name": name,
        "samples": [str(s.code) for s in samples],
        "consent": str(consent.code) if consent else None,
        **extra,
    }
    return client.post("/api/v1/voices", payload, format="json")


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_create_voice_queues_consent_verification(
    owner_client, owner, django_capture_on_commit_callbacks
):
    samples = [make_sample(owner), make_sample(owner)]
    consent = make_consent(owner)
    with (
        task_spy("voices.tasks.sample_consent_verify") as verify,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = create(
            owner_client,
            samples,
            consent,
            language="en",
            labels={"accent": "British"},
            description="Warm",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "building"
    assert body["requires_verification"] is False
    assert body["labels"] == {"accent": "British"}
    assert {s["id"] for s in body["samples"]} == {str(s.code) for s in samples}
    assert body["consent"]["id"] == str(consent.code)
    voice = Voice.objects.get(code=body["id"])
    verify.assert_called_once_with(consent_id=consent.pk)
    assert Consent.objects.get(pk=consent.pk).voice == voice
    assert set(voice.samples.all()) == set(samples)
    assert AuditEvent.objects.filter(action="voices.voice.created", target_id=str(voice.code))


@pytest.mark.parametrize(
    ("status", "http", "code"),
    [
        (Sample.Status.PROCESSING, 409, "sample_not_ready"),
        (Sample.Status.UPLOADED, 409, "sample_not_ready"),
        (Sample.Status.REJECTED, 422, "sample_rejected"),
    ],
)
def test_samples_must_be_ready(owner_client, owner, status, http, code):
    response = create(
        owner_client, [make_sample(owner), make_sample(owner, status=status)], make_consent(owner)
    )
    assert response.status_code == http
    assert error_code(response) == code
    assert not Voice.objects.exists()


def test_someone_elses_sample_or_consent_is_404(owner_client, owner, stranger):
    theirs = make_sample(stranger)
    response = create(owner_client, [make_sample(owner), theirs], make_consent(owner))
    assert response.status_code == 404
    response = create(owner_client, [make_sample(owner)], make_consent(stranger))
    assert response.status_code == 404
    assert not Voice.objects.exists()


def test_consent_rules(owner_client, owner):
    sample = make_sample(owner)
    response = create(owner_client, [sample], None)
    assert response.status_code == 400
    response = create(owner_client, [sample], make_consent(owner, recorded=False))
    assert (response.status_code, error_code(response)) == (409, "consent_not_recorded")
    processing = make_consent(owner, recording_status=Sample.Status.PROCESSING)
    response = create(owner_client, [sample], processing)
    assert (response.status_code, error_code(response)) == (409, "sample_not_ready")
    rejected = make_consent(owner, recording_status=Sample.Status.REJECTED)
    response = create(owner_client, [sample], rejected)
    assert (response.status_code, error_code(response)) == (422, "consent_recording_rejected")
    consent = make_consent(owner)
    assert create(owner_client, [sample], consent).status_code == 202
    response = create(owner_client, [make_sample(owner)], consent, name="Second")
    assert (response.status_code, error_code(response)) == (409, "consent_used")
    response = create(owner_client, [sample], make_consent(owner), name="Third")
    assert (response.status_code, error_code(response)) == (409, "sample_in_use")


def test_without_required_recording_the_build_is_queued_directly(
    owner_client, owner, settings, django_capture_on_commit_callbacks
):
    settings.VOICES_CONSENT_RECORDING_REQUIRED = False
    sample = make_sample(owner)
    consent = make_consent(owner, recorded=False)
    with (
        task_spy("voices.tasks.voice_conditioning_compute") as build,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = create(owner_client, [sample], consent)
    assert response.status_code == 202, response.content
    voice = Voice.objects.get(code=response.json()["id"])
    build.assert_called_once_with(
        voice_id=voice.pk, sample_names=[sample.clean.name], engine=voice.engine
    )


def test_voice_slots_are_enforced_with_a_clear_message(owner_client, owner):
    owner.plan = Plan.objects.create(slug="one", name="One voice", voice_slots=1)
    owner.save(update_fields=["plan"])
    Voice.objects.create(owner=owner, name="Existing")
    response = create(owner_client, [make_sample(owner)], make_consent(owner))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "voice_slots_exhausted"
    assert "allows 1 voice and you have 1" in error["message"]
    assert error["details"] == {"voice_slots": 1, "used": 1}


def test_invalid_fields(owner_client, owner):
    consent = make_consent(owner)
    response = create(owner_client, [make_sample(owner)], consent, language="xx")
    assert (response.status_code, error_code(response)) == (400, "unsupported_language")
    response = create(owner_client, [], consent)
    assert response.status_code == 400
    Voice.objects.create(owner=owner, name="Taken")
    response = create(owner_client, [make_sample(owner)], consent, name="Taken")
    assert (response.status_code, error_code(response)) == (409, "voice_name_taken")


def test_list_shows_own_and_stock_voices_only(owner_client, owner, stranger):
    make_ready_voice(owner, "Mine")
    make_ready_voice(stranger, "Theirs")
    make_stock_voice()
    results = owner_client.get("/api/v1/voices").json()["results"]
    assert [(v["name"], v["is_stock"]) for v in results] == [("Mine", False), ("Stock Alba", True)]


def test_rename_and_its_refusals(owner_client, owner, stranger):
    voice = make_ready_voice(owner, "Before")
    response = owner_client.patch(f"/api/v1/voices/{voice.code}", {"name": "After"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "After"
    event = AuditEvent.objects.get(action="voices.voice.renamed")
    assert event.data == {"name": {"old": "Before", "new": "After"}}
    stock = make_stock_voice()
    response = owner_client.patch(f"/api/v1/voices/{stock.code}", {"name": "X"}, format="json")
    assert (response.status_code, error_code(response)) == (403, "stock_voice_readonly")
    response = owner_client.delete(f"/api/v1/voices/{stock.code}")
    assert (response.status_code, error_code(response)) == (403, "stock_voice_readonly")
    theirs = make_ready_voice(stranger, "Theirs")
    response = owner_client.patch(f"/api/v1/voices/{theirs.code}", {"name": "X"}, format="json")
    assert response.status_code == 404


def test_delete_removes_samples_conditioning_and_consent_recording(
    owner_client, owner, django_capture_on_commit_callbacks
):
    voice = make_ready_voice(owner, "Doomed")
    consent = make_consent(owner)
    Consent.objects.filter(pk=consent.pk).update(voice=voice)
    samples = [*voice.samples.all(), consent.recording]
    names = [voice.conditioning.name] + [n for s in samples for n in (s.raw.name, s.clean.name)]
    assert all(default_storage.exists(name) for name in names)
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.delete(f"/api/v1/voices/{voice.code}").status_code == 204
    assert not any(default_storage.exists(name) for name in names)
    assert not Voice.objects.filter(pk=voice.pk).exists()
    assert not Sample.objects.filter(pk__in=[s.pk for s in samples]).exists()
    kept = Consent.objects.get(pk=consent.pk)  # the record of what was agreed stays
    assert kept.voice is None and kept.recording is None
    assert AuditEvent.objects.filter(action="voices.voice.deleted").exists()


def test_pending_consent_voice_then_consent_attached(
    owner_client, owner, django_capture_on_commit_callbacks
):
    sample = make_sample(owner)
    voice = services.voice_create_pending_consent(
        owner=owner, name="From /v1/voices/add", sample_codes=[sample.code]
    )
    body = owner_client.get(f"/api/v1/voices/{voice.code}").json()
    assert (body["status"], body["requires_verification"]) == ("pending_consent", True)
    consent = make_consent(owner)
    with (
        task_spy("voices.tasks.sample_consent_verify") as verify,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = owner_client.post(
            f"/api/v1/voices/{voice.code}/consent", {"consent": str(consent.code)}, format="json"
        )
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "building"
    verify.assert_called_once_with(consent_id=consent.pk)
    response = owner_client.post(
        f"/api/v1/voices/{voice.code}/consent",
        {"consent": str(make_consent(owner).code)},
        format="json",
    )
    assert (response.status_code, error_code(response)) == (409, "voice_not_pending_consent")


def test_pending_consent_voice_waits_for_its_samples(owner_client, owner):
    sample = make_sample(owner, status=Sample.Status.PROCESSING)
    voice = services.voice_create_pending_consent(owner=owner, name="P", sample_codes=[sample.code])
    response = owner_client.post(
        f"/api/v1/voices/{voice.code}/consent",
        {"consent": str(make_consent(owner).code)},
        format="json",
    )
    assert (response.status_code, error_code(response)) == (409, "sample_not_ready")


def test_languages(owner_client):
    languages = owner_client.get("/api/v1/languages").json()
    english = next(entry for entry in languages if entry["code"] == "en")
    assert (english["name"], english["char_limit"]) == ("English", 250)  # the cloning engine's
    # Every language an installed engine declares, once: XTTS's 17, the 9 more of Chatterbox's 23
    # (da el fi he ms no sv sw zh) and the toy engine's eo.
    from synthesis.engines import engines

    declared = {code for facts in engines().values() for code in facts.languages}
    assert sorted(entry["code"] for entry in languages) == sorted(declared)
    assert len(declared) == 27


# --- query counts ----------------------------------------------------------------------------
def _voices_with_everything(owner, count: int, offset: int = 0) -> None:
    for index in range(offset, offset + count):
        voice = make_ready_voice(owner, f"Voice {index}", seed=index)
        make_sample(owner, voice=voice)
        consent = make_consent(owner)
        Consent.objects.filter(pk=consent.pk).update(voice=voice)
    make_stock_voice(name=f"Stock {offset}", stock_id=f"piper:{offset}")


@pytest.mark.parametrize(
    ("path", "build"),
    [
        ("/api/v1/voices", _voices_with_everything),
        ("/api/v1/samples", lambda owner, n, offset=0: [make_sample(owner) for _ in range(n)]),
    ],
)
def test_list_query_count_does_not_grow(owner_client, owner, path, build):
    build(owner, 1)
    with CaptureQueriesContext(connection) as one:
        assert owner_client.get(path).status_code == 200
    build(owner, 4, offset=1)
    with CaptureQueriesContext(connection) as five:
        response = owner_client.get(path)
    assert response.json()["count"] >= 5
    assert len(five) == len(one), [q["sql"] for q in five.captured_queries]
