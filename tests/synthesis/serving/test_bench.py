"""bench_serving's batch-size histogram comes from the scheduler's own per-step log lines."""

from __future__ import annotations

import logging

from synthesis.serving.bench import steps_from_log
from synthesis.serving.scheduler import Scheduler
from tests.synthesis.serving.conftest import toy_rows


def test_the_histogram_is_read_back_from_the_logged_steps(stepped, caplog):
    caplog.set_level(logging.INFO, logger="synthesis.serving.scheduler")
    scheduler = Scheduler(stepped, max_batch=2, log_steps=True).start()
    try:
        first = scheduler.submit("a", "alice", toy_rows(["one", "two", "three"]))
        second = scheduler.submit("b", "bob", toy_rows(["four", "five"]))
        stepped.allow(3)
        assert len(list(first)) == 3 and len(list(second)) == 2
    finally:
        scheduler.close()
    parsed = steps_from_log(caplog.text)
    assert parsed["batch_histogram"] == {
        str(size): count for size, count in scheduler.stats()["batch_histogram"].items()
    }
    assert parsed["steps"] == 3
    assert parsed["batch_histogram"] == {"1": 1, "2": 2}
    assert parsed["mean_batch"] == round(5 / 3, 2)
