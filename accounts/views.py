from datetime import UTC, datetime, time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import ApiKeyForm, ProfileForm
from accounts.selectors import plan_for_user


def home(request):
    """The public landing page; signed-in people go straight to their dashboard."""
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "home.html")


@login_required
def profile(request):
    form = ProfileForm(request.POST or None, initial={"display_name": request.user.display_name})
    if request.method == "POST" and form.is_valid():
        services.user_profile_update(
            user=request.user, display_name=form.cleaned_data["display_name"], request=request
        )
        messages.success(request, "Profile saved.")
        return redirect("profile")
    return render(
        request, "accounts/profile.html", {"form": form, "plan": plan_for_user(request.user)}
    )


@login_required
def api_keys(request):
    form = ApiKeyForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        expiry = None
        if data["expires_on"]:
            expiry = datetime.combine(data["expires_on"], time.max, tzinfo=UTC)
        _, secret = services.api_key_create(
            user=request.user,
            name=data["name"],
            scopes=data["scopes"],
            expiry_date=expiry,
            monthly_character_cap=data["monthly_character_cap"],
            request=request,
        )
        form = ApiKeyForm()
    keys = selectors.api_key_list(user=request.user)
    return render(request, "accounts/keys.html", {"form": form, "keys": keys, "secret": secret})


@login_required
@require_POST
def api_key_revoke(request, prefix):
    key = selectors.api_key_get_for_user(user=request.user, prefix=prefix)
    services.api_key_revoke(user=request.user, key=key, request=request)
    messages.success(request, f"Key {key.name} revoked.")
    return redirect("api_keys")
