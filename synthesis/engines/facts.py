"""What an engine declares about itself, readable without importing torch or the engine.

Every engine package (`synthesis/engines/<name>/__init__.py`) exposes `FACTS`, an EngineFacts.
The web reads these facts to validate requests, fill pickers, list compat models and describe
engines on pages; only workers import the engine module itself (`FACTS.engine_class`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class ParamSpec:
    """One synthesis parameter an engine accepts: its type, range (inclusive) and default."""

    name: str
    kind: type  # int or float
    default: Any
    low: float | None = None
    high: float | None = None
    nullable: bool = False  # None is a valid value (e.g. seed: random)
    help: str = ""

    def check(self, value: Any) -> Any:
        """The value as this parameter's type; ValueError naming the parameter otherwise."""
        if value is None and self.nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{self.name} must be a number, got {value!r}")
        if self.kind is int and not (isinstance(value, int) or float(value).is_integer()):
            raise ValueError(f"{self.name} must be an integer, got {value!r}")
        if (
            not math.isfinite(value)
            or (self.low is not None and value < self.low)
            or (self.high is not None and value > self.high)
        ):
            raise ValueError(
                f"{self.name} must be between {self.low} and {self.high}, got {value!r}"
            )
        return self.kind(value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind.__name__,
            "default": self.default,
            "minimum": self.low,
            "maximum": self.high,
            "nullable": self.nullable,
            "description": self.help,
        }


class SynthesisParams(Mapping[str, Any]):
    """The parameters of one request, already checked against an engine's ParamSpecs.

    A read-only mapping that also reads as attributes (`params.speed`). Build it with
    `EngineFacts.params_checked`, which fills every default, so an engine can rely on each of
    its declared parameters being present.
    """

    def __init__(self, values: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        self._values = MappingProxyType({**(values or {}), **kwargs})

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"SynthesisParams({dict(self._values)!r})"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (stored with a job so that a run can be reproduced)."""
        return dict(self._values)


@dataclass(frozen=True)
class EngineFacts:
    """Static facts about one engine. Nothing here needs the engine's dependencies."""

    name: str  # stored on voices and conditionings ("xtts")
    label: str  # for people ("XTTS v2")
    model_id: str  # what API clients pass as `model` / `model_id` ("xtts-v2")
    engine_class: str  # "package.module:Class", imported only by workers
    sample_rate: int  # Hz of every array the engine yields
    # Language code -> longest text (characters) handled well in one piece. Empty when the
    # languages are those of the engine's stock voices (`voice_language_only`).
    char_limits: Mapping[str, int] = field(default_factory=dict)
    default_char_limit: int = 250
    language_aliases: Mapping[str, str] = field(default_factory=dict)
    # True: a voice speaks only its own language (stock voices of a single-language model).
    voice_language_only: bool = False
    params: tuple[ParamSpec, ...] = ()
    clones: bool = False  # makes voices from samples
    stock_voices: bool = False  # ships voices of its own
    streams: bool = True  # yields audio while generating
    needs_reference_text: bool = False  # cloning needs the samples' transcript
    commercial_use: bool = False  # the weights' licence allows a paid service
    licence: str = ""
    settings_factory: str = ""  # "package.module:function(settings) -> Engine"

    # -- languages -------------------------------------------------------------------------
    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.char_limits)

    def resolve_language(self, language: str, *, voice_language: str = "") -> str:
        """The engine's code for `language` ("zh" -> "zh-cn"); ValueError when it can't."""
        code = str(language).strip().lower().replace("_", "-")
        if self.voice_language_only:
            own = (voice_language or "").lower().replace("_", "-")
            if not own:  # a voice that does not say: the engine finds out
                return code
            if code.split("-")[0] == own.split("-")[0]:
                return own
            raise ValueError(
                f"This {self.label} voice speaks only {own or 'its own language'}; "
                f"{language!r} was asked for."
            )
        code = self.language_aliases.get(code, code)
        if code not in self.char_limits:
            raise ValueError(
                f"Unsupported language {language!r}: {self.label} speaks "
                f"{', '.join(self.char_limits)}."
            )
        return code

    def char_limit(self, language: str) -> int:
        return self.char_limits.get(language, self.default_char_limit)

    # -- parameters ------------------------------------------------------------------------
    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.params)

    def params_checked(self, given: Mapping[str, Any] | None) -> SynthesisParams:
        """Every declared parameter, from `given` or its default; ValueError for a parameter
        this engine does not accept or a value out of range."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.param_names))
        if unknown:
            raise ValueError(
                f"{self.label} does not accept {', '.join(unknown)}; "
                f"it accepts {', '.join(self.param_names) or 'no parameters'}"
            )
        return SynthesisParams(
            {spec.name: spec.check(given.get(spec.name, spec.default)) for spec in self.params}
        )

    def params_complete(self, given: Mapping[str, Any] | None) -> SynthesisParams:
        """Like `params_checked`, but parameters this engine does not use are dropped (what an
        engine does with parameters stored for a job, or meant for another engine)."""
        return self.params_checked(self.params_supported(given))

    def params_supported(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        """Only the entries of `given` this engine accepts (for site-wide defaults)."""
        return {k: v for k, v in (given or {}).items() if k in self.param_names}

    def to_dict(self) -> dict[str, Any]:
        """The public description (GET /api/v1/engines, compat model lists)."""
        return {
            "name": self.name,
            "label": self.label,
            "model_id": self.model_id,
            "sample_rate": self.sample_rate,
            "languages": list(self.languages),
            "voice_language_only": self.voice_language_only,
            "parameters": [spec.to_dict() for spec in self.params],
            "clones": self.clones,
            "stock_voices": self.stock_voices,
            "streams": self.streams,
            "needs_reference_text": self.needs_reference_text,
            "commercial_use": self.commercial_use,
            "licence": self.licence,
        }
