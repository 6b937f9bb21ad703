from django import forms

from voices.selectors import LANGUAGE_NAMES


class SampleUploadForm(forms.Form):
    file = forms.FileField(
        label="Audio file",
        allow_empty_file=True,  # intake refuses it with a clear message, like any bad file
        help_text="WAV, MP3, FLAC, M4A/AAC, OGG or WebM; 10-30 s of clear speech is best.",
    )


class VoiceRenameForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


def language_choices() -> list[tuple[str, str]]:
    return [("", "(not set)"), *LANGUAGE_NAMES.items()]
