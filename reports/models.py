"""The reports' daily roll-up: each past London day's figures per organisation, computed once.

Every figure of the reports is keyed by the day of an event written at the time it happened:
a check (the append-only audit log), a notification's creation, its becoming overdue, its
acknowledgement. So once a day has ended, its figures never change and can be kept. The rows
are written by reports.rollup with the same grouped queries the reports run live for the days
not (yet) rolled up, so there is one rule per figure.
"""

from django.db import models
from django.utils import timezone


class RolledUpDay(models.Model):
    """A London day whose figures for every organisation are in DayFigures: written in the
    same transaction as them, so a report either finds the whole day or counts it live."""

    day = models.DateField(primary_key=True)
    rolled_up_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} rolled up"


class DayFigures(models.Model):
    """One organisation's figures on one London day; only organisations with any that day."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    # A care setting's checks of the day, and those that found a plan (an alert).
    checks = models.PositiveIntegerField(default=0)
    alerts = models.PositiveIntegerField(default=0)
    # A local authority's notifications created that day, and those that became overdue that day.
    notifications = models.PositiveIntegerField(default=0)
    overdue = models.PositiveIntegerField(default=0)
    # Acknowledgements made that day, keyed by the day the notification was created
    # ("YYYY-MM-DD": [tenths of an hour taken, ...], reports.metrics.tenths_of_an_hour): a
    # report counts them by creation day, and needs every time taken for its percentiles.
    # Keyed by the day of acknowledgement, the row never changes once the day is over, however
    # late a notification is acknowledged.
    acknowledged = models.JSONField(default=dict, blank=True)
    # The earliest creation day in `acknowledged`, so a report of a past range skips, in SQL,
    # the later days that acknowledged none of its notifications.
    acknowledged_from = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            # Also the index of every report's read: organisations, then a range of days.
            models.UniqueConstraint(fields=["organisation", "day"], name="report_day_figures_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id} on {self.day:%Y-%m-%d}"
