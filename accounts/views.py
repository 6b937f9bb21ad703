from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from accounts import services
from accounts.forms import ProfileForm
from accounts.selectors import plan_for_user


def home(request):
    """The public landing page; signed-in people go straight to their dashboard."""
    if request.user.is_authenticated:
        return redirect("dashboard")
    return render(request, "home.html")


@login_required
def dashboard(request):
    return render(request, "dashboard.html", {"plan": plan_for_user(request.user)})


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
