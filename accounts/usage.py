"""Quotas from the user's plan: monthly characters, concurrent jobs, storage; per-key caps.

Characters are reserved when a request is accepted, with one conditional UPDATE per counter
(`... SET reserved = reserved + n WHERE used + reserved + n <= limit`), so no interleaving of
requests can spend more than the limit: the database evaluates the condition against the row
as it is when it takes the row's lock (PostgreSQL re-checks it after waiting for a concurrent
writer; SQLite runs one writing transaction at a time). When the work ends the reservation is
settled (moved to `used`) or refunded. Callers guarantee each reservation is settled or
refunded at most once (synthesis.jobs.services.job_settle_quota / job_refund_quota).

Months are UTC calendar months; a month's counters live in their own row, so a new month
starts from zero without a reset job.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import (
    ApiKeyCharacterUsage,
    CharacterUsage,
    DailyUsage,
    JobSlots,
    Plan,
    UserAPIKey,
)
from accounts.selectors import plan_for_user
from audit.services import audit_record
from config.service_errors import ServiceError

MB = 1_000_000


class QuotaExceeded(ServiceError):
    """A plan limit refuses the request: 402 for spendable quotas, 429 for concurrency."""


def month_of(moment: datetime | None = None) -> date:
    moment = (moment or timezone.now()).astimezone(UTC)
    return date(moment.year, moment.month, 1)


def resets_at(month: date) -> datetime:
    """When the quota of `month` resets: the first instant of the next month, UTC."""
    days = calendar.monthrange(month.year, month.month)[1]
    return datetime(month.year, month.month, 1, tzinfo=UTC) + timedelta(days=days)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- reserving ---------------------------------------------------------------------------------
def usage_reserve(
    *, user, characters: int, api_key: UserAPIKey | None = None, slot: bool = True
) -> date:
    """Hold `characters` of this month's quota (and a concurrent-job slot when `slot`).

    Must run inside the caller's transaction: when a later step fails, rolling back returns
    everything. Returns the month charged (settle or refund against that month). Raises
    QuotaExceeded: 429 `concurrent_jobs_exceeded`, 402 `quota_exceeded` (the plan's monthly
    characters) or 402 `key_quota_exceeded` (the key's monthly_character_cap).
    """
    month = month_of()
    plan = plan_for_user(user)
    _ensure_rows(user=user, api_key=api_key, month=month)
    if slot and not _take_slot(user, plan):
        raise _concurrency_refusal(plan)
    limit = plan.monthly_characters
    # `granted`: extra characters an admin gave for this month (accounts.moderation).
    taken = CharacterUsage.objects.filter(
        user=user, month=month, used__lte=limit + F("granted") - characters - F("reserved")
    ).update(reserved=F("reserved") + characters)
    if not taken:
        raise _character_refusal(user, month, limit, characters)
    if api_key is not None:
        _reserve_for_key(api_key, month, characters)
    return month


def _ensure_rows(*, user, api_key, month: date) -> None:
    # INSERT ... ON CONFLICT DO NOTHING: concurrent first requests of a month do not collide.
    CharacterUsage.objects.bulk_create(
        [CharacterUsage(user=user, month=month)], ignore_conflicts=True
    )
    JobSlots.objects.bulk_create([JobSlots(user=user)], ignore_conflicts=True)
    if api_key is not None:
        ApiKeyCharacterUsage.objects.bulk_create(
            [ApiKeyCharacterUsage(key=api_key, month=month)], ignore_conflicts=True
        )


def _take_slot(user, plan: Plan) -> bool:
    return bool(
        JobSlots.objects.filter(user=user, in_use__lt=plan.concurrent_jobs).update(
            in_use=F("in_use") + 1
        )
    )


def _reserve_for_key(api_key: UserAPIKey, month: date, characters: int) -> None:
    rows = ApiKeyCharacterUsage.objects.filter(key=api_key, month=month)
    cap = api_key.monthly_character_cap
    if cap is not None:
        rows = rows.filter(used__lte=cap - characters - F("reserved"))
    if not rows.update(reserved=F("reserved") + characters):
        usage = ApiKeyCharacterUsage.objects.get(key=api_key, month=month)
        raise QuotaExceeded(
            code="key_quota_exceeded",
            message=(
                f"This API key's monthly cap of {cap:,} characters is spent: {usage.used:,} "
                f"used and {usage.reserved:,} held by jobs in progress; this request needs "
                f"{characters:,}. The cap resets at {_iso(resets_at(month))}."
            ),
            details=_details(cap, usage, characters, month),
        )


def _character_refusal(user, month: date, limit: int, characters: int) -> QuotaExceeded:
    usage = CharacterUsage.objects.get(user=user, month=month)
    limit += usage.granted
    if characters > limit:
        what = f"This request needs {characters:,} characters, more than your plan's "
        what += f"monthly {limit:,}."
    else:
        what = (
            f"Your monthly character quota is spent: {usage.used:,} of {limit:,} used and "
            f"{usage.reserved:,} held by jobs in progress; this request needs {characters:,}."
        )
    return QuotaExceeded(
        code="quota_exceeded",
        message=f"{what} The quota resets at {_iso(resets_at(month))}.",
        details=_details(limit, usage, characters, month),
    )


def _details(limit: int, usage, characters: int, month: date) -> dict:
    return {
        "limit": limit,
        "used": usage.used,
        "reserved": usage.reserved,
        "requested": characters,
        "resets_at": _iso(resets_at(month)),
    }


def _concurrency_refusal(plan: Plan) -> QuotaExceeded:
    return QuotaExceeded(
        code="concurrent_jobs_exceeded",
        message=(
            f"Your plan runs {plan.concurrent_jobs} job(s) at a time and that many are queued "
            "or running; wait for one to finish (or cancel one) and try again."
        ),
        details={"limit": plan.concurrent_jobs},
    )


def storage_check(*, user) -> None:
    """Refuse new output when the user's stored files already fill the plan's storage_mb.

    A soft limit: an output's size is known only once it is made, so the request that crosses
    the line is still served, and the next one is refused until files are deleted or expire.
    """
    plan = plan_for_user(user)
    used = storage_used_bytes(user=user)
    if used >= plan.storage_mb * MB:
        raise QuotaExceeded(
            code="storage_exceeded",
            message=(
                f"Your stored audio and samples use {used / MB:,.1f} MB of your plan's "
                f"{plan.storage_mb:,} MB. Delete old results (DELETE /api/v1/synthesis/{{id}}) "
                "or samples, or wait for them to expire, then try again."
            ),
            details={"used_bytes": used, "limit_bytes": plan.storage_mb * MB},
        )


# What a user stores, and how many voice slots they use, is known by the apps above this one
# (voices, synthesis). They register a meter when they start (AppConfig.ready), so that accounts
# imports none of them.
_storage_meters: dict[str, Callable] = {}
_voice_slot_meters: dict[str, Callable] = {}


def storage_meter_register(name: str, meter: Callable) -> None:
    """`meter(user=...)` -> bytes of the user's files that count against the plan's storage."""
    _storage_meters[name] = meter


def voice_slot_meter_register(name: str, meter: Callable) -> None:
    """`meter(user=...)` -> voices that count against the plan's voice_slots."""
    _voice_slot_meters[name] = meter


def storage_used_bytes(*, user) -> int:
    return sum(meter(user=user) for meter in _storage_meters.values())


def voice_slots_used(*, user) -> int:
    return sum(meter(user=user) for meter in _voice_slot_meters.values())


def quota_refusal_record(*, user, exc: QuotaExceeded, request=None, api_key=None, what="") -> None:
    """Audit a refusal (accounts.quota.refused). Call it outside the refused transaction."""
    audit_record(
        action="accounts.quota.refused",
        request=request,
        user=user,
        api_key=api_key,
        target=user,
        data={"code": exc.code, "what": what, **exc.details},
    )


# --- ending a reservation ------------------------------------------------------------------------
@dataclass(frozen=True)
class Reservation:
    """What one piece of work holds: characters in `month`, maybe a slot, maybe a key's share."""

    user_id: int
    month: date
    characters: int
    api_key_id: str | None = None
    slot: bool = False


@transaction.atomic
def usage_settle(reservation: Reservation) -> None:
    """The work succeeded: its characters move from reserved to used (and to today's total)."""
    _end(reservation, spent=True)
    today = timezone.now().astimezone(UTC).date()
    DailyUsage.objects.bulk_create(
        [DailyUsage(user_id=reservation.user_id, day=today)], ignore_conflicts=True
    )
    DailyUsage.objects.filter(user_id=reservation.user_id, day=today).update(
        characters=F("characters") + reservation.characters, jobs=F("jobs") + 1
    )


@transaction.atomic
def usage_refund(reservation: Reservation) -> None:
    """The work failed or was cancelled: its characters are free again."""
    _end(reservation, spent=False)


def _end(reservation: Reservation, *, spent: bool) -> None:
    n = reservation.characters
    change = {"reserved": F("reserved") - n}
    if spent:
        change["used"] = F("used") + n
    if reservation.slot:
        slot_release(user_id=reservation.user_id)
    CharacterUsage.objects.filter(user_id=reservation.user_id, month=reservation.month).update(
        **change
    )
    if reservation.api_key_id:
        ApiKeyCharacterUsage.objects.filter(
            key_id=reservation.api_key_id, month=reservation.month
        ).update(**change)


def slot_release(*, user_id: int) -> None:
    JobSlots.objects.filter(user_id=user_id, in_use__gt=0).update(in_use=F("in_use") - 1)


# --- reading -------------------------------------------------------------------------------------
def usage_summary(*, user, api_key: UserAPIKey | None = None) -> dict:
    """This month's numbers for GET /api/v1/usage and the dashboard."""
    month = month_of()
    plan = plan_for_user(user)
    usage = CharacterUsage.objects.filter(user=user, month=month).first()
    slots = JobSlots.objects.filter(user=user).first()
    days = DailyUsage.objects.filter(user=user, day__gte=month, day__lt=resets_at(month).date())
    summary = {
        "month": month.strftime("%Y-%m"),
        "characters": _counters(plan.monthly_characters + (usage.granted if usage else 0), usage),
        "resets_at": resets_at(month),
        "days": [{"date": d.day, "characters": d.characters, "jobs": d.jobs} for d in days],
        "concurrent_jobs": {"in_use": slots.in_use if slots else 0, "limit": plan.concurrent_jobs},
        "voice_slots": {"used": voice_slots_used(user=user), "limit": plan.voice_slots},
        "storage": {
            "used_bytes": storage_used_bytes(user=user),
            "limit_bytes": plan.storage_mb * MB,
        },
        "api_key": None,
    }
    if api_key is not None:
        key_usage = ApiKeyCharacterUsage.objects.filter(key=api_key, month=month).first()
        summary["api_key"] = {
            "prefix": api_key.prefix,
            **_counters(api_key.monthly_character_cap, key_usage),
        }
    return summary


def _counters(limit: int | None, usage) -> dict:
    used = usage.used if usage else 0
    reserved = usage.reserved if usage else 0
    remaining = None if limit is None else max(limit - used - reserved, 0)
    return {"used": used, "reserved": reserved, "limit": limit, "remaining": remaining}


def characters_remaining(*, user) -> tuple[int, int]:
    """(limit, remaining) of this month's characters, for response headers."""
    plan = plan_for_user(user)
    usage = CharacterUsage.objects.filter(user=user, month=month_of()).first()
    limit = plan.monthly_characters + (usage.granted if usage else 0)
    counters = _counters(limit, usage)
    return limit, counters["remaining"]
