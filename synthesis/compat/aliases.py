"""Which model names the compatible APIs accept and list: the aliases in the ModelAlias table
(edited in the admin) and each installed engine's own model id (its facts).

The voice, not the model, decides which engine speaks. An alias tied to an engine is accepted
only for that engine's voices; an engine's own model id is accepted for any voice (as before).
"""

from __future__ import annotations

from importlib import import_module

from django.db.models import Q

from config.api import ApiError
from synthesis.engines import engines
from synthesis.models import ModelAlias

OPENAI = ModelAlias.Surface.OPENAI
ELEVENLABS = ModelAlias.Surface.ELEVENLABS


def engine_model_ids() -> tuple[str, ...]:
    """The installed engines' model ids (an engine may be named as the model)."""
    return tuple(facts.model_id for facts in engines().values())


def alias_list(*, surface: str):
    """The enabled aliases a surface's clients may send, for its model list."""
    return ModelAlias.objects.filter(
        Q(surface=surface) | Q(surface=ModelAlias.Surface.ANY), enabled=True
    ).order_by("id")


def model_names(*, surface: str) -> list[str]:
    return [*alias_list(surface=surface).values_list("name", flat=True), *engine_model_ids()]


def model_check(name: str, *, surface: str, field: str, voice=None) -> None:
    """Refuse (400 unsupported_model) a model name this surface does not know, or an alias tied
    to an engine other than the voice's. `field` is the request field, for the message."""
    if name in engine_model_ids():
        return
    alias = alias_list(surface=surface).filter(name=name).first()
    if alias is None:
        raise ApiError(
            code="unsupported_model",
            message=f"{field}: Unknown model {name!r}; use one of: "
            f"{', '.join(model_names(surface=surface))}.",
        )
    if voice is not None and alias.engine and alias.engine != voice.engine:
        raise ApiError(
            code="unsupported_model",
            message=f"{field}: {name!r} speaks only with {alias.engine} voices, and "
            f"{voice.name!r} is a {voice.engine} voice; use another model, or leave it out.",
            details={"model_engine": alias.engine, "voice_engine": voice.engine},
        )


def aliases_reseed_if_empty(sender, apps=None, **kwargs) -> None:
    """post_migrate: an empty alias table gets migration 0007's defaults again.

    A flush (the test suite's transactional tests end with one) empties every table and then
    sends post_migrate, as it does for content types. A table the operator edited always has
    rows (disable an alias rather than delete them all), so their choices stay.
    """
    apps = apps or sender.apps
    try:
        model = apps.get_model("synthesis", "ModelAlias")
    except LookupError:  # migrated back to before the table existed
        return
    if not model.objects.exists():
        import_module("synthesis.migrations.0007_model_aliases").aliases_seed(apps)
