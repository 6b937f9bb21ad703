from django import forms


class ProfileForm(forms.Form):
    display_name = forms.CharField(max_length=150, required=False, label="Display name")


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=50)
    scopes = forms.MultipleChoiceField(
        choices=[("all", "Everything")]
        + [(s, s) for s in ("tts", "voices:read", "voices:write", "history:read", "usage:read")],
        widget=forms.CheckboxSelectMultiple,
        initial=["all"],
    )
    expires_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    monthly_character_cap = forms.IntegerField(required=False, min_value=1)


class AccountDeleteForm(forms.Form):
    """Deleting an account asks for its password again."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password
