"""Accounts in the Django admin: users (suspend, reactivate, plan, characters), plans, keys, usage.

Moderation goes through accounts.moderation, so that each action is audited; the plan and the
suspension fields are read-only in the change form for the same reason.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from rest_framework_api_key.admin import APIKeyModelAdmin

from accounts import moderation
from accounts.admin_forms import ReasonForm, action_with_form
from accounts.models import CharacterUsage, Plan, User, UserAPIKey


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "slug",
        "monthly_characters",
        "voice_slots",
        "concurrent_jobs",
        "max_upload_mb",
        "retention_days",
        "storage_mb",
        "is_default",
    )
    list_filter = ("is_default",)
    search_fields = ("name", "slug")
    list_select_related = False  # no relations shown
    prepopulated_fields = {"slug": ("name",)}


class PlanChangeForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.all(), empty_label=None)


class GrantForm(ReasonForm):
    characters = forms.IntegerField(
        min_value=1,
        max_value=moderation.MAX_GRANT,
        help_text="Extra characters for this month (UTC), on top of the plan's limit.",
    )


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = (
        "email",
        "display_name",
        "plan",
        "is_active",
        "suspended",
        "is_staff",
        "date_joined",
    )
    list_filter = (
        "is_active",
        ("suspended_at", admin.EmptyFieldListFilter),
        "is_staff",
        "is_superuser",
        "plan",
    )
    search_fields = ("email", "display_name", "code")
    list_select_related = ("plan",)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "plan")}),
        ("Moderation", {"fields": ("suspended_at", "suspension_reason")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2", "plan")}),
    )
    actions = ["suspend", "reactivate", "change_plan", "grant_characters"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        # Changed only through the audited actions of the change list.
        return ("plan", "suspended_at", "suspension_reason")

    @admin.display(boolean=True, description="Suspended", ordering="suspended_at")
    def suspended(self, user):
        return user.suspended_at is not None

    @admin.action(description="Suspend: end sessions, refuse keys, cancel jobs (with a reason)")
    def suspend(self, request, queryset):
        return action_with_form(
            self,
            request,
            queryset,
            form_class=ReasonForm,
            title="Suspend users",
            apply=lambda user, data: moderation.user_suspend(
                user=user, reason=data["reason"], admin_user=request.user, request=request
            ),
            success="{n} user(s) suspended.",
        )

    @admin.action(description="Reactivate suspended users (with a reason)")
    def reactivate(self, request, queryset):
        return action_with_form(
            self,
            request,
            queryset,
            form_class=ReasonForm,
            title="Reactivate users",
            apply=lambda user, data: moderation.user_reactivate(
                user=user, reason=data["reason"], admin_user=request.user, request=request
            ),
            success="{n} user(s) reactivated.",
        )

    @admin.action(description="Change plan")
    def change_plan(self, request, queryset):
        return action_with_form(
            self,
            request,
            queryset,
            form_class=PlanChangeForm,
            title="Change plan",
            apply=lambda user, data: moderation.user_plan_change(
                user=user, plan=data["plan"], admin_user=request.user, request=request
            ),
            success="{n} user(s) updated.",
        )

    @admin.action(description="Grant extra characters for this month")
    def grant_characters(self, request, queryset):
        return action_with_form(
            self,
            request,
            queryset,
            form_class=GrantForm,
            title="Grant characters",
            apply=lambda user, data: moderation.quota_grant(
                user=user,
                characters=data["characters"],
                reason=data["reason"],
                admin_user=request.user,
                request=request,
            ),
            success="Characters granted to {n} user(s).",
        )


@admin.register(UserAPIKey)
class UserAPIKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "user", "last_used_at")
    list_filter = ("revoked", "created", "expiry_date")
    list_select_related = ("user",)
    search_fields = (*APIKeyModelAdmin.search_fields, "user__email")


@admin.register(CharacterUsage)
class CharacterUsageAdmin(admin.ModelAdmin):
    list_display = ("user", "month", "used", "reserved", "granted")
    list_filter = ("month",)
    list_select_related = ("user",)
    search_fields = ("user__email",)
    readonly_fields = ("user", "month", "used", "reserved", "granted")

    def has_add_permission(self, request):
        return False  # rows are made by accounts.usage; grants go through the user actions
