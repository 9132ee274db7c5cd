"""The API as an EPR uses it, through two independent FHIR client libraries (fhirpy and
fhirclient): search, include, paging, read by id, and errors.

Both talk HTTP with `requests`; here `requests` is routed to Django's test client, so the
calls go through the whole stack (middleware, URLs, views) inside the test's transaction.
"""

import uuid
from urllib.parse import urlsplit

import pytest
import requests
from fhir.resources.R4B.bundle import Bundle
from fhirclient.models.auditevent import AuditEvent as ClientAuditEvent
from fhirclient.models.careteam import CareTeam as ClientCareTeam
from fhirclient.models.practitionerrole import PractitionerRole as ClientPractitionerRole
from fhirclient.server import FHIRNotFoundException, FHIRServer
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError, OperationOutcome, ResourceNotFound
from requests.structures import CaseInsensitiveDict

from attendances.models import Visit
from fhir.services import api_token_issue
from notifications.models import Notification
from tests.factories import PlanFactory, VisitFactory, nhs_number_for
from tests.fhir.responses import NHS

pytestmark = pytest.mark.django_db

BASE = "http://testserver/fhir/R4"


@pytest.fixture
def http_to_django(client, monkeypatch):
    """Every request `requests` sends goes to this test's Django instead of the network; each
    answer is also parsed with fhir.resources, so it stays valid FHIR whichever client reads it."""

    def send(adapter, prepared, **kwargs):
        url = urlsplit(prepared.url)
        assert url.netloc == "testserver", prepared.url
        headers = {
            "HTTP_" + name.upper().replace("-", "_"): value
            for name, value in prepared.headers.items()
            if name.lower() not in ("content-type", "content-length", "host")
        }
        answer = client.generic(
            prepared.method,
            url.path + (f"?{url.query}" if url.query else ""),
            data=prepared.body or b"",
            content_type=prepared.headers.get("Content-Type", "application/octet-stream"),
            **headers,
        )
        assert answer["Content-Type"] == "application/fhir+json; fhirVersion=4.0"
        if answer.json().get("resourceType") == "Bundle":
            Bundle.model_validate(answer.json())
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.content
        response.headers = CaseInsensitiveDict(answer.headers.items())
        response.url = prepared.url
        response.request = prepared
        response.encoding = "utf-8"
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)


@pytest.fixture
def epr(http_to_django, role_user, care_setting):
    """epr(role) → (fhirpy client, fhirclient server, user), both with that user's token."""

    def make(role="clinician", unscheduled="true"):
        user = role_user(role, care_setting)
        _, raw = api_token_issue(user=user, organisation=care_setting, name="EPR", valid_days=30)
        headers = {"TraceID": str(uuid.uuid4()), "IsUnscheduledAccessEvent": unscheduled}
        fhirpy_client = SyncFHIRClient(BASE, authorization=f"Bearer {raw}", extra_headers=headers)
        server = FHIRServer(None, base_uri=BASE)
        server.session.headers.update({"Authorization": f"Bearer {raw}", **headers})
        return fhirpy_client, server, user

    return make


def identifier(nhs_number: str) -> str:
    return f"{NHS}|{nhs_number}"


def test_fhirpy_checks_a_child_and_reads_the_care_team_by_id(epr, local_authority):
    plan = PlanFactory(organisation=local_authority)
    fhirpy_client, _, user = epr()
    teams = fhirpy_client.resources("CareTeam").search(**{"patient:identifier": identifier(plan.nhs_number)}).fetch()
    assert len(teams) == 1 and teams[0]["name"] == local_authority.name
    assert Visit.objects.filter(nhs_number=plan.nhs_number, checked_by=user).count() == 1
    again = fhirpy_client.reference("CareTeam", teams[0]["id"]).to_resource()
    assert again["id"] == teams[0]["id"] and again["category"] == teams[0]["category"]
    # Read by id is the check again: audited, and the visit joins the same notification.
    assert Notification.objects.filter(nhs_number=plan.nhs_number).count() == 1


def test_fhirpy_includes_practitioner_roles_and_resolves_the_references(epr, local_authority):
    plan = PlanFactory(organisation=local_authority)
    VisitFactory(nhs_number=plan.nhs_number)
    fhirpy_client, _, user = epr()
    fhirpy_client.resources("CareTeam").search(**{"patient:identifier": identifier(plan.nhs_number)}).fetch()
    search = fhirpy_client.resources("AuditEvent").search(**{"patient:identifier": identifier(plan.nhs_number)})
    bundle = search.include("AuditEvent", "entity-type").fetch_raw()
    modes = [entry["search"]["mode"] for entry in bundle["entry"]]
    assert modes == ["match", "match", "include", "include"]
    newest = bundle["entry"][0]["resource"]
    practitioner = newest["agent"][1]["who"].to_resource()
    assert practitioner["resourceType"] == "PractitionerRole"
    assert practitioner["practitioner"]["display"] == user.full_name
    event = fhirpy_client.reference("AuditEvent", newest["id"]).to_resource()
    assert event["recorded"] == newest["recorded"]
    assert search.include("AuditEvent", "agent", "PractitionerRole").fetch_raw()["total"] == 2


def test_fhirpy_pages_through_the_history(epr, local_authority):
    plan = PlanFactory(organisation=local_authority)
    for _ in range(6):
        VisitFactory(nhs_number=plan.nhs_number)
    fhirpy_client, _, _ = epr()
    fhirpy_client.resources("CareTeam").search(**{"patient:identifier": identifier(plan.nhs_number)}).fetch()
    search = fhirpy_client.resources("AuditEvent").search(**{"patient:identifier": identifier(plan.nhs_number)})
    first = search.limit(3).fetch_raw()
    # Each page's AuditEvents, then their PractitionerRoles (included whether asked or not).
    assert first["total"] == 7 and [e["search"]["mode"] for e in first["entry"]] == ["match"] * 3 + ["include"] * 3
    everything = [e for e in search.limit(3).fetch_all() if e["resourceType"] == "AuditEvent"]
    assert len(everything) == 7 and len({e["id"] for e in everything}) == 7


def test_fhirpy_sees_errors_as_operation_outcomes(epr, local_authority):
    plan = PlanFactory(organisation=local_authority)
    fhirpy_client, _, _ = epr()
    with pytest.raises(ResourceNotFound):
        fhirpy_client.reference("CareTeam", str(uuid.uuid4())).to_resource()
    with pytest.raises(ForbiddenError):
        # The history as an unscheduled access, before any check of the child.
        fhirpy_client.resources("AuditEvent").search(**{"patient:identifier": identifier(plan.nhs_number)}).fetch()
    with pytest.raises(OperationOutcome) as raised:
        fhirpy_client.resources("CareTeam").search(**{"patient:identifier": identifier("9434765918")}).fetch()
    assert raised.value.resource["issue"][0]["details"]["coding"][0]["code"] == "INVALID_SEARCH_DATA"


def test_fhirclient_searches_includes_pages_and_reads(epr, local_authority):
    plan = PlanFactory(organisation=local_authority)
    for _ in range(4):
        VisitFactory(nhs_number=plan.nhs_number)
    _, server, user = epr()
    teams = list(
        ClientCareTeam.where(struct={"patient:identifier": identifier(plan.nhs_number)}).perform_resources_iter(server)
    )
    assert [t.name for t in teams] == [local_authority.name]
    assert ClientCareTeam.read(teams[0].id, server).category[0].coding[0].code == "342191000000101"
    search = ClientAuditEvent.where(
        struct={"patient:identifier": identifier(plan.nhs_number), "_include": "AuditEvent:agent", "_count": "2"}
    )
    pages = list(search.perform_iter(server))
    # 5 visits (4, and the search's check: the read by id joined it), 2 a page, each with its role.
    assert [len(page.entry) for page in pages] == [4, 4, 2]
    events = [e.resource for page in pages for e in page.entry if e.search.mode == "match"]
    roles = {e.resource.id: e.resource for page in pages for e in page.entry if e.search.mode == "include"}
    assert len(events) == 5
    for event in events:
        reference = event.agent[1].who.reference
        assert reference.startswith("PractitionerRole/") and reference.split("/")[1] in roles
    practitioner = ClientPractitionerRole.read(events[0].agent[1].who.reference.split("/")[1], server)
    assert practitioner.practitioner.display == user.full_name
    assert ClientAuditEvent.read(events[0].id, server).id == events[0].id


def test_fhirclient_gets_not_found_for_an_id_it_was_never_given(epr):
    _, server, _ = epr()
    with pytest.raises(FHIRNotFoundException):
        ClientCareTeam.read(str(uuid.uuid4()), server)
    assert (
        list(
            ClientCareTeam.where(struct={"patient:identifier": identifier(nhs_number_for(9))}).perform_resources_iter(
                server
            )
        )
        == []
    )
    with pytest.raises(requests.HTTPError) as raised:
        list(
            ClientCareTeam.where(struct={"patient:identifier": identifier("9434765918")}).perform_resources_iter(server)
        )
    assert raised.value.response.status_code == 400
    assert raised.value.response.json()["issue"][0]["details"]["coding"][0]["code"] == "INVALID_SEARCH_DATA"


def test_fhirpy_reads_the_patient_flag_api(epr, local_authority):
    plan = PlanFactory(organisation=local_authority)
    fhirpy_client, _, _ = epr("safeguarding_lead", unscheduled="false")
    bundle = (
        fhirpy_client.resources("PatientFlag")
        .search(patient=plan.nhs_number, code="child-protection-information-system-flag")
        .fetch_raw()
    )
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Flag", "CarePlan", "CareTeam"]
    flag = bundle["entry"][0]["resource"]
    care_plan = flag["extension"][0]["valueReference"].to_resource()
    assert care_plan["resourceType"] == "CarePlan"
    care_team = care_plan["careTeam"][0].to_resource()
    assert care_team["name"] == local_authority.name
    assert not Visit.objects.exists() and not Notification.objects.exists()
