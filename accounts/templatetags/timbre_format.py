"""Display filters shared by the dashboard pages.

`decimal_size`: Django's filesizeformat counts in KiB/MiB (1024), but plan storage limits are
configured in decimal megabytes (accounts.usage.MB = 1,000,000), so a 1024 MB limit showed as
"976.6 MB". Every size on the pages goes through this filter instead, in the limit's own unit.
"""

from django import template

from accounts.usage import MB

register = template.Library()

KB = 1_000


def _trim(value: float) -> str:
    text = f"{value:,.1f}"
    return text[:-2] if text.endswith(".0") else text


@register.filter
def decimal_size(num_bytes) -> str:
    try:
        num_bytes = int(num_bytes)
    except (TypeError, ValueError):
        return "0 bytes"
    if num_bytes < KB:
        return f"{num_bytes} byte{'' if num_bytes == 1 else 's'}"
    if num_bytes < MB:
        return f"{_trim(num_bytes / KB)} kB"
    return f"{_trim(num_bytes / MB)} MB"


@register.filter
def percent_of(part, whole) -> int:
    """part / whole as a whole percentage in 0..100 (0 when there is no limit)."""
    try:
        part, whole = float(part), float(whole)
    except (TypeError, ValueError):
        return 0
    if whole <= 0:
        return 0
    return max(0, min(100, round(100 * part / whole)))


@register.filter
def thousands(value) -> str:
    """A whole number with thousands separators ("100,000 characters"); other values as they are."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return value
