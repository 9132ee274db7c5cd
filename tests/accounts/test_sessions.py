import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import UserSession
from accounts.services import user_deactivate
from audit.models import AuditAction, AuditEvent
from tests.accounts.test_login import current_code, password_step

pytestmark = pytest.mark.django_db


def test_idle_session_is_ended_after_fifteen_minutes(role_user, client_for):
    user = role_user("clinician")
    client = client_for(user)
    session = client.session
    session["last_activity"] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT - 1
    session.save()
    response = client.get(reverse("accounts:home"))
    assert response.status_code == 302 and response.url == reverse("accounts:login") + "?timeout=1"
    assert client.get(reverse("accounts:home")).status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_EXPIRED, user=user).exists()
    page = client.get(response.url).content.decode()
    assert "signed you out because you had not done anything for 15 minutes" in page


def test_activity_within_the_idle_timeout_keeps_the_session(role_user, client_for):
    client = client_for(role_user("clinician"))
    session = client.session
    session["last_activity"] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT + 30
    session.save()
    assert client.get(reverse("accounts:home")).status_code == 200
    assert client.session["last_activity"] >= int(time.time()) - 5


def test_stay_signed_in_extends_the_session(role_user, client_for):
    client = client_for(role_user("clinician"))
    session = client.session
    session["last_activity"] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT + 10
    session.save()
    response = client.post(reverse("accounts:session_extend"))
    assert response.status_code == 200 and response.json() == {"expires_in": settings.SESSION_IDLE_TIMEOUT}
    assert client.session["last_activity"] >= int(time.time()) - 5


def test_session_ends_after_the_absolute_limit_even_when_active(role_user, client_for):
    client = client_for(role_user("clinician"))
    session = client.session
    session["login_time"] = int(time.time()) - settings.SESSION_ABSOLUTE_TIMEOUT - 1
    session.save()
    assert client.get(reverse("accounts:home")).status_code == 302


def test_logout_ends_the_session(role_user, client_for):
    user = role_user("clinician")
    client = client_for(user)
    assert UserSession.objects.filter(user=user).count() == 1
    client.post(reverse("accounts:logout"))
    assert UserSession.objects.filter(user=user).count() == 0
    assert client.get(reverse("accounts:home")).status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT, user=user).exists()


def test_logout_needs_post(role_user, client_for):
    client = client_for(role_user("clinician"))
    assert client.get(reverse("accounts:logout")).status_code == 405


def test_deactivation_ends_every_open_session_at_once(role_user, client_for):
    user = role_user("clinician")
    desk, phone = client_for(user), client_for(user)
    assert UserSession.objects.filter(user=user).count() == 2
    user_deactivate(user=user, by=None)
    assert UserSession.objects.filter(user=user).count() == 0
    for client in (desk, phone):
        assert client.get(reverse("accounts:home")).status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.USER_DEACTIVATED).count() == 1


def test_tampered_session_cookie_is_treated_as_signed_out(role_user, client_for):
    client = client_for(role_user("clinician"))
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    forged = Client()
    forged.cookies[settings.SESSION_COOKIE_NAME] = cookie.value[:-1] + ("a" if cookie.value[-1] != "a" else "b")
    assert forged.get(reverse("accounts:home")).status_code == 302
    forged.cookies[settings.SESSION_COOKIE_NAME] = "' OR 1=1 --"
    assert forged.get(reverse("accounts:home")).status_code == 302


def test_login_cycles_the_session_key(client, role_user):
    user = role_user("clinician")
    client.get(reverse("accounts:login"))
    client.cookies[settings.SESSION_COOKIE_NAME] = "attacker-fixed-session-id"
    password_step(client, user)
    client.post(reverse("accounts:login_verify"), {"code": current_code()})
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != "attacker-fixed-session-id"
    assert client.get(reverse("accounts:home")).status_code == 200
