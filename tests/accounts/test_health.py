import os
import subprocess
import sys
import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from cpis.health import HEARTBEAT_KEY, worker_heartbeat
from tests.notifications.worker import SHARED_BROKER_URL, broker, wait_until

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_heartbeat():
    cache.delete(HEARTBEAT_KEY)
    yield
    cache.delete(HEARTBEAT_KEY)


def test_healthy_with_tasks_in_process(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "worker": "in-process"}


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
