"""Org admins manage their own organisation's users: roles, training, deactivation, 2FA resets."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, Role, TrainingRecord, UserSession
from audit.models import AuditAction, AuditEvent, AuditOutcome
from tests.accounts.test_login import current_code, password_step
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(role_user, care_setting):
    return role_user(Role.ORG_ADMIN, care_setting)


@pytest.fixture
def clinician(role_user, care_setting):
    return role_user(Role.CLINICIAN, care_setting)


def url(name, user, **extra):
    return reverse(f"administration:{name}", kwargs={"user_id": user.pk, **extra})


def test_users_page_lists_own_organisation_only(client_for, admin, clinician, role_user, other_care_setting):
    stranger = role_user(Role.CLINICIAN, other_care_setting)
    page = client_for(admin).get(reverse("administration:users")).content.decode()
    assert clinician.full_name in page and admin.full_name in page
    assert stranger.email not in page


def test_users_page_queries_do_not_grow_with_users(client_for, admin, care_setting, django_assert_max_num_queries):
    client = client_for(admin)
    for _ in range(3):
        user_with_role(Role.CLINICIAN, care_setting)
    client.get(reverse("administration:users"))  # warm the session and middleware
    with django_assert_max_num_queries(14) as few:
        client.get(reverse("administration:users"))
    for _ in range(10):
        user_with_role(Role.CLINICIAN, care_setting)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("administration:users")).status_code == 200


def test_user_page_shows_roles_training_and_two_factor(client_for, admin, clinician):
    page = client_for(admin).get(url("user_detail", clinician)).content.decode()
    assert clinician.email in page and "Clinician" in page and "Valid until" in page and "Set up" in page


def test_admin_grants_a_role_and_it_is_audited(client_for, admin, clinician, care_setting):
    response = client_for(admin).post(url("role_grant", clinician), {"role": Role.SAFEGUARDING_LEAD})
    assert response.status_code == 302
    assert Membership.objects.filter(user=clinician, organisation=care_setting, role=Role.SAFEGUARDING_LEAD).exists()
    event = AuditEvent.objects.get(action=AuditAction.ROLE_GRANTED)
    assert event.user == admin and event.detail == {"subject_user_id": clinician.pk, "role": Role.SAFEGUARDING_LEAD}


def test_admin_cannot_grant_national_admin(client_for, role_user, national):
    # At a national organisation national_admin is a valid role, and still never grantable here.
    admin = role_user(Role.ORG_ADMIN, national)
    colleague = role_user(Role.ORG_ADMIN, national)
    response = client_for(admin).post(url("role_grant", colleague), {"role": Role.NATIONAL_ADMIN})
    assert response.status_code == 400
    assert "You cannot grant that role here" in response.content.decode()
    assert not Membership.objects.filter(role=Role.NATIONAL_ADMIN, user=colleague).exists()
    attempt = AuditEvent.objects.get(action=AuditAction.ROLE_GRANTED)
    assert attempt.outcome == AuditOutcome.DENIED and attempt.user == admin
    assert attempt.detail == {"reason": "role_not_grantable", "subject_user_id": colleague.pk, "role": "national_admin"}


def test_granting_national_admin_is_refused_by_the_service_too(admin, clinician, national):
    from django.core.exceptions import ValidationError

    from administration.services import role_grant

    with pytest.raises(ValidationError):
        role_grant(user=clinician, organisation=national, role=Role.NATIONAL_ADMIN, by=admin)
    assert not Membership.objects.filter(user=clinician, role=Role.NATIONAL_ADMIN).exists()


def test_admin_removes_a_role(client_for, admin, clinician):
    response = client_for(admin).post(url("role_remove", clinician, role=Role.CLINICIAN))
    assert response.status_code == 302
    assert not Membership.objects.filter(user=clinician).exists()
    assert AuditEvent.objects.get(action=AuditAction.ROLE_REMOVED).detail["subject_user_id"] == clinician.pk


def test_removing_the_last_org_admin_is_refused(client_for, admin, care_setting):
    response = client_for(admin).post(url("role_remove", admin, role=Role.ORG_ADMIN))
    assert response.status_code == 400
    assert "last administrator" in response.content.decode()
    assert Membership.objects.filter(user=admin, organisation=care_setting, role=Role.ORG_ADMIN).exists()
    assert AuditEvent.objects.get(action=AuditAction.ROLE_REMOVED).outcome == AuditOutcome.DENIED


def test_an_admin_may_step_down_when_another_admin_remains(client_for, admin, role_user, care_setting):
    role_user(Role.ORG_ADMIN, care_setting)
    response = client_for(admin).post(url("role_remove", admin, role=Role.ORG_ADMIN))
    # Home, not their own user page, which they may no longer open.
    assert response.status_code == 302 and response.url == reverse("accounts:home")
    assert not Membership.objects.filter(user=admin, role=Role.ORG_ADMIN).exists()


def test_a_deactivated_admin_does_not_count_as_the_one_remaining(client_for, admin, role_user, care_setting):
    other = role_user(Role.ORG_ADMIN, care_setting)
    other.is_active = False
    other.save()
    assert client_for(admin).post(url("role_remove", admin, role=Role.ORG_ADMIN)).status_code == 400


def test_admin_records_training_with_computed_expiry(client_for, admin, role_user, care_setting, settings):
    settings.TRAINING_VALIDITY_DAYS = 200
    newcomer = role_user(Role.CLINICIAN, care_setting, trained=False)
    response = client_for(admin).post(
        url("training_record", newcomer),
        {"course": "CP-IS e-learning", "completed_on_day": "3", "completed_on_month": "2", "completed_on_year": "2026"},
    )
    assert response.status_code == 302
    record = TrainingRecord.objects.get(user=newcomer)
    assert record.completed_on == dt.date(2026, 2, 3)
    assert record.expires_on == dt.date(2026, 2, 3) + dt.timedelta(days=200)
    assert record.recorded_by == admin
    assert AuditEvent.objects.get(action=AuditAction.TRAINING_RECORDED).detail["subject_user_id"] == newcomer.pk


@pytest.mark.parametrize(
    ("day", "month", "year", "message"),
    [
        ("", "", "", "Enter the date the course was completed"),
        ("31", "2", "2026", "Enter a real date"),
        ("1", "", "2026", "Enter a full date"),
    ],
)
def test_training_date_must_be_real(client_for, admin, clinician, day, month, year, message):
    response = client_for(admin).post(
        url("training_record", clinician),
        {"course": "CP-IS", "completed_on_day": day, "completed_on_month": month, "completed_on_year": year},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert TrainingRecord.objects.filter(user=clinician).count() == 1


def test_training_date_cannot_be_in_the_future(client_for, admin, clinician):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client_for(admin).post(
        url("training_record", clinician),
        {
            "course": "CP-IS",
            "completed_on_day": tomorrow.day,
            "completed_on_month": tomorrow.month,
            "completed_on_year": tomorrow.year,
        },
    )
    assert response.status_code == 400 and "today or in the past" in response.content.decode()


def test_deactivation_ends_the_users_open_session_at_once(client_for, admin, clinician):
    victim_client = client_for(clinician)
    assert victim_client.get(reverse("accounts:home")).status_code == 200
    assert UserSession.objects.filter(user=clinician).exists()

    assert client_for(admin).get(url("user_deactivate", clinician)).status_code == 200
    response = client_for(admin).post(url("user_deactivate", clinician))
    assert response.status_code == 302
    clinician.refresh_from_db()
    assert not clinician.is_active
    assert not UserSession.objects.filter(user=clinician).exists()
    # The very next request of the open session is no longer signed in.
    response = victim_client.get(reverse("accounts:home"))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))
    assert AuditEvent.objects.get(action=AuditAction.USER_DEACTIVATED).user == admin


def test_reactivation_lets_the_user_sign_in_again(client_for, admin, clinician):
    client = client_for(admin)
    client.post(url("user_deactivate", clinician))
    assert password_step(Client(), clinician).status_code == 400
    assert client.post(url("user_reactivate", clinician)).status_code == 302
    assert password_step(Client(), clinician).status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.USER_REACTIVATED, user=admin).exists()


def test_admin_cannot_deactivate_themselves(client_for, admin, role_user, care_setting):
    role_user(Role.ORG_ADMIN, care_setting)
    response = client_for(admin).post(url("user_deactivate", admin))
    assert response.status_code == 400 and "your own account" in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active


def test_service_refuses_to_deactivate_the_last_active_admin(admin, role_user, care_setting, national):
    # Through the pages the acting admin is always another active admin; the service still keeps
    # the rule for any other caller (the Django admin, a shell).
    from django.core.exceptions import ValidationError

    from administration.services import user_deactivate_at

    operator = role_user(Role.NATIONAL_ADMIN, national)
    with pytest.raises(ValidationError, match="last administrator"):
        user_deactivate_at(user=admin, organisation=care_setting, by=operator)
    admin.refresh_from_db()
    assert admin.is_active


def test_two_factor_reset_sends_the_next_sign_in_to_enrolment(client_for, admin, clinician):
    StaticDevice.objects.create(user=clinician, name="Backup codes", confirmed=True)
    open_session = client_for(clinician)
    assert client_for(admin).get(url("two_factor_reset", clinician)).status_code == 200
    assert client_for(admin).post(url("two_factor_reset", clinician)).status_code == 302

    assert not TOTPDevice.objects.filter(user=clinician).exists()
    assert not StaticDevice.objects.filter(user=clinician).exists()
    assert open_session.get(reverse("accounts:home")).status_code == 302
    response = password_step(Client(), clinician)
    assert response.status_code == 302 and response.url == reverse("accounts:login_enrol")
    event = AuditEvent.objects.get(action=AuditAction.OTP_RESET)
    assert event.user == admin
    assert event.detail == {"subject_user_id": clinician.pk, "devices_removed": 2, "passkeys_removed": 0}


def test_old_authenticator_code_no_longer_signs_in_after_reset(client_for, admin, clinician):
    client_for(admin).post(url("two_factor_reset", clinician))
    client = Client()
    password_step(client, clinician)
    # The verify step is not offered: there is no confirmed device to verify against.
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert response.status_code == 400
    assert client.get(reverse("accounts:home")).status_code == 302


@pytest.mark.parametrize(
    ("name", "method", "extra", "data"),
    [
        ("user_detail", "get", {}, {}),
        ("role_grant", "post", {}, {"role": Role.SAFEGUARDING_LEAD}),
        ("role_remove", "post", {"role": Role.CLINICIAN}, {}),
        (
            "training_record",
            "post",
            {},
            {"course": "X", "completed_on_day": "1", "completed_on_month": "1", "completed_on_year": "2026"},
        ),
        ("user_deactivate", "post", {}, {}),
        ("two_factor_reset", "post", {}, {}),
    ],
)
def test_org_admin_acting_on_another_organisations_user_gets_404_and_changes_nothing(
    client_for, admin, role_user, other_care_setting, name, method, extra, data
):
    stranger = role_user(Role.CLINICIAN, other_care_setting)
    before = AuditEvent.objects.count()
    response = getattr(client_for(admin), method)(url(name, stranger, **extra), data)
    assert response.status_code == 404
    stranger.refresh_from_db()
    assert stranger.is_active
    assert list(stranger.memberships.values_list("role", flat=True)) == [Role.CLINICIAN]
    assert TrainingRecord.objects.filter(user=stranger).count() == 1
    assert TOTPDevice.objects.filter(user=stranger).exists()
    # Only the refusal itself is recorded (issue 12 finding 5), naming the user id tried.
    (refused,) = AuditEvent.objects.all()[: AuditEvent.objects.count() - before]
    assert refused.action == AuditAction.ACCESS_REFUSED and refused.detail["user_id"] == stranger.pk


def test_user_shared_with_another_organisation_cannot_be_deactivated_or_reset(
    client_for, admin, clinician, other_care_setting
):
    Membership.objects.create(user=clinician, organisation=other_care_setting, role=Role.CLINICIAN)
    client = client_for(admin)
    page = client.get(url("user_detail", clinician)).content.decode()
    assert "also works for another organisation" in page
    for name in ("user_deactivate", "two_factor_reset"):
        response = client.post(url(name, clinician))
        assert response.status_code == 400 and "also works for another organisation" in response.content.decode()
    clinician.refresh_from_db()
    assert clinician.is_active and TOTPDevice.objects.filter(user=clinician).exists()
    # Their roles here are still the admin's to change.
    assert client.post(url("role_remove", clinician, role=Role.CLINICIAN)).status_code == 302
    assert Membership.objects.filter(user=clinician, organisation=other_care_setting).exists()


def test_users_can_be_searched_by_name_or_email(client_for, role_user, care_setting):
    admin = role_user("org_admin", care_setting)
    wanted = role_user("clinician", care_setting)
    other = role_user("clinician", care_setting)
    page = client_for(admin).get("/admin/users/", {"q": wanted.email.upper()}).content.decode()
    assert wanted.email in page and other.email not in page
    assert 'No users match "zzzz"' in client_for(admin).get("/admin/users/", {"q": "zzzz"}).content.decode()
