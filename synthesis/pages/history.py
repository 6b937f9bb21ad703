"""Dashboard pages for what was made: the synthesis history and the webhook settings."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.usage import usage_summary
from config.service_errors import ServiceError
from synthesis.jobs import outputs, selectors
from synthesis.models import SynthesisJob
from synthesis.webhooks import services as webhooks

PAGE_SIZE = 50


@login_required
def history(request):
    status = request.GET.get("status", "")
    if status not in SynthesisJob.Status.values:
        status = ""
    jobs = selectors.job_list(user=request.user, status=status or None)
    page = Paginator(jobs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "statuses": SynthesisJob.Status.choices,
        "usage": usage_summary(user=request.user),
    }
    return render(request, "synthesis/history.html", context)


@login_required
@require_POST
def history_delete(request, code):
    job = selectors.job_get(user=request.user, code=code)
    try:
        outputs.job_delete(job=job, user=request.user, request=request)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Deleted from your history, with its audio.")
    return redirect("synthesis_history")


@login_required
def webhook_settings(request):
    context = {
        "secret": webhooks.secret_get(owner=request.user, request=request),
        "deliveries": selectors.delivery_list(user=request.user)[:PAGE_SIZE],
    }
    return render(request, "synthesis/webhooks.html", context)


@login_required
@require_POST
def webhook_secret_rotate(request):
    webhooks.secret_rotate(owner=request.user, request=request)
    messages.success(request, "New signing secret: update your receivers now.")
    return redirect("synthesis_webhooks")
