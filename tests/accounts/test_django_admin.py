"""The Django admin is break-glass (ADR-007): superusers with 2FA only, every use audited, and the
four-eyes rule holds there as on the service's pages."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, Role, TrainingRecord, User
from audit.models import AuditAction, AuditEvent, AuditOutcome
from tests.accounts.test_login import current_code
from tests.conftest import signed_in
from tests.factories import TEST_PASSWORD, UserFactory, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db):
    return UserFactory(is_staff=True, is_superuser=True, trained=False, enrolled=True)


def test_staff_without_superuser_is_not_let_in(db):
    staff = UserFactory(is_staff=True, enrolled=True)
    response = signed_in(Client(), staff).get(reverse("admin:index"))
    assert response.status_code == 302 and reverse("admin:login") in response.url
    refused = AuditEvent.objects.get(action=AuditAction.DJANGO_ADMIN_USED)
    assert refused.user == staff and refused.outcome == AuditOutcome.DENIED


def test_superuser_without_second_factor_is_not_let_in(operator):
    response = signed_in(Client(), operator, verified=False).get(reverse("admin:index"))
    assert response.status_code == 302


def test_admin_sign_in_is_audited(operator):
    client = Client()
    response = client.post(
        reverse("admin:login"),
        {"username": operator.email, "password": TEST_PASSWORD, "otp_token": current_code(),
         "otp_device": TOTPDevice.objects.get(user=operator).persistent_id},
    )  # fmt: skip
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.DJANGO_ADMIN_LOGIN, user=operator).exists()
    client.post(reverse("admin:login"), {"username": operator.email, "password": "wrong-password"})
    assert AuditEvent.objects.filter(action=AuditAction.DJANGO_ADMIN_LOGIN, outcome=AuditOutcome.FAILURE).exists()


def test_every_admin_page_and_change_is_audited(operator, care_setting):
    client = signed_in(Client(), operator)
    clinician = user_with_role(Role.CLINICIAN, care_setting, trained=False)
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 200
    response = client.post(
        reverse("admin:accounts_trainingrecord_add"),
        {"user": clinician.pk, "course": "CP-IS e-learning", "completed_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 302
    assert TrainingRecord.objects.filter(user=clinician).exists()
    used = AuditEvent.objects.filter(action=AuditAction.DJANGO_ADMIN_USED, user=operator)
    assert {e.detail["url_name"] for e in used} >= {"accounts_user_changelist", "accounts_trainingrecord_add"}
    change = AuditEvent.objects.get(action=AuditAction.DJANGO_ADMIN_CHANGE)
    assert change.user == operator and change.detail["model"] == "accounts.trainingrecord"
    # The training itself went through the audited service too.
    assert AuditEvent.objects.get(action=AuditAction.TRAINING_RECORDED).detail["subject_user_id"] == clinician.pk


def test_making_someone_superuser_is_audited_with_the_field_names(operator):
    other = UserFactory()
    client = signed_in(Client(), operator)
    response = client.post(
        reverse("admin:accounts_user_change", args=[other.pk]),
        {"email": other.email, "full_name": other.full_name, "is_active": "on", "is_staff": "on",
         "is_superuser": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    change = AuditEvent.objects.get(action=AuditAction.DJANGO_ADMIN_CHANGE)
    assert change.detail["object_id"] == str(other.pk) and "Superuser status" in change.detail["fields"]


def test_operator_cannot_certify_themself_in_the_django_admin(operator, care_setting):
    client = signed_in(Client(), operator)
    grant = client.post(
        reverse("admin:accounts_membership_add"),
        {"user": operator.pk, "organisation": care_setting.pk, "role": Role.CLINICIAN},
    )
    assert grant.status_code == 200 and "Ask another administrator" in grant.content.decode()
    assert not Membership.objects.filter(user=operator).exists()
    training = client.post(
        reverse("admin:accounts_trainingrecord_add"),
        {"user": operator.pk, "course": "CP-IS e-learning", "completed_on": timezone.localdate().isoformat()},
    )
    assert training.status_code == 200
    assert not TrainingRecord.objects.filter(user=operator).exists()
    device = TOTPDevice.objects.get(user=operator)
    assert (
        client.post(reverse("admin:otp_totp_totpdevice_delete", args=[device.pk]), {"post": "yes"}).status_code == 403
    )
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    assert client.get(reverse("admin:accounts_user_change", args=[operator.pk])).status_code in (200, 403)
    client.post(
        reverse("admin:accounts_user_change", args=[operator.pk]),
        {"email": operator.email, "full_name": "x", "is_active": "on"},
    )
    assert User.objects.get(pk=operator.pk).full_name == operator.full_name


def test_admin_sign_in_is_locked_out_after_repeated_wrong_passwords(operator, settings):
    # The admin's form posts `username`, not the sign-in page's `email`: the lockout holds all the same.
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("admin:login"), {"username": operator.email, "password": "wrong-password"})
    response = client.post(
        reverse("admin:login"),
        {"username": operator.email, "password": TEST_PASSWORD, "otp_token": current_code(),
         "otp_device": TOTPDevice.objects.get(user=operator).persistent_id},
    )  # fmt: skip
    assert response.status_code == 429
    assert not client.get(reverse("admin:index")).wsgi_request.user.is_authenticated
