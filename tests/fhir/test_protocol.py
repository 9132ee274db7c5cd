"""R4's HTTP rules as the API follows them: errors, formats, strictness, paging, read by id, ids."""

import base64
import json
import uuid

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careteam import CareTeam

from attendances.models import Visit
from audit.models import AuditAction, AuditEvent
from fhir.ids import Kind, fhir_id, fhir_id_key
from tests.factories import PlanFactory, VisitFactory, nhs_number_for
from tests.fhir.responses import outcome, parsed

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/fhir/R4/Patient",
        "/fhir/R4/Patient/9434765919",
        "/fhir/R4/CareTeam/",
        "/fhir/R4/AuditEvent/",
        "/fhir/R4/metadata/",
        "/fhir/R4/",
        "/fhir/R4/CareTeam/abc/_history/1",
        "/fhir/R4/$export",
        "/fhir/R4/%3Cscript%3E",
    ],
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_anything_unknown_under_the_base_is_an_operation_outcome(client, path, method):
    outcome(getattr(client, method)(path), 404, "NO_RECORD_FOUND")


@pytest.mark.parametrize("path", ["CareTeam", "AuditEvent", "PatientFlag", f"CareTeam/{uuid.uuid4()}"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_other_methods_are_405_operation_outcomes(api, path, method):
    call, _ = api()
    response = call(path, method=method)
    outcome(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "GET"


def test_metadata_refuses_other_methods_and_xml(client):
    outcome(client.post("/fhir/R4/metadata"), 405, "METHOD_NOT_ALLOWED")
    outcome(client.get("/fhir/R4/metadata", HTTP_ACCEPT="application/fhir+xml"), 406, "NOT_ACCEPTABLE")


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"Accept": "application/fhir+xml"}, {}),
        ({"Accept": "application/xml, text/xml"}, {}),
        ({"Accept": "application/fhir+json; fhirVersion=3.0"}, {}),
        ({}, {"_format": "xml"}),
        ({}, {"_format": "application/fhir+xml"}),
        ({"Accept": "application/fhir+json"}, {"_format": "xml"}),
    ],
)
def test_xml_is_not_acceptable(api, headers, params):
    call, _ = api()
    response = call("CareTeam", nhs_number_for(2), params=params, **headers)
    outcome(response, 406, "NOT_ACCEPTABLE")
    assert not AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED).exists()


@pytest.mark.parametrize(
    ("headers", "params", "content_type"),
    [
        ({}, {}, "application/fhir+json; fhirVersion=4.0"),
        ({"Accept": "*/*"}, {}, "application/fhir+json; fhirVersion=4.0"),
        ({"Accept": "application/fhir+json; fhirVersion=4.0"}, {}, "application/fhir+json; fhirVersion=4.0"),
        ({"Accept": "application/fhir+xml;q=0.9, application/fhir+json"}, {}, "application/fhir+json; fhirVersion=4.0"),
        ({"Accept": "application/json"}, {}, "application/json"),
        ({"Accept": "application/fhir+xml"}, {"_format": "json"}, "application/fhir+json; fhirVersion=4.0"),
        ({}, {"_format": "application/fhir+json"}, "application/fhir+json; fhirVersion=4.0"),
    ],
)
def test_json_is_answered_as_asked(api, headers, params, content_type):
    call, _ = api()
    response = call("CareTeam", nhs_number_for(2), params=params, **headers)
    assert response.status_code == 200 and response["Content-Type"] == content_type
    Bundle.model_validate(json.loads(response.content))


def test_strict_handling_refuses_unknown_parameters_lenient_ignores_them(api):
    call, _ = api()
    params = {"name": "Smith", "_sort": "-date"}
    outcome(call("CareTeam", nhs_number_for(2), params=params, Prefer="handling=strict"), 400, "INVALID_PARAMETER")
    assert not AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED).exists()
    bundle = parsed(call("CareTeam", nhs_number_for(2), params=params, Prefer="handling=lenient"), Bundle)
    assert bundle.link[0].relation == "self"
    assert bundle.link[0].url == (
        "http://testserver/fhir/R4/CareTeam?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|" + nhs_number_for(2)
    )
    outcome(call(f"CareTeam/{uuid.uuid4()}", params={"x": "1"}, Prefer="handling=strict"), 400, "INVALID_PARAMETER")


def test_empty_result_has_a_self_link_a_total_and_no_entry(api):
    call, _ = api()
    body = json.loads(call("CareTeam", nhs_number_for(2)).content)
    assert body["total"] == 0 and "entry" not in body
    assert [link["relation"] for link in body["link"]] == ["self"]


@pytest.fixture
def history(api, local_authority):
    """A child with 7 visits (6, then the check that opens the history) and a checked caller."""
    plan = PlanFactory(organisation=local_authority)
    for _ in range(6):
        VisitFactory(nhs_number=plan.nhs_number)
    call, _ = api()
    call("CareTeam", plan.nhs_number)
    return call, plan.nhs_number


def _matches(bundle) -> list:
    # Each page's AuditEvents; their PractitionerRoles follow them as includes.
    return [e for e in bundle.entry if e.search.mode == "match"]


def test_count_pages_the_history_with_next_and_previous_links(history):
    call, nhs_number = history
    first = parsed(call("AuditEvent", nhs_number, params={"_count": "3"}), Bundle)
    assert first.total == 7 and len(_matches(first)) == 3
    links = {link.relation: link.url for link in first.link}
    assert set(links) == {"self", "next"} and "_offset=3" in links["next"] and "_count=3" in links["next"]
    second = parsed(call("AuditEvent", nhs_number, params={"_count": "3", "_offset": "3"}), Bundle)
    assert {link.relation for link in second.link} == {"self", "next", "previous"}
    third = parsed(call("AuditEvent", nhs_number, params={"_count": "3", "_offset": "6"}), Bundle)
    assert len(_matches(third)) == 1 and {link.relation for link in third.link} == {"self", "previous"}
    ids = [e.resource.id for page in (first, second, third) for e in _matches(page)]
    assert len(set(ids)) == 7


def test_count_is_capped_at_25_and_zero_gives_the_total_only(history):
    call, nhs_number = history
    assert len(_matches(parsed(call("AuditEvent", nhs_number, params={"_count": "1000"}), Bundle))) == 7
    counted = json.loads(call("AuditEvent", nhs_number, params={"_count": "0"}).content)
    assert counted["total"] == 7 and "entry" not in counted


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "9" * 20, ""])
def test_malformed_count_is_refused(history, value):
    call, nhs_number = history
    outcome(call("AuditEvent", nhs_number, params={"_count": value}), 400, "INVALID_PARAMETER")


def test_care_team_pages_belong_to_one_check(api, local_authority, other_local_authority):
    plan = PlanFactory(organisation=local_authority)
    PlanFactory(organisation=other_local_authority, nhs_number=plan.nhs_number, looked_after=True)
    call, user = api()
    first = parsed(call("CareTeam", plan.nhs_number, params={"_count": "1"}), Bundle)
    assert first.total == 2 and len(first.entry) == 1
    next_url = {link.relation: link.url for link in first.link}["next"]
    path, _, query = next_url.partition("?")
    response = call(
        path.removeprefix("http://testserver/fhir/R4/"), params=dict(p.split("=", 1) for p in query.split("&"))
    )
    second = parsed(response, Bundle)
    assert second.entry[0].resource.id != first.entry[0].resource.id
    # Following the link recorded no second visit; both pages were audited as checks.
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, user=user).count() == 2
    # The link is this token's and this child's only.
    other, _ = api()
    check = dict(p.split("=", 1) for p in query.split("&"))["check"]
    outcome(other("CareTeam", plan.nhs_number, params={"check": check}), 400, "INVALID_PARAMETER")
    outcome(call("CareTeam", plan.nhs_number, params={"check": "forged"}), 400, "INVALID_PARAMETER")
    # A signed value is readable: it must not carry the NHS number.
    payload = check.split(":")[0]
    assert plan.nhs_number.encode() not in base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))


def test_read_by_id_answers_what_the_search_returned_and_is_audited(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    call, user = api()
    team = parsed(call("CareTeam", plan.nhs_number), Bundle).entry[0].resource
    response = call(f"CareTeam/{team.id}", TraceID="read-1")
    read = parsed(response, CareTeam)
    assert read.model_dump() == CareTeam.model_validate(team.model_dump()).model_dump()
    assert AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, user=user, trace_id="read-1").exists()


def test_read_by_id_of_anything_not_issued_or_no_longer_visible_is_404(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    withdrawn = PlanFactory(organisation=local_authority, withdrawn_in_error=True)
    visit = VisitFactory(nhs_number=plan.nhs_number)
    call, _ = api()
    for path in [
        f"CareTeam/{uuid.uuid4()}",
        "CareTeam/not-a-uuid",
        f"CareTeam/{fhir_id(Kind.CARE_TEAM, withdrawn.pk)}",
        f"CareTeam/{fhir_id(Kind.AUDIT_EVENT, visit.pk)}",  # another kind's id
        f"AuditEvent/{fhir_id(Kind.CARE_TEAM, plan.pk)}",
        f"CareTeam/{fhir_id(Kind.CARE_TEAM, 10**12)}",  # a row that does not exist
        f"CareTeam/{fhir_id(Kind.CARE_TEAM, plan.pk).upper()}",
    ]:
        outcome(call(path), 404, "NO_RECORD_FOUND")
    assert AuditEvent.objects.filter(action=AuditAction.FHIR_REQUEST_REFUSED, outcome="failure").count() == 7


def test_read_by_id_outside_the_scope_answers_as_a_missing_id_and_leaves_no_trace(api, local_authority):
    # A withdrawn plan, and a visit of a child whose only plan is withdrawn: records that exist,
    # but that the API must not show. Reading them must look exactly like reading ids never issued.
    withdrawn = PlanFactory(organisation=local_authority, withdrawn_in_error=True)
    visit = VisitFactory(nhs_number=withdrawn.nhs_number)
    call, user = api("safeguarding_lead")
    pairs = [
        (f"CareTeam/{fhir_id(Kind.CARE_TEAM, withdrawn.pk)}", f"CareTeam/{fhir_id(Kind.CARE_TEAM, 10**12)}"),
        (f"CarePlan/{fhir_id(Kind.CARE_PLAN, withdrawn.pk)}", f"CarePlan/{fhir_id(Kind.CARE_PLAN, 10**12)}"),
        (f"AuditEvent/{fhir_id(Kind.AUDIT_EVENT, visit.pk)}", f"AuditEvent/{fhir_id(Kind.AUDIT_EVENT, 10**12)}"),
        (
            f"PractitionerRole/{fhir_id(Kind.PRACTITIONER_ROLE, visit.pk)}",
            f"PractitionerRole/{fhir_id(Kind.PRACTITIONER_ROLE, 10**12)}",
        ),
    ]

    def answer(path):
        before = set(AuditEvent.objects.values_list("pk", flat=True))
        issue = outcome(call(path, IsUnscheduledAccessEvent="true"), 404, "NO_RECORD_FOUND")
        events = AuditEvent.objects.exclude(pk__in=before)
        return issue.diagnostics, sorted(events.values_list("action", "outcome", "nhs_number"))

    for out_of_scope, missing in pairs:
        assert answer(out_of_scope) == answer(missing), out_of_scope
    # No check of the child, no visit, no history read: nothing names the child.
    assert not AuditEvent.objects.filter(nhs_number=withdrawn.nhs_number).exists()
    assert list(Visit.objects.filter(nhs_number=withdrawn.nhs_number)) == [visit]


def test_ids_are_stable_opaque_and_distinct_per_kind():
    assert fhir_id(Kind.CARE_TEAM, 1) == fhir_id(Kind.CARE_TEAM, 1)
    assert fhir_id(Kind.CARE_TEAM, 1) != fhir_id(Kind.CARE_TEAM, 2)
    assert fhir_id(Kind.AUDIT_EVENT, 1) != fhir_id(Kind.PRACTITIONER_ROLE, 1)
    # Neighbouring rows share nothing visible.
    first, second = fhir_id(Kind.CARE_TEAM, 1), fhir_id(Kind.CARE_TEAM, 2)
    assert sum(a == b for a, b in zip(first, second, strict=True)) < 16
    assert fhir_id_key(fhir_id(Kind.FLAG, 12345), (Kind.FLAG,)) == (Kind.FLAG, 12345)
    assert fhir_id_key(fhir_id(Kind.FLAG, 12345), (Kind.CARE_PLAN,)) is None
    assert all(fhir_id_key(str(uuid.uuid4()), tuple(Kind)) is None for _ in range(200))


def test_ids_change_with_the_key(settings):
    before = fhir_id(Kind.CARE_TEAM, 7)
    settings.FHIR_ID_KEY = "another key"
    assert fhir_id(Kind.CARE_TEAM, 7) != before
    assert fhir_id_key(before, (Kind.CARE_TEAM,)) is None


def test_errors_before_authentication_are_fhir_too(client):
    response = client.get("/fhir/R4/CareTeam", {"patient:identifier": "x"})
    outcome(response, 401, "ACCESS_DENIED")


def test_every_full_url_answers_its_resource(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    VisitFactory(nhs_number=plan.nhs_number)
    call, _ = api("safeguarding_lead")
    call("CareTeam", plan.nhs_number)
    bundles = [
        json.loads(call("AuditEvent", plan.nhs_number, params={"_include": "AuditEvent:agent"}).content),
        json.loads(call("PatientFlag", params={"patient": plan.nhs_number}).content),
    ]
    entries = [entry for bundle in bundles for entry in bundle["entry"]]
    assert {e["resource"]["resourceType"] for e in entries} == {
        "AuditEvent",
        "PractitionerRole",
        "Flag",
        "CarePlan",
        "CareTeam",
    }
    for entry in entries:
        path = entry["fullUrl"].removeprefix("http://testserver/fhir/R4/")
        response = call(path, IsUnscheduledAccessEvent="false")
        assert response.status_code == 200, path
        assert json.loads(response.content) == entry["resource"]
