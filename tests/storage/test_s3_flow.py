"""Media on an S3-compatible server, end to end: sample → voice → synthesis → download.

A real moto server (HTTP), a real worker process started with the AWS_* variables an operator
sets, and this process (the web side) on the same bucket. Every byte goes through Django's
storage API: the bucket holds every file, the local MEDIA_ROOT stays empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.services import api_key_create
from synthesis.models import SynthesisJob
from tests.storage.s3 import MAX_MEMORY_SIZE, REGION, settings_under_env
from tests.support.waiting import wait_for
from tests.synthesis.audio_helpers import ffprobe
from tests.voices.corpus import RATE, TEXT_B, recording, speak
from tests.voices.helpers import wait_samples_done
from voices.models import Consent, Sample, Voice

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

S3_BACKEND = "storages.backends.s3.S3Storage"


def test_test_settings_keep_s3_when_a_bucket_is_named(s3_env, s3_settings):
    storage = s3_settings["STORAGES"]["default"]
    assert storage["BACKEND"] == S3_BACKEND
    assert storage["OPTIONS"] == {
        "bucket_name": s3_env["AWS_STORAGE_BUCKET_NAME"],
        "endpoint_url": s3_env["AWS_S3_ENDPOINT_URL"],
        "region_name": REGION,
        "addressing_style": "path",
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
        "max_memory_size": MAX_MEMORY_SIZE,
    }
    # Without a bucket the tests keep local files.
    plain = settings_under_env({"AWS_STORAGE_BUCKET_NAME": ""})
    assert plain["STORAGES"]["default"]["BACKEND"].endswith("FileSystemStorage")


@pytest.fixture
def s3_media(s3_settings):
    """This process on the bucket too, with the worker's (unused) MEDIA_ROOT."""
    with override_settings(STORAGES=s3_settings["STORAGES"], MEDIA_ROOT=s3_settings["MEDIA_ROOT"]):
        yield Path(s3_settings["MEDIA_ROOT"])


@pytest.fixture
def aws_credentials(s3_env, monkeypatch):
    """boto3 in this process reads the same variables as in the worker."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_env["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_env["AWS_SECRET_ACCESS_KEY"])


def _speech(tmp_path: Path) -> tuple[Path, Path]:
    """~12 s of espeak-ng speech for the voice, and another text by the same "person"."""
    audio = recording(tmp_path, voice="m3")
    sample = tmp_path / "sample.wav"
    sf.write(sample, np.clip(audio, -1.0, 1.0), RATE, subtype="PCM_16")
    consent = tmp_path / "consent.wav"
    speak(TEXT_B, consent, voice="m3")
    return sample, consent


def _upload(client, url: str, path: Path) -> dict:
    with path.open("rb") as handle:
        response = client.post(url, {"file": handle}, format="multipart")
    assert response.status_code == 202, response.content
    return response.json()


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _objects(client, bucket: str) -> dict[str, bytes]:
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for item in listing
    }


def test_sample_to_download_with_media_on_s3(
    s3_worker, s3_media, aws_credentials, moto_server, bucket, owner, owner_client, tmp_path
):
    sample_wav, consent_wav = _speech(tmp_path)  # made while the worker starts
    s3_worker.wait_ready()
    assert default_storage.__class__.__module__ == "storages.backends.s3"

    # Sample and consent recording through the API; intake runs on the worker's audio queue.
    sample_id = _upload(owner_client, "/api/v1/samples", sample_wav)["id"]
    consent = owner_client.post("/api/v1/consents", {"attest": True}, format="json").json()
    recording_id = _upload(
        owner_client, f"/api/v1/consents/{consent['id']}/recording", consent_wav
    )["recording"]["id"]
    done = wait_samples_done([sample_id, recording_id], timeout=120)
    assert {s.status for s in done.values()} == {Sample.Status.READY}, (
        [s.error_message for s in done.values()],
        s3_worker.log()[-3000:],
    )

    # The voice: the worker verifies the consent speaker, then computes the conditioning.
    response = owner_client.post(
        "/api/v1/voices",
        {"name": "On S3", "samples": [sample_id], "consent": consent["id"], "language": "en"},
        format="json",
    )
    assert response.status_code == 202, response.content
    voice = Voice.objects.get(code=response.json()["id"])

    def built():
        voice.refresh_from_db()
        return voice.status != Voice.Status.BUILDING

    wait_for(built, timeout=120, what="the voice to be built")
    assert voice.status == Voice.Status.READY, (voice.failure_reason, s3_worker.log()[-3000:])
    assert Consent.objects.get(voice=voice).status == Consent.Status.VERIFIED

    # Synthesis through the API, on the worker's synthesis queue.
    response = owner_client.post(
        "/api/v1/synthesis",
        {
            "text": "Stored in a bucket, served by the API.",
            "voice": str(voice.code),
            "format": "wav",
            "parameters": {"max_new_tokens": 12, "seed": 7},
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    job = SynthesisJob.objects.get(code=response.json()["id"])

    def finished():
        job.refresh_from_db()
        return job.is_terminal

    wait_for(finished, timeout=120, what="the synthesis job")
    assert job.status == SynthesisJob.Status.SUCCEEDED, (job.error, s3_worker.log()[-3000:])

    # Downloads, streamed from the bucket: the native API (whole and a range), the
    # ElevenLabs-compatible history and the dashboard page give the same bytes.
    response = owner_client.get(f"/api/v1/synthesis/{job.code}/audio")
    assert response.status_code == 200
    audio = _body(response)
    assert int(response["Content-Length"]) == len(audio) == job.audio_bytes
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    downloaded = tmp_path / "downloaded.wav"
    downloaded.write_bytes(audio)
    probe = ffprobe(downloaded)
    assert (probe["codec"], probe["channels"], probe["sample_rate"]) == (
        "pcm_s16le",
        1,
        job.sample_rate,
    )
    assert probe["duration"] == pytest.approx(job.audio_seconds, abs=0.05) and probe["duration"]
    assert len(audio) > MAX_MEMORY_SIZE  # so it was read through a spilled temporary file

    ranged = owner_client.get(f"/api/v1/synthesis/{job.code}/audio", HTTP_RANGE="bytes=100-")
    assert ranged.status_code == 206
    assert ranged["Content-Range"] == f"bytes 100-{len(audio) - 1}/{len(audio)}"
    assert _body(ranged) == audio[100:]

    _, secret = api_key_create(user=owner, name="history", scopes=["history:read"])
    eleven = APIClient()
    eleven.credentials(HTTP_XI_API_KEY=secret)
    response = eleven.get(f"/v1/history/{job.code}/audio")
    assert response.status_code == 200 and _body(response) == audio

    assert _body(owner_client.get(f"/jobs/{job.code}/audio")) == audio
    sample = Sample.objects.get(code=sample_id)
    response = owner_client.get(f"/api/v1/samples/{sample_id}/audio")
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    clean = _body(response)

    # Every file of the owner's rows is an object in the bucket, and the bucket holds nothing
    # else but the stock voices' conditioning (stored by the worker when it started) ...
    stored = {
        *Sample.objects.filter(owner=owner).values_list("raw", flat=True),
        *Sample.objects.filter(owner=owner).values_list("clean", flat=True),
        *Voice.objects.filter(owner=owner).values_list("conditioning", flat=True),
        *SynthesisJob.objects.filter(owner=owner).values_list("audio", flat=True),
    } - {""}
    objects = _objects(moto_server.client(), bucket)
    assert {key for key in objects if not key.startswith("voices/stock/")} == stored
    recording_row = Sample.objects.get(code=recording_id)
    flow = [sample.raw, sample.clean, recording_row.raw, recording_row.clean]
    flow += [voice.conditioning, job.audio]
    assert all(flow) and {file.name for file in flow} <= set(objects)
    assert sample.clean.name == f"samples/{owner.code}/{sample.code}/clean.wav"
    assert voice.conditioning.name.startswith(f"voices/{owner.code}/{voice.code}/conditioning-")
    assert voice.conditioning.name.endswith(".npz")
    assert job.audio.name.startswith(f"synthesis/{owner.code}/{job.code}")
    assert job.audio.name.endswith(".wav")
    assert objects[job.audio.name] == audio
    assert objects[sample.clean.name] == clean
    assert objects[sample.raw.name] == sample_wav.read_bytes()
    assert objects[voice.conditioning.name][:2] == b"PK"  # an .npz (zip), never a pickle

    # ... and nothing reached the local MEDIA_ROOT of either process.
    media = s3_media
    assert not media.exists() or not any(media.rglob("*")), sorted(media.rglob("*"))


def test_a_taken_name_is_never_overwritten(s3_media, aws_credentials, moto_server, bucket):
    """A late duplicate render of a job saves under the same name: it must get its own key,
    so that deleting it (runner.job_run) cannot delete the audio the job kept."""
    name = "synthesis/someone/job.wav"
    first = default_storage.save(name, ContentFile(b"kept"))
    second = default_storage.save(name, ContentFile(b"late duplicate"))
    assert first == name and second != name
    default_storage.delete(second)
    assert set(_objects(moto_server.client(), bucket)) == {name}
    with default_storage.open(name, "rb") as handle:
        assert handle.read() == b"kept"
