"""The weekly trend of a report: checks, alerts, notifications and the median time to
acknowledge, week by week over the report's range.

Made from the figures the report has already read (reports.metrics, which takes past days from
the daily roll-up and counts only the rest live), so the trend costs no query of its own.
A week at either end of the range counts only its days inside the range, as the totals do.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from reports.metrics import CareSettingReport, LocalAuthorityReport, percentile, weeks_between


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


def weekly_trend(las: list[LocalAuthorityReport], settings: list[CareSettingReport], start: date, end: date) -> Trend:
    mondays = weeks_between(start, end)
    checks = dict.fromkeys(mondays, 0)
    alerts = dict.fromkeys(mondays, 0)
    for report in settings:
        for day, day_checks, day_alerts in report.days:
            monday = day - timedelta(days=day.weekday())
            checks[monday] += day_checks
            alerts[monday] += day_alerts
    notifications = dict.fromkeys(mondays, 0)
    tenths: dict[date, list[int]] = {monday: [] for monday in mondays}
    for la_report in las:
        for monday, count in la_report.weeks:
            notifications[monday] += count
        for monday, taken in la_report.week_tenths.items():
            tenths.setdefault(monday, []).extend(taken)
    weeks = []
    for monday in mondays:
        median = percentile(tenths[monday], 0.5)
        weeks.append(
            TrendWeek(
                monday=monday,
                checks=checks[monday],
                alerts=alerts[monday],
                notifications=notifications[monday],
                median_hours=median / 10 if median is not None else None,
                acknowledged=len(tenths[monday]),
            )
        )
    return Trend(weeks=weeks, shows_checks=bool(settings), shows_notifications=bool(las))
