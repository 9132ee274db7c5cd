from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Each child keeps only their last 25 visits (SPEC 2 "Visit history").
VISITS_KEPT = 25


class Visit(models.Model):
    """One unscheduled-care attendance of a child on a visible plan."""

    nhs_number = models.CharField("NHS number", max_length=10)
    arrived_at = models.DateTimeField()
    care_setting = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="visits")
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="visits_checked",
        # visit_checker_time_idx below leads with this column and serves the foreign key too.
        db_index=False,
    )
    # Kept as written at the time: the visit history shows who checked even if they leave.
    checked_by_name = models.CharField(max_length=200)
    checked_by_role = models.CharField(max_length=30)
    recorded_at = models.DateTimeField(default=timezone.now)
    # The check form's one-time token: a double-submitted form (double click, refresh, retry)
    # finds the visit its first submission recorded instead of recording a second one.
    check_token = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(name="visit_nhs_number_ten_digits", condition=Q(nhs_number__regex=r"^[0-9]{10}$")),
            # Scoped to the child: a form sent back with another NHS number is a new check.
            models.UniqueConstraint(
                fields=["nhs_number", "check_token"],
                condition=Q(check_token__isnull=False),
                name="visit_one_per_check_token",
            ),
        ]
        indexes = [
            # The last-25 history of one child, newest first (check journey, child view, FHIR).
            models.Index(fields=["nhs_number", "-arrived_at", "-id"], name="visit_child_history_idx"),
            # A clinician's checks today (their home page's figure), in place of the plain
            # foreign-key index, so a check still updates as many indexes as before.
            models.Index(fields=["checked_by", "-recorded_at"], name="visit_checker_time_idx"),
        ]
        ordering = ["-arrived_at", "-id"]

    def __str__(self) -> str:
        return f"Visit {self.pk} at {self.care_setting_id}"
