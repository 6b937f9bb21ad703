from django import forms

from voices.audio.probe import ACCEPTED_LABEL


class CheckForm(forms.Form):
    file = forms.FileField(
        label="Audio file",
        allow_empty_file=True,  # the check refuses it with a clear message, like any bad file
        help_text=f"{ACCEPTED_LABEL}.",
    )
