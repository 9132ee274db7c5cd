"""An LA admin's webhook settings: https only, the secret shown once, rotation with both secrets
signing during the overlap, a test delivery, and the recent deliveries' status codes."""

import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction, AuditEvent
from notifications.models import Channel, Delivery, WebhookEndpoint
from notifications.services import delivery_attempt
from tests.notifications.checks import child_on_plan, record_check
from tests.notifications.conftest import WEBHOOK_SECRET
from tests.notifications.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db

URL = reverse("notifications:webhook_settings")


@pytest.fixture
def admin(role_user, client_for, local_authority):
    return client_for(role_user(Role.ORG_ADMIN, local_authority))


def _secret(response) -> str:
    return re.search(r'<code class="cpis-secret">([^<]+)</code>', response.content.decode()).group(1)


def test_plain_http_is_refused(admin, local_authority):
    response = admin.post(URL, {"url": "http://cms.example.gov.uk/cpis", "is_active": "on"})
    assert response.status_code == 400
    assert "The address must start with https://" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_setting_an_endpoint_shows_its_secret_once_and_audits_without_it(admin, local_authority):
    response = admin.post(URL, {"url": "https://cms.example.gov.uk/cpis", "is_active": "on"})
    assert response.status_code == 200
    secret = _secret(response)
    endpoint = WebhookEndpoint.objects.get(local_authority=local_authority)
    assert endpoint.secret == secret and len(secret) >= 32 and endpoint.is_active
    assert secret not in admin.get(URL).content.decode()
    event = AuditEvent.objects.get(action=AuditAction.WEBHOOK_CHANGED)
    assert secret not in str(event.detail)


def test_after_rotation_both_secrets_sign_until_the_overlap_ends(admin, local_authority, care_setting):
    receiver_old = WebhookReceiver(secret=WEBHOOK_SECRET).start()
    try:
        WebhookEndpoint.objects.create(local_authority=local_authority, url=receiver_old.url, secret=WEBHOOK_SECRET)
        new_secret = _secret(admin.post(reverse("notifications:webhook_secret_rotate")))
        assert new_secret != WEBHOOK_SECRET
        assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_SECRET_ROTATED).exists()

        record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
        delivery_attempt(delivery_id=Delivery.objects.get(channel=Channel.WEBHOOK).pk)
        receiver_new = WebhookReceiver(secret=new_secret)
        # The receiver still on the old secret accepted it; one on the new would have too.
        request = receiver_old.requests[-1]
        assert request.valid
        assert len(request.signature.split(",")) == 2
        from notifications.webhooks import webhook_verify

        assert webhook_verify(
            secret=receiver_new.secret, timestamp=request.timestamp, signature=request.signature, body=request.body
        )
        # After the overlap, only the new secret signs.
        with time_machine.travel(timezone.now() + timezone.timedelta(hours=25)):
            assert WebhookEndpoint.objects.get().signing_secrets() == [new_secret]
    finally:
        receiver_old.stop()


def test_a_test_delivery_reports_the_endpoints_answer_and_recent_deliveries_show_status_codes(
    admin, local_authority, care_setting
):
    receiver = WebhookReceiver(secret=WEBHOOK_SECRET).start()
    try:
        WebhookEndpoint.objects.create(local_authority=local_authority, url=receiver.url, secret=WEBHOOK_SECRET)
        receiver.status = 503
        text = admin.post(reverse("notifications:webhook_test")).content.decode()
        assert "Test delivery not accepted" in text and "HTTP 503" in text
        receiver.status = 200
        text = admin.post(reverse("notifications:webhook_test")).content.decode()
        assert "Test delivery accepted" in text and "answered HTTP 200" in text
        assert receiver.requests[-1].delivery_id.startswith("test-") and receiver.requests[-1].valid
        assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_TEST_SENT).count() == 2

        record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
        receiver.status = 500
        delivery_attempt(delivery_id=Delivery.objects.get(channel=Channel.WEBHOOK).pk)
        table = admin.get(URL).content.decode()
        assert "HTTP 500" in table
    finally:
        receiver.stop()


def test_a_care_settings_admin_has_no_webhook_page(role_user, client_for, care_setting):
    assert client_for(role_user(Role.ORG_ADMIN, care_setting)).get(URL).status_code == 403
