"""The usage page: a per-day chart drawn on the server, with a table of the same numbers."""

from __future__ import annotations

import re
from datetime import UTC, date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import DailyUsage
from accounts.usage import month_of
from accounts.usage_chart import chart_build, nice_ceiling

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _bars(page: str) -> dict[str, int]:
    return {
        day: int(chars)
        for day, chars in re.findall(r'data-date="([\d-]+)" data-characters="(\d+)"', page)
    }


def test_chart_has_one_bar_per_day_with_usage_and_the_right_values(owner, stranger):
    start = month_of()
    DailyUsage.objects.create(user=owner, day=start, characters=120, jobs=2)
    DailyUsage.objects.create(user=owner, day=start + timedelta(days=2), characters=30, jobs=1)
    DailyUsage.objects.create(user=owner, day=start + timedelta(days=3), characters=0, jobs=0)
    DailyUsage.objects.create(user=stranger, day=start, characters=999, jobs=1)

    response = _client(owner).get("/usage/")
    page = response.content.decode()
    assert response.status_code == 200
    assert _bars(page) == {
        start.isoformat(): 120,
        (start + timedelta(days=2)).isoformat(): 30,
    }
    assert '<svg class="chart"' in page and 'role="img"' in page
    assert 'data-testid="usage-table"' in page  # the same numbers for screen readers
    assert 'data-testid="usage-total">150<' in page
    assert "style=" not in page  # the strict CSP refuses inline styles


def test_the_taller_bar_is_the_larger_day(owner):
    start = date(2026, 11, 1)
    rows = [
        DailyUsage(user=owner, day=start, characters=100, jobs=1),
        DailyUsage(user=owner, day=start + timedelta(days=1), characters=50, jobs=1),
    ]
    chart = chart_build(rows=rows, start=start, end=start + timedelta(days=29))
    big, small = chart.bars
    assert big.height == pytest.approx(2 * small.height)
    assert big.y + big.height == pytest.approx(chart.baseline)  # both stand on the axis
    assert small.x > big.x
    assert chart.y_ticks[-1].label == "100"


@pytest.mark.parametrize(("value", "top"), [(0, 4), (7, 12), (100, 100), (150, 200), (1001, 2000)])
def test_axis_tops_read_well(value, top):
    assert nice_ceiling(value) == top


def test_last_30_days_range_and_unknown_ranges(owner):
    today = timezone.now().astimezone(UTC).date()
    old = today - timedelta(days=40)
    DailyUsage.objects.create(user=owner, day=today, characters=42, jobs=1)
    DailyUsage.objects.create(user=owner, day=old, characters=7, jobs=1)
    client = _client(owner)
    page = client.get("/usage/?range=30d").content.decode()
    assert _bars(page) == {today.isoformat(): 42}
    assert client.get("/usage/?range=nonsense").status_code == 200


def test_empty_usage_says_so_and_login_is_required(owner):
    page = _client(owner).get("/usage/").content.decode()
    assert 'data-testid="usage-empty"' in page and "<svg" not in page
    anonymous = Client().get("/usage/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


@pytest.mark.parametrize(
    ("value", "label"),
    [(0, "0"), (950, "950"), (1_500, "1.5k"), (20_000, "20k"), (1_200_000, "1.2M")],
)
def test_axis_labels_are_compact(value, label):
    from accounts.usage_chart import _compact

    assert _compact(value) == label
