"""The registry end to end: the real worker records its outputs, and an admin's "Was this
generated here?" (checked on the worker's audio queue) names the account of a re-encoded copy."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.test import Client

from audit.models import AuditEvent
from provenance.models import GenerationRecord
from tests.factories import UserFactory
from tests.provenance.support import espeak_wav, stock_job

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LOOKUP = "/admin/provenance/generationrecord/lookup/"


@pytest.fixture(autouse=True)
def _worker(celery_worker):
    return celery_worker


def _check(client: Client, path: Path) -> str:
    with path.open("rb") as handle:
        response = client.post(LOOKUP, {"file": handle})
    assert response.status_code == 200
    return response.content.decode()


def test_an_admin_finds_the_account_of_a_reencoded_output(tmp_path):
    owner = UserFactory(email="speaker@example.com")
    job = stock_job(owner, fmt="mp3")
    record = GenerationRecord.objects.get(job_code=job.code)  # recorded by the worker itself
    assert (record.user, record.voice_code, record.output_format) == (owner, job.voice.code, "mp3")
    copy = tmp_path / "passed-on.mp3"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", job.audio.path, "-ar", "16000",
         "-b:a", "64k", str(copy)],
        check=True, timeout=60,
    )  # fmt: skip

    admin = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    assert (
        "Was this generated here?"
        in client.get("/admin/provenance/generationrecord/").content.decode()
    )
    page = _check(client, copy)
    assert 'id="registry-matches"' in page
    assert "speaker@example.com" in page and str(job.code) in page
    assert str(job.voice.code) in page
    event = AuditEvent.objects.get(action="provenance.registry.admin_lookup")
    assert event.data["matched_jobs"] == [str(job.code)] and event.actor_user == admin

    unrelated = _check(client, espeak_wav(tmp_path / "elsewhere.wav", voice="en+f3"))
    assert 'id="registry-no-match"' in unrelated and "speaker@example.com" not in unrelated

    notes = tmp_path / "notes.mp3"
    notes.write_text("not audio " * 200)
    refused = _check(client, notes)  # the intake's refusal, shown on the page: never a 500
    assert "errornote" in refused and 'id="registry-matches"' not in refused

    listing = client.get("/admin/provenance/generationrecord/", {"q": owner.email}).content.decode()
    assert str(job.code) in listing
    # Read-only: nobody adds, edits or deletes records by hand.
    assert client.get("/admin/provenance/generationrecord/add/").status_code == 403
