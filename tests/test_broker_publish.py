"""Publishing from a request through the broker's breaker (cpis/resilience.py): one try, never
longer than the broker's socket timeout, and nothing at all while the breaker is open."""

import time

import pytest
from django.conf import settings

from attendances.tasks import visits_trim
from cpis import resilience
from cpis.resilience import broker_breaker, broker_publish
from tests.notifications.mail_servers import SilentMailServer
from tests.notifications.worker import broker


@pytest.fixture
def silent_broker():
    """A "Redis" that accepts connections and never answers: a frozen one, as a new
    connection finds it."""
    server = SilentMailServer().start()
    with broker(f"redis://127.0.0.1:{server.port}/0") as app:
        yield app
    server.stop()


def test_a_publish_to_a_frozen_broker_gives_up_after_one_socket_timeout_and_opens_the_breaker(silent_broker):
    started = time.monotonic()
    published = broker_publish(visits_trim, (1,))
    took = time.monotonic() - started

    assert not published
    # A new connection's handshake and the publish each take a timeout, and redis-py retries:
    # without the deadline this took two timeouts and more.
    assert took < settings.CELERY_BROKER_SOCKET_TIMEOUT + 0.5, took
    assert broker_breaker.is_open


def test_while_the_breaker_is_open_nothing_is_published(silent_broker, monkeypatch):
    broker_breaker.failed(TimeoutError("frozen"))
    calls = []
    monkeypatch.setattr(visits_trim, "apply_async", lambda *a, **k: calls.append(a))

    started = time.monotonic()
    assert not broker_publish(visits_trim, (1,))
    assert time.monotonic() - started < 0.5
    assert calls == []
    resilience.reset()
    assert broker_publish(visits_trim, (1,)) and calls == [((1,),)]


def test_a_publish_that_fails_at_once_opens_the_breaker_and_never_raises(monkeypatch):
    from kombu.exceptions import OperationalError

    def refused(*args, **kwargs):
        raise OperationalError("Error 111 connecting. Connection refused.")

    monkeypatch.setattr(visits_trim, "apply_async", refused)
    assert not broker_publish(visits_trim, (1,))
    assert broker_breaker.is_open


def test_the_message_carries_the_callers_log_context_from_the_publishing_thread(tmp_path):
    """The publish runs in another thread; the request's ids must still travel with it
    (docs/operations.md "Logs")."""
    from celery.signals import before_task_publish

    from cpis import logs
    from tests.notifications.worker import RedisServer

    server = RedisServer(tmp_path)
    server.start()
    carried = []

    def capture(headers=None, **kwargs):
        carried.append(dict((headers or {}).get("cpis_log_context") or {}))

    before_task_publish.connect(capture, weak=False)
    token = logs._context.set({"request_id": "req-1234", "user_id": 7})
    try:
        with broker(server.url):
            assert broker_publish(visits_trim, (1,))
    finally:
        logs._context.reset(token)
        before_task_publish.disconnect(capture)
        server.stop()
    assert carried == [{"request_id": "req-1234", "user_id": 7}]
