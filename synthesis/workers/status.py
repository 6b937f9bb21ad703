"""What the synthesis workers say about their engines: published at worker start, read by pages.

Workers write one EngineStatusRecord per (host, engine); the web reads the latest without ever
importing an engine.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

from synthesis.engines import EngineStatus, EngineUnavailable, engine_facts, engines, runtime
from synthesis.models import EngineStatusRecord

logger = logging.getLogger(__name__)

NO_WORKER_FIX = (
    "Start a synthesis worker: `make run` starts one, or run "
    "`celery -A config worker -Q synthesis` on a worker host."
)


@dataclass(frozen=True)
class EngineSummary:
    engine: str
    ready: bool
    reason: str
    fix: str
    device: str = ""
    model_version: str = ""
    label: str = ""


def engine_summary(engine: str) -> EngineSummary:
    """Ready if any worker has the engine loaded; else the latest reason and its fix."""
    label = engine_facts(engine).label
    records = list(EngineStatusRecord.objects.filter(engine=engine).order_by("-updated_at"))
    ready = next((r for r in records if r.ready), None)
    if ready is not None:
        return EngineSummary(engine, True, "", "", ready.device, ready.model_version, label)
    if records:
        return EngineSummary(engine, False, records[0].reason, records[0].fix, label=label)
    return EngineSummary(
        engine, False, "No synthesis worker has reported yet.", NO_WORKER_FIX, label=label
    )


def cloning_summaries() -> list[EngineSummary]:
    """The state of every installed engine that clones voices (for the dashboard)."""
    return [engine_summary(name) for name, facts in engines().items() if facts.clones]


def cloning_summary() -> EngineSummary:
    """Ready if any installed cloning engine is; else the first one's reason and fix."""
    summaries = cloning_summaries()
    if not summaries:
        return EngineSummary(
            "", False, "No voice-cloning engine is installed.", "Add one to TIMBRE_ENGINES."
        )
    return next((s for s in summaries if s.ready), summaries[0])


def engine_load_and_publish(name: str) -> EngineStatus:
    """Load at worker start and record the outcome where the web can read it."""
    try:
        status = runtime.engine_get(name).status()
    except EngineUnavailable as exc:
        status = EngineStatus(
            engine=name,
            model_version="",
            device="",
            load_seconds=None,
            ready=False,
            reason=exc.reason,
            fix=exc.fix,
        )
        logger.warning("Engine %s unavailable: %s Fix: %s", name, exc.reason, exc.fix)
    status_publish(status)
    return status


def status_publish(status: EngineStatus) -> None:
    EngineStatusRecord.objects.update_or_create(
        hostname=socket.gethostname(),
        engine=status.engine,
        defaults={
            "model_version": status.model_version,
            "device": status.device,
            "load_seconds": status.load_seconds,
            "ready": status.ready,
            "reason": status.reason,
            "fix": status.fix,
        },
    )
