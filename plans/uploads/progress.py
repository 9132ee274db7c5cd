"""An upload's progress, for the browser's progress bar."""

from typing import Any

from django.core.cache import cache

from plans.models import (
    PlanUpload,
    UploadStatus,
)

_PROGRESS_KEY = "plans:upload-progress:{}"


def _progress_set(upload_id: int, *, phase: str, percent: int) -> None:
    # The cache, not the database: the apply's own writes are invisible until it commits.
    cache.set(_PROGRESS_KEY.format(upload_id), {"phase": phase, "percent": percent}, timeout=3600)


def upload_progress(*, upload: PlanUpload) -> dict[str, Any]:
    progress = cache.get(_PROGRESS_KEY.format(upload.pk)) or {}
    # A held upload (CPF05) is finished for the progress bar: the page reloads to say why it waits.
    finished = upload.is_finished or upload.status in (UploadStatus.PREVIEW, UploadStatus.HELD)
    return {
        "status": upload.status,
        "status_text": upload.get_status_display(),
        "finished": finished,
        "phase": progress.get("phase", "Waiting for a worker"),
        "percent": 100 if finished else progress.get("percent", 0),
    }
