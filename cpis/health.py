"""Health for people and for orchestrators.

- /livez: the process answers (restart the container when it does not).
- /readyz: the database and Redis answer (send it traffic when they do). The worker and beat
  heartbeats are reported but never make web unready: web serves checks without a worker.
- /healthz: the whole service, worker included (for a person or an uptime monitor).
- `python -m cpis.health beat`: exit status 0 while beat is publishing (beat's health check).
"""

import sys
import time

from celery import shared_task
from celery.signals import after_task_publish, worker_ready
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

HEARTBEAT_KEY = "cpis:worker-heartbeat"
BEAT_HEARTBEAT_KEY = "cpis:beat-heartbeat"


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


@after_task_publish.connect(sender="cpis.health.worker_heartbeat")
def _beat_heartbeat(**kwargs) -> None:
    # Only beat publishes this task, so its publication proves beat alive, whatever the worker.
    cache.set(BEAT_HEARTBEAT_KEY, time.time(), timeout=None)


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


def _heartbeat_age(key: str) -> str:
    try:
        beat = cache.get(key)
    except Exception:  # noqa: BLE001 - Redis down is reported by its own probe
        return "unknown"
    return "none yet" if beat is None else f"{int(time.time() - beat)} s ago"


def _report(probes) -> tuple[dict, bool]:
    report, healthy = {}, True
    for name, probe in probes:
        try:
            report[name] = probe()
        except _HealthProblem as exc:
            healthy = False
            report[name] = f"error: {exc}"
        except Exception as exc:  # noqa: BLE001 - any failure is "down"
            healthy = False
            # The class only: this page is public, and driver messages name hosts and ports.
            report[name] = f"error: {type(exc).__name__}"
    return report, healthy


@login_not_required
@never_cache
def healthz(request):
    report, healthy = _report((("database", _database), ("redis", _redis), ("worker", _worker)))
    return JsonResponse({"status": "ok" if healthy else "error", **report}, status=200 if healthy else 503)


@login_not_required
@never_cache
def livez(request):
    # No database, no cache: a slow dependency must not get a healthy web process restarted.
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
def readyz(request):
    report, healthy = _report((("database", _database), ("redis", _redis)))
    report["worker_heartbeat"] = _heartbeat_age(HEARTBEAT_KEY)
    report["beat_heartbeat"] = _heartbeat_age(BEAT_HEARTBEAT_KEY)
    return JsonResponse({"status": "ok" if healthy else "error", **report}, status=200 if healthy else 503)


def beat_alive(*, now: float | None = None) -> bool:
    """Has beat published its heartbeat task within WORKER_HEARTBEAT_MAX_AGE?"""
    beat = cache.get(BEAT_HEARTBEAT_KEY)
    return beat is not None and (now or time.time()) - beat <= settings.WORKER_HEARTBEAT_MAX_AGE


if __name__ == "__main__":
    import django

    django.setup()
    if sys.argv[1:] != ["beat"]:
        sys.exit("usage: python -m cpis.health beat")
    sys.exit(0 if beat_alive() else 1)
