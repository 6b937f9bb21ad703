"""The engines held by a worker process: built from settings on first use, loaded once.

Only worker processes that consume a synthesis queue load engines (at process start, see
`synthesis.workers.lifecycle`); the web process never calls this module, and so never imports
torch.
"""

from __future__ import annotations

import threading

from django.conf import settings

from . import engine_build
from .base import Engine

_engines: dict[str, Engine] = {}
_loading: dict[str, threading.Lock] = {}
_lock = threading.Lock()


def engine_get(name: str) -> Engine:
    """The process's loaded engine `name`. Raises EngineUnavailable with the reason and the fix
    (UnknownEngine, a ValueError, for a name that is not installed).

    Thread-safe: the worker loads its engines in a background thread at start; a task that asks
    for one meanwhile waits for that load instead of starting a second one.
    """
    with _lock:
        engine = _engines.get(name)
        if engine is None:
            engine = _engines[name] = engine_build(name, settings)
        load_lock = _loading.setdefault(name, threading.Lock())
    with load_lock:
        engine.load()
    return engine
