"""Heartbeats of each delivery channel's worker pool (docker-compose.yml runs one per queue)."""

import logging
import time

from celery import shared_task
from celery.signals import worker_ready
from django.core.cache import cache

logger = logging.getLogger(__name__)

POOL_HEARTBEAT_KEY = "cpis:pool-heartbeat:{}"


# One Redis write; beat sends the next in 30 s.
@shared_task(ignore_result=True, acks_late=False, soft_time_limit=20, time_limit=30)
def pool_heartbeat(queue: str) -> None:
    # Beat sends one to each delivery queue: the pool consuming it proves itself alive, as the
    # main heartbeat proves the default queue's worker (cpis.health.worker_heartbeat).
    cache.set(POOL_HEARTBEAT_KEY.format(queue), time.time(), timeout=None)


@worker_ready.connect
def _pool_heartbeats_on_start(sender=None, **kwargs) -> None:
    # So /healthz counts a pool as running as soon as it is up, not only after beat's first
    # heartbeat to its queue: each delivery queue this worker consumes (every queue, for a
    # worker started without --queues).
    try:
        queues = set(sender.app.amqp.queues.consume_from)
    except AttributeError:
        return
    for queue in sorted(q for q in queues if q.startswith("deliveries-")):
        try:
            pool_heartbeat(queue)
        except Exception as exc:  # noqa: BLE001 - Redis down: beat's next heartbeat will do
            logger.warning("pool heartbeat for %s not written: %s", queue, type(exc).__name__)
