"""Every refusal is audited (issue 12 finding 5): a 403 or 404 from an access helper or a role
check records a denied event with the URL name and the object id requested. The URL permission
matrix (tests/test_url_permissions.py) checks the same for every URL and persona."""

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditAction, AuditEvent, AuditOutcome
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db


def test_another_las_plan_is_a_404_and_recorded_with_its_id(client_for, role_user, other_local_authority):
    manager = role_user(Role.PLAN_MANAGER)
    theirs = PlanFactory(organisation=other_local_authority)
    response = client_for(manager).get(reverse("plans:detail", kwargs={"plan_id": theirs.pk}))
    assert response.status_code == 404
    refused = AuditEvent.objects.get(action=AuditAction.ACCESS_REFUSED)
    assert refused.user == manager and refused.outcome == AuditOutcome.DENIED
    assert refused.detail == {"url_name": "plans:detail", "plan_id": theirs.pk, "status": 404, "method": "GET"}
    assert refused.nhs_number == ""  # the refusal says which id was tried, never whose it is


def test_wrong_role_is_a_403_and_recorded(client_for, role_user):
    clinician = role_user(Role.CLINICIAN)
    assert client_for(clinician).get(reverse("plans:list")).status_code == 403
    refused = AuditEvent.objects.get(action=AuditAction.ACCESS_REFUSED)
    assert refused.user == clinician and refused.detail["url_name"] == "plans:list"


def test_a_refusal_the_view_audits_itself_is_recorded_once(client_for, role_user, local_authority):
    worker = role_user(Role.SOCIAL_WORKER)
    plan = PlanFactory(organisation=PlanFactory().organisation)
    client_for(worker).get(reverse("attendances:child_for_plan", kwargs={"plan_id": plan.pk}))
    refused = AuditEvent.objects.filter(user=worker, outcome=AuditOutcome.DENIED)
    assert refused.count() == 1
    assert refused.get().detail["url_name"] == "attendances:child_for_plan"
    assert refused.get().detail["plan_id"] == plan.pk
