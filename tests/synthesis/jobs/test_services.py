"""Request validation and failure paths of synthesis jobs (no worker needed)."""

import pytest

from config.service_errors import ServiceError
from synthesis.engines import runtime
from synthesis.jobs import runner, services
from synthesis.models import SynthesisJob
from voices.models import Voice


@pytest.fixture
def voice(owner):
    return Voice.objects.create(
        owner=owner, name="v", status=Voice.Status.READY, conditioning="voices/x/cond.npz"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"text": "   "}, "empty_text"),
        ({"text": "x" * 11}, "text_too_long"),
        ({"language": "xx"}, "unsupported_language"),
        ({"output_format": "ogg"}, "unsupported_format"),
        ({"params": {"speed": 9}}, "invalid_parameters"),
        ({"params": {"nonsense": 1}}, "invalid_parameters"),
    ],
)
def test_bad_requests_are_refused_with_a_code(owner, voice, settings, kwargs, code):
    settings.SYNTHESIS_MAX_CHARACTERS = 10
    args = {"text": "Hello.", **kwargs}
    with pytest.raises(ServiceError) as info:
        services.job_create(owner=owner, voice=voice, **args)
    assert info.value.code == code
    assert not SynthesisJob.objects.exists()


@pytest.mark.django_db
def test_someone_elses_voice_does_not_exist(stranger, voice):
    with pytest.raises(ServiceError) as info:
        services.job_create(owner=stranger, voice=voice, text="Hello.")
    assert info.value.code == "voice_not_found"


@pytest.mark.django_db
def test_voice_not_ready_is_refused(owner, voice):
    voice.status = Voice.Status.BUILDING
    voice.save()
    with pytest.raises(ServiceError, match="not ready"):
        services.job_create(owner=owner, voice=voice, text="Hello.")


@pytest.mark.django_db
def test_unavailable_engine_fails_the_job_with_the_fix(owner, voice, settings, monkeypatch):
    settings.XTTS_MODEL_DIR = "/nonexistent/xtts"
    settings.XTTS_ACCEPT_LICENSE = False
    monkeypatch.setattr(runtime, "_engines", {})
    monkeypatch.setattr("config.queueing.task_send", lambda name, **kw: None)
    job = services.job_create(owner=owner, voice=voice, text="Hello there.")
    runner.job_run(job_id=job.pk, worker="test")
    job.refresh_from_db()
    assert job.status == SynthesisJob.Status.FAILED
    assert "XTTS_MODEL_DIR" in job.error
    assert "Traceback" not in job.error
