"""Heartbeats of each delivery channel's worker pool (docker-compose.yml runs one per queue)."""

import logging
import threading
import time
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections, connection
from django.utils import timezone

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


def worker_presence_record(*, hostname: str, queues: str) -> None:
    """One worker's heartbeat; forgets workers gone for a day (a host replaced for good)."""
    from operations.models import WorkerPresence

    now = timezone.now()
    WorkerPresence.objects.update_or_create(hostname=hostname, defaults={"queues": queues, "last_seen_at": now})
    WorkerPresence.objects.filter(last_seen_at__lt=now - timedelta(days=1)).delete()


def _presence_loop(hostname: str, queues: str) -> None:
    while True:
        try:
            close_old_connections()
            worker_presence_record(hostname=hostname, queues=queues)
        except Exception as exc:  # noqa: BLE001 - the database away: the next beat of this loop tries again
            logger.warning("worker presence not recorded: %s", type(exc).__name__)
        finally:
            # A connection held between beats of every worker would cost PostgreSQL one each.
            connection.close()
        time.sleep(settings.WORKER_PRESENCE_SECONDS)


@worker_ready.connect
def _worker_presence_start(sender=None, **kwargs) -> None:
    # In the worker's main process, beside its pool: as long as the process lives, so a host
    # killed outright stops it too. Not through beat, which any survivor's worker would answer.
    hostname = getattr(sender, "hostname", None)
    if not hostname:
        return
    try:
        queues = ",".join(sorted(sender.app.amqp.queues.consume_from))
    except AttributeError:
        queues = ""
    threading.Thread(target=_presence_loop, args=(hostname, queues), name="worker-presence", daemon=True).start()
