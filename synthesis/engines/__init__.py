"""Speech engines as plug-ins: one package per engine, listed in `settings.TIMBRE_ENGINES`.

An engine package (`synthesis/engines/<name>/`) exposes `FACTS` (an EngineFacts) from its
`__init__`, which must import neither torch nor the engine's own dependencies: the web process
reads the facts, and only workers import the engine class (`engine_class`). Adding an engine
means adding its package (and its requirements) and naming it in TIMBRE_ENGINES; nothing else
in the project names an engine.

This package imports nothing else from the project.
"""

from __future__ import annotations

import importlib

from .base import (
    Conditioning,
    Engine,
    EngineStatus,
    EngineUnavailable,
    blend,
)
from .facts import EngineFacts, ParamSpec, SynthesisParams

DEFAULT_ENGINES = (
    "synthesis.engines.xtts",
    "synthesis.engines.chatterbox",
    "synthesis.engines.piper",
)

__all__ = [
    "Conditioning",
    "Engine",
    "EngineFacts",
    "EngineStatus",
    "EngineUnavailable",
    "ParamSpec",
    "SynthesisParams",
    "blend",
    "engine_class",
    "engine_facts",
    "engine_for_model",
    "engine_names",
    "engines",
]


class UnknownEngine(ValueError):
    """No engine of that name is installed (TIMBRE_ENGINES)."""


def _packages() -> tuple[str, ...]:
    try:
        from django.conf import settings

        return tuple(getattr(settings, "TIMBRE_ENGINES", DEFAULT_ENGINES))
    except Exception:  # outside Django (a script or a benchmark): the built-in engines
        return DEFAULT_ENGINES


def _commercial_only() -> bool:
    try:
        from django.conf import settings

        return bool(getattr(settings, "TIMBRE_COMMERCIAL_ONLY", False))
    except Exception:  # outside Django: every engine
        return False


def engines() -> dict[str, EngineFacts]:
    """The installed engines' facts by name, in TIMBRE_ENGINES order.

    In commercial mode (TIMBRE_COMMERCIAL_ONLY) an engine whose weights forbid commercial use
    is left out, as if it were not installed: workers do not load it, no model list names it,
    and nothing can queue work for it.
    """
    found = {}
    commercial_only = _commercial_only()
    for package in _packages():
        facts = importlib.import_module(package).FACTS
        if commercial_only and not facts.commercial_use:
            continue
        found[facts.name] = facts
    return found


def engine_names() -> list[str]:
    return list(engines())


def engine_facts(name: str) -> EngineFacts:
    """The facts of engine `name`; UnknownEngine when it is not installed."""
    try:
        return engines()[name]
    except KeyError:
        disabled = " (disabled: TIMBRE_COMMERCIAL_ONLY is on)" if _commercial_only() else ""
        raise UnknownEngine(
            f"unknown engine {name!r}{disabled}; installed: {', '.join(engine_names())}"
        ) from None


def engine_for_model(model_id: str) -> EngineFacts | None:
    """The engine whose public model id (or name) is `model_id`, if any."""
    for facts in engines().values():
        if model_id in (facts.model_id, facts.name):
            return facts
    return None


def _target(spec: str):
    module_name, attribute = spec.split(":")
    return getattr(importlib.import_module(module_name), attribute)


def engine_class(name: str) -> type[Engine]:
    """The Engine subclass of `name` (imports its module, and torch, now)."""
    return _target(engine_facts(name).engine_class)


def engine_build(name: str, settings) -> Engine:
    """A new, not yet loaded engine configured from `settings` (worker side)."""
    facts = engine_facts(name)
    if facts.settings_factory:
        return _target(facts.settings_factory)(settings)
    return engine_class(name)()
