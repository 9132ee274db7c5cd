"""Checks never wait for PDS: the check and the FHIR API read only the verified data held, and
the date-of-birth warning compares with the verified date of birth."""

import datetime as dt
import re
import uuid

import pytest
from django.urls import reverse

from accounts.models import Role
from fhir.services import api_token_issue
from identity.models import VerifiedIdentity
from tests.factories import PlanFactory, nhs_number_for

pytestmark = pytest.mark.django_db

CHECK = reverse("attendances:check")


def _check(client, nhs_number, born: dt.date | None = None) -> str:
    data = {"nhs_number": nhs_number, "check_token": str(uuid.uuid4())}
    if born:
        data.update(dob_day=born.day, dob_month=born.month, dob_year=born.year)
    response = client.post(CHECK, data)
    assert response.status_code == 200
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def clinician_client(role_user, client_for):
    return client_for(role_user(Role.CLINICIAN))


def test_dob_warning_compares_with_the_verified_date_of_birth(clinician_client, local_authority):
    # A plan keyed in by hand with a slip; PDS verified the 28th at the last upload.
    plan = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(1), date_of_birth=dt.date(2018, 3, 27))
    VerifiedIdentity.objects.create(nhs_number=plan.nhs_number, date_of_birth=dt.date(2018, 3, 28))

    assert 'data-testid="dob-mismatch"' not in _check(clinician_client, plan.nhs_number, dt.date(2018, 3, 28))
    text = _check(clinician_client, plan.nhs_number, dt.date(2018, 3, 27))
    assert 'data-testid="dob-mismatch"' in text
    assert "verified with the NHS Personal Demographics Service for this NHS number is <strong>28 March 2018" in text


def test_without_a_verified_identity_the_plan_date_of_birth_is_used(clinician_client, local_authority):
    plan = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(1), date_of_birth=dt.date(2018, 3, 27))
    assert 'data-testid="dob-mismatch"' in _check(clinician_client, plan.nhs_number, dt.date(2018, 3, 28))


def test_checks_and_the_fhir_api_never_call_pds(
    clinician_client, client, role_user, care_setting, local_authority, pds
):
    pds.control(outage=True, latency_ms=3000, reset_stats=True)  # a PDS that would hang and then fail
    plan = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(1), end_date=None)
    VerifiedIdentity.objects.create(nhs_number=plan.nhs_number, date_of_birth=plan.date_of_birth)

    assert "dob-mismatch" not in _check(clinician_client, plan.nhs_number, plan.date_of_birth)
    _, raw = api_token_issue(
        user=role_user(Role.CLINICIAN, care_setting), organisation=care_setting, name="EPR", valid_days=30
    )
    response = client.get(
        "/fhir/R4/CareTeam",
        {"patient:identifier": f"https://fhir.nhs.uk/Id/nhs-number|{plan.nhs_number}"},
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 200
    stats = pds.stats()
    assert (stats["patient_requests"], stats["token_requests"]) == (0, 0)
