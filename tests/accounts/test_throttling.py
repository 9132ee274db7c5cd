import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from tests.accounts.test_login import current_code, password_step

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


def test_repeated_wrong_codes_are_throttled(client, role_user):
    user = role_user("clinician")
    password_step(client, user)
    wrong = f"{(int(current_code()) + 1) % 1_000_000:06d}"
    client.post(reverse("accounts:login_verify"), {"code": wrong})
    # django-otp now refuses any code, even the right one, until its back-off has passed.
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert response.status_code == 400
