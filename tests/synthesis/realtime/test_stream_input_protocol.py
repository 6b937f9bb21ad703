"""The stream-input WebSocket protocol, message by message, against a real uvicorn process and
a real worker (the toy engine: one tone per character, so jobs are quick): the schedule,
flush, alignment, limits and refusals."""

from __future__ import annotations

import base64
import contextlib
import json

import pytest
from websockets.exceptions import ConnectionClosed

from accounts.usage import characters_remaining
from audit.models import AuditEvent
from synthesis.models import SynthesisJob
from tests.synthesis.compat.support import api_key, decoded_seconds, wait_jobs_finished
from tests.synthesis.realtime.support import AsgiServer, received, ws_connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def _path(voice, **query) -> str:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/v1/text-to-speech/{voice.code}/stream-input" + (f"?{params}" if params else "")


def _send(socket_, **message) -> None:
    socket_.send(json.dumps(message))


def _audio(messages) -> bytes:
    return b"".join(base64.b64decode(m["audio"]) for m in messages if m.get("audio"))


def test_schedule_flush_and_end_make_one_job_each_in_order(
    asgi_server, celery_worker, owner, toy_voice
):
    key = api_key(owner, "tts")
    with ws_connect(
        asgi_server, _path(toy_voice, output_format="pcm_16000"), headers={"xi-api-key": key}
    ) as ws:
        _send(ws, text=" ", generation_config={"chunk_length_schedule": [50, 80]})
        _send(ws, text="One two three four five six seven eight nine ten. ")  # 51: generate
        _send(ws, text="Eleven twelve. ")  # 15 of 80: waits
        _send(ws, text="Thirteen.", flush=True)  # generates what is buffered, short or not
        _send(ws, text="Last words ")
        _send(ws, text="")  # the end: the rest
        messages, code, _ = received(ws)
    assert code == 1000
    assert messages[-1] == {"audio": None, "isFinal": True}
    texts = list(
        SynthesisJob.objects.filter(owner=owner)
        .order_by("created_at")
        .values_list("text", flat=True)
    )
    assert texts == [  # as job texts are kept: without the spaces around
        "One two three four five six seven eight nine ten.",
        "Eleven twelve. Thirteen.",
        "Last words",
    ]
    # Raw 16 kHz PCM: one tone of 50 ms per spoken character (the toy engine).
    assert len(_audio(messages)) / 2 / 16_000 > 1.0
    wait_jobs_finished()
    jobs = SynthesisJob.objects.filter(owner=owner)
    assert set(jobs.values_list("status", flat=True)) == {SynthesisJob.Status.SUCCEEDED}
    assert all(job.stream and job.timestamps for job in jobs)
    spent = sum(len(t) for t in texts)
    limit, remaining = characters_remaining(user=owner)
    assert limit - remaining == spent  # charged per generation, once each
    requested = AuditEvent.objects.filter(action="synthesis.job.requested", actor_user=owner)
    assert requested.count() == 3
    assert len(set(requested.values_list("request_id", flat=True))) == 1  # one connection


def test_alignment_places_every_character_on_the_connection_timeline(
    asgi_server, celery_worker, owner, toy_voice
):
    key = api_key(owner, "tts")
    sentences = ["Hello there. ", "How are you today? "]
    with ws_connect(asgi_server, _path(toy_voice, output_format="pcm_16000")) as ws:
        _send(ws, text=" ", **{"xi-api-key": key})  # the key in the first message
        for sentence in sentences:
            _send(ws, text=sentence, flush=True)
        _send(ws, text="")
        messages, code, _ = received(ws)
    assert code == 1000
    alignments = [m["alignment"] for m in messages if m.get("alignment")]
    assert alignments and all(m["normalizedAlignment"] for m in messages if m.get("alignment"))
    chars, starts, ends, total = [], [], [], 0
    for alignment in alignments:
        assert len(alignment["chars"]) == len(alignment["charStartTimesMs"])
        assert alignment["charDurationsMs"] == alignment["charsDurationsMs"]
        for char, start, duration in zip(
            alignment["chars"],
            alignment["charStartTimesMs"],
            alignment["charDurationsMs"],
            strict=True,
        ):
            assert start >= 0 and duration >= 0
            chars.append(char)
            starts.append(total + start)
            ends.append(total + start + duration)
        total = ends[-1]  # as clients do: each message's times follow the previous end
    assert "".join(chars).split() == "".join(sentences).split()
    assert starts == sorted(starts) and ends == sorted(ends)
    audio_seconds = len(_audio(messages)) / 2 / 16_000
    assert ends[-1] / 1000 <= audio_seconds + 0.05
    assert ends[-1] / 1000 > audio_seconds * 0.5  # the characters cover the audio


def test_mp3_output_decodes(asgi_server, celery_worker, owner, toy_voice):
    key = api_key(owner, "tts")
    with ws_connect(asgi_server, _path(toy_voice), headers={"xi-api-key": key}) as ws:
        _send(ws, text=" ")
        _send(ws, text="A short line to speak. ", try_trigger_generation=True)
        _send(ws, text="")
        messages, code, _ = received(ws)
    assert code == 1000
    assert decoded_seconds(_audio(messages), fmt_hint="mp3") > 0.5
    job = SynthesisJob.objects.get(owner=owner)
    assert (job.output_format, job.sample_rate, job.bitrate) == ("mp3", 44_100, 128_000)


@pytest.mark.parametrize(
    ("headers", "first", "error"),
    [
        ({"xi-api-key": "not-a-key"}, {"text": " "}, "authentication_failed"),
        ({}, {"text": " "}, "authentication_required"),
        ({}, {"text": " ", "xi-api-key": "not-a-key"}, "authentication_failed"),
    ],
)
def test_keys_are_checked(asgi_server, toy_voice, headers, first, error):
    with ws_connect(asgi_server, _path(toy_voice), headers=headers) as ws:
        # A key refused from the headers may close the socket before this first message goes.
        with contextlib.suppress(ConnectionClosed):
            ws.send(json.dumps(first))
        messages, code, reason = received(ws, timeout=30)
    assert messages[-1]["error"] == error and messages[-1]["message"]
    assert (code, reason) == (1008, error)


def test_a_strangers_voice_and_a_key_without_tts_are_refused(
    asgi_server, owner, stranger, toy_voice
):
    theirs = api_key(stranger, "tts")
    with ws_connect(asgi_server, _path(toy_voice), headers={"xi-api-key": theirs}) as ws:
        messages, code, _ = received(ws, timeout=30)
    assert (messages[-1]["error"], code) == ("voice_not_found", 1008)
    read_only = api_key(owner, "voices:read")
    with ws_connect(asgi_server, _path(toy_voice), headers={"xi-api-key": read_only}) as ws:
        messages, code, _ = received(ws, timeout=30)
    assert (messages[-1]["error"], code) == ("permission_denied", 1008)
    assert not SynthesisJob.objects.exists()


def test_bad_settings_are_refused(asgi_server, owner, toy_voice):
    key = api_key(owner, "tts")
    for query, first, error in [
        ({"output_format": "wma_44100"}, None, "unsupported_format"),
        ({"inactivity_timeout": "500"}, None, "invalid_inactivity_timeout"),
        ({"model_id": "no-such-model"}, None, "unsupported_model"),
        ({}, {"text": " ", "generation_config": {"chunk_length_schedule": [5]}}, None),
        ({}, "not json", "invalid_message"),
    ]:
        with ws_connect(asgi_server, _path(toy_voice, **query), headers={"xi-api-key": key}) as ws:
            if first is not None:
                ws.send(first if isinstance(first, str) else json.dumps(first))
            messages, code, _ = received(ws, timeout=30)
        assert code == 1008
        assert messages[-1]["error"] == (error or "invalid_generation_config")


def test_an_idle_connection_is_closed(asgi_server, owner, toy_voice):
    key = api_key(owner, "tts")
    with ws_connect(
        asgi_server, _path(toy_voice, inactivity_timeout=1), headers={"xi-api-key": key}
    ) as ws:
        _send(ws, text=" ")
        messages, code, reason = received(ws, timeout=30)
    assert (messages[-1]["error"], code, reason) == (
        "input_timeout_exceeded",
        1008,
        "input_timeout_exceeded",
    )


def test_text_past_the_connection_limit_is_refused(asgi_server, celery_worker, owner, toy_voice):
    key = api_key(owner, "tts")  # the server takes 2,000 characters per connection
    with ws_connect(asgi_server, _path(toy_voice), headers={"xi-api-key": key}) as ws:
        _send(ws, text=" ")
        for _ in range(3):
            _send(ws, text="word " * 150)  # 750 each
        messages, code, _ = received(ws, timeout=60)
    assert (messages[-1]["error"], code) == ("text_limit_exceeded", 1008)
    wait_jobs_finished()


def test_a_client_that_leaves_cancels_and_refunds_its_job(asgi_server, built_voice, owner):
    key = api_key(owner, "tts")  # XTTS (tiny): 40 sentences take the worker a while
    with ws_connect(
        asgi_server, _path(built_voice, output_format="pcm_24000"), headers={"xi-api-key": key}
    ) as ws:
        _send(ws, text=" ")
        _send(ws, text="Many words to speak here. " * 40, flush=True)
        first = json.loads(ws.recv(timeout=120))
        assert first.get("audio")
    wait_jobs_finished()
    job = SynthesisJob.objects.get(owner=owner)
    assert job.status == SynthesisJob.Status.CANCELLED
    limit, remaining = characters_remaining(user=owner)
    assert remaining == limit  # refunded


def test_connections_count_against_the_key_rate_limit(tls_files, tmp_path, owner, toy_voice):
    cert, key_file = tls_files
    # Two a day: a per-minute window could end between the connections and let a third in.
    limit = {"RATE_LIMIT_API_KEY": "2/d"}
    server = AsgiServer(log_dir=tmp_path, cert=cert, key=key_file, extra_env=limit)
    try:
        server.wait_ready()
        key = api_key(owner, "tts")
        answers = []
        for _ in range(3):
            with ws_connect(
                server, _path(toy_voice, inactivity_timeout=1), headers={"xi-api-key": key}
            ) as ws:
                messages, code, _ = received(ws, timeout=30)
            answers.append((messages[-1]["error"], code))
    finally:
        server.stop()
    # Two connections were let in (and timed out idle); the third was refused, to retry later.
    assert answers == [("input_timeout_exceeded", 1008)] * 2 + [("rate_limited", 1013)]


def test_model_id_chooses_the_engine(asgi_server, celery_worker, owner, toy_voice):
    """Issue 14: the query's model_id picks the engine among those the voice is built for; one
    it is not built for is refused before any text (model_not_available)."""
    from tests.synthesis.models_choice.helpers import add_ready_engine

    add_ready_engine(toy_voice, "toyb")
    key = api_key(owner, "tts")
    path = _path(toy_voice, output_format="pcm_16000", model_id="toy-b-1")
    with ws_connect(asgi_server, path, headers={"xi-api-key": key}) as ws:
        _send(ws, text=" ")
        _send(ws, text="Square waves now. ", flush=True)
        _send(ws, text="")
        messages, code, _ = received(ws)
    assert code == 1000 and _audio(messages)
    assert SynthesisJob.objects.get(owner=owner).engine == "toyb"
    wait_jobs_finished()
    with ws_connect(
        asgi_server, _path(toy_voice, model_id="xtts-v2"), headers={"xi-api-key": key}
    ) as ws:
        messages, code, _ = received(ws, timeout=30)
    assert (messages[-1]["error"], code) == ("model_not_available", 1008)
    assert "toy-b-1" in messages[-1]["message"]  # the models it can be spoken by
