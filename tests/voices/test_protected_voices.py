"""Protected voices with the real intake and the real resemblyzer: a sample or consent recording
in a protected espeak-ng voice is refused, flagged and audited; another voice passes.

The services run in-process (the audio worker runs exactly these functions); queued tasks are
captured, never sent, so the session's real worker cannot take them.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from audit.models import AuditEvent
from tests.factories import UserFactory
from tests.voices.corpus import RATE, TEXT_B, recording, speak
from voices import services
from voices.models import Flag, ProtectedVoice, Sample
from voices.services import protected as protected_services

pytestmark = pytest.mark.django_db


def wav_bytes(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.clip(audio, -1, 1), RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def voices_audio(tmp_path_factory) -> dict[str, bytes]:
    """The protected person's samples (TEXT_B, en+m3) and two takes the users upload (other
    sentences): en+m3 again, and en+f3."""
    tmp = tmp_path_factory.mktemp("protected")
    return {
        "protected": wav_bytes(speak(TEXT_B, tmp / "protected.wav", voice="m3")),
        "m3_take": wav_bytes(recording(tmp, voice="m3", seed=1)),
        "f3_take": wav_bytes(recording(tmp, voice="f3", seed=2)),
    }


@pytest.fixture
def admin_user(db):
    return UserFactory(email="admin@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def protected_m3(admin_user, voices_audio, django_capture_on_commit_callbacks) -> ProtectedVoice:
    with django_capture_on_commit_callbacks(execute=False) as queued:
        protected = protected_services.protected_voice_create(
            name="A famous narrator",
            note="Asked not to be cloned.",
            uploads=[ContentFile(voices_audio["protected"], name="narrator.wav")],
            admin_user=admin_user,
        )
    assert len(queued) == 1  # the embedding goes to the audio queue on commit
    assert protected.status == ProtectedVoice.Status.PENDING
    protected_services.protected_voice_embed_run(protected_id=protected.pk)  # the worker's part
    protected.refresh_from_db()
    assert protected.status == ProtectedVoice.Status.READY, protected.error
    return protected


def intake(owner, content: bytes, *, purpose=Sample.Purpose.VOICE) -> Sample:
    sample = services.sample_create(
        owner=owner, upload=ContentFile(content, name="take.wav"), purpose=purpose
    )
    services.sample_intake_run(sample_id=sample.pk)
    sample.refresh_from_db()
    return sample


def test_the_protected_voice_is_refused_and_another_voice_passes(
    protected_m3, owner, voices_audio, settings
):
    embedding = protected_services.embedding_from_bytes(protected_m3.embedding)
    assert embedding.shape == (256,) and np.linalg.norm(embedding) == pytest.approx(1, abs=1e-3)

    refused = intake(owner, voices_audio["m3_take"])
    assert (refused.status, refused.error_code) == (Sample.Status.REJECTED, "protected_voice")
    assert "may not be cloned" in refused.error_message
    assert "narrator" not in refused.error_message  # the user never learns whom it resembles
    assert not refused.raw and not refused.clean  # nothing of it is kept

    flag = Flag.objects.get(kind=Flag.Kind.PROTECTED_VOICE)
    assert flag.status == Flag.Status.OPEN
    score = flag.details["score"]
    assert score >= settings.PROTECTED_VOICE_THRESHOLD == flag.details["threshold"]
    assert flag.details["protected_voice"] == str(protected_m3.code)
    assert flag.details["sample"] == str(refused.code) and flag.details["owner"] == owner.email
    assert "A famous narrator" in flag.reason and f"{score:.2f}" in flag.reason
    event = AuditEvent.objects.get(action="voices.sample.protected_voice")
    assert event.target_id == str(refused.code) and event.data["flag"] == str(flag.code)
    assert event.data["score"] == score

    passed = intake(owner, voices_audio["f3_take"])
    assert passed.status == Sample.Status.READY, passed.error_message
    processed = AuditEvent.objects.get(action="voices.sample.processed", target_id=str(passed.code))
    check = processed.data["protected_voice"]
    assert check["score"] < settings.PROTECTED_VOICE_THRESHOLD
    assert check["score"] < score
    print(f"protected en+m3: en+m3 take {score:.4f}, en+f3 take {check['score']:.4f}")
    assert "protected_voice" not in passed.report  # the owner's report says nothing of it
    assert Flag.objects.filter(kind=Flag.Kind.PROTECTED_VOICE).count() == 1


def test_a_consent_recording_in_the_protected_voice_is_refused(protected_m3, voices_audio):
    owner = UserFactory()
    consent = intake(owner, voices_audio["m3_take"], purpose=Sample.Purpose.CONSENT)
    assert consent.error_code == "protected_voice"
    flag = Flag.objects.get(kind=Flag.Kind.PROTECTED_VOICE)
    assert flag.details["purpose"] == "consent"


def test_an_inactive_protected_voice_is_not_compared(protected_m3, admin_user, voices_audio):
    protected_services.protected_voice_set_active(
        protected=protected_m3, active=False, admin_user=admin_user
    )
    assert AuditEvent.objects.filter(action="voices.protected_voice.deactivated").exists()
    sample = intake(UserFactory(), voices_audio["m3_take"])
    assert sample.status == Sample.Status.READY
    event = AuditEvent.objects.get(action="voices.sample.processed", target_id=str(sample.code))
    assert "protected_voice" not in event.data  # nothing to compare with: not even embedded


def test_a_protected_voice_whose_sample_is_not_audio_fails_visibly(
    admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        protected = protected_services.protected_voice_create(
            name="Broken", note="", uploads=[ContentFile(b"no audio" * 50, name="x.wav")],
            admin_user=admin_user,
        )  # fmt: skip
    protected_services.protected_voice_embed_run(protected_id=protected.pk)
    protected.refresh_from_db()
    assert protected.status == ProtectedVoice.Status.FAILED
    assert "not an audio file" in protected.error
    assert AuditEvent.objects.filter(action="voices.protected_voice.failed").exists()
    # An admin can queue it again (say, after replacing a broken upload).
    with django_capture_on_commit_callbacks(execute=False) as queued:
        protected_services.protected_voice_embed_retry(protected=protected, admin_user=admin_user)
    protected.refresh_from_db()
    assert (protected.status, protected.error, len(queued)) == ("pending", "", 1)


def test_admins_add_one_by_uploading_samples_and_see_scores(
    admin_user, client, voices_audio, protected_m3, owner
):
    client.force_login(admin_user)
    files = [
        io.BytesIO(voices_audio["protected"]),
        io.BytesIO(voices_audio["protected"]),
    ]
    for index, handle in enumerate(files):
        handle.name = f"sample-{index}.wav"
    response = client.post(
        "/admin/voices/protectedvoice/add/",
        {"name": "Another person", "note": "Court order.", "sample_files": files},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    added = ProtectedVoice.objects.get(name="Another person")
    assert added.status == ProtectedVoice.Status.PENDING and added.created_by == admin_user
    assert len(added.samples) == 2 and all(default_storage.exists(n) for n in added.samples)
    assert AuditEvent.objects.filter(
        action="voices.protected_voice.created", target_id=str(added.code)
    ).exists()
    # No sample: a form error, not a 500.
    empty = client.post("/admin/voices/protectedvoice/add/", {"name": "Nobody"})
    assert empty.status_code == 200 and b"This field is required" in empty.content

    page = client.get(f"/admin/voices/protectedvoice/{protected_m3.pk}/change/")
    assert page.status_code == 200 and b"PROTECTED_VOICE_THRESHOLD" in page.content

    refused = intake(owner, voices_audio["m3_take"])
    page = client.get(f"/admin/voices/sample/{refused.pk}/change/").content.decode()
    assert "refused: closest &#x27;A famous narrator&#x27;, similarity" in page
    flag = Flag.objects.get(kind=Flag.Kind.PROTECTED_VOICE)
    page = client.get(f"/admin/voices/flag/{flag.pk}/change/").content.decode()
    assert "threshold" in page and str(flag.details["score"]) in page


def test_the_threshold_is_a_setting(protected_m3, owner, voices_audio, settings):
    settings.PROTECTED_VOICE_THRESHOLD = 0.999
    sample = intake(owner, voices_audio["m3_take"])
    assert sample.status == Sample.Status.READY
