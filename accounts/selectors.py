from django.shortcuts import get_object_or_404

from accounts.models import Plan, UserAPIKey


def plan_default() -> Plan:
    """The plan new users get: the one marked default, else the one named by the setting."""
    from django.conf import settings

    plan = Plan.objects.filter(is_default=True).order_by("id").first()
    if plan is None:
        plan = Plan.objects.filter(slug=settings.TIMBRE_DEFAULT_PLAN).first()
    if plan is None:
        plan, _ = Plan.objects.get_or_create(
            slug=settings.TIMBRE_DEFAULT_PLAN, defaults={"name": "Free", "is_default": True}
        )
    return plan


def plan_for_user(user) -> Plan:
    return user.plan if user.plan_id else plan_default()


def api_key_list(*, user):
    return UserAPIKey.objects.filter(user=user).order_by("-created")


def api_key_get_for_user(*, user, prefix: str) -> UserAPIKey:
    """The user's own key by its public prefix; anyone else's is a 404."""
    return get_object_or_404(UserAPIKey, user=user, prefix=prefix)
