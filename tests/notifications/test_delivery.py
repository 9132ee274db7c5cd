"""Delivery, one step at a time (in-process; tests/notifications/test_worker_faults.py runs the
same code in a real worker): claim, send, retry with back-off, fail, sweep."""

import json
import re
import threading
from datetime import timedelta
from unittest import mock
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from notifications.models import Channel, Delivery, DeliveryStatus, Notification
from notifications.services import delivery_attempt, delivery_sweep
from tests.factories import PlanFactory
from tests.notifications.checks import child_on_plan, record_check
from tests.tls import RecordingServer

pytestmark = pytest.mark.django_db


def _delivery(channel: str) -> Delivery:
    return Delivery.objects.get(channel=channel)


def test_inbox_delivery_puts_the_notification_in_the_inbox_once(plan, setting, la):
    record_check(plans=[plan], care_setting=setting)
    inbox = _delivery(Channel.INBOX)
    assert not Notification.objects.in_inbox_of(la).exists()

    delivery_attempt(delivery_id=inbox.pk)
    delivered_at = Notification.objects.get().delivered_to_inbox_at
    # A redelivered message (at-least-once) finds the row SENT and changes nothing.
    delivery_attempt(delivery_id=inbox.pk)

    inbox.refresh_from_db()
    assert inbox.status == DeliveryStatus.SENT
    assert inbox.attempts == 1
    assert Notification.objects.in_inbox_of(la).get().delivered_to_inbox_at == delivered_at


@pytest.mark.django_db(transaction=True)
def test_only_one_of_two_simultaneous_claims_sends(plan, setting, webhook_endpoint, webhook_receiver):
    # Committed for real (two threads, two connections); nothing published, the threads deliver.
    with mock.patch("notifications.services.delivery_dispatch"):
        record_check(plans=[plan], care_setting=setting)
    webhook = _delivery(Channel.WEBHOOK)
    webhook_receiver.delay = 0.5
    barrier = threading.Barrier(2)

    def attempt():
        barrier.wait()
        try:
            delivery_attempt(delivery_id=webhook.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert [r.delivery_id for r in webhook_receiver.requests] == [str(webhook.pk)]
    webhook.refresh_from_db()
    assert (webhook.status, webhook.attempts) == (DeliveryStatus.SENT, 1)


@override_settings(NOTIFICATION_RETRY_BASE_SECONDS=10, NOTIFICATION_RETRY_MAX_SECONDS=600)
def test_failed_webhook_is_retried_with_exponential_back_off_then_recorded_failed(
    plan, setting, webhook_endpoint, webhook_receiver, settings
):
    settings.NOTIFICATION_DELIVERY_MAX_ATTEMPTS = 4
    record_check(plans=[plan], care_setting=setting)
    webhook = _delivery(Channel.WEBHOOK)
    webhook_receiver.status = 503

    delays = []
    for _ in range(4):
        Delivery.objects.filter(pk=webhook.pk).update(next_attempt_at=timezone.now())
        delays.append(delivery_attempt(delivery_id=webhook.pk))

    assert delays == [10.0, 20.0, 40.0, None]
    webhook.refresh_from_db()
    assert webhook.status == DeliveryStatus.FAILED
    assert webhook.attempts == 4
    assert webhook.last_error == "WebhookError: could not deliver (HTTP 503)"
    assert webhook.response_status == 503
    assert webhook.failed_at is not None


def test_a_webhook_that_fails_below_http_records_only_could_not_deliver(plan, setting, webhook_endpoint):
    # The receiver's address with nobody listening there: the connection is refused.
    webhook_endpoint.url = webhook_endpoint.url.replace(f":{urlsplit(webhook_endpoint.url).port}/", ":1/")
    webhook_endpoint.save()
    record_check(plans=[plan], care_setting=setting)
    webhook = _delivery(Channel.WEBHOOK)
    delivery_attempt(delivery_id=webhook.pk)
    webhook.refresh_from_db()
    assert webhook.status == DeliveryStatus.PENDING
    assert (webhook.last_error, webhook.response_status) == ("WebhookError: could not deliver", None)


def test_a_webhook_to_an_address_inside_the_network_is_never_connected_to(plan, setting, webhook_endpoint):
    # Saved before addresses were checked, or a name whose answers changed: each attempt checks.
    inside = RecordingServer(host="127.0.0.1").start()
    try:
        webhook_endpoint.url = inside.url()
        webhook_endpoint.save()
        record_check(plans=[plan], care_setting=setting)
        webhook = _delivery(Channel.WEBHOOK)
        delivery_attempt(delivery_id=webhook.pk)
        webhook.refresh_from_db()
        assert webhook.last_error == "WebhookError: could not deliver"
        assert inside.seen == []
    finally:
        inside.stop()


def test_a_retry_that_arrives_early_does_nothing(plan, setting, webhook_endpoint, webhook_receiver):
    record_check(plans=[plan], care_setting=setting)
    webhook = _delivery(Channel.WEBHOOK)
    Delivery.objects.filter(pk=webhook.pk).update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    assert delivery_attempt(delivery_id=webhook.pk) is None
    assert webhook_receiver.requests == []


def test_webhook_request_is_signed_and_carries_the_content(plan, setting, webhook_endpoint, webhook_receiver):
    record_check(plans=[plan], care_setting=setting)
    webhook = _delivery(Channel.WEBHOOK)
    delivery_attempt(delivery_id=webhook.pk)

    (request,) = webhook_receiver.requests
    assert request.valid
    assert request.delivery_id == str(webhook.pk)
    payload = json.loads(request.body)
    assert payload["child"]["nhs_number"] == plan.nhs_number
    assert payload["child"]["family_name"] == "Quibbleworth"
    assert payload["plan_types"] == ["CPP"]
    assert payload["care_setting"]["ods_code"] == "RDE01"


def test_email_batches_pending_notifications_of_one_la_into_one_message(la, setting):
    plans = [child_on_plan(la) for _ in range(3)]
    for p in plans:
        record_check(plans=[p], care_setting=setting)
    first = Delivery.objects.filter(channel=Channel.EMAIL).order_by("id").first()

    delivery_attempt(delivery_id=first.pk)
    for other in Delivery.objects.filter(channel=Channel.EMAIL).exclude(pk=first.pk):
        delivery_attempt(delivery_id=other.pk)  # already sent in the batch: nothing happens

    (message,) = mail.outbox
    assert message.to == [la.team_mailbox]
    assert message.subject == "CP-IS: 3 new notifications for Northshire County Council"
    assert set(Delivery.objects.filter(channel=Channel.EMAIL).values_list("status", flat=True)) == {DeliveryStatus.SENT}
    assert sorted(message.extra_headers["X-CPIS-Deliveries"].split(", ")) == sorted(
        str(i) for i in Delivery.objects.filter(channel=Channel.EMAIL).values_list("pk", flat=True)
    )


@pytest.mark.parametrize(
    ("family_name", "given_names", "dob"),
    [("Quibbleworth", "Tallulah", "2015-03-07"), ("O'Neil-Smith", "Zoë Anne", "2009-12-31")],
)
def test_emails_carry_no_name_nhs_number_or_date_of_birth(la, setting, family_name, given_names, dob, settings):
    from datetime import date

    born = date.fromisoformat(dob)
    plan = PlanFactory(organisation=la, family_name=family_name, given_names=given_names, date_of_birth=born)
    record_check(plans=[plan], care_setting=setting)
    delivery_attempt(delivery_id=_delivery(Channel.EMAIL).pk)
    # And the overdue reminder to the LA's admins.
    from notifications.services import notifications_mark_overdue

    delivery_attempt(delivery_id=_delivery(Channel.INBOX).pk)
    Notification.objects.update(due_at=timezone.now() - timedelta(minutes=1))
    notifications_mark_overdue()

    assert len(mail.outbox) == 2
    nhs = plan.nhs_number
    forbidden = [
        family_name,
        given_names,
        *given_names.split(),
        nhs,
        f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}",
        f"{nhs[:3]}-{nhs[3:6]}-{nhs[6:]}",
        born.isoformat(),
        born.strftime("%d/%m/%Y"),
        born.strftime("%-d %B %Y"),
        born.strftime("%-d %b %Y"),
        born.strftime("%d%m%Y"),
    ]
    for message in mail.outbox:
        text = "\n".join([message.subject, message.body, *map(str, message.extra_headers.values())])
        for value in forbidden:
            assert value.lower() not in text.lower(), f"{value!r} appears in an e-mail"
        assert not re.search(r"\d{10}", text.replace(" ", "")), "a ten-digit number appears in an e-mail"
        assert "/inbox/" in message.body


@override_settings(NOTIFICATION_CLAIM_LEASE=60, NOTIFICATION_SWEEP_AFTER=30)
def test_sweeper_gives_back_a_dead_workers_claim_and_redispatches_stuck_rows(plan, setting, la):
    record_check(plans=[plan], care_setting=setting)
    inbox, email = _delivery(Channel.INBOX), _delivery(Channel.EMAIL)
    long_ago = timezone.now() - timedelta(minutes=5)
    # The inbox delivery was claimed by a worker that was then killed; the e-mail's message
    # was never published (Redis was down at commit).
    Delivery.objects.filter(pk=inbox.pk).update(
        status=DeliveryStatus.SENDING, claimed_at=long_ago, claim_token="00000000-0000-0000-0000-000000000001"
    )
    Delivery.objects.filter(pk=email.pk).update(next_attempt_at=long_ago)

    dispatched = delivery_sweep()

    assert sorted(dispatched) == sorted([inbox.pk, email.pk])
    for row in (inbox, email):
        row.refresh_from_db()
        assert row.status == DeliveryStatus.PENDING
        assert row.claim_token is None
        # Its clock restarts: the next sweep leaves it alone for another SWEEP_AFTER.
        assert row.next_attempt_at > timezone.now() - timedelta(seconds=5)
    assert delivery_sweep() == []


@override_settings(NOTIFICATION_CLAIM_LEASE=60, NOTIFICATION_SWEEP_AFTER=30)
def test_sweeper_leaves_fresh_rows_and_live_claims_alone(plan, setting):
    record_check(plans=[plan], care_setting=setting)
    inbox = _delivery(Channel.INBOX)
    Delivery.objects.filter(pk=inbox.pk).update(
        status=DeliveryStatus.SENDING,
        claimed_at=timezone.now() - timedelta(seconds=10),
        claim_token="00000000-0000-0000-0000-000000000001",
    )
    assert delivery_sweep() == []


def test_sweeper_records_failed_a_delivery_whose_worker_died_on_its_last_attempt(plan, setting, settings):
    settings.NOTIFICATION_DELIVERY_MAX_ATTEMPTS = 3
    record_check(plans=[plan], care_setting=setting)
    inbox = _delivery(Channel.INBOX)
    Delivery.objects.filter(pk=inbox.pk).update(
        status=DeliveryStatus.SENDING,
        attempts=3,
        claimed_at=timezone.now() - timedelta(hours=1),
        claim_token="00000000-0000-0000-0000-000000000001",
    )
    delivery_sweep()
    inbox.refresh_from_db()
    assert inbox.status == DeliveryStatus.FAILED
    assert "last attempt" in inbox.last_error


@override_settings(NOTIFICATION_CLAIM_LEASE=60, NOTIFICATION_SWEEP_AFTER=30, NOTIFICATION_SWEEP_MAX_PER_RUN=2)
def test_sweeper_takes_batch_after_batch_up_to_its_limit_per_run(plan, setting):
    """After an outage the backlog drains at MAX_PER_RUN rows per sweep, not one batch."""
    record_check(plans=[plan], care_setting=setting)
    notification = _delivery(Channel.INBOX).notification
    for channel in (Channel.EMAIL, Channel.WEBHOOK):
        Delivery.objects.get_or_create(notification=notification, channel=channel)
    Delivery.objects.filter(notification=notification).update(next_attempt_at=timezone.now() - timedelta(minutes=5))
    assert Delivery.objects.filter(notification=notification).count() == 3

    with mock.patch("notifications.services.sweeper._SWEEP_BATCH", 1):
        first = delivery_sweep()
        second = delivery_sweep()
        third = delivery_sweep()

    assert len(first) == 2 and len(second) == 1 and third == []
    assert sorted(first + second) == sorted(
        Delivery.objects.filter(notification=notification).values_list("pk", flat=True)
    )
