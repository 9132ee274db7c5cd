"""Two beats, one per "host", on one Redis: each schedule entry is published once per slot,
and when the leading beat is killed the other takes over within a lock timeout, repeating
nothing (cpis/beat.py). Real beat processes and a redis-server of the test's own; the short
entries of tests/hosts/beat_settings.py exercise the same lock as the real schedule."""

import json
import time
from collections import defaultdict
from datetime import timedelta

import pytest
import redis

from tests.hosts.beat_settings import SHORT_ENTRIES, SHORT_ENTRY_QUEUE
from tests.hosts.processes import LOCK_TIMEOUT, LOOP_INTERVAL, Beat
from tests.notifications.worker import RedisServer, wait_until

pytestmark = pytest.mark.worker

# An entry falls due an interval after its last publication (kept in Redis), so a loaded machine
# only ever makes gaps longer; the log's clock and Redis' differ by well under this.
CLOCK_SLACK = timedelta(seconds=0.5)


def _beat_env(server: RedisServer) -> dict[str, str]:
    return {"CELERY_BROKER_URL": server.url, "REDIS_URL": f"redis://127.0.0.1:{server.port}/1"}


def test_two_beats_publish_each_entry_once_per_slot_and_hand_over_when_one_dies(tmp_path, redis_server):
    beats = [Beat(name=name, workdir=tmp_path, env=_beat_env(redis_server)) for name in ("host-a", "host-b")]
    try:
        for beat in beats:
            beat.start()
        wait_until(lambda: any(b.leading() for b in beats), timeout=30, what="a beat to lead")
        # Two beats side by side for two minutes in all (issue 31): 75 s now, 45 s once the
        # killed one is back.
        time.sleep(75)
        leader, standby = sorted(beats, key=lambda b: not b.leading())
        assert not standby.leading()
        assert standby.sent() == []

        leader.kill()
        killed_at = time.monotonic()
        wait_until(standby.leading, timeout=LOCK_TIMEOUT + 20, what="the standby to take over")
        took = time.monotonic() - killed_at
        time.sleep(12)
        # The dead host comes back: it stands by, publishing nothing while the other leads.
        restarted_from = len(leader.log())
        leader.start()
        time.sleep(45)
    finally:
        for beat in beats:
            beat.stop()

    assert took < 60
    assert "beat: leading" not in leader.log()[restarted_from:]
    sent = defaultdict(list)
    for beat in beats:
        for at, name in beat.sent():
            sent[name].append(at)
    for name, interval in SHORT_ENTRIES.items():
        times = sorted(sent[name])
        assert len(times) >= 10, f"{name}: published {len(times)} times"
        gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
        # Never twice in one slot; and no slot lost beyond the hand-over (lock timeout + tick).
        assert min(gaps) >= timedelta(seconds=interval) - CLOCK_SLACK, f"{name} published twice in a slot: {gaps}"
        assert max(gaps) <= timedelta(seconds=interval + LOCK_TIMEOUT + LOOP_INTERVAL + 15), f"{name}: {gaps}"

    # What the logs say is what reached the broker: one message per publication.
    client = redis.Redis(port=redis_server.port, db=8)
    messages = [json.loads(raw) for raw in client.lrange(SHORT_ENTRY_QUEUE, 0, -1)]
    assert len(messages) == sum(len(sent[name]) for name in SHORT_ENTRIES)
