"""Signed webhooks to an LA's case-management system: signing here, verifying in the recipe.

A request carries:
- `X-CPIS-Delivery`: the delivery's id, the same on every retry (the receiver's idempotency key);
- `X-CPIS-Timestamp`: Unix seconds when this attempt was signed;
- `X-CPIS-Signature`: `sha256=` + hex HMAC-SHA256, keyed with the shared secret, over
  `<timestamp>.<raw body bytes>`.
Signing the timestamp with the body stops a captured request being replayed later: the receiver
refuses timestamps outside its window (docs/notifications.md "Verifying a webhook").
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings

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


def webhook_url_allowed(url: str) -> bool:
    """The payload carries child data: https only. Plain http is allowed to this machine alone
    (a developer's or a test's receiver), where nothing crosses a network."""
    if url.startswith("https://"):
        return True
    host = urllib.parse.urlsplit(url).hostname or ""
    return url.startswith("http://") and host in ("127.0.0.1", "localhost", "::1")


@dataclass
class WebhookError(Exception):
    reason: str
    status: int | None = None  # the endpoint's HTTP status, if it answered

    def __str__(self) -> str:
        return self.reason


def webhook_post(*, url: str, secret: str, delivery_id: int | str, body: bytes, previous_secret: str = "") -> int:
    """POSTs one signed attempt (signed with both secrets during a rotation's overlap); returns
    the HTTP status, or raises WebhookError unless the receiver answers 2xx."""
    if not webhook_url_allowed(url):
        raise WebhookError("webhook URL is not https")
    timestamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "CP-IS notifications",
            "X-CPIS-Delivery": str(delivery_id),
            "X-CPIS-Timestamp": str(timestamp),
            "X-CPIS-Signature": ",".join(
                webhook_signature(secret=key, timestamp=timestamp, body=body)
                for key in (secret, previous_secret)
                if key
            ),
        },
    )
    try:
        # urllib refuses to follow a redirect of a POST, so the body never goes elsewhere.
        with urllib.request.urlopen(request, timeout=settings.NOTIFICATION_WEBHOOK_TIMEOUT) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"HTTP {exc.code} from the webhook endpoint", status=exc.code) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WebhookError(f"webhook endpoint unreachable: {type(exc).__name__}: {reason}"[:300]) from exc
    if not 200 <= status < 300:
        raise WebhookError(f"HTTP {status} from the webhook endpoint", status=status)
    return status
