"""Heartbeats of each delivery channel's worker pool (docker-compose.yml runs one per queue)."""

import time

from celery import shared_task
from django.core.cache import cache

POOL_HEARTBEAT_KEY = "cpis:pool-heartbeat:{}"


@shared_task(ignore_result=True, acks_late=False)
def pool_heartbeat(queue: str) -> None:
    # Beat sends one to each delivery queue: the pool consuming it proves itself alive, as the
    # main heartbeat proves the default queue's worker (cpis.health.worker_heartbeat).
    cache.set(POOL_HEARTBEAT_KEY.format(queue), time.time(), timeout=None)
