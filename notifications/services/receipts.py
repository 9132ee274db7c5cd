"""GOV.UK Notify's delivery receipts for the e-mail channel (docs/notifications.md).

An e-mail carries a batch of deliveries (one LA's due ones, "N new notifications"); it is sent
with the reference `delivery-<first id of the batch>`, and before the send each delivery of the
batch records that first id (`email_batch`). A receipt therefore names every delivery its
e-mail carried, however many, without a list in the reference (Notify's references are short).

A receipt records Notify's final status on each of them. A failure (the mailbox does not
exist, is full, or Notify could not send) turns a SENT delivery FAILED: the e-mail never
reached the LA, so the failures page shows it and an admin can re-drive it, as any delivery
the worker gave up on. Every receipt recorded is audited.
"""

from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from notifications.email_backends import REFERENCE_PREFIX
from notifications.models import Channel, Delivery, DeliveryStatus, ReceiptStatus

_FAILURES = frozenset(
    {ReceiptStatus.PERMANENT_FAILURE, ReceiptStatus.TEMPORARY_FAILURE, ReceiptStatus.TECHNICAL_FAILURE}
)


class ReceiptRefused(ValueError):
    """The body is not a Notify delivery receipt: `reason` names the part that is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _batch_of(reference: object) -> int | None:
    """The batch's first delivery id from our reference; None for an e-mail that carried no
    deliveries (an invitation, a password reset) or a reference that is not ours."""
    if not isinstance(reference, str) or not reference.startswith(REFERENCE_PREFIX):
        return None
    number = reference.removeprefix(REFERENCE_PREFIX)
    return int(number) if number.isdigit() and len(number) <= 18 else None


def _when(body: dict[str, Any]) -> datetime:
    completed = body.get("completed_at")
    parsed = parse_datetime(completed) if isinstance(completed, str) and len(completed) <= 40 else None
    if parsed is None:
        return timezone.now()
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def email_receipt_record(*, body: object) -> int:
    """Records one Notify delivery receipt. Returns how many deliveries it named.

    1. check it is a receipt: an object with Notify's `id` and one of its final statuses;
    2. find the deliveries its reference names (none: not an e-mail of the outbox's);
    3. record the status and time on each; a failure fails those still SENT;
    4. audit it, with the deliveries' ids and Notify's id (no address, no name).
    """
    if not isinstance(body, dict):
        raise ReceiptRefused("not_an_object")
    notify_id, status = body.get("id"), body.get("status")
    if not isinstance(notify_id, str) or not 0 < len(notify_id) <= 64:
        raise ReceiptRefused("id")
    if status not in ReceiptStatus.values:
        raise ReceiptRefused("status")
    batch = _batch_of(body.get("reference"))
    if batch is None:
        return 0
    when = _when(body)
    with transaction.atomic():
        rows = Delivery.objects.filter(email_batch=batch, channel=Channel.EMAIL)
        ids = list(rows.order_by("id").values_list("pk", flat=True))
        if not ids:
            return 0
        rows.update(receipt_status=status, receipt_at=when)
        failed = 0
        if status in _FAILURES:
            failed = rows.filter(status=DeliveryStatus.SENT).update(
                status=DeliveryStatus.FAILED,
                failed_at=timezone.now(),
                last_error=f"GOV.UK Notify: {ReceiptStatus(status).label} ({status})",
            )
        first = Delivery.objects.select_related("notification__local_authority").get(pk=ids[0])
        audit_record(
            action=AuditAction.NOTIFICATION_EMAIL_RECEIPT,
            organisation=first.notification.local_authority,
            outcome=AuditOutcome.FAILURE if status in _FAILURES else AuditOutcome.SUCCESS,
            detail={"notify_id": notify_id, "status": status, "delivery_ids": ids, "failed": failed},
        )
    return len(ids)
