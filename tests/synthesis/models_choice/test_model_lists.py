"""The model lists (issue 14): GET /api/v1/models, OpenAI's and ElevenLabs' GET /v1/models name
every model a client may send, with what each is: languages, parameters, licence, whether the
weights allow commercial use, whether a live worker has it loaded, and which is the default."""

from __future__ import annotations

import pytest
from django.utils import timezone

from synthesis.models import ModelAlias
from tests.synthesis.compat.support import api_key, bearer_client, xi_client
from tests.synthesis.models_choice.helpers import engine_loaded

pytestmark = pytest.mark.django_db

ENGINE_KEYS = {
    "model_id", "kind", "engine", "label", "alias_of", "languages", "sample_rate", "parameters",
    "clones", "stock_voices", "streams", "commercial_use", "licence", "loaded", "default",
}  # fmt: skip


def _native(owner) -> dict[str, dict]:
    response = bearer_client(api_key(owner, "tts")).get("/api/v1/models")
    assert response.status_code == 200, response.content
    return {entry["model_id"]: entry for entry in response.json()}


def test_native_list_describes_each_engine_and_alias(owner, settings):
    settings.TIMBRE_DEFAULT_MODEL = "toy-b-1"
    models = _native(owner)
    xtts, toyb = models["xtts-v2"], models["toy-b-1"]
    assert set(xtts) == ENGINE_KEYS
    assert (xtts["kind"], xtts["engine"], xtts["label"]) == ("engine", "xtts", "XTTS v2")
    assert xtts["commercial_use"] is False and "Coqui Public Model License" in xtts["licence"]
    assert "de" in xtts["languages"] and xtts["sample_rate"] == 24_000
    assert models["piper"]["commercial_use"] is True
    # Parameters with their declared ranges, as the request checks use them.
    buzz = next(p for p in toyb["parameters"] if p["name"] == "buzz_hz")
    assert (buzz["minimum"], buzz["maximum"], buzz["default"]) == (60.0, 3000.0, 300.0)
    assert [m for m, e in models.items() if e["default"]] == ["toy-b-1"]
    # Aliases (every surface's, on the native API) say what they map to.
    tts1 = models["tts-1"]
    assert (tts1["kind"], tts1["engine"], tts1["alias_of"]) == ("alias", "", "toy-b-1")
    assert tts1["languages"] == ["en", "fr"] and tts1["default"] is False
    assert "eleven_multilingual_v2" in models


def test_loaded_follows_a_live_workers_fresh_status(owner):
    assert not any(entry["loaded"] for entry in _native(owner).values())
    engine_loaded("toyb")
    engine_loaded("xtts", ready=False)  # a worker that could not load it
    models = _native(owner)
    assert models["toy-b-1"]["loaded"] is True and models["xtts-v2"]["loaded"] is False
    stale = engine_loaded("toyb")
    stale.heartbeat_at = timezone.now() - timezone.timedelta(hours=1)
    stale.save()
    assert _native(owner)["toy-b-1"]["loaded"] is False  # its worker stopped answering


def test_an_alias_tied_to_an_engine_maps_to_it_and_one_to_a_missing_engine_is_hidden(owner):
    ModelAlias.objects.create(name="house-b", engine="toyb", description="House voice model")
    ModelAlias.objects.create(name="gone", engine="not-installed")
    engine_loaded("toyb")
    models = _native(owner)
    house = models["house-b"]
    assert (house["engine"], house["alias_of"], house["label"]) == (
        "toyb",
        "toy-b-1",
        "House voice model",
    )
    assert house["loaded"] is True and house["sample_rate"] == 22_050
    assert "gone" not in models


def test_openai_list_keeps_its_shape_and_adds_timbres_keys(owner, settings):
    settings.TIMBRE_DEFAULT_MODEL = "toy"
    engine_loaded("toy")
    response = bearer_client(api_key(owner, "tts")).get("/v1/models")
    data = {m["id"]: m for m in response.json()["data"]}
    toy = data["toy-1"]
    assert (toy["object"], toy["owned_by"]) == ("model", "timbre")
    assert isinstance(toy["created"], int)
    assert toy["loaded"] is True and toy["default"] is True and toy["commercial_use"] is True
    assert data["xtts-v2"]["commercial_use"] is False and data["xtts-v2"]["loaded"] is False
    assert data["tts-1"]["alias_of"] == "toy-1"
    assert "eleven_v3" not in data  # each surface its own aliases
    detail = bearer_client(api_key(owner, "tts")).get("/v1/models/xtts-v2").json()
    assert detail["id"] == "xtts-v2" and detail["licence"] == data["xtts-v2"]["licence"]


def test_elevenlabs_list_keeps_its_shape_and_adds_timbres_description(owner):
    models = {m["model_id"]: m for m in xi_client(api_key(owner, "tts")).get("/v1/models").json()}
    toyb = models["toy-b-1"]
    assert toyb["can_do_text_to_speech"] is True
    assert toyb["languages"] == [
        {"language_id": "en", "name": "English"},
        {"language_id": "fr", "name": "French"},
    ]
    assert toyb["timbre"]["engine"] == "toyb" and toyb["timbre"]["commercial_use"] is True
    assert models["eleven_multilingual_v2"]["timbre"]["kind"] == "alias"
    assert "tts-1" not in models


def test_the_native_list_is_in_the_openapi_schema(owner_client):
    schema = owner_client.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/models" in text and "commercial_use" in text


def test_anonymous_gets_401(api_client):
    assert api_client.get("/api/v1/models").status_code == 401
