"""MESH's reports on what we sent: a message not collected in time (undeliverable) or refused
in transfer (an error) comes back to our inbox as a REPORT, with the MESH id of our message
(Mex-LinkedMsgID) and its local id.

A report is recorded and acknowledged like any message, but never read as a file and never
answered. It is matched to the message it is about, by its MESH id, else by its local id:

- an answer to an LA's file (`MeshOutboundMessage`): marked `failed`, with MESH's code, so the
  service-health page counts it among the answers failed by mailbox;
- a notification (`MeshNotificationSent`): its tracking state is set `undeliverable`, and the
  notifications app fails its MESH delivery through a signal (mesh/signals.py), so the failed
  deliveries page shows it and an admin can send it again, as one the worker gave up on.
  Sent again, it is a new MESH message (mesh/services/notifications.py tracks no reported one).

Every report is audited (*MESH report*, outcome failure), matched or not.
"""

import logging

from django.db import transaction

from accounts.models import Organisation
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from mesh.models import InboundStatus, MeshInboundMessage, MeshNotificationSent, MeshOutboundMessage, OutboundStatus
from mesh.signals import mesh_notification_undelivered

logger = logging.getLogger(__name__)

# The tracking state a reported notification is given: `mesh_notification_send` sends it anew.
UNDELIVERED = "undeliverable"


def _answer_for(linked_message_id: str, local_id: str) -> MeshOutboundMessage | None:
    if linked_message_id:
        found = MeshOutboundMessage.objects.defer("content").filter(mesh_message_id=linked_message_id).first()
        if found is not None:
            return found
    if local_id and not linked_message_id:
        # An LA's local id need not be unique across its files: only an unambiguous one matches.
        candidates = list(
            MeshOutboundMessage.objects.defer("content").filter(local_id=local_id, status=OutboundStatus.SENT)[:2]
        )
        if len(candidates) == 1:
            return candidates[0]
    return None


def _notification_for(linked_message_id: str, local_id: str) -> MeshNotificationSent | None:
    if linked_message_id:
        found = MeshNotificationSent.objects.filter(message_id=linked_message_id).first()
        if found is not None:
            return found
    # A notification's local id is its delivery id alone; an answer's always has a ":kind".
    if local_id.isdigit() and len(local_id) <= 18 and not linked_message_id:
        return MeshNotificationSent.objects.filter(delivery_id=int(local_id)).first()
    return None


def mesh_report_record(
    *,
    message_id: str,
    sender: str,
    workflow_id: str,
    filename: str,
    local_id: str,
    linked_message_id: str,
    code: str,
    description: str,
    size_bytes: int,
) -> MeshInboundMessage:
    """Records one report, in one transaction with what it changes; returns its row."""
    reason = f"MESH report {code or '-'}: {description or 'no description'}"
    matched: dict[str, object] = {}
    local_authority: Organisation | None = None
    with transaction.atomic():
        answer = _answer_for(linked_message_id, local_id)
        notification = None if answer is not None else _notification_for(linked_message_id, local_id)
        if answer is not None:
            failed = MeshOutboundMessage.objects.filter(pk=answer.pk, status=OutboundStatus.SENT).update(
                status=OutboundStatus.FAILED, last_error=reason[:300]
            )
            local_authority = answer.local_authority
            matched = {"answer_id": answer.pk, "kind": answer.kind, "failed": failed}
        elif notification is not None:
            MeshNotificationSent.objects.filter(pk=notification.pk).update(tracked_status=UNDELIVERED)
            answers = mesh_notification_undelivered.send(
                sender=MeshNotificationSent, delivery_id=notification.delivery_id, reason=reason[:500]
            )
            local_authority = notification.local_authority
            matched = {"delivery_id": notification.delivery_id, "failed": sum(int(n or 0) for _, n in answers)}
        else:
            logger.warning("MESH report %s matches no message of ours (linked %r)", message_id, linked_message_id)
        inbound = MeshInboundMessage.objects.create(
            message_id=message_id,
            sender=sender[:20],
            workflow_id=workflow_id[:100],
            filename=filename[:255],
            local_id=local_id[:255],
            size_bytes=size_bytes,
            local_authority=local_authority,
            status=InboundStatus.REPORT,
            linked_message_id=linked_message_id[:100],
            report_code=code[:10],
            report_description=description[:300],
        )
        audit_record(
            action=AuditAction.MESH_REPORT_RECEIVED,
            organisation=local_authority,
            outcome=AuditOutcome.FAILURE,
            detail={
                "mesh_message_id": message_id, "linked_message_id": linked_message_id, "local_id": local_id[:255],
                "workflow_id": workflow_id[:100], "code": code[:10], "matched": matched or None,
            },
        )  # fmt: skip
    return inbound
