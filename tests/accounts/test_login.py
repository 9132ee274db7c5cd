import time

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditAction, AuditEvent
from tests.factories import TEST_PASSWORD, TEST_TOTP_KEY

pytestmark = pytest.mark.django_db


def current_code(key_hex: str = TEST_TOTP_KEY, offset: int = 0) -> str:
    return f"{totp(bytes.fromhex(key_hex), t0=0, step=30, digits=6, drift=offset):06d}"


def password_step(client, user, password=TEST_PASSWORD, **extra):
    return client.post(reverse("accounts:login"), {"email": user.email, "password": password}, **extra)


def test_clinician_signs_in_with_password_and_totp(client, role_user):
    user = role_user("clinician")
    response = password_step(client, user)
    assert response.status_code == 302 and response.url == reverse("accounts:login_verify")
    # Not signed in until the second factor.
    assert client.get(reverse("accounts:home")).status_code == 302
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert response.status_code == 302 and response.url == reverse("accounts:home")
    home = client.get(reverse("accounts:home"))
    assert home.status_code == 200
    assert user.full_name in home.content.decode()
    assert list(AuditEvent.objects.filter(user=user).values_list("action", flat=True)) == [AuditAction.LOGIN]


def test_wrong_password_is_refused_and_audited(client, role_user):
    user = role_user("clinician")
    response = password_step(client, user, password="not-the-password")
    assert response.status_code == 400
    assert "Enter a correct email address and password" in response.content.decode()
    assert AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED).user == user


def test_unknown_email_gets_the_same_message_as_wrong_password(client, db):
    response = client.post(reverse("accounts:login"), {"email": "nobody@example.nhs.uk", "password": "whatever-it-is"})
    assert response.status_code == 400
    assert "Enter a correct email address and password" in response.content.decode()


def test_wrong_totp_code_is_refused(client, role_user):
    user = role_user("clinician")
    password_step(client, user)
    wrong = f"{(int(current_code()) + 1) % 1_000_000:06d}"
    response = client.post(reverse("accounts:login_verify"), {"code": wrong})
    assert response.status_code == 400
    assert "not correct" in response.content.decode()
    assert client.get(reverse("accounts:home")).status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.OTP_FAILED, user=user).count() == 1


def test_reused_totp_code_is_refused(client, role_user):
    user = role_user("clinician")
    code = current_code()
    password_step(client, user)
    assert client.post(reverse("accounts:login_verify"), {"code": code}).status_code == 302

    other = Client()
    password_step(other, user)
    # Same code again, even after the throttle's delay has passed: refused.
    TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    response = other.post(reverse("accounts:login_verify"), {"code": code})
    assert response.status_code == 400


def test_backup_code_works_once(client, role_user):
    user = role_user("clinician", enrolled=False)
    password_step(client, user)
    assert client.get(reverse("accounts:login_enrol")).status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("accounts:login_enrol"), {"code": current_code(device.key)})
    assert response.url == reverse("accounts:backup_codes")
    page = client.get(reverse("accounts:backup_codes")).content.decode()
    codes = list(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(codes) == 10 and all(c in page for c in codes)
    # Shown once only.
    assert client.get(reverse("accounts:backup_codes")).status_code == 302
    client.post(reverse("accounts:logout"))

    password_step(client, user)
    assert client.post(reverse("accounts:login_verify"), {"code": codes[0].upper()}).status_code == 302
    client.post(reverse("accounts:logout"))
    password_step(client, user)
    assert client.post(reverse("accounts:login_verify"), {"code": codes[0]}).status_code == 400


def test_enrolment_with_wrong_code_keeps_device_unconfirmed(client, role_user):
    user = role_user("clinician", enrolled=False)
    password_step(client, user)
    client.get(reverse("accounts:login_enrol"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = f"{(int(current_code(device.key)) + 1) % 1_000_000:06d}"
    response = client.post(reverse("accounts:login_enrol"), {"code": wrong})
    assert response.status_code == 400
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert client.get(reverse("accounts:home")).status_code == 302


def test_pending_second_factor_expires(client, role_user):
    user = role_user("clinician")
    password_step(client, user)
    session = client.session
    session["pending_since"] = time.time() - 6 * 60
    session.save()
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert response.status_code == 302 and response.url == reverse("accounts:login")


def test_deactivated_user_cannot_sign_in(client, role_user):
    user = role_user("clinician")
    user.is_active = False
    user.save()
    assert password_step(client, user).status_code == 400


def test_open_redirect_after_login_is_refused(client, role_user):
    user = role_user("clinician")
    client.post(
        reverse("accounts:login") + "?next=https://evil.example/", {"email": user.email, "password": TEST_PASSWORD}
    )
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert response.url == reverse("accounts:home")


def test_a_page_asked_for_signed_out_is_where_the_sign_in_ends(client, role_user):
    """Django's LoginRequiredMiddleware sends the way back as `next`; it is our own path only."""
    user = role_user("clinician")
    account = reverse("accounts:account")
    asked = client.get(account)
    login = f"{reverse('accounts:login')}?next=/account/"
    assert asked.status_code == 302 and asked.url == login
    # The passkey sign-in on the page reads it from the page; the password form keeps the query.
    assert '<input type="hidden" name="next" value="/account/">' in client.get(login).content.decode()
    client.post(login, {"email": user.email, "password": TEST_PASSWORD})
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert response.status_code == 302 and response.url == account


def test_the_sign_in_page_never_offers_another_sites_address_to_the_passkey(client, db):
    page = client.get(reverse("accounts:login") + "?next=https://evil.example/").content.decode()
    assert "evil.example" not in page
    assert f'<input type="hidden" name="next" value="{reverse("accounts:home")}">' in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Enter your email address"),
        ({"email": "", "password": "x"}, "Enter your email address"),
        ({"email": "someone@example.nhs.uk", "password": ""}, "Enter your password"),
        ({"email": "not-an-email", "password": "x"}, "Enter an email address, like name@example.nhs.uk"),
        ({"email": "a" * 5000 + "@example.nhs.uk", "password": "x"}, "Ensure this value has at most 254 characters"),
        ({"email": "' OR 1=1 --@example.nhs.uk", "password": "x"}, "Enter an email address"),
        ({"email": "nobody@example.nhs.uk", "password": "' OR '1'='1"}, "Enter a correct email address and password"),
        ({"email": "<script>alert(1)</script>@x.uk", "password": "x"}, "Enter an email address"),
        ({"email": "someone@example.nhs.uk", "password": "p" * 10_000}, "Ensure this value has at most 200 characters"),
    ],
)
def test_login_form_refuses_bad_input_with_the_error_summary(client, db, data, message):
    response = client.post(reverse("accounts:login"), data)
    page = response.content.decode()
    assert response.status_code == 400
    assert "There is a problem" in page and message in page
    assert "<script>alert(1)</script>" not in page
    assert client.get(reverse("accounts:home")).status_code == 302


@pytest.mark.parametrize("code", ["", "abc", "1" * 30, "<script>", "' OR 1=1"])
def test_security_code_form_refuses_junk(client, role_user, code):
    user = role_user("clinician")
    password_step(client, user)
    response = client.post(reverse("accounts:login_verify"), {"code": code})
    assert response.status_code == 400
    assert "There is a problem" in response.content.decode()
    assert client.get(reverse("accounts:home")).status_code == 302
