from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organisation
from plans.models import PlanUpload


class MeshMailbox(models.Model):
    """An LA's MESH mailbox: the sender we map an incoming file to, and where its answers go.
    Set by a national admin (audited); the LA's credentials never pass through us."""

    local_authority = models.OneToOneField(Organisation, on_delete=models.CASCADE, related_name="mesh_mailbox")
    mailbox_id = models.CharField(max_length=20, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"MESH mailbox {self.mailbox_id}"


class InboundStatus(models.TextChoices):
    STORED = "stored", "Stored, not yet processed"
    PROCESSED = "processed", "Processed"
    REFUSED = "refused", "Refused"
    # MESH's own report on a message we sent (undeliverable, or an error): never a file.
    REPORT = "report", "MESH report"


class MeshInboundMessage(models.Model):
    """A message taken from our inbox. Its MESH id is unique: a message listed again (we crashed
    before acknowledging it) finds its row and is acknowledged, never applied a second time."""

    message_id = models.CharField(max_length=100, unique=True)
    sender = models.CharField(max_length=20)
    workflow_id = models.CharField(max_length=100, blank=True)
    filename = models.CharField(max_length=255, blank=True)
    local_id = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    local_authority = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.SET_NULL)
    upload = models.ForeignKey(PlanUpload, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=10, choices=InboundStatus.choices, default=InboundStatus.STORED)
    # Why it was refused, as the file code and message the sender gets.
    file_code = models.CharField(max_length=10, blank=True)
    refusal = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # A report's: the MESH id of our message it is about (Mex-LinkedMsgID), and MESH's status
    # code and description (Mex-StatusCode, Mex-StatusDescription).
    linked_message_id = models.CharField(max_length=100, blank=True, default="", db_default="")
    report_code = models.CharField(max_length=10, blank=True, default="", db_default="")
    report_description = models.CharField(max_length=300, blank=True, default="", db_default="")

    class Meta:
        indexes = [
            # The poll's catch-up: stored messages whose processing a crash interrupted.
            models.Index(fields=["received_at"], condition=Q(status="stored"), name="mesh_inbound_stored_idx"),
            # The state pages: an LA's last file.
            models.Index(fields=["local_authority", "-received_at"], name="mesh_inbound_la_idx"),
        ]

    def __str__(self) -> str:
        return f"MESH message {self.message_id} ({self.status})"


class OutboundKind(models.TextChoices):
    ACKNOWLEDGEMENT = "acknowledgement", "Upload acknowledgement"
    REJECTED_ROWS = "rejected_rows", "Rejected rows"
    ERROR = "error", "Error report"


class OutboundStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class MeshOutboundMessage(models.Model):
    """The outbox of answers to an LA's files: written with what it answers, sent after commit
    (and by the poll's sweep if that send was lost), retried with back-off. `local_id` goes in
    Mex-LocalID, so the LA can tie it to the file it sent."""

    kind = models.CharField(max_length=20, choices=OutboundKind.choices)
    inbound = models.ForeignKey(MeshInboundMessage, null=True, on_delete=models.CASCADE, related_name="answers")
    local_authority = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.SET_NULL)
    recipient = models.CharField(max_length=20)
    workflow_id = models.CharField(max_length=100)
    filename = models.CharField(max_length=255)
    local_id = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    content = models.BinaryField()
    status = models.CharField(max_length=10, choices=OutboundStatus.choices, default=OutboundStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    mesh_message_id = models.CharField(max_length=100, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # One answer of each kind per file: a re-run of processing cannot send two.
            models.UniqueConstraint(fields=["inbound", "kind"], name="mesh_outbound_one_per_kind"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="mesh_outbound_pending_idx"),
            models.Index(fields=["local_authority", "-created_at"], name="mesh_outbound_la_idx"),
        ]

    def __str__(self) -> str:
        return f"MESH {self.kind} to {self.recipient} ({self.status})"


class MeshPollState(models.Model):
    """One row: how polling went, for the service-health page and /metrics."""

    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=100, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    # Polls skipped after failures: the back-off, so a wrong password is not retried every minute.
    next_poll_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return "MESH poll state"


class MeshNotificationSent(models.Model):
    """The MESH message a notification's delivery became, written as soon as MESH accepted it.
    A delivery retried after its worker died between MESH's answer and the delivery's SENT asks
    MESH about this message (`track_message`) rather than sending a second copy."""

    # The notifications' Delivery row (an app above this one, so not a foreign key).
    delivery_id = models.BigIntegerField(unique=True)
    local_authority = models.ForeignKey(Organisation, null=True, on_delete=models.SET_NULL)
    message_id = models.CharField(max_length=100)
    # MESH's tracking status when we last asked (accepted, acknowledged, …).
    tracked_status = models.CharField(max_length=40, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"MESH notification for delivery {self.delivery_id}"
