from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from rest_framework_api_key.admin import APIKeyModelAdmin

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
    prepopulated_fields = {"slug": ("name",)}


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "display_name", "plan", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "plan")
    search_fields = ("email", "display_name")
    list_select_related = ("plan",)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "plan")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "password1", "password2", "plan")}),
    )


@admin.register(UserAPIKey)
class UserAPIKeyAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "user", "last_used_at")
    list_select_related = ("user",)
    search_fields = (*APIKeyModelAdmin.search_fields, "user__email")


@admin.register(CharacterUsage)
class CharacterUsageAdmin(admin.ModelAdmin):
    list_display = ("user", "month", "used", "reserved")
    list_select_related = ("user",)
    search_fields = ("user__email",)
