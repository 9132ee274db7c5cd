"""The demo without a worker (`make run` with no CELERY_BROKER_URL): what beat and the worker
would do, done inside the web process instead.

Only installed when IN_PROCESS_TASKS is on (no broker configured). In production a broker is
set, beat runs the periodic jobs and the worker the background ones; none of this runs.
"""

import logging
import threading

from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections

logger = logging.getLogger(__name__)


def _periodic_jobs() -> list[tuple[str, float, object]]:
    from notifications.services import notifications_mark_overdue

    # (cache key, seconds between runs, job): beat's jobs that a demo shows on screen.
    return [("in-process:overdue", float(settings.NOTIFICATION_OVERDUE_INTERVAL), notifications_mark_overdue)]


class PeriodicTasksMiddleware:
    """Runs each due periodic job at the start of a request, at most once per its interval
    (`cache.add` lets one request claim a run), so overdue notifications get marked."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for key, interval, job in _periodic_jobs():
            if cache.add(key, 1, timeout=interval):
                try:
                    job()
                except Exception:
                    # A demo job failing must not take the page down; the next interval retries.
                    logger.exception("in-process periodic job %s failed", key)
        return self.get_response(request)


def run_in_background(task, *args) -> None:
    """`task.delay(*args)`, except without a broker: then a thread runs it, so the request
    returns at once and the page can show the progress a worker would report."""
    if not getattr(settings, "IN_PROCESS_TASKS", False):
        task.delay(*args)
        return

    def run():
        close_old_connections()
        try:
            task.run(*args)
        except Exception:
            logger.exception("in-process task %s failed", task.name)
        finally:
            close_old_connections()

    threading.Thread(target=run, name=f"in-process-{task.name}", daemon=True).start()
