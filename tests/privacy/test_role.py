"""The privacy officer role (issue 29): appointed by the org admin with four eyes, and gated
like every child-data role (trained, second factor)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.access import needs_gate
from accounts.models import Membership, Role
from accounts.services import membership_grant
from audit.models import AuditAction, AuditEvent, AuditOutcome

pytestmark = pytest.mark.django_db


def _grant_url(user):
    return reverse("administration:role_grant", kwargs={"user_id": user.pk})


@pytest.mark.parametrize("organisation", ["care_setting", "local_authority"])
def test_org_admin_appoints_a_colleague_privacy_officer(request, client_for, role_user, organisation):
    place = request.getfixturevalue(organisation)
    admin = role_user(Role.ORG_ADMIN, place)
    colleague = role_user(Role.ORG_ADMIN, place)
    response = client_for(admin).post(_grant_url(colleague), {"role": Role.PRIVACY_OFFICER})
    assert response.status_code == 302
    assert Membership.objects.filter(user=colleague, organisation=place, role=Role.PRIVACY_OFFICER).exists()


def test_org_admin_cannot_appoint_themself_privacy_officer(client_for, role_user, care_setting):
    admin = role_user(Role.ORG_ADMIN, care_setting, trained=False)
    response = client_for(admin).post(_grant_url(admin), {"role": Role.PRIVACY_OFFICER})
    assert response.status_code == 400
    assert "Ask another administrator" in response.content.decode()
    assert not Membership.objects.filter(user=admin, role=Role.PRIVACY_OFFICER).exists()
    refused = AuditEvent.objects.get(action=AuditAction.ROLE_GRANTED)
    assert refused.outcome == AuditOutcome.DENIED and refused.detail["reason"] == "four_eyes"
    with pytest.raises(ValidationError):
        membership_grant(user=admin, organisation=care_setting, role=Role.PRIVACY_OFFICER, by=admin)


def test_privacy_officer_is_behind_the_trained_user_gate():
    assert needs_gate(frozenset({Role.PRIVACY_OFFICER}))


def test_no_privacy_officer_at_the_national_organisation(national, role_user):
    admin = role_user(Role.ORG_ADMIN, national)
    colleague = role_user(Role.ORG_ADMIN, national)
    with pytest.raises(ValidationError):
        membership_grant(user=colleague, organisation=national, role=Role.PRIVACY_OFFICER, by=admin)
