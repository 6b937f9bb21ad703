"""Spying on the tasks services queue by name (config.queueing), instead of sending them."""

from __future__ import annotations

from contextlib import contextmanager
from unittest import mock


@contextmanager
def task_spy(name: str):
    """A Mock called with the keyword arguments of every `name` task sent meanwhile; tasks of
    other names are dropped (nothing reaches a broker)."""
    spy = mock.Mock()

    def send(task_name, **kwargs):
        if task_name == name:
            spy(**kwargs)
        return True

    with mock.patch("config.queueing.task_send", send):
        yield spy
