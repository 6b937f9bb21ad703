"""Admin actions that ask for input first (a reason, a plan, a number of characters).

The action shows a small form for the selected rows; its POST applies a service to each row
and reports what was refused. Shared by the accounts, voices and synthesis admins.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from config.service_errors import ServiceError


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Recorded in the audit log; the user concerned sees it.",
    )


class NoteForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        required=False,
        help_text="Optional; recorded in the audit log (a rejection's note is the block reason).",
    )


def apply_each(modeladmin: admin.ModelAdmin, request, queryset, apply: Callable, success: str):
    """Call `apply(obj)` for each row; ServiceErrors become warnings, the rest a summary."""
    done = 0
    for obj in queryset:
        try:
            apply(obj)
        except ServiceError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", messages.WARNING)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, success.format(n=done), messages.SUCCESS)


def action_with_form(
    modeladmin: admin.ModelAdmin,
    request,
    queryset,
    *,
    form_class: type[forms.Form],
    title: str,
    apply: Callable,
    success: str,
    form_kwargs: dict | None = None,
):
    """First call: render the form. Its POST (with `apply`): `apply(obj, cleaned_data)` on each
    selected row, then back to the change list."""
    form_kwargs = form_kwargs or {}
    if "apply" in request.POST:
        form = form_class(request.POST, **form_kwargs)
        if form.is_valid():
            apply_each(
                modeladmin,
                request,
                queryset,
                lambda obj: apply(obj, form.cleaned_data),
                success,
            )
            return None
    else:
        form = form_class(**form_kwargs)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "opts": modeladmin.model._meta,
        "action": request.POST.get("action", ""),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/moderation_action.html", context)
