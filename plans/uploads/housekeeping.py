"""Beat's housekeeping: expiring unconfirmed previews, forgetting rejected rows, failing stale applies."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from plans.models import (
    PlanUpload,
    PlanUploadChange,
    PlanUploadRejection,
    UploadStatus,
)

logger = logging.getLogger(__name__)


def plan_uploads_expire(*, now: datetime | None = None) -> int:
    """Nightly: previews nobody confirmed within a day are cancelled and their files and kept
    classifications deleted; so is the kept classification of any upload that will not be
    applied any more (one failed or marked stale). Returns how many previews expired."""
    now = now or timezone.now()
    expired = PlanUpload.objects.filter(
        status=UploadStatus.PREVIEW, uploaded_at__lt=now - settings.PLAN_UPLOAD_PREVIEW_LIFETIME
    )
    with transaction.atomic():
        count = expired.update(status=UploadStatus.CANCELLED, content=b"", classified_against=None)
        # Every status but those an apply may still come to; ANALYSING never has kept rows
        # outside its own transaction.
        PlanUploadChange.objects.exclude(
            upload__status__in=(UploadStatus.PREVIEW, UploadStatus.QUEUED, UploadStatus.HELD)
        ).delete()
    return count


def plan_upload_reports_forget(*, now: datetime | None = None) -> int:
    """Nightly: rejected rows (children's details the service never accepted) are deleted
    PLAN_RETENTION_DAYS after their upload; the acknowledgement's codes and counts stay."""
    now = now or timezone.now()
    deleted, _ = PlanUploadRejection.objects.filter(
        upload__uploaded_at__lt=now - timedelta(days=settings.PLAN_RETENTION_DAYS)
    ).delete()
    return deleted


# `import_plans` marks its upload queued a moment before its apply locks the row.
_IMPORT_LOCK_GRACE = timedelta(minutes=2)


# A web upload's apply message comes back after the broker's visibility timeout if its worker
# died; this long after that, the message is presumed lost with Redis.
_REDELIVERY_MARGIN = timedelta(minutes=30)


STALE_UPLOAD_MESSAGE = (
    "The import stopped before it finished (the process ended). Nothing was changed; send the file again."
)


def plan_uploads_stale_fail(*, now: datetime | None = None) -> int:
    """Every few minutes (beat): marks uploads left "Being applied" by a dead apply as failed,
    and audits each. Returns how many.

    An apply holds its upload's row lock from its start to its commit, and writes the plans in
    that one transaction, so a queued upload whose row is not locked is not being applied, and
    its plans were never touched. Such an upload is stale when
    - it has no stored file (`manage.py import_plans` keeps the file in memory): the command
      died, and nothing can resume it;
    - it has one (a web upload), but its worker's message is long overdue: past the broker's
      redelivery time, the message was lost (Redis restarted empty).
    """
    now = now or timezone.now()
    redelivery = timedelta(seconds=settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]) + _REDELIVERY_MARGIN
    with transaction.atomic():
        stale = list(
            PlanUpload.objects.select_for_update(skip_locked=True)
            .filter(status=UploadStatus.QUEUED)
            .filter(
                Q(content=b"", confirmed_at__lt=now - _IMPORT_LOCK_GRACE)
                | Q(confirmed_at__lt=now - redelivery)
                | Q(confirmed_at__isnull=True, uploaded_at__lt=now - redelivery)
            )
            .defer("content")
            .select_related("organisation")
        )
        for upload in stale:
            PlanUpload.objects.filter(pk=upload.pk).update(
                status=UploadStatus.FAILED, content=b"", file_message=STALE_UPLOAD_MESSAGE, classified_against=None
            )
            PlanUploadChange.objects.filter(upload_id=upload.pk).delete()
            audit_record(
                action=AuditAction.PLAN_UPLOAD_FAILED, user=upload.confirmed_by, organisation=upload.organisation,
                outcome=AuditOutcome.FAILURE, detail={"upload_id": upload.pk, "error": "stale"},
            )  # fmt: skip
    if stale:
        logger.error("Marked %d upload(s) failed: their apply stopped before it finished", len(stale))
    return len(stale)
