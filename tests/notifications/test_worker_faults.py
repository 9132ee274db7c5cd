"""Faults, with a real Celery worker on real Redis and the real test database.

Each test ends with `assert_reconciled`: every notification delivered exactly once per channel
and the counts reconciled against the visits. Slow-ish (each starts worker processes), so
marked `worker`; run with `pytest -m worker tests/notifications`.
"""

import re
import time

import pytest

from notifications.models import Channel, Delivery, DeliveryStatus, WebhookEndpoint
from notifications.services import delivery_dispatch
from tests.notifications.checks import child_on_plan, record_check
from tests.notifications.conftest import WEBHOOK_SECRET
from tests.notifications.worker import (
    SHARED_BROKER_URL,
    RedisServer,
    Worker,
    all_delivered,
    assert_reconciled,
    broker,
    flush_broker,
    wait_until,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mail_dir(tmp_path):
    path = tmp_path / "mail"
    path.mkdir()
    return path


@pytest.fixture
def workers(tmp_path, mail_dir):
    """workers(name, broker_url, **kwargs) → a started Worker; all are stopped at the end."""
    started = []

    def start(name: str, broker_url: str, *, run: bool = True, **kwargs) -> Worker:
        worker = Worker(name=name, broker_url=broker_url, workdir=tmp_path, mail_dir=mail_dir, **kwargs)
        started.append(worker)
        if run:
            worker.start()
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def shared_broker():
    flush_broker(SHARED_BROKER_URL)
    with broker(SHARED_BROKER_URL):
        yield SHARED_BROKER_URL
    flush_broker(SHARED_BROKER_URL)


def _checks(la, setting, count: int) -> list:
    return [record_check(plans=[child_on_plan(la)], care_setting=setting) for _ in range(count)]


def _dump_logs(workers_started) -> str:
    return "\n".join(f"--- {w.name} ---\n{w.log()[-4000:]}" for w in workers_started)


def test_redis_stopped_while_checks_are_made_delays_delivery_but_loses_nothing(
    tmp_path, la, setting, mail_dir, workers
):
    server = RedisServer(tmp_path)
    server.start()
    try:
        with broker(server.url):
            worker = workers("w", server.url)
            visits = _checks(la, setting, 3)
            wait_until(all_delivered, timeout=120, what="deliveries before the outage")
            # The checks' own messages reached the worker: the fast path, not only the sweeper.
            fanned_out = re.compile(r"Task notifications\.tasks\.deliveries_fan_out\[[^\]]+\] succeeded")
            wait_until(lambda: len(fanned_out.findall(worker.log())) == 3, timeout=60, what="3 fan-outs")

            server.stop()
            # Checks go on while Redis is down, for longer than a few sweeper intervals: each
            # succeeds promptly and leaves its outbox rows, whose messages cannot be published.
            for _ in range(5):
                started = time.monotonic()
                visits += _checks(la, setting, 1)
                assert time.monotonic() - started < 10, "a check was held up by the broker outage"
                time.sleep(0.6)
            # Nothing was delivered during the outage: every row waits in the outbox. (Whether a
            # publish fails loudly or vanishes with the dying server varies with socket timing;
            # either way the rows stay PENDING and the sweeper owns them, which is the point.)
            assert Delivery.objects.filter(status=DeliveryStatus.PENDING).count() == 5 * 2

            server.start()  # empty: it kept nothing from before (no persistence)
            wait_until(all_delivered, timeout=180, what="the sweeper to deliver after the outage")
    finally:
        server.stop()
    assert "Sweeper re-dispatched" in worker.log()
    assert_reconciled(visits=visits, mail_dir=mail_dir)


def test_worker_killed_mid_delivery_is_restarted_and_delivery_completes(
    la, setting, mail_dir, workers, webhook_receiver, shared_broker
):
    WebhookEndpoint.objects.create(local_authority=la, url=webhook_receiver.url, secret=WEBHOOK_SECRET)
    # The receiver takes 3 s to answer, so the kill lands while the worker is in the POST.
    webhook_receiver.delay = 3
    worker = workers("w", shared_broker)
    visits = _checks(la, setting, 3)
    wait_until(lambda: webhook_receiver.requests, timeout=120, what="a webhook delivery in progress")
    in_flight = Delivery.objects.get(status=DeliveryStatus.SENDING)
    assert in_flight.channel == Channel.WEBHOOK
    worker.kill()

    visits += _checks(la, setting, 2)  # made while no worker runs: queued in Redis
    webhook_receiver.delay = 0
    worker.start()
    wait_until(all_delivered, timeout=180, what="deliveries after the restart")

    in_flight.refresh_from_db()
    assert in_flight.attempts == 2  # the killed attempt counted, and one more
    assert "Sweeper re-dispatched" in worker.log()
    # The killed attempt reached the receiver before the kill; the retry repeats it under the
    # same delivery id, which is what the receiver de-duplicates on.
    assert_reconciled(visits=visits, mail_dir=mail_dir, receiver=webhook_receiver, webhook_repeats_allowed=True)


def test_webhook_endpoint_failing_then_recovering_is_retried_until_delivered(
    la, setting, mail_dir, workers, webhook_receiver, shared_broker
):
    WebhookEndpoint.objects.create(local_authority=la, url=webhook_receiver.url, secret=WEBHOOK_SECRET)
    webhook_receiver.status = 503
    workers("w", shared_broker)
    visits = _checks(la, setting, 4)

    def retrying() -> bool:
        webhooks = Delivery.objects.filter(channel=Channel.WEBHOOK)
        others = Delivery.objects.exclude(channel=Channel.WEBHOOK)
        return all(d.attempts >= 2 for d in webhooks) and not others.exclude(status=DeliveryStatus.SENT).exists()

    # A failing webhook holds up no other channel.
    wait_until(retrying, timeout=120, what="webhook retries while inbox and e-mail are delivered")
    assert set(Delivery.objects.filter(channel=Channel.WEBHOOK).values_list("status", flat=True)) <= {
        DeliveryStatus.PENDING,
        DeliveryStatus.SENDING,
    }
    assert "HTTP 503" in Delivery.objects.filter(channel=Channel.WEBHOOK).first().last_error

    webhook_receiver.status = 200
    wait_until(all_delivered, timeout=120, what="webhook deliveries after the endpoint recovered")
    assert_reconciled(visits=visits, mail_dir=mail_dir, receiver=webhook_receiver)


def test_two_workers_racing_on_one_backlog_deliver_each_once(
    la, setting, mail_dir, workers, webhook_receiver, shared_broker
):
    WebhookEndpoint.objects.create(local_authority=la, url=webhook_receiver.url, secret=WEBHOOK_SECRET)
    # Both workers listening first: started one after the other onto a waiting backlog, the
    # first would drain it before the second was up, and nothing would race.
    first = workers("first", shared_broker)
    second = workers("second", shared_broker, beat=False)
    visits = _checks(la, setting, 20)
    # Every delivery queued twice over, as when the sweeper re-dispatches rows whose first
    # message is still waiting: both workers are handed the same ids.
    delivery_dispatch(delivery_ids=list(Delivery.objects.values_list("pk", flat=True)))
    wait_until(all_delivered, timeout=180, what="the backlog to be delivered")

    assert first.tasks_succeeded() > 0 and second.tasks_succeeded() > 0, _dump_logs([first, second])
    # No delivery was claimed twice: one attempt each.
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
    assert_reconciled(visits=visits, mail_dir=mail_dir, receiver=webhook_receiver)
