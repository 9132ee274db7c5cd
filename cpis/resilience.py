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
