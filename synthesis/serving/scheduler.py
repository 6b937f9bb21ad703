"""One engine thread serving the rows (text chunks) of many jobs at once, fair between users.

Pure Python over the Engine interface (no torch, no Django): job threads `submit` a job's
rows and read its audio back in order from the returned handle; one engine thread per engine
forms each batch from the pending rows of all jobs and runs it on the engine.

Batch forming, before every step:

1. rows of cancelled jobs leave (the queue, and a continuous batch; in a one-call step a row
   already running finishes and its audio is dropped);
2. the next row of every streaming job goes first (first audio comes early);
3. the remaining room goes by deficit round robin across USERS, not jobs: users are visited
   in turn; a visit takes the user's next row if its characters fit the user's allowance,
   otherwise it adds `quantum` characters to the allowance. One row per visit keeps one
   batch mixed; the allowance keeps shares equal in characters over time. Characters are
   the cost unit because generation time grows with the tokens a row makes, which grow with
   its characters; counting rows would let long chunks outweigh short ones. Streaming rows
   are charged too, so streaming buys latency, not share. Within a user, jobs are served
   first come, first served.

Continuous batching: when the engine offers a `row_stepper` (XTTS does), a step is one GPT
token for every running row, and before each step the rows of cancelled jobs leave and free
slots are refilled from the queue, so a finished chunk's slot is refilled at the next token.
Other engines run one `synthesize_rows` call per step: slots are refilled when the call ends
(rows are yielded as each finishes, so their jobs get them at once).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Hashable

import numpy as np

from synthesis.engines.base import Engine, Row, RowStepper

from .jobs import JobCancelled, JobHandle, QueuedJob, SchedulerClosed

__all__ = ["JobCancelled", "JobHandle", "Scheduler", "SchedulerClosed"]

logger = logging.getLogger(__name__)

#: Per-step records kept for `stats()` (a bounded window, for benchmarks and health pages).
STEP_HISTORY = 10_000


class Scheduler:
    """The engine thread of one engine and the queue that feeds it. Thread-safe.

    `max_batch` caps rows per step (default: the engine's `batch_limit`). `quantum` is the
    characters a user's allowance grows by per visit without a row taken. With `log_steps`
    every step logs one INFO line naming its jobs and users (worker logs, benchmarks).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int | None = None,
        quantum: int = 40,
        log_steps: bool = False,
    ):
        if quantum < 1:
            raise ValueError("quantum must be at least 1 character")
        self.engine = engine
        self.max_batch = max_batch
        self.quantum = quantum
        self.log_steps = log_steps
        self._condition = threading.Condition()
        self._jobs: dict[Hashable, QueuedJob] = {}
        self._users: collections.deque = collections.deque()  # round-robin order
        self._deficit: dict[Hashable, float] = {}
        self._submitted = 0
        self._oom_limit: int | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.last_step_at: float | None = None  # time.monotonic() of the last step's end
        self.histogram: collections.Counter[int] = collections.Counter()
        self.steps: collections.deque[dict] = collections.deque(maxlen=STEP_HISTORY)

    # -- job threads ---------------------------------------------------------------------------

    def start(self) -> Scheduler:
        with self._condition:
            if self._thread is None:
                name = f"engine-{self.engine.name or 'engine'}"
                self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
                self._thread.start()
        return self

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the engine thread after its current step; unfinished jobs get SchedulerClosed."""
        with self._condition:
            self._stopping = True
            for job in self._jobs.values():
                self._fail(job, SchedulerClosed("the synthesis scheduler stopped"))
            self._jobs.clear()
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def submit(
        self,
        job_key: Hashable,
        user_key: Hashable,
        rows: list[Row],
        *,
        stream: bool = False,
        cancelled: Callable[[], bool] | None = None,
    ) -> JobHandle:
        """Queue a job's rows. `cancelled` is polled by the engine thread before each step,
        so it must be cheap (read a flag the job thread keeps, not the database)."""
        with self._condition:
            if self._stopping:
                raise SchedulerClosed("the synthesis scheduler stopped")
            if job_key in self._jobs:
                raise ValueError(f"job {job_key!r} is already scheduled")
            job = QueuedJob(
                key=job_key,
                user=user_key,
                rows=list(rows),
                stream=stream,
                cancelled=cancelled or (lambda: False),
                order=self._submitted,
            )
            self._submitted += 1
            job.pending.extend(range(len(rows)))
            if rows and not self._jobs:  # idle until now: the wait for a step starts here
                self.last_step_at = time.monotonic()
            if rows:
                self._jobs[job_key] = job
                self._enrol(user_key)
            self._condition.notify_all()
        return JobHandle(job, self._condition, self._cancel)

    def stats(self) -> dict:
        """Batch-size histogram and totals over the recorded steps (JSON-serialisable)."""
        with self._condition:
            steps = list(self.steps)
            histogram = {str(size): count for size, count in sorted(self.histogram.items())}
        busy = sum(step["seconds"] for step in steps)
        rows = sum(step["rows"] for step in steps)
        return {
            "steps": len(steps),
            "rows": rows,
            "busy_seconds": busy,
            "mean_batch": rows / len(steps) if steps else 0.0,
            "batch_histogram": histogram,
            "audio_seconds": sum(step["audio_seconds"] for step in steps),
        }

    def _enrol(self, user: Hashable) -> None:
        """Put a user with pending rows into the round (at the back, with no allowance)."""
        if user not in self._deficit:
            self._users.append(user)
            self._deficit[user] = 0.0

    def _cancel(self, job: QueuedJob) -> None:
        with self._condition:
            if not job.closed:
                self._fail(job, JobCancelled(f"job {job.key!r} was cancelled"))
                self._jobs.pop(job.key, None)
                self._condition.notify_all()

    # -- engine thread -------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """The engine thread runs (phase 2: a job's heartbeat stops when this turns False)."""
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    def stuck(self, *, now: float, seconds: float) -> bool:
        """The engine thread died, or holds rows and made no step for `seconds`."""
        if self._thread is None:
            return False
        if not self._thread.is_alive():
            return True
        with self._condition:
            busy = bool(self._jobs)
            last = self.last_step_at
        return busy and last is not None and now - last > seconds

    def _serve(self) -> None:
        try:
            self._serve_steps()
        except BaseException as exc:  # a bug here must not leave job threads waiting forever
            logger.exception("the %s engine thread stopped", self.engine.name)
            with self._condition:
                self._stopping = True
                for job in self._jobs.values():
                    self._fail(job, SchedulerClosed(f"the engine thread stopped: {exc!r}"))
                self._jobs.clear()
                self._condition.notify_all()
            raise

    def _serve_steps(self) -> None:
        self.last_step_at = time.monotonic()
        stepper = self.engine.row_stepper()
        if stepper is not None:
            self._serve_continuous(stepper)
            return
        while True:
            with self._condition:
                batch = self._next_batch(self._limit())
                while not batch and not self._stopping:
                    self._condition.wait()
                    batch = self._next_batch(self._limit())
                if self._stopping:
                    return
            self._run(batch)

    def _serve_continuous(self, stepper: RowStepper) -> None:
        """Token-level: before every engine step, rows of closed jobs leave and free slots
        are refilled from the queue; rows are delivered in the step they finish."""
        running: dict[tuple[int, int], tuple[QueuedJob, int]] = {}
        while True:
            with self._condition:
                gone = {key for key, (job, _) in running.items() if job.closed}
                fresh = self._next_batch(self._limit() - len(running) + len(gone))
                while not fresh and len(running) == len(gone) and not self._stopping:
                    self._condition.wait()
                    fresh = self._next_batch(self._limit())
                if self._stopping:
                    return
            if gone:
                stepper.drop(gone)
                for key in gone:
                    del running[key]
            for job, index in fresh:
                try:
                    stepper.admit((job.order, index), job.rows[index])
                except Exception as exc:  # a bad row fails its job alone
                    self._fail_jobs([job], exc)
                else:
                    running[(job.order, index)] = (job, index)
            if not running:
                continue
            started, rows = time.perf_counter(), list(running.values())
            try:
                finished = stepper.step()
            except Exception as exc:
                stepper = self._step_failed(stepper, running, exc)
                continue
            samples = 0
            for key, audio in finished:
                job, index = running.pop(key)
                samples += len(audio)
                self._deliver(job, index, audio)
            self._record(rows, time.perf_counter() - started, samples)

    def _step_failed(self, stepper: RowStepper, running: dict, exc: Exception) -> RowStepper:
        """Out of memory: halve the batch and requeue every running row (seeded rows restart
        to the same audio). Otherwise the running rows' jobs fail. Either way a fresh batch."""
        rows = sorted(running.values(), key=lambda item: (item[0].order, item[1]))
        running.clear()
        if _out_of_memory(exc) and len(rows) > 1:
            self._requeue(rows, limit=len(rows) // 2)
        else:
            self._fail_jobs([job for job, _ in rows], exc)
        return self.engine.row_stepper()

    def _requeue(self, rows: list[tuple[QueuedJob, int]], *, limit: int) -> None:
        with self._condition:
            self._oom_limit = max(1, limit)
            logger.warning("batch of %d ran out of memory; now %d", len(rows), self._oom_limit)
            for job, index in reversed(rows):
                if not job.closed:
                    job.pending.appendleft(index)
                    self._enrol(job.user)

    def _fail_jobs(self, jobs: list[QueuedJob], exc: BaseException) -> None:
        with self._condition:
            for job in jobs:
                self._fail(job, exc)
                self._jobs.pop(job.key, None)
            self._condition.notify_all()

    def _limit(self) -> int:
        limit = self.max_batch or self.engine.batch_limit
        return max(1, min(limit, self._oom_limit or limit))

    def _next_batch(self, room: int) -> list[tuple[QueuedJob, int]]:
        """Under the lock: drop cancelled jobs, then up to `room` rows: streaming jobs' next
        rows, then fair shares."""
        for job in list(self._jobs.values()):
            try:
                gone: BaseException | None = (
                    JobCancelled(f"job {job.key!r} was cancelled") if job.cancelled() else None
                )
            except Exception as exc:  # a broken cancel check fails its own job only
                gone = exc
            if gone is not None:
                self._fail(job, gone)
                del self._jobs[job.key]
                self._condition.notify_all()
        batch: list[tuple[QueuedJob, int]] = []
        for job in sorted(self._jobs.values(), key=lambda job: job.order):
            if job.stream and job.pending and len(batch) < room:
                index = job.pending.popleft()
                self._enrol(job.user)
                self._deficit[job.user] -= len(job.rows[index].text)
                batch.append((job, index))
        while len(batch) < room:
            taken = self._fair_row()
            if taken is None:
                break
            batch.append(taken)
        return batch

    def _fair_row(self) -> tuple[QueuedJob, int] | None:
        """The next row by deficit round robin across users, or None when nothing is pending."""
        while self._users:
            user = self._users[0]
            job = self._oldest_pending(user)
            if job is None:  # nothing left: the user leaves the round until it submits again
                self._users.popleft()
                del self._deficit[user]
                continue
            cost = len(job.rows[job.pending[0]].text)
            if self._deficit[user] < cost:
                self._deficit[user] += self.quantum
                self._users.rotate(-1)
                continue
            # One row per visit, so that one batch already mixes users.
            self._deficit[user] -= cost
            self._users.rotate(-1)
            return job, job.pending.popleft()
        return None

    def _oldest_pending(self, user: Hashable) -> QueuedJob | None:
        jobs = [job for job in self._jobs.values() if job.user == user and job.pending]
        return min(jobs, key=lambda job: job.order) if jobs else None

    def _run(self, batch: list[tuple[QueuedJob, int]]) -> None:
        started = time.perf_counter()
        delivered: set[int] = set()
        samples = 0
        try:
            for position, audio in self.engine.synthesize_rows([job.rows[i] for job, i in batch]):
                job, index = batch[position]
                delivered.add(position)
                samples += len(audio)
                self._deliver(job, index, audio)
        except Exception as exc:  # the failing rows' job threads re-raise it
            rest = [item for position, item in enumerate(batch) if position not in delivered]
            self._recover(rest, exc)
        self._record(batch, time.perf_counter() - started, samples)

    def _recover(self, rest: list[tuple[QueuedJob, int]], exc: Exception) -> None:
        """Out of memory: halve the batch and requeue. Otherwise, when several rows shared the
        failed call, run each alone so that only the failing rows' jobs fail."""
        if _out_of_memory(exc) and len(rest) > 1:
            self._requeue(rest, limit=len(rest) // 2)
            return
        if len(rest) == 1:
            self._fail_jobs([rest[0][0]], exc)
            return
        for item in rest:
            self._run([item])

    def _deliver(self, job: QueuedJob, index: int, audio: np.ndarray) -> None:
        with self._condition:
            if not job.closed:
                job.results[index] = audio
                job.delivered += 1
                if job.delivered == len(job.rows):
                    # Done: it leaves the queue; its handle still reads the buffered results.
                    self._jobs.pop(job.key, None)
            self._condition.notify_all()

    def _fail(self, job: QueuedJob, exc: BaseException) -> None:
        job.closed = True
        job.pending.clear()
        if job.error is None:
            job.error = exc

    def _record(self, batch: list[tuple[QueuedJob, int]], seconds: float, samples: int) -> None:
        with self._condition:
            self.last_step_at = time.monotonic()
            self.histogram[len(batch)] += 1
            self.steps.append(
                {
                    "rows": len(batch),
                    "jobs": len({job.key for job, _ in batch}),
                    "users": len({job.user for job, _ in batch}),
                    "streaming_rows": sum(1 for job, _ in batch if job.stream),
                    "characters": sum(len(job.rows[i].text) for job, i in batch),
                    "seconds": seconds,
                    "audio_seconds": samples / self.engine.sample_rate,
                    "batch": [(job.key, i) for job, i in batch],
                }
            )
        if self.log_steps:
            logger.info(
                "Engine step: %d rows in %.3f s; jobs %s; users %s",
                len(batch),
                seconds,
                ",".join(str(key) for key in sorted({str(job.key) for job, _ in batch})),
                ",".join(str(key) for key in sorted({str(job.user) for job, _ in batch})),
            )


def _out_of_memory(exc: BaseException) -> bool:
    """torch.OutOfMemoryError (CUDA) without importing torch here."""
    return type(exc).__name__ == "OutOfMemoryError"
