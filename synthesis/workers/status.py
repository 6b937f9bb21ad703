"""What the synthesis workers say about their engines: published at worker start, read by pages.

Workers write one EngineStatusRecord per (worker, engine); the web reads the latest without ever
importing an engine. A worker is named by its Celery node name (`synthesis@host`), else the
host name. While it runs, each worker process refreshes `heartbeat_at` every
WORKER_HEARTBEAT_SECONDS (`synthesis.workers.lifecycle`); a worker that stops cleanly marks its
records not ready, and one that is killed goes stale after WORKER_HEARTBEAT_STALE_AFTER beats.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from synthesis.engines import EngineStatus, EngineUnavailable, engine_facts, engines, runtime
from synthesis.models import EngineStatusRecord

logger = logging.getLogger(__name__)

# A worker's heartbeat older than this many intervals means the worker is gone.
WORKER_HEARTBEAT_STALE_AFTER = 3

# The Celery node name of this worker process, set when the worker starts (lifecycle).
_worker_name = ""


def worker_name_set(name: str) -> None:
    global _worker_name
    _worker_name = name or ""


def worker_name() -> str:
    """How this process's records are keyed: its Celery node name, else the host name."""
    return _worker_name or socket.gethostname()


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
    since = heartbeat_fresh_since()
    ready = [r for r in records if r.ready]
    live = next((r for r in ready if (r.heartbeat_at or r.updated_at) >= since), None)
    if live is not None:
        return EngineSummary(engine, True, "", "", live.device, live.model_version, label)
    if ready:  # it was loaded, but its worker stopped answering (killed, host down)
        reason = (
            "The synthesis worker that had this engine loaded has not answered for "
            f"{worker_stale_seconds():.0f} s."
        )
        return EngineSummary(engine, False, reason, NO_WORKER_FIX, label=label)
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
        engine = runtime.engine_get(name)
        status = _watermark_checked(engine, engine.status())
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


def _watermark_checked(engine, status: EngineStatus) -> EngineStatus:
    """Not ready while the watermark is on (PROVENANCE_WATERMARK) and cannot load: an engine must
    not serve unmarked audio. Engines that mark their own output are not checked."""
    if not status.ready or not settings.PROVENANCE_WATERMARK or engine.watermarks_itself:
        return status
    from provenance.watermark import WatermarkUnavailable, watermark_check

    try:
        watermark_check()
    except WatermarkUnavailable as exc:
        logger.warning("Engine %s not ready: %s Fix: %s", status.engine, exc.reason, exc.fix)
        return replace(status, ready=False, reason=exc.reason, fix=exc.fix)
    return status


def status_publish(status: EngineStatus) -> None:
    EngineStatusRecord.objects.update_or_create(
        hostname=worker_name(),
        engine=status.engine,
        defaults={
            "model_version": status.model_version,
            "device": status.device,
            "load_seconds": status.load_seconds,
            "ready": status.ready,
            "reason": status.reason,
            "fix": status.fix,
            "heartbeat_at": timezone.now(),
        },
    )


def worker_heartbeat() -> int:
    """Say that this worker still runs: refresh the heartbeat of the records it published.

    Rows are only touched, never re-created: a record an operator deleted comes back at the
    worker's next start or `engine_status_publish`.
    """
    return EngineStatusRecord.objects.filter(hostname=worker_name()).update(
        heartbeat_at=timezone.now()
    )


STOPPED_REASON = "The synthesis worker that had this engine loaded stopped."


def worker_stopped(name: str) -> int:
    """A worker shutting down cleanly: its engines are no longer served (readiness drops now)."""
    return EngineStatusRecord.objects.filter(hostname=name, ready=True).update(
        ready=False, reason=STOPPED_REASON, fix=NO_WORKER_FIX, heartbeat_at=timezone.now()
    )


def worker_stale_seconds() -> float:
    return WORKER_HEARTBEAT_STALE_AFTER * settings.WORKER_HEARTBEAT_SECONDS


def heartbeat_fresh_since():
    """A worker whose last heartbeat is older than this has stopped answering."""
    return timezone.now() - timedelta(seconds=worker_stale_seconds())


def live_records():
    """Records of workers whose heartbeat is within the stale bound (ready or not)."""
    return EngineStatusRecord.objects.filter(heartbeat_at__gte=heartbeat_fresh_since())


def live_ready_records():
    """Records of live workers that have their engine ready."""
    return live_records().filter(ready=True)
