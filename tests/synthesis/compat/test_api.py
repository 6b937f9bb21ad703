"""The /v1/ compatibility APIs without a worker: refusals, ownership, auth, shapes, relaying.

The audio relay is exercised with a stand-in for the worker's stream; the real worker and the
official SDKs are in test_compat_openai.py and test_compat_elevenlabs.py.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.core.files.base import ContentFile

from accounts import services as account_services
from accounts.selectors import plan_for_user
from audit.models import AuditEvent
from synthesis.engines import engines
from synthesis.jobs import services as synthesis_services
from synthesis.jobs import streaming
from synthesis.jobs.streaming import StreamFailed, StreamTimeout
from synthesis.models import SynthesisJob
from tests.synthesis.compat.support import api_key, bearer_client, xi_client
from tests.voices.helpers import make_ready_voice, make_stock_voice
from voices.models import Sample, Voice

pytestmark = pytest.mark.django_db

SPEECH = "/v1/audio/speech"
GOOD_SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "Anna"}
OCTET = {"HTTP_ACCEPT": "application/octet-stream"}  # what the openai SDK sends


@pytest.fixture
def voice(owner):
    return make_ready_voice(owner, "Anna", language="en")


@pytest.fixture
def tts(owner):
    return bearer_client(api_key(owner, "tts"))


def error_of(response) -> dict:
    error = response.json()["error"]
    assert error["message"], error
    return error


@pytest.fixture
def fake_stream(monkeypatch):
    """Replace the worker's stream with given pieces (or an exception) and record the call."""
    calls = []

    def install(*pieces, error=None):
        def stream(code, **kwargs):
            calls.append({"code": code, **kwargs})
            yield from pieces
            if error is not None:
                raise error

        monkeypatch.setattr(streaming, "stream_encoded", stream)
        return calls

    return install


# --- OpenAI: refusals ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"input": ""}, 400, "empty_text"),
        ({"input": "   \n "}, 400, "empty_text"),
        ({"voice": "Nobody"}, 404, "voice_not_found"),
        ({"voice": {"id": "6f1c1f8e-2b1a-4bfb-9a51-000000000000"}}, 404, "voice_not_found"),
        ({"voice": {"name": "Anna"}}, 400, "invalid_voice"),
        ({"model": "tts-9"}, 400, "unsupported_model"),
        ({"response_format": "ogg"}, 400, "unsupported_format"),
        ({"speed": 4.5}, 400, "invalid_speed"),
        ({"speed": 0.1}, 400, "invalid_speed"),
        ({"speed": "fast"}, 400, "invalid_speed"),
        ({"stream_format": "chunks"}, 400, "invalid_request"),
    ],
)
def test_speech_refusals_are_clear_4xx_and_queue_nothing(tts, voice, change, status, code):
    response = tts.post(SPEECH, {**GOOD_SPEECH, **change}, format="json", **OCTET)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == code
    assert not SynthesisJob.objects.exists()


def test_speech_messages_name_the_problem(tts, voice):
    bad_model = tts.post(SPEECH, {**GOOD_SPEECH, "model": "tts-9"}, format="json", **OCTET)
    assert "tts-9" in error_of(bad_model)["message"] and "xtts-v2" in error_of(bad_model)["message"]
    slow = tts.post(SPEECH, {**GOOD_SPEECH, "speed": 9}, format="json", **OCTET)
    assert "0.25" in error_of(slow)["message"] and "4.0" in error_of(slow)["message"]
    missing = tts.post(SPEECH, {"model": "tts-1", "voice": "Anna"}, format="json", **OCTET)
    assert error_of(missing)["message"].startswith("input:")


def test_malformed_json_is_400(tts, voice):
    response = tts.post(SPEECH, data="{nope", content_type="application/json", **OCTET)
    assert response.status_code == 400
    assert error_of(response)["code"] == "malformed_request"


def test_voice_not_ready_is_409(tts, owner):
    Voice.objects.create(owner=owner, name="Anna", status=Voice.Status.BUILDING)
    response = tts.post(SPEECH, GOOD_SPEECH, format="json", **OCTET)
    assert response.status_code == 409
    assert error_of(response)["code"] == "voice_not_ready"


def test_strangers_voice_is_404_by_name_and_by_id(stranger, voice):
    client = bearer_client(api_key(stranger, "tts"))
    by_name = client.post(SPEECH, GOOD_SPEECH, format="json", **OCTET)
    by_id = client.post(SPEECH, {**GOOD_SPEECH, "voice": str(voice.code)}, format="json", **OCTET)
    assert (by_name.status_code, by_id.status_code) == (404, 404)
    assert error_of(by_name)["code"] == error_of(by_id)["code"] == "voice_not_found"


@pytest.mark.parametrize(
    ("credentials", "status", "code"),
    [
        ({}, 401, "not_authenticated"),
        ({"HTTP_AUTHORIZATION": "Bearer not-a-key"}, 401, "authentication_failed"),
        ({"HTTP_XI_API_KEY": "not-a-key"}, 401, "authentication_failed"),
    ],
)
def test_missing_or_wrong_key_is_401(api_client, voice, credentials, status, code):
    response = api_client.post(SPEECH, GOOD_SPEECH, format="json", **credentials, **OCTET)
    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_key_without_tts_scope_is_403(owner, voice):
    client = bearer_client(api_key(owner, "voices:read", "history:read"))
    response = client.post(SPEECH, GOOD_SPEECH, format="json", **OCTET)
    assert response.status_code == 403
    assert "tts" in error_of(response)["message"]
    eleven = xi_client(api_key(owner, "voices:read"))
    response = eleven.post(f"/v1/text-to-speech/{voice.code}", {"text": "Hi."}, format="json")
    assert response.status_code == 403


def test_session_user_may_speak(owner_client, voice, fake_stream):
    fake_stream(b"ID3", b"more")
    response = owner_client.post(SPEECH, GOOD_SPEECH, format="json")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"ID3more"


# --- OpenAI: the relay --------------------------------------------------------------------------
def test_speech_relays_the_stream_job(owner, tts, voice, fake_stream, settings):
    settings.SYNTHESIS_DEFAULT_PARAMS = {"max_new_tokens": 9, "temperature": 0.5}
    calls = fake_stream(b"RIFF", b"data1", b"data2")
    body = {**GOOD_SPEECH, "voice": "aNNa", "response_format": "wav", "speed": 1.5}
    response = tts.post(SPEECH, body, format="json", **OCTET)
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    assert response["Cache-Control"] == "no-store"
    assert b"".join(response.streaming_content) == b"RIFFdata1data2"
    job = SynthesisJob.objects.get()
    assert response["X-Synthesis-Job"] == str(job.code) == calls[0]["code"]
    assert response["character-cost"] == str(len("Hello there."))
    assert (job.stream, job.output_format, job.sample_rate, job.owner) == (
        True,
        "wav",
        24_000,
        owner,
    )
    # Request values over the site's defaults.
    assert (job.params["speed"], job.params["max_new_tokens"], job.params["temperature"]) == (
        1.5,
        9,
        0.5,
    )
    assert (calls[0]["sample_rate_in"], calls[0]["sample_rate_out"]) == (24_000, 24_000)
    event = AuditEvent.objects.get(action="synthesis.job.requested")
    assert (event.actor_type, event.actor_user) == (AuditEvent.ActorType.API_KEY, owner)
    assert event.api_key_id


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("mp3", "audio/mpeg"), ("opus", "audio/opus"), ("aac", "audio/aac"), ("pcm", "audio/pcm")],
)
def test_speech_content_types_are_openais(tts, voice, fake_stream, fmt, content_type):
    fake_stream(b"x")
    response = tts.post(SPEECH, {**GOOD_SPEECH, "response_format": fmt}, format="json", **OCTET)
    assert response["Content-Type"] == content_type


def test_voice_by_id_object_wins_and_own_voice_beats_stock(tts, owner, voice, fake_stream):
    make_stock_voice(name="Anna", stock_id="piper:anna")
    fake_stream(b"x")
    response = tts.post(SPEECH, {**GOOD_SPEECH, "voice": "anna"}, format="json", **OCTET)
    assert response.status_code == 200
    assert SynthesisJob.objects.get().voice == voice
    other = make_ready_voice(owner, "Bert")
    response = tts.post(SPEECH, {**GOOD_SPEECH, "voice": {"id": str(other.code)}}, format="json")
    assert response.status_code == 200
    assert SynthesisJob.objects.order_by("-id").first().voice == other


def test_sse_events_carry_base64_audio_then_done(tts, voice, fake_stream):
    fake_stream(b"one", b"two")
    body = {**GOOD_SPEECH, "stream_format": "sse", "response_format": "pcm"}
    response = tts.post(SPEECH, body, format="json", **OCTET)
    assert response["Content-Type"] == "text/event-stream"
    text = b"".join(response.streaming_content).decode()
    events = [json.loads(line[6:]) for line in text.split("\n\n") if line.startswith("data: ")]
    assert [e["type"] for e in events] == [
        "speech.audio.delta",
        "speech.audio.delta",
        "speech.audio.done",
    ]
    assert b"".join(base64.b64decode(e["audio"]) for e in events[:2]) == b"onetwo"
    assert events[-1]["usage"]["input_tokens"] == len("Hello there.")


def test_sse_reports_a_failure_after_audio_began(tts, voice, monkeypatch):
    def stream(code, **kwargs):
        yield b"one"
        # What the worker does: fail the job with a reason, then end the stream with it.
        SynthesisJob.objects.filter(code=code).update(status="failed", error="It fell over.")
        raise StreamFailed("It fell over.")

    monkeypatch.setattr(streaming, "stream_encoded", stream)
    body = {**GOOD_SPEECH, "stream_format": "sse"}
    text = b"".join(tts.post(SPEECH, body, format="json").streaming_content).decode()
    events = [json.loads(chunk[6:]) for chunk in text.strip().split("\n\n")]
    assert [e["type"] for e in events] == ["speech.audio.delta", "error"]
    assert events[-1]["error"] == {"code": "synthesis_failed", "message": "It fell over."}


def test_failure_before_audio_is_a_json_error_without_retry(tts, voice, fake_stream):
    fake_stream(error=StreamFailed("The request could not be synthesized: bad text"))
    response = tts.post(SPEECH, GOOD_SPEECH, format="json", **OCTET)
    assert response.status_code == 502
    assert response["x-should-retry"] == "false"
    assert error_of(response) == {
        "code": "synthesis_failed",
        "message": "The request could not be synthesized: bad text",
        "details": {},
    }


def test_no_worker_is_503_naming_the_fix_and_cancels_the_job(tts, voice, fake_stream):
    fake_stream(error=StreamTimeout())
    response = tts.post(SPEECH, GOOD_SPEECH, format="json", **OCTET)
    assert response.status_code == 503
    error = error_of(response)
    assert error["code"] == "synthesis_unavailable" and "celery" in error["message"]
    assert SynthesisJob.objects.get().status == SynthesisJob.Status.CANCELLED


def test_sse_failure_before_audio_is_a_json_error(tts, voice, fake_stream):
    fake_stream(error=StreamFailed("Nope."))
    body = {**GOOD_SPEECH, "stream_format": "sse"}
    response = tts.post(SPEECH, body, format="json", **OCTET)
    assert (response.status_code, response["x-should-retry"]) == (502, "false")
    assert error_of(response)["message"] == "Nope."


def test_text_longer_than_a_stream_takes_is_refused(tts, voice, settings):
    settings.SYNTHESIS_STREAM_MAX_CHARACTERS = 20
    body = {**GOOD_SPEECH, "input": "x" * 21}
    response = tts.post(SPEECH, body, format="json", **OCTET)
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "text_too_long" and "/api/v1/synthesis" in error["message"]


# --- OpenAI: lists ------------------------------------------------------------------------------
def test_audio_voices_lists_own_and_stock_not_strangers(owner, stranger, voice):
    stock = make_stock_voice()
    make_ready_voice(stranger, "Hidden")
    client = bearer_client(api_key(owner, "tts"))
    body = client.get("/v1/audio/voices").json()
    assert body["object"] == "list"
    assert {v["name"] for v in body["data"]} == {"Anna", stock.name}
    anna = next(v for v in body["data"] if v["name"] == "Anna")
    assert anna == {
        "id": str(voice.code),
        "object": "audio.voice",
        "name": "Anna",
        "created_at": int(voice.created_at.timestamp()),
        "type": "audio_sample",
        "status": "ready",
        "is_stock": False,
        "language": "en",
        "engine": "xtts",
    }
    assert xi_client(api_key(owner, "history:read")).get("/v1/audio/voices").status_code == 403


def test_models_list_in_each_clients_shape(owner):
    secret = api_key(owner, "tts")
    openai_shape = bearer_client(secret).get("/v1/models").json()
    assert openai_shape["object"] == "list"
    ids = {m["id"] for m in openai_shape["data"]}
    # The OpenAI aliases (synthesis.ModelAlias), then one model per installed engine (its
    # facts), the toy included.
    openai_names = {"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"}
    assert {*openai_names, "xtts-v2", "piper", "toy-1"} <= ids
    assert ids == {*openai_names, *(facts.model_id for facts in engines().values())}
    assert all(
        m["object"] == "model" and isinstance(m["created"], int) for m in openai_shape["data"]
    )
    eleven_shape = xi_client(secret).get("/v1/models").json()
    assert isinstance(eleven_shape, list)
    assert {"xtts-v2", "eleven_multilingual_v2"} <= {m["model_id"] for m in eleven_shape}


# --- ElevenLabs: text to speech -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("ulaw_16000", "unsupported_format"),  # G.711 is 8 kHz only (test_formats_http.py)
        ("mp3", "unsupported_format"),
        ("mp3_44100_999", "unsupported_format"),
        ("mp3_1000_32", "unsupported_format"),
        ("opus_44100_64", "unsupported_format"),
        ("pcm_16000_64", "unsupported_format"),
    ],
)
def test_tts_bad_output_formats(owner, voice, query, code):
    client = xi_client(api_key(owner, "tts"))
    url = f"/v1/text-to-speech/{voice.code}?output_format={query}"
    response = client.post(url, {"text": "Hi."}, format="json")
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == code
    assert not SynthesisJob.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": ""}, 400, "empty_text"),
        ({}, 400, "invalid_request"),
        ({"text": "Hi.", "model_id": "gpt-4o"}, 400, "unsupported_model"),
        ({"text": "Hi.", "voice_settings": {"speed": 7}}, 400, "invalid_speed"),
        ({"text": "Hi.", "seed": -1}, 400, "invalid_seed"),
        ({"text": "Hi.", "language_code": "xx"}, 400, "unsupported_language"),
    ],
)
def test_tts_refusals(owner, voice, body, status, code):
    client = xi_client(api_key(owner, "tts"))
    response = client.post(f"/v1/text-to-speech/{voice.code}", body, format="json")
    assert response.status_code == status, response.content
    assert error_of(response)["code"] == code


@pytest.mark.parametrize("path", ["/v1/text-to-speech/{}", "/v1/text-to-speech/{}/stream"])
def test_tts_unknown_or_strangers_voice_is_404(stranger, voice, path):
    client = xi_client(api_key(stranger, "tts"))
    for voice_id in (voice.code, "not-a-uuid", "6f1c1f8e-2b1a-4bfb-9a51-000000000000"):
        response = client.post(path.format(voice_id), {"text": "Hi."}, format="json")
        assert response.status_code == 404
        assert error_of(response)["code"] == "voice_not_found"


def test_tts_parses_output_format_and_settings(owner, voice, fake_stream):
    calls = fake_stream(b"\xff\xfb", b"frames")
    client = xi_client(api_key(owner, "tts"))
    body = {
        "text": "Hello.",
        "model_id": "eleven_multilingual_v2",
        "voice_settings": {"stability": 0.3, "similarity_boost": 0.8, "speed": 1.2},
        "seed": 42,
        "previous_text": "Before.",
        "next_text": "After.",
        "language_code": "de",
    }
    url = f"/v1/text-to-speech/{voice.code}/stream?output_format=mp3_22050_32"
    response = client.post(url, body, format="json")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "audio/mpeg"
    assert b"".join(response.streaming_content) == b"\xff\xfbframes"
    job = SynthesisJob.objects.get()
    assert response["history-item-id"] == str(job.code)
    assert response["character-cost"] == "6"
    assert (job.output_format, job.sample_rate, job.language) == ("mp3", 22_050, "de")
    assert (job.params["speed"], job.params["seed"]) == (1.2, 42)
    assert job.text == "Hello."  # previous_text / next_text are not spoken
    assert (calls[0]["fmt"], calls[0]["sample_rate_out"], calls[0]["bitrate"]) == (
        "mp3",
        22_050,
        32_000,
    )


def test_tts_pcm_of_a_stock_voice_resamples_from_piper_rate(owner, fake_stream):
    stock = make_stock_voice()
    calls = fake_stream(b"\x00\x00")
    client = xi_client(api_key(owner, "tts"))
    url = f"/v1/text-to-speech/{stock.code}?output_format=pcm_16000"
    assert client.post(url, {"text": "Hi."}, format="json").status_code == 200
    assert (calls[0]["sample_rate_in"], calls[0]["sample_rate_out"]) == (22_050, 16_000)


# --- ElevenLabs: voices -------------------------------------------------------------------------
def test_voices_list_and_get_in_sdk_shapes(owner, stranger, voice, django_assert_max_num_queries):
    from elevenlabs.types import GetVoicesResponse
    from elevenlabs.types import Voice as ElevenVoice

    stock = make_stock_voice()
    make_ready_voice(stranger, "Hidden")
    for n in range(3):
        make_ready_voice(owner, f"More {n}")
    client = xi_client(api_key(owner, "voices:read"))
    with django_assert_max_num_queries(8):
        body = client.get("/v1/voices").json()
    parsed = GetVoicesResponse.model_validate(body)  # strict pydantic validation, not construct
    assert {v.name for v in parsed.voices} == {"Anna", "More 0", "More 1", "More 2", stock.name}
    anna = next(v for v in parsed.voices if v.name == "Anna")
    assert (anna.voice_id, anna.category, anna.is_owner) == (str(voice.code), "cloned", True)
    assert anna.samples and anna.samples[0].mime_type == "audio/wav"
    premade = next(v for v in parsed.voices if v.voice_id == str(stock.code))
    assert (premade.category, premade.is_owner, premade.samples) == ("premade", False, None)
    single = client.get(f"/v1/voices/{voice.code}").json()
    assert ElevenVoice.model_validate(single).voice_id == str(voice.code)


def test_voice_get_and_delete_of_a_strangers_voice_is_404(owner, stranger, voice):
    client = xi_client(api_key(stranger, "voices:read", "voices:write"))
    assert client.get(f"/v1/voices/{voice.code}").status_code == 404
    assert client.delete(f"/v1/voices/{voice.code}").status_code == 404
    assert Voice.objects.filter(pk=voice.pk).exists()


def test_voice_delete_needs_write_scope_and_stock_is_readonly(owner, voice):
    reader = xi_client(api_key(owner, "voices:read"))
    assert reader.delete(f"/v1/voices/{voice.code}").status_code == 403
    writer = xi_client(api_key(owner, "voices:write"))
    stock = make_stock_voice()
    response = writer.delete(f"/v1/voices/{stock.code}")
    assert response.status_code == 403
    assert error_of(response)["code"] == "stock_voice_readonly"
    response = writer.delete(f"/v1/voices/{voice.code}")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert not Voice.objects.filter(pk=voice.pk).exists()
    assert AuditEvent.objects.filter(action="voices.voice.deleted").exists()


def _wav_upload(name="take.wav"):
    from tests.voices.helpers import wav_bytes

    return ContentFile(wav_bytes(seconds=2.0), name=name)


def test_voice_add_waits_for_the_consent_recording(owner, settings):
    """The voice is kept, waiting; the answer is an error naming where to record the consent,
    not a voice that cannot speak yet (issue 13)."""
    settings.VOICES_CONSENT_RECORDING_REQUIRED = True
    client = xi_client(api_key(owner, "voices:write"))
    body = {
        "name": "Mine",
        "files": [_wav_upload("a.wav"), _wav_upload("b.wav")],
        "description": "My voice",
        "labels": json.dumps({"accent": "british", "language": "en"}),
    }
    response = client.post("/v1/voices/add", body, format="multipart")
    assert response.status_code == 403, response.content
    error = error_of(response)
    assert error["code"] == response.json()["detail"]["status"] == "consent_required"
    answer = error["details"]
    assert answer["consent_url"] in error["message"] == response.json()["detail"]["message"]
    assert answer["consent_url"].startswith("http://testserver/voices/")
    voice = Voice.objects.get(code=answer["voice_id"])
    assert (voice.status, voice.language, voice.labels) == (
        Voice.Status.PENDING_CONSENT,
        "en",
        {"accent": "british", "language": "en"},
    )
    assert voice.samples.count() == 2
    consent = voice.owner.voice_consents.get()
    assert consent.attested_at and consent.voice is None  # attested; recorded later
    assert answer["consent_id"] == str(consent.code)
    assert consent.phrase in answer["statement"]
    assert answer["consent_url"].endswith(f"/voices/{voice.code}/")
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"voices.consent.attested", "voices.voice.created", "voices.sample.uploaded"} <= actions


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "X"}, "files_required"),
        ({"files": [None]}, "invalid_name"),
        ({"name": "X", "labels": "[1, 2]"}, "invalid_labels"),
        ({"name": "X", "labels": "{oops"}, "invalid_labels"),
        ({"name": "X", "labels": json.dumps({"age": 3})}, "invalid_labels"),
    ],
)
def test_voice_add_refusals(owner, body, code):
    client = xi_client(api_key(owner, "voices:write"))
    files = {} if "files" in body or code == "files_required" else {"files": [_wav_upload()]}
    payload = {k: v for k, v in body.items() if k != "files"} | files
    response = client.post("/v1/voices/add", payload, format="multipart")
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == code
    assert not Voice.objects.exists()


def test_voice_add_refuses_a_taken_name_or_full_plan_before_storing_uploads(owner, voice):
    client = xi_client(api_key(owner, "voices:write"))
    taken = client.post("/v1/voices/add", {"name": "Anna", "files": [_wav_upload()]})
    assert (taken.status_code, error_of(taken)["code"]) == (400, "voice_name_taken")
    plan = plan_for_user(owner)
    plan.voice_slots = 1
    plan.save()
    full = client.post("/v1/voices/add", {"name": "Bea", "files": [_wav_upload()]})
    assert (full.status_code, error_of(full)["code"]) == (400, "voice_slots_exhausted")
    assert Sample.objects.filter(voice__isnull=True).count() == 0


def test_voice_add_needs_write_scope(owner):
    client = xi_client(api_key(owner, "voices:read"))
    body = {"name": "X", "files": [_wav_upload()]}
    assert client.post("/v1/voices/add", body, format="multipart").status_code == 403


# --- ElevenLabs: history and subscription -------------------------------------------------------
def _finished_job(owner, voice, *, text="Done.", status=SynthesisJob.Status.SUCCEEDED):
    job = SynthesisJob.objects.create(
        owner=owner,
        voice=voice,
        text=text,
        characters=len(text),
        output_format="mp3",
        status=status,
    )
    if status == SynthesisJob.Status.SUCCEEDED:
        job.audio.save("audio.mp3", ContentFile(b"ID3-fake-mp3"), save=True)
    return job


def test_history_pages_newest_first_and_only_own(owner, stranger, voice):
    from elevenlabs.types import GetSpeechHistoryResponse

    jobs = [_finished_job(owner, voice, text=f"Item {n}.") for n in range(5)]
    _finished_job(stranger, make_ready_voice(stranger, "Hidden"))
    client = xi_client(api_key(owner, "history:read"))
    first = GetSpeechHistoryResponse.model_validate(client.get("/v1/history?page_size=2").json())
    assert [i.text for i in first.history] == ["Item 4.", "Item 3."]
    assert first.has_more and first.last_history_item_id == str(jobs[3].code)
    rest = client.get(f"/v1/history?page_size=10&start_after_history_item_id={jobs[3].code}")
    rest = GetSpeechHistoryResponse.model_validate(rest.json())
    assert [i.text for i in rest.history] == ["Item 2.", "Item 1.", "Item 0."]
    assert not rest.has_more
    item = rest.history[0]
    assert (item.voice_id, item.voice_name, item.state, item.content_type) == (
        str(voice.code),
        "Anna",
        "created",
        "audio/mpeg",
    )
    assert client.get("/v1/history?page_size=0").status_code == 400
    assert client.get("/v1/history?voice_id=nope").status_code == 400


def test_history_item_and_audio_are_owner_only(owner, stranger, voice):
    job = _finished_job(owner, voice)
    running = _finished_job(owner, voice, status=SynthesisJob.Status.RUNNING)
    mine = xi_client(api_key(owner, "history:read"))
    assert mine.get(f"/v1/history/{job.code}").json()["history_item_id"] == str(job.code)
    audio = mine.get(f"/v1/history/{job.code}/audio")
    assert (audio.status_code, audio["Content-Type"]) == (200, "audio/mpeg")
    assert b"".join(audio.streaming_content) == b"ID3-fake-mp3"
    busy = mine.get(f"/v1/history/{running.code}/audio")
    assert busy.status_code == 409 and error_of(busy)["code"] == "audio_not_ready"
    ranged = mine.get(f"/v1/history/{job.code}/audio", HTTP_RANGE="bytes=0-2")
    assert ranged.status_code == 206 and b"".join(ranged.streaming_content) == b"ID3"
    theirs = xi_client(api_key(stranger, "history:read"))
    for path in (f"/v1/history/{job.code}", f"/v1/history/{job.code}/audio", "/v1/history/x"):
        assert theirs.get(path).status_code == 404
    assert xi_client(api_key(owner, "tts")).get("/v1/history").status_code == 403


def test_subscription_counts_this_months_characters_and_voice_slots(owner, voice):
    from elevenlabs.types import Subscription

    kept = synthesis_services.job_create(owner=owner, voice=voice, text="x" * 40)
    refunded = synthesis_services.job_create(owner=owner, voice=voice, text="y" * 7)
    synthesis_services.job_cancel(job=refunded, user=owner)
    client = xi_client(api_key(owner, "usage:read"))
    body = client.get("/v1/user/subscription").json()
    parsed = Subscription.model_validate(body)  # strict pydantic validation, not construct
    plan = plan_for_user(owner)
    assert parsed.character_count == kept.characters == 40
    assert parsed.character_limit == plan.monthly_characters
    assert (parsed.voice_slots_used, parsed.voice_limit) == (1, plan.voice_slots)
    assert parsed.next_character_count_reset_unix > int(voice.created_at.timestamp())
    assert xi_client(api_key(owner, "tts")).get("/v1/user/subscription").status_code == 403


# --- every /v1/ endpoint by role ----------------------------------------------------------------
# (method, path, scopes that may use it); {voice} and {job} are the owner's.
ENDPOINTS = [
    ("post", "/v1/audio/speech", ("tts",)),
    ("get", "/v1/audio/voices", ("tts", "voices:read")),
    ("get", "/v1/models", ()),
    ("post", "/v1/text-to-speech/{voice}", ("tts",)),
    ("post", "/v1/text-to-speech/{voice}/stream", ("tts",)),
    ("get", "/v1/voices", ("voices:read",)),
    ("get", "/v1/voices/{voice}", ("voices:read",)),
    ("delete", "/v1/voices/{voice}", ("voices:write",)),
    ("post", "/v1/voices/add", ("voices:write",)),
    ("get", "/v1/history", ("history:read",)),
    ("get", "/v1/history/{job}", ("history:read",)),
    ("get", "/v1/history/{job}/audio", ("history:read",)),
    ("get", "/v1/user/subscription", ("usage:read",)),
]
ALL_SCOPES = ("tts", "voices:read", "voices:write", "history:read", "usage:read")


@pytest.fixture
def owned(owner, voice):
    return {"voice": voice.code, "job": _finished_job(owner, voice).code}


def _call(client, method, path, owned):
    body = {"text": "Hi."} if "text-to-speech" in path else {}
    return getattr(client, method)(path.format(**owned), body, format="json")


@pytest.mark.parametrize(("method", "path", "scopes"), ENDPOINTS, ids=lambda e: str(e))
def test_anonymous_and_revoked_keys_get_401(api_client, owner, owned, method, path, scopes):
    assert _call(api_client, method, path, owned).status_code == 401
    key, secret = account_services.api_key_create(user=owner, name="old", scopes=["all"])
    account_services.api_key_revoke(user=owner, key=key)
    assert _call(xi_client(secret), method, path, owned).status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "scopes"), [e for e in ENDPOINTS if e[2]], ids=lambda e: str(e)
)
def test_a_key_without_the_scope_gets_403(owner, owned, method, path, scopes):
    other = next(scope for scope in ALL_SCOPES if scope not in scopes)
    response = _call(bearer_client(api_key(owner, other)), method, path, owned)
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("method", "path", "scopes"), [e for e in ENDPOINTS if "{" in e[1]], ids=lambda e: str(e)
)
def test_another_user_gets_404_for_the_owners_objects(stranger, owned, method, path, scopes):
    response = _call(xi_client(api_key(stranger, "all")), method, path, owned)
    assert response.status_code == 404
    assert Voice.objects.filter(code=owned["voice"]).exists()


@pytest.mark.django_db
def test_each_surface_shapes_a_service_refusal_for_its_clients(owner):
    """One ServiceError (voice_not_ready, 409 by config.service_errors), three answers: the
    native shape, OpenAI's {"error": {message, type, param, code}} and ElevenLabs' "detail"."""
    voice = make_ready_voice(owner, "Pending")
    Voice.objects.filter(pk=voice.pk).update(status=Voice.Status.BUILDING)
    client = bearer_client(api_key(owner, "all"))
    native = client.post(
        "/api/v1/synthesis", {"voice": str(voice.code), "text": "Hi."}, format="json"
    )
    openai = client.post(
        SPEECH, {"model": "tts-1", "voice": "Pending", "input": "Hi."}, format="json"
    )
    eleven = client.post(f"/v1/text-to-speech/{voice.code}", {"text": "Hi."}, format="json")
    assert native.status_code == openai.status_code == eleven.status_code == 409
    assert native.json()["error"]["code"] == "voice_not_ready"
    assert "type" not in native.json()["error"]
    assert openai.json()["error"]["type"] == "invalid_request_error"
    assert openai.json()["error"]["param"] is None
    assert openai.json()["error"]["code"] == "voice_not_ready"
    assert eleven.json()["detail"]["status"] == "voice_not_ready"
    assert eleven.json()["detail"]["message"] == eleven.json()["error"]["message"]
