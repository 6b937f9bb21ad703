"""Thin Celery tasks: load by id, call the service. Nothing imports this module: services
queue these tasks by name (config.queueing), on commit.

Routing is by name (config/celery.py): "voices.tasks.sample_*" runs on the `audio` queue, where
untrusted uploads are decoded (speaker verification of a consent recording is audio work too,
hence its name); "voices.tasks.voice_*" runs on the `synthesis` queue, where the engines are.
"""

from celery import shared_task

from voices import services
from voices.services import conditioning, engines, protected


@shared_task(name="voices.tasks.sample_intake")
def sample_intake(sample_id: int) -> None:
    services.sample_intake_run(sample_id=sample_id)


@shared_task(name="voices.tasks.sample_consent_verify")
def sample_consent_verify(consent_id: int) -> None:
    services.consent_verify_run(consent_id=consent_id)


# "sample_" routes it to the audio queue: the admin's samples are decoded like anyone's.
@shared_task(name="voices.tasks.sample_protected_voice_embed")
def sample_protected_voice_embed(protected_id: int) -> None:
    protected.protected_voice_embed_run(protected_id=protected_id)


@shared_task(name="voices.tasks.voice_conditioning_compute")
def voice_conditioning_compute(*, voice_id: int, sample_names: list[str], engine: str = "") -> None:
    # `engine` only routes the task to that engine's queue (config.celery.route_by_engine).
    conditioning.voice_conditioning_compute(voice_id=voice_id, sample_names=sample_names)


@shared_task(name="voices.tasks.voice_engine_conditioning_compute")
def voice_engine_conditioning_compute(
    *, conditioning_id: int, sample_names: list[str], engine: str = ""
) -> None:
    # `engine` routes the task to that engine's queue; the row names the engine to use.
    engines.voice_engine_conditioning_compute(
        conditioning_id=conditioning_id, sample_names=sample_names
    )
