"""Thin Celery tasks: load by id, call the service."""

from celery import shared_task

# housekeeping: imported so that its default-queue tasks are registered with the worker.
from synthesis.jobs import services
from voices.services import conditioning


@shared_task(name="synthesis.tasks.synthesize", bind=True)
def synthesize(self, *, job_id: int) -> None:
    services.job_run(job_id=job_id, worker=self.request.hostname or "worker")


@shared_task(name="synthesis.tasks.voice_conditioning_compute")
def voice_conditioning_compute(*, voice_id: int, sample_names: list[str]) -> None:
    conditioning.voice_conditioning_compute(voice_id=voice_id, sample_names=sample_names)


@shared_task(name="synthesis.tasks.engine_status_publish")
def engine_status_publish() -> None:
    """Say again what this worker's engines are (after a database reset, or on demand)."""
    from synthesis.engines import runtime

    for name in ("xtts", "piper"):
        runtime.engine_load_and_publish(name)
