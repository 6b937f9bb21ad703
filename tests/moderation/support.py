"""Helpers of the moderation tests."""

from __future__ import annotations

from audit.models import AuditEvent


def run_admin_action(client, model_path: str, action: str, pks, **form):
    """An admin action as the browser runs it: choose it on the change list (the form page
    answers), then submit that form; returns the final response."""
    url = f"/admin/{model_path}/"
    first = client.post(
        url, {"action": action, "index": "0", "_selected_action": [str(pk) for pk in pks]}
    )
    if not form:
        return first
    assert first.status_code == 200, first.content[:500]
    data = {"action": action, "apply": "1", "_selected_action": [str(pk) for pk in pks], **form}
    return client.post(url, data)


def events(action: str, **filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters))


def error_of(response) -> dict:
    return response.json()["error"]
