"""The FHIR R4 API, every response parsed by an independent FHIR library (fhir.resources, R4B)."""

import datetime as dt

import pytest
from django.utils import timezone
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.practitionerrole import PractitionerRole

from accounts.models import Membership, TrainingRecord
from accounts.services import user_deactivate
from attendances.models import Visit
from audit.models import AuditAction, AuditEvent
from fhir.models import ApiToken
from fhir.services import api_token_revoke
from notifications.models import Notification
from tests.factories import PlanFactory, VisitFactory, nhs_number_for
from tests.fhir.responses import NHS, outcome, parsed

pytestmark = pytest.mark.django_db

INCLUDE = "AuditEvent:entity-type=http://terminology.hl7.org/CodeSystem/v3-RoleClass|ASSIGNED"


def test_child_on_a_cpp_returns_a_care_team_and_records_the_check(api, local_authority, care_setting):
    plan = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(1), end_date=None)
    call, user = api("clinician")
    response = call("CareTeam", plan.nhs_number, TraceID="6ede3b9d-a81b-4c75-9d77-e1d64d85c323")
    assert response.status_code == 200
    assert response["TraceID"] == "6ede3b9d-a81b-4c75-9d77-e1d64d85c323"
    bundle = parsed(response, Bundle)
    assert bundle.type == "searchset" and bundle.total == 1
    entry = bundle.entry[0]
    assert entry.search.mode == "match"
    team = CareTeam.model_validate(entry.resource.model_dump())
    coding = team.category[0].coding[0]
    assert (coding.system, coding.code, coding.display) == (
        "http://snomed.info/sct",
        "342191000000101",
        "Subject to child protection plan",
    )
    assert team.name == local_authority.name
    assert team.subject.identifier.system == NHS and team.subject.identifier.value == plan.nhs_number
    assert team.subject.display == f"{plan.given_names} {plan.family_name}"
    assert str(team.period.start) == plan.start_date.isoformat() and team.period.end is None
    assert {(t.use, t.value) for t in team.telecom} == {
        ("work", local_authority.office_hours_phone),
        ("mobile", local_authority.emergency_duty_phone),
    }
    visit = Visit.objects.get(nhs_number=plan.nhs_number)
    assert visit.care_setting == care_setting and visit.checked_by == user
    assert Notification.objects.filter(nhs_number=plan.nhs_number, local_authority=local_authority).count() == 1
    event = AuditEvent.objects.get(nhs_number=plan.nhs_number, action=AuditAction.CHILD_CHECKED)
    assert event.trace_id == "6ede3b9d-a81b-4c75-9d77-e1d64d85c323" and event.user == user


def test_ended_and_unborn_plans_are_shaped_like_the_national_examples(api, local_authority):
    ended = PlanFactory(organisation=local_authority, ended=True, looked_after=True)
    unborn = PlanFactory(organisation=local_authority, unborn=True)
    call, _ = api()
    team = CareTeam.model_validate(parsed(call("CareTeam", ended.nhs_number), Bundle).entry[0].resource.model_dump())
    assert team.status == "inactive" and str(team.period.end) == ended.end_date.isoformat()
    assert team.category[0].coding[0].code == "764841000000100"
    team = CareTeam.model_validate(parsed(call("CareTeam", unborn.nhs_number), Bundle).entry[0].resource.model_dump())
    assert team.category[0].coding[0].code == "818901000000100"


def test_child_with_no_record_gets_an_empty_bundle_and_no_visit(api):
    call, _ = api()
    response = call("CareTeam", nhs_number_for(77))
    bundle = parsed(response, Bundle)
    assert response.status_code == 200 and bundle.total == 0 and not bundle.entry
    assert not Visit.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, nhs_number=nhs_number_for(77)).exists()


@pytest.mark.parametrize("value", ["9434765918", "123", "94347659191", "abc", "", "9434765919' OR '1'='1"])
def test_invalid_nhs_number_is_refused(api, value):
    call, _ = api()
    issue = outcome(call("CareTeam", value), 400, "INVALID_SEARCH_DATA")
    assert issue.code == "invalid" and issue.diagnostics == "Invalid NHS number"
    assert not Visit.objects.exists()


def test_wrong_identifier_system_or_missing_parameter_is_refused(api):
    call, _ = api()
    outcome(
        call("CareTeam", params={"patient:identifier": "https://example.org/id|9434765919"}), 400, "INVALID_SEARCH_DATA"
    )
    outcome(call("CareTeam"), 400, "INVALID_SEARCH_DATA")


@pytest.mark.parametrize("value", ["yes", "1", "", "TRUE; DROP"])
def test_malformed_unscheduled_header_is_a_failed_precondition(api, local_authority, value):
    plan = PlanFactory(organisation=local_authority)
    call, _ = api()
    issue = outcome(call("CareTeam", plan.nhs_number, IsUnscheduledAccessEvent=value), 400, "PRECONDITION_FAILED")
    assert issue.code == "invalid"
    assert not Visit.objects.exists()


def test_absent_unscheduled_header_means_true(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    call, _ = api()
    assert call("CareTeam", plan.nhs_number).status_code == 200
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 1


def test_silent_read_by_a_clinician_is_forbidden(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    call, _ = api("clinician")
    issue = outcome(call("CareTeam", plan.nhs_number, IsUnscheduledAccessEvent="false"), 403, "ACCESS_DENIED")
    assert issue.code == "forbidden"
    assert not Visit.objects.exists() and not Notification.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.FHIR_REQUEST_REFUSED, outcome="denied").exists()


def test_silent_read_by_a_safeguarding_lead_records_no_visit(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    call, _ = api("safeguarding_lead")
    bundle = parsed(call("CareTeam", plan.nhs_number, IsUnscheduledAccessEvent="false"), Bundle)
    assert bundle.total == 1
    assert not Visit.objects.exists() and not Notification.objects.exists()
    assert AuditEvent.objects.filter(nhs_number=plan.nhs_number).exists()


def test_missing_malformed_or_revoked_token_is_unauthorised(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    call, user = api()
    outcome(call("CareTeam", plan.nhs_number, token=None), 401, "ACCESS_DENIED")
    outcome(call("CareTeam", plan.nhs_number, token="cpis_not-a-real-token"), 401, "ACCESS_DENIED")
    api_token_revoke(token=ApiToken.objects.get(user=user))
    outcome(call("CareTeam", plan.nhs_number), 401, "ACCESS_DENIED")
    assert not Visit.objects.exists()


def test_expired_token_is_unauthorised(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    call, user = api()
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    outcome(call("CareTeam", plan.nhs_number), 401, "ACCESS_DENIED")


def _training_expires(user, day) -> None:
    for record in TrainingRecord.objects.filter(user=user):
        record.completed_on = min(record.completed_on, day - dt.timedelta(days=1))
        record.expires_on = day
        record.save()


def test_token_stops_when_its_owner_is_deactivated_loses_the_role_or_training(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    call, user = api()
    assert call("CareTeam", plan.nhs_number).status_code == 200
    # Saved, as the service writes them: a QuerySet's update() would not bump the owner's
    # signed-in version (accounts/signed_in.py), and the application makes none on these rows.
    _training_expires(user, timezone.localdate() - dt.timedelta(days=1))
    outcome(call("CareTeam", plan.nhs_number), 403, "ACCESS_DENIED")
    _training_expires(user, timezone.localdate() + dt.timedelta(days=100))
    assert call("CareTeam", plan.nhs_number).status_code == 200
    Membership.objects.filter(user=user).delete()
    outcome(call("CareTeam", plan.nhs_number), 403, "ACCESS_DENIED")

    call2, user2 = api()
    user_deactivate(user=user2, by=None)
    outcome(call2("CareTeam", plan.nhs_number), 401, "ACCESS_DENIED")


def test_the_api_refuses_in_the_web_gate_s_words_and_counts_a_passkey_as_the_second_factor(api, local_authority, rf):
    from accounts.access import TWO_FACTOR_NOT_SET_UP, trained_user_gate
    from tests.accounts.test_passkeys import make_passkey

    plan = PlanFactory(organisation=local_authority)
    call, user = api()
    expired = timezone.localdate() - dt.timedelta(days=1)
    TrainingRecord.objects.filter(user=user).update(expires_on=expired)
    request = rf.get("/")
    request.user, request.user.is_verified = user, lambda: True
    (web_reason,) = trained_user_gate(request).missing
    refused = call("CareTeam", plan.nhs_number)
    outcome(refused, 403, "ACCESS_DENIED")
    assert web_reason in refused.content.decode()

    TrainingRecord.objects.filter(user=user).update(expires_on=timezone.localdate() + dt.timedelta(days=100))
    user.totpdevice_set.all().delete()
    refused = call("CareTeam", plan.nhs_number)
    outcome(refused, 403, "ACCESS_DENIED")
    assert TWO_FACTOR_NOT_SET_UP in refused.content.decode()
    make_passkey(user)
    assert call("CareTeam", plan.nhs_number).status_code == 200


def test_rate_limit_per_token(api, local_authority, settings):
    settings.FHIR_RATE_LIMIT_PER_MINUTE = 3
    call, _ = api()
    responses = [call("CareTeam", nhs_number_for(5)) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    # Told when to come back: at most the rest of the minute.
    outcome(responses[3], 429, "TOO_MANY_REQUESTS")
    assert 1 <= int(responses[3]["Retry-After"]) <= 60
    # Another token has its own allowance.
    other, _ = api()
    assert other("CareTeam", nhs_number_for(5)).status_code == 200


def test_access_history_after_several_checks(api, local_authority, care_setting, other_care_setting):
    plan = PlanFactory(organisation=local_authority)
    base = timezone.now() - dt.timedelta(days=40)
    for n in range(30):
        VisitFactory(
            nhs_number=plan.nhs_number, care_setting=other_care_setting, arrived_at=base + dt.timedelta(days=n)
        )
    call, user = api()
    call("CareTeam", plan.nhs_number)
    response = call("AuditEvent", plan.nhs_number, params={"_include": INCLUDE}, TraceID="trace-1")
    bundle = parsed(response, Bundle)
    assert bundle.total == 25
    matches = [e for e in bundle.entry if e.search.mode == "match"]
    includes = [e for e in bundle.entry if e.search.mode == "include"]
    assert len(matches) == 25 and len(includes) == 25
    events = [FhirAuditEvent.model_validate(e.resource.model_dump()) for e in matches]
    recorded = [e.recorded for e in events]
    assert recorded == sorted(recorded, reverse=True)
    newest = events[0]
    roles = {a.type.coding[0].code: a for a in newest.agent}
    assert roles["PAT"].who.identifier.value == plan.nhs_number
    practitioners = {f"PractitionerRole/{e.resource.id}": e.resource for e in includes}
    practitioner = PractitionerRole.model_validate(practitioners[roles["ASSIGNED"].who.reference].model_dump())
    assert newest.source.observer.reference == roles["ASSIGNED"].who.reference
    assert practitioner.id != newest.id
    assert practitioner.practitioner.display == user.full_name
    assert practitioner.organization.display == f"{care_setting.name} ({care_setting.ods_code})"
    assert practitioner.code[0].text == "Clinician"
    # Reading the history is audited and records no visit of its own.
    assert Visit.objects.filter(nhs_number=plan.nhs_number, checked_by=user).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.FHIR_ACCESS_HISTORY_READ, trace_id="trace-1").exists()


def test_access_history_without_include_still_includes_the_practitioner_roles(api, local_authority):
    # The national example answers the plain search with them; an EPR written to it asks for none.
    plan = PlanFactory(organisation=local_authority)
    VisitFactory(nhs_number=plan.nhs_number)
    call, _ = api()
    call("CareTeam", plan.nhs_number)
    bundle = parsed(call("AuditEvent", plan.nhs_number), Bundle)
    assert bundle.total == 2 and [e.search.mode for e in bundle.entry] == ["match", "match", "include", "include"]
    assert "_include" not in bundle.link[0].url


@pytest.mark.parametrize("include", ["PractitionerRole", "AuditEvent:agent", INCLUDE])
def test_the_national_and_r4_includes_are_accepted_under_strict_handling(api, local_authority, include):
    # "PractitionerRole" is the national CapabilityStatement's searchInclude, taken literally.
    plan = PlanFactory(organisation=local_authority)
    call, _ = api()
    call("CareTeam", plan.nhs_number)
    response = call("AuditEvent", plan.nhs_number, params={"_include": include}, Prefer="handling=strict")
    bundle = parsed(response, Bundle)
    assert [e.search.mode for e in bundle.entry] == ["match", "include"]
    assert bundle.entry[1].resource.get_resource_type() == "PractitionerRole"


def test_access_history_of_a_child_without_a_visible_plan_is_empty(api, local_authority):
    plan = PlanFactory(organisation=local_authority, withdrawn_in_error=True)
    VisitFactory(nhs_number=plan.nhs_number)
    call, _ = api()
    call("CareTeam", plan.nhs_number)
    assert parsed(call("AuditEvent", plan.nhs_number), Bundle).total == 0


def test_unsupported_include_is_ignored_unless_strict(api, local_authority):
    plan = PlanFactory(organisation=local_authority)
    call, _ = api()
    call("CareTeam", plan.nhs_number)
    params = {"_include": "AuditEvent:entity"}
    bundle = parsed(call("AuditEvent", plan.nhs_number, params=params), Bundle)
    assert [e.search.mode for e in bundle.entry] == ["match", "include"]
    assert "_include" not in bundle.link[0].url
    outcome(call("AuditEvent", plan.nhs_number, params=params, Prefer="handling=strict"), 400, "INVALID_PARAMETER")


def test_metadata_is_a_capability_statement(client):
    response = client.get("/fhir/R4/metadata")
    statement = parsed(response, CapabilityStatement)
    assert statement.fhirVersion == "4.0.1"
    assert {r.type for r in statement.rest[0].resource} == {
        "CareTeam",
        "AuditEvent",
        "PractitionerRole",
        "Flag",
        "CarePlan",
    }


def test_unknown_resource_is_404_and_other_methods_405(api):
    call, _ = api()
    outcome(call("Patient", nhs_number_for(3)), 404, "NO_RECORD_FOUND")
    response = call("CareTeam", nhs_number_for(3), method="post")
    outcome(response, 405, "METHOD_NOT_ALLOWED")
    assert response["Allow"] == "GET"
    outcome(call("CareTeam", nhs_number_for(3), method="delete"), 405, "METHOD_NOT_ALLOWED")


def test_malformed_trace_id_is_refused(api):
    call, _ = api()
    outcome(call("CareTeam", nhs_number_for(3), TraceID="x" * 201), 400, "PRECONDITION_FAILED")


def test_api_and_browser_checks_leave_the_same_records(api, local_authority, role_user, client_for, care_setting):
    """One shared service: the same audit, visit and notification whichever way the check came."""
    from django.urls import reverse

    web_plan = PlanFactory(organisation=local_authority)
    api_plan = PlanFactory(organisation=local_authority)
    call, api_user = api("clinician")
    call("CareTeam", api_plan.nhs_number)
    web_user = role_user("clinician", care_setting)
    client_for(web_user).post(reverse("attendances:check"), {"nhs_number": web_plan.nhs_number})

    def shape(nhs_number, user):
        visit = Visit.objects.get(nhs_number=nhs_number)
        notification = Notification.objects.get(nhs_number=nhs_number)
        event = AuditEvent.objects.get(nhs_number=nhs_number, action=AuditAction.CHILD_CHECKED)
        return (
            (visit.care_setting_id, visit.checked_by_id == user.pk, visit.checked_by_role),
            (notification.local_authority_id, notification.care_setting_id, notification.attendance_count),
            (event.organisation_id, event.roles, event.outcome, event.user_id == user.pk),
        )

    assert shape(api_plan.nhs_number, api_user) == shape(web_plan.nhs_number, web_user)


@pytest.mark.parametrize("roles", [("clinician",), ("safeguarding_lead",), ("clinician", "safeguarding_lead")])
def test_web_and_api_record_a_check_under_the_same_role(api, client_for, care_setting, roles):
    """One rule (attendances.services.checking_role) for both doors, dual-role users included."""
    import uuid

    call, user = api(roles[0])
    for role in roles[1:]:
        Membership.objects.create(user=user, organisation=care_setting, role=role)
    web_child, api_child = PlanFactory(), PlanFactory()

    response = client_for(user).post("/check/", {"nhs_number": web_child.nhs_number, "check_token": str(uuid.uuid4())})
    assert response.status_code == 200
    assert call("CareTeam", api_child.nhs_number, params={"IsUnscheduledAccessEvent": "true"}).status_code == 200

    web_visit = Visit.objects.get(nhs_number=web_child.nhs_number)
    api_visit = Visit.objects.get(nhs_number=api_child.nhs_number)
    expected = "safeguarding_lead" if "safeguarding_lead" in roles else "clinician"
    assert web_visit.checked_by_role == api_visit.checked_by_role == expected
