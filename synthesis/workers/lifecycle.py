"""Worker lifecycle: synthesis workers load their engine once, when their process starts."""

from celery.signals import celeryd_after_setup, worker_process_init

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

    from synthesis.engines import runtime

    close_old_connections()  # never share the parent's database connection after fork
    runtime.worker_start()
