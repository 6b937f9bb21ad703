from django import forms


class ProfileForm(forms.Form):
    display_name = forms.CharField(max_length=150, required=False, label="Display name")
