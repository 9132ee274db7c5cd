"""What the roll-up keeps for the national report (issue 28): the times to acknowledge as
histograms per local authority and month or day of creation, and the country's days. The
national report reads them instead of a row per organisation and day; on the same data they
give what the days' rows and the raw rows give, with nothing, some or every past day rolled up."""

import datetime as dt
import random
from collections import Counter

import pytest
from django.utils import timezone

from accounts.models import Organisation
from audit.models import AuditAction, AuditEvent
from core.dates import day_start
from notifications.models import Notification
from reports import metrics
from reports.metrics import care_setting_reports, local_authority_reports, percentile_of_counts
from reports.models import AcknowledgementTimes, NationalDayFigures
from reports.rollup import days_roll_up, kept_rebuild
from reports.trends import national_trend, weekly_trend
from tests.factories import OrganisationFactory
from tests.notifications.checks import inbox_notification
from tests.reports.test_rollup import _acknowledge, _at, _check

# Also on SQLite, as the demo runs them (`make test`, cpis/settings/test_sqlite.py).
pytestmark = [pytest.mark.django_db, pytest.mark.sqlite]


def _months_of_history(local_authority, other_local_authority, care_setting, other_care_setting) -> dt.date:
    """Notifications over the last 80 days, so ranges hold whole months: acknowledged the same
    day, days or weeks later (one more than a month later, one today), some never, one overdue;
    an LA and a care setting deactivated since, with figures of their own; returns today."""
    today = timezone.localdate()
    gone_la = OrganisationFactory(local_authority=True, ods_code="LA399")
    gone_setting = OrganisationFactory(ods_code="RDE399")
    generator = random.Random(28)
    for days_ago in range(80, 0, -6):
        day = today - dt.timedelta(days=days_ago)
        for la, setting in (
            (local_authority, care_setting),
            (other_local_authority, other_care_setting),
            (gone_la, gone_setting),
        ):
            with _at(day, generator.randint(0, 22), generator.randint(0, 59)):
                notification = inbox_notification(la, setting)
                _check(setting, [])
            later = min(days_ago, generator.choice([0, 0, 1, 3, 9, 35]))
            if generator.random() < 0.8:
                with _at(today - dt.timedelta(days=days_ago - later), 23, 30):
                    _acknowledge(notification)
            elif later:
                with _at(today - dt.timedelta(days=days_ago - later), 1):
                    Notification.objects.filter(pk=notification.pk).update(overdue_since=timezone.now())
    with _at(today, 0, 20):
        _acknowledge(Notification.objects.filter(acknowledged_at__isnull=True).order_by("pk").first())
        inbox_notification(local_authority, other_care_setting)
    Organisation.objects.filter(pk__in=[gone_la.pk, gone_setting.pk]).update(is_active=False)
    return today


def _ranges(today: dt.date) -> list[tuple[dt.date, dt.date]]:
    first_of_month = today.replace(day=1)
    last_month = (first_of_month - dt.timedelta(days=1)).replace(day=1)
    two_months_ago = (last_month - dt.timedelta(days=1)).replace(day=1)
    return [
        (today - dt.timedelta(days=80), today),  # whole months and the ends of two
        (two_months_ago, first_of_month - dt.timedelta(days=1)),  # exactly two whole months
        (last_month + dt.timedelta(days=3), first_of_month + dt.timedelta(days=2)),  # no whole month
        (two_months_ago, today + dt.timedelta(days=5)),  # into the future
    ]


def _totals(las, start, end):
    return [
        (r.notifications, r.acknowledged, r.median_hours, r.p90_hours, r.overdue)
        for r in local_authority_reports(las, start, end, per_day=False)
    ]


def _by_day(las, start, end):
    return [
        (r.notifications, r.acknowledged, r.median_hours, r.p90_hours, r.overdue)
        for r in local_authority_reports(las, start, end)
    ]


def _everyone_trend(start, end):
    active = Organisation.objects.filter(is_active=True).order_by("name")
    las = local_authority_reports(active.filter(kind="local_authority"), start, end)
    settings_ = care_setting_reports(active.filter(kind="care_setting"), start, end)
    return weekly_trend(las, settings_, start, end)


def _national(start, end):
    return national_trend(start, end, shows_checks=True, shows_notifications=True)


@pytest.fixture
def history(local_authority, other_local_authority, care_setting, other_care_setting):
    today = _months_of_history(local_authority, other_local_authority, care_setting, other_care_setting)
    return today, [local_authority, other_local_authority]


def test_the_kept_times_and_country_give_what_the_days_and_raw_rows_give(history):
    today, las = history
    ranges = _ranges(today)
    live = [(_by_day(las, *r), _everyone_trend(*r)) for r in ranges]
    assert live[0][0][0][1] >= 5 and any(week.median_hours for week in live[0][1].weeks)
    checks = AuditEvent.objects.filter(
        action=AuditAction.CHILD_CHECKED, organisation__is_active=True, occurred_at__gte=day_start(ranges[0][0])
    )
    assert sum(week.checks for week in live[0][1].weeks) == checks.count()  # not the deactivated setting's

    for rolled in ([], [(today - dt.timedelta(days=70), today - dt.timedelta(days=40))], [(None, None)]):
        for first, last in rolled:
            days_roll_up(first, last)
        for (start, end), (by_day, trend) in zip(ranges, live, strict=True):
            assert _totals(las, start, end) == by_day
            assert _by_day(las, start, end) == by_day
            national = _national(start, end)
            assert national == trend
    assert {"day", "week", "month"} <= set(AcknowledgementTimes.objects.values_list("period", flat=True))


def test_rebuilding_the_kept_rows_from_the_days_gives_what_the_roll_up_kept(history):
    days_roll_up(history[0] - dt.timedelta(days=90), history[0] - dt.timedelta(days=30))
    days_roll_up()  # a second run adds to the histograms the first made

    def kept():
        return (
            sorted((r.organisation_id or 0, r.period, r.created, r.counts) for r in AcknowledgementTimes.objects.all()),
            sorted(NationalDayFigures.objects.values_list("day", "checks", "alerts", "notifications", "overdue")),
        )

    rolled = kept()
    assert rolled[0] and rolled[1]
    assert kept_rebuild() == len(rolled[0])
    assert kept() == rolled


def _rolling_up_first(read):
    """`read`, after beat's next run has committed: between the report's read of the days
    rolled up and its read of the kept rows, which then hold days it would also count live."""

    def wrapped(*args):
        days_roll_up()
        return read(*args)

    return wrapped


def test_a_day_rolled_up_while_the_report_reads_its_histograms_is_counted_once(history, monkeypatch):
    today, las = history
    start = today - dt.timedelta(days=80)
    live = _by_day(las, start, today)
    days_roll_up(today - dt.timedelta(days=90), today - dt.timedelta(days=10))
    monkeypatch.setattr(metrics, "kept_times", _rolling_up_first(metrics.kept_times))
    assert _totals(las, start, today) == live


def test_a_day_rolled_up_while_the_report_reads_the_country_is_counted_once(history, monkeypatch):
    today, _ = history
    start = today - dt.timedelta(days=80)
    trend = _everyone_trend(start, today)
    days_roll_up(today - dt.timedelta(days=90), today - dt.timedelta(days=10))
    monkeypatch.setattr(metrics, "_national_kept", _rolling_up_first(metrics._national_kept))
    assert _national(start, today) == trend


def test_the_percentile_of_counts_is_the_nearest_rank_of_the_values():
    generator = random.Random(6)
    for _ in range(300):
        values = [generator.randint(0, 50) for _ in range(generator.randint(1, 40))]
        ordered = sorted(values)
        for share in (0.5, 0.9, 0.01, 1.0):
            rank = max(-(-len(values) * share // 1) - 1, 0)
            assert percentile_of_counts(Counter(values), share) == ordered[int(rank)]
    assert percentile_of_counts(Counter(), 0.5) is None
    assert percentile_of_counts(Counter({3: 0, 4: 2}), 0.5) == 4  # a bucket emptied by a take-away


@pytest.mark.parametrize("period", ["week", "month"])
def test_a_range_reads_its_whole_periods_and_at_most_the_days_at_its_ends(period):
    from reports.metrics import _periods, days_between

    generator = random.Random(12)
    for _ in range(300):
        start = dt.date(2025, 1, 1) + dt.timedelta(days=generator.randint(0, 700))
        end = start + dt.timedelta(days=generator.randint(0, 400))
        whole, day_runs = _periods(start, end, period)
        covered = [day for first, last in day_runs for day in days_between(first, last)]
        if whole is not None:
            first = whole[0]
            while first <= whole[1]:
                following = (
                    first + dt.timedelta(days=7) if period == "week" else (first + dt.timedelta(days=32)).replace(day=1)
                )
                covered += days_between(first, following - dt.timedelta(days=1))
                first = following
        # Every day of the range once, and no other; the day rows bounded whatever its length.
        assert sorted(covered) == days_between(start, end)
        assert len(day_runs) <= 2 and sum((last - first).days + 1 for first, last in day_runs) <= (
            12 if period == "week" else 60
        )
