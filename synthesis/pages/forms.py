"""The Speak form: what a voice can do comes from its engine's declared facts.

Only languages the voice's engine accepts for that voice are offered (and accepted), so the
page never queues a job the worker would then refuse; the "Advanced" fields are the engine's
declared parameters (synthesis.engines.facts.ParamSpec), one group per engine.
"""

from __future__ import annotations

from django import forms

from config.service_errors import ServiceError
from synthesis.engines import EngineFacts, ParamSpec
from synthesis.jobs.checks import OUTPUT_FORMATS, voice_engine
from voices.models import Voice
from voices.selectors import LANGUAGE_NAMES

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
    try:
        return voice_engine(voice)
    except (ServiceError, ValueError):  # an engine no longer installed
        return None


def voice_languages(voice: Voice) -> list[str]:
    """The language codes a job with this voice may ask for, the voice's default first."""
    facts = voice_facts(voice)
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


def voice_summary(voice: Voice) -> dict:
    """What the picker shows and the page script needs about one voice."""
    facts = voice_facts(voice)
    languages = voice_languages(voice)
    names = [language_name(code) for code in languages if code]
    if len(names) > 3:  # the option stays readable; the page lists them all for the chosen one
        names = [*names[:3], f"{len(names) - 3} more"]
    return {
        "code": str(voice.code),
        "name": voice.name,
        "stock": voice.is_stock,
        "blocked": voice.blocked_at is not None,
        "engine": facts.name if facts else "",
        "engine_label": facts.label if facts else "unavailable engine",
        "languages": [{"code": code, "name": language_name(code)} for code in languages],
        "label": f"{voice.name} ({', '.join(names) or 'its own language'} · "
        f"{facts.label if facts else 'unavailable engine'}"
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
        """Accept any offered voice's languages, but show only those of the voice shown first
        (the page script swaps them when another voice is picked; clean() checks the pair)."""
        codes = dict.fromkeys(c for s in self.summaries.values() for c in _codes(s))
        field = self.fields["language"]
        field.choices = [(c, language_name(c)) for c in codes]
        wanted = self.data.get("voice") if self.is_bound else self.initial.get("voice")
        shown = next((s for c, s in self.summaries.items() if str(c) == str(wanted)), None)
        if shown is not None:
            field.widget.choices = [(c, language_name(c)) for c in _codes(shown)]

    def clean(self):
        data = super().clean()
        voice = data.get("voice")
        if voice is None:
            return data
        allowed = voice_languages(voice)
        language = data.get("language") or ""
        if allowed and language not in allowed:
            if language == OWN_LANGUAGE:
                data["language"] = allowed[0]
            else:
                names = ", ".join(language_name(code) for code in allowed)
                self.add_error("language", f"{voice.name} speaks only: {names}.")
        facts = voice_facts(voice)
        params = {"speed": data.get("speed") or 1.0}
        for name in self.engine_params.get(facts.name if facts else "", []):
            if data.get(name) is not None:
                params[name.split("__", 1)[1]] = data[name]
        data["params"] = params
        return data

    def engine_groups(self) -> list[dict]:
        """Bound fields of the "Advanced" panel, one group per engine."""
        return [
            {"engine": engine, "fields": [self[name] for name in names]}
            for engine, names in self.engine_params.items()
        ]


def _codes(summary: dict) -> list[str]:
    return [entry["code"] for entry in summary["languages"]]


def _engines_of(voices) -> list[EngineFacts]:
    found: dict[str, EngineFacts] = {}
    for voice in voices:
        facts = voice_facts(voice)
        if facts is not None:
            found.setdefault(facts.name, facts)
    return list(found.values())
