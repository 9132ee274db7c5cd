"""Rate limits of the FHIR API, counted in the shared cache (Redis).

Two counters: requests per user per minute (all of a user's tokens share it, so minting another
token buys nothing), and failed bearer tokens per client address (guessing tokens). Neither may
ever fail a request because the cache is down: the per-user limit then lets requests through
(fail open: a Redis outage must not stop clinicians checking children), and the failed-token
counter stops counting. Logs name no user and no address.
"""

import logging

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from cpis.resilience import cache_breaker

logger = logging.getLogger(__name__)

_WINDOW_SECONDS = 60


def _window() -> int:
    return int(timezone.now().timestamp() // _WINDOW_SECONDS)


def _count(key: str, *, timeout: int) -> int | None:
    """Adds one to `key` and returns the new count; None when the cache cannot be reached."""
    # A frozen Redis costs a socket timeout per call; the breaker pays it once per process.
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


def _read(key: str) -> int:
    if cache_breaker.is_open:
        return 0
    try:
        return int(cache.get(key) or 0)
    except Exception as exc:  # noqa: BLE001 - as in _count
        cache_breaker.failed(exc)
        return 0


def user_rate_exceeded(user) -> bool:
    """Counts one request by `user` (any of their tokens); True once over the per-minute limit."""
    # The join date makes the key unique for ever, unlike a row id a test database may reuse.
    key = f"fhir-rate:user:{user.pk}:{int(user.date_joined.timestamp())}:{_window()}"
    count = _count(key, timeout=2 * _WINDOW_SECONDS)
    return count is not None and count > settings.FHIR_RATE_LIMIT_PER_MINUTE


def _failure_key(address: str | None) -> str:
    window = int(timezone.now().timestamp() // (settings.FHIR_BAD_TOKEN_WINDOW_MINUTES * 60))
    return f"fhir-bad-token:{address or 'unknown'}:{window}"


def bad_tokens_exceeded(address: str | None) -> bool:
    """True when this address has sent FHIR_BAD_TOKEN_LIMIT bad tokens in the current window."""
    return _read(_failure_key(address)) >= settings.FHIR_BAD_TOKEN_LIMIT


def bad_token_record(address: str | None) -> None:
    _count(_failure_key(address), timeout=2 * 60 * settings.FHIR_BAD_TOKEN_WINDOW_MINUTES)
