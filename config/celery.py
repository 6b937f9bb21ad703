"""The Celery application: three queues, JSON only, at-least-once delivery.

Tasks are idempotent (they reload rows by id and check state), so acks_late plus
reject_on_worker_lost trade a rare duplicate for never losing a job when a worker dies.
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("timbre")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("synthesis", "audio", "default")

app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="default",
    task_queues=[Queue(name) for name in QUEUES],
    # Routing by task name prefix: the speech engine lives only in synthesis workers, and
    # untrusted uploads are only ever decoded in audio workers.
    task_routes={
        "synthesis.tasks.*": {"queue": "synthesis"},
        "voices.tasks.sample_*": {"queue": "audio"},
        "voices.tasks.voice_*": {"queue": "synthesis"},
        # Webhooks, batch zips and retention sweeps need no engine.
        "synthesis.housekeeping.*": {"queue": "default"},
    },
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()
