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


class AcknowledgementTimes(models.Model):
    """How many notifications created in one period took each time to acknowledge: a histogram,
    [tenths of an hour, count, tenths, count, ...] by tenths, of every acknowledgement on a
    rolled-up day (a flat list of numbers: a year of them decodes three times faster than as an
    object keyed by text). Per local
    authority and day or month of creation, and for the country (no organisation) per day or
    week (from Monday) of creation, the weekly trend's periods.

    The percentiles need every time of a range, and a time can come any day after the
    notification: read from DayFigures that is a row per LA and day up to today. Bucketed as
    the page shows the times (tenths of an hour) the histogram gives the same percentiles, and
    a range reads its whole months (weeks) and the days at its ends: at most about 75 rows per
    LA, and 65 for the country, whatever its length. Added to only by reports.rollup as it rolls each day up,
    from that day's DayFigures, in the same transaction, so it holds exactly the rolled-up
    days' acknowledgements.
    """

    organisation = models.ForeignKey(
        "accounts.Organisation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Period(models.TextChoices):
        DAY = "day"
        WEEK = "week"
        MONTH = "month"

    # The day of creation, or the first day of the week or month.
    created = models.DateField()
    period = models.CharField(max_length=5, choices=Period.choices)
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "period", "created"],
                condition=models.Q(organisation__isnull=False),
                name="report_ack_times_unique",
            ),
            models.UniqueConstraint(
                fields=["period", "created"],
                condition=models.Q(organisation__isnull=True),
                name="report_ack_times_national_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id or 'England'} {self.period} {self.created:%Y-%m-%d}"


class NationalDayFigures(models.Model):
    """The country's figures on one rolled-up London day, for the national report's weekly trend:
    the care settings' checks and alerts and the local authorities' notifications and overdue
    summed, so a year's trend reads 365 rows instead of one per organisation and day. Written
    by reports.rollup with the day's DayFigures; a report takes away those of organisations no
    longer active (the trend counts the active ones, as the tables do)."""

    day = models.DateField(primary_key=True)
    checks = models.PositiveIntegerField(default=0)
    alerts = models.PositiveIntegerField(default=0)
    notifications = models.PositiveIntegerField(default=0)
    overdue = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"England on {self.day:%Y-%m-%d}"


class GoLiveState(models.Model):
    """One organisation's go-live checklist as reports.progress works it out, kept so the national
    pages read a row per organisation instead of recomputing every organisation's state.

    Written only by reports.progress.go_live_refresh, which runs the live rule: beat refreshes
    every organisation each GO_LIVE_REFRESH_INTERVAL (the 30-day windows and training expiry
    change with time alone), and an applied upload refreshes its local authority at once.
    """

    organisation = models.OneToOneField(
        "accounts.Organisation", primary_key=True, on_delete=models.CASCADE, related_name="go_live_state"
    )
    live = models.BooleanField()
    # Each step of the checklist done or not, in the order reports.progress lists them: the
    # steps' wording stays in the code, so a reworded step needs no migration.
    steps = models.JSONField(default=list)

    class Meta:
        indexes = [
            # The progress list filtered by state, and the home page's counts of live and not.
            models.Index(fields=["live", "organisation"], name="report_go_live_live_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation_id}: {'live' if self.live else 'not live'}"


class GoLiveRefresh(models.Model):
    """When every organisation's GoLiveState was last refreshed together: one row. The pages
    trust the kept states only while this is recent, and work every state out live otherwise
    (beat stopped, a fresh install, the demo), as the reports count days not rolled up."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"go-live states refreshed at {self.refreshed_at:%Y-%m-%d %H:%M}"


class GoLiveCount(models.Model):
    """How many active organisations of one kind, setting type and region there are, and how many
    of them are live: rewritten from GoLiveState by every refresh, so the public page and the
    national admin's home read a row per group (at most about a hundred) whatever the number
    of organisations."""

    kind = models.CharField(max_length=20)
    setting_type = models.CharField(max_length=20, blank=True)
    region = models.CharField(max_length=40, blank=True)
    organisations = models.PositiveIntegerField()
    live = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "setting_type", "region"], name="report_go_live_count_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.setting_type} {self.region}: {self.live} of {self.organisations} live"
