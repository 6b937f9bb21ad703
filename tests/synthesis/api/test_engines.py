"""GET /api/v1/engines: every installed engine's declared facts, and whether it is loaded."""

import pytest

from synthesis.models import EngineStatusRecord
from tests.synthesis.compat.support import api_key, bearer_client


@pytest.mark.django_db
def test_engines_are_listed_from_their_facts_with_readiness(owner):
    EngineStatusRecord.objects.create(
        hostname="w1", engine="piper", model_version="1.8", device="cpu", ready=True
    )
    client = bearer_client(api_key(owner, "voices:read"))
    body = {engine["name"]: engine for engine in client.get("/api/v1/engines").json()}
    # settings.TIMBRE_ENGINES, in order (the test settings add the two toy engines).
    assert list(body) == ["xtts", "chatterbox", "piper", "toy", "toyb"]
    xtts, piper, toy = body["xtts"], body["piper"], body["toy"]
    assert (xtts["clones"], xtts["commercial_use"], xtts["sample_rate"]) == (True, False, 24_000)
    assert "zh-cn" in xtts["languages"] and len(xtts["languages"]) == 17
    speed = next(p for p in xtts["parameters"] if p["name"] == "speed")
    assert (speed["minimum"], speed["maximum"], speed["default"]) == (0.25, 4.0, 1.0)
    assert piper["voice_language_only"] and piper["stock_voices"] and piper["ready"]
    assert not xtts["ready"] and xtts["reason"]  # no worker has reported it
    assert [p["name"] for p in toy["parameters"]] == ["speed", "pitch_hz"]
    assert toy["model_id"] == "toy-1" and toy["languages"] == ["eo", "en"]


@pytest.mark.django_db
def test_engines_need_the_voices_read_scope(owner):
    assert bearer_client(api_key(owner, "tts")).get("/api/v1/engines").status_code == 403
