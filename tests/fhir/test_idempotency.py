"""The client's TraceID as the check's idempotency key (fhir.api._idempotency_key)."""

import json

import pytest

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
