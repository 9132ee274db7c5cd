"""The MESH delivery channel: a check of a child on an LA's plan reaches the LA's MESH inbox,
through the same outbox, retries and sweeper as the inbox, e-mail and webhook."""

import json
import time

import pytest
from django.db import transaction
from django.utils import timezone

from demo.mesh.sandbox import Sandbox
from mesh.models import MeshMailbox, MeshNotificationSent
from notifications.models import Channel, Delivery, DeliveryStatus, Notification
from notifications.services import delivery_attempt
from notifications.services.inactive import notification_record_inactive_nhs_number
from tests.mesh.conftest import LA001, MAILBOXES, MeshWorld
from tests.notifications.checks import child_on_plan, record_check

pytestmark = pytest.mark.django_db


def _mesh_delivery(notification: Notification) -> Delivery:
    return Delivery.objects.get(notification=notification, channel=Channel.MESH)


def test_a_check_of_a_child_on_the_las_plan_reaches_the_las_mesh_inbox(mesh, local_authority, care_setting):
    plan = child_on_plan(local_authority)
    record_check(plans=[plan], care_setting=care_setting)
    notification = Notification.objects.get(nhs_number=plan.nhs_number)
    delivery = _mesh_delivery(notification)

    delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    [message] = mesh.inbox(LA001)
    assert message["workflowid"] == "CPIS_NOTIFICATION"
    assert message["localid"] == str(delivery.pk)
    body = json.loads(message["body"])
    assert body["message_type"] == "notification" and body["kind"] == "attendance"
    assert body["delivery_id"] == delivery.pk and body["child"]["nhs_number"] == plan.nhs_number
    assert body["care_setting"]["ods_code"] == care_setting.ods_code
    sent = MeshNotificationSent.objects.get(delivery_id=delivery.pk)
    assert sent.message_id == message["id"] and sent.tracked_status == "accepted"


def test_a_retried_delivery_that_mesh_already_holds_is_not_sent_twice(mesh, local_authority, care_setting):
    plan = child_on_plan(local_authority)
    record_check(plans=[plan], care_setting=care_setting)
    delivery = _mesh_delivery(Notification.objects.get(nhs_number=plan.nhs_number))
    delivery_attempt(delivery_id=delivery.pk)
    # The worker died after MESH took the message and before the row was marked sent.
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.PENDING, sent_at=None)

    delivery_attempt(delivery_id=delivery.pk)

    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.SENT
    assert len(mesh.inbox(LA001)) == 1


def test_an_inactive_number_notification_goes_by_mesh_too(mesh, local_authority):
    plan = child_on_plan(local_authority)
    with transaction.atomic():
        notification_record_inactive_nhs_number(
            nhs_number=plan.nhs_number, reason="invalidated", replacement="", now=timezone.now()
        )
    delivery = _mesh_delivery(Notification.objects.get(nhs_number=plan.nhs_number))
    delivery_attempt(delivery_id=delivery.pk)
    [message] = mesh.inbox(LA001)
    body = json.loads(message["body"])
    assert body["kind"] == "inactive_nhs_number" and body["inactive"]["reason"] == "invalidated"


def test_no_mesh_delivery_for_an_la_without_a_mailbox_or_with_mesh_off(
    mesh, local_authority, other_local_authority, care_setting, settings
):
    other = child_on_plan(other_local_authority)
    record_check(plans=[other], care_setting=care_setting)
    assert not Delivery.objects.filter(channel=Channel.MESH).exists()
    settings.MESH_URL = ""
    plan = child_on_plan(local_authority)
    record_check(plans=[plan], care_setting=care_setting)
    assert not Delivery.objects.filter(channel=Channel.MESH).exists()
    assert MeshMailbox.objects.filter(local_authority=local_authority).exists()


def test_mesh_stopped_for_30_seconds_delays_notifications_and_loses_none(
    tmp_path, settings, local_authority, care_setting
):
    # Its own sandbox: stopping the session's would disturb the other tests.
    sandbox = Sandbox(directory=tmp_path, mailboxes=MAILBOXES)
    sandbox.start()
    try:
        settings.MESH_URL, settings.MESH_MAILBOX_ID = sandbox.url, "X26CPIS01"
        settings.MESH_PASSWORD, settings.MESH_SHARED_KEY, settings.MESH_TIMEOUT = "password", sandbox.shared_key, 2.0
        settings.NOTIFICATION_RETRY_BASE_SECONDS, settings.NOTIFICATION_RETRY_MAX_SECONDS = 2, 8
        MeshMailbox.objects.create(local_authority=local_authority, mailbox_id=LA001)
        world = MeshWorld(sandbox=sandbox)
        port = sandbox.port
        sandbox.stop()
        stopped_at = time.monotonic()
        plans = [child_on_plan(local_authority) for _ in range(3)]
        for plan in plans:
            record_check(plans=[plan], care_setting=care_setting)
        ids = list(Delivery.objects.filter(channel=Channel.MESH).values_list("pk", flat=True))
        assert len(ids) == 3
        while time.monotonic() - stopped_at < 30:
            for pk in ids:
                delivery_attempt(delivery_id=pk)
            time.sleep(1)
        assert not Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENT).exists()
        assert Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.FAILED).count() == 0
        assert "MeshSendFailed" in Delivery.objects.get(pk=ids[0]).last_error

        sandbox.port = port
        sandbox.start()
        deadline = time.monotonic() + 30
        while Delivery.objects.filter(pk__in=ids).exclude(status=DeliveryStatus.SENT).exists():
            assert time.monotonic() < deadline, "not delivered after MESH came back"
            for pk in ids:
                delivery_attempt(delivery_id=pk)  # each when its back-off has passed
            time.sleep(0.5)
        messages = world.inbox(LA001)
        assert sorted(int(m["localid"]) for m in messages) == sorted(ids)
    finally:
        sandbox.stop()
