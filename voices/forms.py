import math

from django import forms

from synthesis.engines import engines
from voices.selectors import LANGUAGE_NAMES, voice_engine_list

MIX_MIN, MIX_MAX = 2, 5  # voices.services.mixing checks the same bounds


class SampleUploadForm(forms.Form):
    file = forms.FileField(
        label="Audio file",
        allow_empty_file=True,  # intake refuses it with a clear message, like any bad file
        help_text="WAV, MP3, FLAC, M4A/AAC, OGG or WebM; 10-30 s of clear speech is best.",
    )


class VoiceRenameForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class VoiceEngineAddForm(forms.Form):
    """Pick one installed cloning engine the voice is not built for yet."""

    engine = forms.ChoiceField(label="Model")

    def __init__(self, *args, voice, **kwargs):
        super().__init__(*args, **kwargs)
        have = {
            e["engine"] for e in voice_engine_list(voice) if e["status"] != "failed" or e["primary"]
        }
        self.fields["engine"].choices = [
            (facts.name, f"{facts.label} ({facts.model_id})")
            for facts in engines().values()
            if facts.clones and facts.name not in have
        ]


class VoiceMixForm(forms.Form):
    """Pick 2-5 of `voices` (checkboxes named "voices") with a weight each ("weight-<code>").

    `cleaned_data["items"]` is [(voice, weight), ...] for voices.services.voice_mix, which
    checks everything again (ownership, readiness, engines) and may still refuse.
    """

    name = forms.CharField(max_length=100, label="Name of the mix")

    def __init__(self, *args, voices, **kwargs):
        super().__init__(*args, **kwargs)
        self.voices = {str(voice.code): voice for voice in voices}
        self.fields["voices"] = forms.MultipleChoiceField(
            choices=[(code, voice.name) for code, voice in self.voices.items()],
            widget=forms.CheckboxSelectMultiple,
            required=False,
        )
        for code, voice in self.voices.items():
            self.fields[f"weight-{code}"] = forms.FloatField(
                required=False, initial=1, label=f"Weight of {voice.name}"
            )

    def rows(self):
        """(voice, is it picked, its weight field) for the template's table."""
        picked = set(self.data.getlist("voices")) if self.is_bound else set()
        return [(v, code in picked, self[f"weight-{code}"]) for code, v in self.voices.items()]

    def clean(self):
        data = super().clean()
        codes = data.get("voices") or []
        if not MIX_MIN <= len(codes) <= MIX_MAX:
            raise forms.ValidationError(
                f"Pick {MIX_MIN} to {MIX_MAX} voices (you picked {len(codes)})."
            )
        for code in set(self.voices) - set(codes):
            self._errors.pop(f"weight-{code}", None)  # a voice left out: its weight is moot
        items = []
        for code in codes:
            field = f"weight-{code}"
            weight = data.get(field)
            if field in self.errors:
                continue  # not a number: the field already says so
            if weight is None or not math.isfinite(weight) or weight <= 0:
                self.add_error(field, "Give a weight above 0, e.g. 1 or 0.5.")
                continue
            items.append((self.voices[code], weight))
        data["items"] = items
        return data


def language_choices() -> list[tuple[str, str]]:
    return [("", "(not set)"), *LANGUAGE_NAMES.items()]
