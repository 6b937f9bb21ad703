import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent

PASSWORD = "a-Long-pass-phrase-42"


def _signup(client, email="new@example.com"):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


@pytest.mark.django_db
def test_signup_verify_login_dashboard(client):
    response = _signup(client)
    assert response.status_code == 302
    user = User.objects.get(email="new@example.com")
    assert user.plan.slug == "free"  # default plan given at signup

    # Verification is mandatory: no dashboard before the emailed link is followed.
    assert client.get(reverse("dashboard")).status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    confirm = client.post(link.group(1))
    assert confirm.status_code == 302

    client.logout()
    login = client.post(
        reverse("account_login"), {"login": "new@example.com", "password": PASSWORD}
    )
    assert login.status_code == 302
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    assert "You have no voices yet" in page.content.decode()

    actions = list(AuditEvent.objects.filter(actor_user=user).values_list("action", flat=True))
    assert "accounts.user.signed_up" in actions
    assert "accounts.user.logged_in" in actions
    assert "accounts.user.logged_out" in actions


@pytest.mark.django_db
def test_unverified_user_cannot_log_in(client):
    _signup(client, "unverified@example.com")
    client.logout()
    response = client.post(
        reverse("account_login"), {"login": "unverified@example.com", "password": PASSWORD}
    )
    assert client.get(reverse("dashboard")).status_code == 302
    assert response.status_code in (200, 302)


@pytest.mark.django_db
def test_login_failure_is_audited_without_password(client, owner):
    response = client.post(reverse("account_login"), {"login": owner.email, "password": "nope"})
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="accounts.user.login_failed")
    assert event.data == {"email": owner.email}
    assert "nope" not in str(event.data)
    assert event.ip == "127.0.0.1"


@pytest.mark.django_db
def test_password_change_is_audited(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("account_change_password"),
        {
            "oldpassword": "correct horse battery",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    assert AuditEvent.objects.filter(
        action="accounts.user.password_changed", actor_user=owner
    ).exists()


@pytest.mark.django_db
def test_password_reset_sends_email(client, owner):
    response = client.post(reverse("account_reset_password"), {"email": owner.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


@pytest.mark.django_db
def test_profile_update_is_audited(client, owner):
    client.force_login(owner)
    response = client.post(reverse("profile"), {"display_name": "Ada"})
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.display_name == "Ada"
    event = AuditEvent.objects.get(action="accounts.user.profile_updated")
    assert event.data["display_name"] == {"old": "", "new": "Ada"}
    assert event.request_id


@pytest.mark.django_db
def test_landing_page_is_public_and_dashboard_is_not(client):
    landing = client.get("/")
    assert landing.status_code == 200
    assert "clones a voice" in landing.content.decode()
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_signup_can_be_closed(client, settings):
    settings.ACCOUNT_ALLOW_SIGNUP = False
    _signup(client, "closed@example.com")
    assert not User.objects.filter(email="closed@example.com").exists()
