"""The Speak form: what a voice can do comes from its engines' declared facts.

The Model picker offers the engines the voice is built for (the operator's default model
preselected when the voice has it); the chosen engine goes to job_create(engine=). Only
languages that engine accepts for that voice are offered (and accepted), so the page never
queues a job the worker would then refuse; the "Advanced" fields are the engine's declared
parameters (synthesis.engines.facts.ParamSpec), one group per engine.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ImproperlyConfigured

from config.service_errors import ServiceError
from synthesis.engines import EngineFacts, ParamSpec, engines
from synthesis.jobs.checks import OUTPUT_FORMATS, voice_engine
from voices.models import Voice
from voices.selectors import LANGUAGE_NAMES, default_model, voice_engines_ready

OWN_LANGUAGE = ""  # the voice's own language (engines whose voices speak only their own)
BASIC_PARAMS = {"speed"}  # shown outside the "Advanced" panel


def language_name(code: str) -> str:
    if code == OWN_LANGUAGE:
        return "The voice's own language"
    base, _, region = code.partition("-")
    name = LANGUAGE_NAMES.get(code) or LANGUAGE_NAMES.get(base)
    if name is None:
        return code
    return f"{name} ({region.upper()})" if region and code not in LANGUAGE_NAMES else name


def voice_facts(voice: Voice) -> EngineFacts | None:
    """The engine that speaks `voice` when the request names no model."""
    models = voice_models(voice)
    return models[0] if models else None


def voice_models(voice: Voice) -> list[EngineFacts]:
    """The installed engines that can speak `voice` now, the one used by default first (the
    operator's default model when the voice is built for it, else the voice's first engine).
    Engines left out (commercial mode) or uninstalled are not offered."""
    installed = engines()
    found = [installed[name] for name in voice_engines_ready(voice) if name in installed]
    if not found and not voice.engine:  # not built yet: the engine it will be built with
        try:
            found = [voice_engine(voice)]
        except (ServiceError, ValueError):
            found = []
    try:
        default = default_model()
    except ImproperlyConfigured:
        default = None
    if default in found:
        found.remove(default)
        found.insert(0, default)
    return found


def voice_languages(voice: Voice, facts: EngineFacts | None = None) -> list[str]:
    """The language codes a job with this voice (spoken by `facts`, else the default engine)
    may ask for, the voice's default first."""
    facts = facts or voice_facts(voice)
    if facts is None:
        return []
    if facts.voice_language_only:
        return [voice.language.lower()] if voice.language else [OWN_LANGUAGE]
    codes = list(facts.languages)
    try:
        own = facts.resolve_language(voice.language) if voice.language else ""
    except ValueError:
        own = ""
    if own in codes:
        codes.remove(own)
        codes.insert(0, own)
    return codes


def model_label(facts: EngineFacts) -> str:
    use = "commercial use allowed" if facts.commercial_use else "non-commercial licence"
    return f"{facts.label} ({use})"


def _languages(voice: Voice, facts: EngineFacts) -> list[dict]:
    return [{"code": c, "name": language_name(c)} for c in voice_languages(voice, facts)]


def voice_summary(voice: Voice) -> dict:
    """What the picker shows and the page script needs about one voice: the fields of the
    default engine at the top level, and every engine that can speak it under `engines`."""
    models = voice_models(voice)
    facts = models[0] if models else None
    languages = voice_languages(voice, facts) if facts else []
    names = [language_name(code) for code in languages if code]
    if len(names) > 3:  # the option stays readable; the page lists them all for the chosen one
        names = [*names[:3], f"{len(names) - 3} more"]
    labels = " + ".join(f.label for f in models) or "unavailable engine"
    return {
        "code": str(voice.code),
        "name": voice.name,
        "stock": voice.is_stock,
        "blocked": voice.blocked_at is not None,
        "engine": facts.name if facts else "",
        "engine_label": facts.label if facts else "unavailable engine",
        "languages": _languages(voice, facts) if facts else [],
        "engines": [
            {
                "name": f.name,
                "title": f.label,
                "label": model_label(f),
                "model_id": f.model_id,
                "licence": f.licence,
                "commercial_use": f.commercial_use,
                "languages": _languages(voice, f),
            }
            for f in models
        ],
        "label": f"{voice.name} ({', '.join(names) or 'its own language'} · {labels}"
        + (" · stock" if voice.is_stock else "")
        + (" · blocked by an administrator" if voice.blocked_at else "")
        + ")",
    }


def param_field_name(engine: str, spec: ParamSpec) -> str:
    return f"{engine}__{spec.name}"


def _param_field(spec: ParamSpec) -> forms.Field:
    field_class = forms.IntegerField if spec.kind is int else forms.FloatField
    options = {"required": False, "help_text": spec.help}
    if spec.low is not None:
        options["min_value"] = spec.low
    if spec.high is not None:
        options["max_value"] = spec.high
    field = field_class(label=spec.name.replace("_", " ").capitalize(), **options)
    default = "random" if spec.default is None else spec.default
    attrs = {"placeholder": f"default: {default}", "data-param": spec.name}
    field.widget.attrs.update({**attrs, "data-kind": spec.kind.__name__})
    if spec.kind is float:
        field.widget.attrs["step"] = "any"
    return field


class VoiceChoiceField(forms.ModelChoiceField):
    """Options carry the voice's public code (what the API takes); a numeric id as posted by
    older clients of this form is still accepted."""

    def to_python(self, value):
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            try:
                return self.queryset.get(pk=int(value))
            except self.queryset.model.DoesNotExist:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice"
                ) from None
        return super().to_python(value)


class SpeakForm(forms.Form):
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "data-studio": "text"}), max_length=1_000_000
    )
    voice = VoiceChoiceField(queryset=None, empty_label=None, to_field_name="code")
    model = forms.ChoiceField(
        label="Model",
        required=False,
        help_text="The engine that speaks, among those the voice is built for.",
    )
    language = forms.ChoiceField(required=False)
    output_format = forms.ChoiceField(
        label="Format", choices=[(f, f) for f in OUTPUT_FORMATS], initial="mp3"
    )
    speed = forms.FloatField(min_value=0.25, max_value=4.0, initial=1.0)

    def __init__(self, *args, voices, **kwargs):
        super().__init__(*args, **kwargs)
        voice_field = self.fields["voice"]
        voice_field.queryset = voices
        self.summaries = {voice.code: voice_summary(voice) for voice in voices}
        voice_field.label_from_instance = lambda v: self.summaries[v.code]["label"]
        voice_field.widget.attrs["size"] = min(max(len(self.summaries), 2), 6)
        offered = {str(code) for code in self.summaries}
        if not self.is_bound and str(self.initial.get("voice")) not in offered and offered:
            self.initial["voice"] = next(iter(self.summaries))  # a listbox shows no default
        self._languages_setup()
        self.engine_params: dict[str, list[str]] = {}
        for facts in _engines_of(voices):
            names = self.engine_params.setdefault(facts.name, [])
            for spec in facts.params:
                if spec.name not in BASIC_PARAMS:
                    name = param_field_name(facts.name, spec)
                    self.fields[name] = _param_field(spec)
                    names.append(name)

    def _languages_setup(self) -> None:
        """Accept any offered voice's models and languages, but show only those of the voice
        (and model) shown first: the page script swaps them when another voice or model is
        picked; clean() checks the combination."""
        every = [e for s in self.summaries.values() for e in s["engines"]]
        codes = dict.fromkeys(lang["code"] for e in every for lang in e["languages"])
        self.fields["language"].choices = [(c, language_name(c)) for c in codes]
        self.fields["model"].choices = list({e["name"]: e["label"] for e in every}.items())
        wanted = self.data.get("voice") if self.is_bound else self.initial.get("voice")
        shown = next((s for c, s in self.summaries.items() if str(c) == str(wanted)), None)
        if shown is None:
            return
        models = shown["engines"]
        self.fields["model"].widget.choices = [(e["name"], e["label"]) for e in models]
        model = self.data.get("model") if self.is_bound else self.initial.get("model")
        engine = next((e for e in models if e["name"] == model), models[0] if models else None)
        if engine is not None:
            languages = engine["languages"]
            self.fields["language"].widget.choices = [(e["code"], e["name"]) for e in languages]
            if not self.is_bound:
                self.initial["model"] = engine["name"]

    def clean(self):
        data = super().clean()
        voice = data.get("voice")
        if voice is None:
            return data
        facts = self._model_clean(data, voice)
        if facts is None:
            return data
        allowed = voice_languages(voice, facts)
        language = data.get("language") or ""
        if allowed and language not in allowed:
            if language == OWN_LANGUAGE:
                data["language"] = allowed[0]
            else:
                names = ", ".join(language_name(code) for code in allowed)
                with_model = f" with {facts.label}" if len(voice_models(voice)) > 1 else ""
                self.add_error("language", f"{voice.name} speaks only: {names}{with_model}.")
        params = {"speed": data.get("speed") or 1.0}
        for name in self.engine_params.get(facts.name, []):
            if data.get(name) is not None:
                params[name.split("__", 1)[1]] = data[name]
        data["params"] = params
        return data

    def _model_clean(self, data: dict, voice: Voice) -> EngineFacts | None:
        """The chosen engine (none chosen: the voice's default one) as data["engine"]."""
        models = voice_models(voice)
        wanted = data.get("model") or ""
        facts = next((f for f in models if f.name == wanted or not wanted), None)
        if facts is None:
            offered = ", ".join(f.label for f in models) or "none installed here"
            self.add_error("model", f"{voice.name} is not built for that model; it has: {offered}.")
        else:
            data["engine"] = facts.name
        return facts

    def engine_groups(self) -> list[dict]:
        """Bound fields of the "Advanced" panel, one group per engine."""
        return [
            {"engine": engine, "fields": [self[name] for name in names]}
            for engine, names in self.engine_params.items()
        ]


def _engines_of(voices) -> list[EngineFacts]:
    found: dict[str, EngineFacts] = {}
    for voice in voices:
        for facts in voice_models(voice):
            found.setdefault(facts.name, facts)
    return list(found.values())
