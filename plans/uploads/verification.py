"""Identity verification's PDS step, before a preview or an apply (identity/uploads.py)."""

import logging

from celery import Task
from django.conf import settings

from identity.service import PdsUnavailable
from identity.uploads import (
    upload_hold,
    upload_identity_lookups,
)
from plans.uploads.progress import _progress_set

logger = logging.getLogger(__name__)


def _identity_lookups(*, upload_id: int, content: bytes, task: Task[[int], None], in_worker: bool) -> bool:
    """Identity verification's PDS step (identity/uploads.py); True when the pipeline may run.

    In the worker, one task asks for at most IDENTITY_LOOKUPS_PER_TASK numbers, then queues
    `task` again for the rest. If PDS cannot answer, the upload is held (CPF05), its file kept
    (an unattended import never stored it).
    """

    def progress(done: int, total: int) -> None:
        _progress_set(
            upload_id, phase="Verifying the children with PDS", percent=min(95, 5 + 90 * done // max(total, 1))
        )

    try:
        complete = upload_identity_lookups(
            upload_id=upload_id,
            content=content,
            limit=settings.IDENTITY_LOOKUPS_PER_TASK if in_worker else None,
            progress=progress,
        )
    except PdsUnavailable:
        upload_hold(upload_id=upload_id, content=None if in_worker else content)
        return False
    if not complete:
        try:
            task.delay(upload_id)
        except Exception as error:  # noqa: BLE001 - no broker: beat's retry picks the held file up
            logger.warning("plan upload %s could not be queued again: %s", upload_id, type(error).__name__)
            upload_hold(upload_id=upload_id)
    return complete
