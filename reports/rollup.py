"""Filling the reports' daily roll-up (reports.models): each past London day once, with the
grouped queries the reports run live (reports.metrics), so a day reads the same either way.

Run by beat (reports.tasks) and by `manage.py reports_roll_up` for a backfill. A day is rolled
up only once it is over: today's figures are still being written, and the reports count them
live on every request.
"""

from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Min
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from notifications.models import Notification
from reports import metrics
from reports.models import DayFigures, RolledUpDay


def first_day() -> date | None:
    """The London day of the earliest check or notification: before it every figure is 0."""
    firsts = [
        AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED).aggregate(first=Min("occurred_at"))["first"],
        Notification.objects.aggregate(first=Min("created_at"))["first"],
    ]
    known = [timezone.localdate(moment) for moment in firsts if moment is not None]
    return min(known) if known else None


def day_figures(day: date) -> list[DayFigures]:
    """Every organisation's figures on `day` (unsaved), from metrics' grouped queries."""
    runs = [(day, day)]
    rows: dict[int, DayFigures] = {}

    def row(organisation_id: int) -> DayFigures:
        if organisation_id not in rows:
            rows[organisation_id] = DayFigures(organisation_id=organisation_id, day=day)
        return rows[organisation_id]

    for (organisation_id, _), (checks, alerts) in metrics.checks_per_day(runs).items():
        row(organisation_id).checks, row(organisation_id).alerts = checks, alerts
    for (la_id, _), count in metrics.notifications_per_day(runs).items():
        row(la_id).notifications = count
    for (la_id, _), count in metrics.overdue_per_day(runs).items():
        row(la_id).overdue = count
    for (la_id, _), by_day in metrics.acknowledgements_per_day(runs).items():
        row(la_id).acknowledged = {f"{created:%Y-%m-%d}": tenths for created, tenths in sorted(by_day.items())}
        row(la_id).acknowledged_from = min(by_day)
    return list(rows.values())


def days_roll_up(first: date | None = None, last: date | None = None) -> list[date]:
    """Rolls up each day from `first` (default: the first day with a check or a notification)
    to `last` (default and at most: yesterday) that is not rolled up yet, each in its own
    transaction; returns the days rolled up now.

    Idempotent and safe beside another run: a day's marker row is written first, so a second
    run waits on it, finds it taken, and skips the day.
    """
    yesterday = timezone.localdate() - timedelta(days=1)
    last = min(last or yesterday, yesterday)
    first = first or first_day()
    if first is None or first > last:
        return []
    done = set(RolledUpDay.objects.filter(day__gte=first, day__lte=last).values_list("day", flat=True))
    rolled = []
    for day in metrics.days_between(first, last):
        if day in done:
            continue
        try:
            with transaction.atomic():
                RolledUpDay.objects.create(day=day)
                DayFigures.objects.bulk_create(day_figures(day))
        except IntegrityError:
            continue  # another run rolled this day up first
        rolled.append(day)
    return rolled
