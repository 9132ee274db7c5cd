"""MESH's reports (`Mex-MessageType: REPORT`) on messages we sent, made by mesh-sandbox's own
report endpoint, as live MESH makes them for a message left uncollected for 5 days (an
undeliverable report) or refused in transfer (an error report). Each is matched to our message,
recorded, audited, acknowledged, never read as a file and never answered."""

import json
import urllib.request

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditAction, AuditEvent, AuditOutcome
from mesh.models import InboundStatus, MeshInboundMessage, MeshNotificationSent, MeshOutboundMessage, OutboundStatus
from mesh.services import mesh_poll
from notifications.models import Channel, Delivery, DeliveryStatus, Notification
from notifications.services import delivery_attempt
from operations.mesh_state import mesh_state
from plans.models import PlanUpload
from tests.conftest import signed_in
from tests.factories import user_with_role
from tests.mesh.conftest import LA001, SERVICE
from tests.notifications.checks import child_on_plan, record_check
from tests.plans.helpers import csv_bytes, row

pytestmark = pytest.mark.django_db


def _report(mesh, **fields) -> str:
    """A report into our inbox through mesh-sandbox's admin endpoint; returns its MESH id."""
    body = json.dumps({"mailbox_id": SERVICE, "code": "", "description": "", **fields}).encode()
    request = urllib.request.Request(
        f"{mesh.sandbox.url}/messageexchange/admin/report", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the test's own sandbox
        return json.loads(response.read())["message_id"]


def _sent_notification(local_authority, care_setting) -> tuple[Delivery, MeshNotificationSent]:
    plan = child_on_plan(local_authority)
    record_check(plans=[plan], care_setting=care_setting)
    delivery = Delivery.objects.get(
        notification=Notification.objects.get(nhs_number=plan.nhs_number), channel=Channel.MESH
    )
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    return delivery, MeshNotificationSent.objects.get(delivery_id=delivery.pk)


def test_an_undeliverable_report_on_a_notification_fails_its_delivery_for_admins_to_send_again(
    mesh, local_authority, care_setting, django_capture_on_commit_callbacks
):
    delivery, sent = _sent_notification(local_authority, care_setting)
    report_id = _report(
        mesh, status="undeliverable", workflow_id="CPIS_NOTIFICATION", local_id=str(delivery.pk),
        linked_message_id=sent.message_id,
    )  # fmt: skip
    [waiting] = [m for m in mesh.inbox(SERVICE) if m["id"] == report_id]
    assert waiting["messagetype"] == "REPORT" and waiting["linkedmsgid"] == sent.message_id

    result = mesh_poll()

    assert result.error == "" and result.reports == [report_id]
    assert mesh.inbox(SERVICE) == []  # acknowledged
    report = MeshInboundMessage.objects.get(message_id=report_id)
    assert (report.status, report.linked_message_id, report.upload_id) == (InboundStatus.REPORT, sent.message_id, None)
    assert report.report_code and report.local_authority == local_authority and report.acknowledged_at
    assert not PlanUpload.objects.exists() and not MeshOutboundMessage.objects.exists()  # no file, no answer
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.failed_at is not None
    assert delivery.last_error.startswith(f"MESH report {report.report_code}:")
    event = AuditEvent.objects.get(action=AuditAction.MESH_REPORT_RECEIVED)
    assert event.outcome == AuditOutcome.FAILURE and event.organisation == local_authority
    assert event.detail["matched"] == {"delivery_id": delivery.pk, "failed": 1}

    # The LA's admin sees it among the failed deliveries and sends it again: a new MESH message.
    admin = signed_in(Client(), user_with_role("org_admin", local_authority))
    assert "MESH report" in admin.get(reverse("notifications:deliveries_failed")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(reverse("notifications:delivery_retry", kwargs={"delivery_id": delivery.pk}))
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    again = MeshNotificationSent.objects.get(delivery_id=delivery.pk)
    assert again.message_id != sent.message_id and again.tracked_status == "accepted"
    copies = mesh.inbox(LA001)
    assert sorted(m["id"] for m in copies) == sorted([sent.message_id, again.message_id])
    assert {m["localid"] for m in copies} == {str(delivery.pk)}  # the LA drops the repeat by it


def test_an_error_report_on_an_acknowledgement_fails_the_answer_and_operators_see_it(mesh, local_authority):
    mesh.send(LA001, csv_bytes([row(1)]), local_id="LA-SEQ-9")
    mesh_poll()
    answer = MeshOutboundMessage.objects.get()
    assert answer.status == OutboundStatus.SENT
    report_id = _report(
        mesh, status="error", code="06", description="Malformed control file", workflow_id="CPIS_UPLOAD_ACK",
        local_id=answer.local_id, linked_message_id=answer.mesh_message_id, file_name=answer.filename,
    )  # fmt: skip

    result = mesh_poll()

    assert result.reports == [report_id] and mesh.inbox(SERVICE) == []
    answer.refresh_from_db()
    assert answer.status == OutboundStatus.FAILED and answer.last_error == "MESH report 06: Malformed control file"
    assert mesh_state().answers_failed_by_mailbox == [(LA001, 1)]
    assert mesh_state().reports_recent == 1 and mesh_state(local_authority=local_authority).reports_recent == 1
    national = signed_in(Client(), user_with_role("national_admin"))
    page = national.get(reverse("operations:service_health")).content.decode()
    assert 'data-testid="mesh-reports">1<' in page
    # The LA's last file is still its plan file, not MESH's report.
    [la_state] = mesh_state(local_authority=local_authority).local_authorities
    assert la_state.last_file is not None and la_state.last_file.status == InboundStatus.PROCESSED
    assert PlanUpload.objects.count() == 1 and MeshOutboundMessage.objects.count() == 1
    assert len(mesh.inbox(LA001)) == 1  # the acknowledgement only; nothing answers a report


def test_a_report_matched_by_local_id_alone_still_fails_its_delivery(mesh, local_authority, care_setting):
    delivery, _sent = _sent_notification(local_authority, care_setting)
    _report(mesh, status="undeliverable", workflow_id="CPIS_NOTIFICATION", local_id=str(delivery.pk))

    mesh_poll()

    assert Delivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED


def test_a_report_about_nothing_of_ours_is_recorded_and_acknowledged_never_read_as_a_file(mesh, local_authority):
    # It names the upload workflow and an LA's local id: still MESH's report, not a plan file.
    report_id = _report(
        mesh, status="error", code="14", description="Undelivered message", workflow_id="CPIS_UPLOAD",
        local_id="LA-SEQ-1", linked_message_id="20261207000000000000_UNKNOWN", file_name="plans.csv",
    )  # fmt: skip

    result = mesh_poll()

    assert result.error == "" and result.reports == [report_id] and mesh.inbox(SERVICE) == []
    report = MeshInboundMessage.objects.get()
    assert (report.status, report.local_authority, report.upload) == (InboundStatus.REPORT, None, None)
    assert not PlanUpload.objects.exists() and not MeshOutboundMessage.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.MESH_REPORT_RECEIVED)
    assert event.detail["matched"] is None and event.detail["code"] == "14"
    assert not AuditEvent.objects.filter(action=AuditAction.MESH_MESSAGE_REFUSED).exists()
    # Seen again (a crash before the acknowledgement reached MESH): only acknowledged again.
    assert mesh_poll().received == []
