from datetime import UTC, datetime, time, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import AccountDeleteForm, ApiKeyForm, ProfileForm
from accounts.selectors import plan_for_user
from accounts.usage import month_of, resets_at, usage_summary
from accounts.usage_chart import chart_build, usage_days
from audit.selectors import audit_events_for_account
from config.service_errors import ServiceError

SECURITY_PAGE_SIZE = 25


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


USAGE_RANGES = {"month": "This period", "30d": "Last 30 days"}


@login_required
def usage(request):
    """Characters per day, for the current quota period or the last 30 days (UTC days)."""
    span = request.GET.get("range", "month")
    if span not in USAGE_RANGES:
        span = "month"
    if span == "month":
        start = month_of()
        end = resets_at(start).date() - timedelta(days=1)
    else:
        end = timezone.now().astimezone(UTC).date()
        start = end - timedelta(days=29)
    rows = usage_days(user=request.user, start=start, end=end)
    context = {
        "chart": chart_build(rows=rows, start=start, end=end),
        "span": span,
        "ranges": USAGE_RANGES,
        "usage": usage_summary(user=request.user),
        "plan": plan_for_user(request.user),
    }
    return render(request, "accounts/usage.html", context)


@login_required
def security(request):
    """The user's own account events (sign-ins with address and browser, failed sign-ins,
    password, two-factor and key changes) and their API keys with when each was last used."""
    events = audit_events_for_account(user=request.user)
    page = Paginator(events, SECURITY_PAGE_SIZE).get_page(request.GET.get("page"))
    keys = selectors.api_key_list(user=request.user)
    return render(request, "accounts/security.html", {"page": page, "keys": keys})


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request):
    """Delete the account for good (POST with the password; GET shows what will go)."""
    form = AccountDeleteForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            services.account_delete(user=request.user, request=request)
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("profile")
        # The session row is already gone; drop this request's user without a "logged out" event.
        request.session.flush()
        request.user = AnonymousUser()
        messages.success(request, "Your account and everything in it were deleted.")
        return redirect("home")
    return render(request, "accounts/account_delete.html", {"form": form})
