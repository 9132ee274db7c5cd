"""A conformance run's synthetic world: a care setting, two local authorities, two users with
their API tokens, and the script's children, all marked synthetic so that the run's tokens see
nothing else and nothing real sees them (plans.models.PlanQuerySet.seen_from; ADR-023).

The children's numbers are in the 999 test range, never issued to a person, and each run has
its own block of them; their plans are held by the run's own synthetic local authorities, which
have no users, no mailbox and no endpoint, so a check notifies nobody outside the run.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, Organisation, OrganisationKind, Role, SettingType, TrainingRecord, User
from attendances.services import child_check
from audit.models import AuditAction
from audit.services import audit_record
from core.nhs_numbers import nhs_number_check_digit, nhs_test_numbers
from core.tokens import token_hash
from fhir.services import api_token_issue
from plans.models import Plan, PlanType
from suppliers.models import ConformanceRun, SupplierSystem
from suppliers.scenarios import SCENARIOS

# Every conformance token begins "cpis_test-": the recording middleware passes any other token by.
TOKEN_MARKER = "test-"
TOKEN_VALID_DAYS = 30
# The run's children: 9996 and a counter, a block per run (ten digits with the check digit).
NUMBER_PREFIX = "9996"
NUMBERS_PER_RUN = 16
# How many previous viewers each history scenario's child has.
HISTORY_VIEWERS = {"history": 2, "paging": 6}
VIEWER_NAMES = ["Sam Okafor", "Priya Shah", "Tom Riley"]


@dataclass(frozen=True)
class OpenedRun:
    run: ConformanceRun
    # Shown once to the national admin who opened the run, for the supplier; never stored.
    clinician_token: str
    lead_token: str
    access_key: str


def _invalid(number: str) -> str:
    """The same nine digits with a wrong check digit: not a valid NHS number."""
    right = nhs_number_check_digit(number[:9])
    return number[:9] + str(((right or 0) + 1) % 10)


def _run_numbers(block: int) -> dict[str, str]:
    numbers = nhs_test_numbers((block * NUMBERS_PER_RUN) % 10**5, prefix=NUMBER_PREFIX)
    found = {scenario.key: next(numbers) for scenario in SCENARIOS}
    found["invalid_number"] = _invalid(found["invalid_number"])
    return found


def _synthetic_user(*, name: str, tag: str, organisation: Organisation, role: str) -> User:
    """A user nobody signs in as (no password); trained and enrolled, so its token passes the
    API's gate as a real clinician's would: its device's key is random and shown to no one."""
    user = User.objects.create_user(f"{tag}@conformance.invalid", password=None, full_name=name)
    Membership.objects.create(user=user, organisation=organisation, role=role)
    today = timezone.localdate()
    TrainingRecord.objects.create(
        user=user, course="Conformance run (synthetic)", completed_on=today, expires_on=today + timedelta(days=365)
    )
    TOTPDevice.objects.create(user=user, name="Synthetic", key=secrets.token_hex(20), confirmed=True)
    return user


def _plans(numbers: dict[str, str], la_a: Organisation, la_b: Organisation) -> None:
    today = timezone.localdate()
    birth = today - timedelta(days=6 * 365)

    def plan(key: str, la: Organisation, plan_type: str = PlanType.CPP, **fields) -> None:
        Plan.objects.create(
            organisation=la,
            nhs_number=numbers[key],
            family_name="Synthetic",
            given_names=f"Child {key.replace('_', ' ')}",
            date_of_birth=fields.pop("date_of_birth", birth),
            plan_type=plan_type,
            start_date=fields.pop("start_date", today - timedelta(days=120)),
            created_by_name="Conformance run",
            created_source="system",
            **fields,
        )

    for key in ("on_plan", "silent_read", "silent_refused", "history", "paging", "outage"):
        plan(key, la_a)
    plan("two_las", la_a)
    plan("two_las", la_b, PlanType.LAC)
    plan(
        "unborn",
        la_a,
        PlanType.UCPP,
        date_of_birth=today - timedelta(days=28 * 365),
        expected_due_date=today + timedelta(days=90),
    )
    plan("ended", la_a, end_date=today - timedelta(days=30))


def _viewers(numbers: dict[str, str], care_setting: Organisation, tag: str) -> None:
    """The history scenarios' previous viewers: checks through the one check service, by
    synthetic colleagues at the run's setting, so the history is what a real one would be."""
    viewers = [
        _synthetic_user(name=name, tag=f"{tag}-viewer{i}", organisation=care_setting, role=Role.CLINICIAN)
        for i, name in enumerate(VIEWER_NAMES)
    ]
    for key, count in HISTORY_VIEWERS.items():
        for i in range(count):
            child_check(
                nhs_number=numbers[key],
                date_of_birth=None,
                arrived_at=timezone.now() - timedelta(hours=2 * (count - i)),
                user=viewers[i % len(viewers)],
                organisation=care_setting,
                role=Role.CLINICIAN,
            )


@transaction.atomic
def conformance_run_open(*, system: SupplierSystem, by: User, request: HttpRequest | None = None) -> OpenedRun:
    block = (ConformanceRun.objects.aggregate(last=Max("id"))["last"] or 0) + 1
    suffix = secrets.token_hex(3).upper()
    care_setting = Organisation.objects.create(
        ods_code=f"ZC{suffix}S",
        name=f"Conformance setting {suffix} ({system.product})",
        kind=OrganisationKind.CARE_SETTING,
        setting_type=SettingType.ED,
        is_synthetic=True,
    )
    las = [
        Organisation.objects.create(
            ods_code=f"ZC{suffix}{letter}",
            name=f"Conformance County Council {letter} ({suffix})",
            kind=OrganisationKind.LOCAL_AUTHORITY,
            office_hours_phone=f"0300 000 000{index}",
            emergency_duty_phone=f"0300 000 010{index}",
            is_synthetic=True,
        )
        for index, letter in enumerate("AB", start=1)
    ]
    tag = f"conformance-{suffix.lower()}"
    clinician = _synthetic_user(
        name="Conformance Clinician", tag=f"{tag}-clinician", organisation=care_setting, role=Role.CLINICIAN
    )
    lead = _synthetic_user(
        name="Conformance Safeguarding Lead", tag=f"{tag}-lead", organisation=care_setting, role=Role.SAFEGUARDING_LEAD
    )
    clinician_token, clinician_raw = api_token_issue(
        user=clinician,
        organisation=care_setting,
        name=f"Conformance {suffix}",
        valid_days=TOKEN_VALID_DAYS,
        request=request,
        marker=TOKEN_MARKER,
    )
    lead_token, lead_raw = api_token_issue(
        user=lead,
        organisation=care_setting,
        name=f"Conformance {suffix}",
        valid_days=TOKEN_VALID_DAYS,
        request=request,
        marker=TOKEN_MARKER,
    )
    numbers = _run_numbers(block)
    _plans(numbers, *las)
    _viewers(numbers, care_setting, tag)
    access_key = secrets.token_urlsafe(24)
    run = ConformanceRun.objects.create(
        system=system,
        version=system.version,
        opened_by=by,
        care_setting=care_setting,
        clinician_token=clinician_token,
        lead_token=lead_token,
        access_key_hash=token_hash(access_key),
        numbers=numbers,
        retry_after_seconds=settings.CONFORMANCE_RETRY_AFTER_SECONDS,
    )
    audit_record(
        action=AuditAction.CONFORMANCE_RUN_OPENED,
        request=request,
        detail={"run_id": run.pk, "system_id": system.pk, "version": system.version},
    )
    return OpenedRun(run=run, clinician_token=clinician_raw, lead_token=lead_raw, access_key=access_key)
