"""OpenAI's models.retrieve (GET /v1/models/{model}), which was missing (issue 13)."""

from __future__ import annotations

import pytest
from openai.types import Model

from tests.synthesis.compat.support import api_key, bearer_client, openai_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["tts-1", "gpt-4o-mini-tts-2025-12-15", "xtts-v2"])
def test_retrieve_an_offered_model(owner, name):
    response = bearer_client(api_key(owner, "tts")).get(f"/v1/models/{name}")
    assert response.status_code == 200
    model = Model.model_validate(response.json())
    assert (model.id, model.object, model.owned_by) == (name, "model", "timbre")


@pytest.mark.parametrize("name", ["gpt-5", "eleven_multilingual_v2"])
def test_an_unknown_model_is_404_in_openais_shape(owner, name):
    response = bearer_client(api_key(owner, "tts")).get(f"/v1/models/{name}")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["code"], error["type"], error["param"]) == (
        "model_not_found",
        "not_found_error",
        None,
    )
    assert name in error["message"]


def test_retrieve_needs_a_key(api_client):
    assert api_client.get("/v1/models/tts-1").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_the_sdk_retrieves_models(live_server, owner):
    import openai

    client = openai_client(live_server, api_key(owner, "tts"))
    assert client.models.retrieve("tts-1-hd").id == "tts-1-hd"
    listed = {m.id for m in client.models.list()}
    assert "gpt-4o-mini-tts-2025-12-15" in listed and "eleven_v3" not in listed
    with pytest.raises(openai.NotFoundError) as failure:
        client.models.retrieve("whisper-1")
    assert failure.value.code == "model_not_found"
    assert "whisper-1" in failure.value.message
