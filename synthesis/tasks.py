"""Thin Celery tasks: load by id, call the service. Nothing imports this module: services
queue these tasks by name (config.queueing), on commit.

Routing is by name (config/celery.py): `synthesis.tasks.*` runs where the engines are loaded;
`synthesis.housekeeping.*` (webhooks, batch archives, retention sweeps) needs no engine and
runs on the `default` queue.
"""

from celery import shared_task

from synthesis.batches import services as batches
from synthesis.jobs import recovery, retention, runner
from synthesis.webhooks import services as webhooks
from synthesis.workers import status
from synthesis.workers.lifecycle import worker_engine_names


@shared_task(name="synthesis.tasks.synthesize", bind=True)
def synthesize(self, *, job_id: int, engine: str = "") -> None:
    # `engine` only routes the task to that engine's queue (config.celery.route_by_engine).
    runner.job_run(job_id=job_id, worker=self.request.hostname or "worker")


@shared_task(name="synthesis.tasks.engine_status_publish")
def engine_status_publish(*, engine: str = "") -> None:
    """Say again what this worker's engines are (after a database reset, or on demand): the
    ones it loads (TIMBRE_WORKER_ENGINES), not every installed one. `engine` only routes the
    task to that engine's queue, i.e. to a worker that loads it."""
    for name in worker_engine_names():
        status.engine_load_and_publish(name)


@shared_task(name="synthesis.housekeeping.webhook_deliver", bind=True, max_retries=None)
def webhook_deliver(self, *, delivery_id: int) -> None:
    # The attempt count and its limit (WEBHOOK_MAX_ATTEMPTS) live on the delivery row.
    retry_in = webhooks.delivery_attempt(delivery_id=delivery_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task(name="synthesis.housekeeping.batch_finish")
def batch_finish(*, batch_id: int) -> None:
    batches.batch_finish(batch_id=batch_id)


@shared_task(name="synthesis.housekeeping.retention_sweep")
def retention_sweep() -> dict:
    return retention.retention_sweep()


@shared_task(name="synthesis.housekeeping.outbox_sweep")
def outbox_sweep() -> dict:
    """Send what never reached a worker, take back what a dead worker held, end what waited
    past its bound (beat, every OUTBOX_SWEEP_SECONDS)."""
    result = recovery.outbox_sweep()
    result["batches"] = batches.batches_sweep()
    return result
