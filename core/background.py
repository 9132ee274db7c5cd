"""Work a request hands to the worker, or to a thread when there is none (the demo's `make run`
without a broker, cpis/in_process.py)."""

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


def run_in_background(task: Any, *args: Any) -> None:
    """`task.delay(*args)`, except without a broker: then a thread runs it, so the request
    returns at once and the page can show the progress a worker would report."""
    if not getattr(settings, "IN_PROCESS_TASKS", False):
        task.delay(*args)
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
