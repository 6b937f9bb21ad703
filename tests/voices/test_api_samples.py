"""Sample upload and the sample endpoints, without a worker (intake is tested with one)."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage

from accounts.models import Plan
from audit.models import AuditEvent
from tests.voices.helpers import (
    MULTIPART,
    key_client,
    make_sample,
    multipart_body,
    upload,
    wav_bytes,
)
from voices.models import Sample
from voices.uploads import MB, MULTIPART_OVERHEAD_BYTES, display_name

pytestmark = pytest.mark.django_db


def test_upload_is_accepted_and_stored_under_a_generated_name(owner_client, owner):
    response = upload(owner_client, "/api/v1/samples", wav_bytes(), name="My take.wav")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] in ("uploaded", "processing")
    assert body["original_name"] == "My take.wav"
    assert body["error"] is None and body["audio_url"] is None
    sample = Sample.objects.get(code=body["id"])
    assert sample.raw.name == f"samples/{owner.code}/{sample.code}/raw"
    assert default_storage.exists(sample.raw.name)
    assert sample.size == len(wav_bytes())
    event = AuditEvent.objects.get(action="voices.sample.uploaded")
    assert event.actor_user == owner and event.target_id == str(sample.code)


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("../../../etc/passwd.wav", "passwd.wav"),
        ("..\\..\\windows\\evil.wav", "evil.wav"),
        ("nul\x00byte.wav", "nulbyte.wav"),
        ("bell\x07and\x1bescape.wav", "bellandescape.wav"),
    ],
)
def test_hostile_file_names_never_reach_a_path(owner_client, owner, filename, shown):
    response = owner_client.post(
        "/api/v1/samples", data=multipart_body(filename, wav_bytes()), content_type=MULTIPART
    )
    assert response.status_code == 202, response.content
    sample = Sample.objects.get(code=response.json()["id"])
    assert sample.original_name == shown
    assert sample.raw.name == f"samples/{owner.code}/{sample.code}/raw"


def test_file_name_of_only_dots_is_refused_cleanly(owner_client):
    # Django drops a file part named ".." entirely; the request then lacks its file.
    response = owner_client.post(
        "/api/v1/samples", data=multipart_body("..", wav_bytes()), content_type=MULTIPART
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["file"]


def test_display_name_sanitiser():
    assert display_name("/a/b/c.wav") == "c.wav"
    assert display_name("x\u202egnp.wav") == "xgnp.wav"  # right-to-left override is a format char
    assert display_name("") == "upload"
    assert display_name("a" * 400 + ".wav") == "a" * 255
    assert display_name(" .hidden ") == "hidden"


def test_upload_without_file_is_400(owner_client):
    response = owner_client.post("/api/v1/samples", {}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_list_detail_audio_and_delete(owner_client, owner):
    ready = make_sample(owner)
    other = make_sample(owner, status=Sample.Status.PROCESSING)
    listed = owner_client.get("/api/v1/samples").json()
    assert listed["count"] == 2
    assert {item["id"] for item in listed["results"]} == {str(ready.code), str(other.code)}

    detail = owner_client.get(f"/api/v1/samples/{ready.code}").json()
    assert detail["report"]["ok"] is True
    assert detail["audio_url"] == f"/api/v1/samples/{ready.code}/audio"

    audio = owner_client.get(detail["audio_url"], HTTP_ACCEPT="audio/*")
    assert audio.status_code == 200
    assert audio["Content-Type"] == "audio/wav"
    assert b"".join(audio.streaming_content)[:4] == b"RIFF"

    not_ready = owner_client.get(f"/api/v1/samples/{other.code}/audio")
    assert not_ready.status_code == 409
    assert not_ready.json()["error"]["code"] == "sample_not_ready"

    assert owner_client.delete(f"/api/v1/samples/{ready.code}").status_code == 204
    assert not Sample.objects.filter(pk=ready.pk).exists()
    assert AuditEvent.objects.filter(action="voices.sample.deleted").exists()


def test_delete_removes_stored_files_on_commit(
    owner_client, owner, django_capture_on_commit_callbacks
):
    sample = make_sample(owner)
    names = [sample.raw.name, sample.clean.name]
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.delete(f"/api/v1/samples/{sample.code}").status_code == 204
    assert not any(default_storage.exists(name) for name in names)


def test_rejected_sample_shows_its_error_with_a_status(owner_client, owner):
    sample = make_sample(owner, status=Sample.Status.REJECTED)
    body = owner_client.get(f"/api/v1/samples/{sample.code}").json()
    assert body["status"] == "rejected"
    assert body["error"] == {"code": "not_audio", "message": "The file is empty.", "status": 415}


def test_sample_of_a_voice_cannot_be_deleted_alone(owner_client, owner):
    from voices.models import Voice

    voice = Voice.objects.create(owner=owner, name="V")
    sample = make_sample(owner, voice=voice)
    response = owner_client.delete(f"/api/v1/samples/{sample.code}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "sample_in_use"


# --- size limits -----------------------------------------------------------------------------
@pytest.fixture
def one_mb_plan(owner):
    plan = Plan.objects.create(slug="tiny", name="Tiny", max_upload_mb=1)
    owner.plan = plan
    owner.save(update_fields=["plan"])
    return plan


class CountingStream(io.RawIOBase):
    """A request body that records how much of it the server read."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)
        self.consumed = 0
        self.total = len(data)

    def read(self, size=-1):
        chunk = self._data.read(size)
        self.consumed += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = self._data.readline(size)
        self.consumed += len(line)
        return line


def test_declared_length_over_the_limit_is_refused_before_reading(owner_client, one_mb_plan):
    body = CountingStream(multipart_body("big.wav", b"\0" * (3 * MB)))
    response = owner_client.generic(
        "POST",
        "/api/v1/samples",
        data=b"",
        content_type=MULTIPART,
        **{"wsgi.input": body, "CONTENT_LENGTH": str(body.total)},
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "upload_too_large"
    assert "1 MB" in error["message"]
    assert body.consumed == 0
    assert not Sample.objects.exists()


def test_body_without_a_length_is_stopped_by_the_upload_handler(owner_client, one_mb_plan):
    # A de-chunked body (gunicorn: no Content-Length, wsgi.input_terminated) of 8 MB.
    body = CountingStream(multipart_body("big.wav", b"\0" * (8 * MB)))
    response = owner_client.generic(
        "POST",
        "/api/v1/samples",
        data=b"",
        content_type=MULTIPART,
        **{"wsgi.input": body, "CONTENT_LENGTH": "", "wsgi.input_terminated": True},
    )
    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "upload_too_large"
    # It stopped within a parser chunk or two of the limit, far from the end of the body.
    assert body.consumed < 1 * MB + 4 * 64 * 1024
    assert not Sample.objects.exists()


def test_body_without_a_length_under_the_limit_is_accepted(owner_client, one_mb_plan):
    content = wav_bytes(seconds=2.0)
    body = CountingStream(multipart_body("small.wav", content))
    response = owner_client.generic(
        "POST",
        "/api/v1/samples",
        data=b"",
        content_type=MULTIPART,
        **{"wsgi.input": body, "CONTENT_LENGTH": "", "wsgi.input_terminated": True},
    )
    assert response.status_code == 202, response.content
    assert Sample.objects.get().size == len(content)


def test_file_part_over_the_limit_within_the_declared_slack_is_stopped(owner_client, one_mb_plan):
    # The Content-Length passes the pre-check (limit + multipart overhead), the file does not.
    body = CountingStream(multipart_body("edge.wav", b"\0" * (MB + MULTIPART_OVERHEAD_BYTES // 2)))
    response = owner_client.generic(
        "POST",
        "/api/v1/samples",
        data=b"",
        content_type=MULTIPART,
        **{"wsgi.input": body, "CONTENT_LENGTH": str(body.total)},
    )
    assert response.status_code == 413
    assert not Sample.objects.exists()


def test_api_key_user_is_measured_against_their_own_plan(owner, one_mb_plan):
    client = key_client(owner, ["voices:write"])
    body = CountingStream(multipart_body("big.wav", b"\0" * (2 * MB)))
    response = client.generic(
        "POST",
        "/api/v1/samples",
        data=b"",
        content_type=MULTIPART,
        **{"wsgi.input": body, "CONTENT_LENGTH": str(body.total)},
    )
    assert response.status_code == 413
    assert body.consumed == 0
