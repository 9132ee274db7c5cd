"""The smaller gaps of issue 12 (finding 9), each closed."""

import datetime as dt
import logging
import uuid

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.services import user_deactivate
from administration.services import user_reactivate_at
from attendances.models import Visit
from audit.models import AuditAction, AuditEvent
from cpis.logs import RedactFilter
from fhir.services import api_token_issue
from notifications.admin import WebhookEndpointForm
from notifications.webhooks import WebhookError, webhook_post
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db


def test_a_get_of_the_timeout_link_does_not_sign_anyone_out(client_for, role_user):
    client = client_for(role_user(Role.CLINICIAN))
    response = client.get(reverse("accounts:login") + "?timeout=1")
    assert response.status_code == 302
    assert client.get(reverse("accounts:home")).status_code == 200


def test_session_status_tells_the_time_left_without_counting_as_activity(client_for, role_user):
    client = client_for(role_user(Role.CLINICIAN))
    session = client.session
    session["last_activity"] -= 100
    session.save()
    left = client.get(reverse("accounts:session_status")).json()["expires_in"]
    assert settings.SESSION_IDLE_TIMEOUT - 102 <= left <= settings.SESSION_IDLE_TIMEOUT - 100
    assert client.get(reverse("accounts:session_status")).json()["expires_in"] <= left


def test_the_timers_sign_out_is_a_post_and_audited_as_expiry(client_for, role_user):
    user = role_user(Role.CLINICIAN)
    client = client_for(user)
    response = client.post(reverse("accounts:logout"), {"reason": "timeout"})
    assert response.url == reverse("accounts:login") + "?timeout=1"
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_EXPIRED, user=user).exists()
    assert client.get(reverse("accounts:home")).status_code == 302


def test_invitation_and_reset_tokens_are_redacted_from_django_logs():
    record = logging.LogRecord(
        "django.request", logging.WARNING, __file__, 1, "Not Found: %s", ("/invitation/s3cr3t-token/",), None
    )
    RedactFilter().filter(record)
    assert record.getMessage() == "Not Found: /invitation/[redacted]/"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET /password/reset/abc.def/ 200", None, None)
    RedactFilter().filter(record)
    assert "abc.def" not in record.getMessage()


def test_a_check_form_replayed_after_the_episode_window_does_not_show_the_child_again(
    client_for, role_user, local_authority
):
    plan = PlanFactory(organisation=local_authority)
    client = client_for(role_user(Role.CLINICIAN))
    token = str(uuid.uuid4())
    form = {"nhs_number": plan.nhs_number, "check_token": token}
    assert client.post(reverse("attendances:check"), form).status_code == 200
    # Within the window a refresh re-shows the same result and records nothing new.
    assert client.post(reverse("attendances:check"), form).status_code == 200
    Visit.objects.filter(check_token=token).update(
        recorded_at=timezone.now() - dt.timedelta(hours=settings.NOTIFICATION_EPISODE_HOURS, minutes=1)
    )
    replayed = client.post(reverse("attendances:check"), form)
    assert replayed.status_code == 400
    assert "This form has expired" in replayed.content.decode()
    assert plan.family_name not in replayed.content.decode()


def test_the_session_cookie_ends_with_the_browser(client, role_user):
    from tests.accounts.test_login import current_code, password_step

    user = role_user(Role.CLINICIAN)
    password_step(client, user)
    response = client.post(reverse("accounts:login_verify"), {"code": current_code()})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["expires"] and not cookie["max-age"]


def test_every_response_has_a_permissions_policy(client):
    policy = client.get(reverse("accounts:login"))["Permissions-Policy"]
    assert "camera=()" in policy and "geolocation=()" in policy and "microphone=()" in policy


def test_api_tokens_issued_before_a_deactivation_stay_dead_after_reactivation(role_user, care_setting):
    clinician = role_user(Role.CLINICIAN, care_setting)
    admin = role_user(Role.ORG_ADMIN, care_setting)
    _, raw = api_token_issue(user=clinician, organisation=care_setting, name="EPR", valid_days=30)
    user_deactivate(user=clinician, by=admin)
    user_reactivate_at(user=clinician, organisation=care_setting, by=admin)
    response = Client().get(
        "/fhir/R4/CareTeam",
        {"patient:identifier": "https://fhir.nhs.uk/Id/nhs-number|9434765919"},
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert response.status_code == 401


def test_webhook_urls_must_be_https_even_with_debug(settings, local_authority):
    settings.DEBUG = True
    form = WebhookEndpointForm(
        {"local_authority": local_authority.pk, "url": "http://cms.example/", "secret": "x" * 40}
    )
    assert form.errors["url"] == ["The webhook address must start with https://"]
    with pytest.raises(WebhookError):
        webhook_post(url="http://cms.example/hook", secret="x" * 40, delivery_id=1, body=b"{}")
