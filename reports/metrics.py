"""The figures behind the reports: counts and durations, never a child's details.

Each function takes organisations and an inclusive date range (London days) and answers in a
fixed number of queries whatever the number of organisations or days. A past day's figures are
read from the daily roll-up (reports.models, filled by reports.rollup); the days it does not
hold (today, which is still going on, and any day beat has not rolled up yet, or a fresh
install and the SQLite demo) are counted live from the raw rows by the grouped functions below,
which are also what fills the roll-up: one rule per figure. Counting and grouping by day is done
in SQL with Django's date functions, which the SQLite demo and PostgreSQL both run. The
acknowledgement times are read as times, for their percentiles: live row by row, from the
roll-up as histograms (reports.models.AcknowledgementTimes), which give the same percentiles.
"""

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from django.db.models import Count, DurationField, ExpressionWrapper, F, IntegerField, Q, Sum, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from accounts.models import Organisation, OrganisationKind
from audit.models import AuditAction, AuditEvent
from core.dates import day_start
from notifications.models import Notification
from plans.models import PlanUpload, UploadStatus
from reports.models import AcknowledgementTimes, DayFigures, NationalDayFigures, RolledUpDay

Period = AcknowledgementTimes.Period

# The national go-live rule for a local authority's uploads: at least 95% of rows accepted.
ACCEPTANCE_TARGET = 95.0


def _end(day: date) -> datetime:
    return day_start(day + timedelta(days=1))


_Value = TypeVar("_Value", int, float)


def percentile(values: list[_Value], share: float) -> _Value | None:
    """Nearest-rank percentile (share 0.5 is the median, 0.9 the 90th); None for no values."""
    return percentile_of_counts(Counter(values), share)


def percentile_of_counts(counts: Mapping[_Value, int], share: float) -> _Value | None:
    """The nearest-rank percentile of values given as {value: how many times}: a histogram kept
    by the roll-up (reports.models.AcknowledgementTimes) gives what the list of its values does."""
    total = sum(counts.values())
    if not total:
        return None
    rank, seen = max(math.ceil(share * total) - 1, 0), 0
    for value in sorted(counts):
        seen += counts[value]
        if seen > rank:
            return value
    raise AssertionError("unreachable: the counts add up to more than the rank")


@dataclass
class LocalAuthorityReport:
    organisation: Organisation
    weeks: list[tuple[date, int]] = field(default_factory=list)
    notifications: int = 0
    acknowledged: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None
    overdue: int = 0
    rows: int = 0
    accepted: int = 0
    # Each acknowledged notification's time taken (tenths of an hour), by the Monday of the
    # week it was created: the weekly trend's median (reports.trends).
    week_tenths: dict[date, list[int]] = field(default_factory=dict)

    @property
    def acceptance_rate(self) -> float | None:
        return round(100 * self.accepted / self.rows, 1) if self.rows else None

    @property
    def meets_acceptance_rule(self) -> bool:
        rate = self.acceptance_rate
        return rate is not None and rate >= ACCEPTANCE_TARGET


@dataclass
class CareSettingReport:
    organisation: Organisation
    days: list[tuple[date, int, int]] = field(default_factory=list)  # (day, checks, alerts)
    checks: int = 0
    alerts: int = 0

    @property
    def alert_share(self) -> float | None:
        return round(100 * self.alerts / self.checks, 1) if self.checks else None


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weeks_between(start: date, end: date) -> list[date]:
    monday = start - timedelta(days=start.weekday())
    weeks = []
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def tenths_of_an_hour(taken: timedelta) -> int:
    """A time to acknowledge in tenths of an hour: what the report shows (hours to one decimal
    place), as an integer. Rounding keeps the times' order, so the nearest-rank percentile of
    the rounded times is the rounded percentile of the times, and the roll-up keeps a small
    integer per acknowledgement instead of a float that is slow to decode by the hundred thousand."""
    return round(round(taken.total_seconds() / 3600, 1) * 10)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) runs: the days a report counts live are usually one
    run (today, or the whole range without a roll-up), at most a few."""
    runs: list[tuple[date, date]] = []
    for day in sorted(days):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _within(name: str, runs: Sequence[tuple[date, date | None]]) -> Q:
    """`name` (a time) on one of the runs' London days (a run with no last day has no end);
    no runs match no row."""
    condition = Q(pk__in=[])
    for first, last in runs:
        bounds = {f"{name}__gte": day_start(first)}
        if last is not None:
            bounds[f"{name}__lt"] = _end(last)
        condition |= Q(**bounds)
    return condition


def _of(queryset, name: str, organisation_ids):
    return queryset.filter(**{f"{name}__in": organisation_ids}) if organisation_ids is not None else queryset


# The grouped queries: each figure's one rule, per organisation and London day, for the given
# runs of days and organisations (None: every organisation, as the roll-up does).

# A check that found a plan records the plans' ids (attendances.services); one that found none
# records an empty list. As text, an empty list is "[]" in both databases' JSON functions. No
# empty string in the list: SQLite reads each value as JSON, and "" made the demo's report fail.
_RAISED_ALERT = Q(plan_ids__isnull=False) & ~Q(plan_ids__in=["[]", "{}", "null"])


def checks_per_day(runs, organisation_ids=None) -> dict[tuple[int, date], tuple[int, int]]:
    """{(care setting, day): (checks, alerts)}, counted in the database (at national scale,
    thousands of checks a day)."""
    events = _of(AuditEvent.objects.filter(organisation_id__isnull=False), "organisation_id", organisation_ids)
    return {
        (organisation_id, day): (checks, alerts)
        for organisation_id, day, checks, alerts in events.filter(_within("occurred_at", runs))
        .filter(action=AuditAction.CHILD_CHECKED)
        .annotate(day=TruncDate("occurred_at"), plan_ids=KeyTextTransform("plan_ids", "detail"))
        .values_list("organisation_id", "day")
        .annotate(checks=Count("id"), alerts=Count("id", filter=_RAISED_ALERT))
        .order_by()
    }


def _count_per_day(name: str, runs, organisation_ids) -> dict[tuple[int, date], int]:
    notifications = _of(Notification.objects.all(), "local_authority_id", organisation_ids)
    return dict(
        ((la_id, day), count)
        for la_id, day, count in notifications.filter(_within(name, runs))
        .annotate(day=TruncDate(name))
        .values_list("local_authority_id", "day")
        .annotate(n=Count("id"))
        .order_by()
    )


def notifications_per_day(runs, organisation_ids=None) -> dict[tuple[int, date], int]:
    """{(local authority, day): notifications created that day}."""
    return _count_per_day("created_at", runs, organisation_ids)


def overdue_per_day(runs, organisation_ids=None) -> dict[tuple[int, date], int]:
    """{(local authority, day): notifications that became overdue that day}."""
    return _count_per_day("overdue_since", runs, organisation_ids)


def acknowledgements_per_day(
    runs: Sequence[tuple[date, date | None]], organisation_ids=None, created: tuple[date, date] | None = None
) -> dict[tuple[int, date], dict[date, list[int]]]:
    """{(local authority, day of acknowledgement): {day of creation: [tenths of an hour taken]}},
    optionally only for notifications created in `created` (inclusive London days)."""
    notifications = _of(Notification.objects.all(), "local_authority_id", organisation_ids)
    if created is not None:
        notifications = notifications.filter(created_at__gte=day_start(created[0]), created_at__lt=_end(created[1]))
    found: dict[tuple[int, date], dict[date, list[int]]] = defaultdict(lambda: defaultdict(list))
    # The days and the time taken in SQL: tens of thousands of rows for a national report
    # without a roll-up, where converting two times a row to London days in Python doubled its cost.
    for la_id, acknowledged_on, created_on, taken in (
        notifications.filter(_within("acknowledged_at", runs))
        .annotate(
            acknowledged_on=TruncDate("acknowledged_at"),
            created_on=TruncDate("created_at"),
            taken=ExpressionWrapper(F("acknowledged_at") - F("created_at"), output_field=DurationField()),
        )
        .values_list("local_authority_id", "acknowledged_on", "created_on", "taken")
    ):
        found[la_id, acknowledged_on][created_on].append(tenths_of_an_hour(taken))
    return found


def _rolled_up(start: date, end: date) -> set[date]:
    return set(RolledUpDay.objects.filter(day__gte=start, day__lte=end).values_list("day", flat=True))


def _periods(start: date, end: date, period: str) -> tuple[tuple[date, date] | None, list[tuple[date, date]]]:
    """The range's whole weeks (from Monday) or months, as the first day of the first and of the
    last (or None), and the runs of its other days: at most two, at its ends."""
    whole: list[date] = []
    days: list[date] = []
    first = start - timedelta(days=start.weekday()) if period == Period.WEEK else start.replace(day=1)
    while first <= end:
        following = first + timedelta(days=7) if period == Period.WEEK else (first + timedelta(days=32)).replace(day=1)
        if start <= first and following - timedelta(days=1) <= end:
            whole.append(first)
        else:
            days.extend(days_between(max(first, start), min(following - timedelta(days=1), end)))
        first = following
    return ((whole[0], whole[-1]) if whole else None), _runs(days)


def _kept_rows(period: str, start: date, end: date) -> Q:
    """The kept histograms of notifications created from `start` to `end`: the whole periods'
    rows and the other days'."""
    whole, day_runs = _periods(start, end, period)
    which = Q(pk__in=[])
    if whole is not None:
        which |= Q(period=period, created__gte=whole[0], created__lte=whole[1])
    for first, last in day_runs:
        which |= Q(period=Period.DAY, created__gte=first, created__lte=last)
    return which


def _decoded(rows: list, counts_at: int) -> list[list[int]]:
    # In one call for every row: decoding each row's JSON on its own was most of the time.
    return json.loads(f"[{','.join(row[counts_at] for row in rows)}]")


def _add(into: Counter, counts: list[int], sign: int = 1) -> None:
    """Adds a kept histogram ([tenths, count, ...]) to `into`: a year of 50 LAs' is tens of
    thousands of pairs, so one plain loop, not a Counter made per row."""
    pairs = iter(counts)
    for tenths, count in zip(pairs, pairs, strict=True):
        into[tenths] = into.get(tenths, 0) + sign * count


def kept_times(ids: list[int], start: date, end: date) -> dict[int, Counter]:
    """The kept histograms of the times to acknowledge notifications created from `start` to
    `end`, by local authority: every acknowledgement on a rolled-up day, and no other. A range
    reads its whole months' rows and its other days'."""
    rows = list(
        AcknowledgementTimes.objects.filter(_kept_rows(Period.MONTH, start, end), organisation_id__in=ids).values_list(
            "organisation_id", Cast("counts", TextField())
        )
    )
    found: dict[int, Counter] = defaultdict(Counter)
    for (organisation_id, _), counts in zip(rows, _decoded(rows, 1), strict=True):
        _add(found[organisation_id], counts)
    return found


def _acknowledged_live(start: date, last: date, rolled: set[date]) -> list[tuple[date, date | None]]:
    """The runs of days whose acknowledgements are counted live: those not rolled up. After
    the last rolled-up day they are read open-ended, as the raw rows always were: a time after
    today (a clock put right) counts as it did before the roll-up."""
    runs: list[tuple[date, date | None]] = [*_runs(d for d in days_between(start, last) if d not in rolled)]
    if runs and runs[-1][1] == last:
        runs[-1] = (runs[-1][0], None)
    return runs


def _still_rolled_up(start: date, last: date, rolled: set[date]) -> bool:
    """Whether no day from `start` to `last` was rolled up since `rolled` was read: days are
    only ever added, each with its kept rows in one transaction, so the same count means the
    same days, and what was read between the two matches `rolled`."""
    return RolledUpDay.objects.filter(day__gte=start, day__lte=last).count() == len(rolled)


def _totals_from_roll_up(ids, start: date, end: date, last: date, rolled: set[date], summed, overdue, durations):
    """The roll-up's part of local_authority_reports without days: its notifications and
    overdue summed in the database, a row per LA (into `summed` and `overdue`), and the
    acknowledgement times of notifications created in the range from the kept histograms.
    Only the days in `rolled`, said as the days left out: a day rolled up since `rolled` was
    read is counted live. Should one have been rolled up while the histograms were read, they
    may hold it: the times are then read from the days' rows, as without histograms."""
    left_out = [day for day in days_between(start, last) if day not in rolled]
    kept = DayFigures.objects.filter(organisation_id__in=ids).exclude(day__in=left_out)
    for la_id, notifications, late in (
        kept.filter(day__gte=start, day__lte=end)
        .values_list("organisation_id")
        .annotate(Sum("notifications"), Sum("overdue"))
        .order_by()
    ):
        summed[la_id] += notifications
        overdue[la_id] += late
    if not rolled:
        return
    times = kept_times(ids, start, end)
    if _still_rolled_up(start, last, rolled):
        for la_id, counted in times.items():
            durations[la_id].update(counted)
        return
    first, final = f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"
    rows = list(
        kept.filter(day__gte=start, day__lte=last, acknowledged_from__lte=end).values_list(
            "organisation_id", Cast("acknowledged", TextField())
        )
    )
    for (la_id, _), by_day in zip(rows, json.loads(f"[{','.join(row[1] for row in rows)}]"), strict=True):
        for created_on, tenths in by_day.items():
            if first <= created_on <= final:  # ISO dates, in order as text
                durations[la_id].update(tenths)


@dataclass
class NationalDays:
    """The country's figures for the national report's weekly trend: the active care settings'
    checks and alerts and the active local authorities' notifications by day, and the times
    to acknowledge the notifications created each day, as {tenths of an hour: how many}: by
    day, or under its Monday for a week whole inside the range (the trend wants no finer)."""

    checks: Counter = field(default_factory=Counter)
    alerts: Counter = field(default_factory=Counter)
    notifications: Counter = field(default_factory=Counter)
    times: dict[date, Counter] = field(default_factory=lambda: defaultdict(Counter))


def _active(kind: str):
    return Organisation.objects.filter(is_active=True, kind=kind).values("pk")


def _national_kept(days: NationalDays, start: date, end: date, last: date, rolled: set[date]) -> None:
    """The rolled-up days' part of national_days: the kept country's rows (a row per day, and a
    histogram per week of creation, per day at the range's ends), less those of the
    organisations no longer active, which the roll-up counted (few: an organisation is
    deactivated, not deleted)."""
    left_out = [day for day in days_between(start, last) if day not in rolled]
    for day, checks, alerts, notifications in (
        NationalDayFigures.objects.filter(day__gte=start, day__lte=end)
        .exclude(day__in=left_out)
        .values_list("day", "checks", "alerts", "notifications")
    ):
        days.checks[day] += checks
        days.alerts[day] += alerts
        days.notifications[day] += notifications
    inactive = Organisation.objects.filter(is_active=False)
    for day, kind, checks, alerts, notifications in (
        DayFigures.objects.filter(organisation__in=inactive.values("pk"), day__gte=start, day__lte=end)
        .exclude(day__in=left_out)
        .values_list("day", "organisation__kind", "checks", "alerts", "notifications")
    ):
        if kind == OrganisationKind.CARE_SETTING:
            days.checks[day] -= checks
            days.alerts[day] -= alerts
        if kind == OrganisationKind.LOCAL_AUTHORITY:
            days.notifications[day] -= notifications
    # The country's histograms by whole week of creation (and day at the ends); the LAs' no
    # longer active by day, taken away.
    rows = list(
        AcknowledgementTimes.objects.filter(
            (Q(organisation__isnull=True) & _kept_rows(Period.WEEK, start, end))
            | Q(
                organisation__in=inactive.filter(kind=OrganisationKind.LOCAL_AUTHORITY).values("pk"),
                period=Period.DAY,
                created__gte=start,
                created__lte=end,
            )
        ).values_list("organisation_id", "created", Cast("counts", TextField()))
    )
    for (organisation_id, created, _), counts in zip(rows, _decoded(rows, 2), strict=True):
        _add(days.times[created], counts, 1 if organisation_id is None else -1)


def national_days(start: date, end: date) -> NationalDays:
    """The country's days from `start` to `end`, in a fixed number of queries whatever the
    number of organisations: the kept national rows for the rolled-up days (reports.rollup
    makes them from the days' rows), the grouped queries over every active organisation for the
    others, as local_authority_reports and care_setting_reports count them."""
    last = max(end, timezone.localdate())
    for _ in range(3):
        days = NationalDays()
        rolled = _rolled_up(start, last)
        if rolled:
            _national_kept(days, start, end, last, rolled)
        if not rolled or _still_rolled_up(start, last, rolled):
            break
    else:
        # Beat or a backfill rolled a day up during each try: every day counted live.
        days, rolled = NationalDays(), set()
    if live := _runs(d for d in days_between(start, end) if d not in rolled):
        for (_, day), (checks, alerts) in checks_per_day(live, _active(OrganisationKind.CARE_SETTING)).items():
            days.checks[day] += checks
            days.alerts[day] += alerts
        for (_, day), count in notifications_per_day(live, _active(OrganisationKind.LOCAL_AUTHORITY)).items():
            days.notifications[day] += count
    if acknowledged_live := _acknowledged_live(start, last, rolled):
        for _, by_created_day in acknowledgements_per_day(
            acknowledged_live, _active(OrganisationKind.LOCAL_AUTHORITY), (start, end)
        ).items():
            for created_on, tenths in by_created_day.items():
                days.times[created_on].update(tenths)
    return days


def local_authority_report(organisation: Organisation, start: date, end: date) -> LocalAuthorityReport:
    return local_authority_reports([organisation], start, end)[0]


def local_authority_reports(
    organisations, start: date, end: date, *, per_day: bool = True
) -> list[LocalAuthorityReport]:
    """One report per local authority, in at most six queries however many there are (the
    national report has one per LA in England) and however long the range. Without `per_day`
    (the national report's side-by-side totals) the counts of the roll-up's days are summed in
    the database and only the acknowledgement times are read per day; `weeks` is left empty."""
    reports = {o.pk: LocalAuthorityReport(o) for o in organisations}
    ids = list(reports)
    # A notification of the range may be acknowledged on any later day, up to today.
    last = max(end, timezone.localdate())
    rolled = _rolled_up(start, last)
    created: dict[int, Counter] = defaultdict(Counter)
    overdue: Counter = Counter()
    # Each LA's times to acknowledge, as {tenths of an hour: how many}.
    durations: dict[int, Counter] = defaultdict(Counter)
    by_week: dict[int, dict[date, list[int]]] = defaultdict(lambda: defaultdict(list))
    first, final = f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"
    summed: Counter = Counter()
    if not per_day:
        _totals_from_roll_up(ids, start, end, last, rolled, summed, overdue, durations)
    rolled_rows = (
        []
        if not per_day
        else list(
            DayFigures.objects.filter(organisation_id__in=ids, day__gte=start, day__lte=last)
            .filter(Q(day__lte=end) | Q(acknowledged_from__lte=end))
            # As text, decoded below in one call: the national report reads a row per LA and day
            # (12,600 for 12 weeks), and decoding each row's JSON on its own was most of its time.
            .values_list("organisation_id", "day", "notifications", "overdue", Cast("acknowledged", TextField()))
        )
    )
    for (la_id, day, notifications, late, _), by_day in zip(
        rolled_rows, json.loads(f"[{','.join(row[4] for row in rolled_rows)}]"), strict=True
    ):
        if day not in rolled:
            continue  # rolled up after `rolled` was read, so counted live below
        if day <= end:
            created[la_id][day] = notifications
            overdue[la_id] += late
        for created_on, tenths in by_day.items():
            if first <= created_on <= final:  # ISO dates, in order as text
                durations[la_id].update(tenths)
                by_week[la_id][_monday(date.fromisoformat(created_on))].extend(tenths)
    if live := _runs(d for d in days_between(start, end) if d not in rolled):
        for (la_id, day), count in notifications_per_day(live, ids).items():
            created[la_id][day] = count
        for (la_id, _), count in overdue_per_day(live, ids).items():
            overdue[la_id] += count
    if acknowledged_live := _acknowledged_live(start, last, rolled):
        for (la_id, _), by_created_day in acknowledgements_per_day(acknowledged_live, ids, (start, end)).items():
            for created_on, tenths in by_created_day.items():
                durations[la_id].update(tenths)
                by_week[la_id][_monday(created_on)].extend(tenths)
    uploads = (
        PlanUpload.objects.filter(
            organisation_id__in=ids,
            status__in=[UploadStatus.APPLIED, UploadStatus.REFUSED],
            applied_at__gte=day_start(start),
            applied_at__lt=_end(end),
        )
        .values_list("organisation_id")
        .annotate(
            rows=Sum(Cast(KeyTextTransform("rows", "counts"), IntegerField())),
            accepted=Sum(Cast(KeyTextTransform("accepted", "counts"), IntegerField())),
        )
        .order_by()
    )
    for la_id, rows, accepted in uploads:
        reports[la_id].rows, reports[la_id].accepted = rows or 0, accepted or 0
    weeks = weeks_between(start, end) if per_day else []
    for la_id, report in reports.items():
        per_week: Counter = Counter()
        for day, count in created[la_id].items():
            per_week[day - timedelta(days=day.weekday())] += count
        report.weeks = [(monday, per_week.get(monday, 0)) for monday in weeks]
        report.notifications = summed[la_id] + sum(created[la_id].values())
        report.acknowledged = durations[la_id].total()
        median, p90 = percentile_of_counts(durations[la_id], 0.5), percentile_of_counts(durations[la_id], 0.9)
        report.median_hours = median / 10 if median is not None else None
        report.p90_hours = p90 / 10 if p90 is not None else None
        report.overdue = overdue[la_id]
        # Sorted, so the figures read the same from the roll-up and from the raw rows.
        report.week_tenths = {monday: sorted(taken) for monday, taken in sorted(by_week[la_id].items())}
    return list(reports.values())


def care_setting_report(organisation: Organisation, start: date, end: date) -> CareSettingReport:
    return care_setting_reports([organisation], start, end)[0]


def care_setting_reports(organisations, start: date, end: date, *, per_day: bool = True) -> list[CareSettingReport]:
    """One report per care setting, in at most three queries: the roll-up's days, then the
    other days' checks counted live (at national scale, thousands a day). Without `per_day`
    (the national report's side-by-side totals) the roll-up's days are summed in the database,
    a row per care setting whatever the range, and `days` is left empty."""
    reports = {o.pk: CareSettingReport(o) for o in organisations}
    ids = list(reports)
    rolled = _rolled_up(start, end)
    counted: dict[int, dict[date, tuple[int, int]]] = defaultdict(dict)
    summed: dict[int, tuple[int, int]] = {}
    kept = DayFigures.objects.filter(organisation_id__in=ids, day__gte=start, day__lte=end, checks__gt=0)
    if per_day:
        for organisation_id, day, checks, alerts in kept.values_list("organisation_id", "day", "checks", "alerts"):
            if day in rolled:  # else rolled up after `rolled` was read, so counted live below
                counted[organisation_id][day] = (checks, alerts)
    elif rolled:
        # Only the days in `rolled`, as above: a day rolled up since is counted live below. Said
        # as the days left out (usually today alone): a list of a year's days made the planner
        # probe the index once per day and care setting.
        for organisation_id, checks, alerts in (
            kept.exclude(day__in=[day for day in days_between(start, end) if day not in rolled])
            .values_list("organisation_id")
            .annotate(Sum("checks"), Sum("alerts"))
            .order_by()
        ):
            summed[organisation_id] = (checks, alerts)
    if live := _runs(d for d in days_between(start, end) if d not in rolled):
        for (organisation_id, day), figures in checks_per_day(live, ids).items():
            counted[organisation_id][day] = figures
    days = days_between(start, end) if per_day else []
    for organisation_id, report in reports.items():
        report.days = [(day, *counted[organisation_id].get(day, (0, 0))) for day in days]
        kept_checks, kept_alerts = summed.get(organisation_id, (0, 0))
        report.checks = kept_checks + sum(checks for checks, _ in counted[organisation_id].values())
        report.alerts = kept_alerts + sum(alerts for _, alerts in counted[organisation_id].values())
    return list(reports.values())
