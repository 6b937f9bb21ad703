from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from audit.models import AuditAlert, AuditEvent
from audit.services import audit_alert_resolve


class ActionAreaFilter(admin.SimpleListFilter):
    """By the action's first part: a fixed list (a DISTINCT over the whole log would not be)."""

    title = "area"
    parameter_name = "area"
    AREAS = ("accounts", "voices", "synthesis", "admin", "audit", "system")

    def lookups(self, request, model_admin):
        return [(area, area) for area in self.AREAS]

    def queryset(self, request, queryset):
        if self.value() in self.AREAS:
            return queryset.filter(action__startswith=f"{self.value()}.")
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is evidence, so nobody edits or deletes it here."""

    list_display = (
        "seq",
        "created_at",
        "action",
        "actor_type",
        "actor_label",
        "target_type",
        "target_id",
        "ip",
        "request_id",
    )
    list_filter = ("actor_type", ActionAreaFilter)
    search_fields = (
        "=seq",
        "action",
        "actor_label",
        "target_type",
        "target_id",
        "request_id",
        "ip",
    )
    date_hierarchy = "created_at"
    # Every column is on the row itself; the actor is shown by its label (the user may be gone).
    list_select_related = False
    show_full_result_count = False  # no COUNT(*) over the whole log on every page
    fields = (
        "seq",
        "code",
        "created_at",
        "action",
        "actor_type",
        "actor_label",
        "actor_account",
        "api_key_id",
        "target_type",
        "target_id",
        "ip",
        "user_agent",
        "request_id",
        "data",
        "prev_hash",
        "hash",
    )
    readonly_fields = fields

    @admin.display(description="actor account")
    def actor_account(self, obj):
        """A link to the actor's account, or its id when the account was deleted since."""
        if obj.actor_user_id is None:
            return "-"
        user_model = get_user_model()
        if not user_model.objects.filter(pk=obj.actor_user_id).exists():
            return f"#{obj.actor_user_id} (deleted)"
        try:
            url = reverse(
                f"admin:{user_model._meta.app_label}_{user_model._meta.model_name}_change",
                args=[obj.actor_user_id],
            )
        except NoReverseMatch:
            return f"#{obj.actor_user_id}"
        return format_html('<a href="{}">#{}</a>', url, obj.actor_user_id)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditAlert)
class AuditAlertAdmin(admin.ModelAdmin):
    """Alerts from the periodic chain verification; an admin resolves them (audited)."""

    list_display = ("opened_at", "is_open", "summary", "runs", "last_seen_at", "resolved_by")
    list_filter = ("is_open",)
    list_select_related = ("resolved_by",)
    search_fields = ("summary",)
    readonly_fields = (
        "opened_at",
        "last_seen_at",
        "runs",
        "summary",
        "problems",
        "is_open",
        "resolved_at",
        "resolved_by",
        "resolution",
    )
    actions = ["resolve"]

    @admin.action(description="Mark resolved (after investigating)", permissions=["view"])
    def resolve(self, request, queryset):
        resolved = 0
        for alert in queryset.filter(is_open=True):
            audit_alert_resolve(alert=alert, user=request.user, note="resolved in the admin")
            resolved += 1
        self.message_user(request, f"{resolved} alert(s) resolved.", messages.SUCCESS)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
