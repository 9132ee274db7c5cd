"""An upload sent by mesh-client as an LA arrives, is applied exactly as `import_plans` applies
it, and its acknowledgement comes back to the LA's mailbox."""

import csv
import io
import json

import pytest
from django.core.management import call_command
from mesh_client import MeshClient

from audit.models import AuditAction, AuditEvent, AuditOutcome
from mesh.models import (
    InboundStatus,
    MeshInboundMessage,
    MeshMailbox,
    MeshOutboundMessage,
    MeshPollState,
    OutboundStatus,
)
from mesh.services import mesh_poll
from mesh.services.inbound import poll_lease
from plans.models import Plan, PlanUpload, UploadStatus
from tests.mesh.conftest import LA001, LA002, SERVICE, STRANGER
from tests.plans.helpers import csv_bytes, row

pytestmark = pytest.mark.django_db


def test_upload_from_an_las_mailbox_is_applied_and_acknowledged(mesh, local_authority):
    mesh.send(LA001, csv_bytes([row(1), row(2), row(3, nhs_number="12")]), local_id="LA-SEQ-0001")

    result = mesh_poll()

    assert result.ran and len(result.received) == 1 and result.error == ""
    assert Plan.objects.filter(organisation=local_authority).count() == 2
    upload = PlanUpload.objects.get()
    assert (upload.status, upload.file_code, upload.organisation) == (UploadStatus.APPLIED, "CPF03", local_authority)
    assert mesh.inbox(SERVICE) == []  # acknowledged
    answers = {m["filename"].split("_")[1]: m for m in mesh.inbox(LA001)}
    assert set(answers) == {"acknowledgement", "rejected"}
    ack = json.loads(answers["acknowledgement"]["body"])
    assert answers["acknowledgement"]["workflowid"] == "CPIS_UPLOAD_ACK"
    assert answers["acknowledgement"]["localid"] == "LA-SEQ-0001:acknowledgement"
    assert ack["message_type"] == "upload_acknowledgement"
    assert ack["file_code"] == "CPF03" and ack["accepted"] == {"code": "CPR06", "count": 2}
    assert [(r["line"], r["code"]) for r in ack["rejected"]] == [(4, "CPR07")]
    assert ack["counts"]["rows"] == 3
    report = list(csv.reader(io.StringIO(answers["rejected"]["body"].decode())))
    assert report[1][:2] == ["4", "CPR07"]
    assert MeshOutboundMessage.objects.filter(status=OutboundStatus.SENT).count() == 2


def test_upload_through_mesh_matches_import_plans_on_the_same_file(
    mesh, local_authority, other_local_authority, tmp_path
):
    MeshMailbox.objects.create(local_authority=other_local_authority, mailbox_id=LA002)
    content = csv_bytes([row(1), row(2, plan_type="XX"), row(3, date_of_birth="not a date")])
    mesh.send(LA002, content)
    mesh_poll()
    path = tmp_path / "same.csv"
    path.write_bytes(content)
    out = io.StringIO()
    call_command("import_plans", "--organisation", local_authority.ods_code, str(path), stdout=out)

    printed = json.loads(out.getvalue())
    [answer, _rejected_rows] = sorted(mesh.inbox(LA002), key=lambda m: m["filename"])
    ack = json.loads(answer["body"])
    for key in ("file_code", "file_message", "counts", "accepted", "rejected", "identity"):
        assert ack[key] == printed[key], key
    assert ack["local_authority"] == other_local_authority.ods_code


def test_a_message_seen_before_is_acknowledged_and_never_applied_twice(mesh, local_authority, monkeypatch):
    mesh.send(LA001, csv_bytes([row(1)]))

    # The first poll stores the message and dies before MESH hears the acknowledgement.
    def lost(self, message_id):
        raise ConnectionError("connection reset")

    monkeypatch.setattr(MeshClient, "acknowledge_message", lost)
    first = mesh_poll()
    assert first.error and len(first.received) == 1
    assert len(mesh.inbox(SERVICE)) == 1
    monkeypatch.undo()
    MeshPollState.objects.update(next_poll_at=None)

    second = mesh_poll()

    assert second.received == [] and second.repeated == first.received
    assert mesh.inbox(SERVICE) == []
    assert PlanUpload.objects.count() == 1 and Plan.objects.count() == 1
    assert len(mesh.inbox(LA001)) == 1  # one acknowledgement, not two


def test_a_file_from_a_mailbox_of_no_la_is_refused_audited_and_answered(mesh):
    mesh.send(STRANGER, csv_bytes([row(1)]))

    mesh_poll()

    inbound = MeshInboundMessage.objects.get()
    assert inbound.status == InboundStatus.REFUSED and inbound.upload is None
    assert not PlanUpload.objects.exists() and not Plan.objects.exists()
    assert mesh.inbox(SERVICE) == []
    event = AuditEvent.objects.get(action=AuditAction.MESH_MESSAGE_REFUSED)
    assert event.outcome == AuditOutcome.DENIED and event.detail["sender"] == STRANGER
    [answer] = mesh.inbox(STRANGER)
    assert answer["workflowid"] == "CPIS_ERROR"
    body = json.loads(answer["body"])
    assert body["message_type"] == "error" and body["file_code"] == "CPF01"


def test_a_workflow_we_do_not_take_is_refused_and_answered(mesh):
    mesh.send(LA001, csv_bytes([row(1)]), workflow_id="SOMETHING_ELSE")

    mesh_poll()

    assert not PlanUpload.objects.exists()
    assert MeshInboundMessage.objects.get().status == InboundStatus.REFUSED
    assert AuditEvent.objects.filter(action=AuditAction.MESH_MESSAGE_REFUSED).exists()
    [answer] = mesh.inbox(LA001)
    assert json.loads(answer["body"])["message_type"] == "error"


def test_a_second_host_does_not_poll_while_one_is_polling(mesh):
    mesh.send(LA001, csv_bytes([row(1)]))
    other_host = poll_lease()
    assert other_host.acquire()
    try:
        assert mesh_poll().ran is False
        assert not MeshInboundMessage.objects.exists()
    finally:
        other_host.release()
    assert mesh_poll().ran is True


def test_a_25_mb_chunked_file_arrives_whole(mesh, local_authority, settings):
    settings.PLAN_UPLOAD_MAX_BYTES = 26 * 1024 * 1024
    # Long names (within their limits) make 25 MB of rows the pipeline accepts.
    long = {"family_name": "F" * 95, "la_reference": "R" * 50}
    count = 25 * 1024 * 1024 // len(csv_bytes([row(1, given_names="G" * 190, **long)]).splitlines()[1])
    big = csv_bytes([row(n, given_names="G" * 189 + chr(65 + n % 26), **long) for n in range(1, count + 1)])
    assert len(big) >= 25 * 1024 * 1024 - 1024
    mesh.send(LA001, big, max_chunk_size=5 * 1024 * 1024)
    [waiting] = mesh.inbox(SERVICE)
    assert waiting["chunk-range"] == f"1:{-(-len(big) // (5 * 1024 * 1024))}"

    mesh_poll()

    upload = PlanUpload.objects.get()
    assert (upload.size_bytes, upload.status, upload.file_code) == (len(big), UploadStatus.APPLIED, "CPF02")
    assert Plan.objects.count() == count
