from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class NotificationStatus(models.TextChoices):
    NEW = "new", "New"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class NotificationKind(models.TextChoices):
    ATTENDANCE = "attendance", "Attendance notification"
    # CP-IS's Inactive NHS Number Notification: a number the LA holds a plan for stopped being
    # valid on PDS (superseded, invalidated, no longer found, or the child died).
    INACTIVE_NHS_NUMBER = "inactive_nhs_number", "Inactive NHS number notification"


class NotificationQuerySet(models.QuerySet):
    def in_inbox_of(self, organisation) -> "NotificationQuerySet":
        """What an LA's social workers see: their LA's notifications once delivered to the inbox."""
        return self.filter(local_authority=organisation, delivered_to_inbox_at__isnull=False)

    def with_plan_type(self, plan_type: str) -> "NotificationQuerySet":
        # plan_types is "CPP,LAC"; match whole codes ("CPP" must not match "UCPP").
        return self.filter(plan_types__regex=rf"(^|,){plan_type}(,|$)")


class Notification(models.Model):
    """One attendance episode of one child, for one responsible local authority.

    Repeat checks of the same child at the same care setting within the episode window
    (24 hours, configurable) join this row instead of creating another. Its content is a copy
    taken at the time, so trimming visits or editing plans never changes what was sent.
    """

    # Database defaults too: the check journey inserts attendance notifications in raw SQL
    # (services/outbox.py, _RECORD_ATTENDANCE_SQL), which names only the columns it knows.
    kind = models.CharField(
        max_length=30,
        choices=NotificationKind.choices,
        default=NotificationKind.ATTENDANCE,
        db_default=NotificationKind.ATTENDANCE,
    )
    local_authority = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="notifications_received"
    )
    # None only for an inactive NHS number notification, which no care setting caused. Its
    # attendance times are the time it was raised, so the inbox's order holds for both kinds.
    care_setting = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="notifications_sent", null=True, blank=True
    )
    # An inactive NHS number notification: why (identity.models.IdentityStatus) and, for a
    # superseded number, the number that replaced it.
    inactive_reason = models.CharField(max_length=20, blank=True, default="", db_default="")
    replacement_nhs_number = models.CharField(max_length=10, blank=True, default="", db_default="")
    nhs_number = models.CharField("NHS number", max_length=10)
    family_name = models.CharField(max_length=100)
    given_names = models.CharField(max_length=200)
    date_of_birth = models.DateField()
    plan_types = models.CharField(max_length=20, help_text="Comma-separated plan types at the time.")
    first_attended_at = models.DateTimeField()
    last_attended_at = models.DateTimeField()
    attendance_count = models.PositiveIntegerField(default=1)
    checked_by_name = models.CharField(max_length=200)
    checked_by_role = models.CharField(max_length=30)
    # The date of birth a clinician entered when it differed from the plan's: the clinician was
    # told to confirm identity, and the LA must know the doubt too. Null when none differed.
    date_of_birth_entered = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Set by the inbox channel's delivery: the inbox lists only notifications delivered to it.
    delivered_to_inbox_at = models.DateTimeField(null=True, blank=True)
    # One working day after creation (see notifications/working_days.py); set when created.
    due_at = models.DateTimeField(null=True, blank=True)
    # Set by the overdue beat task, once, which also reminds the LA's admins.
    overdue_since = models.DateTimeField(null=True, blank=True)
    # When that reminder was sent. It is sent after the marking commits (no row locked while a
    # mail server takes its time), so an overdue notification not yet reminded is the
    # reminder's outbox: a send that fails is tried again at the next run.
    overdue_reminded_at = models.DateTimeField(null=True, blank=True)

    status = models.CharField(max_length=20, choices=NotificationStatus.choices, default=NotificationStatus.NEW)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="notification_nhs_number_ten_digits", condition=Q(nhs_number__regex=r"^[0-9]{10}$")
            ),
            models.CheckConstraint(
                name="notification_attendance_has_care_setting",
                condition=~Q(kind="attendance") | Q(care_setting__isnull=False),
            ),
        ]
        indexes = [
            # The episode rule: this child's latest notification to this LA from this setting.
            models.Index(
                fields=["local_authority", "nhs_number", "care_setting", "-last_attended_at"],
                name="notification_episode_idx",
            ),
            # The LA's inbox, newest first, by status.
            models.Index(fields=["local_authority", "status", "-last_attended_at"], name="notification_inbox_idx"),
            # Overdue notifications (the national admin's home page counts them across every
            # LA): a few hundred rows among millions.
            models.Index(
                fields=["local_authority"],
                condition=Q(status="new", overdue_since__isnull=False),
                name="notification_overdue_idx",
            ),
            # The overdue beat task: new notifications past their due time, not yet marked.
            models.Index(
                fields=["due_at"],
                condition=Q(status="new", overdue_since__isnull=True),
                name="notification_overdue_due_idx",
            ),
            # The reports count each day's notifications, overdue marks and acknowledgements
            # live for today (and the days the roll-up lacks) and when rolling a day up
            # (reports.metrics): one day's rows among years of them.
            models.Index(fields=["created_at"], name="notification_created_idx"),
            models.Index(
                fields=["overdue_since"], condition=Q(overdue_since__isnull=False), name="notification_overdue_at_idx"
            ),
            models.Index(
                fields=["acknowledged_at"],
                condition=Q(acknowledged_at__isnull=False),
                name="notification_acknowledged_idx",
            ),
        ]
        ordering = ["-last_attended_at", "-id"]

    def __str__(self) -> str:
        return f"Notification {self.pk}"

    @property
    def plan_type_list(self) -> list[str]:
        return [p for p in self.plan_types.split(",") if p]

    @property
    def is_overdue(self) -> bool:
        return self.status == NotificationStatus.NEW and self.overdue_since is not None


class Channel(models.TextChoices):
    INBOX = "inbox", "In-app inbox"
    EMAIL = "email", "Team mailbox e-mail"
    WEBHOOK = "webhook", "Case-management webhook"
    MESH = "mesh", "MESH mailbox"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class ReceiptStatus(models.TextChoices):
    """GOV.UK Notify's final statuses of an e-mail, as its delivery receipts name them."""

    DELIVERED = "delivered", "Delivered to the mailbox"
    PERMANENT_FAILURE = "permanent-failure", "Mailbox does not exist"
    TEMPORARY_FAILURE = "temporary-failure", "Mailbox full or refusing for now"
    TECHNICAL_FAILURE = "technical-failure", "GOV.UK Notify could not send it"


class Delivery(models.Model):
    """The outbox: one row per notification per channel, written in the check's transaction.

    PENDING → SENDING (claimed by one worker with a conditional UPDATE, holding a lease) →
    SENT, or back to PENDING with a later `next_attempt_at` after a failure, or FAILED after
    the last attempt. A SENDING row whose lease ran out belongs to a worker that died; the
    sweeper hands it out again. The unique (notification, channel) pair is the idempotency key:
    the webhook carries this row's id so a receiver can drop a repeat.
    """

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Which claim may finish this row: a worker whose lease expired and was re-claimed must not.
    claim_token = models.UUIDField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # The webhook endpoint's HTTP status at the last attempt (None: no answer, or not a webhook).
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # E-mail only: the first delivery id of the batch the last e-mail carried this row in (the
    # Notify reference), and GOV.UK Notify's delivery receipt for that e-mail, when it came.
    email_batch = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    receipt_status = models.CharField(
        max_length=20, choices=ReceiptStatus.choices, blank=True, default="", db_default=""
    )
    receipt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="delivery_one_per_channel"),
            models.CheckConstraint(
                name="delivery_sent_has_time", condition=~Q(status="sent") | Q(sent_at__isnull=False)
            ),
            models.CheckConstraint(
                name="delivery_sending_has_claim",
                condition=~Q(status="sending") | Q(claimed_at__isnull=False, claim_token__isnull=False),
            ),
        ]
        indexes = [
            # The sweeper and the e-mail batch: undelivered rows by when they are next due.
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="delivery_undelivered_idx",
            ),
            # The failures page, newest first.
            models.Index(fields=["-failed_at"], condition=Q(status="failed"), name="delivery_failed_idx"),
            # /healthz and /metrics: each channel's oldest undelivered row, one index probe each
            # (operations.services.oldest_undelivered_ages), however long the backlog.
            models.Index(
                fields=["channel", "created_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="delivery_waiting_age_idx",
            ),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} delivery {self.pk} ({self.status})"


class WebhookEndpoint(models.Model):
    """An LA's optional case-management webhook. The secret signs each request (HMAC-SHA256);
    it is stored as given because signing needs it (see docs/notifications.md)."""

    local_authority = models.OneToOneField(
        "accounts.Organisation", on_delete=models.CASCADE, related_name="webhook_endpoint"
    )
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=200)
    # After a rotation the old secret signs too, until this time, so the LA can switch its
    # receiver over without losing a delivery (docs/notifications.md "Rotating the secret").
    previous_secret = models.CharField(max_length=200, blank=True)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The last test delivery an admin asked for: queued by the settings page, sent by the worker
    # (never the web process, ADR-011), its answer shown with the recent deliveries.
    test_delivery_id = models.CharField(max_length=50, blank=True)
    test_requested_at = models.DateTimeField(null=True, blank=True)
    test_finished_at = models.DateTimeField(null=True, blank=True)
    test_accepted = models.BooleanField(null=True, blank=True)
    test_response_status = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            # Short secrets can be guessed offline from one captured request.
            models.CheckConstraint(name="webhook_secret_long_enough", condition=Q(secret__regex=r"^.{32,}$")),
        ]

    def __str__(self) -> str:
        return f"Webhook for {self.local_authority_id}"

    def signing_secrets(self, now=None) -> list[str]:
        now = now or timezone.now()
        overlap = self.previous_secret and self.previous_secret_until and self.previous_secret_until > now
        return [self.secret, self.previous_secret] if overlap else [self.secret]
