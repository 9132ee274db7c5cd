"""The request headers as EPRs written to the national guide (and older stacks) send them:
TraceID, Accept, Authorization, the access header under both its names, long query strings
(issue 24 item 11)."""

import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from attendances.models import Visit
from audit.models import AuditAction, AuditEvent
from tests.factories import PlanFactory, nhs_number_for
from tests.fhir.responses import outcome, parsed

pytestmark = pytest.mark.django_db

BRACED_GUID = "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"


@pytest.mark.parametrize(
    "trace_id",
    [BRACED_GUID, "urn:uuid:3f2504e0-4f89-11d3-9a0c-0305e82c3301", "EPR/ward-7#42;retry=1", "t" * 200],
)
def test_any_printable_trace_id_up_to_200_characters_is_echoed_and_audited(api, local_authority, trace_id):
    plan = PlanFactory(organisation=local_authority)
    call, _ = api()
    response = call("CareTeam", plan.nhs_number, TraceID=trace_id)
    assert response.status_code == 200, response.content
    assert response["TraceID"] == trace_id
    assert AuditEvent.objects.get(action=AuditAction.CHILD_CHECKED).trace_id == trace_id


@pytest.mark.parametrize("trace_id", ["t" * 201, "two words", "caf\u00e9", "tab\there"])
def test_a_trace_id_that_is_not_a_printable_token_is_a_precondition_failure(api, trace_id):
    call, _ = api()
    response = call("CareTeam", nhs_number_for(2), TraceID=trace_id)
    issue = outcome(response, 400, "PRECONDITION_FAILED")
    assert "200 printable characters" in issue.diagnostics
    assert "TraceID" not in response  # never echoed back as sent
    assert not AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED).exists()


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"Accept": "application/json+fhir"}, {}),
        ({"Accept": "application/json+fhir; charset=utf-8"}, {}),
        ({"Accept": "application/xml+fhir;q=0.5, application/json+fhir"}, {}),
        ({}, {"_format": "application/json+fhir"}),
    ],
)
def test_the_pre_r4_fhir_json_type_is_answered_as_r4_fhir_json(api, client, headers, params):
    call, _ = api()
    response = call("CareTeam", nhs_number_for(2), params=params, **headers)
    assert response.status_code == 200, response.content
    parsed(response, Bundle)  # application/fhir+json; fhirVersion=4.0
    extra = {f"HTTP_{k.upper()}": v for k, v in headers.items()}
    parsed(client.get("/fhir/R4/metadata", params, **extra), CapabilityStatement)


def test_the_pre_r4_fhir_xml_type_is_still_not_acceptable(api):
    call, _ = api()
    outcome(call("CareTeam", nhs_number_for(2), Accept="application/xml+fhir"), 406, "NOT_ACCEPTABLE")


def test_401_names_the_bearer_scheme_and_an_invalid_token(client, api):
    path, query = "/fhir/R4/CareTeam", {"patient:identifier": f"https://fhir.nhs.uk/Id/nhs-number|{nhs_number_for(2)}"}
    # No credentials, or another scheme's: the scheme to use, and no error code (RFC 6750 3.1).
    for extra in ({}, {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"}):
        response = client.get(path, query, **extra)
        outcome(response, 401, "ACCESS_DENIED")
        assert response["WWW-Authenticate"] == 'Bearer realm="CP-IS FHIR API"'
    response = client.get(path, query, HTTP_AUTHORIZATION="Bearer cpis_no-such-token")
    outcome(response, 401, "ACCESS_DENIED")
    assert response["WWW-Authenticate"] == 'Bearer realm="CP-IS FHIR API", error="invalid_token"'
    # A token that worked and no longer does is an invalid token too.
    call, user = api()
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert call("CareTeam", nhs_number_for(2))["WWW-Authenticate"].endswith('error="invalid_token"')


@pytest.mark.parametrize("path", ["CareTeam", "AuditEvent", "metadata", "Patient"])
def test_a_query_string_past_4096_characters_is_a_414_operation_outcome(api, path):
    call, _ = api()
    params = {"patient:identifier": f"https://fhir.nhs.uk/Id/nhs-number|{nhs_number_for(2)}", "x": "y" * 4100}
    issue = outcome(call(path, params=params), 414, "INVALID_PARAMETER")
    assert issue.code == "too-long"
    # Just under the limit, the request is read as usual (the history needs a check first).
    params["x"] = "y" * 3900
    assert call(path, params=params).status_code in (200, 403, 404)
    assert call(path, params=params)["Content-Type"].startswith("application/fhir+json")


def test_is_unscheduled_event_is_read_as_is_unscheduled_access_event(api, local_authority):
    """The spelling in one sentence of the national Headers page."""
    plan = PlanFactory(organisation=local_authority)
    clinician, _ = api("clinician")
    # A clinician may not view without notifying, whichever name says so.
    outcome(clinician("CareTeam", plan.nhs_number, IsUnscheduledEvent="false"), 403, "ACCESS_DENIED")
    assert not Visit.objects.exists()
    lead, _ = api("safeguarding_lead")
    assert lead("CareTeam", plan.nhs_number, IsUnscheduledEvent="false").status_code == 200
    assert not Visit.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.CHILD_VIEWED_SILENTLY).count() == 1
    assert lead("CareTeam", plan.nhs_number, IsUnscheduledEvent="True").status_code == 200
    assert Visit.objects.count() == 1
    # Both, agreeing: as either says.
    both = {"IsUnscheduledEvent": "false", "IsUnscheduledAccessEvent": "FALSE"}
    assert lead("CareTeam", plan.nhs_number, **both).status_code == 200
    assert Visit.objects.count() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"IsUnscheduledEvent": "false", "IsUnscheduledAccessEvent": "true"},
        {"IsUnscheduledEvent": "true", "IsUnscheduledAccessEvent": "false"},
        {"IsUnscheduledEvent": "no"},
    ],
)
def test_the_access_headers_disagreeing_or_malformed_is_a_precondition_failure(api, local_authority, headers):
    plan = PlanFactory(organisation=local_authority)
    call, _ = api("safeguarding_lead")
    outcome(call("CareTeam", plan.nhs_number, **headers), 400, "PRECONDITION_FAILED")
    assert not Visit.objects.exists()
    assert not AuditEvent.objects.filter(action__in=[AuditAction.CHILD_CHECKED, AuditAction.CHILD_VIEWED_SILENTLY])
    refused = AuditEvent.objects.get(action=AuditAction.FHIR_REQUEST_REFUSED)
    assert json.loads(json.dumps(refused.detail))["status"] == 400
