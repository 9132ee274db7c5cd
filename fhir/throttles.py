"""Rate limits of the FHIR API, counted in the shared cache (Redis).

Three counters: requests per user per minute (all of a user's tokens share it, so minting
another token buys nothing), and invalid bearer tokens per presented token (by its first
characters) and per client address. The invalid-token counters only ever refuse invalid tokens:
an integration engine sends every clinician's calls from one address, so one clinician's stale
token must not lock the department out; a valid token is looked up and let through whatever
they say. None of them may ever fail a request because the cache is down: the limits then let
requests through (fail open: a Redis outage must not stop clinicians checking children), and
the invalid-token counters stop counting. Logs name no user, no address and no token.
"""

import hashlib

from django.conf import settings

from cpis.resilience import window_count, window_number, window_seconds_left
from fhir.models import TOKEN_PREFIX

_WINDOW_SECONDS = 60


def user_rate_exceeded(user) -> int | None:
    """Counts one request by `user` (any of their tokens); once over the per-minute limit, the
    seconds until the limit lifts (for Retry-After), else None."""
    # The join date makes the key unique for ever, unlike a row id a test database may reuse.
    key = f"fhir-rate:user:{user.pk}:{int(user.date_joined.timestamp())}:{window_number(_WINDOW_SECONDS)}"
    count = window_count(key, timeout=2 * _WINDOW_SECONDS)
    if count is not None and count > settings.FHIR_RATE_LIMIT_PER_MINUTE:
        return window_seconds_left(_WINDOW_SECONDS)
    return None


# What names a presented token: the prefix and the characters shown as its hint in the token
# list, so a token sent again and again counts against itself, whatever its tail.
_TOKEN_PREFIX_LENGTH = len(TOKEN_PREFIX) + 8


def bad_token_refused(*, address: str | None, presented: str) -> int | None:
    """Counts one invalid token; once that token, or the address, is over its limit in the
    window, the seconds until the window ends (for Retry-After), else None (answer 401).

    Called only for a token the lookup did not find: a valid token never reaches it.
    """
    seconds = settings.FHIR_BAD_TOKEN_WINDOW_MINUTES * 60
    window = window_number(seconds)
    # Hashed: the key holds no part of anything a client sent as a secret.
    digest = hashlib.sha256(presented[:_TOKEN_PREFIX_LENGTH].encode()).hexdigest()[:32]
    per_token = window_count(f"fhir-bad-token:token:{digest}:{window}", timeout=2 * seconds)
    per_address = window_count(f"fhir-bad-token:address:{address or 'unknown'}:{window}", timeout=2 * seconds)
    if (per_token is not None and per_token > settings.FHIR_BAD_TOKEN_LIMIT) or (
        per_address is not None and per_address > settings.FHIR_BAD_TOKEN_ADDRESS_LIMIT
    ):
        return window_seconds_left(seconds)
    return None
