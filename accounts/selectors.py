from accounts.models import Plan


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
