"""Tasks of the `default` queue for synthesis: webhooks, batch archives, retention sweeps.

Named `synthesis.housekeeping.*` so that the `synthesis.tasks.*` route (the engine's queue)
does not take them (config/celery.py routes these to `default`). Thin: load by id, call the
service, which checks state and makes a repeated delivery harmless.
"""

from celery import shared_task


@shared_task(name="synthesis.housekeeping.webhook_deliver", bind=True, max_retries=None)
def webhook_deliver(self, *, delivery_id: int) -> None:
    from synthesis.webhooks import services as webhooks

    # The attempt count and its limit (WEBHOOK_MAX_ATTEMPTS) live on the delivery row.
    retry_in = webhooks.delivery_attempt(delivery_id=delivery_id)
    if retry_in is not None:
        raise self.retry(countdown=retry_in)


@shared_task(name="synthesis.housekeeping.batch_finish")
def batch_finish(*, batch_id: int) -> None:
    from synthesis.batches import services as batches

    batches.batch_finish(batch_id=batch_id)


@shared_task(name="synthesis.housekeeping.retention_sweep")
def retention_sweep() -> dict:
    from synthesis.jobs import retention

    return retention.retention_sweep()
