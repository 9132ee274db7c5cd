"""Publishing deliveries to the worker: a check's one message, fanned out to a task per
delivery on its channel's queue. A publish that fails is logged, never raised: the outbox row is
committed and the sweeper sends it."""

import logging

from cpis.resilience import broker_publish
from notifications.models import Channel, Delivery

logger = logging.getLogger(__name__)


# Publishing must not hold up a clinician's check when Redis is down: two quick tries, then the
# sweeper's job.
_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.2}


def deliveries_hand_over(*, delivery_ids: list[int]) -> None:
    """Publishes one message for a check's new deliveries; the worker fans it out to a task per
    delivery (`tasks.deliveries_fan_out`).

    Each publish costs the clinician's request about a millisecond, and one check can make four
    deliveries (inbox and e-mail at two LAs). Each delivery still gets its own task, so a slow
    webhook never holds up another LA's inbox. A failure to publish is logged, not raised: the
    rows are committed and the sweeper sends them.
    """
    from notifications.tasks import deliveries_fan_out

    # Through the breaker: one try, never longer than the broker's socket timeout.
    if not broker_publish(deliveries_fan_out, (delivery_ids,)):
        logger.info("The sweeper will send %d delivery task(s)", len(delivery_ids))


def delivery_queue(channel: str) -> str:
    """The Celery queue a channel's deliveries go to. Each channel has its own queue and its
    own worker pool (docker-compose.yml), so an LA's webhook endpoint that hangs for its whole
    timeout holds only webhook workers, never the inbox's."""
    return f"deliveries-{channel}"


def delivery_dispatch(*, delivery_ids: list[int], countdown: float | None = None) -> int:
    """Publishes a delivery task per id, to its channel's queue; returns how many were published.

    A failure to publish (Redis down) is logged, not raised: the outbox row is already
    committed, and the sweeper re-dispatches it once it has waited NOTIFICATION_SWEEP_AFTER.
    """
    from notifications.tasks import delivery_send

    channels = dict(Delivery.objects.filter(pk__in=delivery_ids).values_list("pk", "channel"))
    published = 0
    for delivery_id in delivery_ids:
        try:
            delivery_send.apply_async(
                (delivery_id,),
                countdown=countdown,  # type: ignore[arg-type]  # None (no delay) is Celery's default
                queue=delivery_queue(channels.get(delivery_id, Channel.INBOX)),
                retry=True,
                retry_policy=_PUBLISH_RETRY_POLICY,
            )
            published += 1
        except Exception as exc:  # noqa: BLE001 - any broker failure leaves the row to the sweeper
            logger.warning(
                "Could not publish %d delivery task(s), the sweeper will send them: %s: %s",
                len(delivery_ids) - published,
                type(exc).__name__,
                exc,
            )
            break
    return published
