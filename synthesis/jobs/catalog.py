"""Models as clients name them: every surface (native API, OpenAI, ElevenLabs, the Speak page)
chooses the engine that speaks through the one resolver here.

A model name is an installed engine's model id or name ("chatterbox-multilingual", "xtts-v2",
"piper"), or an alias from the ModelAlias table (admin-editable). An alias tied to an engine
selects that engine; an alias without one ("tts-1", "eleven_multilingual_v2", ...) selects the
operator's default model (TIMBRE_DEFAULT_MODEL), which the job service resolves for the voice.
Whether the voice is built for the chosen engine is the job service's check
(model_not_available), not this module's.
"""

from __future__ import annotations

from django.db.models import Q

from config.service_errors import ServiceError
from synthesis.engines import EngineFacts, engine_for_model, engines
from synthesis.jobs.checks import job_engine_facts, job_engine_resolve
from synthesis.models import ModelAlias

OPENAI = ModelAlias.Surface.OPENAI
ELEVENLABS = ModelAlias.Surface.ELEVENLABS
NATIVE = "native"  # Timbre's own API and pages: every enabled alias, whichever surface


def alias_list(*, surface: str):
    """The enabled aliases a surface's clients may send whose engine (if any) is installed."""
    aliases = ModelAlias.objects.filter(enabled=True).order_by("id")
    if surface != NATIVE:
        aliases = aliases.filter(Q(surface=surface) | Q(surface=ModelAlias.Surface.ANY))
    return aliases.filter(Q(engine="") | Q(engine__in=list(engines())))


def model_names(*, surface: str) -> list[str]:
    """Every name this surface accepts: its aliases, then each installed engine's model id."""
    names = list(alias_list(surface=surface).values_list("name", flat=True))
    return [*names, *(facts.model_id for facts in engines().values())]


def model_engine(name: str | None, *, surface: str, field: str = "model") -> str:
    """The engine name a request's model selects; "" for none given or an alias without an
    engine (the default model). ServiceError unsupported_model (400) for a name this surface
    does not accept, listing those it does; `field` is the request field, for the message."""
    name = (name or "").strip()
    if not name:
        return ""
    facts = engine_for_model(name)
    if facts is not None:
        return facts.name
    alias = alias_list(surface=surface).filter(name=name).first()
    if alias is not None:
        return alias.engine
    accepted = model_names(surface=surface)
    raise ServiceError(
        code="unsupported_model",
        message=f"{field}: Unknown model {name!r}; use one of: {', '.join(accepted)}.",
        details={"model": name, "accepted": accepted},
    )


def speaking_engine(voice, engine: str = "") -> EngineFacts:
    """The engine that will speak `voice` for a request naming `engine` ("" = the default
    model), for what a surface must know before the job exists (the stream's input rate).
    ServiceError 400 model_not_available when the voice is not built for it (or it is off)."""
    return job_engine_resolve(voice, engine)


def job_engine(job) -> EngineFacts:
    """The facts of the engine that speaks `job` (older jobs without one: the voice's)."""
    return job_engine_facts(job)
