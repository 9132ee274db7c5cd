"""/healthz: is the database answering, is Redis answering, is a worker alive?"""

import time

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

HEARTBEAT_KEY = "cpis:worker-heartbeat"


class _HealthProblem(Exception):
    """A problem we describe ourselves (safe to show on the public health page)."""


@shared_task(ignore_result=True, acks_late=False)
def worker_heartbeat() -> None:
    # Beat schedules this; a worker running it proves both beat and a worker are alive.
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


@worker_ready.connect
def _heartbeat_on_start(**kwargs) -> None:
    # So /healthz goes green as soon as a worker is up, not only after beat's first interval.
    worker_heartbeat()


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _redis() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    import redis

    redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
    return "ok"


def _worker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "in-process"
    beat = cache.get(HEARTBEAT_KEY)
    if beat is None:
        raise _HealthProblem("no worker heartbeat yet")
    age = time.time() - beat
    if age > settings.WORKER_HEARTBEAT_MAX_AGE:
        raise _HealthProblem(f"last worker heartbeat {int(age)} s ago")
    return "ok"


@login_not_required
@never_cache
def healthz(request):
    report, healthy = {}, True
    for name, probe in (("database", _database), ("redis", _redis), ("worker", _worker)):
        try:
            report[name] = probe()
        except _HealthProblem as exc:
            healthy = False
            report[name] = f"error: {exc}"
        except Exception as exc:  # noqa: BLE001 - any failure is "down"
            healthy = False
            # The class only: this page is public, and driver messages name hosts and ports.
            report[name] = f"error: {type(exc).__name__}"
    return JsonResponse({"status": "ok" if healthy else "error", **report}, status=200 if healthy else 503)
