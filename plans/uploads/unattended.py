"""The unattended import (manage.py import_plans): the same steps, run here and now, and the
acknowledgement as the command prints it."""

import io
from typing import IO, Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation
from audit.models import AuditAction
from audit.services import audit_record
from plans.models import (
    ROW_ACCEPTED,
    PlanUpload,
    PlanUploadChange,
    UploadStatus,
    row_code,
)
from plans.uploads.pipeline import COUNT_KEYS
from plans.uploads.steps import _receive, plan_upload_analyse, plan_upload_apply


def plan_upload_import(*, organisation: Organisation, filename: str, file: IO[bytes], dry_run: bool) -> PlanUpload:
    """The unattended import (manage.py import_plans): the same steps, run here and now."""
    with transaction.atomic():
        # Run here and now, the file need not wait in the database for a worker.
        upload, content = _receive(organisation=organisation, by=None, filename=filename, file=file, store=False)
        audit_record(
            action=AuditAction.PLAN_UPLOAD_RECEIVED, organisation=organisation,
            detail={"upload_id": upload.pk, "bytes": upload.size_bytes, "source": "command", "dry_run": dry_run},
        )  # fmt: skip
    if upload.status != UploadStatus.ANALYSING:
        return upload
    if dry_run:
        plan_upload_analyse(upload_id=upload.pk, content=content)
        PlanUpload.objects.filter(pk=upload.pk, status=UploadStatus.PREVIEW).update(
            status=UploadStatus.DRY_RUN, content=b"", classified_against=None
        )
        PlanUploadChange.objects.filter(upload_id=upload.pk).delete()
        # A dry run is never retried later: PDS down means "try again", now.
        PlanUpload.objects.filter(pk=upload.pk, status=UploadStatus.HELD).update(status=UploadStatus.REFUSED)
    else:
        # Unattended, nobody reads a preview: the apply checks every row itself, in one pass.
        PlanUpload.objects.filter(pk=upload.pk).update(status=UploadStatus.QUEUED, confirmed_at=timezone.now())
        plan_upload_apply(upload_id=upload.pk, content=content)
    upload.refresh_from_db()
    return upload


def plan_upload_store(*, organisation: Organisation, filename: str, content: bytes, source: str) -> PlanUpload:
    """Stores a file that arrived unattended (MESH) as an upload queued to apply, in the
    caller's transaction: the caller acknowledges the file to its sender only once this has
    committed, then applies it (`plan_upload_apply`), reading the stored file, as the worker
    applies a web upload. Too large a file is refused here, as `import_plans` refuses it."""
    upload, _ = _receive(organisation=organisation, by=None, filename=filename, file=io.BytesIO(content))
    audit_record(
        action=AuditAction.PLAN_UPLOAD_RECEIVED, organisation=organisation,
        detail={"upload_id": upload.pk, "bytes": upload.size_bytes, "source": source},
    )  # fmt: skip
    if upload.status == UploadStatus.ANALYSING:
        # Unattended, nobody reads a preview: the apply checks every row itself, in one pass.
        PlanUpload.objects.filter(pk=upload.pk).update(status=UploadStatus.QUEUED, confirmed_at=timezone.now())
        upload.status = UploadStatus.QUEUED
    return upload


def plan_upload_acknowledgement(*, upload: PlanUpload) -> dict[str, Any]:
    """The acknowledgement as the command prints it: the file code and every rejected row."""
    counts = {key: upload.counts.get(key, 0) for key in COUNT_KEYS} if upload.counts else {}
    return {
        "upload_id": upload.pk,
        "local_authority": upload.organisation.ods_code,
        "status": upload.status,
        "file_code": upload.file_code,
        "file_message": upload.file_message,
        "counts": counts,
        "accepted": {"code": ROW_ACCEPTED, "count": counts.get("accepted", 0)},
        "rejected": [
            {"line": r.line_number, "code": row_code(r.reason), "reason": r.reason, "message": r.message}
            for r in upload.rejections.all()
        ],
        # PDS verification (identity/): rows checked and matched, and the match rate.
        "identity": _identity_summary(upload),
    }


def _identity_summary(upload: PlanUpload) -> dict[str, Any] | None:
    identity = (upload.counts or {}).get("identity")
    if identity is None:
        return None
    rate = upload.match_rate
    return {**identity, "match_rate": round(rate * 100, 1) if rate is not None else None}
