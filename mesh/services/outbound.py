"""Sending the MESH outbox: each answer once it is committed, again with back-off after a
failure (an outage, a 403), and `FAILED` after MESH_SEND_MAX_ATTEMPTS, shown to admins.

MESH has no idempotency key of its own; our `local_id` (Mex-LocalID) is stable across retries,
so an LA's system can recognise a repeat if a send reached MESH and we did not hear back.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from mesh_client import MeshClient

from mesh.client import mesh_client, mesh_error_summary
from mesh.models import MeshOutboundMessage, OutboundStatus

logger = logging.getLogger(__name__)


def _retry_delay(attempt: int) -> timedelta:
    base = settings.NOTIFICATION_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** max(attempt - 1, 0), settings.NOTIFICATION_RETRY_MAX_SECONDS))


def mesh_outbound_send(*, outbound_id: int, client: MeshClient | None = None) -> bool:
    """Sends one pending answer if it is due; returns whether it was sent.

    1. claim it: attempts + 1 and the next attempt pushed past the send (a conditional UPDATE,
       so two pollers never both send it);
    2. send it, outside any transaction;
    3. record SENT with MESH's message id, or the error (class and status only).
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = MeshOutboundMessage.objects.filter(
            pk=outbound_id, status=OutboundStatus.PENDING, next_attempt_at__lte=now
        ).update(attempts=F("attempts") + 1, next_attempt_at=now + timedelta(seconds=settings.MESH_TIMEOUT * 4))
    if not claimed:
        return False
    outbound = MeshOutboundMessage.objects.get(pk=outbound_id)
    try:
        if client is None:
            with mesh_client() as own:
                message_id = _send(own, outbound)
        else:
            message_id = _send(client, outbound)
    except Exception as error:
        summary = mesh_error_summary(error)
        logger.warning("MESH send %s failed (attempt %s): %s", outbound.pk, outbound.attempts, summary)
        last = outbound.attempts >= settings.MESH_SEND_MAX_ATTEMPTS
        MeshOutboundMessage.objects.filter(pk=outbound.pk).update(
            status=OutboundStatus.FAILED if last else OutboundStatus.PENDING,
            next_attempt_at=timezone.now() + _retry_delay(outbound.attempts),
            last_error=summary[:300],
        )
        return False
    MeshOutboundMessage.objects.filter(pk=outbound.pk).update(
        status=OutboundStatus.SENT, sent_at=timezone.now(), mesh_message_id=message_id, last_error="", content=b""
    )
    return True


def _send(client: MeshClient, outbound: MeshOutboundMessage) -> str:
    return str(
        client.send_message(
            outbound.recipient,
            bytes(outbound.content),
            workflow_id=outbound.workflow_id,
            filename=outbound.filename,
            local_id=outbound.local_id,
            content_type=outbound.content_type,
        )
    )


def mesh_outbound_send_due(*, client: MeshClient | None = None, limit: int = 500) -> int:
    """Sends every answer that is due (the poll's sweep); returns how many were sent."""
    due = list(
        MeshOutboundMessage.objects.filter(status=OutboundStatus.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(mesh_outbound_send(outbound_id=pk, client=client) for pk in due)
