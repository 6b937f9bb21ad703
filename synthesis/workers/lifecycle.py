"""Worker lifecycle: synthesis workers load their engines once, when their process starts."""

from __future__ import annotations

import logging

from celery.signals import celeryd_after_setup, worker_process_init

logger = logging.getLogger(__name__)

# Set in the worker's main process when it consumes the synthesis queue; the forked pool
# processes inherit it. Engine code (numpy, torch) is imported only then.
_consumes_synthesis = False


@celeryd_after_setup.connect
def note_synthesis_queue(sender, instance, **kwargs):
    global _consumes_synthesis
    queues = instance.app.amqp.queues.consume_from or instance.app.amqp.queues
    _consumes_synthesis = "synthesis" in queues


@worker_process_init.connect
def load_engine(**kwargs):
    if not _consumes_synthesis:
        return
    from django.db import close_old_connections

    close_old_connections()  # never share the parent's database connection after fork
    worker_start()


def worker_start() -> None:
    """What a synthesis worker process does once at start: load every installed engine, say
    how it went, and refresh the stock voices of the engines that ship some."""
    from synthesis.engines import engines, runtime
    from synthesis.workers.status import engine_load_and_publish
    from voices.services.stock import stock_voices_sync

    for name, facts in engines().items():
        status = engine_load_and_publish(name)
        if status.ready and facts.stock_voices:
            try:
                stock_voices_sync(runtime.engine_get(name))
            except Exception:  # a broken operator voice must not keep the worker from serving
                logger.exception("Could not sync the stock voices of %s", name)
