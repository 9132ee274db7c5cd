"""Heartbeats of each delivery channel's worker pool (docker-compose.yml runs one per queue)."""

import time

from celery import shared_task
from django.core.cache import cache

POOL_HEARTBEAT_KEY = "cpis:pool-heartbeat:{}"


# One Redis write; beat sends the next in 30 s.
@shared_task(ignore_result=True, acks_late=False, soft_time_limit=20, time_limit=30)
def pool_heartbeat(queue: str) -> None:
    # Beat sends one to each delivery queue: the pool consuming it proves itself alive, as the
    # main heartbeat proves the default queue's worker (cpis.health.worker_heartbeat).
    cache.set(POOL_HEARTBEAT_KEY.format(queue), time.time(), timeout=None)
