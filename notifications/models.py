from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class NotificationStatus(models.TextChoices):
    NEW = "new", "New"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"


class Notification(models.Model):
    """One attendance episode of one child, for one responsible local authority.

    Repeat checks of the same child at the same care setting within the episode window
    (24 hours, configurable) join this row instead of creating another. Its content is a copy
    taken at the time, so trimming visits or editing plans never changes what was sent.
    """

    local_authority = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="notifications_received"
    )
    care_setting = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="notifications_sent"
    )
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
    created_at = models.DateTimeField(default=timezone.now)

    status = models.CharField(max_length=20, choices=NotificationStatus.choices, default=NotificationStatus.NEW)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="notification_nhs_number_ten_digits", condition=Q(nhs_number__regex=r"^[0-9]{10}$")
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
        ]
        ordering = ["-last_attended_at", "-id"]

    def __str__(self) -> str:
        return f"Notification {self.pk}"
