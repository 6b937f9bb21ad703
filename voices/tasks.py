"""Thin Celery tasks: load by id, call the service.

Routing is by name (config/celery.py): "voices.tasks.sample_*" runs on the `audio` queue, where
untrusted uploads are decoded. Speaker verification of a consent recording is audio work too,
hence its name.
"""

from celery import shared_task

from voices import services


@shared_task(name="voices.tasks.sample_intake")
def sample_intake(sample_id: int) -> None:
    services.sample_intake_run(sample_id=sample_id)


@shared_task(name="voices.tasks.sample_consent_verify")
def sample_consent_verify(consent_id: int) -> None:
    services.consent_verify_run(consent_id=consent_id)
