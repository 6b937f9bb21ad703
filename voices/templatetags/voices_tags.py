from django import template

from voices import selectors

register = template.Library()


@register.filter
def percent(value) -> str:
    """0.0123 -> "1.2%"."""
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return "-"


@register.simple_tag(takes_context=True)
def user_voices(context):
    """The signed-in user's own voices (for the dashboard, whose view lives in accounts)."""
    user = context["request"].user
    return list(selectors.voice_list(user=user, include_stock=False))
