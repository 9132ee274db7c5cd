from django.db import models
from django.db.models import Q
from django.utils import timezone


class PdsLookup(models.Model):
    """One PDS answer for one NHS number of one upload, kept from the lookup until the upload
    is finished: a file held for PDS (CPF05) resumes where it stopped, and the apply reads the
    answers its preview used instead of asking PDS again."""

    upload = models.ForeignKey("plans.PlanUpload", on_delete=models.CASCADE, related_name="pds_lookups")
    nhs_number = models.CharField(max_length=10)
    # identity.records.PdsRecord.as_json(): status, replacement, flags, names and date of birth.
    result = models.JSONField()
    looked_up_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["upload", "nhs_number"], name="pds_lookup_one_per_upload_number"),
        ]

    def __str__(self) -> str:
        return f"PDS lookup {self.pk} for upload {self.upload_id}"


class IdentityStatus(models.TextChoices):
    VERIFIED = "verified", "Verified"
    SUPERSEDED = "superseded", "Superseded by another NHS number"
    INVALIDATED = "invalidated", "No longer a valid NHS number"
    NOT_FOUND = "not_found", "Not found on PDS"
    DECEASED = "deceased", "Recorded as deceased"
    SENSITIVE = "sensitive", "Sensitive record"


INACTIVE_STATUSES = (
    IdentityStatus.SUPERSEDED,
    IdentityStatus.INVALIDATED,
    IdentityStatus.NOT_FOUND,
    IdentityStatus.DECEASED,
)


class VerifiedIdentity(models.Model):
    """What PDS last said about an NHS number CP-IS holds plans for. The check reads this (never
    PDS): its date-of-birth warning compares with the verified date of birth."""

    nhs_number = models.CharField(max_length=10, unique=True)
    status = models.CharField(max_length=20, choices=IdentityStatus.choices, default=IdentityStatus.VERIFIED)
    date_of_birth = models.DateField(null=True, blank=True)
    replacement = models.CharField(max_length=10, blank=True)
    verified_at = models.DateTimeField(default=timezone.now)
    # When the nightly re-verification last looked, so each night takes the oldest first.
    checked_at = models.DateTimeField(default=timezone.now)
    # When the LAs were told the number became inactive; cleared if it becomes verified again.
    inactive_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "verified identities"
        indexes = [
            # The nightly re-verification: the numbers checked longest ago first.
            models.Index(fields=["checked_at"], name="verified_identity_checked_idx"),
        ]
        constraints = [
            models.CheckConstraint(name="verified_identity_ten_digits", condition=Q(nhs_number__regex=r"^[0-9]{10}$")),
        ]

    def __str__(self) -> str:
        return f"Identity {self.pk} ({self.status})"
