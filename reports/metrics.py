"""The figures behind the reports: counts and durations, never a child's details.

Each function takes organisations and an inclusive date range (London days) and answers in a
fixed number of queries whatever the number of organisations: counting and grouping by day or
week is done in SQL with Django's date functions, which the SQLite demo and PostgreSQL both
run. Only the acknowledgement times are read row by row, for their percentiles.
"""

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import Count, DateField, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import TruncDate, TruncWeek

from accounts.models import Organisation
from audit.models import AuditAction, AuditEvent
from core.dates import day_start
from notifications.models import Notification
from plans.models import PlanUpload, UploadStatus

# The national go-live rule for a local authority's uploads: at least 95% of rows accepted.
ACCEPTANCE_TARGET = 95.0


def _end(day: date) -> datetime:
    return day_start(day + timedelta(days=1))


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (share 0.5 is the median, 0.9 the 90th); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


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


def weeks_between(start: date, end: date) -> list[date]:
    monday = start - timedelta(days=start.weekday())
    weeks = []
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def local_authority_report(organisation: Organisation, start: date, end: date) -> LocalAuthorityReport:
    return local_authority_reports([organisation], start, end)[0]


def local_authority_reports(organisations, start: date, end: date) -> list[LocalAuthorityReport]:
    """One report per local authority, in five queries however many there are (the national
    report has one per LA in England)."""
    reports = {o.pk: LocalAuthorityReport(o) for o in organisations}
    in_range = Notification.objects.filter(
        local_authority_id__in=reports, created_at__gte=day_start(start), created_at__lt=_end(end)
    )
    per_week: dict[int, Counter] = defaultdict(Counter)
    for la_id, monday, count in (
        in_range.annotate(week=TruncWeek("created_at", output_field=DateField()))
        .values_list("local_authority_id", "week")
        .annotate(n=Count("id"))
        .order_by()
    ):
        per_week[la_id][monday] = count
    durations: dict[int, list[float]] = defaultdict(list)
    for la_id, created, acknowledged in in_range.filter(acknowledged_at__isnull=False).values_list(
        "local_authority_id", "created_at", "acknowledged_at"
    ):
        durations[la_id].append((acknowledged - created).total_seconds() / 3600)
    overdue = dict(
        Notification.objects.filter(
            local_authority_id__in=reports, overdue_since__gte=day_start(start), overdue_since__lt=_end(end)
        )
        .values_list("local_authority_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    uploads = PlanUpload.objects.filter(
        organisation_id__in=reports,
        status__in=[UploadStatus.APPLIED, UploadStatus.REFUSED],
        applied_at__gte=day_start(start),
        applied_at__lt=_end(end),
    ).values_list("organisation_id", "counts")
    for la_id, counts in uploads:
        reports[la_id].rows += (counts or {}).get("rows", 0)
        reports[la_id].accepted += (counts or {}).get("accepted", 0)
    weeks = weeks_between(start, end)
    for la_id, report in reports.items():
        counted = per_week[la_id]
        report.weeks = [(monday, counted.get(monday, 0)) for monday in weeks]
        report.notifications = sum(counted.values())
        report.acknowledged = len(durations[la_id])
        median, p90 = percentile(durations[la_id], 0.5), percentile(durations[la_id], 0.9)
        report.median_hours = round(median, 1) if median is not None else None
        report.p90_hours = round(p90, 1) if p90 is not None else None
        report.overdue = overdue.get(la_id, 0)
    return list(reports.values())


def care_setting_report(organisation: Organisation, start: date, end: date) -> CareSettingReport:
    return care_setting_reports([organisation], start, end)[0]


# A check that found a plan records the plans' ids (attendances.services); one that found none
# records an empty list. As text, an empty list is "[]" in both databases' JSON functions.
_RAISED_ALERT = Q(plan_ids__isnull=False) & ~Q(plan_ids__in=["[]", "{}", "", "null"])


def care_setting_reports(organisations, start: date, end: date) -> list[CareSettingReport]:
    """One report per care setting, from one query counting checks and alerts per setting and
    London day in the database (at national scale, hundreds of thousands of checks)."""
    reports = {o.pk: CareSettingReport(o) for o in organisations}
    checks: dict[int, Counter] = defaultdict(Counter)
    alerts: dict[int, Counter] = defaultdict(Counter)
    for organisation_id, day, day_checks, day_alerts in (
        AuditEvent.objects.filter(
            organisation_id__in=reports,
            action=AuditAction.CHILD_CHECKED,
            occurred_at__gte=day_start(start),
            occurred_at__lt=_end(end),
        )
        .annotate(day=TruncDate("occurred_at"), plan_ids=KeyTextTransform("plan_ids", "detail"))
        .values_list("organisation_id", "day")
        .annotate(checks=Count("id"), alerts=Count("id", filter=_RAISED_ALERT))
        .order_by()
    ):
        checks[organisation_id][day] = day_checks
        alerts[organisation_id][day] = day_alerts
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    for organisation_id, report in reports.items():
        report.days = [(day, checks[organisation_id].get(day, 0), alerts[organisation_id].get(day, 0)) for day in days]
        report.checks = sum(checks[organisation_id].values())
        report.alerts = sum(alerts[organisation_id].values())
    return list(reports.values())
