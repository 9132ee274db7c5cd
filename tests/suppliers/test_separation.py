"""A conformance run's tokens see only the run's synthetic children, on synthetic local
authorities, and notify nobody real; real users never see the synthetic children."""

import uuid

import pytest

from attendances.models import Visit
from fhir.ids import Kind, fhir_id
from fhir.services import api_token_issue
from notifications.models import Channel, Delivery, Notification
from plans.models import Plan
from tests.factories import PlanFactory, VisitFactory, nhs_number_for

pytestmark = pytest.mark.django_db


def _headers(unscheduled="true"):
    return {"TraceID": str(uuid.uuid4()), "IsUnscheduledAccessEvent": unscheduled}


def test_a_run_token_sees_no_real_child_and_notifies_no_real_la(opened, fhir_get, local_authority):
    # A real LA's plans: one for a real-looking number, one for a number in the test range.
    real = PlanFactory(organisation=local_authority, nhs_number="9434765919")
    test_range = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(7))
    for plan in (real, test_range):
        answer = fhir_get(opened.clinician_token, "CareTeam", plan.nhs_number, **_headers())
        assert answer.status_code == 200 and answer.json()["total"] == 0
        silent = fhir_get(opened.lead_token, "CareTeam", plan.nhs_number, **_headers("false"))
        assert silent.json()["total"] == 0
        flags = fhir_get(opened.lead_token, "PatientFlag", params={"patient": plan.nhs_number}, **_headers("false"))
        assert flags.json()["total"] == 0
    assert not Notification.objects.filter(local_authority=local_authority).exists()
    assert not Visit.objects.filter(care_setting=opened.run.care_setting, nhs_number=real.nhs_number).exists()


def test_a_run_token_reads_no_real_plan_or_history_by_id(opened, fhir_get, local_authority, care_setting):
    plan = PlanFactory(organisation=local_authority)
    visit = VisitFactory(nhs_number=plan.nhs_number, care_setting=care_setting)
    for resource, kind, pk in (
        ("CareTeam", Kind.CARE_TEAM, plan.pk),
        ("Flag", Kind.FLAG, plan.pk),
        ("AuditEvent", Kind.AUDIT_EVENT, visit.pk),
        ("PractitionerRole", Kind.PRACTITIONER_ROLE, visit.pk),
    ):
        answer = fhir_get(opened.lead_token, f"{resource}/{fhir_id(kind, pk)}", **_headers("false"))
        assert answer.status_code == 404, resource
    # A safeguarding lead's silent history read needs no check: it must still show nothing real.
    history = fhir_get(opened.lead_token, "AuditEvent", plan.nhs_number, **_headers("false"))
    assert history.status_code == 200 and history.json()["total"] == 0
    assert not Notification.objects.filter(local_authority=local_authority).exists()


def test_the_run_sees_its_own_children_and_notifies_only_its_synthetic_la(opened, fhir_get):
    number = opened.run.numbers["on_plan"]
    answer = fhir_get(opened.clinician_token, "CareTeam", number, **_headers())
    assert answer.json()["total"] == 1
    notified = Notification.objects.filter(nhs_number=number)
    assert notified.count() == 1 and notified.get().local_authority.is_synthetic
    assert not notified.get().local_authority.team_mailbox
    # Its synthetic LA has no mailbox, endpoint or MESH mailbox: the inbox nobody reads, only.
    assert set(Delivery.objects.filter(notification=notified.get()).values_list("channel", flat=True)) == {
        Channel.INBOX
    }
    history = fhir_get(opened.clinician_token, "AuditEvent", opened.run.numbers["paging"], **_headers())
    assert history.status_code == 403  # the API's rule: a check first
    fhir_get(opened.clinician_token, "CareTeam", opened.run.numbers["paging"], **_headers())
    history = fhir_get(opened.clinician_token, "AuditEvent", opened.run.numbers["paging"], **_headers())
    assert history.json()["total"] == 7  # six previous viewers and this check


def test_real_users_never_see_a_runs_children(opened, api):
    call, _ = api("safeguarding_lead")
    for key in ("on_plan", "two_las", "ended", "history"):
        number = opened.run.numbers[key]
        assert Plan.objects.filter(nhs_number=number).exists()
        assert call("CareTeam", number, TraceID=str(uuid.uuid4())).json()["total"] == 0
        assert call("AuditEvent", number, IsUnscheduledAccessEvent="false").json()["total"] == 0


def test_a_synthetic_setting_with_an_ordinary_token_is_still_kept_to_synthetic_children(opened, local_authority):
    """The scope is the setting's, not the token's marker: any token at it is kept in."""
    plan = PlanFactory(organisation=local_authority)
    user = opened.run.clinician_token.user
    _, raw = api_token_issue(user=user, organisation=opened.run.care_setting, name="plain", valid_days=1)
    assert not raw.startswith("cpis_test-")
    from django.test import Client

    answer = Client().get(
        "/fhir/R4/CareTeam",
        {"patient:identifier": f"https://fhir.nhs.uk/Id/nhs-number|{plan.nhs_number}"},
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert answer.status_code == 200 and answer.json()["total"] == 0
