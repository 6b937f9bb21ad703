"""Queueing work by task name, so that no service imports a `tasks` module.

Tasks are thin shells over services (`<app>/tasks.py`); services decide *when* work is queued.
Sending by name keeps the dependency one way (tasks → services) and lets the routes in
`config/celery.py` pick the queue from the name, exactly as `.delay()` would.
"""

from __future__ import annotations

from django.db import transaction

from config.celery import app


def task_send(name: str, **kwargs) -> None:
    """Send task `name` with keyword arguments now."""
    app.send_task(name, kwargs=kwargs)


def task_send_on_commit(name: str, **kwargs) -> None:
    """Send task `name` once the current transaction commits (at once outside a transaction);
    a rolled-back request queues nothing."""
    transaction.on_commit(lambda: task_send(name, **kwargs))
