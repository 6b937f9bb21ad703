"""GET /api/v1/models: every model a client may name, with what it is and whether it runs now.

A model is an installed engine (its model id) or an alias that maps to one; the request field
`model` (POST /api/v1/synthesis, stream, batch items) takes any of these names
(synthesis.jobs.catalog resolves them the same way on every surface).
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from synthesis.api import schema as doc
from synthesis.api.serializers import EngineParameterOutput
from synthesis.api.views import SynthesisAPIView
from synthesis.engines import EngineFacts, engines
from synthesis.jobs import catalog
from synthesis.models import ModelAlias
from synthesis.workers.status import engine_summary
from voices.selectors import default_model


class ModelOutput(serializers.Serializer):
    model_id = serializers.CharField(help_text="What to send as `model` (or model / model_id).")
    kind = serializers.ChoiceField(
        choices=["engine", "alias"], help_text="An engine's own model, or an alias of one."
    )
    engine = serializers.CharField(
        allow_blank=True, help_text='The engine it selects; "" for an alias of the default model.'
    )
    label = serializers.CharField()
    alias_of = serializers.CharField(
        allow_null=True, help_text="For an alias: the model id it speaks with now."
    )
    languages = serializers.ListField(child=serializers.CharField())
    sample_rate = serializers.IntegerField(allow_null=True)
    parameters = EngineParameterOutput(many=True)
    clones = serializers.BooleanField(help_text="Speaks your cloned voices.")
    stock_voices = serializers.BooleanField()
    streams = serializers.BooleanField()
    commercial_use = serializers.BooleanField(
        help_text="The weights' licence allows a paid service."
    )
    licence = serializers.CharField(allow_blank=True)
    loaded = serializers.BooleanField(help_text="A live synthesis worker has it ready now.")
    default = serializers.BooleanField(
        help_text="The operator's default model (TIMBRE_DEFAULT_MODEL): used when a request "
        "names none and the voice is built for it."
    )


class ModelList(SynthesisAPIView):
    """Any signed-in user or API key may list the models (no scope needed)."""

    pagination_class = None  # a short list, answered whole

    @extend_schema(
        summary="Models you can name as `model`: engines and aliases, licence, loaded, default",
        responses={
            200: ModelOutput(many=True),
            **doc.errors(*doc.auth_errors("any")[:1], doc.auth_errors("any")[2]),
        },
    )
    def get(self, request):
        return Response(ModelOutput(model_list(surface=catalog.NATIVE), many=True).data)


def default_engine() -> EngineFacts | None:
    """The operator's default cloning model (voices.selectors.default_model); None when none is
    installed or the setting names an engine that is not (the pages say so elsewhere)."""
    try:
        return default_model()
    except ImproperlyConfigured:
        return None


def model_list(*, surface: str) -> list[dict]:
    """Every model a client of `surface` may name: each installed engine's model, with its
    facts, whether a worker has it loaded now and whether it is the default; then the aliases
    with the model they map to."""
    default = default_engine()
    found, loaded = [], {}
    for name, facts in engines().items():
        loaded[name] = engine_summary(name).ready
        found.append(_engine_model(facts, loaded=loaded[name], default=facts == default))
    for alias in catalog.alias_list(surface=surface):
        target = engines().get(alias.engine) if alias.engine else default
        found.append(_alias_model(alias, target, loaded=loaded.get(getattr(target, "name", ""))))
    return found


def _engine_model(facts: EngineFacts, *, loaded: bool, default: bool) -> dict:
    public = facts.to_dict()
    return {
        "model_id": facts.model_id,
        "kind": "engine",
        "engine": facts.name,
        "label": facts.label,
        "alias_of": None,
        "languages": public["languages"],
        "sample_rate": facts.sample_rate,
        "parameters": public["parameters"],
        "clones": facts.clones,
        "stock_voices": facts.stock_voices,
        "streams": facts.streams,
        "commercial_use": facts.commercial_use,
        "licence": facts.licence,
        "loaded": loaded,
        "default": default,
    }


def _alias_model(alias: ModelAlias, target: EngineFacts | None, *, loaded) -> dict:
    """An alias described by the model it maps to (the default model when it names none)."""
    entry = {
        "model_id": alias.name,
        "kind": "alias",
        "engine": alias.engine,  # "" = the default model
        "label": alias.description or "Alias of the default model",
        "alias_of": target.model_id if target else None,
        "languages": list(target.languages) if target else [],
        "sample_rate": target.sample_rate if target else None,
        "parameters": [spec.to_dict() for spec in target.params] if target else [],
        "clones": target.clones if target else False,
        "stock_voices": target.stock_voices if target else False,
        "streams": target.streams if target else False,
        "commercial_use": target.commercial_use if target else False,
        "licence": target.licence if target else "",
        "loaded": bool(loaded),
        "default": False,
    }
    return entry
