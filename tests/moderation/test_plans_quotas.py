"""Changing a user's plan and granting characters from the admin, each audited once."""

from __future__ import annotations

import pytest

from accounts import moderation, usage
from accounts.models import CharacterUsage, Plan
from tests.factories import UserFactory
from tests.moderation.support import events, run_admin_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_plan(db):
    return Plan.objects.create(slug="tiny", name="Tiny", monthly_characters=10, concurrent_jobs=5)


@pytest.fixture
def member(small_plan):
    return UserFactory(email="member@example.com", plan=small_plan)


def test_admin_changes_a_plan(admin_client, member, small_plan):
    big = Plan.objects.create(slug="big", name="Big", monthly_characters=1_000_000)
    response = run_admin_action(
        admin_client, "accounts/user", "change_plan", [member.pk], plan=str(big.pk)
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.plan == big
    [event] = events("accounts.plan.changed", target_id=str(member.code))
    assert event.data == {"old": "tiny", "new": "big"}
    # The same plan again changes nothing and records nothing.
    run_admin_action(admin_client, "accounts/user", "change_plan", [member.pk], plan=str(big.pk))
    assert len(events("accounts.plan.changed")) == 1


def test_the_change_form_cannot_bypass_the_audited_actions(admin_client, member):
    page = admin_client.get(f"/admin/accounts/user/{member.pk}/change/").content.decode()
    assert 'name="plan"' not in page
    assert 'name="suspension_reason"' not in page


def test_granted_characters_lift_this_months_limit(admin_client, member):
    with pytest.raises(usage.QuotaExceeded):
        usage.usage_reserve(user=member, characters=15, slot=False)

    response = run_admin_action(
        admin_client,
        "accounts/user",
        "grant_characters",
        [member.pk],
        characters="10",
        reason="Support ticket 42",
    )
    assert response.status_code == 302
    row = CharacterUsage.objects.get(user=member, month=usage.month_of())
    assert row.granted == 10
    usage.usage_reserve(user=member, characters=15, slot=False)  # 10 + 10 now
    with pytest.raises(usage.QuotaExceeded) as refused:
        usage.usage_reserve(user=member, characters=6, slot=False)
    assert refused.value.details["limit"] == 20
    summary = usage.usage_summary(user=member)
    assert summary["characters"]["limit"] == 20
    assert summary["characters"]["remaining"] == 5
    assert usage.characters_remaining(user=member) == (20, 5)
    [event] = events("accounts.quota.granted", target_id=str(member.code))
    assert event.data["characters"] == 10
    assert event.data["reason"] == "Support ticket 42"


@pytest.mark.parametrize("characters", [0, -5, True, "12"])
def test_bad_grants_are_refused(admin_user, member, characters):
    with pytest.raises(moderation.ServiceError) as refused:
        moderation.quota_grant(
            user=member, characters=characters, reason="x", admin_user=admin_user
        )
    assert refused.value.code == "invalid_grant"
    assert not events("accounts.quota.granted")


def test_admin_form_refuses_a_bad_number(admin_client, member):
    response = run_admin_action(
        admin_client, "accounts/user", "grant_characters", [member.pk], characters="-1", reason="x"
    )
    assert response.status_code == 200  # the form again with its error
    assert not CharacterUsage.objects.filter(user=member, granted__gt=0).exists()
