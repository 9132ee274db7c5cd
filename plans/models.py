from datetime import date, timedelta

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Least
from django.utils import timezone

from plans.nhs_numbers import validate_nhs_number

# How long an ended plan stays visible to clinicians (SPEC 2 "Plans").
ENDED_VISIBLE_DAYS = 365
UCPP_VISIBLE_AFTER_DAYS = 28


class PlanType(models.TextChoices):
    CPP = "CPP", "Child Protection Plan"
    LAC = "LAC", "Looked After Child"
    UCPP = "UCPP", "Unborn Child Protection Plan"


# FHIR CareTeam.category: SNOMED CT code and display per plan type.
SNOMED = {
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
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

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
