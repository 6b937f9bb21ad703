"""Queueing work by task name, so that no service imports a `tasks` module.

Tasks are thin shells over services (`<app>/tasks.py`); services decide *when* work is queued.
Sending by name keeps the dependency one way (tasks → services) and lets the routes in
`config/celery.py` pick the queue from the name, exactly as `.delay()` would.

Sending never raises: a broker that is down must not turn an accepted request into a 500. The
rows that need the work (jobs, samples, voices) are the outbox: they record whether their task
went out, and the beat sweeper (`synthesis.housekeeping.outbox_sweep`) sends what did not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from kombu.exceptions import KombuError

from config.celery import app

logger = logging.getLogger(__name__)

# What a publish raises when the broker cannot be reached: kombu's OperationalError (a
# KombuError), or a refused socket surfacing as OSError.
_BROKER_ERRORS = (OSError, KombuError)


def task_send(name: str, **kwargs) -> bool:
    """Send task `name` with keyword arguments now; False (logged) when the broker is down."""
    try:
        app.send_task(name, kwargs=kwargs)
    except _BROKER_ERRORS as exc:
        logger.warning(
            "Broker unavailable, %s not sent (the outbox sweeper retries): %s", name, exc
        )
        return False
    return True


def task_send_on_commit(name: str, *, then: Callable[[bool], None] | None = None, **kwargs) -> None:
    """Send task `name` once the current transaction commits (at once outside a transaction);
    a rolled-back request queues nothing. `then(sent)` runs after the attempt, e.g. to record
    on the outbox row that the task went out."""

    def send() -> None:
        sent = task_send(name, **kwargs)
        if then is not None:
            then(sent)

    transaction.on_commit(send)
