from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditAction, AuditEvent, AuditOutcome
from tests.accounts.test_login import current_code, password_step
from tests.accounts.test_passwords import NEW_PASSWORD
from tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def fail(client, user, times, address):
    for _ in range(times):
        client.post(
            reverse("accounts:login"), {"email": user.email, "password": "wrong-guess-123"}, REMOTE_ADDR=address
        )


def test_repeated_failures_lock_out_that_user_from_that_address(role_user):
    user = role_user("clinician")
    attacker = Client()
    fail(attacker, user, settings.AXES_FAILURE_LIMIT, "203.0.113.9")
    # Even the right password is refused from that address now.
    response = password_step(attacker, user, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT, user=user).exists()


def test_nobody_can_lock_a_named_user_out_from_elsewhere(role_user):
    user = role_user("clinician")
    fail(Client(), user, settings.AXES_FAILURE_LIMIT + 3, "203.0.113.9")
    clinician = Client()
    response = password_step(clinician, user, REMOTE_ADDR="192.0.2.44")
    assert response.status_code == 302
    assert (
        clinician.post(reverse("accounts:login_verify"), {"code": current_code()}, REMOTE_ADDR="192.0.2.44").status_code
        == 302
    )


def test_lockout_of_one_user_does_not_block_other_users_at_that_address(role_user):
    victim, colleague = role_user("clinician"), role_user("clinician")
    shared_pc = "198.51.100.7"
    fail(Client(), victim, settings.AXES_FAILURE_LIMIT, shared_pc)
    assert password_step(Client(), colleague, REMOTE_ADDR=shared_pc).status_code == 302


def test_forged_forwarded_for_header_does_not_dodge_the_lockout(role_user):
    # With no trusted proxy configured, X-Forwarded-For is whatever the client says: ignored.
    user = role_user("clinician")
    for n in range(settings.AXES_FAILURE_LIMIT):
        Client().post(
            reverse("accounts:login"),
            {"email": user.email, "password": "wrong-guess-123"},
            REMOTE_ADDR="203.0.113.9",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    response = password_step(Client(), user, REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == 429


def _wrong_code() -> str:
    return f"{(int(current_code()) + 500_000) % 1_000_000:06d}"


def test_the_right_code_straight_after_a_typo_signs_in(client, role_user):
    user = role_user("clinician")
    password_step(client, user)
    typo = client.post(reverse("accounts:login_verify"), {"code": _wrong_code()})
    assert typo.status_code == 400
    page = typo.content.decode()
    assert "The security code is not correct" in page and "already" not in page
    # At once, with no back-off to wait out (django-otp's refused it for a second, then two…).
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert response.status_code == 302 and response.url == reverse("accounts:home")
    refused = AuditEvent.objects.get(action=AuditAction.OTP_FAILED, user=user)
    assert refused.outcome == AuditOutcome.FAILURE and refused.detail == {"reason": "wrong"}


def test_a_code_used_once_is_called_used_not_wrong(role_user):
    user = role_user("clinician")
    code = current_code()
    first = Client()
    password_step(first, user)
    assert first.post(reverse("accounts:login_verify"), {"code": code}).status_code == 302
    second = Client()
    password_step(second, user)
    response = second.post(reverse("accounts:login_verify"), {"code": code})
    assert response.status_code == 400
    assert "You have already used this security code" in response.content.decode()
    assert AuditEvent.objects.get(action=AuditAction.OTP_FAILED, user=user).detail == {"reason": "used"}


def test_guessing_codes_stops_after_the_limit_until_the_cool_off(client, role_user, settings):
    settings.SECOND_FACTOR_FAILURE_LIMIT = 3
    settings.SECOND_FACTOR_COOLOFF = 600
    user = role_user("clinician")
    password_step(client, user)
    for _ in range(3):
        assert client.post(reverse("accounts:login_verify"), {"code": _wrong_code()}).status_code == 400
    # Now even the right code is not checked, and the page says how long to wait.
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert response.status_code == 400
    assert "entered a wrong security code too many times. Wait 10 minutes" in response.content.decode()
    waited = AuditEvent.objects.filter(action=AuditAction.OTP_FAILED, user=user).order_by("id").last()
    assert waited.outcome == AuditOutcome.DENIED and waited.detail == {"reason": "wait"}
    device = TOTPDevice.objects.get(user=user)
    assert device.throttling_failure_count == 3
    # After the cool-off one more guess is checked, and a wrong one makes it wait again.
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=timezone.now() - timedelta(seconds=601))
    assert (
        "too many times" not in client.post(reverse("accounts:login_verify"), {"code": _wrong_code()}).content.decode()
    )
    assert "Wait 10 minutes" in client.post(reverse("accounts:login_verify"), {"code": current_code()}).content.decode()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=timezone.now() - timedelta(seconds=601))
    # Password sign-in again: the five minutes of the pending sign-in may have passed on a slow machine.
    password_step(client, user)
    assert client.post(reverse("accounts:login_verify"), {"code": current_code()}).status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_guesses_on_the_password_pages_count_towards_the_same_limit(client_for, role_user, settings):
    settings.SECOND_FACTOR_FAILURE_LIMIT = 2
    user = role_user("clinician")
    client = client_for(user)
    for _ in range(2):
        client.post(reverse("accounts:backup_codes_new"), {"code": _wrong_code()})
    response = client.post(reverse("accounts:backup_codes_new"), {"code": current_code()})
    assert response.status_code == 400 and "Wait 15 minutes" in response.content.decode()
    # The same device's count: the sign-in page waits too.
    other = Client()
    password_step(other, user)
    assert "Wait" in other.post(reverse("accounts:login_verify"), {"code": current_code()}).content.decode()


def test_seconds_are_said_as_seconds():
    from accounts.passwords import CodeCheck

    assert "Wait 45 seconds" in CodeCheck(refusal="wait", wait_seconds=45).message
    assert "Wait 1 second," in CodeCheck(refusal="wait", wait_seconds=1).message
    assert "Wait 2 minutes" in CodeCheck(refusal="wait", wait_seconds=61).message


def test_the_lockout_holds_wherever_a_password_is_checked(role_user):
    # Not only the sign-in form (whose field is `email`): any page that authenticates.
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    from tests.factories import TEST_PASSWORD

    user = role_user("clinician")
    fail(Client(), user, settings.AXES_FAILURE_LIMIT, "203.0.113.9")
    request = RequestFactory().post("/account/confirm/", {"password": TEST_PASSWORD}, REMOTE_ADDR="203.0.113.9")
    assert authenticate(request=request, username=user.email, password=TEST_PASSWORD) is None
    elsewhere = RequestFactory().post("/account/confirm/", {"password": TEST_PASSWORD}, REMOTE_ADDR="192.0.2.1")
    assert authenticate(request=elsewhere, username=user.email, password=TEST_PASSWORD) == user


def test_the_right_code_straight_after_a_typo_sets_up_the_authenticator(client, role_user):
    from django_otp.plugins.otp_totp.models import TOTPDevice as Device

    user = role_user("clinician", enrolled=False)
    password_step(client, user)
    client.get(reverse("accounts:login_enrol"))
    device = Device.objects.get(user=user, confirmed=False)
    typo = f"{(int(current_code(device.key)) + 500_000) % 1_000_000:06d}"
    refused = client.post(reverse("accounts:login_enrol"), {"code": typo})
    assert refused.status_code == 400 and "Check the time on your phone" in refused.content.decode()
    response = client.post(reverse("accounts:login_enrol"), {"code": current_code(device.key)})
    assert response.status_code == 302 and response.url == reverse("accounts:backup_codes")


def test_wrong_current_passwords_on_the_change_page_count_towards_the_lockout(client_for, role_user):
    """A stolen session cannot guess the password at the change page any more than at sign-in."""
    user = role_user("clinician")
    client = client_for(user)
    change = reverse("accounts:password_change")
    new = {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(
            change, {**new, "current_password": "wrong-guess-123", "code": "000000"}, REMOTE_ADDR="203.0.113.9"
        )
        assert response.status_code == 400
    # The guess that reaches the limit is answered with the lockout page, and audited as one.
    response = client.post(
        change, {**new, "current_password": "wrong-guess-123", "code": "000000"}, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT, user=user).exists()
    # Now even the right password and code change nothing from that address.
    response = client.post(
        change, {**new, "current_password": TEST_PASSWORD, "code": current_code()}, REMOTE_ADDR="203.0.113.9"
    )
    assert response.status_code == 429
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)
    # The same lockout as the sign-in's: that address cannot sign in either; the owner elsewhere can.
    assert password_step(Client(), user, REMOTE_ADDR="203.0.113.9").status_code == 429
    assert password_step(Client(), user, REMOTE_ADDR="192.0.2.44").status_code == 302
    # Each wrong guess is still audited as a refused change.
    refused = AuditEvent.objects.filter(
        action=AuditAction.PASSWORD_CHANGED, outcome=AuditOutcome.FAILURE, detail__reason="wrong_current_password"
    )
    assert refused.count() == settings.AXES_FAILURE_LIMIT - 1


def test_the_right_current_password_after_a_typo_still_changes_it(client_for, role_user):
    user = role_user("clinician")
    client = client_for(user)
    change = reverse("accounts:password_change")
    new = {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    assert client.post(change, {**new, "current_password": "typo", "code": current_code()}).status_code == 400
    response = client.post(change, {**new, "current_password": TEST_PASSWORD, "code": current_code()})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


@pytest.mark.parametrize("current", ["x" * 201, "x" * 100_000, "\x00" * 10, ""])
def test_hostile_current_passwords_are_refused_not_crashed_and_not_counted(client_for, role_user, current):
    user = role_user("clinician")
    client = client_for(user)
    change = reverse("accounts:password_change")
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        response = client.post(
            change, {"current_password": current, "new_password": "n", "new_password_again": "n", "code": "1"}
        )
        # Refused before any password is checked, so not a guess that counts.
        assert response.status_code == 400
    assert password_step(Client(), user).status_code == 302
