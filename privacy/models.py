"""Access-pattern alerts about staff who look at children's records (issue 29, docs/privacy.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class AlertRule(models.TextChoices):
    VOLUME = "volume", "Far more checks in a shift than usual"
    REPEAT_CHILD = "repeat_child", "The same child checked again"
    NO_PLAN = "no_plan", "Many checks that found no plan"
    UNUSUAL_HOURS = "unusual_hours", "Checks outside the user's usual hours"
    UNUSUAL_PLACE = "unusual_place", "Checks at a care setting the user does not usually work at"
    POSSIBLE_RELATIVE = "possible_relative", "The child's family name is the user's own"
    OWN_LOCAL_AUTHORITY = "own_local_authority", "The child's plan is held by a local authority the user belongs to"
    SILENT_READS = "silent_reads", "Silent reads above the usual rate"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    INVESTIGATING = "investigating", "Being investigated"
    CLOSED = "closed", "Closed"


class AlertOutcome(models.TextChoices):
    NO_CONCERN = "no_concern", "No concern"
    CONCERN = "concern", "Concern"


class Alert(models.Model):
    """One rule tripped by one user's checks at one organisation.

    `evidence` holds the audit events involved as ids, times, outcomes and the organisation
    where each happened; the NHS numbers are read from the audit log when the alert is shown,
    so they are masked in one place (`privacy.selectors.alert_evidence`).
    """

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    rule = models.CharField(max_length=30, choices=AlertRule.choices)
    # What makes a second firing the same alert (a day, a child's keyed hash, a care setting):
    # the beat runs every few minutes and must not raise one alert per run.
    dedupe_key = models.CharField(max_length=100)
    raised_at = models.DateTimeField(default=timezone.now)
    # The threshold and what was observed, in words without names or NHS numbers.
    explanation = models.CharField(max_length=300)
    evidence = models.JSONField(default=list)
    status = models.CharField(max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    investigation_reason = models.TextField(blank=True)
    investigated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    investigated_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=AlertOutcome.choices, blank=True)
    outcome_note = models.TextField(blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "rule", "dedupe_key"], name="privacy_alert_once_per_key"),
            # Nobody sees unmasked evidence without a recorded reason.
            models.CheckConstraint(
                name="privacy_alert_investigated_with_reason",
                condition=Q(status=AlertStatus.OPEN) | (~Q(investigation_reason="") & Q(investigated_at__isnull=False)),
            ),
            models.CheckConstraint(
                name="privacy_alert_closed_with_outcome",
                condition=~Q(status=AlertStatus.CLOSED) | (~Q(outcome="") & Q(closed_at__isnull=False)),
            ),
        ]
        indexes = [
            # The privacy officer's home (open alerts of the organisation) and the weekly e-mail.
            models.Index(fields=["organisation", "status", "-raised_at"], name="privacy_alert_org_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Alert {self.pk} ({self.rule}, {self.status})"

    @property
    def unmasked(self) -> bool:
        return self.status != AlertStatus.OPEN


class AlertScan(models.Model):
    """Where the beat's scan of the audit log got to: one row."""

    scanned_until = models.DateTimeField()

    class Meta:
        constraints = [models.CheckConstraint(name="privacy_alert_scan_one_row", condition=Q(id=1))]

    def __str__(self) -> str:
        return f"Scanned until {self.scanned_until:%Y-%m-%d %H:%M}"


class OpenAlertsEmail(models.Model):
    """A privacy officer's Monday e-mail, one per officer, organisation and week: a second run of
    the weekly job (two beats across a failover, a retry) finds it and sends nothing."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    week_starting = models.DateField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organisation", "week_starting"], name="privacy_open_alerts_email_once_a_week"
            )
        ]

    def __str__(self) -> str:
        return f"Open alerts e-mail for the week of {self.week_starting}"


class BaselineRollUp(models.Model):
    """How far the nightly roll-up of the users' usual (privacy/baselines.py) got: one row."""

    # The last whole local day whose checks are in the summaries below; null before the first.
    rolled_until = models.DateField(null=True)

    class Meta:
        constraints = [models.CheckConstraint(name="privacy_baseline_roll_up_one_row", condition=Q(id=1))]

    def __str__(self) -> str:
        return f"Baselines rolled up until {self.rolled_until}"


class UserBaseline(models.Model):
    """One user's usual over the PRIVACY_BASELINE_DAYS whole days up to and including
    `last_day`: what the rules read instead of those days' audit events. Kept for the two
    latest `last_day`s, which a shift of up to a day needs (docs/privacy.md "The scan")."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_day = models.DateField()
    # Medians over the days on which the user checked at all.
    checks = models.FloatField()
    no_plan = models.FloatField()
    silent = models.FloatField()
    # All their checks, and the local hours they made them in (bit h for hour h); their checks
    # at care settings, and which (organisation ids, comma-separated). Not JSON: decoding it for
    # thousands of users was most of the scan's read of these rows.
    checks_total = models.PositiveIntegerField()
    hours = models.PositiveIntegerField()
    places_total = models.PositiveIntegerField()
    places = models.TextField(blank=True)
    # The children (keys) the user saw from the baseline's first day to the roll-up's last, as
    # a Bloom filter (privacy.scan.children_filter): a scan looks up in `ChildSeen` only the
    # pairs this may hold, a few of its thousands. Empty: look up every pair of the user.
    children = models.BinaryField(default=b"")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["last_day", "user"], name="privacy_user_baseline_once")]

    def __str__(self) -> str:
        return f"Usual of user {self.user_id} up to {self.last_day}"


class OrganisationBaseline(models.Model):
    """An organisation's usual number of checks per user and day, over the same days."""

    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    last_day = models.DateField()
    usual = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["last_day", "organisation"], name="privacy_organisation_baseline_once")
        ]

    def __str__(self) -> str:
        return f"Usual of organisation {self.organisation_id} up to {self.last_day}"


class ChildSeen(models.Model):
    """A user's checks of one child on one local day, the child by its keyed hash
    (`privacy.rules.child_key`), never the NHS number: what `repeat_child` reads of the days the
    roll-up covers, instead of the audit log by NHS number."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    child_key = models.CharField(max_length=24)
    day = models.DateField()
    # When the day's first check of the child that found no plan was, if any: in whole seconds
    # since 1970 (UTC), rounded down, as the scan compares it (parsing thousands of timestamps
    # was a third of its read of these rows). Rounded down, it may make the scan read a pair's
    # checks that then do not trip the rule, never miss one that does.
    first_no_plan_epoch = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            # Led by the child: the scan asks for the children of the new checks.
            models.UniqueConstraint(fields=["child_key", "user", "day"], name="privacy_child_seen_once")
        ]
        indexes = [models.Index(fields=["day"], name="privacy_child_seen_day_idx")]

    def __str__(self) -> str:
        return f"User {self.user_id} saw a child on {self.day}"
