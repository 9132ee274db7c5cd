"""No input to the FHIR API produces a 5xx: hostile values in every parameter, header and id."""

import pytest

from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db

HOSTILE = [
    "",
    "\x00",
    "%00",
    "²",
    "١٢",
    "9" * 400,
    "-1",
    "1e9",
    "NaN",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "https://fhir.nhs.uk/Id/nhs-number|",
    "|9434765919",
    "a|b|c",
    "\u202e\ufeff",
    "*/*;q=nan, application/fhir+json;fhirVersion=",
    "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
    "{" * 201,
    "application/json+fhir;q=2",
    "Bearer ",
    "y" * 5000,
]
PARAMS = ["patient:identifier", "patient", "code", "_count", "_offset", "_format", "_include", "check", "unknown"]
HEADERS = ["Accept", "Prefer", "TraceID", "IsUnscheduledAccessEvent", "IsUnscheduledEvent", "Authorization"]
PATHS = ["CareTeam", "AuditEvent", "PatientFlag", "Flag", "metadata"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_never_cause_a_server_error(api, local_authority, value):
    plan = PlanFactory(organisation=local_authority)
    call, _ = api("safeguarding_lead")
    call("CareTeam", plan.nhs_number)
    for path in PATHS:
        for name in PARAMS:
            params = {"patient:identifier": f"https://fhir.nhs.uk/Id/nhs-number|{plan.nhs_number}", name: value}
            assert call(path, params=params).status_code < 500, (path, name)
        for header in HEADERS:
            response = call(path, plan.nhs_number, **{header: value.replace("\x00", "")})
            assert response.status_code < 500, (path, header)
    for resource in ["CareTeam", "AuditEvent", "PractitionerRole", "Flag", "CarePlan"]:
        assert call(f"{resource}/{value or 'x'}").status_code < 500, resource
