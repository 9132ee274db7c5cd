"""Filling the reports' daily roll-up (reports.models): each past London day once, with the
grouped queries the reports run live (reports.metrics), so a day reads the same either way;
and, in the same transaction, what is kept from the day's rows for the national report (the
times to acknowledge as histograms, the country's day).

Run by beat (reports.tasks) and by `manage.py reports_roll_up` for a backfill. A day is rolled
up only once it is over: today's figures are still being written, and the reports count them
live on every request.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

from django.apps import apps as installed_apps
from django.db import IntegrityError, transaction
from django.db.models import Min
from django.utils import timezone

from accounts.models import Organisation, OrganisationKind
from audit.models import AuditAction, AuditEvent
from notifications.models import Notification
from reports import metrics
from reports.models import AcknowledgementTimes, DayFigures, NationalDayFigures, RolledUpDay

Period = AcknowledgementTimes.Period

# What the roll-up keeps beside the days' rows: the times to acknowledge by (local authority,
# or None for the country; period; its first day of creation), and the country's (checks,
# alerts, notifications, overdue) by day.
Times = dict[tuple[int | None, str, date], Counter]
National = dict[date, list[int]]


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


def kept_fold(rows: Iterable, kinds: dict[int, str]) -> tuple[Times, National]:
    """What rolled-up days' rows (DayFigures, saved or not, of any days) add to the kept
    histograms and national days. Every kept figure is made here from the days' rows, which the
    grouped queries of reports.metrics made: one rule. The country counts the care settings'
    checks and the local authorities' notifications, as the national report's tables do."""
    times: Times = defaultdict(Counter)
    national: National = {}
    for row in rows:
        kind = kinds.get(row.organisation_id)
        figures = national.setdefault(row.day, [0, 0, 0, 0])
        if kind == OrganisationKind.CARE_SETTING:
            figures[0] += row.checks
            figures[1] += row.alerts
        if kind == OrganisationKind.LOCAL_AUTHORITY:
            figures[2] += row.notifications
            figures[3] += row.overdue
        for created, tenths in row.acknowledged.items():
            created_on, counted = date.fromisoformat(created), Counter(tenths)
            times[row.organisation_id, Period.DAY, created_on].update(counted)
            times[row.organisation_id, Period.MONTH, created_on.replace(day=1)].update(counted)
            if kind == OrganisationKind.LOCAL_AUTHORITY:
                times[None, Period.DAY, created_on].update(counted)
                times[None, Period.WEEK, created_on - timedelta(days=created_on.weekday())].update(counted)
    return times, national


def _flat(counted: Counter) -> list[int]:
    return [number for tenths, count in sorted(counted.items()) for number in (tenths, count)]


def _kept_add(times: Times, national: National, times_model=AcknowledgementTimes, national_model=NationalDayFigures):
    """Adds to the kept histograms (rows locked first, so two roll-ups of different days do not
    lose each other's counts) and writes the national days, in the caller's transaction. Two
    runs creating the same new histogram row: the second raises IntegrityError."""
    national_model.objects.bulk_create(
        national_model(day=day, checks=figures[0], alerts=figures[1], notifications=figures[2], overdue=figures[3])
        for day, figures in national.items()
    )
    if not times:
        return
    existing = {
        (row.organisation_id, row.period, row.created): row
        for row in times_model.objects.select_for_update().filter(created__in={key[2] for key in times})
    }
    changed, new = [], []
    for key, counted in times.items():
        if (row := existing.get(key)) is not None:
            pairs = iter(row.counts)
            row.counts = _flat(Counter(dict(zip(pairs, pairs, strict=True))) + counted)
            changed.append(row)
        else:
            organisation_id, period, created = key
            new.append(
                times_model(
                    organisation_id=organisation_id,
                    period=period,
                    created=created,
                    counts=_flat(counted),
                )
            )
    times_model.objects.bulk_update(changed, ["counts"], batch_size=500)
    times_model.objects.bulk_create(new, batch_size=500)


def kept_rebuild(apps=installed_apps) -> int:
    """Makes the kept histograms and national days again from every DayFigures row (each of a
    rolled-up day), in one transaction: for the migration that added them, and for a roll-up
    written by other means (the national bench writes a year of DayFigures in SQL). Returns the
    histogram rows written."""
    day_figures_model = apps.get_model("reports", "DayFigures")
    times_model = apps.get_model("reports", "AcknowledgementTimes")
    national_model = apps.get_model("reports", "NationalDayFigures")
    kinds = dict(apps.get_model("accounts", "Organisation").objects.values_list("pk", "kind"))
    with transaction.atomic():
        times_model.objects.all().delete()
        national_model.objects.all().delete()
        times, national = kept_fold(day_figures_model.objects.order_by().iterator(chunk_size=5_000), kinds)
        _kept_add(times, national, times_model, national_model)
    return len(times)


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
                rows = DayFigures.objects.bulk_create(day_figures(day))
                kinds = dict(
                    Organisation.objects.filter(pk__in={row.organisation_id for row in rows}).values_list("pk", "kind")
                )
                _kept_add(*kept_fold(rows, kinds))
        except IntegrityError:
            # Another run rolled this day up first, or created a histogram row this day needs at
            # the same moment: the day is left to the next run.
            continue
        rolled.append(day)
    return rolled
