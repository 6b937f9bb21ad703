from django import template

from audit.models import AuditAlert

register = template.Library()


@register.simple_tag
def audit_open_alert():
    """The open audit-chain alert, or None (shown as a banner on the admin index)."""
    return AuditAlert.objects.filter(is_open=True).first()
