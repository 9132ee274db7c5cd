"""Records each beat task's successful runs (operations.models.PeriodicTaskRun)."""

import logging
from typing import cast

from celery.signals import task_success
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


def beat_task_names() -> set[str]:
    # The plugin reads the schedule's entries as dict[str, object]; "task" is always a name.
    return {cast(str, entry["task"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()}


@task_success.connect(weak=False)
def _record_beat_task_success(sender=None, **kwargs) -> None:
    name = getattr(sender, "name", None)
    if name not in beat_task_names():
        return
    from operations.models import PeriodicTaskRun

    try:
        PeriodicTaskRun.objects.update_or_create(task=name, defaults={"last_success_at": timezone.now()})
    except Exception as exc:  # noqa: BLE001 - the task itself succeeded; only the record is lost
        logger.warning("Could not record the run of %s: %s", name, type(exc).__name__)
