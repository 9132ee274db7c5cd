"""Four eyes (SPEC 1): nobody grants themself a child-data role, records their own training or
resets their own second factor, on the service's pages or in the Django admin."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, Role, TrainingRecord
from accounts.services import membership_grant, training_record
from administration.services import two_factor_reset
from audit.models import AuditAction, AuditEvent, AuditOutcome

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(role_user, care_setting):
    # Untrained: the attack is to become a trained user alone.
    return role_user(Role.ORG_ADMIN, care_setting, trained=False)


def _url(name, user):
    return reverse(f"administration:{name}", kwargs={"user_id": user.pk})


def test_org_admin_cannot_grant_themself_clinician(client_for, admin, care_setting):
    response = client_for(admin).post(_url("role_grant", admin), {"role": Role.CLINICIAN})
    assert response.status_code == 400
    assert "Ask another administrator" in response.content.decode()
    assert not Membership.objects.filter(user=admin, role=Role.CLINICIAN).exists()
    refused = AuditEvent.objects.get(action=AuditAction.ROLE_GRANTED)
    assert refused.outcome == AuditOutcome.DENIED and refused.detail["reason"] == "four_eyes"


def test_org_admin_may_still_make_a_colleague_clinician(client_for, admin, role_user, care_setting):
    colleague = role_user(Role.ORG_ADMIN, care_setting)
    response = client_for(admin).post(_url("role_grant", colleague), {"role": Role.CLINICIAN})
    assert response.status_code == 302
    assert Membership.objects.filter(user=colleague, role=Role.CLINICIAN).exists()


def test_org_admin_cannot_record_their_own_training(client_for, admin):
    day = timezone.localdate() - dt.timedelta(days=1)
    response = client_for(admin).post(
        _url("training_record", admin),
        {"course": "CP-IS e-learning", "completed_on_day": day.day, "completed_on_month": day.month,
         "completed_on_year": day.year},
    )  # fmt: skip
    assert response.status_code == 400
    assert not TrainingRecord.objects.filter(user=admin).exists()
    refused = AuditEvent.objects.get(action=AuditAction.TRAINING_RECORDED)
    assert refused.outcome == AuditOutcome.DENIED and refused.detail["reason"] == "four_eyes"


def test_org_admin_cannot_reset_their_own_two_factor(client_for, admin):
    response = client_for(admin).post(_url("two_factor_reset", admin))
    assert response.status_code == 400
    assert TOTPDevice.objects.filter(user=admin).exists()


def test_services_refuse_self_certification_whoever_calls(admin, care_setting):
    with pytest.raises(ValidationError):
        membership_grant(user=admin, organisation=care_setting, role=Role.CLINICIAN, by=admin)
    with pytest.raises(ValidationError):
        training_record(user=admin, course="x", completed_on=timezone.localdate(), by=admin)
    with pytest.raises(ValidationError):
        two_factor_reset(user=admin, organisation=care_setting, by=admin)
    # An admin role for oneself shows no child data, so it is not a four-eyes matter.
    membership_grant(user=admin, organisation=care_setting, role=Role.ORG_ADMIN, by=admin)
