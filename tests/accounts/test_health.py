import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from cpis.health import HEARTBEAT_KEY, worker_heartbeat
from notifications.models import Channel, Delivery
from operations.tasks import POOL_HEARTBEAT_KEY
from tests.notifications.checks import child_on_plan, record_check
from tests.notifications.worker import SHARED_BROKER_URL, RedisServer, broker, wait_until

pytestmark = pytest.mark.django_db


POOL_KEYS = {channel: POOL_HEARTBEAT_KEY.format(f"deliveries-{channel}") for channel in Channel.values}


@pytest.fixture(autouse=True)
def no_heartbeat():
    cache.delete_many([HEARTBEAT_KEY, *POOL_KEYS.values()])
    yield
    cache.delete_many([HEARTBEAT_KEY, *POOL_KEYS.values()])


def test_healthy_with_tasks_in_process(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
        "worker": "in-process",
        "pools": {"inbox": "in-process", "email": "in-process", "webhook": "in-process"},
        "oldest_undelivered_seconds": {"inbox": 0, "email": 0, "webhook": 0},
    }


def test_redis_down_is_reported(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error" and body["redis"] == "error: ConnectionError"
    # No host or port on a public page.
    assert "127.0.0.1" not in response.content.decode()
    assert body["database"] == "ok"


def test_missing_worker_heartbeat_is_reported(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    response = client.get(reverse("healthz"))
    assert response.status_code == 503 and response.json()["worker"] == "error: no worker heartbeat yet"


def test_stale_worker_heartbeat_is_reported(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.set(HEARTBEAT_KEY, time.time() - settings.WORKER_HEARTBEAT_MAX_AGE - 5)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503 and "last worker heartbeat" in response.json()["worker"]


@pytest.mark.worker
def test_real_worker_heartbeat_makes_health_green(client, settings):
    """A real worker on real Redis runs the heartbeat task; /healthz then reports it alive."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cpis.settings.test", "CELERY_BROKER_URL": SHARED_BROKER_URL}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cpis",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with broker(SHARED_BROKER_URL):
            # Only now: Celery may load its configuration from the settings as broker() saves
            # it, and would then restore this for the rest of the suite.
            settings.CELERY_TASK_ALWAYS_EAGER = False
            worker_heartbeat.apply_async()
            # A cold worker start on a busy 2-core machine takes a while.
            wait_until(lambda: cache.get(HEARTBEAT_KEY) is not None, timeout=90, what="a worker heartbeat")
        response = client.get(reverse("healthz"))
        assert response.status_code == 200, response.json()
        assert response.json()["worker"] == "ok"
        # Started without --queues it consumes every delivery queue: each pool is up at once.
        assert response.json()["pools"] == {"inbox": "ok", "email": "ok", "webhook": "ok"}
    finally:
        worker.terminate()
        worker.wait(timeout=10)


def test_livez_answers_without_touching_database_or_redis(client, settings, django_assert_num_queries):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with django_assert_num_queries(0):
        response = client.get(reverse("livez"))
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_ready_without_a_worker_and_reports_the_heartbeats(client, settings):
    from cpis.health import BEAT_HEARTBEAT_KEY

    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.set(HEARTBEAT_KEY, time.time() - 3600)
    cache.delete(BEAT_HEARTBEAT_KEY)
    response = client.get(reverse("readyz"))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["database"] == "ok" and body["redis"] == "ok"
    assert body["worker_heartbeat"].endswith(" s ago") and int(body["worker_heartbeat"].split()[0]) >= 3600
    assert body["beat_heartbeat"] == "none yet"


def test_readyz_is_unready_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json()["redis"] == "error: ConnectionError"
    assert "127.0.0.1" not in response.content.decode()


def test_beat_is_alive_only_while_it_publishes_the_heartbeat(settings):
    from cpis.health import BEAT_HEARTBEAT_KEY, beat_alive

    cache.delete(BEAT_HEARTBEAT_KEY)
    assert not beat_alive()
    # What beat does every 30 s: publish the heartbeat task (on a broker that takes it).
    from tests.notifications.worker import broker

    with broker("redis://127.0.0.1:6379/3"):
        worker_heartbeat.apply_async()
    assert beat_alive()
    assert not beat_alive(now=time.time() + settings.WORKER_HEARTBEAT_MAX_AGE + 5)


def test_healthz_is_unhealthy_while_every_delivery_pool_is_dead_though_the_main_worker_runs(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cache.set(HEARTBEAT_KEY, time.time())
    response = client.get(reverse("healthz"))
    assert response.status_code == 503, response.json()
    body = response.json()
    assert body["worker"] == "ok"
    # MESH is not configured here, so its pool is not expected (tests/mesh/test_pages.py).
    in_use = [channel for channel in Channel.values if channel != Channel.MESH]
    assert body["pools"] == {channel: f"error: no {channel} pool heartbeat yet" for channel in in_use}


def test_healthz_names_the_delivery_pool_whose_heartbeat_is_stale(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    now = time.time()
    cache.set(HEARTBEAT_KEY, now)
    cache.set(POOL_KEYS["inbox"], now - 5)
    cache.set(POOL_KEYS["email"], now)
    cache.set(POOL_KEYS["webhook"], now - settings.WORKER_HEARTBEAT_MAX_AGE - 60)
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    pools = response.json()["pools"]
    assert pools["inbox"] == "ok" and pools["email"] == "ok"
    assert pools["webhook"].startswith("error: last webhook pool heartbeat ") and pools["webhook"].endswith(" s ago")
    assert int(pools["webhook"].split()[-3]) >= settings.WORKER_HEARTBEAT_MAX_AGE + 60

    cache.set(POOL_KEYS["webhook"], now)
    assert client.get(reverse("healthz")).status_code == 200


def test_healthz_reports_each_channels_oldest_undelivered_delivery(client, local_authority, care_setting):
    # Tests run tasks only on commit, which never comes inside a test's transaction: the
    # check's deliveries wait, as with every pool stopped.
    record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
    record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting)
    Delivery.objects.filter(channel=Channel.EMAIL).update(created_at=timezone.now() - timedelta(seconds=600))
    Delivery.objects.filter(pk=Delivery.objects.filter(channel=Channel.INBOX).order_by("pk").first().pk).update(
        created_at=timezone.now() - timedelta(seconds=300),
        status="sending",
        claimed_at=timezone.now(),
        claim_token=uuid.uuid4(),
    )
    ages = client.get(reverse("healthz")).json()["oldest_undelivered_seconds"]
    assert 600 <= ages["email"] < 660
    assert 300 <= ages["inbox"] < 360
    assert ages["webhook"] == 0
    # Sent rows are no longer waiting.
    Delivery.objects.filter(channel=Channel.EMAIL).update(status="sent", sent_at=timezone.now())
    assert client.get(reverse("healthz")).json()["oldest_undelivered_seconds"]["email"] == 0


@pytest.fixture
def frozen_redis(tmp_path):
    """A Redis server of our own, SIGSTOPped: it accepts connections and never answers."""
    server = RedisServer(tmp_path)
    server.start()
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        yield f"redis://127.0.0.1:{server.port}/9"
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()


# Far below the 2-3 s a frozen Redis used to cost each probe, with room for a loaded machine
# (the probes' own bound is twice REDIS_PROBE_TIMEOUT, 0.4 s).
PROMPT = 1.0


@pytest.mark.parametrize("probe", ["readyz", "healthz"])
def test_probes_answer_promptly_and_report_redis_down_while_redis_is_frozen(client, settings, frozen_redis, probe):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REDIS_URL = frozen_redis
    with override_settings(CACHES={"default": {**settings.CACHES["default"], "LOCATION": frozen_redis}}):
        for _ in range(2):  # the first connects, the second reuses the connection
            started = time.monotonic()
            response = client.get(reverse(probe))
            elapsed = time.monotonic() - started
            assert elapsed < PROMPT, f"/{probe} took {elapsed:.2f} s"
            assert response.status_code == 503
            body = response.json()
            assert body["database"] == "ok"
            assert body["redis"] == "error: TimeoutError", body
