"""The client's TraceID as the check's idempotency key (fhir.api.checks.idempotency_key)."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from attendances.models import Visit
from audit.models import AuditAction, AuditEvent
from notifications.models import Notification
from tests.factories import PlanFactory, nhs_number_for

pytestmark = pytest.mark.django_db


def test_a_retried_check_with_the_same_trace_id_records_one_visit(api, local_authority, care_setting):
    """A client whose connection died after the check committed retries with the same TraceID:
    the retry answers the same, is audited, and records no second visit or notification."""
    plan = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(41), end_date=None)
    call, _ = api("clinician")
    first = call("CareTeam", plan.nhs_number, TraceID="retry-me-1")
    retry = call("CareTeam", plan.nhs_number, TraceID="retry-me-1")
    assert first.status_code == retry.status_code == 200
    assert json.loads(first.content)["total"] == json.loads(retry.content)["total"] == 1
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 1
    assert Notification.objects.get(nhs_number=plan.nhs_number).attendance_count == 1
    audited = AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, trace_id="retry-me-1").order_by("id")
    assert [e.detail["repeated_form"] for e in audited] == [False, True]

    # A new TraceID is a new attendance; no TraceID at all, too (one is generated each time).
    call("CareTeam", plan.nhs_number, TraceID="retry-me-2")
    call("CareTeam", plan.nhs_number)
    call("CareTeam", plan.nhs_number)
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 4


def test_a_trace_id_is_an_idempotency_key_only_for_its_own_caller_and_child(api, local_authority, care_setting):
    first_child = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(42), end_date=None)
    second_child = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(43), end_date=None)
    call, _ = api("clinician")
    other_call, _ = api("clinician")
    call("CareTeam", first_child.nhs_number, TraceID="shared-trace")
    call("CareTeam", second_child.nhs_number, TraceID="shared-trace")
    other_call("CareTeam", first_child.nhs_number, TraceID="shared-trace")
    assert Visit.objects.filter(nhs_number=first_child.nhs_number).count() == 2
    assert Visit.objects.filter(nhs_number=second_child.nhs_number).count() == 1


def _care_team_id(response) -> str:
    return json.loads(response.content)["entry"][0]["resource"]["id"]


@pytest.mark.parametrize("read_trace", ["same", "new", None])
def test_a_read_by_id_inside_the_checks_episode_records_no_second_visit(api, local_authority, read_trace):
    """Search, then read the CareTeam it returned (issue 24 item 10): one attendance, one visit,
    one notification, with the search's TraceID, a new one per request, or none."""
    plan = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(44), end_date=None)
    call, user = api("clinician")
    team_id = _care_team_id(call("CareTeam", plan.nhs_number, TraceID="attendance-1"))
    headers = {"same": {"TraceID": "attendance-1"}, "new": {"TraceID": "request-2"}, None: {}}[read_trace]
    for _ in range(2):
        assert call(f"CareTeam/{team_id}", **headers).status_code == 200
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 1
    notification = Notification.objects.get(nhs_number=plan.nhs_number)
    assert notification.attendance_count == 1
    # Each read is still audited, as the check it belongs to, marked a repeat.
    checks = AuditEvent.objects.filter(action=AuditAction.CHILD_CHECKED, user=user).order_by("id")
    assert [e.detail["repeated_form"] for e in checks] == [False, True, True]
    assert len({e.detail["visit_id"] for e in checks}) == 1


def test_a_read_by_id_after_the_episode_or_by_someone_else_is_a_check_of_its_own(api, local_authority, settings):
    plan = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(45), end_date=None)
    call, _ = api("clinician")
    team_id = _care_team_id(call("CareTeam", plan.nhs_number, TraceID="attendance-1"))
    # Another clinician at the same setting reading it: their own check.
    other, _ = api("clinician")
    assert other(f"CareTeam/{team_id}").status_code == 200
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 2
    # The first clinician, past the window and with another TraceID: a new attendance.
    Visit.objects.filter(nhs_number=plan.nhs_number).update(
        recorded_at=timezone.now() - timedelta(minutes=settings.FHIR_READ_EPISODE_MINUTES + 1)
    )
    assert call(f"CareTeam/{team_id}", TraceID="attendance-2").status_code == 200
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 3
    # ... but with the search's own TraceID, the same day, still that check.
    assert call(f"CareTeam/{team_id}", TraceID="attendance-1").status_code == 200
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 3


def test_a_trace_id_reused_after_the_episode_the_same_day_is_a_new_check(api, local_authority, settings):
    settings.NOTIFICATION_EPISODE_HOURS = 1
    plan = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(46), end_date=None)
    call, _ = api("clinician")
    assert call("CareTeam", plan.nhs_number, TraceID="reused").status_code == 200
    Visit.objects.filter(nhs_number=plan.nhs_number).update(recorded_at=timezone.now() - timedelta(hours=2))
    # Not a retry of a check in progress: answered, and recorded as the new attendance it is.
    assert call("CareTeam", plan.nhs_number, TraceID="reused").status_code == 200
    assert Visit.objects.filter(nhs_number=plan.nhs_number).count() == 2
