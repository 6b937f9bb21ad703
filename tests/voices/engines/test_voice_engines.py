"""A voice built for several engines (issue 14): choosing them at creation, adding one to a
ready voice, what the API shows, and the outbox of the further engines' builds. No worker
here: tests/synthesis/engines_per_job has the builds and jobs through a real worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from config.service_errors import ServiceError, http_status
from synthesis.engines.base import Conditioning
from tests.voices.helpers import (
    fake_conditioning,
    key_client,
    make_consent,
    make_sample,
    make_stock_voice,
)
from voices import selectors, services
from voices.models import Voice, VoiceConditioning
from voices.services.conditioning import (
    ConditioningUnreadable,
    conditioning_load,
    conditioning_store,
)
from voices.services.engines import engine_builds_sweep, engine_conditioning_store

pytestmark = pytest.mark.django_db


def toy_voice(owner, name="Toy voice") -> Voice:
    """A ready voice of the toy engine, as its build leaves it (one sample, stored .npz)."""
    voice = Voice.objects.create(owner=owner, name=name, engine="toy")
    make_sample(owner, voice=voice)
    stored = fake_conditioning(0, engine="toy", shapes={"level": (1,)})
    return conditioning_store(voice=voice, conditioning=stored)


def _create(client, owner, **extra):
    sample = make_sample(owner)
    consent = make_consent(owner, recorded=False)
    body = {"name": "Both", "samples": [str(sample.code)], "consent": str(consent.code), **extra}
    return client.post("/api/v1/voices", body, format="json")


def test_a_voice_is_created_for_several_engines_from_one_consent(owner, settings):
    settings.VOICES_CONSENT_RECORDING_REQUIRED = False
    client = key_client(owner, ["voices:read", "voices:write"])
    response = _create(client, owner, engines=["toy", "toy-b-1"])  # a name and a model id
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["engine"] == "toy"  # the first one is the voice's main engine
    listed = {entry["engine"]: entry for entry in body["engines"]}
    assert list(listed) == ["toy", "toyb"]
    assert listed["toy"]["primary"] and not listed["toyb"]["primary"]
    assert listed["toyb"] | {"failure_reason": ""} == {
        "engine": "toyb",
        "model_id": "toy-b-1",
        "label": "Toy square",
        "status": "building",
        "failure_reason": "",
        "primary": False,
        "commercial_use": True,
        "licence": "test only",
    }
    voice = Voice.objects.get(code=body["id"])
    assert list(voice.conditionings.values_list("engine", "status")) == [("toyb", "building")]
    created = AuditEvent.objects.get(action="voices.voice.created", target_id=str(voice.code))
    assert created.data["engines"] == ["toy", "toyb"]


def test_without_engines_a_voice_is_built_for_the_default_model(owner, settings):
    settings.VOICES_CONSENT_RECORDING_REQUIRED = False
    settings.TIMBRE_DEFAULT_MODEL = "toy-b-1"
    client = key_client(owner, ["voices:read", "voices:write"])
    body = _create(client, owner).json()
    assert body["engine"] == "toyb"
    assert [entry["engine"] for entry in body["engines"]] == ["toyb"]


@pytest.mark.parametrize("engines", [["nope"], ["piper"], ["toy", "piper"]])
def test_only_installed_cloning_engines_are_accepted(owner, settings, engines):
    settings.VOICES_CONSENT_RECORDING_REQUIRED = False
    client = key_client(owner, ["voices:read", "voices:write"])
    response = _create(client, owner, engines=engines)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unsupported_engine"
    assert "toyb" in error["message"] and "xtts" in error["message"]
    assert not Voice.objects.filter(owner=owner).exists()


def test_a_bad_default_model_names_the_setting(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.TIMBRE_DEFAULT_MODEL = "piper"  # installed, but it does not clone
    with pytest.raises(ImproperlyConfigured, match="TIMBRE_DEFAULT_MODEL"):
        selectors.default_model()


def test_adding_an_engine_to_a_ready_voice_is_audited(owner):
    voice = toy_voice(owner)
    client = key_client(owner, ["voices:read", "voices:write"])
    response = client.post(
        f"/api/v1/voices/{voice.code}/engines", {"engine": "toyb"}, format="json"
    )
    assert response.status_code == 202, response.content
    engines = {e["engine"]: e["status"] for e in response.json()["engines"]}
    assert engines == {"toy": "ready", "toyb": "building"}
    event = AuditEvent.objects.get(action="voices.voice.engine_added")
    assert (event.target_id, event.actor_user_id) == (str(voice.code), owner.pk)
    assert event.data == {"engine": "toyb", "model_id": "toy-b-1"}
    assert event.api_key_id

    again = client.post(
        f"/api/v1/voices/{voice.code}/engines", {"engine": "toy-b-1"}, format="json"
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "engine_already_added"
    own = client.post(f"/api/v1/voices/{voice.code}/engines", {"engine": "toy"}, format="json")
    assert own.json()["error"]["code"] == "engine_already_added"


def test_a_failed_engine_build_can_be_added_again(owner):
    voice = toy_voice(owner)
    VoiceConditioning.objects.create(
        voice=voice, engine="toyb", status=VoiceConditioning.Status.FAILED, failure_reason="x"
    )
    services.voice_engine_add(user=owner, voice=voice, engine="toyb")
    row = voice.conditionings.get()
    assert (row.status, row.failure_reason) == ("building", "")


def test_adding_an_engine_is_refused_clearly(owner, stranger, admin_user):
    voice = toy_voice(owner)
    client = key_client(owner, ["voices:read", "voices:write"])

    def refused(target, engine="toyb"):
        response = client.post(
            f"/api/v1/voices/{target.code}/engines", {"engine": engine}, format="json"
        )
        return response.status_code, response.json()["error"]["code"]

    assert refused(voice, "piper") == (400, "unsupported_engine")
    assert refused(voice, "nope") == (400, "unsupported_engine")
    assert refused(make_stock_voice()) == (403, "stock_voice_readonly")
    other = toy_voice(stranger, "Theirs")
    assert refused(other)[0] == 404
    building = Voice.objects.create(owner=owner, name="Building", engine="toy")
    assert refused(building) == (409, "voice_not_ready")
    mix = toy_voice(owner, "Mix")
    Voice.objects.filter(pk=mix.pk).update(mix_sources=[{"id": "x", "name": "a", "weight": 1}])
    assert refused(mix) == (409, "voice_is_mix")
    services.voice_block(admin_user=admin_user, voice=voice, reason="Impersonation.")
    assert refused(voice) == (403, "voice_blocked")
    assert not VoiceConditioning.objects.exists()
    assert not AuditEvent.objects.filter(action="voices.voice.engine_added").exists()


def test_each_engine_has_its_own_stored_conditioning(owner):
    voice = toy_voice(owner)
    row = VoiceConditioning.objects.create(voice=voice, engine="toyb")
    with pytest.raises(ConditioningUnreadable):
        conditioning_load(voice, "toyb")  # still building
    stored = Conditioning("toyb", "toyb-1.0", {"computed": 1}, fake_conditioning(3).arrays)
    engine_conditioning_store(row=row, conditioning=stored)
    row.refresh_from_db()
    assert row.status == "ready" and row.conditioning.name.endswith(".npz")
    assert row.conditioning.name.startswith(f"voices/{owner.code}/{voice.code}/conditioning-")
    assert conditioning_load(voice, "toyb").to_npz_bytes() == stored.to_npz_bytes()
    assert conditioning_load(voice).engine == "toy"  # the main engine's file is untouched
    assert selectors.voice_engines_ready(voice) == ["toy", "toyb"]
    # A file that is not this engine's is unreadable for it, never spoken with.
    with row.conditioning.open("wb") as handle:
        handle.write(fake_conditioning(4, engine="toy").to_npz_bytes())
    with pytest.raises(ConditioningUnreadable, match="made by toy"):
        conditioning_load(voice, "toyb")


def test_deleting_a_voice_deletes_every_engines_file(owner, django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    voice = toy_voice(owner)
    row = VoiceConditioning.objects.create(voice=voice, engine="toyb")
    engine_conditioning_store(
        row=row, conditioning=Conditioning("toyb", "1", {}, fake_conditioning(1).arrays)
    )
    row.refresh_from_db()
    name = row.conditioning.name
    assert default_storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        services.voice_delete(user=owner, voice=voice)
    assert not default_storage.exists(name)


def test_the_sweeper_resends_and_expires_further_engine_builds(
    owner, settings, django_capture_on_commit_callbacks
):
    voice = toy_voice(owner)
    now = timezone.now()
    never_sent = VoiceConditioning.objects.create(voice=voice, engine="toyb")
    VoiceConditioning.objects.filter(pk=never_sent.pk).update(updated_at=now - timedelta(minutes=1))
    fresh = VoiceConditioning.objects.create(voice=toy_voice(owner, "Fresh"), engine="toyb")
    with django_capture_on_commit_callbacks(execute=True) as sends:
        counts = engine_builds_sweep(now)
    assert counts == {"sent": 1, "expired": 0}  # the fresh one is left to its own send
    assert len(sends) == 1
    never_sent.refresh_from_db()
    fresh.refresh_from_db()
    assert never_sent.dispatched_at is not None and fresh.dispatched_at is None

    later = now + timedelta(seconds=settings.VOICE_BUILD_MAX_SECONDS + 60)
    assert engine_builds_sweep(later)["expired"] == 2
    never_sent.refresh_from_db()
    assert never_sent.status == "failed"
    assert "could not be built in time" in never_sent.failure_reason
    assert AuditEvent.objects.filter(action="voices.voice.engine_build_failed").count() == 2
    assert voice.status == "ready"  # the voice itself still speaks with its main engine


def test_model_not_available_is_a_400():
    assert http_status("model_not_available") == 400
    assert http_status("engine_already_added") == 409


def test_the_voice_page_lists_its_models_and_adds_one(owner, client):
    voice = toy_voice(owner)
    client.force_login(owner)
    page = client.get(f"/voices/{voice.code}/").content.decode()
    assert 'data-testid="voice-models"' in page and 'data-testid="engine-add"' in page
    assert 'value="toyb"' in page and "test only" in page
    response = client.post(f"/voices/{voice.code}/engines/", {"engine": "toyb"})
    assert response.status_code == 302
    assert voice.conditionings.get().engine == "toyb"
    page = client.get(f"/voices/{voice.code}/").content.decode()
    assert 'data-engine="toyb"' in page


def test_service_errors_name_codes(owner):
    voice = toy_voice(owner)
    with pytest.raises(ServiceError) as caught:
        services.voice_engine_add(user=owner, voice=voice, engine="xtts-v2-nope")
    assert caught.value.code == "unsupported_engine"
