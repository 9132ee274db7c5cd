"""Counters in fixed time windows, kept in the shared cache (Redis), for the rate limits.

Used by the FHIR API (fhir/throttles.py) and the forgotten-password page (accounts/passwords.py).
A limit must never fail a request because Redis is down: the counters then answer None or 0
(fail open), and the cache breaker (cpis/resilience.py) pays a frozen Redis's socket timeout
once per process rather than once per request. Keys name no person: callers pass ids or hashes.
"""

from django.core.cache import cache
from django.utils import timezone

from cpis.resilience import cache_breaker


def window_number(seconds: int) -> int:
    """Which window of `seconds` now falls in; part of a key, so each window counts afresh."""
    return int(timezone.now().timestamp() // seconds)


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
