"""Beat on every host, each schedule entry published once (docs/adr/ADR-015-beat-on-every-host.md).

celery-redbeat keeps the schedule in Redis, each entry with the time it last ran, and lets only
the beat holding a lock in Redis publish. Its own start-up waits for the lock inside
`beat_init`; that wait fails for good if Redis is away at that moment (the beat then crashes on
its first tick), and a lock lost to a Redis failover or a long pause is never taken back. So
here every beat asks for the lock on each tick instead, without waiting:

1. not holding it: try once; whoever fails is a standby and publishes nothing this tick;
   whoever takes it writes the schedule's entries back into Redis first (an emptied Redis
   loses them with the lock), keeping the last runs Redis still has;
2. holding it: redbeat's tick extends it (to REDBEAT_LOCK_TIMEOUT) and publishes what is due,
   saving each entry's run in Redis, so a beat that takes over never repeats a slot;
3. a Redis error, or finding the lock taken by another (we paused past its timeout): let it
   go, log it, and try again next tick, rather than crash the process.

A dead leader's lock expires after REDBEAT_LOCK_TIMEOUT, and a standby takes it at its next
tick (at most CELERY_BEAT_MAX_LOOP_INTERVAL later): the hand-over takes well under a minute.
Every periodic task is idempotent on its own as well, so a lock that fails open (two leaders
for a moment across a failover) costs a repeated run that does nothing.
"""

import logging
from typing import Any

from celery.signals import beat_init
from redbeat.schedulers import LUA_EXTEND_TO_SCRIPT, RedBeatScheduler, acquire_distributed_beat_lock, get_redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Our ticks take the lock; redbeat's blocking wait at start-up would only hold beat up.
beat_init.disconnect(acquire_distributed_beat_lock)


# Read from the settings' CELERY_REDBEAT_* (cpis/settings/base.py).
_REDBEAT_SETTINGS = ("redbeat_redis_url", "redbeat_redis_options", "redbeat_key_prefix", "redbeat_lock_timeout")


class LockedScheduler(RedBeatScheduler):
    def __init__(self, app: Any, *args: Any, **kwargs: Any) -> None:
        # redbeat reads its values through Celery's namespace, but asks whether they are set
        # by their bare names: unnamed, it would ignore its options and fall back on the broker's.
        for name in _REDBEAT_SETTINGS:
            value = app.conf.first(name)
            if value is not None:
                app.conf[name] = value
        super().__init__(app, *args, **kwargs)
        self.lock: Any = None
        self.leading = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        try:
            if not self._lead():
                return self.max_interval
            return super().tick(*args, **kwargs)
        except RedisError as exc:
            # LockNotOwnedError (a RedisError) too: another beat leads now.
            logger.warning("beat: Redis lock or schedule unavailable (%s); standing by", type(exc).__name__)
            self._stand_by()
            return self.max_interval

    def _lead(self) -> bool:
        if self.lock is None:
            client = get_redis(self.app)
            lock = client.lock(self.lock_key, timeout=self.lock_timeout, sleep=self.max_interval)
            # redbeat's extend sets the timeout anew rather than adding to what is left.
            lock.lua_extend = client.register_script(LUA_EXTEND_TO_SCRIPT)
            if not lock.acquire(blocking=False):
                if self.leading:
                    logger.warning("beat: no longer leading; standing by")
                self.leading = False
                return False
            self.lock = lock
            # A Redis that came back empty (restarted, or a failover to a replica that missed
            # writes) has lost the schedule with the lock: put the entries back, keeping each
            # last run Redis still knows.
            self.setup_schedule()
        if not self.leading:
            logger.info("beat: leading (lock %s, %d s)", self.lock_key, self.lock_timeout)
            self.leading = True
        return True

    def _stand_by(self) -> None:
        self.lock = None
        self.leading = False
