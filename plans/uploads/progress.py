"""An upload's progress, for the browser's progress bar.

In the cache (Redis), not the database: the apply's own writes are invisible until it commits.
Best effort, behind the cache's breaker (cpis/resilience.py): the apply reports its progress
from inside its transaction, which holds the upload's row and the LA's plans, so a Redis that
is down or frozen must neither fail the apply nor hold those locks for more than one timeout.
"""

import logging
from typing import Any

from django.core.cache import cache

from cpis.resilience import cache_breaker
from plans.models import (
    PlanUpload,
    UploadStatus,
)

logger = logging.getLogger(__name__)

_PROGRESS_KEY = "plans:upload-progress:{}"


def _progress_cache(call: str, upload_id: int, *args: Any, **kwargs: Any) -> Any:
    if cache_breaker.is_open:
        return None
    try:
        return getattr(cache, call)(_PROGRESS_KEY.format(upload_id), *args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any cache failure: the progress bar waits, the upload goes on
        cache_breaker.failed(exc)
        return None


def _progress_set(upload_id: int, *, phase: str, percent: int) -> None:
    _progress_cache("set", upload_id, {"phase": phase, "percent": percent}, timeout=3600)


def _progress_forget(upload_id: int) -> None:
    _progress_cache("delete", upload_id)


def upload_progress(*, upload: PlanUpload) -> dict[str, Any]:
    progress = _progress_cache("get", upload.pk) or {}
    # A held upload (CPF05) is finished for the progress bar: the page reloads to say why it waits.
    finished = upload.is_finished or upload.status in (UploadStatus.PREVIEW, UploadStatus.HELD)
    return {
        "status": upload.status,
        "status_text": upload.get_status_display(),
        "finished": finished,
        "phase": progress.get("phase", "Waiting to start"),
        "percent": 100 if finished else progress.get("percent", 0),
    }
