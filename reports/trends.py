"""The weekly trend of a report: checks, alerts, notifications and the median time to
acknowledge, week by week over the report's range.

Made from the figures the report has already read (reports.metrics, which takes past days from
the daily roll-up and counts only the rest live), so the trend costs no query of its own.
A week at either end of the range counts only its days inside the range, as the totals do.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from reports.metrics import (
    CareSettingReport,
    LocalAuthorityReport,
    national_days,
    percentile_of_counts,
    weeks_between,
)


@dataclass(frozen=True)
class TrendWeek:
    monday: date
    checks: int
    alerts: int
    notifications: int
    # None: no notification created that week has been acknowledged.
    median_hours: float | None
    acknowledged: int


@dataclass(frozen=True)
class Trend:
    weeks: list[TrendWeek]
    # Which figures the scope has: a care setting's checks and alerts, an LA's notifications
    # and acknowledgements, a national admin both.
    shows_checks: bool
    shows_notifications: bool


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _trend(
    mondays: list[date],
    checks: Counter,
    alerts: Counter,
    notifications: Counter,
    tenths: dict[date, Counter],
    *,
    shows_checks: bool,
    shows_notifications: bool,
) -> Trend:
    weeks = []
    for monday in mondays:
        median = percentile_of_counts(tenths.get(monday, Counter()), 0.5)
        weeks.append(
            TrendWeek(
                monday=monday,
                checks=checks[monday],
                alerts=alerts[monday],
                notifications=notifications[monday],
                median_hours=median / 10 if median is not None else None,
                acknowledged=tenths[monday].total() if monday in tenths else 0,
            )
        )
    return Trend(weeks=weeks, shows_checks=shows_checks, shows_notifications=shows_notifications)


def weekly_trend(las: list[LocalAuthorityReport], settings: list[CareSettingReport], start: date, end: date) -> Trend:
    checks: Counter = Counter()
    alerts: Counter = Counter()
    for report in settings:
        for day, day_checks, day_alerts in report.days:
            checks[_monday(day)] += day_checks
            alerts[_monday(day)] += day_alerts
    notifications: Counter = Counter()
    tenths: dict[date, Counter] = {}
    for la_report in las:
        for monday, count in la_report.weeks:
            notifications[monday] += count
        for monday, taken in la_report.week_tenths.items():
            tenths.setdefault(monday, Counter()).update(taken)
    return _trend(
        weeks_between(start, end),
        checks,
        alerts,
        notifications,
        tenths,
        shows_checks=bool(settings),
        shows_notifications=bool(las),
    )


def national_trend(start: date, end: date, *, shows_checks: bool, shows_notifications: bool) -> Trend:
    """The country's weekly trend, what weekly_trend gives for every active organisation's
    report, from the kept national days (reports.metrics.national_days): a row per day, not
    one per organisation and day."""
    days = national_days(start, end)
    checks: Counter = Counter()
    alerts: Counter = Counter()
    notifications: Counter = Counter()
    for day, count in days.checks.items():
        checks[_monday(day)] += count
    for day, count in days.alerts.items():
        alerts[_monday(day)] += count
    for day, count in days.notifications.items():
        notifications[_monday(day)] += count
    tenths: dict[date, Counter] = {}
    for created, counted in days.times.items():
        tenths.setdefault(_monday(created), Counter()).update(counted)
    return _trend(
        weeks_between(start, end),
        checks,
        alerts,
        notifications,
        tenths,
        shows_checks=shows_checks,
        shows_notifications=shows_notifications,
    )
