"""Speech engines behind one interface (see `base.Engine`).

Importing this package imports neither torch nor Django: the web process reads engine names
and the base types from here, and only workers call `get_engine_class`, which imports the
engine module (and torch) on first use.
"""

from __future__ import annotations

import importlib

from .base import (
    Conditioning,
    Engine,
    EngineStatus,
    EngineUnavailable,
    SynthesisParams,
    blend,
)

# name -> "module:ClassName", imported lazily.
_ENGINES = {
    "xtts": "synthesis.engines.xtts:XttsEngine",
    "piper": "synthesis.engines.piper:PiperEngine",
}

__all__ = [
    "Conditioning",
    "Engine",
    "EngineStatus",
    "EngineUnavailable",
    "SynthesisParams",
    "blend",
    "engine_names",
    "get_engine_class",
]


def engine_names() -> list[str]:
    """Names accepted by `get_engine_class`."""
    return sorted(_ENGINES)


def get_engine_class(name: str) -> type[Engine]:
    """The Engine subclass registered as `name` (imports its module, and torch, now)."""
    try:
        target = _ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(engine_names())}") from None
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)
