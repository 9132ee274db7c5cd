"""/metrics: Prometheus text, the backlog gauges moving with a check, and refusals."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from notifications.models import Channel, Delivery
from notifications.services import delivery_attempt
from operations.services import pool_heartbeat_keys
from tests.notifications.checks import child_on_plan, record_check

pytestmark = pytest.mark.django_db

TOKEN = "scraper-token-for-tests-0123456789"


@pytest.fixture
def metrics_settings(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.1.2.0/24"]
    return settings


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_a_check_moves_the_backlog_gauges_and_delivery_moves_them_back(
    client, metrics_settings, local_authority, care_setting
):
    before = scrape(client)
    assert before[("cpis_deliveries_pending", (("channel", "inbox"),))] == 0
    # Tests run tasks in-process only on commit, which never comes inside a test's
    # transaction: the check's deliveries wait, as they would with the worker stopped.
    record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
    after = scrape(client)
    assert after[("cpis_deliveries_pending", (("channel", "inbox"),))] == 1
    assert after[("cpis_deliveries_pending", (("channel", "email"),))] == 1
    assert after[("cpis_deliveries_oldest_pending_age_seconds", (("channel", "inbox"),))] >= 0
    assert ("cpis_worker_heartbeat_age_seconds", ()) in after
    assert ("cpis_worker_pool_heartbeat_age_seconds", (("channel", "webhook"),)) in after
    assert after[("cpis_audit_events_today", ())] >= 1
    # django-prometheus's request metrics are there too.
    assert any(name.startswith("django_http_requests_total") for name, _ in after)

    delivery_attempt(delivery_id=Delivery.objects.get(channel=Channel.INBOX).pk)
    delivered = scrape(client)
    assert delivered[("cpis_deliveries_pending", (("channel", "inbox"),))] == 0


def test_metrics_refuse_a_caller_without_the_token_or_an_allowed_address(client, metrics_settings):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="10.9.9.9").status_code == 403
    # From an allowed network, no token is needed.
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.7").status_code == 200


def test_metrics_are_closed_to_everyone_when_nothing_is_configured(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_under_gunicorn_metrics_add_up_across_workers(tmp_path):
    """Multiprocess mode: two workers, requests spread over them, one scrape counts them all."""
    import os
    import subprocess
    import sys
    import urllib.request

    from django.conf import settings
    from django.db import connection

    from tests.notifications.worker import free_port, wait_until

    db = connection.settings_dict
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:cpis.gunicorn", "cpis.wsgi"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "cpis.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": "2",
            "GUNICORN_WORKER_TMP_DIR": str(tmp_path),
            "METRICS_TOKEN": TOKEN,
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def get(path: str, **headers) -> bytes:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server
            return response.read()

    def up() -> bool:
        try:
            get("/fhir/R4/metadata")
            return True
        except OSError:
            return False

    try:
        wait_until(up, timeout=30, what="gunicorn")
        for _ in range(20):
            get("/fhir/R4/metadata")
        text = get("/metrics", Authorization=f"Bearer {TOKEN}").decode()
    finally:
        web.terminate()
        web.wait(timeout=10)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    served = sum(v for (name, labels), v in samples.items() if name == "django_http_responses_total_by_status_total")
    assert served >= 21  # every metadata request, whichever worker served it
    assert samples[("cpis_deliveries_pending", (("channel", "inbox"),))] == 0
    # The multiprocess files were in the configured directory, not the working directory.
    assert any(tmp_path.glob("cpis-metrics-*"))


def test_metrics_give_each_channels_oldest_undelivered_age_and_each_pools_heartbeat(
    client, metrics_settings, local_authority, care_setting
):
    record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
    Delivery.objects.filter(channel=Channel.EMAIL).update(created_at=timezone.now() - timedelta(seconds=900))
    pools = pool_heartbeat_keys()
    cache.set(pools["inbox"], time.time() - 30)
    cache.delete_many([pools["email"], pools["webhook"]])
    samples = scrape(client)
    oldest = {c: samples[("cpis_deliveries_oldest_pending_age_seconds", (("channel", c),))] for c in Channel.values}
    assert 900 <= oldest["email"] < 960
    assert 0 <= oldest["inbox"] < 60
    assert oldest["webhook"] == 0  # this LA has no webhook: nothing waits
    heartbeat = {c: samples[("cpis_worker_pool_heartbeat_age_seconds", (("channel", c),))] for c in Channel.values}
    assert 30 <= heartbeat["inbox"] < 90
    # NaN: no heartbeat at all (the alert rule's `x != x`).
    assert heartbeat["email"] != heartbeat["email"] and heartbeat["webhook"] != heartbeat["webhook"]
