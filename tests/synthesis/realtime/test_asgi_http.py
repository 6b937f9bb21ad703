"""The streaming HTTP endpoints through uvicorn (config.asgi): bodies are async iterators read on
the event loop, so listeners that read slowly hold no thread and keep nobody else waiting."""

from __future__ import annotations

import json
import socket
import ssl

import httpx
import pytest

from synthesis.models import SynthesisJob
from tests.synthesis.compat.support import api_key, decoded_seconds, wait_jobs_finished

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]

# What Django logs when it has to buffer a synchronous iterator under ASGI.
BUFFERED_WARNING = "must consume synchronous iterators"


def _client(server, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        verify=server.ssl_context(),
        headers={"Authorization": f"Bearer {key}", "xi-api-key": key},
        timeout=120,
    )


def test_every_streaming_endpoint_answers_through_uvicorn(
    asgi_server, celery_worker, owner, toy_voice
):
    key = api_key(owner, "tts")
    with _client(asgi_server, key) as client:
        eleven = client.post(
            f"/v1/text-to-speech/{toy_voice.code}/stream",
            params={"output_format": "mp3_22050_32"},
            json={"text": "Streamed through uvicorn."},
        )
        assert eleven.status_code == 200, eleven.text
        assert decoded_seconds(eleven.content, fmt_hint="mp3") > 0.5
        native = client.post(
            "/api/v1/synthesis/stream",
            json={"text": "Native stream.", "voice": str(toy_voice.code), "format": "wav"},
        )
        assert native.status_code == 200, native.text
        assert native.content[:4] == b"RIFF" and decoded_seconds(native.content) > 0.3
        with client.stream(
            "POST",
            "/v1/audio/speech",
            json={
                "model": "tts-1",
                "input": "Server-sent events.",
                "voice": str(toy_voice.code),
                "stream_format": "sse",
            },
        ) as sse:
            events = [json.loads(line[6:]) for line in sse.iter_lines() if line]
        assert events[0]["type"] == "speech.audio.delta"
        assert events[-1]["type"] == "speech.audio.done"
        refused = client.post(
            f"/v1/text-to-speech/{toy_voice.code}/stream", json={"text": ""}
        )  # an error is still JSON, with the vendor's shape
        assert refused.status_code == 400 and refused.json()["detail"]["status"] == "empty_text"
    wait_jobs_finished()
    assert SynthesisJob.objects.filter(status=SynthesisJob.Status.SUCCEEDED).count() == 3
    assert BUFFERED_WARNING not in asgi_server.log()


def _slow_listener(server, key: str, voice) -> ssl.SSLSocket:
    """A stream request whose answer is then left unread: the server must wait on it."""
    body = json.dumps({"text": "A long text to speak slowly. " * 30}).encode()
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=120)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock = server.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1")
    sock.sendall(
        f"POST /v1/text-to-speech/{voice.code}/stream?output_format=pcm_16000 HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nxi-api-key: {key}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    assert sock.recv(64).startswith(b"HTTP/1.1 200")
    return sock


def test_slow_listeners_keep_nobody_waiting(asgi_server, celery_worker, owner, toy_voice):
    key = api_key(owner, "tts")
    # Each is sent about 43 s of 16 kHz PCM (1.4 MB) that it does not read.
    slow = [_slow_listener(asgi_server, key, toy_voice) for _ in range(8)]
    try:
        with _client(asgi_server, key) as client:
            for n in range(3):
                answer = client.post(
                    f"/v1/text-to-speech/{toy_voice.code}/stream",
                    params={"output_format": "pcm_16000"},
                    json={"text": f"Answered at once, number {n}."},
                )
                assert answer.status_code == 200 and len(answer.content) > 16_000
            assert client.get("/health/live").status_code == 200
        waiting = SynthesisJob.objects.filter(text__startswith="A long text")
        assert waiting.count() == 8
    finally:
        for sock in slow:
            sock.close()
    wait_jobs_finished()
    log = asgi_server.log()
    assert BUFFERED_WARNING not in log
    assert "DeprecationWarning" not in log  # uvicorn's sans-I/O websockets, not the legacy API
