"""Health for people and for orchestrators.

- /livez: the process answers (restart the container when it does not).
- /readyz: what this process needs to serve, the database and Redis (send it traffic when
  they answer). The worker and beat heartbeats are reported but never make web unready: web
  serves checks without a worker.
- /healthz: the whole service: database, Redis, the default queue's worker and each delivery
  channel's worker pool (each has its own heartbeat), and the age of each channel's oldest
  undelivered delivery. 503 when any of them is down, saying which.
- `python -m cpis.health beat`: exit status 0 while beat is publishing (beat's health check).

A probe never holds a gunicorn worker for long: Redis is asked once per request, every
heartbeat in one round trip, with its own short timeouts (REDIS_PROBE_TIMEOUT), so a frozen
Redis costs a probe well under half a second and is reported as down.
"""

import functools
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

from celery import shared_task
from celery.signals import after_task_publish, worker_ready
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import BaseCache, cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache

HEARTBEAT_KEY = "cpis:worker-heartbeat"
BEAT_HEARTBEAT_KEY = "cpis:beat-heartbeat"
# Seconds each Redis socket operation of a probe may take (connect, then the one command):
# twice this stays under the half second a probe may hold a gunicorn worker.
REDIS_PROBE_TIMEOUT = 0.2


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


@functools.lru_cache(maxsize=4)
def _probe_cache(url: str) -> BaseCache:
    """The default cache's keys on `url`, with the probe's short timeouts and no retry: its own
    connection pool, kept for the process, so a probe does not connect each time."""
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    default = settings.CACHES["default"]
    params = {key: value for key, value in default.items() if key in ("KEY_PREFIX", "VERSION", "KEY_FUNCTION")}
    options = cast(dict[str, Any], default.get("OPTIONS", {}))
    params["OPTIONS"] = {
        # On Sentinel, the same pool class and group as the cache (cpis/redis_sentinel.py).
        **{key: value for key, value in options.items() if key in ("pool_class", "service_name")},
        "socket_timeout": REDIS_PROBE_TIMEOUT,
        "socket_connect_timeout": REDIS_PROBE_TIMEOUT,
        "retry": Retry(NoBackoff(), 0),
    }
    # A list, so Django does not split the sentinels' `;` into read replicas.
    return import_string("django.core.cache.backends.redis.RedisCache")([url], params)


class _Heartbeats:
    """Every heartbeat a probe reports, read from Redis once (one MGET) when first asked."""

    def __init__(self, keys: Iterable[str]):
        self.keys = list(keys)
        self._read: dict[str, float] | None = None
        self._error: Exception | None = None

    def redis(self) -> str:
        """The Redis probe: the read itself, so a probe asks Redis exactly once."""
        self._load()
        if self._error is not None:
            raise self._error
        return "ok" if settings.REDIS_URL else "not configured"

    def get(self, key: str) -> float | None:
        self._load()
        if self._error is not None:
            raise _HealthProblem("Redis unreachable")
        assert self._read is not None
        return self._read.get(key)

    def _load(self) -> None:
        if self._read is not None or self._error is not None:
            return
        source = _probe_cache(settings.REDIS_URL) if settings.REDIS_URL else cache
        try:
            self._read = source.get_many(self.keys)
        except Exception as exc:  # noqa: BLE001 - reported by the Redis probe, by class only
            self._error = exc


def _fresh(heartbeats: _Heartbeats, key: str, what: str) -> Callable[[], str]:
    def probe() -> str:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            return "in-process"
        beat = heartbeats.get(key)
        if beat is None:
            raise _HealthProblem(f"no {what} heartbeat yet")
        age = time.time() - beat
        if age > settings.WORKER_HEARTBEAT_MAX_AGE:
            raise _HealthProblem(f"last {what} heartbeat {int(age)} s ago")
        return "ok"

    return probe


def _heartbeat_age(heartbeats: _Heartbeats, key: str) -> str:
    try:
        beat = heartbeats.get(key)
    except _HealthProblem:
        return "unknown"  # Redis down is reported by its own probe
    return "none yet" if beat is None else f"{int(time.time() - beat)} s ago"


def _report(probes: Iterable[tuple[str, Callable[[], Any]]]) -> tuple[dict, bool]:
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


# What only the apps above know (each delivery channel's pool and its heartbeat key, the age of
# each channel's oldest undelivered delivery): operations registers it when the app starts
# (operations/apps.py), so this module imports no app (ADR-010). Unregistered: no pools to report.
_pool_heartbeat_keys: Callable[[], dict[str, str]] = dict
_oldest_undelivered_ages: Callable[[], dict[str, float | None]] | None = None


def healthz_sources_register(
    *, pool_heartbeat_keys: Callable[[], dict[str, str]], oldest_undelivered_ages: Callable[[], dict[str, float | None]]
) -> None:
    global _pool_heartbeat_keys, _oldest_undelivered_ages
    _pool_heartbeat_keys, _oldest_undelivered_ages = pool_heartbeat_keys, oldest_undelivered_ages


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    pools = _pool_heartbeat_keys()
    heartbeats = _Heartbeats([HEARTBEAT_KEY, *pools.values()])
    report, healthy = _report(
        (("database", _database), ("redis", heartbeats.redis), ("worker", _fresh(heartbeats, HEARTBEAT_KEY, "worker")))
    )
    pool_report, pools_healthy = _report(
        (channel, _fresh(heartbeats, key, f"{channel} pool")) for channel, key in pools.items()
    )
    body: dict[str, Any] = {**report, "pools": pool_report}
    if report["database"] == "ok" and _oldest_undelivered_ages is not None:
        # Seconds, 0 when none waits: as /metrics's cpis_deliveries_oldest_pending_age_seconds.
        ages, ages_healthy = _report([("oldest_undelivered_seconds", _oldest_undelivered_ages)])
        found = ages["oldest_undelivered_seconds"]
        body["oldest_undelivered_seconds"] = (
            {channel: int(age or 0) for channel, age in found.items()} if ages_healthy else found
        )
        healthy = healthy and ages_healthy
    healthy = healthy and pools_healthy
    return JsonResponse({"status": "ok" if healthy else "error", **body}, status=200 if healthy else 503)


@login_not_required
@never_cache
def livez(request):
    # No database, no cache: a slow dependency must not get a healthy web process restarted.
    return JsonResponse({"status": "ok"})


@login_not_required
@never_cache
def readyz(request):
    heartbeats = _Heartbeats([HEARTBEAT_KEY, BEAT_HEARTBEAT_KEY])
    report, healthy = _report((("database", _database), ("redis", heartbeats.redis)))
    report["worker_heartbeat"] = _heartbeat_age(heartbeats, HEARTBEAT_KEY)
    report["beat_heartbeat"] = _heartbeat_age(heartbeats, BEAT_HEARTBEAT_KEY)
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
