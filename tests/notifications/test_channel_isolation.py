"""One LA's hanging webhook endpoint must not delay another LA's inbox: each channel has its
own queue and its own workers (settings CELERY_TASK_QUEUES, docker-compose.yml). A real
worker per pool, on real Redis."""

import statistics

import pytest

from notifications.models import Channel, Delivery, DeliveryStatus, Notification, WebhookEndpoint
from tests.factories import OrganisationFactory
from tests.notifications.checks import child_on_plan, record_check
from tests.notifications.conftest import WEBHOOK_SECRET
from tests.notifications.worker import RedisServer, Worker, all_delivered, broker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_hanging_webhook_at_one_la_does_not_delay_another_las_inbox(tmp_path, la, setting, webhook_receiver, capsys):
    other_la = OrganisationFactory(local_authority=True, team_mailbox="")
    WebhookEndpoint.objects.create(local_authority=la, url=webhook_receiver.url, secret=WEBHOOK_SECRET)
    # Each attempt hangs until the worker's webhook timeout (5 s in the fast settings).
    webhook_receiver.delay = 30
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    server = RedisServer(tmp_path)
    server.start()
    pools = [
        Worker(
            name="webhook",
            broker_url=server.url,
            workdir=tmp_path,
            mail_dir=mail_dir,
            beat=False,
            queues="deliveries-webhook",
        ),
        Worker(
            name="main",
            broker_url=server.url,
            workdir=tmp_path,
            mail_dir=mail_dir,
            queues="celery,deliveries-inbox,deliveries-email",
        ),
    ]
    try:
        with broker(server.url):
            for worker in pools:
                worker.start()
            # Four checks at the LA whose endpoint hangs: its webhook deliveries occupy their pool.
            for _ in range(4):
                record_check(plans=[child_on_plan(la)], care_setting=setting)
            wait_until(
                lambda: Delivery.objects.filter(channel=Channel.WEBHOOK, status=DeliveryStatus.SENDING).exists(),
                timeout=30,
                what="a webhook attempt hanging",
            )
            # Meanwhile the other LA's checks, each timed to its inbox.
            for _ in range(6):
                record_check(plans=[child_on_plan(other_la)], care_setting=setting)
            wait_until(
                lambda: not Notification.objects.filter(local_authority=other_la, delivered_to_inbox_at=None).exists(),
                timeout=60,
                what="the other LA's inbox deliveries",
            )
            latencies = [
                (n.delivered_to_inbox_at - n.created_at).total_seconds()
                for n in Notification.objects.filter(local_authority=other_la)
            ]
            # The hanging LA's own inbox and e-mail are not held up by its webhook either.
            wait_until(
                lambda: (
                    not Delivery.objects.exclude(channel=Channel.WEBHOOK).exclude(status=DeliveryStatus.SENT).exists()
                ),
                timeout=30,
                what="every inbox and e-mail delivery",
            )
            still_hanging = Delivery.objects.filter(channel=Channel.WEBHOOK).exclude(status=DeliveryStatus.SENT)
            assert still_hanging.exists()
            webhook_receiver.delay = 0
            wait_until(all_delivered, timeout=90, what="the webhooks once the endpoint answers")
    finally:
        for worker in pools:
            worker.stop()
        server.stop()
    with capsys.disabled():
        print(
            f"\ninbox latency during a hanging webhook: median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s"
        )
    assert max(latencies) < 3, latencies
