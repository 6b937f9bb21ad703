from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the log is evidence, so nobody edits or deletes it here."""

    list_display = (
        "created_at",
        "action",
        "actor_type",
        "actor_label",
        "target_type",
        "target_id",
        "ip",
    )
    list_filter = ("actor_type", "action")
    search_fields = ("action", "actor_label", "target_id", "request_id", "ip")
    date_hierarchy = "created_at"
    list_select_related = ("actor_user",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
