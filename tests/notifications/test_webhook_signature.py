"""The webhook signature, from the receiver's side: the recipe in docs/notifications.md."""

import hashlib
import hmac
import time

import pytest

from notifications.webhooks import webhook_body, webhook_signature, webhook_verify

SECRET = "s3cret-for-tests-only-0123456789abcdef"
BODY = webhook_body({"notification_id": 7, "child": {"nhs_number": "9990000026"}})


def _signed(at: int) -> dict:
    return {"timestamp": str(at), "signature": webhook_signature(secret=SECRET, timestamp=at, body=BODY)}


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    # Spelled out independently of our helper, as a receiver in another language would.
    expected = hmac.new(SECRET.encode(), b"1764000000." + BODY, hashlib.sha256).hexdigest()
    assert webhook_signature(secret=SECRET, timestamp=1764000000, body=BODY) == "sha256=" + expected


def test_a_valid_fresh_request_verifies():
    assert webhook_verify(secret=SECRET, body=BODY, **_signed(int(time.time())))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: {**r, "body": r["body"].replace(b"9990000026", b"9990000034")},
        lambda r: {**r, "timestamp": str(int(r["timestamp"]) + 1)},
        lambda r: {**r, "signature": r["signature"][:-1] + ("0" if r["signature"][-1] != "0" else "1")},
        lambda r: {**r, "secret": "another-secret-of-the-same-length-000000"},
        lambda r: {**r, "signature": ""},
        lambda r: {**r, "timestamp": "not-a-number"},
    ],
    ids=["body", "timestamp", "signature", "wrong-secret", "no-signature", "bad-timestamp"],
)
def test_a_tampered_request_is_refused(tamper):
    request = {"secret": SECRET, "body": BODY, **_signed(int(time.time()))}
    assert not webhook_verify(**tamper(request))


def test_a_replay_outside_the_window_is_refused_even_with_a_valid_signature():
    now = time.time()
    captured = _signed(int(now))
    assert webhook_verify(secret=SECRET, body=BODY, now=now + 299, tolerance=300, **captured)
    assert not webhook_verify(secret=SECRET, body=BODY, now=now + 301, tolerance=300, **captured)
    # A timestamp from the future (a forged clock) is refused the same way.
    assert not webhook_verify(secret=SECRET, body=BODY, now=now - 301, tolerance=300, **captured)
