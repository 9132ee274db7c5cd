"""The register of supplier systems, which organisations use them, and conformance runs.

Nothing here is about a child: a run's children are synthetic (suppliers/conformance.py), and
its recorded requests keep the NHS numbers of those synthetic children only.
"""

from urllib.parse import unquote_plus

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class SystemKind(models.TextChoices):
    CARE_SETTING_EPR = "epr", "Care-setting EPR"
    LA_CASE_MANAGEMENT = "la_case_management", "LA case-management system"


class AccreditationState(models.TextChoices):
    TESTING = "testing", "In testing"
    ACCREDITED = "accredited", "Accredited"
    WITHDRAWN = "withdrawn", "Withdrawn"


class SupplierSystem(models.Model):
    supplier = models.CharField(max_length=200)
    product = models.CharField(max_length=200)
    version = models.CharField(max_length=50)
    kind = models.CharField(max_length=20, choices=SystemKind.choices)
    offers_fhir = models.BooleanField("FHIR API", default=False)
    offers_mesh = models.BooleanField("MESH", default=False)
    offers_upload = models.BooleanField("file upload", default=False)
    state = models.CharField(max_length=12, choices=AccreditationState.choices, default=AccreditationState.TESTING)
    # The version accredited and when: a later version is in testing until its own run passes.
    accredited_on = models.DateField(null=True, blank=True)
    accredited_version = models.CharField(max_length=50, blank=True)
    withdrawn_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["supplier", "product", "version"]
        constraints = [
            models.UniqueConstraint(fields=["supplier", "product", "version"], name="supplier_system_unique_version"),
            models.CheckConstraint(
                name="supplier_system_accredited_has_date",
                condition=~Q(state=AccreditationState.ACCREDITED)
                | (Q(accredited_on__isnull=False) & ~Q(accredited_version="")),
            ),
            models.CheckConstraint(
                name="supplier_system_withdrawn_has_reason",
                condition=~Q(state=AccreditationState.WITHDRAWN) | ~Q(withdrawn_reason=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.supplier} {self.product} {self.version}"

    @property
    def interfaces(self) -> list[str]:
        return [
            label
            for offered, label in (
                (self.offers_fhir, "FHIR API"),
                (self.offers_mesh, "MESH"),
                (self.offers_upload, "File upload"),
            )
            if offered
        ]


class SystemUse(models.Model):
    """An organisation uses a system (set on the organisation's page by a national admin)."""

    system = models.ForeignKey(SupplierSystem, on_delete=models.CASCADE, related_name="uses")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.CASCADE, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["system", "organisation"], name="system_use_unique")]

    def __str__(self) -> str:
        return f"{self.organisation_id} uses {self.system_id}"


class RunState(models.TextChoices):
    OPEN = "open", "Open"
    FINISHED = "finished", "Finished"


class RunBase(models.Model):
    """What a FHIR run and an LA run have in common: who opened it, its state, the supplier's
    access key (only its hash kept), its synthetic numbers and the tester's confirmations."""

    version = models.CharField(max_length=50)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=10, choices=RunState.choices, default=RunState.OPEN)
    finished_at = models.DateTimeField(null=True, blank=True)
    care_setting = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    # The supplier's link to the script and the confirmation form: only its hash is kept.
    access_key_hash = models.CharField(max_length=64, unique=True)
    numbers = models.JSONField(default=dict)
    # {scenario key: {"answer": "yes" | "no", "note": str}} from the supplier's tester.
    confirmations = models.JSONField(default=dict, blank=True)
    confirmed_by_name = models.CharField(max_length=200, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    accredited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-opened_at", "-id"]

    @property
    def is_open(self) -> bool:
        return self.state == RunState.OPEN


class ConformanceRun(RunBase):
    """A supplier's FHIR conformance self-test of one system version, with its own synthetic
    care setting, users and tokens (suppliers/conformance.py). `numbers` is {scenario key: NHS
    number} of this run's synthetic children."""

    system = models.ForeignKey(SupplierSystem, on_delete=models.PROTECT, related_name="runs")
    clinician_token = models.ForeignKey("fhir.ApiToken", on_delete=models.PROTECT, related_name="+")
    lead_token = models.ForeignKey("fhir.ApiToken", on_delete=models.PROTECT, related_name="+")
    retry_after_seconds = models.PositiveIntegerField(default=30)
    # The one 503 the run answers (the outage scenario), once.
    injected_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Conformance run {self.pk} of {self.system}"


class ConformanceRequest(models.Model):
    """One request made under a run's token, as it arrived, with the answer it got."""

    run = models.ForeignKey(ConformanceRun, on_delete=models.CASCADE, related_name="requests")
    # "clinician" or "lead": which of the run's tokens made it.
    token_role = models.CharField(max_length=10)
    received_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    query = models.CharField(max_length=2000, blank=True)
    # Headers as sent; None when absent.
    trace_id = models.CharField(max_length=300, null=True, blank=True)
    unscheduled = models.CharField(max_length=50, null=True, blank=True)
    accept = models.CharField(max_length=300, null=True, blank=True)
    status = models.PositiveSmallIntegerField()
    injected = models.BooleanField(default=False)
    # The scenario this request belongs to ("" when it names none of the script's numbers).
    scenario = models.CharField(max_length=30, blank=True)
    # The NHS number (or the text in its place) the request named, "" if none.
    subject = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["run", "received_at"], name="conformance_request_run_idx")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.status})"

    @property
    def query_text(self) -> str:
        """The query string as a person reads it: `|` and `:` rather than %7C and %3A."""
        return unquote_plus(self.query)


class LaConformanceRun(RunBase):
    """A supplier's conformance self-test of an LA case-management system over MESH: its own
    synthetic local authority, whose MESH mailbox is the supplier's test mailbox for the run,
    and a synthetic care setting whose check sends that LA a notification
    (suppliers/la_conformance.py, judged in suppliers/la_judge.py). `numbers` is {"good": [...],
    "rejected": [...], "notification": "..."}: the NHS numbers the script names."""

    system = models.ForeignKey(SupplierSystem, on_delete=models.PROTECT, related_name="la_runs")
    local_authority = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="+")
    # Kept after the run, when the mailbox no longer maps to the run's LA: the evidence names it.
    mailbox_id = models.CharField(max_length=20)
    # {MESH message id: tracking status} of what we sent the mailbox, as MESH last told us.
    tracked = models.JSONField(default=dict, blank=True)
    tracked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"LA conformance run {self.pk} of {self.system}"
