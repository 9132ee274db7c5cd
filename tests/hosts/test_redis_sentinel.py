"""Redis failover under Sentinel: a real primary, replica and three sentinels (tests/hosts/
sentinel.py); the cache (cpis/redis_sentinel.py), the broker (kombu's sentinel transport) and
beat's lock (cpis/beat.py) all find the primary through the sentinels. The primary is SIGKILLed
while checks are made: every check still answers promptly, and once the replica is promoted
every notification is delivered exactly once per channel."""

import time

import pytest
from django.core.cache import cache
from django.test import override_settings

from cpis.redis_sentinel import SentinelPool, sentinel_addresses
from tests.hosts.sentinel import MASTER_NAME, SentinelCluster
from tests.notifications.checks import child_on_plan, record_check
from tests.notifications.worker import Worker, all_delivered, assert_reconciled, broker, wait_until


def test_a_sentinel_url_names_each_sentinel_and_the_database():
    url = "sentinel://10.0.0.1:26379/3;sentinel://10.0.0.2;sentinel://10.0.0.3:26380"
    assert sentinel_addresses(url) == ([("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26380)], 3)


@pytest.mark.parametrize("url", ["redis://10.0.0.1:6379/0", "sentinel://", "sentinel://h:1/x"])
def test_a_url_that_is_not_a_sentinel_list_is_refused_with_a_clear_error(url):
    with pytest.raises(ValueError):
        sentinel_addresses(url)


@pytest.fixture
def cluster(tmp_path):
    cluster = SentinelCluster(tmp_path)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _sentinel_cache(url: str) -> dict:
    # As cpis/settings/base.py makes it from a sentinel:// REDIS_URL.
    options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    options |= {"pool_class": "cpis.redis_sentinel.SentinelPool", "service_name": MASTER_NAME}
    return {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": [url], "OPTIONS": options}
    }


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_primary_killed_during_checks_fails_over_and_every_notification_is_delivered(
    tmp_path, cluster, local_authority, care_setting
):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    broker_url, cache_url = cluster.url(8), cluster.url(9)
    worker = Worker(
        name="sentinel",
        broker_url=broker_url,
        workdir=tmp_path,
        mail_dir=mail_dir,
        env={"REDIS_URL": cache_url, "REDIS_SENTINEL_MASTER": MASTER_NAME},
    )
    visits = []
    with override_settings(CACHES=_sentinel_cache(cache_url)), broker(broker_url) as app:
        saved_options = app.conf.broker_transport_options
        app.conf.broker_transport_options = {**saved_options, "master_name": MASTER_NAME}
        try:
            assert isinstance(cache._cache.get_client(write=True).connection_pool, SentinelPool)
            worker.start()
            for _ in range(3):
                visits.append(record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting))
            wait_until(all_delivered, timeout=120, what="deliveries before the failover")

            old_primary = cluster.kill_primary()
            # Checks go on through the failover, each promptly (the breakers carry them on).
            for _ in range(8):
                started = time.monotonic()
                visits.append(record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting))
                assert time.monotonic() - started < 10, "a check was held up by the failover"
                time.sleep(0.5)
            wait_until(lambda: cluster.primary_port() != old_primary, timeout=60, what="the replica promoted")
            for _ in range(3):
                visits.append(record_check(plans=[child_on_plan(local_authority)], care_setting=care_setting))
            wait_until(all_delivered, timeout=180, what="every delivery after the failover")

            # The cache answers from the new primary.
            wait_until(lambda: cache.set("cpis:test:failover", 1) or cache.get("cpis:test:failover") == 1,
                       timeout=30, what="the cache on the new primary")  # fmt: skip
        finally:
            app.conf.broker_transport_options = saved_options
            worker.stop()
    assert_reconciled(visits=visits, mail_dir=mail_dir)
