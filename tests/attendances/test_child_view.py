"""The responsible local authority's child view: its social workers only, its own children only."""

import re

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditAction, AuditEvent, AuditOutcome
from tests.factories import OrganisationFactory, PlanFactory, VisitFactory, nhs_number_for

pytestmark = pytest.mark.django_db

FIND = reverse("attendances:child_find")


def _for_plan(plan) -> str:
    return reverse("attendances:child_for_plan", kwargs={"plan_id": plan.pk})


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


@pytest.fixture
def social_worker(role_user, client_for):
    return client_for(role_user(Role.SOCIAL_WORKER))


def test_social_worker_finds_own_child_with_plans_and_visits(social_worker, local_authority, care_setting):
    plan = PlanFactory(organisation=local_authority, given_names="Mia", family_name="Example", la_reference="NS-42")
    VisitFactory(nhs_number=plan.nhs_number, care_setting=care_setting, checked_by_name="Dr Triage")

    response = social_worker.post(FIND, {"nhs_number": plan.nhs_number})

    text = _text(response)
    assert response.status_code == 200
    assert "Mia Example" in text and "NS-42" in text
    assert "Child Protection Plan" in text
    assert "Dr Triage" in text and "Northshire General ED" in text
    event = AuditEvent.objects.get(action=AuditAction.CHILD_VIEWED_BY_LA)
    assert (event.nhs_number, event.outcome, event.detail["plan_ids"]) == (
        plan.nhs_number,
        AuditOutcome.SUCCESS,
        [plan.pk],
    )


def test_social_worker_cannot_find_another_las_child(social_worker, other_local_authority):
    plan = PlanFactory(organisation=other_local_authority, given_names="Secret", family_name="Otherla")
    VisitFactory(nhs_number=plan.nhs_number, checked_by_name="Dr Hidden")

    response = social_worker.post(FIND, {"nhs_number": plan.nhs_number})

    text = _text(response)
    assert response.status_code == 200
    assert 'data-testid="not-found"' in text
    for secret in ("Secret", "Otherla", "Dr Hidden", other_local_authority.name):
        assert secret not in text
    event = AuditEvent.objects.get(action=AuditAction.CHILD_VIEWED_BY_LA)
    assert (event.nhs_number, event.outcome) == (plan.nhs_number, AuditOutcome.FAILURE)


def test_child_known_to_two_las_shows_only_the_viewers_own_plan(social_worker, local_authority, other_local_authority):
    mine = PlanFactory(organisation=local_authority)
    PlanFactory(organisation=other_local_authority, nhs_number=mine.nhs_number, looked_after=True)

    text = _text(social_worker.get(_for_plan(mine)))

    assert "Child Protection Plan" in text
    assert "Looked After Child" not in text
    assert other_local_authority.name not in text


def test_withdrawn_plan_is_not_a_way_in(social_worker, local_authority):
    plan = PlanFactory(organisation=local_authority, withdrawn_in_error=True)
    assert social_worker.get(_for_plan(plan)).status_code == 404
    assert 'data-testid="not-found"' in _text(social_worker.post(FIND, {"nhs_number": plan.nhs_number}))


def test_another_las_plan_id_is_404_and_audited_as_denied(social_worker, other_local_authority):
    plan = PlanFactory(organisation=other_local_authority, given_names="Secret")

    response = social_worker.get(_for_plan(plan))

    assert response.status_code == 404
    assert "Secret" not in _text(response)
    event = AuditEvent.objects.get(action=AuditAction.CHILD_VIEWED_BY_LA)
    assert (event.outcome, event.nhs_number, event.detail) == (
        AuditOutcome.DENIED,
        "",
        {"plan_id": plan.pk, "url_name": "attendances:child_for_plan"},
    )


def test_child_view_shows_at_most_25_visits(social_worker, local_authority):
    plan = PlanFactory(organisation=local_authority)
    VisitFactory.create_batch(30, nhs_number=plan.nhs_number)
    text = _text(social_worker.get(_for_plan(plan)))
    assert text.count("nhsuk-table__row") == 1 + 25


def test_invalid_nhs_number_is_refused_with_the_error_summary(social_worker):
    response = social_worker.post(FIND, {"nhs_number": "1234567890"})
    text = _text(response)
    assert response.status_code == 400
    assert "<title>Error: Find a child – CP-IS</title>" in text
    assert "nhsuk-error-summary" in text and "Enter a valid 10-digit NHS number" in text
    assert not AuditEvent.objects.filter(action=AuditAction.CHILD_VIEWED_BY_LA).exists()


@pytest.mark.parametrize(
    "role", [Role.CLINICIAN, Role.SAFEGUARDING_LEAD, Role.PLAN_MANAGER, Role.ORG_ADMIN, Role.NATIONAL_ADMIN]
)
def test_only_social_workers_see_the_child_view(role_user, client_for, local_authority, role):
    plan = PlanFactory(organisation=local_authority)
    home = local_authority if role in (Role.PLAN_MANAGER, Role.ORG_ADMIN) else None
    client = client_for(role_user(role, home))
    assert client.get(_for_plan(plan)).status_code == 403
    assert client.post(FIND, {"nhs_number": plan.nhs_number}).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.CHILD_VIEWED_BY_LA).exists()


def test_untrained_social_worker_is_stopped_at_the_gate(role_user, client_for, local_authority):
    plan = PlanFactory(organisation=local_authority)
    client = client_for(role_user(Role.SOCIAL_WORKER, trained=False))
    for response in (client.get(_for_plan(plan)), client.post(FIND, {"nhs_number": plan.nhs_number})):
        assert response.status_code == 403
        assert "There is no record of your CP-IS training." in _text(response)
    assert not AuditEvent.objects.filter(action=AuditAction.CHILD_VIEWED_BY_LA).exists()


def test_no_nhs_number_in_any_child_view_url(social_worker, local_authority):
    plan = PlanFactory(organisation=local_authority, nhs_number=nhs_number_for(77))
    assert plan.nhs_number not in _for_plan(plan)
    assert plan.nhs_number not in FIND


def _notification(la, plan):
    from django.utils import timezone

    from notifications.models import Notification

    return Notification.objects.create(
        local_authority=la,
        care_setting=OrganisationFactory(),
        nhs_number=plan.nhs_number,
        family_name=plan.family_name,
        given_names=plan.given_names,
        date_of_birth=plan.date_of_birth,
        plan_types=plan.plan_type,
        first_attended_at=timezone.now(),
        last_attended_at=timezone.now(),
        checked_by_name="Dr Test",
        checked_by_role="clinician",
        # In the inbox, where a social worker opens it from.
        delivered_to_inbox_at=timezone.now(),
    )


def _for_notification(notification) -> str:
    return reverse("attendances:child_for_notification", kwargs={"notification_id": notification.pk})


def test_social_worker_goes_from_a_notification_to_the_child(social_worker, local_authority):
    plan = PlanFactory(organisation=local_authority, given_names="Noah", family_name="Inbox")
    response = social_worker.get(_for_notification(_notification(local_authority, plan)))
    assert response.status_code == 200
    assert "Noah Inbox" in _text(response)
    assert AuditEvent.objects.get(action=AuditAction.CHILD_VIEWED_BY_LA).nhs_number == plan.nhs_number


def test_another_las_notification_is_404_and_audited_as_denied(social_worker, other_local_authority):
    plan = PlanFactory(organisation=other_local_authority, given_names="Secret")
    notification = _notification(other_local_authority, plan)

    response = social_worker.get(_for_notification(notification))

    assert response.status_code == 404
    assert "Secret" not in _text(response)
    event = AuditEvent.objects.get(action=AuditAction.CHILD_VIEWED_BY_LA)
    assert (event.outcome, event.detail) == (
        AuditOutcome.DENIED,
        {"notification_id": notification.pk, "url_name": "attendances:child_for_notification"},
    )


def test_notification_about_a_withdrawn_plan_no_longer_opens_the_child(social_worker, local_authority):
    plan = PlanFactory(organisation=local_authority)
    notification = _notification(local_authority, plan)
    plan.withdrawn = True
    plan.save()
    assert social_worker.get(_for_notification(notification)).status_code == 404


def test_child_view_leads_back_to_the_notification_or_plan_it_was_opened_from(
    social_worker, local_authority, care_setting
):
    from tests.notifications.checks import inbox_notification

    notification = inbox_notification(local_authority, care_setting)
    plan = local_authority.plans.get(nhs_number=notification.nhs_number)

    from_notification = social_worker.get(f"/children/notification/{notification.pk}/").content.decode()
    from_plan = social_worker.get(f"/children/plan/{plan.pk}/").content.decode()

    assert f'href="/inbox/{notification.pk}/"' in from_notification and "Back to the notification" in from_notification
    assert f'href="/plans/{plan.pk}/"' in from_plan and "Back to the plan" in from_plan
