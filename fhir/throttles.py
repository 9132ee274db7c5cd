"""Rate limits of the FHIR API, counted in the shared cache (Redis).

Two counters: requests per user per minute (all of a user's tokens share it, so minting another
token buys nothing), and failed bearer tokens per client address (guessing tokens). Neither may
ever fail a request because the cache is down: the per-user limit then lets requests through
(fail open: a Redis outage must not stop clinicians checking children), and the failed-token
counter stops counting. Logs name no user and no address.
"""

from django.conf import settings

from cpis.rate_limits import window_count, window_number, window_read

_WINDOW_SECONDS = 60


def user_rate_exceeded(user) -> bool:
    """Counts one request by `user` (any of their tokens); True once over the per-minute limit."""
    # The join date makes the key unique for ever, unlike a row id a test database may reuse.
    key = f"fhir-rate:user:{user.pk}:{int(user.date_joined.timestamp())}:{window_number(_WINDOW_SECONDS)}"
    count = window_count(key, timeout=2 * _WINDOW_SECONDS)
    return count is not None and count > settings.FHIR_RATE_LIMIT_PER_MINUTE


def _failure_key(address: str | None) -> str:
    window = window_number(settings.FHIR_BAD_TOKEN_WINDOW_MINUTES * 60)
    return f"fhir-bad-token:{address or 'unknown'}:{window}"


def bad_tokens_exceeded(address: str | None) -> bool:
    """True when this address has sent FHIR_BAD_TOKEN_LIMIT bad tokens in the current window."""
    return window_read(_failure_key(address)) >= settings.FHIR_BAD_TOKEN_LIMIT


def bad_token_record(address: str | None) -> None:
    window_count(_failure_key(address), timeout=2 * 60 * settings.FHIR_BAD_TOKEN_WINDOW_MINUTES)
