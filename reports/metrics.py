"""The figures behind the reports: counts and durations, never a child's details.

Each function takes an organisation and an inclusive date range (London days). Grouping by
day or week is done here in Python over a single column, so the same code runs on the SQLite
demo and on PostgreSQL.
"""

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone

from accounts.models import Organisation
from audit.models import AuditAction, AuditEvent
from core.dates import day_start
from notifications.models import Notification
from plans.models import PlanUpload, UploadStatus

# The national go-live rule for a local authority's uploads: at least 95% of rows accepted.
ACCEPTANCE_TARGET = 95.0


def _end(day: date) -> datetime:
    return day_start(day + timedelta(days=1))


def _monday(moment: datetime) -> date:
    day = timezone.localtime(moment).date()
    return day - timedelta(days=day.weekday())


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
    report = LocalAuthorityReport(organisation)
    in_range = Notification.objects.filter(
        local_authority=organisation, created_at__gte=day_start(start), created_at__lt=_end(end)
    )
    per_week = Counter(_monday(created) for created in in_range.values_list("created_at", flat=True))
    report.weeks = [(monday, per_week.get(monday, 0)) for monday in weeks_between(start, end)]
    report.notifications = sum(per_week.values())
    durations = [
        (acknowledged - created).total_seconds() / 3600
        for created, acknowledged in in_range.filter(acknowledged_at__isnull=False).values_list(
            "created_at", "acknowledged_at"
        )
    ]
    report.acknowledged = len(durations)
    median, p90 = percentile(durations, 0.5), percentile(durations, 0.9)
    report.median_hours = round(median, 1) if median is not None else None
    report.p90_hours = round(p90, 1) if p90 is not None else None
    report.overdue = Notification.objects.filter(
        local_authority=organisation, overdue_since__gte=day_start(start), overdue_since__lt=_end(end)
    ).count()
    for counts in PlanUpload.objects.filter(
        organisation=organisation,
        status__in=[UploadStatus.APPLIED, UploadStatus.REFUSED],
        applied_at__gte=day_start(start),
        applied_at__lt=_end(end),
    ).values_list("counts", flat=True):
        report.rows += (counts or {}).get("rows", 0)
        report.accepted += (counts or {}).get("accepted", 0)
    return report


def care_setting_report(organisation: Organisation, start: date, end: date) -> CareSettingReport:
    report = CareSettingReport(organisation)
    checks: Counter = Counter()
    alerts: Counter = Counter()
    for occurred, detail in AuditEvent.objects.filter(
        organisation=organisation,
        action=AuditAction.CHILD_CHECKED,
        occurred_at__gte=day_start(start),
        occurred_at__lt=_end(end),
    ).values_list("occurred_at", "detail"):
        day = timezone.localtime(occurred).date()
        checks[day] += 1
        if isinstance(detail, dict) and detail.get("plan_ids"):
            alerts[day] += 1
    report.days = [
        (start + timedelta(days=n), checks.get(start + timedelta(days=n), 0), alerts.get(start + timedelta(days=n), 0))
        for n in range((end - start).days + 1)
    ]
    report.checks = sum(checks.values())
    report.alerts = sum(alerts.values())
    return report
