from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit log"

    def ready(self):
        from audit import signals

        signals.connect()  # admin actions (LogEntry) are mirrored in the audit log
