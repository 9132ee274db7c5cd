"""MESH's reports on the MESH delivery channel (mesh/services/reports.py): a notification MESH
reports undelivered (the LA did not collect it in time, or MESH refused it in transfer) never
reached the LA's case system, so its delivery turns FAILED, as after an e-mail's failed
receipt: the failed deliveries page shows it, with MESH's code, and an admin can send it again."""

from typing import Any

from django.utils import timezone

from notifications.models import Channel, Delivery, DeliveryStatus


def mesh_notification_undelivered_receive(sender: Any, *, delivery_id: int, reason: str, **kwargs: Any) -> int:
    """Fails the MESH delivery the report names, if it is SENT; returns how many (0 or 1). One
    being sent again (PENDING, SENDING) is left to that attempt."""
    return Delivery.objects.filter(pk=delivery_id, channel=Channel.MESH, status=DeliveryStatus.SENT).update(
        status=DeliveryStatus.FAILED, failed_at=timezone.now(), last_error=reason[:500], claim_token=None
    )
