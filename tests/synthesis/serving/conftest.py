"""A steppable toy engine for the scheduler tests: each `synthesize_rows` call (one scheduler
step) waits until the test allows it, so what shares a batch is decided, not raced."""

from __future__ import annotations

import math
import threading

import pytest

from synthesis.engines.base import Conditioning, job_rows
from tests.support.toy_engine import FACTS
from tests.support.toy_engine.engine import ToyEngine


class OutOfMemoryError(RuntimeError):
    """Named like torch's, which is how the scheduler recognises it without torch."""


class SteppedToy(ToyEngine):
    """The toy engine, one step at a time; rows reading "boom" fail; more than
    `memory_rows` rows in a call run out of memory; rows are yielded last first."""

    max_batch_size = 4

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Semaphore(0)
        self.calls: list[list[str]] = []
        self.memory_rows = 1_000

    def allow(self, steps: int = 1) -> None:
        for _ in range(steps):
            self.gate.release()

    def synthesize_rows(self, rows):
        assert self.gate.acquire(timeout=10), "the test never allowed this step"
        self.calls.append([row.text for row in rows])
        if len(rows) > self.memory_rows:
            raise OutOfMemoryError("CUDA out of memory (toy)")
        if any(row.text == "boom" for row in rows):
            raise ValueError("toy engine cannot say boom")
        results = list(super().synthesize_rows(rows))
        yield from reversed(results)


class ToyStepper:
    """A continuous batch of toy rows: a row needs one step per 10 characters and its tone
    comes out in the step it ends; steps wait for the test like SteppedToy's calls."""

    def __init__(self, engine: ContinuousToy) -> None:
        self.engine = engine
        self.rows: dict = {}

    def __len__(self) -> int:
        return len(self.rows)

    def admit(self, key, row) -> None:
        if row.text == "boom":
            raise ValueError("toy engine cannot say boom")
        self.rows[key] = [row, max(1, math.ceil(len(row.text) / 10))]

    def drop(self, keys) -> None:
        for key in keys:
            self.rows.pop(key, None)

    def step(self):
        assert self.engine.gate.acquire(timeout=10), "the test never allowed this step"
        self.engine.calls.append([row.text for row, _ in self.rows.values()])
        if len(self.rows) > self.engine.memory_rows:
            raise OutOfMemoryError("CUDA out of memory (toy)")
        finished = []
        for key, entry in list(self.rows.items()):
            entry[1] -= 1
            if entry[1] == 0:
                row = self.rows.pop(key)[0]
                finished.append((key, self.engine._tone(row.text, row.params)))
        return finished


class ContinuousToy(SteppedToy):
    """SteppedToy with a token-level continuous batch (as XTTS has)."""

    def row_stepper(self):
        return ToyStepper(self)


@pytest.fixture
def stepped():
    return SteppedToy()


@pytest.fixture
def continuous():
    return ContinuousToy()


VOICE = Conditioning(engine="toy", engine_version="toy-1.0")


def toy_rows(texts):
    """A toy job's rows (one voice, the same parameters)."""
    return job_rows(
        texts, language="en", conditioning=VOICE, params=FACTS.params_checked({"speed": 2.0})
    )
