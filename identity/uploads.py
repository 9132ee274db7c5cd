"""Identity verification of a plan upload: the step between reading the file and applying it.

1. `upload_identity_lookups`: every NHS number of the file's valid rows (withdrawals aside) is
   looked up on PDS by the worker, concurrently within the rate limit, before any plan is
   touched. Answers are saved as they arrive (PdsLookup), outside the plans' transaction, so
   an outage loses nothing already asked and a retry only asks for the rest.
2. If PDS cannot answer, the upload is held as CPF05 (`upload_hold`): nothing is applied, the
   plans held are untouched, and `held_uploads_retry` (beat) tries again until
   IDENTITY_HELD_MAX_HOURS, then refuses the file with CPF05 so the LA resubmits it.
3. `UploadVerifier` answers each row from the saved lookups, inside plans/uploads/pipeline.py's
   pipeline: CPR01 no record, CPR02 sensitive, CPR03 details differ (identity/matching.py),
   CPR04 old-style number, CPR05 superseded (the replacement named), or accepted.
4. The apply records what PDS verified (VerifiedIdentity) in its own transaction and forgets
   the lookups.
"""

import functools
import logging
import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from core.nhs_numbers import nhs_number_format, nhs_number_normalise
from identity.matching import mismatches
from identity.models import IdentityStatus, PdsLookup, VerifiedIdentity
from identity.records import LookupStatus, PdsRecord
from identity.service import PdsUnavailable, identity_service, identity_verification_enabled
from plans.models import FileCode, PlanUpload, RejectReason, UploadStatus, row_code
from plans.upload_rows import FileUnreadable, PlanFileReader, Rejection
from plans.uploads.verification import RowVerifier, VerificationUnavailable

logger = logging.getLogger(__name__)

# An NHS number from before 1996: letters and digits (e.g. "RBAX 1234"), never ten digits.
_OLD_STYLE = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9][A-Za-z0-9 /\-]{2,16}$")
_SAVE_BATCH = 200
HELD_MESSAGE = (
    "The national demographics service (PDS) could not be reached to verify the children, so nothing "
    "has been applied yet. CP-IS tries again every few minutes; you need do nothing."
)
GIVEN_UP_MESSAGE = (
    "The national demographics service (PDS) could not be reached for {hours} hours, so the children "
    "could not be verified and nothing was applied. Upload the file again."
)


def _numbers_to_verify(content: bytes) -> list[str]:
    """The distinct valid NHS numbers of the file's rows, in file order; withdrawals are left out
    (a plan recorded in error must always be removable, whatever PDS says of its number).

    Rows refused for something else are included when their number is valid: the pipeline reads
    the file again later, and a row refused now only for a date (a start date of "tomorrow" read
    just before midnight) may be valid then; it must never reach the pipeline unverified.
    """
    reader = PlanFileReader(content=content, today=timezone.localdate(), max_rows=settings.PLAN_UPLOAD_MAX_ROWS)
    seen: dict[str, None] = {}
    try:
        for item in reader.rows():
            if not isinstance(item, Rejection):
                if not item[10]:
                    seen.setdefault(item[1])
                continue
            number = _valid_number_cell(item, reader.header)
            if number:
                seen.setdefault(number)
    except FileUnreadable:
        # Refused as CPF01 by the pipeline itself; there is nothing to verify.
        return []
    return list(seen)


def _valid_number_cell(rejection: Rejection, header: list[str]) -> str:
    if "nhs_number" not in header or "withdrawn" in header and _cell(rejection, header, "withdrawn").upper() == "Y":
        return ""
    try:
        return nhs_number_normalise(_cell(rejection, header, "nhs_number"))
    except ValidationError:
        return ""


def _cell(rejection: Rejection, header: list[str], column: str) -> str:
    index = header.index(column)
    return rejection.cells[index].strip() if index < len(rejection.cells) else ""


def upload_identity_lookups(
    *, upload_id: int, content: bytes, limit: int | None = None, progress: Callable[[int, int], None] | None = None
) -> bool:
    """Asks PDS about the file's numbers not yet asked, at most `limit` of them; True when every
    number has an answer. Raises PdsUnavailable.

    The limit keeps one worker task well inside the broker's visibility timeout (a task running
    longer would be handed to a second worker): the task asks for a share, then queues itself
    again for the rest. `progress(done, total)` is told as answers are saved.
    """
    service = identity_service()
    if service is None:
        return True
    done = set(PdsLookup.objects.filter(upload_id=upload_id).values_list("nhs_number", flat=True))
    numbers = _numbers_to_verify(content)
    todo = [n for n in numbers if n not in done]
    complete = limit is None or len(todo) <= limit
    if not complete:
        todo = todo[:limit]
    pending: list[PdsLookup] = []
    saved = [len(numbers) - len(todo)]

    def save() -> None:
        PdsLookup.objects.bulk_create(pending, ignore_conflicts=True)
        saved[0] += len(pending)
        pending.clear()
        if progress:
            progress(saved[0], len(numbers))

    def on_result(record: PdsRecord) -> None:
        pending.append(PdsLookup(upload_id=upload_id, nhs_number=record.nhs_number, result=record.as_json()))
        if len(pending) >= _SAVE_BATCH:
            save()

    try:
        service.lookup_many(todo, on_result=on_result)
    except PdsUnavailable:
        raise
    except Exception as error:
        # A malformed answer or a configuration error: never guess a verification from it, and
        # never leave the upload stuck. Held, it is retried, then refused for the LA to resend.
        logger.error("PDS lookups for upload %s failed: %s", upload_id, type(error).__name__)
        raise PdsUnavailable(type(error).__name__) from None
    finally:
        save()
    return complete


def upload_hold(*, upload_id: int, content: bytes | None = None) -> bool:
    """CPF05: the upload waits for PDS, its file kept (nothing of it applied)."""
    fields: dict[str, Any] = {"status": UploadStatus.HELD, "file_code": FileCode.CPF05, "file_message": HELD_MESSAGE}
    if content is not None:
        # An unattended import never stored its file; a retry needs it.
        fields["content"] = content
    with transaction.atomic():
        held = PlanUpload.objects.filter(pk=upload_id, status__in=(UploadStatus.ANALYSING, UploadStatus.QUEUED)).update(
            **fields
        )
        if held:
            upload = PlanUpload.objects.defer("content").select_related("organisation").get(pk=upload_id)
            audit_record(
                action=AuditAction.PLAN_UPLOAD_HELD, user=upload.confirmed_by or upload.uploaded_by,
                organisation=upload.organisation, outcome=AuditOutcome.FAILURE,
                detail={"upload_id": upload_id, "file_code": FileCode.CPF05},
            )  # fmt: skip
    if held:
        logger.warning("plan upload %s held: PDS unavailable (CPF05)", upload_id)
    return bool(held)


def held_uploads_retry(*, now: datetime | None = None) -> list[int]:
    """Beat: each held upload goes back to its step (checking, or applying once confirmed), or
    after IDENTITY_HELD_MAX_HOURS is refused as CPF05 for the LA to resubmit; then the lookups
    of finished uploads are forgotten. Returns the ids sent back."""
    from plans import tasks

    now = now or timezone.now()
    deadline = now - timedelta(hours=settings.IDENTITY_HELD_MAX_HOURS)
    resumed = []
    for upload in PlanUpload.objects.filter(status=UploadStatus.HELD).defer("content").select_related("organisation"):
        with transaction.atomic():
            if upload.uploaded_at < deadline:
                given_up = PlanUpload.objects.filter(pk=upload.pk, status=UploadStatus.HELD).update(
                    status=UploadStatus.REFUSED,
                    file_code=FileCode.CPF05,
                    file_message=GIVEN_UP_MESSAGE.format(hours=settings.IDENTITY_HELD_MAX_HOURS),
                    content=b"",
                    counts={},
                )
                if given_up:
                    PdsLookup.objects.filter(upload_id=upload.pk).delete()
                    audit_record(
                        action=AuditAction.PLAN_UPLOAD_FAILED, organisation=upload.organisation,
                        outcome=AuditOutcome.FAILURE, detail={"upload_id": upload.pk, "file_code": FileCode.CPF05},
                    )  # fmt: skip
                continue
            step = UploadStatus.QUEUED if upload.confirmed_at else UploadStatus.ANALYSING
            if PlanUpload.objects.filter(pk=upload.pk, status=UploadStatus.HELD).update(status=step):
                task = tasks.plan_upload_apply if step == UploadStatus.QUEUED else tasks.plan_upload_analyse
                transaction.on_commit(functools.partial(task.delay, upload.pk))
                resumed.append(upload.pk)
    pds_lookups_forget_finished()
    return resumed


def pds_lookups_forget_finished() -> int:
    """PDS's answers hold names and dates of birth: an upload that is finished (cancelled,
    refused, failed, a dry run; the apply forgets its own) keeps none of them."""
    finished = (
        UploadStatus.APPLIED, UploadStatus.REFUSED, UploadStatus.CANCELLED, UploadStatus.DRY_RUN, UploadStatus.FAILED,
    )  # fmt: skip
    deleted, _ = PdsLookup.objects.filter(upload__status__in=finished).delete()
    return deleted


class UploadVerifier:
    """Answers each row of one upload from its saved PDS lookups (see the module's steps)."""

    def __init__(self, *, upload_id: int):
        self.records = {
            number: PdsRecord.from_json(number, result)
            for number, result in PdsLookup.objects.filter(upload_id=upload_id).values_list("nhs_number", "result")
        }
        self.checked = 0
        self.matched = 0
        self.codes: Counter[str] = Counter()
        # NHS number → the record of each row PDS verified, for VerifiedIdentity.
        self.verified: dict[str, PdsRecord] = {}

    def check(self, row) -> Rejection | None:
        line, nhs_number, family_name, given_names, date_of_birth = row[:5]
        if row[10]:
            return None  # a withdrawal is never held back (see _numbers_to_verify)
        record = self.records.get(nhs_number)
        if record is None:
            # Every number was looked up before the pipeline ran; a gap is a bug, never a pass.
            raise RuntimeError("an upload row was not looked up on PDS")
        self.checked += 1
        reason, message = _verdict(record, family_name=family_name, given_names=given_names, born=date_of_birth)
        if reason is None:
            self.matched += 1
            self.verified[nhs_number] = record
            return None
        self.codes[row_code(reason)] += 1
        return Rejection(line, reason, message, [])

    def recode(self, rejection: Rejection, header: list[str]) -> Rejection:
        """An invalid NHS number that is an old-style one is answered CPR04, not CPR07."""
        if rejection.reason != RejectReason.INVALID_NHS_NUMBER or "nhs_number" not in header:
            return rejection
        index = header.index("nhs_number")
        cell = rejection.cells[index].strip() if index < len(rejection.cells) else ""
        if not _OLD_STYLE.match(cell):
            return rejection
        self.checked += 1
        self.codes[row_code(RejectReason.OLD_STYLE_NHS_NUMBER)] += 1
        return Rejection(
            rejection.line,
            RejectReason.OLD_STYLE_NHS_NUMBER,
            "This is an old-style NHS number. Send the child's current 10-digit NHS number from the NHS Spine.",
            rejection.cells,
        )

    def summary(self) -> dict:
        return {"checked": self.checked, "matched": self.matched, "codes": dict(sorted(self.codes.items()))}


def _verdict(record: PdsRecord, *, family_name: str, given_names: str, born) -> tuple[str | None, str]:
    if record.status in (LookupStatus.NOT_FOUND, LookupStatus.INVALIDATED):
        return RejectReason.PDS_NO_MATCH, (
            "PDS has no record of this NHS number. Check it against the child's records: a digit may be mistyped."
        )
    if record.status == LookupStatus.SUPERSEDED:
        return RejectReason.PDS_SUPERSEDED, (
            f"This NHS number has been replaced by {nhs_number_format(record.replacement)}. "
            "Send the plan under the new number."
        )
    if record.sensitive:
        return RejectReason.PDS_SENSITIVE, (
            "PDS holds a sensitive (restricted) record for this child, so CP-IS cannot share the plan. "
            "Contact the national CP-IS service desk."
        )
    wrong = mismatches(family_name=family_name, given_names=given_names, date_of_birth=born, record=record)
    if wrong:
        fields = ", ".join(wrong[:-1]) + (" and " if len(wrong) > 1 else "") + wrong[-1]
        verb = "do" if len(wrong) > 1 else "does"
        return RejectReason.PDS_NOT_VERIFIED, (
            f"The {fields} {verb} not match PDS for this NHS number. Check the child's details with the NHS Spine."
        )
    return None, ""


def identities_record_verified(*, records: dict[str, PdsRecord], now: datetime | None = None) -> None:
    """What PDS verified, for the check's date-of-birth warning and the nightly re-verification.
    Call inside the apply's transaction."""
    if not records:
        return
    now = now or timezone.now()
    VerifiedIdentity.objects.bulk_create(
        [
            VerifiedIdentity(
                nhs_number=number,
                status=IdentityStatus.DECEASED if record.deceased else IdentityStatus.VERIFIED,
                date_of_birth=record.date_of_birth,
                replacement="",
                verified_at=now,
                checked_at=now,
            )
            for number, record in records.items()
        ],
        update_conflicts=True,
        unique_fields=["nhs_number"],
        update_fields=["status", "date_of_birth", "replacement", "verified_at", "checked_at"],
        batch_size=2000,
    )


def upload_lookups_forget(*, upload_id: int) -> None:
    PdsLookup.objects.filter(upload_id=upload_id).delete()


class PdsUploadVerification:
    """What plans' upload pipeline asks of identity verification (plans/uploads/verification.py),
    registered there by `IdentityConfig.ready`: the steps of this module behind plans' hook."""

    def enabled(self) -> bool:
        return identity_verification_enabled()

    def lookups(
        self, *, upload_id: int, content: bytes, limit: int | None, progress: Callable[[int, int], None]
    ) -> bool:
        try:
            return upload_identity_lookups(upload_id=upload_id, content=content, limit=limit, progress=progress)
        except PdsUnavailable:
            raise VerificationUnavailable from None

    def hold(self, *, upload_id: int, content: bytes | None = None) -> bool:
        return upload_hold(upload_id=upload_id, content=content)

    def row_verifier(self, *, upload_id: int) -> UploadVerifier:
        return UploadVerifier(upload_id=upload_id)

    def record_verified(self, *, upload_id: int, verifier: RowVerifier) -> None:
        assert isinstance(verifier, UploadVerifier), "a verifier this class made"
        identities_record_verified(records=verifier.verified)
        upload_lookups_forget(upload_id=upload_id)

    def forget(self, *, upload_id: int) -> None:
        upload_lookups_forget(upload_id=upload_id)
