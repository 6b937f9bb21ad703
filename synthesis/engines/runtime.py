"""The speech engine held by a synthesis worker process: built from settings, loaded once.

Only worker processes that consume the `synthesis` queue load an engine (at process start, not
per task). The web process never imports this module's engine code, and so never torch.
"""

from __future__ import annotations

import logging
import socket

from django.conf import settings

from synthesis.engines import get_engine_class
from synthesis.engines.base import Engine, EngineStatus, EngineUnavailable

logger = logging.getLogger(__name__)

_engines: dict[str, Engine] = {}


def engine_build(name: str = "xtts") -> Engine:
    if name == "piper":
        voices_dir = settings.PIPER_VOICES_DIR or None
        return get_engine_class("piper")(voices_dir=voices_dir)
    if name != "xtts":
        return get_engine_class(name)()
    model_dir = settings.XTTS_MODEL_DIR or None
    return get_engine_class("xtts")(
        model_dir=model_dir,
        download_dir=settings.XTTS_DOWNLOAD_DIR,
        accept_license=settings.XTTS_ACCEPT_LICENSE,
        device=settings.TIMBRE_DEVICE,
        half=settings.XTTS_HALF,
        use_deepspeed=settings.XTTS_DEEPSPEED,
        max_batch_size=settings.XTTS_MAX_BATCH,
    )


def engine_get(name: str = "xtts") -> Engine:
    """The process's loaded engine. Raises EngineUnavailable with the reason and the fix."""
    engine = _engines.get(name)
    if engine is None:
        engine = _engines[name] = engine_build(name)
    engine.load()
    return engine


def engine_load_and_publish(name: str = "xtts") -> EngineStatus:
    """Load at worker start and record the outcome where the web can read it."""
    try:
        engine = engine_get(name)
        status = engine.status()
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
    from synthesis.models import EngineStatusRecord

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


def batch_size() -> int:
    """How many chunks a synthesis worker generates at once (the engine halves it on OOM)."""
    return max(1, settings.XTTS_MAX_BATCH)


def worker_start() -> None:
    """What a synthesis worker process does once at start: load every engine, say how it
    went, and refresh the stock voices."""
    engine_load_and_publish("xtts")
    piper = engine_load_and_publish("piper")
    if piper.ready:
        from voices.services.stock import stock_voices_sync

        try:
            stock_voices_sync(engine_get("piper"))
        except Exception:  # a broken operator voice must not keep the worker from serving
            logger.exception("Could not sync stock voices")
