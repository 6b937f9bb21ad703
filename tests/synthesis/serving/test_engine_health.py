"""What a job's heartbeat asks of the engine thread (synthesis.serving.registry): is it stuck?"""

from __future__ import annotations

import logging
import time

from synthesis.serving.scheduler import Scheduler
from tests.synthesis.serving.conftest import toy_rows


def test_an_engine_thread_that_makes_no_step_is_stuck_and_one_that_steps_is_not(stepped, caplog):
    caplog.set_level(logging.INFO, logger="synthesis.serving.scheduler")
    scheduler = Scheduler(stepped, log_steps=True).start()
    try:
        assert not scheduler.stuck(now=time.monotonic() + 3600, seconds=5)  # idle: not stuck
        handle = scheduler.submit("job-1", "user-1", toy_rows(["one", "two"]))
        assert not scheduler.stuck(now=time.monotonic(), seconds=5)
        assert scheduler.stuck(now=time.monotonic() + 6, seconds=5)  # rows wait, no step
        stepped.allow(2)
        assert len(list(handle)) == 2
        assert not scheduler.stuck(now=time.monotonic() + 3600, seconds=5)  # done: idle again
    finally:
        scheduler.close()  # joins the engine thread: its step is logged by now
    assert scheduler.stuck(now=time.monotonic(), seconds=5)  # the thread is gone
    assert "Engine step: 2 rows" in caplog.text
    assert "jobs job-1; users user-1" in caplog.text
