"""The official elevenlabs SDK against a live server: voices, history, subscription, refusals,
and text to speech from a real worker."""

# Fixtures imported from test_compat_support are redefined as test arguments, as pytest wants.
# ruff: noqa: F811

from __future__ import annotations

import io
import time

import pytest
import soundfile as sf
from django.core.files.base import ContentFile
from elevenlabs.core.api_error import ApiError as ElevenApiError

from accounts.usage import usage_reserve
from synthesis.models import SynthesisJob
from tests.synthesis.audio_helpers import ffprobe
from tests.synthesis.compat.support import (  # noqa: F401 (fixtures)
    TOKENS,
    api_key,
    built_voice,
    decoded_seconds,
    eleven_client,
    fixed_tokens,
    wait_for,
    wait_jobs_finished,
)
from tests.voices.helpers import make_ready_voice, make_stock_voice, wav_bytes
from voices.models import Consent, Voice

SECONDS_PER_CHUNK = TOKENS * 1024 / 22_050
ALL_SCOPES = ("tts", "voices:read", "voices:write", "history:read", "usage:read")


def _status(call) -> tuple[int, dict]:
    with pytest.raises(ElevenApiError) as failure:
        result = call()
        if hasattr(result, "__next__"):  # text to speech answers a generator of bytes
            b"".join(result)
    return failure.value.status_code, failure.value.body["error"]


# --- no worker needed ---------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_sdk_lists_gets_and_deletes_voices(live_server, owner, stranger):
    voice = make_ready_voice(owner, "Anna", language="en", labels={"accent": "british"})
    stock = make_stock_voice()
    make_ready_voice(stranger, "Hidden")
    client = eleven_client(live_server, api_key(owner, *ALL_SCOPES))
    voices = client.voices.get_all().voices
    assert {v.name for v in voices} == {"Anna", stock.name}
    anna = client.voices.get(str(voice.code))
    assert (anna.name, anna.category, anna.labels) == ("Anna", "cloned", {"accent": "british"})
    assert anna.samples[0].mime_type == "audio/wav"
    assert anna.voice_verification.requires_verification is False
    strangers = eleven_client(live_server, api_key(stranger, *ALL_SCOPES))
    assert _status(lambda: strangers.voices.get(str(voice.code)))[0] == 404
    assert _status(lambda: strangers.voices.delete(str(voice.code)))[0] == 404
    assert client.voices.delete(str(voice.code)).status == "ok"
    assert _status(lambda: client.voices.get(str(voice.code)))[0] == 404


@pytest.mark.django_db(transaction=True)
def test_sdk_add_voice_names_the_consent_page_when_consent_is_required(
    live_server, owner, settings
):
    settings.VOICES_CONSENT_RECORDING_REQUIRED = True
    client = eleven_client(live_server, api_key(owner, "voices:write", "voices:read"))
    with pytest.raises(ElevenApiError) as failure:
        client.voices.ivc.create(
            name="My voice",
            files=[("take1.wav", wav_bytes(seconds=2.0), "audio/wav"), io.BytesIO(wav_bytes())],
            description="Read at home",
            labels={"accent": "irish", "language": "en"},
        )
    assert failure.value.status_code == 403
    detail, error = failure.value.body["detail"], failure.value.body["error"]
    consent_url = error["details"]["consent_url"]
    assert detail["status"] == "consent_required" and consent_url in detail["message"]
    assert consent_url.startswith(live_server.url + "/voices/")
    voice = Voice.objects.get(code=error["details"]["voice_id"])  # kept, waiting for consent
    assert (voice.status, voice.owner, voice.language) == (
        Voice.Status.PENDING_CONSENT,
        owner,
        "en",
    )
    assert voice.samples.count() == 2
    consent = Consent.objects.get(owner=owner)  # the key owner's attestation is on record
    assert consent.attestation_text and consent.attested_at
    listed = client.voices.get(str(voice.code))
    assert listed.voice_verification.requires_verification is True
    assert listed.status == "pending_consent"  # Timbre's extra field survives the SDK model
    refused = _status(lambda: client.voices.ivc.create(name="My voice", files=[wav_bytes()]))
    # 409 elsewhere; 400 here, as the SDK's retry of a 409 would drop the form fields.
    assert (refused[0], refused[1]["code"]) == (400, "voice_name_taken")


@pytest.mark.django_db(transaction=True)
def test_sdk_history_audio_and_subscription(live_server, owner, stranger):
    voice = make_ready_voice(owner, "Anna")
    jobs = []
    for n in range(3):
        job = SynthesisJob.objects.create(
            owner=owner, voice=voice, text=f"Item {n}.", characters=7, status="succeeded"
        )
        job.audio.save("a.mp3", ContentFile(f"mp3-{n}".encode()), save=True)
        jobs.append(job)
    usage_reserve(user=owner, characters=21, slot=False)  # as job_create would have
    client = eleven_client(live_server, api_key(owner, "history:read", "usage:read"))
    page = client.history.list(page_size=2)
    assert [item.text for item in page.history] == ["Item 2.", "Item 1."]
    assert page.has_more is True
    rest = client.history.list(start_after_history_item_id=page.last_history_item_id)
    assert [item.history_item_id for item in rest.history] == [str(jobs[0].code)]
    assert b"".join(client.history.get_audio(str(jobs[1].code))) == b"mp3-1"
    strangers = eleven_client(live_server, api_key(stranger, "history:read"))
    assert _status(lambda: strangers.history.get_audio(str(jobs[1].code)))[0] == 404
    subscription = client.user.subscription.get()
    assert (subscription.character_count, subscription.voice_slots_used) == (21, 1)
    assert subscription.character_limit > 0 and subscription.next_character_count_reset_unix


@pytest.mark.django_db(transaction=True)
def test_sdk_text_to_speech_refusals(live_server, owner, stranger):
    voice = make_ready_voice(owner, "Anna")
    client = eleven_client(live_server, api_key(owner, "tts"))
    convert = client.text_to_speech.convert
    vid = str(voice.code)
    cases = [
        (lambda: convert(vid, text=""), 400, "empty_text"),
        (lambda: convert(vid, text="Hi.", output_format="ulaw_16000"), 400, "unsupported_format"),
        (
            lambda: convert(vid, text="Hi.", output_format="opus_44100_64"),
            400,
            "unsupported_format",
        ),
        (lambda: convert(vid, text="Hi.", model_id="gpt-4o"), 400, "unsupported_model"),
        (lambda: convert(vid, text="Hi.", voice_settings={"speed": 9.0}), 400, "invalid_speed"),
        (
            lambda: convert("6f1c1f8e-2b1a-4bfb-9a51-000000000000", text="Hi."),
            404,
            "voice_not_found",
        ),
    ]
    for call, status, code in cases:
        assert _status(call)[0] == status
        assert _status(call)[1]["code"] == code
    strangers = eleven_client(live_server, api_key(stranger, "tts"))
    assert _status(lambda: strangers.text_to_speech.stream(vid, text="Hi."))[0] == 404
    assert _status(lambda: eleven_client(live_server, "wrong").voices.get_all())[0] == 401
    reader = eleven_client(live_server, api_key(owner, "voices:read"))
    assert _status(lambda: reader.text_to_speech.convert(vid, text="Hi."))[0] == 403
    assert not SynthesisJob.objects.exists()


# --- with the worker ----------------------------------------------------------------------------
@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_convert_stream_then_history(live_server, owner, built_voice):
    client = eleven_client(live_server, api_key(owner, *ALL_SCOPES))
    vid = str(built_voice.code)
    mp3 = b"".join(
        client.text_to_speech.convert(
            vid,
            text="Hello from the ElevenLabs client.",
            model_id="eleven_multilingual_v2",
            output_format="mp3_44100_128",
            voice_settings={"stability": 0.5, "speed": 1.0},
            previous_text="Ignored context.",
        )
    )
    info = ffprobe(mp3)
    assert (info["codec"], info["sample_rate"], info["channels"]) == ("mp3", 44_100, 1)
    assert decoded_seconds(mp3) == pytest.approx(SECONDS_PER_CHUNK, rel=0.2, abs=0.15)

    started, arrivals = time.monotonic(), []
    text = "First paragraph.\n\nSecond paragraph.\n\nThird paragraph."
    for piece in client.text_to_speech.stream(vid, text=text, output_format="pcm_16000"):
        arrivals.append((time.monotonic() - started, piece))
    pcm = b"".join(piece for _, piece in arrivals)
    assert len(arrivals) >= 2 and arrivals[0][0] < arrivals[-1][0]
    assert len(pcm) % 2 == 0 and len(pcm) > 3 * SECONDS_PER_CHUNK * 16_000 * 2 * 0.8

    wait_jobs_finished()
    history = client.history.list().history
    assert [item.state for item in history] == ["created", "created"]
    assert [item.output_format for item in history] == ["pcm_16000", "mp3_44100_128"]
    stored_pcm = b"".join(client.history.get_audio(history[0].history_item_id))
    assert stored_pcm == pcm  # the stored file is what was streamed
    stored_mp3 = b"".join(client.history.get_audio(history[1].history_item_id))
    assert ffprobe(stored_mp3)["codec"] == "mp3"
    assert client.user.subscription.get().character_count == len(text) + 33


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_added_voice_is_usable_at_once_where_no_consent_recording_is_required(
    live_server, owner, celery_worker, fixed_tokens, settings, tmp_path
):
    from tests.voices.corpus import RATE, recording

    settings.VOICES_CONSENT_RECORDING_REQUIRED = False
    speech = io.BytesIO()
    sf.write(speech, recording(tmp_path, voice="m3"), RATE, format="WAV", subtype="PCM_16")
    client = eleven_client(live_server, api_key(owner, *ALL_SCOPES))
    added = client.voices.ivc.create(name="Quick", files=[("take.wav", speech.getvalue())])
    # It answers once the voice is built: ElevenLabs clients use it on the next line.
    assert (added.requires_verification, added.status) == (False, "ready"), celery_worker.log()
    assert Voice.objects.get(code=added.voice_id).status == Voice.Status.READY
    audio = b"".join(client.text_to_speech.convert(added.voice_id, text="It works."))
    assert ffprobe(audio)["codec"] == "mp3"
    wait_jobs_finished()
