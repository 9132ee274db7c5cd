"""The poll's lease: one poller at a time across hosts, and a dead poller's turn lapses soon.

A key in the cache's Redis with a short time to live (MESH_POLL_LEASE_SECONDS, 30 s), which
the running poll renews every third of that from a thread of its own for as long as it works,
as beat renews its lock on every tick (cpis/beat.py, ADR-015). A 100,000-row file or a 25 MB
chunked download can take longer than any fixed timeout we could choose; a renewed lease needs
no such guess, and a poller SIGKILLed mid-poll stops renewing with it, so its lease lapses
within MESH_POLL_LEASE_SECONDS and the next beat's poll takes over.

Taking it is `SET NX PX` with a random token; renewing and releasing are redis-py's Lock
scripts, which act only while the key still holds our token: a poller that lost its lease (a
pause past it, a Redis failover) never extends or deletes the next poller's. One that finds
it lost stops taking messages (`held`).

The lease keeps two pollers from working side by side; it is not what keeps a message from
being applied twice: that is the MESH message id, unique in the database (inbound.py).
Without Redis (the SQLite demo, one process) the cache's own add/touch/delete stand in.
"""

import logging
import threading
import time
import uuid
from types import TracebackType
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import LockError, RedisError

logger = logging.getLogger(__name__)


class Lease:
    def __init__(self, key: str, *, seconds: float) -> None:
        self.key = key
        self.seconds = float(seconds)
        self._cache = caches["default"]
        self._lock: Any = None
        self._token = uuid.uuid4().hex
        self._renewed_at = 0.0
        self._lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _redis_lock(self) -> Any:
        if self._lock is None and isinstance(self._cache, RedisCache):
            name = self._cache.make_and_validate_key(self.key)
            # The cache's own client and pool (Sentinel-aware, its timeouts): Django's, not in its stubs.
            client = self._cache._cache.get_client(name, write=True)  # type: ignore[attr-defined]
            self._lock = client.lock(name, timeout=self.seconds, blocking=False, thread_local=False)
        return self._lock

    def acquire(self) -> bool:
        lock = self._redis_lock()
        if lock is not None:
            taken = bool(lock.acquire(blocking=False, token=self._token))
        else:
            taken = bool(self._cache.add(self.key, self._token, timeout=self.seconds))
        if taken:
            self._renewed_at = time.monotonic()
        return taken

    def renew(self) -> bool:
        """Back to its full time to live, if still ours; False once it is not."""
        lock = self._redis_lock()
        if lock is not None:
            try:
                lock.reacquire()
            except LockError:  # LockNotOwnedError too: it lapsed, and perhaps another took it
                self._lost = True
                return False
        elif self._cache.get(self.key) == self._token:
            self._cache.touch(self.key, timeout=self.seconds)
        else:
            self._lost = True
            return False
        self._renewed_at = time.monotonic()
        return True

    @property
    def held(self) -> bool:
        """Whether we may go on working: renewed within its time to live and never found lost."""
        return not self._lost and time.monotonic() - self._renewed_at < self.seconds

    def release(self) -> None:
        """Deletes it if it is still ours; another poller's lease stays."""
        lock = self._redis_lock()
        try:
            if lock is not None:
                lock.release()
            elif self._cache.get(self.key) == self._token:
                self._cache.delete(self.key)
        except LockError:
            pass  # lapsed already: nothing of ours to release
        except RedisError as error:
            # It lapses on its own within `seconds`.
            logger.warning("MESH poll lease not released (%s)", type(error).__name__)

    def _renew_while_held(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            try:
                if not self.renew():
                    logger.warning("MESH poll lease lost: another poller may take over")
                    return
            except RedisError as error:
                # Tried again at the next third; `held` turns False if it stays away too long.
                logger.warning("MESH poll lease not renewed (%s)", type(error).__name__)

    def __enter__(self) -> "Lease":
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew_while_held, name=f"lease {self.key}", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.seconds)
        self.release()
