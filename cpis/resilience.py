"""Keeping the clinician's check going when Redis (the cache or the broker) is down or frozen.

Redis only ever speeds a check up or sends its notifications sooner; the database holds
everything that matters. So each Redis dependency on the check path sits behind a breaker:
after one failure (a refused connection, or a socket timeout when Redis is frozen) the
process stops asking Redis for a while, and each check goes on at full speed without it.
The breaker is per process (each gunicorn worker finds out on its own, with one timeout).
"""

import logging
import time

from django.db import InterfaceError, OperationalError
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
