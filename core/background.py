"""Work a request hands to the worker, or to a thread when there is none (the demo's `make run`
without a broker, cpis/in_process.py)."""

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


def run_in_background(task: Any, *args: Any, publish: Callable[[Any, tuple[Any, ...]], object] | None = None) -> None:
    """`publish(task, args)` (by default `task.delay(*args)`), except without a broker: then a
    thread runs it, so the request returns at once and the page can show the progress a worker
    would report. A request passes `cpis.resilience.broker_publish`, the broker's breaker (core
    imports no project code)."""
    if not getattr(settings, "IN_PROCESS_TASKS", False):
        if publish is None:
            task.delay(*args)
        else:
            publish(task, args)
        return

    def run() -> None:
        close_old_connections()
        try:
            task.run(*args)
        except Exception:
            logger.exception("in-process task %s failed", task.name)
        finally:
            close_old_connections()

    threading.Thread(target=run, name=f"in-process-{task.name}", daemon=True).start()
