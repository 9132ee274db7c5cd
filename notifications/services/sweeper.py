"""The sweeper (run by beat): re-dispatches deliveries whose message was lost or whose worker died."""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.models import Delivery, DeliveryStatus
from notifications.services.fan_out import delivery_dispatch

logger = logging.getLogger(__name__)


_SWEEP_BATCH = 500


def delivery_sweep() -> list[int]:
    """Re-dispatches what is undelivered; returns the ids dispatched. Run by beat.

    1. lock a batch of stuck rows with `SELECT … FOR UPDATE SKIP LOCKED` (two sweepers, or a
       sweeper and a worker's claim, never wait on each other or take the same row):
       - PENDING and due for longer than NOTIFICATION_SWEEP_AFTER: its message was never
         published (Redis was down) or was lost;
       - SENDING with a claim older than NOTIFICATION_CLAIM_LEASE: its worker died mid-send;
    2. give a dead worker's row back (PENDING), or record it FAILED if that was its last
       attempt; restart each row's clock, so it is re-dispatched at most once per SWEEP_AFTER;
    3. on commit, publish a task per row (a repeat of a still-queued message is harmless:
       only one claim succeeds);
    4. while batches come back full, take the next, up to NOTIFICATION_SWEEP_MAX_PER_RUN rows:
       after an outage the backlog drains at up to that many rows per sweep interval, not
       one batch (see docs/performance.md, "Delivery").
    """
    now = timezone.now()
    dispatched: list[int] = []
    while len(dispatched) < settings.NOTIFICATION_SWEEP_MAX_PER_RUN:
        limit = min(_SWEEP_BATCH, settings.NOTIFICATION_SWEEP_MAX_PER_RUN - len(dispatched))
        found, ids = _sweep_batch(now=now, limit=limit)
        dispatched += ids
        if found < limit:
            break
    if dispatched:
        logger.info("Sweeper re-dispatched %d deliveries", len(dispatched))
    return dispatched


def _sweep_batch(*, now: datetime, limit: int) -> tuple[int, list[int]]:
    """One batch of the sweep, in its own transaction; returns how many rows it locked and the
    ids it re-dispatched. A row it re-dispatches starts its clock again, so a later batch of
    the same sweep never takes it."""
    stuck = Q(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now - timedelta(seconds=settings.NOTIFICATION_SWEEP_AFTER)
    )
    dead = Q(status=DeliveryStatus.SENDING, claimed_at__lt=now - timedelta(seconds=settings.NOTIFICATION_CLAIM_LEASE))
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(stuck | dead)
            .order_by("next_attempt_at")
            .values_list("pk", "status", "attempts")[:limit]
        )
        exhausted = [
            pk
            for pk, status, attempts in rows
            if status == DeliveryStatus.SENDING and attempts >= settings.NOTIFICATION_DELIVERY_MAX_ATTEMPTS
        ]
        if exhausted:
            Delivery.objects.filter(pk__in=exhausted).update(
                status=DeliveryStatus.FAILED,
                failed_at=now,
                claim_token=None,
                last_error="The worker stopped during the last attempt.",
            )
            logger.error("Deliveries %s failed: the worker stopped during their last attempt", exhausted)
        revived = [pk for pk, status, _ in rows if status == DeliveryStatus.SENDING and pk not in exhausted]
        if revived:
            Delivery.objects.filter(pk__in=revived).update(
                status=DeliveryStatus.PENDING, claim_token=None, last_error="The worker stopped during delivery."
            )
        ids = [pk for pk, _, _ in rows if pk not in exhausted]
        if ids:
            Delivery.objects.filter(pk__in=ids).update(next_attempt_at=now)
            transaction.on_commit(partial(delivery_dispatch, delivery_ids=ids), robust=True)
    return len(rows), ids
