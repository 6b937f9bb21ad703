"""The request chooses the engine as the model, on every surface, through one resolver
(synthesis.jobs.catalog.model_engine): native `model`, OpenAI `model`, ElevenLabs `model_id`.
No worker here: the stream relay is replaced, and what is checked is the job each request
makes (its engine) and the rate the relay is told the engine speaks at."""

from __future__ import annotations

import pytest

from accounts.models import Plan
from config.service_errors import ServiceError
from synthesis.jobs import catalog, streaming
from synthesis.models import ModelAlias, SynthesisJob
from tests.synthesis.compat.support import api_key, bearer_client, xi_client
from tests.synthesis.models_choice.helpers import voice_for_both_toys
from tests.voices.helpers import make_ready_voice

pytestmark = pytest.mark.django_db

SPEECH = "/v1/audio/speech"


@pytest.fixture
def relayed(monkeypatch):
    """The worker's stream, replaced; records the input rate each relay was given."""
    rates = []

    def stream(code, **kwargs):
        rates.append(kwargs["sample_rate_in"])
        yield b"audio"

    monkeypatch.setattr(streaming, "stream_encoded", stream)
    return rates


@pytest.fixture
def both(owner, settings):
    settings.TIMBRE_DEFAULT_MODEL = "toy"
    # Jobs here stay queued (no worker): a plan that runs enough of them at a time.
    owner.plan = Plan.objects.create(
        slug="many", name="Many", monthly_characters=100_000, concurrent_jobs=20
    )
    owner.save(update_fields=["plan"])
    return voice_for_both_toys(owner)


def _last_engine() -> str:
    return SynthesisJob.objects.order_by("-id").values_list("engine", flat=True).first()


# --- the resolver -------------------------------------------------------------------------------
def test_the_resolver_maps_names_ids_and_aliases(db):
    ModelAlias.objects.create(name="house-b", engine="toyb")
    native, openai = catalog.NATIVE, catalog.OPENAI
    assert catalog.model_engine("toy-b-1", surface=openai) == "toyb"  # model id
    assert catalog.model_engine("toyb", surface=openai) == "toyb"  # engine name
    assert catalog.model_engine("house-b", surface=openai) == "toyb"  # alias tied to it
    assert catalog.model_engine("tts-1", surface=openai) == ""  # alias of the default
    assert catalog.model_engine("eleven_v3", surface=native) == ""  # native: every alias
    assert catalog.model_engine(None, surface=openai) == catalog.model_engine("", surface=native)
    with pytest.raises(ServiceError) as unknown:
        catalog.model_engine("eleven_v3", surface=openai)
    assert unknown.value.code == "unsupported_model"
    assert "tts-1" in unknown.value.message and "toy-b-1" in unknown.value.message


# --- OpenAI -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "engine", "rate"),
    [
        ("toy-b-1", "toyb", 22_050),
        ("toy-1", "toy", 16_000),
        ("tts-1", "toy", 16_000),  # the default model (TIMBRE_DEFAULT_MODEL=toy)
        ("house-b", "toyb", 22_050),
    ],
)
def test_openai_model_chooses_the_engine(owner, both, relayed, model, engine, rate):
    ModelAlias.objects.create(name="house-b", engine="toyb", surface=ModelAlias.Surface.OPENAI)
    body = {"model": model, "input": "Hello.", "voice": "Both", "response_format": "pcm"}
    response = bearer_client(api_key(owner, "tts")).post(SPEECH, body, format="json")
    assert response.status_code == 200, response.content
    assert _last_engine() == engine
    assert relayed == [rate]  # resampled from the chosen engine's own rate


def test_the_default_follows_the_setting(owner, both, relayed, settings):
    settings.TIMBRE_DEFAULT_MODEL = "toy-b-1"
    body = {"model": "tts-1", "input": "Hello.", "voice": "Both"}
    assert bearer_client(api_key(owner, "tts")).post(SPEECH, body, format="json").status_code == 200
    assert _last_engine() == "toyb"


def test_a_voice_not_built_for_the_model_is_refused_clearly(owner, both, relayed):
    xtts_only = make_ready_voice(owner, "Xena", language="en")
    client = bearer_client(api_key(owner, "tts"))
    body = {"model": "toy-b-1", "input": "Hi.", "voice": "Xena"}
    refused = client.post(SPEECH, body, format="json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "model_not_available"
    assert "Xena" in error["message"] and "xtts-v2" in error["message"]
    assert error["type"] == "invalid_request_error"
    body = {"model": "gpt-9-tts", "input": "Hi.", "voice": "Both"}
    unknown = client.post(SPEECH, body, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unsupported_model"
    assert "toy-b-1" in unknown.json()["error"]["message"]
    assert not SynthesisJob.objects.exists() and xtts_only.engine == "xtts"


# --- ElevenLabs ---------------------------------------------------------------------------------
# The with-timestamps routes go through a real worker (test_sdk_models.py).
@pytest.mark.parametrize("route", ["", "/stream"])
def test_elevenlabs_model_id_chooses_the_engine_on_every_tts_route(owner, both, relayed, route):
    client = xi_client(api_key(owner, "tts"))
    url = f"/v1/text-to-speech/{both.code}{route}?output_format=pcm_16000"
    response = client.post(url, {"text": "Hello.", "model_id": "toy-b-1"}, format="json")
    assert response.status_code == 200, response.content
    if response.streaming:
        b"".join(response.streaming_content)
    assert _last_engine() == "toyb"
    default = client.post(url, {"text": "Hello.", "model_id": "eleven_v3"}, format="json")
    assert default.status_code == 200
    if default.streaming:
        b"".join(default.streaming_content)
    assert _last_engine() == "toy"
    refused = client.post(url, {"text": "Hi.", "model_id": "xtts-v2"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["detail"]["status"] == "model_not_available"


def test_elevenlabs_history_reports_the_model_that_spoke(owner, both, relayed):
    client = xi_client(api_key(owner, "tts", "history:read"))
    url = f"/v1/text-to-speech/{both.code}"
    b"".join(client.post(url, {"text": "Hi.", "model_id": "toy-b-1"}, format="json"))
    item = client.get("/v1/history").json()["history"][0]
    assert item["model_id"] == "toy-b-1"


# --- native -------------------------------------------------------------------------------------
def test_native_model_field_on_jobs_batches_and_streams(owner, both, relayed):
    client = bearer_client(api_key(owner, "tts", "history:read"))
    body = {"voice": str(both.code), "text": "Hello.", "format": "wav"}
    created = client.post("/api/v1/synthesis", {**body, "model": "toy-b-1"}, format="json")
    assert created.status_code == 202, created.content
    assert created.json()["engine"] == "toyb" and _last_engine() == "toyb"
    # Each engine checks its own parameters: buzz_hz is the second toy's only.
    wrong = client.post(
        "/api/v1/synthesis",
        {**body, "model": "toy-1", "parameters": {"buzz_hz": 500}},
        format="json",
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_parameters"
    batch = {
        "voice": str(both.code),
        "model": "toy-1",
        "items": [{"text": "One."}, {"text": "Two.", "model": "toy-b-1"}],
    }
    assert client.post("/api/v1/synthesis/batch", batch, format="json").status_code == 202
    engines = list(SynthesisJob.objects.filter(batch__isnull=False).order_by("id"))
    assert [job.engine for job in engines] == ["toy", "toyb"]
    stream = client.post("/api/v1/synthesis/stream", {**body, "model": "toyb"}, format="json")
    assert stream.status_code == 200, stream.content
    b"".join(stream.streaming_content)
    assert _last_engine() == "toyb" and relayed == [22_050]
    unknown = client.post("/api/v1/synthesis", {**body, "model": "nope"}, format="json")
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unsupported_model"
