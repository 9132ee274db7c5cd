"""The poll: our MESH inbox into uploads, and the answers back.

One poll at a time across hosts: a short lease in Redis that the running poll renews while it
works (mesh/lease.py), so a poller killed mid-poll holds the others up for at most
MESH_POLL_LEASE_SECONDS. Beat runs it every MESH_POLL_INTERVAL seconds. A failed poll (MESH
down, a 403 for a wrong password or key) backs off exponentially and is shown on the
service-health page and in /metrics.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from mesh_client import MeshClient

from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from mesh.client import mesh_client, mesh_enabled, mesh_error_summary
from mesh.formats import FileRefused, upload_format_for
from mesh.lease import Lease
from mesh.models import InboundStatus, MeshInboundMessage, MeshMailbox, MeshPollState
from mesh.services.answers import mesh_answers_write
from mesh.services.outbound import mesh_outbound_send_due
from mesh.services.reports import mesh_report_record
from plans.models import FileCode, PlanUpload, UploadStatus
from plans.uploads import plan_upload_apply, plan_upload_store

logger = logging.getLogger(__name__)

POLL_LEASE_KEY = "mesh:poll-lease"
# An upload in one of these has its final acknowledgement; QUEUED and HELD (PDS down) wait.
_FINISHED = {UploadStatus.APPLIED, UploadStatus.REFUSED, UploadStatus.FAILED}


@dataclass
class PollResult:
    ran: bool = False
    received: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    # Of `received`: MESH's reports on messages of ours (services/reports.py).
    reports: list[str] = field(default_factory=list)
    processed: int = 0
    sent: int = 0
    error: str = ""
    lease_lost: bool = False


def mesh_poll() -> PollResult:
    """One poll, if MESH is configured, no other host is polling and no back-off is running.

    1. list the inbox; for each message: a MESH id seen before is only acknowledged again (we
       crashed after storing it); a new one is downloaded (every chunk), stored with its
       upload or its refusal in one transaction, and then acknowledged;
    2. process what is stored and not yet processed: apply its upload, write its answers;
    3. send the answers that are due.
    """
    result = PollResult()
    if not mesh_enabled():
        return result
    lease = poll_lease()
    if not lease.acquire():
        return result
    with lease:
        state, _ = MeshPollState.objects.get_or_create(pk=1)
        if state.next_poll_at and state.next_poll_at > timezone.now():
            return result
        result.ran = True
        try:
            with mesh_client() as client:
                for message_id in client.list_messages(max_results=settings.MESH_POLL_MAX_MESSAGES):
                    if not lease.held:
                        # Another poller may have it now: what is left waits for its poll.
                        result.lease_lost = True
                        break
                    _take(client, message_id, result)
                if lease.held:
                    result.processed = mesh_inbound_process_stored()
                    result.sent = mesh_outbound_send_due(client=client)
        except Exception as error:
            result.error = mesh_error_summary(error)
            _record_failure(result.error)
            logger.warning("MESH poll failed: %s", result.error)
            # What was stored before the failure is still processed; its answers wait.
            result.processed += mesh_inbound_process_stored()
        else:
            MeshPollState.objects.filter(pk=1).update(
                last_success_at=timezone.now(), consecutive_failures=0, next_poll_at=None, last_error=""
            )
    return result


def poll_lease() -> Lease:
    return Lease(POLL_LEASE_KEY, seconds=settings.MESH_POLL_LEASE_SECONDS)


def _record_failure(summary: str) -> None:
    state = MeshPollState.objects.get(pk=1)
    failures = state.consecutive_failures + 1
    # 1, 2, 4 … poll intervals, at most an hour: a wrong password is not tried every minute.
    delay = min(settings.MESH_POLL_INTERVAL * 2 ** (failures - 1), 3600) if failures > 1 else 0
    MeshPollState.objects.filter(pk=1).update(
        consecutive_failures=failures,
        last_failure_at=timezone.now(),
        last_error=summary[:100],
        next_poll_at=timezone.now() + timedelta(seconds=delay) if delay else None,
    )


def _take(client: MeshClient, message_id: str, result: PollResult) -> None:
    """Stores one message, then acknowledges it. A crash between the two leaves the message in
    the inbox; the next poll finds its row and only acknowledges it."""
    seen = MeshInboundMessage.objects.filter(message_id=message_id).first()
    if seen is not None:
        result.repeated.append(message_id)
    else:
        message = client.retrieve_message(message_id)
        limit = settings.PLAN_UPLOAD_MAX_BYTES
        # One byte past the limit is enough to know it is too large; a compressed stream is
        # expanded only this far.
        content = message.read(limit + 1)
        seen = _store(message, message_id, content)
        result.received.append(message_id)
        if seen.status == InboundStatus.REPORT:
            result.reports.append(message_id)
    client.acknowledge_message(message_id)
    MeshInboundMessage.objects.filter(pk=seen.pk, acknowledged_at__isnull=True).update(acknowledged_at=timezone.now())


def _header(message: object, name: str) -> str:
    return str(getattr(message, name, None) or "")


def _mex(message: object, name: str) -> str:
    """A Mex- header mesh-client names no attribute for (`linkedmsgid`, `statuscode`, …)."""
    read = getattr(message, "mex_header", None)
    return str((read(name) if callable(read) else None) or "")


def _store(message: object, message_id: str, content: bytes) -> MeshInboundMessage:
    sender = _header(message, "sender").strip().upper()
    workflow = _header(message, "workflow_id")
    if _header(message, "message_type").upper() == "REPORT":
        # MESH's own report on a message of ours (services/reports.py): whoever it names as
        # sender and whatever its workflow, never a file, and never answered.
        return mesh_report_record(
            message_id=message_id, sender=sender, workflow_id=workflow, filename=_header(message, "filename"),
            local_id=_header(message, "local_id"), linked_message_id=_mex(message, "linkedmsgid"),
            code=_mex(message, "statuscode"), description=_mex(message, "statusdescription"),
            size_bytes=len(content),
        )  # fmt: skip
    filename = _header(message, "filename")[:255] or f"{message_id}.csv"
    mailbox = MeshMailbox.objects.select_related("local_authority").filter(mailbox_id=sender).first()
    la = mailbox.local_authority if mailbox and mailbox.local_authority.is_active else None
    inbound = MeshInboundMessage(
        message_id=message_id,
        sender=sender[:20],
        workflow_id=workflow[:100],
        filename=filename,
        local_id=_header(message, "local_id")[:255],
        size_bytes=len(content),
        local_authority=la,
    )
    refusal = ""
    if la is None:
        refusal = "This mailbox belongs to no local authority known to CP-IS."
    elif workflow != settings.MESH_WORKFLOW_UPLOAD:
        refusal = "CP-IS does not take messages with this workflow id."
    with transaction.atomic():
        if not refusal and la is not None:
            try:
                upload_format = upload_format_for(
                    filename=filename, content_type=_header(message, "content_type"), head=content[:512]
                )
                csv_content = upload_format.to_upload_csv(content)
            except FileRefused as refused:
                refusal = refused.message
            else:
                inbound.upload = plan_upload_store(
                    organisation=la, filename=filename, content=csv_content, source="mesh"
                )
        if refusal:
            inbound.status = InboundStatus.REFUSED
            inbound.file_code = FileCode.CPF01
            inbound.refusal = refusal[:300]
        inbound.save()
        audit_record(
            action=AuditAction.MESH_MESSAGE_REFUSED if refusal else AuditAction.MESH_MESSAGE_RECEIVED,
            organisation=la,
            outcome=AuditOutcome.DENIED if refusal else AuditOutcome.SUCCESS,
            detail={
                "mesh_message_id": message_id, "sender": inbound.sender, "workflow_id": inbound.workflow_id,
                "bytes": len(content), "upload_id": inbound.upload_id, **({"reason": refusal} if refusal else {}),
            },
        )  # fmt: skip
        if refusal:
            mesh_answers_write(inbound=inbound)
    return inbound


def mesh_inbound_process_stored() -> int:
    """Processes every stored message not yet processed; returns how many finished."""
    stored = MeshInboundMessage.objects.filter(status=InboundStatus.STORED).order_by("received_at")
    return sum(mesh_inbound_process(inbound_id=pk) for pk in stored.values_list("pk", flat=True))


def mesh_inbound_process(*, inbound_id: int) -> bool:
    """Applies a stored message's upload (all or nothing, once: `plan_upload_apply` takes only
    a QUEUED upload) and writes its answers once the upload has its final outcome."""
    inbound = MeshInboundMessage.objects.filter(pk=inbound_id, status=InboundStatus.STORED).first()
    if inbound is None or inbound.upload_id is None:
        return False
    if PlanUpload.objects.filter(pk=inbound.upload_id, status=UploadStatus.QUEUED).exists():
        plan_upload_apply(upload_id=inbound.upload_id)
    upload = PlanUpload.objects.defer("content").get(pk=inbound.upload_id)
    if upload.status not in _FINISHED:
        return False  # held for PDS (CPF05): the identity retry applies it, a later poll answers
    with transaction.atomic():
        if not MeshInboundMessage.objects.filter(pk=inbound.pk, status=InboundStatus.STORED).update(
            status=InboundStatus.PROCESSED, file_code=upload.file_code
        ):
            return False
        mesh_answers_write(inbound=inbound, upload=upload)
    return True
