from django import forms

from synthesis.jobs.checks import OUTPUT_FORMATS
from voices.selectors import language_list


def _language_choices() -> list[tuple[str, str]]:
    return [("", "The voice's own language")] + [
        (entry["code"], entry["name"]) for entry in language_list()
    ]


class SpeakForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), max_length=1_000_000)
    voice = forms.ModelChoiceField(queryset=None, empty_label=None)
    language = forms.ChoiceField(choices=_language_choices, required=False)
    output_format = forms.ChoiceField(choices=[(f, f) for f in OUTPUT_FORMATS], initial="mp3")
    speed = forms.FloatField(min_value=0.25, max_value=4.0, initial=1.0)

    def __init__(self, *args, voices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["voice"].queryset = voices
        self.fields["voice"].label_from_instance = lambda v: (
            f"{v.name} ({'stock, ' if v.is_stock else ''}{v.language or 'any'})"
            + (" — blocked by an administrator" if v.blocked_at else "")
        )
