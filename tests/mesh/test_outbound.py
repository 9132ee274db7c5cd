"""The outbox of answers: a send that fails waits with back-off, is sent once MESH is back,
and is `failed` (and shown to operators) after its last attempt."""

import pytest
from django.utils import timezone

from mesh.formats import ANSWER_FORMAT
from mesh.models import MeshOutboundMessage, OutboundKind, OutboundStatus
from mesh.services import mesh_outbound_send_due
from operations.mesh_state import mesh_state
from tests.mesh.conftest import LA001

pytestmark = pytest.mark.django_db


# A refused file's acknowledgement, as answers.py writes one (the LA's inbox checks it against
# its schema).
BODY = ANSWER_FORMAT.acknowledgement(
    {
        "upload_id": None, "local_authority": "LA001", "status": "refused", "file_code": "CPF01",
        "file_message": "The file is empty.", "counts": {}, "accepted": {"code": "CPR06", "count": 0},
        "rejected": [], "identity": None, "mesh_message_id": "SEQ-1", "filename": "plans.csv",
    }
)  # fmt: skip


def _answer(local_authority) -> MeshOutboundMessage:
    return MeshOutboundMessage.objects.create(
        kind=OutboundKind.ACKNOWLEDGEMENT, local_authority=local_authority, recipient=LA001,
        workflow_id="CPIS_UPLOAD_ACK", filename="ack.json", local_id="SEQ-1:acknowledgement",
        content_type="application/json", content=BODY,
    )  # fmt: skip


def test_an_answer_that_cannot_be_sent_waits_and_goes_once_mesh_is_back(mesh, local_authority, settings):
    answer = _answer(local_authority)
    url = settings.MESH_URL
    settings.MESH_URL = "http://127.0.0.1:9"

    assert mesh_outbound_send_due() == 0

    answer.refresh_from_db()
    assert (answer.status, answer.attempts) == (OutboundStatus.PENDING, 1)
    assert "ConnectionError" in answer.last_error and answer.next_attempt_at > timezone.now()
    assert mesh_outbound_send_due() == 0 and MeshOutboundMessage.objects.get().attempts == 1  # backing off
    settings.MESH_URL = url
    MeshOutboundMessage.objects.update(next_attempt_at=timezone.now())

    assert mesh_outbound_send_due() == 1

    answer.refresh_from_db()
    assert answer.status == OutboundStatus.SENT and answer.mesh_message_id and bytes(answer.content) == b""
    [received] = mesh.inbox(LA001)
    assert received["localid"] == "SEQ-1:acknowledgement" and received["body"] == BODY


def test_an_answer_fails_after_its_last_attempt_and_operators_see_it(mesh, local_authority, settings):
    settings.MESH_SEND_MAX_ATTEMPTS = 2
    settings.MESH_URL = "http://127.0.0.1:9"
    _answer(local_authority)
    for _ in range(2):
        MeshOutboundMessage.objects.update(next_attempt_at=timezone.now())
        mesh_outbound_send_due()
    assert MeshOutboundMessage.objects.get().status == OutboundStatus.FAILED
    assert mesh_state().answers_failed_by_mailbox == [(LA001, 1)]
