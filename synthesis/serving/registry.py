"""One Scheduler per loaded engine in a synthesis worker (SYNTHESIS_SCHEDULER on).

Job threads ask `scheduler_for(name)`: the first ask builds the engine's scheduler (its engine
thread starts then), under a lock; `close_all()` stops them when the worker shuts down. The
job heartbeat asks `serving_healthy()`: a dead or stuck engine thread must stop the heartbeats
of its jobs, so that the sweeper takes them over as it would after a crash.
"""

from __future__ import annotations

import logging
import threading
import time

from synthesis.engines import runtime

from .scheduler import Scheduler

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_schedulers: dict[str, Scheduler] = {}


def scheduler_for(name: str) -> Scheduler:
    """The running scheduler of engine `name` (loaded first if need be: EngineUnavailable)."""
    with _lock:
        scheduler = _schedulers.get(name)
        if scheduler is not None and scheduler.alive:
            return scheduler
    engine = runtime.engine_get(name)  # outside the lock: a load takes seconds
    with _lock:
        scheduler = _schedulers.get(name)
        if scheduler is None or not scheduler.alive:
            if scheduler is not None:
                logger.error("The %s engine thread had stopped; starting a new one", name)
            scheduler = _schedulers[name] = Scheduler(engine, log_steps=True).start()
        return scheduler


def serving_healthy(*, stale_seconds: float) -> bool:
    """False when an engine thread died, or has rows waiting and made no step for
    `stale_seconds`."""
    now = time.monotonic()
    with _lock:
        schedulers = list(_schedulers.values())
    return all(not scheduler.stuck(now=now, seconds=stale_seconds) for scheduler in schedulers)


def scheduler_stats() -> dict[str, dict]:
    with _lock:
        return {name: scheduler.stats() for name, scheduler in _schedulers.items()}


def close_all(timeout: float = 10.0) -> None:
    """Stop every engine thread (worker shutdown, after the pool drained)."""
    with _lock:
        schedulers = list(_schedulers.values())
        _schedulers.clear()
    for scheduler in schedulers:
        scheduler.close(timeout)
