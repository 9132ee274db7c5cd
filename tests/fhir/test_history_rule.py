"""API history follows the web's rule (issue 12, finding 3): the access history, read as an
unscheduled access, is answered only after the same user, at the same organisation, checked the
same child within the episode window; a silent read stays a safeguarding lead's right."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from fhir.resources.R4B.bundle import Bundle

from accounts.models import Membership, Role
from attendances.models import Visit
from audit.models import AuditAction, AuditEvent
from fhir.services import api_token_issue
from tests.factories import PlanFactory, VisitFactory
from tests.fhir.responses import NHS, outcome, parsed

pytestmark = pytest.mark.django_db


@pytest.fixture
def child(local_authority):
    plan = PlanFactory(organisation=local_authority)
    VisitFactory(nhs_number=plan.nhs_number)
    return plan.nhs_number


def test_clinician_without_a_check_cannot_read_the_history(api, child):
    call, user = api("clinician")
    issue = outcome(call("AuditEvent", child), 403, "ACCESS_DENIED")
    assert issue.details.coding[0].display == "Access has been denied to process this request"
    # The refusal is audited with the child named; nothing was read, and nothing is revealed:
    # the same 403 whether or not the child is on a plan.
    refused = AuditEvent.objects.get(action=AuditAction.FHIR_REQUEST_REFUSED, user=user)
    assert refused.nhs_number == child and refused.outcome == "denied"
    assert not AuditEvent.objects.filter(action=AuditAction.FHIR_ACCESS_HISTORY_READ).exists()
    outcome(call("AuditEvent", "9434765919"), 403, "ACCESS_DENIED")


def test_clinician_reads_the_history_after_checking_through_the_api(api, child):
    call, _ = api("clinician")
    call("CareTeam", child)
    assert parsed(call("AuditEvent", child), Bundle).total == 2


def test_clinician_reads_the_history_after_checking_in_the_browser(api, child, client_for):
    call, user = api("clinician")
    client_for(user).post(reverse("attendances:check"), {"nhs_number": child})
    assert parsed(call("AuditEvent", child), Bundle).total == 2


def test_a_colleagues_check_does_not_open_the_history(api, child):
    colleague, _ = api("clinician")
    colleague("CareTeam", child)
    call, _ = api("clinician")
    outcome(call("AuditEvent", child), 403, "ACCESS_DENIED")


def test_a_check_at_another_organisation_does_not_open_the_history(api, child, other_care_setting, client):
    call, user = api("clinician")
    call("CareTeam", child)
    Membership.objects.create(user=user, organisation=other_care_setting, role=Role.CLINICIAN)
    _, raw = api_token_issue(user=user, organisation=other_care_setting, name="Other EPR", valid_days=30)
    response = client.get(
        "/fhir/R4/AuditEvent", {"patient:identifier": f"{NHS}|{child}"}, HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    outcome(response, 403, "ACCESS_DENIED")


def test_a_check_older_than_the_episode_window_does_not_open_the_history(api, child, settings):
    call, _ = api("clinician")
    with time_machine.travel(dt.datetime.now(tz=dt.UTC) - dt.timedelta(hours=settings.NOTIFICATION_EPISODE_HOURS + 1)):
        call("CareTeam", child)
    outcome(call("AuditEvent", child), 403, "ACCESS_DENIED")


def test_reading_an_audit_event_by_id_follows_the_same_rule(api, child):
    checker, _ = api("clinician")
    checker("CareTeam", child)
    event_id = parsed(checker("AuditEvent", child), Bundle).entry[0].resource.id
    assert checker(f"AuditEvent/{event_id}").status_code == 200
    other, _ = api("clinician")
    outcome(other(f"AuditEvent/{event_id}"), 403, "ACCESS_DENIED")


def test_safeguarding_lead_reads_silently_without_a_check(api, child):
    call, _ = api("safeguarding_lead")
    bundle = parsed(call("AuditEvent", child, IsUnscheduledAccessEvent="false"), Bundle)
    assert bundle.total == 1
    assert not Visit.objects.exclude(nhs_number=child).exists()
    # As an unscheduled access, the rule applies to safeguarding leads too.
    outcome(call("AuditEvent", child), 403, "ACCESS_DENIED")


def test_clinician_cannot_read_silently(api, child):
    call, _ = api("clinician")
    outcome(call("AuditEvent", child, IsUnscheduledAccessEvent="false"), 403, "ACCESS_DENIED")
