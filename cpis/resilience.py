"""Keeping the clinician's check going when Redis (the cache or the broker) is down or frozen.

Redis only ever speeds a check up or sends its notifications sooner; the database holds
everything that matters. So each Redis dependency on the check path sits behind a breaker:
after one failure (a refused connection, or a socket timeout when Redis is frozen) the
process stops asking Redis for a while, and each check goes on at full speed without it.
The breaker is per process (each gunicorn worker finds out on its own, with one timeout).
"""

import contextvars
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)


class Breaker:
    def __init__(self, name: str, *, pause: float):
        self.name = name
        self.pause = pause
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def failed(self, exc: BaseException) -> None:
        self._open_until = time.monotonic() + self.pause
        logger.warning(
            "%s unavailable (%s); carrying on without it for %d s", self.name, type(exc).__name__, self.pause
        )

    def reset(self) -> None:
        self._open_until = 0.0


# The sweeper's interval is a fair pause for both: the outbox catches up within one sweep.
cache_breaker = Breaker("Redis cache", pause=30.0)
broker_breaker = Breaker("Celery broker", pause=30.0)


def reset() -> None:
    cache_breaker.reset()
    broker_breaker.reset()


_publisher: ThreadPoolExecutor | None = None
_publisher_pid = 0


def _publishing_thread() -> ThreadPoolExecutor:
    # One per process, made after gunicorn or Celery forked it (a thread does not survive a fork).
    global _publisher, _publisher_pid
    if _publisher is None or _publisher_pid != os.getpid():
        _publisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-publish")
        _publisher_pid = os.getpid()
    return _publisher


def broker_publish(task: Any, args: tuple[Any, ...] = (), **options: Any) -> bool:
    """Publishes `task(*args)` for a request or a path that holds locks; returns whether it was
    handed to the broker. Never raises, and never waits longer than the broker's socket timeout.

    1. if the breaker is open (the broker failed a moment ago), publish nothing: another try
       would cost this caller the same wait;
    2. publish once, from this process's publishing thread, waiting for it at most
       CELERY_BROKER_SOCKET_TIMEOUT. The socket timeout alone does not bound the wait: redis-py
       retries a command that timed out, and a new connection to a frozen Redis takes a
       timeout for its handshake before the publish takes another;
    3. on a failure or that timeout, open the breaker. The caller's own catch-up (the outbox's
       sweeper, the next check's trim) does the work later.
    A publish that timed out may still reach the broker afterwards: each caller's task is
    safe to receive late, or twice.
    """
    name = getattr(task, "name", "task")
    if broker_breaker.is_open:
        logger.info("Broker recently unavailable; %s not published", name)
        return False
    options = {"retry": True, "retry_policy": {"max_retries": 0}, **options}
    timeout = settings.CELERY_BROKER_SOCKET_TIMEOUT
    deadline = time.monotonic() + timeout

    def publish() -> None:
        # Queued behind a publish that hung: by now its caller has given up on it.
        if time.monotonic() > deadline:
            raise TimeoutError("the publishing thread was busy")
        task.apply_async(args, **options)

    try:
        if task.app.conf.task_always_eager:
            # No broker (tests, `make run` without Redis): the task runs here, in the caller's thread.
            publish()
        else:
            # The log context (request id, user) goes into the message from the caller's context.
            _publishing_thread().submit(contextvars.copy_context().run, publish).result(timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - a timeout or any broker failure: the catch-up does it later
        broker_breaker.failed(TimeoutError("publish") if isinstance(exc, FutureTimeout) else exc)
        logger.warning("Could not publish %s: %s", name, type(exc).__name__)
        return False
    return True


# What an answer refused by an outage asks the client to wait before retrying (Retry-After):
# the breakers' pause, about the time a database failover or a Redis restart takes.
OUTAGE_RETRY_AFTER_SECONDS = 30
_OUTAGE_ERRORS = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


def is_outage(exc: BaseException | None) -> bool:
    """Whether `exc` (or an exception it was raised from or while handling) says the database
    or Redis cannot be reached or stopped answering: worth a retry shortly (503 with
    Retry-After), where any other exception is a bug (500)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, _OUTAGE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


# --- Counters in fixed time windows, for the rate limits (FHIR API, password reset, logout) ------
# A limit must never fail a request because Redis is down: the counters then answer None or 0
# (fail open), and the cache breaker pays a frozen Redis's socket timeout once per process
# rather than once per request. Keys name no person: callers pass ids or hashes.


def window_number(seconds: int) -> int:
    """Which window of `seconds` now falls in; part of a key, so each window counts afresh."""
    return int(timezone.now().timestamp() // seconds)


def window_seconds_left(seconds: int) -> int:
    """Seconds until the current window of `seconds` ends (at least 1): a limit's Retry-After."""
    return max(1, int(seconds - timezone.now().timestamp() % seconds))


def window_count(key: str, *, timeout: int) -> int | None:
    """Adds one to `key` and returns the new count; None when the cache cannot be reached."""
    if cache_breaker.is_open:
        return None
    try:
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=timeout)
            return 1
    except Exception as exc:  # noqa: BLE001 - any cache failure (connection, timeout, protocol) fails open
        cache_breaker.failed(exc)
        return None


def window_read(key: str) -> int:
    """The count under `key`; 0 when the cache cannot be reached."""
    if cache_breaker.is_open:
        return 0
    try:
        return int(cache.get(key) or 0)
    except Exception as exc:  # noqa: BLE001 - as in window_count
        cache_breaker.failed(exc)
        return 0
