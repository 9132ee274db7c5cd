"""Reads that may lag, from a streaming replica when DATABASE_REPLICA_URL configures one.

Only views marked `@reads_may_lag` read there (the reports, the progress pages, the audit search
and its export): a few seconds' lag changes a count, never a decision. The check, the alert, the
inbox, sign-in and every write stay on the primary, whatever the replica says: a child's plan
written a second ago must be found by the next check (docs/deployment.md "Read replica").

Each marked request first asks the replica how far behind it is, one cheap query. A replica
that does not answer is left alone for DATABASE_REPLICA_RETRY_SECONDS (no request waits for its
connection timeout again meanwhile); one further behind than DATABASE_REPLICA_MAX_LAG seconds is
skipped for that request. Either way the request reads the primary, so the page still answers.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

logger = logging.getLogger(__name__)

REPLICA = "replica"

# The alias this request's lag-tolerant reads go to; unset (None) outside a marked view.
_reads_from: ContextVar[str | None] = ContextVar("cpis_reads_from", default=None)

_state_lock = threading.Lock()
_down_until = 0.0

# 0 when the standby has replayed all it received (idle, or caught up); otherwise the age of
# the last transaction it replayed. On a primary (a misconfigured URL) both LSNs are NULL: 0.
_LAG_SQL = """
SELECT CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
       ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)
       END
"""


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def _replica_lag_seconds() -> float:
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(_LAG_SQL)
        return float(cursor.fetchone()[0])


def replica_alias() -> str:
    """Where a lag-tolerant read should go now: the replica if it answers and is close enough."""
    global _down_until
    if not replica_configured():
        return DEFAULT_DB_ALIAS
    if time.monotonic() < _down_until:
        return DEFAULT_DB_ALIAS
    try:
        lag = _replica_lag_seconds()
    except DatabaseError as error:
        with _state_lock:
            _down_until = time.monotonic() + settings.DATABASE_REPLICA_RETRY_SECONDS
        # A broken connection is not reused: the next attempt reconnects.
        connections[REPLICA].close_if_unusable_or_obsolete()
        logger.warning("database replica unavailable, reading from the primary: %s", type(error).__name__)
        return DEFAULT_DB_ALIAS
    if lag > settings.DATABASE_REPLICA_MAX_LAG:
        logger.warning("database replica %.0f s behind, reading from the primary", lag)
        return DEFAULT_DB_ALIAS
    return REPLICA


def replica_forget_state() -> None:
    """Forgets that the replica was down (tests; an operator's shell after repairing it)."""
    global _down_until
    with _state_lock:
        _down_until = 0.0


def _streamed_from(alias: str, content: Iterator[Any]) -> Iterator[Any]:
    # A streamed body runs its queries after the view has returned: each chunk is produced
    # with the request's alias set again, and the alias unset while the server sends it.
    iterator = iter(content)
    while True:
        token = _reads_from.set(alias)
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        finally:
            _reads_from.reset(token)
        yield chunk


def reads_may_lag(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Marks a read-only view whose reads may come from the replica. Put it below role_required
    and the other access decorators, so that who may see the page is decided on the primary."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        alias = replica_alias()
        token = _reads_from.set(alias)
        try:
            response = view(request, *args, **kwargs)
        finally:
            _reads_from.reset(token)
        if alias != DEFAULT_DB_ALIAS and isinstance(response, StreamingHttpResponse):
            response.streaming_content = _streamed_from(alias, response.streaming_content)
        return response

    return wrapped


class ReplicaRouter:
    """Every write, and every read outside a marked view, goes to the primary by name: left to
    Django, an object read from the replica would be saved back to where it came from."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        alias = _reads_from.get()
        # Inside a transaction on the primary, a read sees that transaction's own writes.
        if alias is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return alias

    def db_for_write(self, model: type, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        # The replica holds the primary's rows: an object from either may relate to the other.
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS
