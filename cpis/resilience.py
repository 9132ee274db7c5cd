"""Keeping the clinician's check going when Redis (the cache or the broker) is down or frozen.

Redis only ever speeds a check up or sends its notifications sooner; the database holds
everything that matters. So each Redis dependency on the check path sits behind a breaker:
after one failure (a refused connection, or a socket timeout when Redis is frozen) the
process stops asking Redis for a while, and each check goes on at full speed without it.
The breaker is per process (each gunicorn worker finds out on its own, with one timeout).
"""

import logging
import time

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
