"""Rate limits of the public back-channel logout endpoint, and of fetching a provider's keys.

Anyone may POST a logout token, and a refused one is audited; a token naming an unknown key id
makes us fetch the provider's keys again. So:

- refused tokens are counted per client address and per provider the token names (tokens that
  name none share one count), in one-minute windows in the shared cache (cpis/resilience.py).
  An address over its limit is answered 429 before its token is read; a provider over its limit
  has its refusals answered 429 too, but its tokens are still checked, so the provider's own
  logouts go through while junk naming it arrives from elsewhere. Either way the limited
  answers are audited once per window and provider, not once per token.
- the keys are fetched again at most once per SSO_KEY_REFETCH_SECONDS per provider, across the
  processes through the cache and within each process on its own, so that a cache outage
  (the counters then fail open) still leaves each process at one fetch per interval.

Keys name no person: an address (which the audit log records anyway) or a provider id.
"""

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from cpis.resilience import window_count, window_number, window_read
from single_sign_on.models import IdentityProvider

_WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Limited:
    """A limit reached: `retry_after` seconds until the window ends."""

    retry_after: int


def _window() -> int:
    return window_number(_WINDOW_SECONDS)


def _limited() -> Limited:
    left = _WINDOW_SECONDS - int(timezone.now().timestamp()) % _WINDOW_SECONDS
    return Limited(retry_after=max(1, left))


def _provider_key(provider: IdentityProvider | None) -> str:
    if provider is None:
        return "none"
    # With the issuer's digest, as the protocol's cache keys: a row id alone may be reused.
    return f"{provider.pk}-{hashlib.sha256(provider.issuer_normalised.encode()).hexdigest()[:12]}"


def _address_key(address: str | None) -> str:
    return f"sso-logout:address:{address or 'unknown'}:{_window()}"


def logout_address_limited(address: str | None) -> Limited | None:
    """Whether this address has sent SSO_LOGOUT_ADDRESS_LIMIT refused logout tokens this minute."""
    if window_read(_address_key(address)) >= settings.SSO_LOGOUT_ADDRESS_LIMIT:
        return _limited()
    return None


def logout_refusal_count(*, address: str | None, provider: IdentityProvider | None) -> Limited | None:
    """Counts one refused logout token; a Limited once the address or the provider is over its limit."""
    timeout = 2 * _WINDOW_SECONDS
    by_address = window_count(_address_key(address), timeout=timeout)
    by_provider = window_count(f"sso-logout:provider:{_provider_key(provider)}:{_window()}", timeout=timeout)
    if (by_address or 0) > settings.SSO_LOGOUT_ADDRESS_LIMIT or (by_provider or 0) > settings.SSO_LOGOUT_PROVIDER_LIMIT:
        return _limited()
    return None


def logout_limited_first(provider: IdentityProvider | None) -> bool:
    """True for the first limited answer this window about this provider: the one to audit."""
    return window_count(f"sso-logout:audited:{_provider_key(provider)}:{_window()}", timeout=2 * _WINDOW_SECONDS) == 1


# Per process: when each provider's keys were last fetched again here (time.monotonic()).
_refetched_at: dict[str, float] = {}


def key_refetch_allowed(provider: IdentityProvider) -> bool:
    """Whether the provider's keys may be fetched again now, for a key id we do not know.

    1. Not if this process fetched them less than SSO_KEY_REFETCH_SECONDS ago.
    2. Not if another process did: the first to count a key that lives that long fetches.
    3. Otherwise yes, and this process remembers when. A cache that cannot be reached answers
       None in step 2, and only step 1 holds.
    """
    interval = settings.SSO_KEY_REFETCH_SECONDS
    key = _provider_key(provider)
    now = time.monotonic()
    last = _refetched_at.get(key)
    if last is not None and now - last < interval:
        return False
    # No window in the key: it lives `interval` seconds from the first fetch, whenever that was.
    shared = window_count(f"sso-key-refetch:{key}", timeout=interval)
    if shared is not None and shared > 1:
        return False
    _refetched_at[key] = now
    return True


def reset() -> None:
    """Forgets this process's fetch times (tests start each from nothing)."""
    _refetched_at.clear()
