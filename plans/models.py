from datetime import date, timedelta

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from core.nhs_numbers import validate_nhs_number

# How long an ended plan stays visible to clinicians (SPEC 2 "Plans").
ENDED_VISIBLE_DAYS = 365
UCPP_VISIBLE_AFTER_DAYS = 28
# The NHS numbers a synthetic care setting may see (core.nhs_numbers.nhs_test_numbers' range).
SYNTHETIC_NHS_PREFIX = "999"


class PlanType(models.TextChoices):
    CPP = "CPP", "Child Protection Plan"
    LAC = "LAC", "Looked After Child"
    UCPP = "UCPP", "Unborn Child Protection Plan"


# FHIR CareTeam.category: SNOMED CT code and display per plan type.
SNOMED: dict[str, tuple[str, str]] = {
    PlanType.CPP: ("342191000000101", "Subject to child protection plan"),
    PlanType.LAC: ("764841000000100", "Looked after child"),
    PlanType.UCPP: ("818901000000100", "Unborn child subject to child protection plan"),
}


class PlanQuerySet(models.QuerySet):
    def visible(self, *, today: date | None = None) -> "PlanQuerySet":
        """The plans a clinician is shown: the one visibility rule the whole service uses.

        1. never a withdrawn plan;
        2. CPP/LAC: open, or ended within the last 365 days (day 365 shown, day 366 not);
        3. UCPP: until 28 days after the earlier of its end date and expected due date
           (day 28 shown, day 29 not); open with neither date set, shown.
        "Today" is the date in Europe/London.
        """
        today = today or timezone.localdate()
        ucpp_until = Least(Coalesce("end_date", "expected_due_date"), Coalesce("expected_due_date", "end_date"))
        return (
            self.filter(withdrawn=False)
            .annotate(ucpp_last_date=ucpp_until)
            .filter(
                Q(
                    plan_type__in=[PlanType.CPP, PlanType.LAC],
                    end_date__isnull=True,
                )
                | Q(
                    plan_type__in=[PlanType.CPP, PlanType.LAC],
                    end_date__gte=today - timedelta(days=ENDED_VISIBLE_DAYS),
                )
                | Q(plan_type=PlanType.UCPP, ucpp_last_date__isnull=True)
                | Q(plan_type=PlanType.UCPP, ucpp_last_date__gte=today - timedelta(days=UCPP_VISIBLE_AFTER_DAYS))
            )
        )

    def seen_from(self, organisation) -> "PlanQuerySet":
        """What a care setting may be shown of these plans: a conformance run's synthetic setting
        only synthetic local authorities' plans of numbers in the 999 test range, never issued to
        a person; every other setting never those. Both halves are needed: a real LA may hold a
        plan for a test number (the demo's do), and a synthetic LA is only as safe as its numbers.
        """
        return self.seen_synthetic(organisation.is_synthetic)

    def seen_synthetic(self, synthetic: bool) -> "PlanQuerySet":
        if synthetic:
            return self.filter(organisation__is_synthetic=True, nhs_number__startswith=SYNTHETIC_NHS_PREFIX)
        return self.filter(organisation__is_synthetic=False)

    def invisible(self, *, today: date | None = None) -> "PlanQuerySet":
        return self.exclude(pk__in=self.visible(today=today).values("pk"))

    def for_local_authority(self, organisation) -> "PlanQuerySet":
        return self.filter(organisation=organisation)

    def of_subject(self, nhs_number: str) -> "PlanQuerySet":
        return self.filter(nhs_number=nhs_number)


class Plan(models.Model):
    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="plans", verbose_name="local authority"
    )
    nhs_number = models.CharField("NHS number", max_length=10, validators=[validate_nhs_number])
    family_name = models.CharField(max_length=100)
    given_names = models.CharField(max_length=200)
    date_of_birth = models.DateField()
    plan_type = models.CharField(max_length=4, choices=PlanType.choices)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    expected_due_date = models.DateField(null=True, blank=True)
    la_reference = models.CharField("LA case reference", max_length=50, blank=True)
    withdrawn = models.BooleanField(default=False, help_text="Recorded in error: never shown.")
    # When it was withdrawn: the purge counts its retention from this day.
    withdrawn_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Who created it, kept on the plan rather than as a history row: a first upload creates
    # 100,000 plans, and a history row each (with its foreign-key checks) doubled its time.
    # The upload is a plain id for the same reason; uploads are kept longer than plans.
    created_by_name = models.CharField(max_length=200, blank=True)
    created_source = models.CharField(max_length=10, blank=True)
    created_upload_id = models.PositiveBigIntegerField(null=True, blank=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        constraints = [
            # An upload row is identified by (LA, NHS number, plan type, start date).
            models.UniqueConstraint(
                fields=["organisation", "nhs_number", "plan_type", "start_date"], name="plan_upload_key"
            ),
            models.UniqueConstraint(
                fields=["organisation", "nhs_number", "plan_type"],
                condition=Q(end_date__isnull=True, withdrawn=False),
                name="plan_one_open_per_subject_type_la",
            ),
            models.CheckConstraint(
                name="plan_end_not_before_start", condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date"))
            ),
            models.CheckConstraint(
                name="plan_due_date_only_for_ucpp",
                condition=Q(expected_due_date__isnull=True) | Q(plan_type=PlanType.UCPP),
            ),
            models.CheckConstraint(name="plan_nhs_number_ten_digits", condition=Q(nhs_number__regex=r"^[0-9]{10}$")),
        ]
        indexes = [
            # The check journey: every visible plan for one NHS number, across all LAs.
            models.Index(fields=["nhs_number"], name="plan_nhs_number_idx"),
            # The LA's plan list, filtered by type and sorted by name.
            models.Index(fields=["organisation", "plan_type", "family_name"], name="plan_la_type_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.plan_type} plan {self.pk}"

    @property
    def snomed_code(self) -> str:
        return SNOMED[self.plan_type][0]

    @property
    def snomed_display(self) -> str:
        return SNOMED[self.plan_type][1]

    def is_ended(self, *, today: date | None = None) -> bool:
        today = today or timezone.localdate()
        return self.end_date is not None and self.end_date <= today


def eighteenth_birthday(date_of_birth: date) -> date:
    """The day a child turns 18; someone born on 29 February turns 18 on 1 March."""
    try:
        return date_of_birth.replace(year=date_of_birth.year + 18)
    except ValueError:
        return date(date_of_birth.year + 18, 3, 1)


class PlanChangeSource(models.TextChoices):
    FORM = "form", "Changed on a form"
    UPLOAD = "upload", "File upload"
    SYSTEM = "system", "Automatic"


class PlanChangeAction(models.TextChoices):
    UPDATED = "updated", "Updated"
    ENDED = "ended", "Ended"
    WITHDRAWN = "withdrawn", "Withdrawn (recorded in error)"
    REINSTATED = "reinstated", "Reinstated"
    ENDED_AT_18 = "ended_at_18", "Ended on the 18th birthday"


class PlanChange(models.Model):
    """One entry in a plan's change history: who, when, how, and each field's old and new value."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="changes")
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Kept as written at the time, so the history still says who after they leave.
    changed_by_name = models.CharField(max_length=200, blank=True)
    source = models.CharField(max_length=10, choices=PlanChangeSource.choices)
    upload = models.ForeignKey("PlanUpload", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=20, choices=PlanChangeAction.choices)
    # {field: [old, new]} as ISO strings. (A plan's creation is recorded on the plan itself.)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [
            # The plan detail page's history, newest first.
            models.Index(fields=["plan", "-changed_at"], name="plan_change_plan_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} plan {self.plan_id}"


class UploadStatus(models.TextChoices):
    ANALYSING = "analysing", "Checking the file"
    PREVIEW = "preview", "Ready to confirm"
    QUEUED = "queued", "Being applied"
    APPLIED = "applied", "Applied"
    REFUSED = "refused", "Not applied: the file could not be used"
    CANCELLED = "cancelled", "Cancelled"
    DRY_RUN = "dry_run", "Checked only (dry run)"
    FAILED = "failed", "Failed: nothing was changed"
    # CPF05: PDS could not be asked; the file waits (nothing applied) and is tried again.
    HELD = "held", "Held: the national demographics service is unavailable"


class FileCode(models.TextChoices):
    CPF01 = "CPF01", "File unreadable"
    CPF02 = "CPF02", "All rows accepted"
    CPF03 = "CPF03", "Some rows rejected"
    CPF04 = "CPF04", "No rows accepted"
    CPF05 = "CPF05", "PDS unavailable"


# Every accepted row is CPR06; every rejected row is CPR07, qualified by a RejectReason
# (the national acknowledgement's CP-ISUploadRecordResponse and its detail).
ROW_ACCEPTED = "CPR06"
ROW_REJECTED = "CPR07"


class RejectReason(models.TextChoices):
    WRONG_CELL_COUNT = "wrong_cell_count", "Wrong number of cells"
    MISSING_FIELD = "missing_field", "Missing field"
    INVALID_NHS_NUMBER = "invalid_nhs_number", "Invalid NHS number"
    INVALID_NAME = "invalid_name", "Invalid name"
    INVALID_REFERENCE = "invalid_reference", "Invalid LA reference"
    TOO_LONG = "too_long", "Value too long"
    INVALID_DATE = "invalid_date", "Invalid date"
    FUTURE_DATE = "future_date", "Date in the future"
    INVALID_PLAN_TYPE = "invalid_plan_type", "Invalid plan type"
    INVALID_WITHDRAWN = "invalid_withdrawn", "Invalid withdrawn value"
    END_BEFORE_START = "end_before_start", "End date before start date"
    DUE_DATE_REQUIRED = "due_date_required", "Expected due date missing"
    DUE_DATE_NOT_ALLOWED = "due_date_not_allowed", "Expected due date not allowed"
    OVER_18 = "over_18", "Child 18 or over"
    DUPLICATE_ROW = "duplicate_row", "Duplicate row in file"
    OPEN_PLAN_EXISTS = "open_plan_exists", "Open plan already exists"
    DEMOGRAPHICS_CONFLICT = "demographics_conflict", "Demographics conflict"
    NO_PLAN_TO_WITHDRAW = "no_plan_to_withdraw", "No plan to withdraw"
    # Identity verification against PDS (identity/), each answered with its national code.
    PDS_NO_MATCH = "pds_no_match", "No PDS record for the NHS number"
    PDS_SENSITIVE = "pds_sensitive", "Sensitive PDS record"
    PDS_NOT_VERIFIED = "pds_not_verified", "Details do not match PDS"
    OLD_STYLE_NHS_NUMBER = "old_style_nhs_number", "Old-style NHS number"
    PDS_SUPERSEDED = "pds_superseded", "NHS number superseded"


# The national record codes of the identity rejections; every other rejection is CPR07.
_REASON_CODES: dict[str, str] = {
    RejectReason.PDS_NO_MATCH: "CPR01",
    RejectReason.PDS_SENSITIVE: "CPR02",
    RejectReason.PDS_NOT_VERIFIED: "CPR03",
    RejectReason.OLD_STYLE_NHS_NUMBER: "CPR04",
    RejectReason.PDS_SUPERSEDED: "CPR05",
}


def row_code(reason: str) -> str:
    return _REASON_CODES.get(reason, ROW_REJECTED)


class PlanUpload(models.Model):
    """One file from a local authority, from receipt through preview to its acknowledgement."""

    organisation = models.ForeignKey(
        "accounts.Organisation", on_delete=models.PROTECT, related_name="plan_uploads", verbose_name="local authority"
    )
    uploaded_by = models.ForeignKey("accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    uploaded_at = models.DateTimeField(default=timezone.now)
    filename = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField(default=0)
    # The file itself, kept only until it is applied or cancelled (it is full of personal data).
    content = models.BinaryField(default=bytes, blank=True)
    status = models.CharField(max_length=20, choices=UploadStatus.choices, default=UploadStatus.ANALYSING)
    # The file's header row, so the rejected rows download under their own column names.
    columns = models.JSONField(default=list, blank=True)
    file_code = models.CharField(max_length=5, choices=FileCode.choices, blank=True)
    file_message = models.CharField(max_length=500, blank=True)
    # Preview counts until applied, then the acknowledgement's: rows, accepted, created, updated,
    # ended, withdrawn, unchanged, rejected.
    counts = models.JSONField(default=dict, blank=True)
    confirmed_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    # What the preview's classification was worked out against: {"today": its date, "plans":
    # every LA's PlansVersion by id}. While that still stands, the apply writes the kept rows
    # (PlanUploadChange) as they are instead of reading and checking the file again
    # (plans/uploads/steps.py `_classification_stands`). Null: nothing kept to apply as it is.
    classified_against = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        indexes = [
            # The upload page's "recent uploads" list for one LA.
            models.Index(fields=["organisation", "-uploaded_at"], name="plan_upload_la_time_idx"),
        ]

    def __str__(self) -> str:
        return f"Upload {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {
            UploadStatus.APPLIED,
            UploadStatus.REFUSED,
            UploadStatus.CANCELLED,
            UploadStatus.DRY_RUN,
            UploadStatus.FAILED,
        }

    @property
    def match_rate(self) -> float | None:
        """Rows PDS verified as a share of the rows sent to it (None without verification)."""
        identity = (self.counts or {}).get("identity") or {}
        checked = identity.get("checked") or 0
        return identity.get("matched", 0) / checked if checked else None


class PlanUploadChange(models.Model):
    """One row a previewed upload would change, with its classification: the LA sees who before
    confirming, and the apply writes it as it is while the plans it was checked against stand
    (`PlanUpload.classified_against`). Rows that change nothing and rejected rows are not kept.
    Kept only while the preview stands: deleted with the file when it is applied or cancelled,
    and by beat's expiry otherwise (plans/uploads/housekeeping.py)."""

    # No index of its own: the list's index below starts with the upload.
    upload = models.ForeignKey(PlanUpload, on_delete=models.CASCADE, related_name="changes_previewed", db_index=False)
    line_number = models.PositiveIntegerField()
    action = models.CharField(max_length=12)
    nhs_number = models.CharField(max_length=10)
    family_name = models.CharField(max_length=100)
    given_names = models.CharField(max_length=200)
    plan_type = models.CharField(max_length=4, choices=PlanType.choices)
    # The rest of the staged row (plans/uploads/staging.py), for the apply. The dates are null
    # only in rows the release before this one kept, for the list alone (its uploads carry no
    # `classified_against`); database defaults let that release insert during a rolling deploy.
    date_of_birth = models.DateField(null=True, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    expected_due_date = models.DateField(null=True, blank=True)
    la_reference = models.CharField(max_length=50, blank=True, db_default="")
    withdrawn = models.BooleanField(db_default=False)
    # The plan the row's key matched (none for a new plan). A plain id: the plans' versions, not
    # a foreign key, say whether it still stands, and 100,000 key checks would slow the preview.
    plan_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["line_number", "id"]
        indexes = [
            # The preview's paginated list of changes, by kind of change then file line; and
            # the apply's and the clean-ups' rows of one upload.
            models.Index(fields=["upload", "action", "line_number"], name="plan_upload_change_list_idx"),
        ]

    def __str__(self) -> str:
        return f"Line {self.line_number}: {self.action}"


class PlansVersion(models.Model):
    """How many transactions have written one LA's plans: moved on by every writer under the
    LA's plan lock (`plans_lock_for_local_authority`), so that an upload's apply can tell
    whether the plans its preview was checked against have changed since."""

    organisation = models.OneToOneField(
        "accounts.Organisation", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Plans of LA {self.organisation_id}: version {self.version}"


class PlanUploadRejection(models.Model):
    """A row the upload refused, with the cells as sent so the LA can correct and resend it."""

    upload = models.ForeignKey(PlanUpload, on_delete=models.CASCADE, related_name="rejections")
    line_number = models.PositiveIntegerField()
    reason = models.CharField(max_length=30, choices=RejectReason.choices)
    message = models.CharField(max_length=300)
    cells = models.JSONField(default=list)

    class Meta:
        ordering = ["line_number", "id"]
        indexes = [
            # The acknowledgement's list of rejected rows in file order.
            models.Index(fields=["upload", "line_number"], name="plan_rejection_upload_line_idx"),
        ]

    def __str__(self) -> str:
        return f"Line {self.line_number}: {self.reason}"
