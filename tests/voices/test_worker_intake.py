"""The whole intake corpus through the API and the real intake task in a real worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from audit.models import AuditEvent
from tests.voices.audio.test_audio import ACCEPTED, REFUSED
from tests.voices.corpus import cached_corpus
from tests.voices.helpers import MULTIPART, multipart_body, wait_samples_done
from voices.models import Sample

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return cached_corpus(tmp_path_factory.getbasetemp() / "voices-corpus")


def test_every_corpus_file_through_the_worker(celery_worker, owner_client, owner, corpus):
    uploaded = {}
    for name in [*ACCEPTED, *REFUSED]:
        path = corpus[name]
        response = owner_client.post(
            "/api/v1/samples", {"file": path.open("rb")}, format="multipart"
        )
        assert response.status_code == 202, (name, response.content)
        uploaded[name] = response.json()["id"]
    # A hostile client-side name: stored under a generated name, shown sanitised.
    hostile = owner_client.post(
        "/api/v1/samples",
        data=multipart_body("../../x\x00y.wav", corpus["wav"].read_bytes()),
        content_type=MULTIPART,
    )
    assert hostile.status_code == 202
    uploaded["hostile_name"] = hostile.json()["id"]

    samples = wait_samples_done(list(uploaded.values()))
    log = celery_worker.log()[-3000:]
    for name in [*ACCEPTED, "hostile_name"]:
        sample = samples[uploaded[name]]
        assert sample.status == Sample.Status.READY, (name, sample.error_code, log)
        assert sample.report["speech_seconds"] >= 6, name
        assert default_storage.exists(sample.clean.name)
        audio = owner_client.get(f"/api/v1/samples/{sample.code}/audio")
        assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    assert samples[uploaded["hostile_name"]].original_name == "xy.wav"

    for name, code in REFUSED.items():
        sample = samples[uploaded[name]]
        body = owner_client.get(f"/api/v1/samples/{sample.code}").json()
        assert (body["status"], body["error"]["code"]) == ("rejected", code), name
        assert 400 <= body["error"]["status"] < 500 and body["error"]["message"]
        # Bad input leaves nothing in storage.
        assert not sample.raw and not sample.clean
        folder = f"samples/{owner.code}/{sample.code}"
        assert not default_storage.exists(folder) or default_storage.listdir(folder) == ([], [])
    assert AuditEvent.objects.filter(action="voices.sample.rejected").count() == len(REFUSED)
