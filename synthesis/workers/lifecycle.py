"""Worker lifecycle: synthesis workers load their engines once per pool process, in the
background, so that a replacement process (after a crash) answers Celery at once.

Engines take 11-16 s to load even for a tiny checkpoint, far past Celery's few seconds' wait for
a new pool process to say it is up: loaded inside `worker_process_init`, every replacement
process was killed before it could serve. Here the load runs in a thread; a task that needs an
engine meanwhile waits for it (`runtime.engine_get` holds the load lock), and the outcome is
published where the web reads it (`synthesis.workers.status`).

A worker that consumes `synthesis` also consumes `synthesis.<engine>` for every engine it loads
(TIMBRE_WORKER_ENGINES, default all installed), so one worker per engine and host can run.

Once loaded, the same thread writes the worker's heartbeat every WORKER_HEARTBEAT_SECONDS for as
long as the process lives; `/health/ready` counts only workers with a fresh one. A worker that
shuts down cleanly (warm or cold) marks its engines not ready at once (`worker_shutdown`).

With the threads pool (SYNTHESIS_SCHEDULER, synthesis.serving) there is no pool process and no
`worker_process_init`: the same background load starts from `worker_ready` in the worker
process, and `worker_shutdown` stops the engine threads after the pool drained.
"""

from __future__ import annotations

import logging
import threading

from celery.signals import (
    celeryd_after_setup,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

logger = logging.getLogger(__name__)

# Set in the worker's main process when it consumes the synthesis queue; the forked pool
# processes inherit it. Engine code (numpy, torch) is imported only then.
_consumes_synthesis = False
# Set when the worker runs the threads pool: engines load in the worker process itself.
_threads_pool = False
# Set when this pool process shuts down: its heartbeat stops.
_stopping = threading.Event()


def worker_engine_names() -> list[str]:
    """The engines this worker loads: TIMBRE_WORKER_ENGINES, or every installed engine."""
    from django.conf import settings

    from synthesis.engines import engine_names

    installed = list(engine_names())
    chosen = [name for name in settings.TIMBRE_WORKER_ENGINES if name]
    unknown = sorted(set(chosen) - set(installed))
    if unknown:
        logger.error("TIMBRE_WORKER_ENGINES names engines not installed: %s", ", ".join(unknown))
    return [name for name in installed if not chosen or name in chosen]


@celeryd_after_setup.connect
def note_synthesis_queue(sender, instance, **kwargs):
    global _consumes_synthesis, _threads_pool
    from config.celery import engine_queue
    from synthesis.workers.status import worker_name_set

    worker_name_set(sender)  # the node name, inherited by the pool processes
    queues = instance.app.amqp.queues.consume_from or instance.app.amqp.queues
    _consumes_synthesis = "synthesis" in queues or any(q.startswith("synthesis.") for q in queues)
    pool = getattr(instance, "pool_cls", None)
    _threads_pool = getattr(pool, "__module__", str(pool)).endswith(".thread")
    if "synthesis" in queues:
        for name in worker_engine_names():
            instance.app.amqp.queues.select_add(engine_queue(name))


@worker_process_init.connect
def load_engine(sender=None, **kwargs):
    if not _consumes_synthesis:
        return
    from django.db import close_old_connections

    from synthesis.workers.status import worker_name_set

    if isinstance(sender, str):  # prefork and solo pools send the node name
        worker_name_set(sender)
    close_old_connections()  # never share the parent's database connection after fork
    threading.Thread(target=_warm_up, name="engine-load", daemon=True).start()


@worker_ready.connect
def load_engine_in_worker(sender=None, **kwargs):
    """The threads pool has no pool process to start the load from: start it here."""
    if not (_consumes_synthesis and _threads_pool):
        return
    threading.Thread(target=_warm_up, name="engine-load", daemon=True).start()


@worker_process_shutdown.connect
def stop_heartbeat(**kwargs):
    _stopping.set()


@worker_shutdown.connect
def mark_stopped(sender=None, **kwargs):
    """A synthesis worker stopping cleanly: readiness must not wait for its heartbeat to age."""
    if not _consumes_synthesis:
        return
    from django.db import connection

    from synthesis.workers.status import worker_name, worker_stopped

    if _threads_pool:
        from synthesis.serving.registry import close_all

        _stopping.set()  # no worker_process_shutdown without pool processes
        close_all()
    try:
        worker_stopped(getattr(sender, "hostname", "") or worker_name())
    except Exception:  # the database is gone too: the heartbeat goes stale instead
        logger.warning("Could not mark this worker's engines stopped", exc_info=True)
    finally:
        connection.close()


def _warm_up() -> None:
    from django.db import connection

    try:
        worker_start()
    except Exception:  # the task that needs the engine reports the reason
        logger.exception("Loading the engines failed")
    finally:
        connection.close()  # this thread's own connection
    _heartbeat_forever()


def _heartbeat_forever() -> None:
    """Refresh this worker's engine records until the process ends (a daemon thread)."""
    from django.conf import settings
    from django.db import connection

    from synthesis.workers.status import worker_heartbeat

    while not _stopping.wait(settings.WORKER_HEARTBEAT_SECONDS):
        try:
            worker_heartbeat()
        except Exception:  # the database blinked: try again next beat
            logger.warning("Worker heartbeat failed", exc_info=True)
        finally:
            connection.close()  # no idle connection held between beats


def worker_start() -> None:
    """What a synthesis worker process does once at start: load its engines, say how it went,
    and refresh the stock voices of the engines that ship some."""
    from provenance.credentials import provenance_state
    from synthesis.engines import engine_facts, runtime
    from synthesis.workers.status import engine_load_and_publish
    from voices.services.stock import stock_voices_sync

    logger.info("Provenance: %s", provenance_state())  # unsigned outputs are not an error
    for name in worker_engine_names():
        status = engine_load_and_publish(name)
        if status.ready and engine_facts(name).stock_voices:
            try:
                stock_voices_sync(runtime.engine_get(name))
            except Exception:  # a broken operator voice must not keep the worker from serving
                logger.exception("Could not sync the stock voices of %s", name)
