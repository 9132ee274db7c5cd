"""The reports' daily roll-up: past days read from it give the figures the raw rows give."""

import datetime as dt
import random

import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from core.dates import london_moment
from notifications.models import Notification, NotificationStatus
from reports.metrics import care_setting_reports, local_authority_reports, percentile, tenths_of_an_hour
from reports.models import DayFigures, RolledUpDay
from reports.rollup import days_roll_up
from reports.tasks import report_days_roll_up
from tests.factories import OrganisationFactory, user_with_role
from tests.notifications.checks import inbox_notification

pytestmark = pytest.mark.django_db


def _at(day: dt.date, hour: int = 12, minute: int = 0):
    """Travel to `day` at a London clock time, so rows are written as they would be then."""
    return time_machine.travel(london_moment(day, dt.time(hour, minute)), tick=False)


def _check(care_setting, plan_ids: list[int]) -> None:
    AuditEvent.objects.create(
        action=AuditAction.CHILD_CHECKED, organisation=care_setting, detail={"plan_ids": plan_ids}
    )


def _acknowledge(notification) -> None:
    Notification.objects.filter(pk=notification.pk).update(
        status=NotificationStatus.ACKNOWLEDGED, acknowledged_at=timezone.now()
    )


def _history(local_authority, other_local_authority, care_setting, other_care_setting) -> dt.date:
    """Checks, notifications, acknowledgements (some days later, one after the range below
    ends, one today) and overdue marks spread over the last 12 days and today, around
    midnight too; returns today."""
    today = timezone.localdate()
    ago = [today - dt.timedelta(days=n) for n in range(13)]
    with _at(ago[12], 23, 59):
        _check(care_setting, [1])  # the last minute of a day: that day's
    with _at(ago[11], 0, 1):
        _check(care_setting, [])
    with _at(ago[10], 9):
        early = inbox_notification(local_authority, care_setting)
        slow = inbox_notification(local_authority, other_care_setting)
        late = inbox_notification(other_local_authority, care_setting)
        _check(other_care_setting, [2, 3])
    with _at(ago[10], 14, 30):
        _acknowledge(early)  # 5.5 hours
    with _at(ago[9], 11):
        Notification.objects.filter(pk=late.pk).update(overdue_since=timezone.now())
    with _at(ago[3], 10, 15):
        _acknowledge(slow)  # a week later, after the past range below ends
        recent = inbox_notification(local_authority, care_setting)
    with _at(ago[1], 8):
        Notification.objects.filter(pk=recent.pk).update(overdue_since=timezone.now())
    with _at(today, 0, 30):
        _acknowledge(recent)
        inbox_notification(other_local_authority, other_care_setting)
        _check(care_setting, [4])
    return today


def _figures(las, settings_, ranges):
    return [
        (local_authority_reports(las, start, end), care_setting_reports(settings_, start, end)) for start, end in ranges
    ]


def test_figures_are_the_same_from_the_roll_up_as_from_the_raw_rows(
    local_authority, other_local_authority, care_setting, other_care_setting
):
    today = _history(local_authority, other_local_authority, care_setting, other_care_setting)
    las, settings_ = [local_authority, other_local_authority], [care_setting, other_care_setting]
    ranges = [
        (today - dt.timedelta(days=20), today),  # the default kind: up to today
        (today - dt.timedelta(days=12), today - dt.timedelta(days=5)),  # past, acknowledged later
        (today - dt.timedelta(days=10), today - dt.timedelta(days=10)),  # one day
        (today - dt.timedelta(days=3), today + dt.timedelta(days=4)),  # into the future
    ]
    live = _figures(las, settings_, ranges)
    assert live[0][0][0].notifications == 3 and live[0][0][0].acknowledged == 3
    assert live[1][0][0].acknowledged == 2 and live[1][0][1].overdue == 1
    assert live[0][1][0].checks == 6 and live[0][1][0].alerts == 5  # the notifications came from checks

    # Some days rolled up and some not (beat behind): the same figures.
    assert days_roll_up(today - dt.timedelta(days=12), today - dt.timedelta(days=6))
    assert _figures(las, settings_, ranges) == live

    # Every day before today rolled up; today is still counted live.
    assert days_roll_up()
    assert RolledUpDay.objects.filter(day=today - dt.timedelta(days=1)).exists()
    assert _figures(las, settings_, ranges) == live


def test_past_days_are_read_from_the_roll_up_and_today_from_the_raw_rows(
    local_authority, other_local_authority, care_setting, other_care_setting
):
    today = _history(local_authority, other_local_authority, care_setting, other_care_setting)
    start = today - dt.timedelta(days=20)
    days_roll_up()
    # Rows of past days removed behind the roll-up's back (nothing does this; it shows where
    # each figure comes from): the rolled-up days still count them, today's are live.
    Notification.objects.all().delete()

    (report,) = local_authority_reports([local_authority], start, today)
    assert report.notifications == 3 and report.acknowledged == 2  # today's acknowledgement is gone
    assert report.median_hours == 5.5
    (other,) = local_authority_reports([other_local_authority], start, today)
    assert other.notifications == 1 and other.overdue == 1  # today's notification is gone


def test_times_to_acknowledge_keep_their_percentiles_in_tenths_of_an_hour():
    generator = random.Random(16)
    for _ in range(200):
        hours = [generator.uniform(0, 60) for _ in range(generator.randint(1, 30))]
        hours += [1.25, 1.35, 2.05]  # halves: the rounding must be Python's, as the page shows it
        tenths = [tenths_of_an_hour(dt.timedelta(hours=h)) for h in hours]
        for share in (0.5, 0.9):
            assert percentile(tenths, share) / 10 == round(
                percentile([dt.timedelta(hours=h).total_seconds() / 3600 for h in hours], share), 1
            )


def test_the_task_fills_exactly_the_days_before_today_and_only_once(local_authority, care_setting):
    today = timezone.localdate()
    with _at(today - dt.timedelta(days=5)):
        _check(care_setting, [1])
        inbox_notification(local_authority, care_setting)
    with _at(today):
        _check(care_setting, [])

    assert report_days_roll_up.apply().get() == 5
    expected = [today - dt.timedelta(days=n) for n in range(5, 0, -1)]
    assert list(RolledUpDay.objects.order_by("day").values_list("day", flat=True)) == expected
    rows = set(DayFigures.objects.values_list("organisation_id", "day", "checks", "notifications"))
    assert rows == {(local_authority.pk, expected[0], 0, 1), (care_setting.pk, expected[0], 2, 0)}

    assert report_days_roll_up.apply().get() == 0
    assert list(RolledUpDay.objects.order_by("day").values_list("day", flat=True)) == expected
    assert DayFigures.objects.count() == 2

    with time_machine.travel(london_moment(today + dt.timedelta(days=1), dt.time(0, 15)), tick=False):
        assert report_days_roll_up.apply().get() == 1  # today, once it is over
    assert DayFigures.objects.get(organisation=care_setting, day=today).checks == 1


def test_the_backfill_command_rolls_up_the_days_asked_for_and_never_today(local_authority, care_setting, capsys):
    today = timezone.localdate()
    with _at(today - dt.timedelta(days=9)):
        _check(care_setting, [1])
    call_command("reports_roll_up", "--from", f"{today - dt.timedelta(days=3):%Y-%m-%d}")
    assert RolledUpDay.objects.count() == 3 and "Rolled up 3 days" in capsys.readouterr().out
    call_command("reports_roll_up")
    assert RolledUpDay.objects.count() == 9
    with pytest.raises(CommandError, match="before today"):
        call_command("reports_roll_up", "--to", f"{today:%Y-%m-%d}")


def test_national_report_query_count_grows_with_neither_organisations_nor_days(
    client_for, national, local_authority, care_setting
):
    client = client_for(user_with_role(Role.NATIONAL_ADMIN, national))
    today = timezone.localdate()
    with _at(today - dt.timedelta(days=2)):
        inbox_notification(local_authority, care_setting)
    days_roll_up()

    def queries(query=None) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/reports/", query or {}).status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for i in range(3):
        la = OrganisationFactory(local_authority=True, ods_code=f"LA30{i}")
        setting = OrganisationFactory(ods_code=f"RDE3{i}")
        for days_ago in (40, 20, 9, 0):
            with _at(today - dt.timedelta(days=days_ago + i)):
                inbox_notification(la, setting)
    # Days rolled up and days not, in several runs: holes in the roll-up cost no query either.
    days_roll_up(today - dt.timedelta(days=30), today - dt.timedelta(days=25))
    days_roll_up(today - dt.timedelta(days=12), today - dt.timedelta(days=8))
    start = today - dt.timedelta(days=180)
    six_months = {"date_from_day": start.day, "date_from_month": start.month, "date_from_year": start.year}
    assert queries() <= few
    assert queries(six_months) <= few
    days_roll_up()
    assert queries(six_months) <= few


def test_the_roll_up_is_scheduled_hourly_after_the_hour():
    from cpis.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["reports-days-roll-up"]
    assert entry["task"] == "reports.tasks.report_days_roll_up"
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert entry["schedule"].minute == {15} and len(entry["schedule"].hour) == 24
