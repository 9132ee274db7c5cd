"""The trained-user gate and role checks, through a view that shows child data."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.access import current_organisation_load, trained_user_gate
from accounts.models import Membership, Role, TrainingRecord
from accounts.requests import CpisRequest
from audit.models import AuditAction, AuditEvent, AuditOutcome
from audit.services import audit_record
from tests.factories import OrganisationFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.accounts.gate_urls")]


CHILD_DATA = "/test/child-data/"
ADMIN_ONLY = "/test/admin/"


def test_trained_clinician_passes(role_user, client_for):
    response = client_for(role_user("clinician")).get(CHILD_DATA)
    assert response.status_code == 200 and response.content == b"child data"


def test_untrained_clinician_sees_what_is_missing_and_who_to_ask(role_user, client_for, care_setting):
    admin = role_user("org_admin", care_setting)
    response = client_for(role_user("clinician", trained=False)).get(CHILD_DATA)
    page = response.content.decode()
    assert response.status_code == 403
    assert "There is no record of your CP-IS training." in page
    assert admin.full_name in page and admin.email in page


def test_expired_training_blocks_at_once(role_user, client_for):
    user = role_user("clinician")
    TrainingRecord.objects.filter(user=user).update(expires_on=timezone.localdate() - dt.timedelta(days=1))
    response = client_for(user).get(CHILD_DATA)
    assert response.status_code == 403
    assert (
        f"Your CP-IS training expired on {(timezone.localdate() - dt.timedelta(days=1)):%-d %B %Y}"
        in response.content.decode()
    )


def test_training_expiring_today_still_counts(role_user, client_for):
    user = role_user("clinician")
    TrainingRecord.objects.filter(user=user).update(expires_on=timezone.localdate())
    assert client_for(user).get(CHILD_DATA).status_code == 200


def test_session_without_second_factor_is_stopped(role_user, client_for):
    response = client_for(role_user("clinician"), verified=False).get(CHILD_DATA)
    assert response.status_code == 403
    assert "You have not used two-factor authentication at this sign-in." in response.content.decode()


def test_wrong_role_is_refused(role_user, client_for):
    response = client_for(role_user("social_worker")).get(CHILD_DATA)
    assert response.status_code == 403
    assert "You do not have permission to see this page" in response.content.decode()


def test_admin_role_alone_needs_no_training(role_user, client_for):
    assert client_for(role_user("org_admin", trained=False)).get(ADMIN_ONLY).status_code == 200


def test_roles_at_another_organisation_do_not_count(client_for, care_setting):
    user = UserFactory(trained=True, enrolled=True)
    Membership.objects.create(user=user, organisation=care_setting, role=Role.ORG_ADMIN)
    Membership.objects.create(user=user, organisation=OrganisationFactory(), role=Role.CLINICIAN)
    client = client_for(user)
    session = client.session
    session["organisation_id"] = care_setting.pk
    session.save()
    assert client.get(CHILD_DATA).status_code == 403


def test_gate_result_lists_every_missing_item(rf, role_user):
    user = role_user("clinician", trained=False)
    user.is_active = False
    request = rf.get("/")
    request.user = user
    user.is_verified = lambda: False
    assert trained_user_gate(request).missing == [
        "Your account is not active.",
        "You have not used two-factor authentication at this sign-in.",
        "There is no record of your CP-IS training.",
    ]


def test_home_shows_the_gate_warning_to_an_untrained_clinician(role_user, client_for):
    page = client_for(role_user("clinician", trained=False)).get(reverse("accounts:home")).content.decode()
    assert "You cannot see child protection information yet" in page


def test_user_with_several_organisations_chooses_one(client_for, care_setting, other_care_setting):
    user = UserFactory(trained=True, enrolled=True)
    Membership.objects.create(user=user, organisation=care_setting, role=Role.CLINICIAN)
    Membership.objects.create(user=user, organisation=other_care_setting, role=Role.SAFEGUARDING_LEAD)
    client = client_for(user)
    assert client.get(reverse("accounts:home")).url == reverse("accounts:organisation_select")
    response = client.post(reverse("accounts:organisation_select"), {"organisation": other_care_setting.pk})
    assert response.status_code == 302
    home = client.get(reverse("accounts:home")).content.decode()
    assert other_care_setting.name in home and "safeguarding lead" in home
    event = AuditEvent.objects.get(action=AuditAction.ORGANISATION_SWITCHED)
    assert event.organisation == other_care_setting and event.user == user


def test_user_cannot_switch_to_an_organisation_they_do_not_belong_to(client_for, care_setting):
    user = UserFactory(trained=True, enrolled=True)
    Membership.objects.create(user=user, organisation=care_setting, role=Role.CLINICIAN)
    stranger = OrganisationFactory()
    response = client_for(user).post(reverse("accounts:organisation_select"), {"organisation": stranger.pk})
    assert response.status_code == 400
    assert "Select one of your organisations" in response.content.decode()


def test_gate_refusal_is_audited(role_user, client_for):
    user = role_user("clinician", trained=False)
    client_for(user).get(CHILD_DATA)
    event = AuditEvent.objects.get(action=AuditAction.GATE_REFUSED)
    assert event.user == user and event.outcome == "denied"
    assert event.detail["missing"] == ["There is no record of your CP-IS training."]


def test_django_admin_cannot_remove_the_last_org_admin(role_user, care_setting):
    from django.core.exceptions import ValidationError

    from accounts.services import membership_is_last_admin, membership_revoke

    admin = role_user("org_admin", care_setting)
    only = Membership.objects.get(user=admin)
    assert membership_is_last_admin(only)
    with pytest.raises(ValidationError, match="last administrator"):
        membership_revoke(membership=only, by=None)
    assert Membership.objects.filter(pk=only.pk).exists()
    # With a second active admin, the first may go.
    role_user("org_admin", care_setting)
    assert not membership_is_last_admin(only)
    membership_revoke(membership=only, by=None)
    assert not Membership.objects.filter(pk=only.pk).exists()


def test_the_typed_request_names_what_the_middleware_and_the_audit_set(rf, role_user):
    """accounts/requests.py tells mypy what a request carries; this holds it to what is set."""
    user = role_user("clinician")
    request = rf.get("/")
    request.user = user
    request.session = {}
    current_organisation_load(request)
    audit_record(action=AuditAction.ACCESS_REFUSED, request=request, outcome=AuditOutcome.DENIED)

    declared = set(CpisRequest.__annotations__)
    assert declared == {"user", "organisation", "roles", "user_organisations", "user_trained", "refusal_audited"}
    assert declared <= set(vars(request))
    membership = Membership.objects.get(user=user)
    assert request.organisation == membership.organisation
    assert request.roles == frozenset({Role.CLINICIAN})
    assert request.user_organisations == [membership.organisation]
    assert request.user_trained is True
    assert request.refusal_audited is True
