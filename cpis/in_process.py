"""The demo without a worker (`make run` with no CELERY_BROKER_URL): what beat and the worker
would do, done inside the web process instead.

Only installed when IN_PROCESS_TASKS is on (no broker configured). In production a broker is
set, beat runs the periodic jobs and the worker the background ones; none of this runs.
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def _periodic_jobs() -> list[tuple[str, float, Callable[[], object]]]:
    from mesh.services import mesh_poll
    from notifications.services import notifications_mark_overdue

    # (cache key, seconds between runs, job): beat's jobs that a demo shows on screen.
    return [
        ("in-process:overdue", float(settings.NOTIFICATION_OVERDUE_INTERVAL), notifications_mark_overdue),
        # Files sent with `manage.py mesh_send` arrive at the next page view after the interval.
        ("in-process:mesh-poll", float(settings.MESH_POLL_INTERVAL), mesh_poll),
    ]


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
