"""A job as the scheduler holds it, and the handle its job thread reads audio from."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field

import numpy as np

from synthesis.engines.base import Row


class JobCancelled(Exception):
    """The job was cancelled; no more of its audio will come."""


class SchedulerClosed(Exception):
    """The scheduler stopped before the job finished."""


@dataclass
class QueuedJob:
    key: Hashable
    user: Hashable
    rows: list[Row]
    stream: bool
    cancelled: Callable[[], bool]
    order: int
    pending: collections.deque = field(default_factory=collections.deque)
    results: dict[int, np.ndarray] = field(default_factory=dict)
    delivered: int = 0
    error: BaseException | None = None
    closed: bool = False  # cancelled, failed or closed: nothing more is delivered


class JobHandle:
    """What `submit` returns: iterate it for the job's audio, one array per row, in order.

    Iteration blocks until the next row is ready; it raises the engine's exception if a row
    of the job failed, JobCancelled after a cancel, SchedulerClosed if the scheduler stopped.
    """

    def __init__(self, job: QueuedJob, condition: threading.Condition, cancel: Callable) -> None:
        self._job = job
        self._condition = condition
        self._cancel = cancel

    @property
    def key(self) -> Hashable:
        return self._job.key

    def cancel(self) -> None:
        """Take the job's pending rows out of the queue at the next step."""
        self._cancel(self._job)

    def __iter__(self) -> Iterator[np.ndarray]:
        job, condition = self._job, self._condition
        for index in range(len(job.rows)):
            with condition:
                while index not in job.results and job.error is None:
                    condition.wait()
                if job.error is not None and (
                    index not in job.results or isinstance(job.error, JobCancelled)
                ):
                    raise job.error
                audio = job.results.pop(index)
            yield audio
