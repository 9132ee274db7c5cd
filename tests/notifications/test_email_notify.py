"""E-mail through GOV.UK Notify (notifications/email_backends.py) against a local server that
speaks Notify's API, and Notify's delivery receipts at our callback (receipt_views.py)."""

import json
import uuid

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from audit.models import AuditAction, AuditEvent, AuditOutcome
from notifications import receipt_views
from notifications.models import Channel, Delivery, DeliveryStatus, Notification, ReceiptStatus
from notifications.services import delivery_attempt
from tests.conftest import signed_in
from tests.factories import user_with_role
from tests.notifications.checks import child_on_plan, record_check
from tests.notifications.notify_server import API_KEY, NotifyServer

pytestmark = pytest.mark.django_db

TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"
CALLBACK_TOKEN = "callback-token-for-tests-0123456789"  # pragma: allowlist secret
RECEIPTS = reverse("notifications:notify_receipt")


@pytest.fixture
def notify(settings):
    server = NotifyServer().start()
    settings.EMAIL_BACKEND = "notifications.email_backends.NotifyEmailBackend"
    settings.NOTIFY_API_KEY, settings.NOTIFY_TEMPLATE_ID, settings.NOTIFY_BASE_URL = API_KEY, TEMPLATE_ID, server.url
    settings.NOTIFY_CALLBACK_TOKEN = CALLBACK_TOKEN
    yield server
    server.stop()


def _email_deliveries(la, setting, count: int) -> list[Delivery]:
    for _ in range(count):
        record_check(plans=[child_on_plan(la)], care_setting=setting)
    return list(Delivery.objects.filter(channel=Channel.EMAIL).order_by("id"))


def _receipt(body, token: str = CALLBACK_TOKEN, address: str = "127.0.0.1"):
    return Client(REMOTE_ADDR=address).post(
        RECEIPTS, json.dumps(body), content_type="application/json", headers={"Authorization": f"Bearer {token}"}
    )


def _sent_batch(la, setting, notify, count: int = 3) -> list[Delivery]:
    deliveries = _email_deliveries(la, setting, count)
    delivery_attempt(delivery_id=deliveries[0].pk)
    assert set(Delivery.objects.filter(channel=Channel.EMAIL).values_list("status", flat=True)) == {"sent"}
    return deliveries


def test_a_batch_email_goes_to_notify_as_one_signed_request_naming_its_first_delivery(la, setting, notify):
    deliveries = _sent_batch(la, setting, notify, 3)

    (request,) = notify.requests
    assert request["path"] == "/v2/notifications/email" and request["signed"]
    context = {"count": 3, "local_authority_name": la.name, "inbox_url": "http://testserver/inbox/"}
    body = request["body"]
    assert body["email_address"] == la.team_mailbox
    assert body["template_id"] == TEMPLATE_ID
    assert body["reference"] == f"delivery-{deliveries[0].pk}"
    assert (
        body["personalisation"]["subject"] == render_to_string("emails/notifications_new_subject.txt", context).strip()
    )
    assert "3" in body["personalisation"]["body"]
    # Ids only reach Notify: no child's name or NHS number.
    notification = Notification.objects.first()
    assert notification.nhs_number not in json.dumps(body) and notification.family_name not in json.dumps(body)
    assert {d.email_batch for d in Delivery.objects.filter(channel=Channel.EMAIL)} == {deliveries[0].pk}


def test_notify_refusing_the_email_leaves_the_delivery_to_be_retried(la, setting, notify):
    (delivery,) = _email_deliveries(la, setting, 1)
    notify.status = 500
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert "500" in delivery.last_error


def test_a_wrong_api_key_is_refused_by_notify_and_the_delivery_retried(la, setting, notify, settings):
    settings.NOTIFY_API_KEY = API_KEY[:-36] + "00000000-0000-0000-0000-000000000000"
    (delivery,) = _email_deliveries(la, setting, 1)
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert not notify.requests[0]["signed"]
    assert delivery.status == DeliveryStatus.PENDING and "403" in delivery.last_error


def test_any_email_goes_through_notify_and_one_without_deliveries_has_no_reference(notify):
    assert mail.send_mail("Your invitation", "Follow the link.", None, ["a@example.nhs.uk", "b@example.nhs.uk"]) == 1
    assert [r["body"]["email_address"] for r in notify.requests] == ["a@example.nhs.uk", "b@example.nhs.uk"]
    assert all("reference" not in r["body"] for r in notify.requests)


def test_the_backend_needs_its_key_and_template(settings):
    settings.EMAIL_BACKEND = "notifications.email_backends.NotifyEmailBackend"
    settings.NOTIFY_API_KEY = ""
    with pytest.raises(ImproperlyConfigured):
        mail.get_connection()


def test_a_delivered_receipt_is_recorded_on_every_delivery_the_email_carried(la, setting, notify):
    deliveries = _sent_batch(la, setting, notify, 3)
    response = _receipt(
        {
            "id": "740e5834-3a29-46b4-9a6f-16142fde533a",
            "reference": f"delivery-{deliveries[0].pk}",
            "to": la.team_mailbox,
            "status": "delivered",
            "created_at": "2026-12-07T15:00:00.000000Z",
            "completed_at": "2026-12-07T15:00:05.000000Z",
            "sent_at": "2026-12-07T15:00:01.000000Z",
            "notification_type": "email",
            "template_id": TEMPLATE_ID,
            "template_version": 1,
        }
    )
    assert response.status_code == 200 and response.json() == {"recorded": 3}
    rows = Delivery.objects.filter(channel=Channel.EMAIL)
    assert {(d.status, d.receipt_status) for d in rows} == {(DeliveryStatus.SENT, ReceiptStatus.DELIVERED)}
    assert {d.receipt_at.isoformat() for d in rows} == {"2026-12-07T15:00:05+00:00"}
    event = AuditEvent.objects.get(action=AuditAction.NOTIFICATION_EMAIL_RECEIPT)
    assert event.organisation == la and event.outcome == AuditOutcome.SUCCESS
    assert event.detail["delivery_ids"] == [d.pk for d in deliveries] and event.detail["status"] == "delivered"
    assert la.team_mailbox not in json.dumps(event.detail)


def test_a_failure_receipt_fails_the_deliveries_where_failures_are_shown(la, setting, notify):
    deliveries = _sent_batch(la, setting, notify, 2)
    response = _receipt({"id": "n-1", "reference": f"delivery-{deliveries[0].pk}", "status": "permanent-failure"})
    assert response.json() == {"recorded": 2}
    rows = list(Delivery.objects.filter(channel=Channel.EMAIL))
    assert {(d.status, d.receipt_status) for d in rows} == {(DeliveryStatus.FAILED, ReceiptStatus.PERMANENT_FAILURE)}
    assert all(d.failed_at is not None for d in rows)
    event = AuditEvent.objects.get(action=AuditAction.NOTIFICATION_EMAIL_RECEIPT)
    assert event.outcome == AuditOutcome.FAILURE and event.detail["failed"] == 2
    admin = signed_in(Client(), user_with_role("org_admin", la))
    page = admin.get(reverse("notifications:deliveries_failed")).content.decode()
    assert "GOV.UK Notify: Mailbox does not exist (permanent-failure)" in page
    # An admin's re-drive sends it again, and the next receipt names the new batch.
    admin.post(reverse("notifications:delivery_retry", kwargs={"delivery_id": deliveries[1].pk}))
    delivery_attempt(delivery_id=deliveries[1].pk)
    again = Delivery.objects.get(pk=deliveries[1].pk)
    assert (again.status, again.email_batch, again.receipt_status) == (DeliveryStatus.SENT, deliveries[1].pk, "")
    assert notify.requests[-1]["body"]["reference"] == f"delivery-{deliveries[1].pk}"


def test_a_receipt_for_an_email_without_deliveries_is_taken_and_changes_nothing(la, setting, notify):
    deliveries = _sent_batch(la, setting, notify, 1)
    for reference in (None, "invitation", f"delivery-{deliveries[0].pk + 1000}"):
        response = _receipt({"id": "n-2", "reference": reference, "status": "technical-failure"})
        assert response.status_code == 200 and response.json() == {"recorded": 0}
    assert Delivery.objects.get(pk=deliveries[0].pk).status == DeliveryStatus.SENT


@pytest.mark.parametrize(
    ("body", "reason"),
    [({"id": "n", "status": "sending"}, "status"), ({"status": "delivered"}, "id"), ([], "not_an_object")],
)
def test_a_body_that_is_no_receipt_is_refused_clearly(notify, body, reason):
    response = _receipt(body)
    assert response.status_code == 400 and response.json() == {"error": reason}


@pytest.mark.parametrize("authorization", ["", "Bearer wrong-token", f"Basic {CALLBACK_TOKEN}", "Bearer "])
def test_a_callback_without_our_token_is_refused_and_audited(la, setting, notify, authorization):
    deliveries = _sent_batch(la, setting, notify, 1)
    response = Client().post(
        RECEIPTS,
        json.dumps({"id": "n", "reference": f"delivery-{deliveries[0].pk}", "status": "permanent-failure"}),
        content_type="application/json",
        headers={"Authorization": authorization} if authorization else {},
    )
    assert response.status_code == 401
    assert Delivery.objects.get(pk=deliveries[0].pk).status == DeliveryStatus.SENT
    refused = AuditEvent.objects.get(action=AuditAction.NOTIFY_CALLBACK_REFUSED)
    assert refused.outcome == AuditOutcome.DENIED and refused.detail == {"reason": "token", "status": 401}


def test_without_a_token_configured_every_callback_is_refused(notify, settings):
    settings.NOTIFY_CALLBACK_TOKEN = ""
    assert _receipt({"id": "n", "status": "delivered"}, token="").status_code == 401


def test_an_address_that_keeps_guessing_the_token_is_limited(notify, settings, monkeypatch):
    settings.NOTIFY_CALLBACK_REFUSAL_LIMIT = 3
    # One window whatever the clock does, and an address no other run has counted against.
    monkeypatch.setattr(receipt_views, "window_number", lambda seconds: 0)
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    answers = [
        _receipt({"id": "n", "status": "delivered"}, token=f"guess-{i}", address=address).status_code for i in range(4)
    ]
    assert answers == [401, 401, 401, 429]
    # Limited before its token is read: the right one from that address waits for the window.
    limited = _receipt({"id": "n", "status": "delivered"}, address=address)
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert AuditEvent.objects.filter(action=AuditAction.NOTIFY_CALLBACK_REFUSED).count() == 3
