"""Error tracking (sentry-sdk, when SENTRY_DSN is set) sends no query string or child data."""

import json

import pytest
import sentry_sdk
from django.test import Client, override_settings
from sentry_sdk.transport import Transport

from cpis.sentry import sentry_init

pytestmark = pytest.mark.django_db


class CapturingTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)


@pytest.fixture
def sentry_events():
    transport = CapturingTransport()
    sentry_init("https://public@sentry.example.invalid/1", transport=transport)
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # off again, for the other tests


@override_settings(ROOT_URLCONF="tests.crashing_urls")
def test_a_crash_reaches_sentry_without_query_string_or_child_data(sentry_events):
    client = Client(raise_request_exception=False)
    response = client.get("/crash/?nhs_number=9434765919", HTTP_COOKIE="sessionid=secret-session", HTTP_TRACEID="t-1")
    assert response.status_code == 500
    sentry_sdk.flush()
    events = [item.payload.json for e in sentry_events.envelopes for item in e.items if item.type == "event"]
    assert len(events) == 1
    sent = json.dumps(events[0])
    assert "ValueError" in sent and "/crash/" in sent  # still useful
    for secret in ("9434765919", "nhs_number=", "secret-session"):
        assert secret not in sent, secret
    tags = events[0]["tags"]
    assert tags["trace_id"] == "t-1" and tags["request_id"] == response["X-Request-ID"]


@override_settings(ROOT_URLCONF="tests.crashing_urls", REQUEST_ID_HEADER="X-Request-ID")
def test_a_request_id_holding_ten_digits_reaches_sentry_whole(sentry_events):
    # About one generated id in 28 holds ten digits in a row; this one always does.
    request_id = "0f3a9434765919c2d41b7e6a8f0c3d21"
    response = Client(raise_request_exception=False).get("/crash/", HTTP_X_REQUEST_ID=request_id)
    assert response["X-Request-ID"] == request_id
    sentry_sdk.flush()
    (event,) = [item.payload.json for e in sentry_events.envelopes for item in e.items if item.type == "event"]
    assert event["tags"]["request_id"] == request_id
