"""Our answers compared with NHS England's CP-IS examples, element by element.

Same elements, code systems, codes and displays; only values (names, dates, ids, numbers)
differ. Every difference allowed below is a departure recorded, with its reason, in docs/fhir.md
("Departures from the national examples"); a new one fails here until it is added to both.
"""

import json

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from tests.factories import PlanFactory, VisitFactory, nhs_number_for
from tests.fhir.national import Shape, example_entries, example_link
from tests.fhir.responses import parsed

pytestmark = pytest.mark.django_db

INCLUDE = "AuditEvent:entity-type=http://terminology.hl7.org/CodeSystem/v3-RoleClass|ASSIGNED"

# Elements we add (docs/fhir.md, "Departures").
ADDED = {
    "CareTeam.status",  # says an ended plan has ended
    "AuditEvent.type.code",  # the lifecycle event's code, which the example leaves out
    # The SDS role profile id we do not hold, said so with a data-absent-reason.
    "PractitionerRole.identifier.value.extension",
    "PractitionerRole.identifier.value.extension.url",
    "PractitionerRole.identifier.value.extension.valueCode",
    "PractitionerRole.code.text",  # our own role name beside the SNOMED occupation
    "OperationOutcome.issue.diagnostics",  # what exactly was wrong
    # No Patient resource is served: the subject is the NHS number, not a reference.
    "Flag.subject.identifier",
    "Flag.subject.identifier.system",
    "Flag.subject.identifier.value",
    "CarePlan.subject.identifier",
    "CarePlan.subject.identifier.system",
    "CarePlan.subject.identifier.value",
    # The Provenance names the local authority by ODS code, not an SDS/ODS directory URL.
    "Provenance.agent.who.display",
    "Provenance.agent.onBehalfOf.identifier",
    "Provenance.agent.onBehalfOf.identifier.system",
    "Provenance.agent.onBehalfOf.identifier.value",
    "Provenance.agent.onBehalfOf.display",
}
# Elements of the examples we leave out (docs/fhir.md, "Departures").
LEFT_OUT = {
    "Flag.subject.reference",
    "CarePlan.subject.reference",
    "Provenance.agent.who.reference",
    "Provenance.agent.onBehalfOf.reference",
    # No SDS job role for local authority staff.
    "Provenance.agent.role",
    "Provenance.agent.role.coding",
    "Provenance.agent.role.coding.system",
    "Provenance.agent.role.coding.code",
    "Provenance.agent.role.coding.display",
}


def assert_same_shape(ours: Shape, example: Shape):
    missing = example.paths - ours.paths - LEFT_OUT
    added = ours.paths - example.paths - ADDED
    assert not missing, f"elements of the national example we do not send: {sorted(missing)}"
    assert not added, f"elements we send that the national example has not: {sorted(added)}"


def body(response) -> dict:
    return json.loads(response.content)


def test_care_team_search_is_shaped_like_the_national_result(api, local_authority):
    plan = PlanFactory(organisation=local_authority, ended=True)
    call, _ = api()
    response = call("CareTeam", plan.nhs_number)
    parsed(response, Bundle)
    ours = Shape.of_json(body(response))
    example = Shape.of_example("CPIS-GetCareTeamResult-Example.xml")
    assert_same_shape(ours, example)
    assert ours.codings == example.codings
    assert ours.systems == example.systems


def test_empty_care_team_search_is_shaped_like_the_national_no_results(api):
    call, _ = api()
    response = call("CareTeam", nhs_number_for(41))
    parsed(response, Bundle)
    assert_same_shape(Shape.of_json(body(response)), Shape.of_example("CPIS-GetCareTeamNoResults-Example.xml"))
    assert "entry" not in body(response)


def test_access_history_is_shaped_like_the_national_result(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    VisitFactory(nhs_number=plan.nhs_number)
    call, _ = api()
    call("CareTeam", plan.nhs_number)
    response = call("AuditEvent", plan.nhs_number, params={"_include": INCLUDE})
    parsed(response, Bundle)
    ours = Shape.of_json(body(response))
    example = Shape.of_example("CPIS-GetAuditEventResult-Example.xml")
    assert_same_shape(ours, example)
    assert ours.systems == example.systems
    fixed = {c for c in example.codings if c[0] != "http://snomed.info/sct"}
    # The example's lifecycle coding has no code; ours adds it (docs/fhir.md).
    lifecycle = (
        "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle",
        None,
        "Access/View Record Lifecycle Event",
    )
    assert fixed - {lifecycle} <= ours.codings
    assert (lifecycle[0], "access", lifecycle[2]) in ours.codings
    # A job role, as the example's: SNOMED CT, with a display.
    assert any(c[0] == "http://snomed.info/sct" and c[1] and c[2] for c in ours.codings)


def test_access_history_answers_the_national_examples_own_query_as_the_example_does(api, local_authority):
    """The example's query, as its self link gives it (no `_include`), answered like the example:
    each AuditEvent, then its PractitionerRole, element by element (issue 24 item 7)."""
    name = "CPIS-GetAuditEventResult-Example.xml"
    national_self = example_link(name, "self")
    base, _, query = national_self.partition("/AuditEvent?")
    assert "_include" not in query
    plan = PlanFactory(organisation=local_authority)
    call, _ = api()
    call("CareTeam", plan.nhs_number)
    # The NHS number of the example's query, swapped for our child's: nothing else is sent.
    params = dict(pair.split("=", 1) for pair in query.replace("9912003890", plan.nhs_number).split("&"))
    response = call("AuditEvent", params=params)
    bundle = body(response)
    parsed(response, Bundle)
    assert [(e["resource"]["resourceType"], e["search"]["mode"]) for e in bundle["entry"]] == example_entries(name)
    assert bundle["total"] == 1
    assert [link["relation"] for link in bundle["link"]] == ["self"]
    assert bundle["link"][0]["url"] == national_self.replace(base, "http://testserver/fhir/R4").replace(
        "9912003890", plan.nhs_number
    )
    ours = Shape.of_json(bundle)
    example = Shape.of_example(name)
    assert_same_shape(ours, example)
    assert ours.systems == example.systems
    for resource_type in ("AuditEvent", "PractitionerRole"):
        assert_same_shape(ours.only(resource_type), example.only(resource_type))
    # The viewer the data mapping reads: the AuditEvent's agent and observer resolve in the Bundle.
    event, role = (e["resource"] for e in bundle["entry"])
    reference = f"PractitionerRole/{role['id']}"
    assert [a["who"].get("reference") for a in event["agent"]] == [None, reference]
    assert event["source"]["observer"]["reference"] == reference
    assert bundle["entry"][1]["fullUrl"] == f"http://testserver/fhir/R4/{reference}"


def test_access_denied_is_the_national_operation_outcome(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    call, _ = api("clinician")
    response = call("CareTeam", plan.nhs_number, IsUnscheduledAccessEvent="false")
    assert response.status_code == 403
    ours = Shape.of_json(body(response))
    example = Shape.of_example("CPIS-AccessDenied-Example.xml")
    assert_same_shape(ours, example)
    assert ours.codings == example.codings


@pytest.mark.parametrize(
    ("resource_type", "example"),
    [
        ("Flag", ("CPIS-CPP-Bundle-Example.xml", "Flag")),
        ("Provenance", ("CPIS-CPP-Bundle-Example.xml", "Provenance")),
        ("CarePlan", ("CPIS-CarePlan-Example.xml", None)),
        ("CareTeam", ("CPIS-CareTeam-Example.xml", None)),
    ],
)
def test_patient_flag_resources_are_shaped_like_the_national_examples(api, local_authority, resource_type, example):
    plan = PlanFactory(organisation=local_authority, end_date=None)
    call, _ = api("safeguarding_lead")
    response = call(
        "PatientFlag", params={"patient": plan.nhs_number, "code": "child-protection-information-system-flag"}
    )
    parsed(response, Bundle)
    ours = Shape.of_json(body(response)).only(resource_type)
    national = Shape.of_example(*example)
    assert_same_shape(ours, national.only(resource_type))
    bundle_example = Shape.of_example("CPIS-CPP-Bundle-Example.xml")
    sds_job_role = "https://fhir.hl7.org.uk/STU3/CodeSystem/CareConnect-SDSJobRoleName-1"
    assert {c for c in bundle_example.codings if c[0] != sds_job_role} == Shape.of_json(body(response)).codings


def test_capability_statement_has_every_element_of_the_national_one(client):
    response = client.get("/fhir/R4/metadata")
    parsed(response, CapabilityStatement)
    ours = Shape.of_json(body(response))
    national = Shape.of_example("CapStatement-CPIS-FHIR-API-Producer.json")
    # Ours is NHS England's licence to set, not ours to copy.
    assert national.paths - ours.paths == {"CapabilityStatement.copyright"}
    statement = body(response)
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for name in ("CareTeam", "AuditEvent"):
        params = {(p["name"], p["definition"]) for p in resources[name]["searchParam"]}
        assert ("patient", "http://hl7.org/fhir/SearchParameter/clinical-patient") in params
        assert {"code": "read"} in resources[name]["interaction"]
    assert statement["instantiates"] == ["https://fhir.nhs.uk/CapabilityStatement/CPIS-FHIR-API-Producer"]
    assert statement["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "OAuth"
