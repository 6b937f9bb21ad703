"""POST /v1/voices/add (ElevenLabs' ivc.create) answers once the voice can speak, when no consent
recording is required (issue 13). A stand-in plays the workers here; the real worker and the SDK
are in test_elevenlabs.py (ivc.create, then convert at once)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from django.core.files.base import ContentFile
from django.db import connection

from config import queueing
from synthesis.compat import elevenlabs_voices
from tests.synthesis.compat.support import api_key, xi_client
from tests.voices.helpers import wav_bytes
from voices.models import Sample, Voice

pytestmark = pytest.mark.django_db


@pytest.fixture
def workers(monkeypatch, settings):
    """Each time the view waits, intake finishes every sample; the build ends as `outcome`
    says (None: it never ends). Records whether a transaction was open while it waited."""
    settings.VOICES_CONSENT_RECORDING_REQUIRED = False
    settings.COMPAT_VOICE_ADD_WAIT_SECONDS = 5.0
    state = SimpleNamespace(outcome=(Voice.Status.READY, ""), waits=0, in_transaction=[])

    def sleep(seconds):
        state.waits += 1
        state.in_transaction.append(connection.in_atomic_block)
        Sample.objects.exclude(status=Sample.Status.REJECTED).update(status=Sample.Status.READY)
        if state.outcome is not None:
            status, reason = state.outcome
            building = Voice.objects.filter(status=Voice.Status.BUILDING)
            building.update(status=status, failure_reason=reason)
        time.sleep(0.01)

    clock = SimpleNamespace(monotonic=time.monotonic, sleep=sleep)
    monkeypatch.setattr(elevenlabs_voices, "time", clock)
    return state


def _add(owner, name="Quick"):
    client = xi_client(api_key(owner, "voices:write"))
    body = {"name": name, "files": [ContentFile(wav_bytes(seconds=2.0), name="take.wav")]}
    return client.post("/v1/voices/add", body, format="multipart")


@pytest.mark.django_db(transaction=True)
def test_answers_once_the_voice_is_ready_without_holding_a_transaction(owner, workers, monkeypatch):
    sent = []
    monkeypatch.setattr(queueing.app, "send_task", lambda name, **kw: sent.append(name))
    response = _add(owner)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer == {
        "voice_id": answer["voice_id"],
        "requires_verification": False,
        "status": "ready",
    }
    assert Voice.objects.get(code=answer["voice_id"]).status == Voice.Status.READY
    assert workers.waits >= 2  # it waited for intake, then for the build
    assert workers.in_transaction and not any(workers.in_transaction)  # the worker can write
    assert "voices.tasks.voice_conditioning_compute" in sent  # the build really was queued


def test_a_failed_build_is_a_vendor_shaped_error_with_the_reason(owner, workers):
    workers.outcome = (Voice.Status.FAILED, "Too little speech in the samples.")
    response = _add(owner)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"]["code"] == body["detail"]["status"] == "voice_build_failed"
    assert "Too little speech in the samples." in body["detail"]["message"]
    voice = Voice.objects.get(code=body["error"]["details"]["voice_id"])
    assert voice.status == Voice.Status.FAILED  # kept, to retry from its page or delete


def test_a_build_that_outlasts_the_wait_says_so_and_names_the_voice(owner, workers, settings):
    workers.outcome = None
    settings.COMPAT_VOICE_ADD_WAIT_SECONDS = 0.3
    started = time.monotonic()
    response = _add(owner)
    assert time.monotonic() - started < 5
    # 503 elsewhere; 400 here, as the SDK's retry of a 5xx would drop the form fields.
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"]["status"] == "voice_build_timeout"
    voice_id = body["error"]["details"]["voice_id"]
    assert voice_id in body["detail"]["message"]
    assert Voice.objects.get(code=voice_id).status == Voice.Status.BUILDING
