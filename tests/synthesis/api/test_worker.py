"""The synthesis API end to end with a real worker process (tiny random-weight XTTS).

Few and lean on purpose: each job generates a fixed handful of tokens per chunk.
"""

from __future__ import annotations

import http.client
import io
import json
import time
import zipfile
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from accounts.models import CharacterUsage
from accounts.services import api_key_create
from synthesis.models import SynthesisBatch, SynthesisJob, WebhookDelivery

# ready_voice is a fixture: imported, pytest offers it to this module's tests too.
from tests.synthesis.support import wait_for, wait_job

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TOKENS = 10


def _stream(live_server, secret, payload) -> dict:
    """POST to the stream endpoint with http.client and time the answer's arrival."""
    url = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=240)
    started = time.monotonic()
    connection.request(
        "POST",
        "/api/v1/synthesis/stream",
        body=json.dumps(payload),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    pieces, arrivals = [], []
    while piece := response.read1(65_536):
        pieces.append(piece)
        arrivals.append(time.monotonic() - started)
    connection.close()
    assert response.status == 200, (response.status, b"".join(pieces)[:1000])
    job = SynthesisJob.objects.get(code=response.getheader("X-Synthesis-Job"))
    return {
        "response": response,
        "audio": b"".join(pieces),
        "arrivals": arrivals,
        "job": job,
        "first_byte": arrivals[0] if arrivals else None,
    }


def test_stream_through_a_live_server_and_a_real_worker(live_server, owner, ready_voice):
    _, secret = api_key_create(user=owner, name="stream", scopes=["tts"])
    text = "Streaming starts early. It keeps going for a while. And then it ends."
    payload = {
        "text": text,
        "voice": str(ready_voice.code),
        "format": "pcm",
        "parameters": {"max_new_tokens": 40, "seed": 1},
    }
    runs = [_stream(live_server, secret, payload), _stream(live_server, secret, payload)]
    for label, run in zip(("first request", "second request"), runs, strict=True):
        job = wait_job(run["job"])
        queued = (job.started_at - job.created_at).total_seconds()
        print(
            f"\nstream ({label}): first byte after {run['first_byte']:.2f} s (of which "
            f"{queued:.2f} s until a worker took the job), {len(run['audio']):,} bytes in "
            f"{len(run['arrivals'])} reads by {run['arrivals'][-1]:.2f} s; Transfer-Encoding: "
            f"{run['response'].getheader('Transfer-Encoding')}"
        )
        response, audio = run["response"], run["audio"]
        assert response.status == 200, audio[:500]
        assert response.getheader("Content-Type") == "audio/pcm"
        assert response.getheader("character-cost") == str(len(text))
        assert audio and len(audio) % 2 == 0
        assert run["arrivals"][0] < run["arrivals"][-1]  # in pieces, not one block at the end
        assert job.status == SynthesisJob.Status.SUCCEEDED, job.error
        with job.audio.open("rb") as stored:
            assert len(stored.read()) == len(audio)  # the stored copy is what was streamed
    assert runs[0]["audio"] == runs[1]["audio"]  # same seed, same audio
    counters = CharacterUsage.objects.get(user=owner)
    assert (counters.used, counters.reserved) == (2 * len(text), 0)


def test_job_through_the_api_with_a_worker(owner, ready_voice, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True  # this process accepts it; the worker must refuse
    client = APIClient()
    client.force_login(owner)
    response = client.post(
        "/api/v1/synthesis",
        {
            "text": "One sentence. And another one.",
            "voice": str(ready_voice.code),
            "format": "mp3",
            "parameters": {"max_new_tokens": TOKENS, "seed": 2},
            "webhook_url": "http://127.0.0.1:9/hook",
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    code = response.json()["id"]

    def finished():
        data = client.get(f"/api/v1/synthesis/{code}").json()
        return data if data["status"] in ("succeeded", "failed", "cancelled") else None

    data = wait_for(finished, timeout=240, what="the job")
    assert data["status"] == "succeeded", data["error"]
    assert data["chunks_done"] == data["chunks_total"] >= 1
    assert data["cost"] == {"characters": 30, "state": "settled"}
    assert data["durations"]["audio_seconds"] > 0 and data["durations"]["compute_seconds"] > 0
    audio = client.get(data["audio_url"], HTTP_RANGE="bytes=0-2")
    assert audio.status_code == 206
    assert audio["Content-Range"] == f"bytes 0-2/{data['audio_bytes']}"
    assert len(b"".join(audio.streaming_content)) == 3
    whole = client.get(data["audio_url"])
    assert len(b"".join(whole.streaming_content)) == data["audio_bytes"] > 0

    # The worker sent the webhook from the default queue, and refused the private address
    # there, although the web process had accepted it.
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(job__code=code, attempts__gte=1).first(),
        timeout=60,
        what="the webhook attempt",
    )
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert "private" in delivery.last_error


def test_batch_zip_built_by_the_worker(owner, ready_voice):
    client = APIClient()
    client.force_login(owner)
    response = client.post(
        "/api/v1/synthesis/batch",
        {
            "voice": str(ready_voice.code),
            "parameters": {"max_new_tokens": 8, "seed": 3},
            "items": [{"text": "First item.", "format": "wav"}, {"text": "Second item."}],
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    code = response.json()["id"]
    wait_for(
        lambda: SynthesisBatch.objects.get(code=code).status in ("done", "failed"),
        timeout=300,
        what="the batch",
    )
    data = client.get(f"/api/v1/synthesis/batch/{code}").json()
    assert data["status"] == "done", data["error"]
    assert data["counts"]["succeeded"] == 2
    archive = client.get(data["archive_url"])
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))) as zipped:
        manifest = json.loads(zipped.read("manifest.json"))
        files = [item["file"] for item in manifest["items"]]
        assert files[0].endswith(".wav") and files[1].endswith(".mp3")
        assert zipped.read(files[0])[:4] == b"RIFF"
        assert all(zipped.getinfo(name).file_size > 0 for name in files)
