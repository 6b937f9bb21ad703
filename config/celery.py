"""The Celery application: three queues (plus one per engine), JSON only, at-least-once delivery.

Tasks are idempotent (they reload rows by id and check state), so acks_late plus
reject_on_worker_lost trade a rare duplicate for never losing a job when a worker dies. What the
broker still loses (a filesystem broker, a whole worker killed under Redis's visibility timeout)
the beat sweeper recovers from the rows themselves (`synthesis.housekeeping.outbox_sweep`).

Engine work goes to `synthesis.<engine>` when the sender names the engine (`engine=` keyword),
so that one synthesis worker per engine and host can run (a worker that consumes `synthesis`
also consumes the queues of the engines it loads, see synthesis.workers.lifecycle).
"""

import logging.config
import os

from celery import Celery, signals
from kombu import Queue

from config.logs import NO_REQUEST, request_id_var

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("timbre")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("synthesis", "audio", "default")


def engine_queue(engine: str) -> str:
    """The queue of one engine's work (synthesis jobs and voice builds)."""
    return f"synthesis.{engine}"


def route_by_engine(name, args, kwargs, options, task=None, **kw):
    """Engine work named with `engine=` goes to that engine's queue; the rest falls through."""
    engine = (kwargs or {}).get("engine")
    if engine and name.startswith(("synthesis.tasks.", "voices.tasks.voice_")):
        return {"queue": engine_queue(engine)}
    return None


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
    task_routes=(
        route_by_engine,
        {
            "synthesis.tasks.*": {"queue": "synthesis"},
            "voices.tasks.sample_*": {"queue": "audio"},
            "voices.tasks.voice_*": {"queue": "synthesis"},
            # "Was this made here?" decodes an untrusted upload: audio workers only.
            "provenance.tasks.*": {"queue": "audio"},
            # Webhooks, batch zips, retention and outbox sweeps need no engine.
            "synthesis.housekeeping.*": {"queue": "default"},
        },
    ),
    broker_connection_retry_on_startup=True,
    # A request must not hang on a broker that is down: a few quick publish retries, then the
    # row stays unsent and the outbox sweeper sends it later.
    task_publish_retry_policy={
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.5,
        "interval_max": 1,
    },
    broker_connection_timeout=3,
    worker_hijack_root_logger=False,
)
app.autodiscover_tasks()


# --- Logging: the workers use Django's LOGGING (config/logs.py), not Celery's own set-up ------
REQUEST_ID_HEADER = "timbre_request_id"


@signals.setup_logging.connect
def _logging_from_django(**kwargs) -> None:
    """A receiver here makes Celery leave logging alone (no handlers of its own, no stdout
    redirection): every worker record goes through the same handler, filters and format."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@signals.celeryd_after_setup.connect
def _prints_through_logging(conf=None, **kwargs) -> None:
    """What Celery does when it sets logging up itself: stray prints and stderr writes (model
    loaders, libraries) become log records, so they are formatted and scrubbed like the rest.
    The start-up banner goes to the real stdout regardless."""
    if conf is not None and conf.worker_redirect_stdouts:
        app.log.redirect_stdouts(conf.worker_redirect_stdouts_level)


@signals.before_task_publish.connect
def _stamp_request_id(headers=None, **kwargs) -> None:
    """A task queued while a request runs carries that request's id to the worker."""
    request_id = request_id_var.get()
    if headers is not None and request_id != NO_REQUEST:
        headers[REQUEST_ID_HEADER] = request_id


@signals.task_prerun.connect
def _task_request_id(task=None, **kwargs) -> None:
    """In a worker, a task's records carry the id of the request that queued it ("-" when
    none did). Tasks run eagerly (in the caller) keep the caller's id."""
    if task is None or task.request.is_eager:
        return
    request_id_var.set(getattr(task.request, REQUEST_ID_HEADER, None) or NO_REQUEST)


@signals.task_postrun.connect
def _task_request_id_end(task=None, **kwargs) -> None:
    if task is not None and not task.request.is_eager:
        request_id_var.set(NO_REQUEST)
