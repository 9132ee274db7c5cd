"""The identity service behind one interface, chosen by IDENTITY_SERVICE:

- `none` (the default): no national check; uploads keep today's rules (CPR06/CPR07 only);
- `pds`: NHS England's PDS FHIR API (or the local PDS server, demo/pds/server.py, which
  speaks the same API), configured by the PDS_* settings.
"""

from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from identity.pds_client import PdsClient, PdsUnavailable
from identity.records import PdsRecord

__all__ = ["IdentityService", "PdsUnavailable", "identity_service", "identity_verification_enabled"]


class IdentityService(Protocol):
    def lookup_many(self, nhs_numbers: Iterable[str], *, on_result: Callable[[PdsRecord], None]) -> None:
        """Calls on_result with PDS's answer for each number; raises PdsUnavailable."""


def identity_verification_enabled() -> bool:
    return bool(settings.IDENTITY_SERVICE == "pds")


@cache
def _pds_client(
    base_url: str,
    token_url: str,
    api_key: str,
    key_path: str,
    key_id: str,
    timeout: float,
    retries: int,
    retry_base: float,
    concurrency: int,
    rate: float,
) -> PdsClient:
    try:
        private_key = Path(key_path).read_text()
    except OSError as error:
        raise ImproperlyConfigured(f"PDS_PRIVATE_KEY_PATH cannot be read: {type(error).__name__}") from None
    return PdsClient(
        base_url=base_url,
        token_url=token_url,
        api_key=api_key,
        private_key=private_key,
        key_id=key_id,
        timeout=timeout,
        retries=retries,
        retry_base=retry_base,
        concurrency=concurrency,
        rate_per_second=rate,
    )


def identity_service() -> IdentityService | None:
    """The configured service, or None when IDENTITY_SERVICE is `none`."""
    if not identity_verification_enabled():
        return None
    # One client per configuration and process: it keeps its token and connections.
    return _pds_client(
        settings.PDS_BASE_URL,
        settings.PDS_TOKEN_URL,
        settings.PDS_API_KEY,
        settings.PDS_PRIVATE_KEY_PATH,
        settings.PDS_KEY_ID,
        settings.PDS_TIMEOUT,
        settings.PDS_RETRIES,
        settings.PDS_RETRY_BASE_SECONDS,
        settings.PDS_CONCURRENCY,
        settings.PDS_RATE_LIMIT_PER_SECOND,
    )
