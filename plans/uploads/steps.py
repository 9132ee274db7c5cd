"""The steps of a web upload: receive (queue the analysis), analyse (the preview), confirm or
cancel, apply. The analysis keeps its classification with the plan versions it was worked out
against; the apply writes it as it is while they stand, and otherwise checks the file again. The
apply commits everything in one transaction."""

import logging
from typing import IO

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Organisation, User
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from core.background import run_in_background
from cpis.resilience import broker_publish
from plans.models import (
    FileCode,
    Plan,
    PlanUpload,
    PlanUploadChange,
    UploadStatus,
)
from plans.services import plans_lock_for_local_authority, plans_versions
from plans.upload_rows import FileUnreadable
from plans.uploads.pipeline import COUNT_KEYS, _run, _run_kept
from plans.uploads.progress import _progress_forget, _progress_set
from plans.uploads.results import _content, _file_code, _refuse, _rejections_store
from plans.uploads.verification import _identity_lookups, upload_verification

logger = logging.getLogger(__name__)


def _receive(
    *, organisation: Organisation, by: User | None, filename: str, file: IO[bytes], store: bool = True
) -> tuple[PlanUpload, bytes]:
    """Records the upload; `store` keeps the file in the database for the worker to read."""
    limit = settings.PLAN_UPLOAD_MAX_BYTES
    # Read one byte past the limit: enough to know it is too large without holding all of it.
    content = file.read(limit + 1)
    upload = PlanUpload(organisation=organisation, uploaded_by=by, filename=filename[:255], size_bytes=len(content))
    if len(content) > limit:
        upload.size_bytes = getattr(file, "size", None) or len(content)
        upload.save()
        _refuse(upload, f"The file is larger than {limit // (1024 * 1024)} MB. Split it and try again.")
        return upload, b""
    if store:
        upload.content = content
    upload.save()
    return upload, content


def plan_upload_receive(
    *, organisation: Organisation, by: User, filename: str, file: IO[bytes], request: HttpRequest | None = None
) -> PlanUpload:
    """Stores the file and queues its analysis (the preview)."""
    with transaction.atomic():
        upload, _ = _receive(organisation=organisation, by=by, filename=filename, file=file)
        audit_record(
            action=AuditAction.PLAN_UPLOAD_RECEIVED, request=request, user=by, organisation=organisation,
            detail={"upload_id": upload.pk, "bytes": upload.size_bytes},
        )  # fmt: skip
        if upload.status == UploadStatus.ANALYSING:
            from plans import tasks

            transaction.on_commit(
                lambda: run_in_background(tasks.plan_upload_analyse, upload.pk, publish=broker_publish)
            )
    return upload


def plan_upload_analyse(*, upload_id: int, content: bytes | None = None) -> None:
    """Works out the preview: what the file would do to the plans as they stand now."""
    upload = PlanUpload.objects.filter(pk=upload_id, status=UploadStatus.ANALYSING).defer("content").first()
    if upload is None:
        return
    in_worker = content is None
    if content is None:
        content = _content(upload_id)
    verifier = None
    verification = upload_verification()
    if verification is not None:
        from plans import tasks

        # PDS first, outside any transaction: its answers are kept even if it fails part-way.
        if not _identity_lookups(
            verification=verification,
            upload_id=upload_id,
            content=content,
            task=tasks.plan_upload_analyse,
            in_worker=in_worker,
        ):
            return
        verifier = verification.row_verifier(upload_id=upload_id)
    try:
        with transaction.atomic():
            # Under the LA's plan lock, as the apply: no write to its plans is under way, so the
            # classification below and the versions read here describe the same plans.
            plans_lock_for_local_authority(organisation_id=upload.organisation_id, write=False)
            against = {"today": timezone.localdate().isoformat(), "plans": plans_versions()}
            outcome = _run(upload=upload, content=content, apply=False, by=upload.uploaded_by, verifier=verifier)
            file_code, message = _file_code(outcome.counts)
            _rejections_store(upload=upload, rejections=outcome.rejections)
            upload.counts = outcome.counts
            upload.columns = outcome.columns
            upload.file_code = file_code
            upload.file_message = message
            # With identity verification the apply asks PDS again and keeps what it verified,
            # so it checks the rows again too.
            upload.classified_against = against if verification is None else None
            if file_code == FileCode.CPF04:
                # Nothing to confirm; the rejected rows stay downloadable.
                upload.status = UploadStatus.REFUSED
                upload.content = b""
                upload.classified_against = None
                if verification is not None:
                    verification.forget(upload_id=upload.pk)
            else:
                upload.status = UploadStatus.PREVIEW
            upload.save()
    except FileUnreadable as error:
        _refuse(upload, error.message)
        return
    except Exception as error:
        logger.error("plan upload %s analysis failed: %s", upload_id, type(error).__name__)
        PlanUpload.objects.filter(pk=upload_id).update(
            status=UploadStatus.FAILED, content=b"", file_message="Something went wrong while checking the file."
        )
        return


def _classification_stands(*, upload: PlanUpload, written_before: int) -> bool:
    """Whether the preview's kept classification is still what checking the file again would
    give. Under the LA's plan lock; `written_before` is the LA's plans version as the apply's
    lock found it.

    1. it was worked out today (the row rules depend on the day: ages, dates in the future);
    2. nothing has written this LA's plans since;
    3. no other LA that has written its plans since holds a plan for one of the kept rows'
       NHS numbers (a date of birth held elsewhere rejects a row).
    A row the preview rejected because of another LA's plan stays rejected if that plan
    changed; the LA sends it again, as it would after any rejection.
    """
    against = upload.classified_against
    if not against or against.get("today") != timezone.localdate().isoformat():
        return False
    seen = {int(organisation_id): version for organisation_id, version in against["plans"].items()}
    if seen.get(upload.organisation_id, 0) != written_before:
        return False
    elsewhere = [
        organisation_id
        for organisation_id, version in plans_versions().items()
        if organisation_id != upload.organisation_id and seen.get(organisation_id, 0) != version
    ]
    if not elsewhere:
        return True
    children_elsewhere = Plan.objects.filter(organisation_id__in=elsewhere).values("nhs_number")
    return not PlanUploadChange.objects.filter(upload_id=upload.pk, nhs_number__in=children_elsewhere).exists()


def plan_upload_confirm(*, upload: PlanUpload, by: User, request: HttpRequest | None = None) -> bool:
    """Queues the apply; a second confirmation (double submit, second tab) does nothing."""
    with transaction.atomic():
        claimed = PlanUpload.objects.filter(pk=upload.pk, status=UploadStatus.PREVIEW).update(
            status=UploadStatus.QUEUED, confirmed_by=by, confirmed_at=timezone.now()
        )
        if not claimed:
            return False
        audit_record(
            action=AuditAction.PLAN_UPLOAD_CONFIRMED, request=request, user=by, organisation=upload.organisation,
            detail={"upload_id": upload.pk},
        )  # fmt: skip
        from plans import tasks

        def queue() -> None:
            # After commit, both: this transaction holds the upload's row, and Redis may be slow.
            _progress_set(upload.pk, phase="Waiting to start", percent=0)
            # Through the broker's breaker: a frozen Redis must not hold the request. An upload
            # whose message was not published waits, and is failed as stale (plan_uploads_stale_fail).
            run_in_background(tasks.plan_upload_apply, upload.pk, publish=broker_publish)

        transaction.on_commit(queue)
    return True


def plan_upload_cancel(*, upload: PlanUpload, by: User, request: HttpRequest | None = None) -> bool:
    with transaction.atomic():
        cancelled = PlanUpload.objects.filter(pk=upload.pk, status=UploadStatus.PREVIEW).update(
            status=UploadStatus.CANCELLED, content=b""
        )
        if cancelled:
            PlanUploadChange.objects.filter(upload=upload).delete()
            audit_record(
                action=AuditAction.PLAN_UPLOAD_CANCELLED, request=request, user=by, organisation=upload.organisation,
                detail={"upload_id": upload.pk},
            )  # fmt: skip
    return bool(cancelled)


def plan_upload_apply(*, upload_id: int, content: bytes | None = None) -> None:
    """Applies a confirmed upload, all or nothing, and records its acknowledgement.

    1. lock the upload row (so it is applied once) and the LA's plans (so uploads queue);
    2. write the preview's kept classification if it still stands (`_classification_stands`),
       else run the pipeline against the plans as they are now, and write them;
    3. store the acknowledgement and forget the file, in the same transaction.
    A worker killed part-way leaves the upload queued and the plans untouched; the message
    comes back (late acknowledgement) and the apply runs again from the start.
    With identity verification (plans/uploads/verification.py), any number not yet looked up on
    PDS is looked up first, outside the transaction; if PDS cannot answer, the upload is held
    (CPF05), untouched.
    """
    verifier = None
    verification = upload_verification()
    if verification is not None:
        if not PlanUpload.objects.filter(pk=upload_id, status=UploadStatus.QUEUED).exists():
            return
        from plans import tasks

        stored = content is None
        if content is None:
            content = _content(upload_id)
        if not _identity_lookups(
            verification=verification,
            upload_id=upload_id,
            content=content,
            task=tasks.plan_upload_apply,
            in_worker=stored,
        ):
            return
        verifier = verification.row_verifier(upload_id=upload_id)
    try:
        with transaction.atomic():
            upload = (
                PlanUpload.objects.select_for_update()
                .filter(pk=upload_id, status=UploadStatus.QUEUED)
                .defer("content")
                .first()
            )
            if upload is None:
                return
            written_before = plans_lock_for_local_authority(organisation_id=upload.organisation_id)
            previewed = {key: upload.counts.get(key, 0) for key in COUNT_KEYS} if upload.counts else None
            if verifier is None and _classification_stands(upload=upload, written_before=written_before):
                outcome = _run_kept(upload=upload, by=upload.confirmed_by)
            else:
                if content is None:
                    content = _content(upload_id)
                outcome = _run(upload=upload, content=content, apply=True, by=upload.confirmed_by, verifier=verifier)
                if verification is not None and verifier is not None:
                    verification.record_verified(upload_id=upload.pk, verifier=verifier)
                _rejections_store(upload=upload, rejections=outcome.rejections)
                if previewed is not None and previewed != {key: outcome.counts.get(key, 0) for key in COUNT_KEYS}:
                    # The plans changed since the preview: the acknowledgement says so.
                    outcome.counts["differs_from_preview"] = True
            upload.counts = outcome.counts
            upload.columns = outcome.columns
            upload.file_code, upload.file_message = _file_code(outcome.counts)
            upload.classified_against = None
            # CPF04: nothing was accepted, so nothing was applied.
            upload.status = UploadStatus.REFUSED if upload.file_code == FileCode.CPF04 else UploadStatus.APPLIED
            upload.applied_at = timezone.now()
            upload.content = b""
            upload.save()
            PlanUploadChange.objects.filter(upload=upload).delete()
            audit_record(
                action=AuditAction.PLAN_UPLOAD_APPLIED, user=upload.confirmed_by, organisation=upload.organisation,
                detail={"upload_id": upload.pk, "file_code": upload.file_code, **outcome.counts},
            )  # fmt: skip
    except FileUnreadable as error:
        upload = PlanUpload.objects.defer("content").get(pk=upload_id)
        _refuse(upload, error.message)
    except Exception as error:
        # Only the class name: a database error's text can quote a row of the file.
        logger.error("plan upload %s failed: %s; nothing was changed", upload_id, type(error).__name__)
        PlanUpload.objects.filter(pk=upload_id, status=UploadStatus.QUEUED).update(
            status=UploadStatus.FAILED,
            file_message="Something went wrong while applying the file. Nothing was changed.",
            classified_against=None,
        )
        PlanUploadChange.objects.filter(upload_id=upload_id).delete()
        upload = PlanUpload.objects.defer("content").get(pk=upload_id)
        audit_record(
            action=AuditAction.PLAN_UPLOAD_FAILED, user=upload.confirmed_by, organisation=upload.organisation,
            outcome=AuditOutcome.FAILURE, detail={"upload_id": upload_id, "error": type(error).__name__},
        )  # fmt: skip
    finally:
        _progress_forget(upload_id)
