"""The weekly trend on the LA, care-setting and national reports (issue 32): checks, alerts,
notifications and the median time to acknowledge, week by week, read from the daily roll-up,
each chart with its table and labelled ticks."""

import datetime as dt
import re

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from core.dates import london_moment
from notifications.models import Notification, NotificationStatus
from reports.metrics import care_setting_reports, local_authority_reports
from reports.models import RolledUpDay
from reports.rollup import days_roll_up
from reports.trends import weekly_trend
from tests.factories import user_with_role
from tests.notifications.checks import inbox_notification

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def _weeks() -> list[dt.date]:
    """The Mondays of the four whole weeks before this one."""
    this_monday = timezone.localdate() - dt.timedelta(days=timezone.localdate().weekday())
    return [this_monday - dt.timedelta(weeks=n) for n in (4, 3, 2, 1)]


def _at(day: dt.date, hour: int = 10):
    return time_machine.travel(london_moment(day, dt.time(hour)), tick=False)


def _notified(la, setting, day: dt.date, *, acknowledged_after_hours: float | None = None):
    with _at(day):
        notification = inbox_notification(la, setting)
    if acknowledged_after_hours is not None:
        Notification.objects.filter(pk=notification.pk).update(
            status=NotificationStatus.ACKNOWLEDGED,
            acknowledged_at=notification.created_at + dt.timedelta(hours=acknowledged_after_hours),
        )
    return notification


def _check(setting, day: dt.date, *, found: bool) -> None:
    with _at(day, 15):
        AuditEvent.objects.create(
            action=AuditAction.CHILD_CHECKED, organisation=setting, detail={"plan_ids": [1] if found else []}
        )


def _range(weeks: list[dt.date]) -> dict:
    end = weeks[-1] + dt.timedelta(days=6)
    return {"date_from_day": weeks[0].day, "date_from_month": weeks[0].month, "date_from_year": weeks[0].year,
            "date_to_day": end.day, "date_to_month": end.month, "date_to_year": end.year}  # fmt: skip


def _table(page: str) -> dict[str, dict[str, str]]:
    """The trend table: {week's Monday (ISO): {figure: text}}."""
    table = re.search(r'data-testid="trend-table">(.*?)</table>', page, re.S)[1]
    rows = {}
    for week, cells in re.findall(r'<tr class="nhsuk-table__row" data-week="([\d-]+)">(.*?)</tr>', table, re.S):
        rows[week] = {
            figure: re.sub(r"<span[^>]*>[^<]*</span>", "", text).strip()
            for figure, text in re.findall(r'data-figure="(\w+)">(.*?)</td>', cells, re.S)
        }
    return rows


def _chart(page: str, chart_id: str) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(tick labels up the axis, bar labels under it, (week, value) rows of its own table)."""
    figure = re.search(rf'data-testid="chart-{chart_id}">(.*?)</figure>', page, re.S)[1]
    ticks = re.findall(r'<text class="cpis-chart__tick" data-tick[^>]*>([^<]*)</text>', figure)
    labels = re.findall(
        r'<text class="cpis-chart__tick" x="[^"]*" y="[^"]*" text-anchor="middle">([^<]*)</text>', figure
    )
    table = re.search(rf'data-testid="table-{chart_id}">(.*?)</table>', page, re.S)[1]
    rows = re.findall(r'<th scope="row" class="nhsuk-table__cell">([^<]*)</th><td[^>]*>([^<]*)</td>', table)
    return ticks, labels, rows


def test_the_la_trend_counts_each_week_and_its_median_from_the_roll_up(
    client_for, local_authority, other_local_authority, care_setting
):
    weeks = _weeks()
    # Week 1: three notifications, acknowledged after 1, 3 and 8 hours (median 3).
    for hours in (1, 3, 8):
        _notified(local_authority, care_setting, weeks[0] + dt.timedelta(days=1), acknowledged_after_hours=hours)
    # Week 2: none at all. Week 3: one, never acknowledged. Week 4: two, on the Monday and the
    # Sunday (the week's first and last days), acknowledged after 2 and 6 hours (median 2).
    _notified(local_authority, care_setting, weeks[2] + dt.timedelta(days=2))
    _notified(local_authority, care_setting, weeks[3], acknowledged_after_hours=2)
    _notified(local_authority, care_setting, weeks[3] + dt.timedelta(days=6), acknowledged_after_hours=6)
    _notified(other_local_authority, care_setting, weeks[1], acknowledged_after_hours=40)  # not ours
    days_roll_up(first=weeks[0])
    assert RolledUpDay.objects.filter(day__gte=weeks[0], day__lte=weeks[3] + dt.timedelta(days=6)).count() == 28

    page = client_for(user_with_role(Role.ORG_ADMIN, local_authority)).get("/reports/", _range(weeks)).content.decode()

    table = _table(page)
    assert list(table) == [w.isoformat() for w in weeks]  # every week, the empty one too, in order
    assert [row["notifications"] for row in table.values()] == ["3", "0", "1", "2"]
    assert [row["median"] for row in table.values()] == ["3", "–", "–", "2"]
    assert "checks" not in table[weeks[0].isoformat()]  # an LA's report has no checks of its own
    ticks, labels, rows = _chart(page, "notifications-per-week")
    assert labels == [f"{w:%-d %b}" for w in weeks]
    assert ticks == ["0", "1", "2", "3"]
    assert rows == [(f"{w:%-d %b}", n) for w, n in zip(weeks, ("3", "0", "1", "2"), strict=True)]
    ticks, _, rows = _chart(page, "median-hours-per-week")
    assert ticks[0] == "0" and ticks[-1] == "3" and len(ticks) >= 3
    assert [value for _, value in rows] == ["3", "0", "0", "2"]
    assert 'data-testid="chart-checks-per-week"' not in page


def test_the_care_setting_trend_counts_checks_and_alerts_per_week(client_for, care_setting, other_care_setting):
    weeks = _weeks()
    for day, found in ((weeks[0], True), (weeks[0] + dt.timedelta(days=6), False), (weeks[2], False),
                       (weeks[2] + dt.timedelta(days=3), True), (weeks[2] + dt.timedelta(days=4), True),
                       (weeks[3] + dt.timedelta(days=5), False)):  # fmt: skip
        _check(care_setting, day, found=found)
    _check(other_care_setting, weeks[1], found=True)  # another setting's
    days_roll_up()

    page = client_for(user_with_role(Role.ORG_ADMIN, care_setting)).get("/reports/", _range(weeks)).content.decode()

    table = _table(page)
    assert list(table) == [w.isoformat() for w in weeks]
    assert [(row["checks"], row["alerts"]) for row in table.values()] == [
        ("2", "1"),
        ("0", "0"),
        ("3", "2"),
        ("1", "0"),
    ]
    assert "notifications" not in table[weeks[0].isoformat()]
    ticks, labels, _ = _chart(page, "checks-per-week")
    assert labels == [f"{w:%-d %b}" for w in weeks] and ticks == ["0", "1", "2", "3"]
    _, _, rows = _chart(page, "alerts-per-week")
    assert [value for _, value in rows] == ["1", "0", "2", "0"]


def test_the_national_trend_adds_every_organisation_and_pools_the_times(
    client_for, national, local_authority, other_local_authority, care_setting, other_care_setting
):
    weeks = _weeks()
    # One week: our LA's times 1 and 2 hours, the other's 10: the median of all three is 2
    # (a median of the two medians would be 5.75).
    for la, hours in ((local_authority, 1), (local_authority, 2), (other_local_authority, 10)):
        _notified(la, care_setting, weeks[1] + dt.timedelta(days=1), acknowledged_after_hours=hours)
    _notified(other_local_authority, other_care_setting, weeks[3] + dt.timedelta(days=2))
    _check(other_care_setting, weeks[3], found=False)
    days_roll_up()

    page = client_for(user_with_role(Role.NATIONAL_ADMIN, national)).get("/reports/", _range(weeks)).content.decode()

    table = _table(page)
    assert list(table) == [w.isoformat() for w in weeks]
    # Each notification's check counts as a check and an alert of its care setting.
    assert [row["checks"] for row in table.values()] == ["0", "3", "0", "2"]
    assert [row["alerts"] for row in table.values()] == ["0", "3", "0", "1"]
    assert [row["notifications"] for row in table.values()] == ["0", "3", "0", "1"]
    assert [row["median"] for row in table.values()] == ["–", "2", "–", "–"]
    for chart_id in ("checks-per-week", "alerts-per-week", "notifications-per-week", "median-hours-per-week"):
        ticks, labels, _ = _chart(page, chart_id)
        assert labels == [f"{w:%-d %b}" for w in weeks] and ticks[0] == "0" and len(ticks) >= 2


def test_a_week_cut_by_the_range_counts_only_its_days_inside(client_for, local_authority, care_setting):
    weeks = _weeks()
    _notified(local_authority, care_setting, weeks[1] + dt.timedelta(days=1))  # Tuesday: before the range
    _notified(local_authority, care_setting, weeks[1] + dt.timedelta(days=4))  # Friday: inside
    days_roll_up()
    start, end = weeks[1] + dt.timedelta(days=3), weeks[2] + dt.timedelta(days=6)
    query = {"date_from_day": start.day, "date_from_month": start.month, "date_from_year": start.year,
             "date_to_day": end.day, "date_to_month": end.month, "date_to_year": end.year}  # fmt: skip
    page = client_for(user_with_role(Role.ORG_ADMIN, local_authority)).get("/reports/", query).content.decode()
    table = _table(page)
    assert {week: row["notifications"] for week, row in table.items()} == {
        weeks[1].isoformat(): "1",
        weeks[2].isoformat(): "0",
    }


def test_the_trend_is_made_from_the_reports_figures_without_a_query_of_its_own(
    local_authority, care_setting, django_assert_num_queries
):
    weeks = _weeks()
    _notified(local_authority, care_setting, weeks[0], acknowledged_after_hours=4)
    days_roll_up()
    start, end = weeks[0], weeks[-1] + dt.timedelta(days=6)
    las = local_authority_reports([local_authority], start, end)
    settings = care_setting_reports([care_setting], start, end)
    with django_assert_num_queries(0):
        trend = weekly_trend(las, settings, start, end)
    assert [w.monday for w in trend.weeks] == weeks
    assert (trend.weeks[0].notifications, trend.weeks[0].median_hours, trend.weeks[0].checks) == (1, 4.0, 1)
