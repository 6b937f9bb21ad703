"""Model names come from a table (synthesis.ModelAlias), edited in the admin (issue 13)."""

from __future__ import annotations

import pytest
from django.apps import apps as global_apps

from audit.models import AuditEvent
from synthesis.compat.aliases import aliases_reseed_if_empty
from synthesis.jobs import streaming
from synthesis.models import ModelAlias, SynthesisJob
from tests.factories import UserFactory
from tests.synthesis.compat.support import api_key, bearer_client, xi_client
from tests.voices.helpers import make_ready_voice, make_stock_voice

pytestmark = pytest.mark.django_db

SPEECH = "/v1/audio/speech"


@pytest.fixture
def voice(owner):
    return make_ready_voice(owner, "Anna", language="en")


@pytest.fixture
def no_worker_needed(monkeypatch):
    """The worker's stream, replaced: these tests are about which names are accepted."""

    def stream(code, **kwargs):
        yield b"audio"

    monkeypatch.setattr(streaming, "stream_encoded", stream)


def _speak(owner, model, voice_name="Anna"):
    body = {"model": model, "input": "Hello.", "voice": voice_name}
    return bearer_client(api_key(owner, "tts")).post(SPEECH, body, format="json")


def _convert(owner, voice, model_id):
    client = xi_client(api_key(owner, "tts"))
    url = f"/v1/text-to-speech/{voice.code}"
    return client.post(url, {"text": "Hello.", "model_id": model_id}, format="json")


def _openai_listed(owner) -> set[str]:
    data = bearer_client(api_key(owner, "tts")).get("/v1/models").json()["data"]
    return {m["id"] for m in data}


def _eleven_listed(owner) -> set[str]:
    return {m["model_id"] for m in xi_client(api_key(owner, "tts")).get("/v1/models").json()}


def test_the_migration_seeds_todays_vendor_names():
    seeded = dict(ModelAlias.objects.values_list("name", "surface"))
    assert {
        "tts-1": "openai",
        "tts-1-hd": "openai",
        "gpt-4o-mini-tts": "openai",
        "gpt-4o-mini-tts-2025-12-15": "openai",
        "eleven_multilingual_v2": "elevenlabs",
        "eleven_turbo_v2_5": "elevenlabs",
        "eleven_flash_v2_5": "elevenlabs",
        "eleven_monolingual_v1": "elevenlabs",
        "eleven_v3": "elevenlabs",
    }.items() <= seeded.items()
    assert not ModelAlias.objects.exclude(engine="").exists()  # all speak with the voice's own


def test_the_dated_openai_name_is_accepted(owner, voice, no_worker_needed):
    response = _speak(owner, "gpt-4o-mini-tts-2025-12-15")
    assert response.status_code == 200, response.content
    assert SynthesisJob.objects.count() == 1


@pytest.mark.parametrize("model_id", ["eleven_v3", "eleven_flash_v2_5", "xtts-v2"])
def test_elevenlabs_ids_from_the_table_or_an_engine_are_accepted(
    owner, voice, no_worker_needed, model_id
):
    assert _convert(owner, voice, model_id).status_code == 200


def test_names_outside_the_table_are_refused_naming_the_offered_ones(owner, voice):
    # Any eleven_* prefix used to pass; now only what the table lists.
    refused = _convert(owner, voice, "eleven_v9_imaginary")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == refused.json()["detail"]["status"] == "unsupported_model"
    assert "eleven_v9_imaginary" in error["message"] and "eleven_v3" in error["message"]
    # Each surface its own names: an OpenAI alias is not an ElevenLabs model_id, and back.
    assert _convert(owner, voice, "tts-1").status_code == 400
    assert _speak(owner, "eleven_v3").json()["error"]["code"] == "unsupported_model"
    assert not SynthesisJob.objects.exists()


def test_a_disabled_alias_is_refused_and_not_listed(owner, voice):
    ModelAlias.objects.filter(name__in=["tts-1", "eleven_v3"]).update(enabled=False)
    assert _speak(owner, "tts-1").json()["error"]["code"] == "unsupported_model"
    assert _convert(owner, voice, "eleven_v3").status_code == 400
    assert "tts-1" not in _openai_listed(owner) and "tts-1-hd" in _openai_listed(owner)
    assert "eleven_v3" not in _eleven_listed(owner)
    assert bearer_client(api_key(owner, "tts")).get("/v1/models/tts-1").status_code == 404


def test_an_operator_alias_for_both_surfaces_is_accepted_and_listed(owner, voice, no_worker_needed):
    ModelAlias.objects.create(name="house-voice", surface=ModelAlias.Surface.ANY)
    assert _speak(owner, "house-voice").status_code == 200
    assert _convert(owner, voice, "house-voice").status_code == 200
    assert "house-voice" in _openai_listed(owner) & _eleven_listed(owner)


def test_an_alias_tied_to_an_engine_selects_that_engine(owner, voice, no_worker_needed):
    # The model chooses the engine now (issue 14): a voice not built for it is refused with
    # model_not_available, naming the models it has; a voice built for it speaks with it.
    ModelAlias.objects.filter(name="tts-1").update(engine="piper")
    stock = make_stock_voice()  # a piper voice
    refused = _speak(owner, "tts-1")  # Anna is an xtts voice
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "model_not_available" and "piper" in error["message"]
    assert error["details"]["engine"] == "piper" and "xtts-v2" in error["message"]
    assert _speak(owner, "tts-1", voice_name=stock.name).status_code == 200
    assert SynthesisJob.objects.get().engine == "piper"


def test_admin_edits_are_audited(client):
    admin = UserFactory(is_staff=True, is_superuser=True, email="admin@example.com")
    client.force_login(admin)
    alias = ModelAlias.objects.get(name="tts-1-hd")
    form = {"name": "tts-1-hd", "surface": "openai", "engine": "xtts", "description": ""}
    response = client.post(f"/admin/synthesis/modelalias/{alias.pk}/change/", form)
    assert response.status_code == 302, response.content[-2000:]
    alias.refresh_from_db()
    assert (alias.engine, alias.enabled) == ("xtts", False)  # unticked box: disabled
    event = AuditEvent.objects.get(action="admin.synthesis.modelalias.changed")
    assert event.actor_user_id == admin.pk
    assert client.get("/admin/synthesis/modelalias/").status_code == 200
    page = client.get("/admin/synthesis/modelalias/add/")
    assert b"The default model" in page.content  # the engine is picked, not typed
    bad = client.post("/admin/synthesis/modelalias/add/", {**form, "name": "x", "engine": "nope"})
    assert bad.status_code == 200 and not ModelAlias.objects.filter(name="x").exists()


def test_a_flushed_table_gets_the_defaults_again_but_an_edited_one_is_kept():
    ModelAlias.objects.exclude(name="tts-1").delete()
    aliases_reseed_if_empty(sender=None, apps=global_apps)
    assert list(ModelAlias.objects.values_list("name", flat=True)) == ["tts-1"]
    ModelAlias.objects.all().delete()  # what a flush does
    aliases_reseed_if_empty(sender=None, apps=global_apps)
    assert ModelAlias.objects.filter(name="gpt-4o-mini-tts-2025-12-15").exists()
