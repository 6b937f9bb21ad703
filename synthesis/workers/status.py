"""What the web process knows about the speech engines: what the workers last reported."""

from __future__ import annotations

from dataclasses import dataclass

from synthesis.models import EngineStatusRecord

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


def engine_summary(engine: str) -> EngineSummary:
    """Ready if any worker has the engine loaded; else the latest reason and its fix."""
    records = list(EngineStatusRecord.objects.filter(engine=engine).order_by("-updated_at"))
    ready = next((r for r in records if r.ready), None)
    if ready is not None:
        return EngineSummary(engine, True, "", "", ready.device, ready.model_version)
    if records:
        return EngineSummary(engine, False, records[0].reason, records[0].fix)
    return EngineSummary(engine, False, "No synthesis worker has reported yet.", NO_WORKER_FIX)
