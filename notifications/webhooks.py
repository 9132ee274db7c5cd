"""Signed webhooks to an LA's case-management system: signing here, verifying in the recipe.

A request carries:
- `X-CPIS-Delivery`: the delivery's id, the same on every retry (the receiver's idempotency key);
- `X-CPIS-Timestamp`: Unix seconds when this attempt was signed;
- `X-CPIS-Signature`: `sha256=` + hex HMAC-SHA256, keyed with the shared secret, over
  `<timestamp>.<raw body bytes>`.
Signing the timestamp with the body stops a captured request being replayed later: the receiver
refuses timestamps outside its window (docs/notifications.md "Verifying a webhook").

The request goes through the guarded outbound client (core/outbound.py): https to a checked
public address only, no redirects, and no detail of a failure beyond "could not deliver" and the
HTTP status (docs/adr/ADR-011-guarded-outbound-requests.md).
"""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from django.conf import settings

from core.outbound import OutboundError, OutboundRefused, Refusal, outbound_post, outbound_target

SIGNATURE_PREFIX = "sha256="


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def webhook_verify(
    *, secret: str, timestamp: str, signature: str, body: bytes, now: float | None = None, tolerance: int | None = None
) -> bool:
    """The receiver's check, as the recipe describes it: a fresh timestamp and a matching HMAC."""
    tolerance = settings.NOTIFICATION_WEBHOOK_TOLERANCE if tolerance is None else tolerance
    try:
        signed_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - signed_at) > tolerance:
        return False
    expected = webhook_signature(secret=secret, timestamp=signed_at, body=body)
    # During a secret rotation the header carries one signature per secret, comma-separated:
    # a receiver accepts the request if any of them is made with its secret.
    # Constant-time comparison: an early-exit compare leaks the signature byte by byte.
    return any(hmac.compare_digest(expected, given.strip()) for given in (signature or "").split(","))


def webhook_body(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


WEBHOOK_URL_REFUSALS = {
    Refusal.NOT_HTTPS: "The address must start with https://",
    Refusal.UNRESOLVED: "No system could be found at this address. Check the part after https:// (the host name)",
    Refusal.NOT_PUBLIC: (
        "This address is on a private or local network, which CP-IS does not send to. "
        "Enter your case-management system's public https:// address"
    ),
}


def webhook_url_refusal(url: str) -> Refusal | None:
    """Why an endpoint address cannot be saved (its message: WEBHOOK_URL_REFUSALS), or None:
    the check every delivery makes again (core/outbound.py), since a name's addresses can
    change after it was saved."""
    try:
        outbound_target(url)
    except OutboundRefused as refused:
        return refused.refusal
    return None


@dataclass
class WebhookError(Exception):
    reason: str
    status: int | None = None  # the endpoint's HTTP status, if it answered

    def __str__(self) -> str:
        return self.reason


def webhook_post(*, url: str, secret: str, delivery_id: int | str, body: bytes, previous_secret: str = "") -> int:
    """POSTs one signed attempt (signed with both secrets during a rotation's overlap); returns
    the HTTP status, or raises WebhookError unless the receiver answers 2xx."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "CP-IS notifications",
        "X-CPIS-Delivery": str(delivery_id),
        "X-CPIS-Timestamp": str(timestamp),
        "X-CPIS-Signature": ",".join(
            webhook_signature(secret=key, timestamp=timestamp, body=body) for key in (secret, previous_secret) if key
        ),
    }
    try:
        return outbound_post(url=url, body=body, headers=headers, timeout=settings.NOTIFICATION_WEBHOOK_TIMEOUT)
    except OutboundError as exc:
        # Its text is "could not deliver" and the status: what the delivery records and shows.
        raise WebhookError(str(exc), status=exc.status) from None
