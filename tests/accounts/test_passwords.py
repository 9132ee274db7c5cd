"""Password self-service (issue 12 finding 10): change, forgotten by e-mailed single-use link that
still needs the second factor, an admin-triggered reset, and new backup codes. All audited."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role, UserSession
from audit.models import AuditAction, AuditEvent, AuditOutcome
from tests.accounts.test_login import current_code, password_step
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-77"


@pytest.fixture(autouse=True)
def _fresh_limits():
    # The forgotten-password limits count in Redis, which outlives each test's database.
    cache.clear()


@pytest.fixture(autouse=True)
def _emails_sent(monkeypatch):
    # The reset e-mail goes after commit; a test's transaction never commits, so run it now.
    monkeypatch.setattr("accounts.passwords.transaction.on_commit", lambda callback, **kwargs: callback())


def _unthrottle(user):
    # django-otp makes a device wait after a wrong code; the test does not wait a second.
    TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0, throttling_failure_timestamp=None)


def _reset_link() -> str:
    (message,) = [m for m in mail.outbox if "Reset your CP-IS password" in m.subject]
    return re.search(r"https?://\S+/password/reset/\S+/", message.body).group(0)


def test_signed_in_user_changes_password_with_current_password_and_a_code(client_for, role_user):
    user = role_user(Role.CLINICIAN)
    client = client_for(user)
    other_pc = client_for(user)
    form = {"current_password": TEST_PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    refused = client.post(reverse("accounts:password_change"), {**form, "code": "000000"})
    assert refused.status_code == 400
    _unthrottle(user)
    response = client.post(reverse("accounts:password_change"), {**form, "code": current_code()})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert client.get(reverse("accounts:home")).status_code == 200  # still signed in here
    assert other_pc.get(reverse("accounts:home")).status_code == 302  # signed out elsewhere
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_CHANGED, user=user).exists()


def test_wrong_current_password_changes_nothing(client_for, role_user):
    user = role_user(Role.CLINICIAN)
    response = client_for(user).post(
        reverse("accounts:password_change"),
        {"current_password": "not-it", "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD,
         "code": current_code()},
    )  # fmt: skip
    assert response.status_code == 400
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)
    refused = AuditEvent.objects.get(action=AuditAction.PASSWORD_CHANGED)
    assert refused.outcome == AuditOutcome.FAILURE and refused.detail == {"reason": "wrong_current_password"}


def test_forgotten_password_says_the_same_whether_or_not_the_address_exists(client, role_user):
    user = role_user(Role.CLINICIAN)
    known = client.post(reverse("accounts:password_forgotten"), {"email": user.email})
    unknown = client.post(reverse("accounts:password_forgotten"), {"email": "nobody@example.nhs.uk"})
    assert known.status_code == unknown.status_code == 200
    for response in (known, unknown):
        assert "If there is a CP-IS account for that address" in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    assert user.full_name not in mail.outbox[0].body
    events = AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_REQUESTED)
    assert {e.outcome for e in events} == {AuditOutcome.SUCCESS, AuditOutcome.FAILURE}
    assert all("nobody@" not in str(e.detail) for e in events)


def test_reset_link_needs_the_second_factor_works_once_and_signs_out_everywhere(client, client_for, role_user):
    user = role_user(Role.CLINICIAN)
    elsewhere = client_for(user)
    client.post(reverse("accounts:password_forgotten"), {"email": user.email})
    link = _reset_link()
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    opened = client.get(path)
    # The token leaves the address bar at once.
    assert opened.status_code == 302 and opened.url == reverse("accounts:password_reset")
    form = {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    assert client.post(reverse("accounts:password_reset"), form).status_code == 400  # no code
    assert client.post(reverse("accounts:password_reset"), {**form, "code": "000000"}).status_code == 400
    _unthrottle(user)
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)
    done = client.post(reverse("accounts:password_reset"), {**form, "code": current_code()})
    assert done.status_code == 302 and done.url == reverse("accounts:login")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert not UserSession.objects.filter(user=user).exists()
    assert elsewhere.get(reverse("accounts:home")).status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_COMPLETED, user=user).exists()
    # Single use: the same link no longer works.
    assert Client().get(path).status_code == 410
    # And the new password signs in, with the second factor.
    assert password_step(Client(), user, password=NEW_PASSWORD).url == reverse("accounts:login_verify")


def test_reset_link_expires(client, role_user, settings):
    user = role_user(Role.CLINICIAN)
    client.post(reverse("accounts:password_forgotten"), {"email": user.email})
    path = "/" + _reset_link().split("://", 1)[1].split("/", 1)[1]
    settings.PASSWORD_RESET_TIMEOUT = -1
    assert client.get(path).status_code == 410


def test_default_link_lifetime_is_under_an_hour():
    from django.conf import settings

    assert 0 < settings.PASSWORD_RESET_TIMEOUT < 3600


def test_admin_sends_a_reset_link_and_it_is_audited(client_for, role_user, care_setting):
    admin = role_user(Role.ORG_ADMIN, care_setting)
    clinician = role_user(Role.CLINICIAN, care_setting)
    response = client_for(admin).post(reverse("administration:password_reset_send", kwargs={"user_id": clinician.pk}))
    assert response.status_code == 302
    assert mail.outbox[0].to == [clinician.email]
    sent = AuditEvent.objects.get(action=AuditAction.PASSWORD_RESET_SENT_BY_ADMIN)
    assert sent.user == admin and sent.detail["subject_user_id"] == clinician.pk
    clinician.refresh_from_db()
    assert clinician.check_password(TEST_PASSWORD)  # nothing changes until the user acts


def test_user_regenerates_backup_codes_and_the_old_ones_stop_working(client_for, role_user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.services import totp_enrolment_confirm

    user = role_user(Role.CLINICIAN)
    old_codes = totp_enrolment_confirm(device=TOTPDevice.objects.get(user=user))
    client = client_for(user)
    response = client.post(reverse("accounts:backup_codes_new"), {"code": current_code()})
    assert response.status_code == 302 and response.url == reverse("accounts:backup_codes")
    page = client.get(reverse("accounts:backup_codes")).content.decode()
    new_codes = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(new_codes) == 10 and not new_codes & set(old_codes)
    assert all(code in page for code in new_codes)
    assert AuditEvent.objects.filter(action=AuditAction.BACKUP_CODES_REGENERATED, user=user).exists()


def test_a_backup_code_does_not_make_the_authenticator_wait(role_user):
    from django_otp.plugins.otp_static.models import StaticDevice

    from accounts.passwords import second_factor_verify

    user = role_user(Role.CLINICIAN)
    backup = StaticDevice.objects.create(user=user, name="Backup codes", confirmed=True)
    StaticToken.objects.create(device=backup, token="backup42")
    assert second_factor_verify(user, "backup42").device == backup
    assert second_factor_verify(user, "wrongcode").refusal == "wrong"
    # Straight after, the authenticator still answers (no throttle from the backup attempts).
    assert second_factor_verify(user, current_code()).device == TOTPDevice.objects.get(user=user)
