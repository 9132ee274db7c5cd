"""A notification's delivery by MESH: the MESH delivery channel's send
(notifications/services/channels.py), beside the inbox, e-mail and webhook."""

from django.conf import settings

from mesh.client import mesh_client, mesh_error_summary
from mesh.models import MeshNotificationSent
from mesh.services.reports import UNDELIVERED

# Tracking states that mean MESH holds (or has delivered) the message: no second copy.
_HELD = {"accepted", "acknowledged", "delivered", "uploaded"}


class MeshSendFailed(Exception):
    """A MESH send failed; the text is the error's class and status only (no credentials)."""


def mesh_notification_send(*, delivery_id: int, local_authority_id: int, recipient: str, body: bytes) -> str:
    """Sends one notification to the LA's mailbox, once; returns the MESH message id.

    1. a delivery already sent (a retry after its worker died) is tracked, not sent again,
       unless MESH no longer holds it or reported it undelivered;
    2. otherwise sent, with Mex-LocalID our delivery id, so the LA recognises a repeat;
    3. the message id is recorded at once (autocommit), then its tracking status.
    """
    try:
        with mesh_client() as client:
            sent = MeshNotificationSent.objects.filter(delivery_id=delivery_id).first()
            # One MESH reported undelivered (reports.py) is sent anew, whatever its tracking says.
            if sent is not None and sent.tracked_status != UNDELIVERED:
                status = str(client.track_message(sent.message_id).get("status") or "").lower()
                if status in _HELD:
                    MeshNotificationSent.objects.filter(pk=sent.pk).update(tracked_status=status)
                    return sent.message_id
            message_id = str(
                client.send_message(
                    recipient,
                    body,
                    workflow_id=settings.MESH_WORKFLOW_NOTIFICATION,
                    filename=f"cpis_notification_{delivery_id}.json",
                    local_id=str(delivery_id),
                    content_type="application/json",
                )
            )
            MeshNotificationSent.objects.update_or_create(
                delivery_id=delivery_id,
                defaults={"message_id": message_id, "local_authority_id": local_authority_id, "tracked_status": ""},
            )
            status = str(client.track_message(message_id).get("status") or "")
            MeshNotificationSent.objects.filter(delivery_id=delivery_id).update(tracked_status=status[:40])
            return message_id
    except Exception as error:
        raise MeshSendFailed(mesh_error_summary(error)) from error
