"""NHS England's Patient Flag API for scheduled care: a view without notifying by definition."""

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.flag import Flag

from attendances.models import Visit
from audit.models import AuditAction, AuditEvent
from notifications.models import Notification
from tests.factories import PlanFactory, nhs_number_for
from tests.fhir.responses import NHS, outcome, parsed

pytestmark = pytest.mark.django_db

CPIS = "child-protection-information-system-flag"


def flags(call, nhs_number, code=CPIS, path="PatientFlag", **headers):
    params = {"patient": nhs_number}
    if code is not None:
        params["code"] = code
    return call(path, params=params, **headers)


def test_safeguarding_lead_gets_flag_care_plan_and_care_team_and_nothing_is_recorded(api, local_authority):
    plan = PlanFactory(organisation=local_authority, end_date=None)
    call, user = api("safeguarding_lead")
    # The header plays no part: the Patient Flag API never notifies.
    bundle = parsed(flags(call, plan.nhs_number, IsUnscheduledAccessEvent="true", TraceID="flag-1"), Bundle)
    assert bundle.total == 1
    assert [(e.resource.get_resource_type(), e.search.mode) for e in bundle.entry] == [
        ("Flag", "match"),
        ("CarePlan", "include"),
        ("CareTeam", "include"),
    ]
    flag = Flag.model_validate(bundle.entry[0].resource.model_dump())
    care_plan = CarePlan.model_validate(bundle.entry[1].resource.model_dump())
    care_team = CareTeam.model_validate(bundle.entry[2].resource.model_dump())
    assert flag.code.coding[0].code == CPIS and flag.status == "active"
    assert flag.subject.identifier.value == plan.nhs_number
    assert flag.extension[0].valueReference.reference == f"CarePlan/{care_plan.id}"
    assert care_plan.careTeam[0].reference == f"CareTeam/{care_team.id}"
    assert care_plan.category[0].coding[0].code == "342191000000101"
    assert care_team.name == local_authority.name
    assert {(t.use, t.value) for t in care_team.telecom} == {
        ("work", local_authority.office_hours_phone),
        ("mobile", local_authority.emergency_duty_phone),
    }
    assert not Visit.objects.exists() and not Notification.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.CHILD_VIEWED_SILENTLY, trace_id="flag-1")
    assert event.user == user and event.nhs_number == plan.nhs_number


def test_flag_search_and_identifier_form_answer_the_same(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    call, _ = api("safeguarding_lead")
    by_flag = parsed(flags(call, plan.nhs_number, path="Flag"), Bundle)
    by_identifier = parsed(
        flags(
            call,
            f"{NHS}|{plan.nhs_number}",
            code=f"https://fhir.nhs.uk/England/CodeSystem/England-FlagCategoryPatient|{CPIS}",
        ),
        Bundle,
    )
    assert by_flag.entry[0].resource.id == by_identifier.entry[0].resource.id


def test_clinician_may_not_use_the_patient_flag_api(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    call, _ = api("clinician")
    outcome(flags(call, plan.nhs_number), 403, "ACCESS_DENIED")
    assert not AuditEvent.objects.filter(action=AuditAction.CHILD_VIEWED_SILENTLY).exists()


def test_ended_plan_is_an_inactive_flag_and_a_completed_care_plan(api, local_authority):
    plan = PlanFactory(organisation=local_authority, ended=True)
    call, _ = api("safeguarding_lead")
    bundle = parsed(flags(call, plan.nhs_number), Bundle)
    assert bundle.entry[0].resource.status == "inactive"
    assert bundle.entry[1].resource.status == "completed"
    assert str(bundle.entry[1].resource.period.end) == plan.end_date.isoformat()


def test_no_flag_another_flag_or_a_bad_number(api):
    call, _ = api("safeguarding_lead")
    empty = parsed(flags(call, nhs_number_for(5)), Bundle)
    assert empty.total == 0 and not empty.entry
    other = parsed(flags(call, nhs_number_for(5), code="female-genital-mutilation-flag"), Bundle)
    assert other.total == 0
    outcome(flags(call, "9434765918"), 400, "INVALID_SEARCH_DATA")
    outcome(call("PatientFlag", params={"code": CPIS}), 400, "INVALID_SEARCH_DATA")


def test_flag_resources_read_by_id_for_safeguarding_leads_only(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    lead, _ = api("safeguarding_lead")
    bundle = parsed(flags(lead, plan.nhs_number), Bundle)
    clinician, _ = api("clinician")
    for entry, model in zip(bundle.entry, (Flag, CarePlan, CareTeam), strict=True):
        path = f"{entry.resource.get_resource_type()}/{entry.resource.id}"
        assert parsed(lead(path), model).id == entry.resource.id
        outcome(clinician(path), 403, "ACCESS_DENIED")
    assert not Visit.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.CHILD_VIEWED_SILENTLY).count() == 4
