"""One attempt at one delivery, as the worker runs it: claim, send through the channel, finish.

At-least-once and idempotent: a delivery is claimed by one worker with a conditional UPDATE,
finished only by the claim that holds it, retried with back-off, and failed after the last
attempt. An admin can re-drive a failed one.
"""

import logging
import uuid
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone

from audit.models import AuditAction
from audit.services import audit_record
from notifications.models import Delivery, DeliveryStatus
from notifications.services.channels import DeliveryChannel, delivery_channel
from notifications.services.fan_out import deliveries_hand_over

logger = logging.getLogger(__name__)


# A retry message may arrive a moment before its `next_attempt_at` (clocks, rounding).
_DUE_TOLERANCE = timedelta(seconds=1)


def _retry_delay(attempts: int) -> float:
    base = settings.NOTIFICATION_RETRY_BASE_SECONDS
    return float(min(settings.NOTIFICATION_RETRY_MAX_SECONDS, base * 2 ** max(0, attempts - 1)))


def _claimable(now: datetime) -> Q:
    return Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now + _DUE_TOLERANCE)


def _claim(*, delivery: Delivery, channel: DeliveryChannel, now: datetime) -> tuple[uuid.UUID, list[int]]:
    """Claims this delivery (and, for a channel that batches, e-mail, the LA's other due
    deliveries on it, so one message says "N new notifications"). Returns the claim token and
    the ids it holds.

    The claim is a conditional UPDATE (`WHERE status = 'pending' AND due`): of two workers
    given the same id, exactly one updates the row; the other sees 0 rows and stops.
    Attempts are counted here, at the claim, so a delivery that kills its worker every time
    still reaches FAILED instead of looping.
    """
    token = uuid.uuid4()
    claim = {"status": DeliveryStatus.SENDING, "claimed_at": now, "claim_token": token, "attempts": F("attempts") + 1}
    if not channel.batches:
        claimed = Delivery.objects.filter(_claimable(now), pk=delivery.pk).update(**claim)
        return token, [delivery.pk] if claimed else []
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                _claimable(now),
                channel=delivery.channel,
                notification__local_authority_id=delivery.notification.local_authority_id,
            )
            .order_by("id")
            .values_list("pk", flat=True)[:200]
        )
        if delivery.pk not in ids:
            # Another worker's batch holds it (or it is not due, or it is done).
            return token, []
        Delivery.objects.filter(pk__in=ids).update(**claim)
    return token, ids


def _finish_sent(
    *, delivery: Delivery, channel: DeliveryChannel, ids: list[int], token: uuid.UUID, status: int | None = None
) -> None:
    now = timezone.now()
    with transaction.atomic():
        finished = Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENDING, claim_token=token).update(
            status=DeliveryStatus.SENT, sent_at=now, last_error="", response_status=status
        )
        if finished:
            channel.delivered(delivery=delivery, now=now)
    if finished < len(ids):
        # Our lease ran out and the sweeper handed the row to another worker, which will send
        # it again (the webhook receiver drops the repeat by its delivery id).
        logger.warning("Delivery claim lost before it finished: ids %s", ids)


def _finish_failed(*, ids: list[int], token: uuid.UUID, error: str, status: int | None = None) -> float | None:
    """Back to PENDING with back-off, or FAILED after the last attempt. Returns the delay
    before the next attempt, or None if none is due."""
    now = timezone.now()
    delay = None
    for row in Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.SENDING, claim_token=token):
        if row.attempts >= settings.NOTIFICATION_DELIVERY_MAX_ATTEMPTS:
            Delivery.objects.filter(pk=row.pk, claim_token=token).update(
                status=DeliveryStatus.FAILED,
                failed_at=now,
                last_error=error[:500],
                claim_token=None,
                response_status=status,
            )
            logger.error("Delivery %s failed after %s attempts: %s", row.pk, row.attempts, error)
            continue
        row_delay = _retry_delay(row.attempts)
        Delivery.objects.filter(pk=row.pk, claim_token=token).update(
            status=DeliveryStatus.PENDING,
            next_attempt_at=now + timedelta(seconds=row_delay),
            last_error=error[:500],
            claim_token=None,
            response_status=status,
        )
        delay = row_delay if delay is None else min(delay, row_delay)
    return delay


def delivery_attempt(*, delivery_id: int) -> float | None:
    """One attempt at one delivery: what the worker's task runs. Returns seconds until the next
    attempt if this one failed and another is due, else None.

    1. claim it (nothing to do if another worker holds it, or it is not due, or it is done);
    2. send it through its channel (`channels.py`);
    3. mark it SENT, or PENDING with back-off, or FAILED after the last attempt.
    """
    delivery = (
        Delivery.objects.select_related("notification__local_authority", "notification__care_setting")
        .filter(pk=delivery_id)
        .first()
    )
    if delivery is None:
        return None
    channel = delivery_channel(delivery.channel)
    token, ids = _claim(delivery=delivery, channel=channel, now=timezone.now())
    if not ids:
        return None
    try:
        status = channel.send(delivery=delivery, ids=ids)
    except Exception as exc:  # noqa: BLE001 - any channel failure is retried, then recorded
        error = f"{type(exc).__name__}: {exc}"
        logger.warning("Delivery %s (%s) attempt failed: %s", delivery_id, delivery.channel, error)
        return _finish_failed(ids=ids, token=token, error=error, status=getattr(exc, "status", None))
    _finish_sent(delivery=delivery, channel=channel, ids=ids, token=token, status=status)
    return None


def delivery_retry(*, delivery: Delivery, request: HttpRequest) -> bool:
    """An admin's re-drive of a FAILED delivery: back to PENDING with fresh attempts."""
    with transaction.atomic():
        retried = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), failed_at=None
        )
        if retried:
            audit_record(
                action=AuditAction.NOTIFICATION_DELIVERY_RETRIED,
                request=request,
                detail={"delivery_id": delivery.pk, "notification_id": delivery.notification_id},
            )
            # An admin's request: published through the broker's breaker, like a check's.
            transaction.on_commit(partial(deliveries_hand_over, delivery_ids=[delivery.pk]), robust=True)
    return bool(retried)
