"""Plan upload (SPEC 2 "Plan upload"): receive → analyse (preview) → confirm → apply.

The analysis and the apply run the same pipeline (plans/upload_rows.py reads the rows, then
set-based SQL over a temporary staging table checks them against the plans held); the
analysis rolls back, the apply commits everything, acknowledgement included, in one
transaction under the LA's plan lock. So a preview predicts exactly what the apply does to
the plans as they stand, two uploads from one LA never interleave, and a crash at any point
leaves the plans as they were.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organisation, User
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from cpis.in_process import run_in_background
from identity.service import PdsUnavailable, identity_verification_enabled
from identity.uploads import (
    UploadVerifier,
    identities_record_verified,
    upload_hold,
    upload_identity_lookups,
    upload_lookups_forget,
)
from plans.models import (
    ROW_ACCEPTED,
    FileCode,
    PlanChange,
    PlanChangeAction,
    PlanChangeSource,
    PlanUpload,
    PlanUploadChange,
    PlanUploadRejection,
    RejectReason,
    UploadStatus,
    row_code,
)
from plans.services import HISTORY_FIELDS, plans_lock_for_local_authority
from plans.upload_rows import COLUMNS, FileUnreadable, PlanFileReader, Rejection, cells_for_lines

logger = logging.getLogger(__name__)

_PROGRESS_KEY = "plans:upload-progress:{}"
_STAGE = "plan_upload_stage"
# The staging table: the file line, then the upload columns in the format's order.
_STAGE_COLUMNS = ("line", *COLUMNS)
# Messages for the rejections found against the plans already held (the others carry their own).
_HELD_MESSAGES = {
    RejectReason.NO_PLAN_TO_WITHDRAW: "There is no plan with this NHS number, plan type and start date to withdraw.",
    RejectReason.DEMOGRAPHICS_CONFLICT: (
        "CP-IS already holds a different date of birth for this NHS number. "
        "Check the NHS number and date of birth with the NHS Spine."
    ),
    RejectReason.OPEN_PLAN_EXISTS: (
        "An open plan of this type with a different start date is already held for this child. "
        "Send that plan's end date first."
    ),
}
_ANALYZE_AFTER_CREATED = 10_000
COUNT_KEYS = ("rows", "accepted", "rejected", "created", "updated", "ended", "withdrawn", "reinstated", "unchanged")


@dataclass
class _Outcome:
    counts: dict[str, int]
    columns: list[str]
    rejections: list[Rejection] = field(default_factory=list)
    # For a preview only: the rows that would change a plan (see _preview_changes_read).
    changes: list[tuple] = field(default_factory=list)


# --- progress, for the browser's progress bar ------------------------------------------------


def _progress_set(upload_id: int, *, phase: str, percent: int) -> None:
    # The cache, not the database: the apply's own writes are invisible until it commits.
    cache.set(_PROGRESS_KEY.format(upload_id), {"phase": phase, "percent": percent}, timeout=3600)


def upload_progress(*, upload: PlanUpload) -> dict:
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


# --- the pipeline ----------------------------------------------------------------------------


def _stage_create(cursor) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}")  # noqa: S608 - our own constant
    on_commit = " ON COMMIT DROP" if connection.vendor == "postgresql" else ""
    cursor.execute(
        f"""CREATE TEMPORARY TABLE {_STAGE} (
            line integer NOT NULL,
            nhs_number varchar(10) NOT NULL,
            family_name varchar(100) NOT NULL,
            given_names varchar(200) NOT NULL,
            date_of_birth date NOT NULL,
            plan_type varchar(4) NOT NULL,
            start_date date NOT NULL,
            end_date date NULL,
            expected_due_date date NULL,
            la_reference varchar(50) NOT NULL,
            withdrawn boolean NOT NULL,
            plan_id bigint NULL,
            reject varchar(30) NULL,
            action varchar(12) NULL
        ){on_commit}"""
    )


_COPY_NULL = "\\N"


def _copy_line(row) -> str:
    """One staged row in COPY's text format. Names, types, numbers and dates cannot hold a tab,
    newline or backslash (upload_rows refuses them); the LA reference may hold a backslash."""
    line, nhs, family, given, born, plan_type, start, end, due, reference, withdrawn = row
    end_text = end.isoformat() if end else _COPY_NULL
    due_text = due.isoformat() if due else _COPY_NULL
    if "\\" in reference:
        reference = reference.replace("\\", "\\\\")
    return "\t".join(
        (str(line), nhs, family, given, born.isoformat(), plan_type, start.isoformat(), end_text, due_text, reference,
         "t" if withdrawn else "f")
    ) + "\n"  # fmt: skip


def _stage_fill(cursor, rows) -> None:
    if connection.vendor == "postgresql":
        # COPY streams the rows as they are read, a few thousand at a time: no list of
        # 200,000 rows is ever held, and no per-row round trip is made.
        with cursor.cursor.copy(f"COPY {_STAGE} ({', '.join(_STAGE_COLUMNS)}) FROM STDIN") as copy:
            chunk = []
            for row in rows:
                chunk.append(_copy_line(row))
                if len(chunk) >= 5000:
                    copy.write("".join(chunk))
                    chunk = []
            if chunk:
                copy.write("".join(chunk))
        return
    batch = []
    sql = f"INSERT INTO {_STAGE} ({', '.join(_STAGE_COLUMNS)}) VALUES ({', '.join(['%s'] * len(_STAGE_COLUMNS))})"  # noqa: S608
    for row in rows:
        batch.append([v.isoformat() if isinstance(v, date) else v for v in row])
        if len(batch) >= 2000:
            cursor.executemany(sql, batch)
            batch = []
    if batch:
        cursor.executemany(sql, batch)


_KEY_MATCH = (
    "p.organisation_id = %s AND p.nhs_number = {s}.nhs_number AND p.plan_type = {s}.plan_type "
    "AND p.start_date = {s}.start_date"
)


def _classify(cursor, *, organisation_id: int) -> None:
    """Marks each staged row with its plan (if the key is known), a rejection or an action.

    1. match the upload key (LA, NHS number, type, start date) to a plan held;
    2. reject withdrawals of plans never held;
    3. reject a date of birth that differs from any other plan held for the NHS number
       (any LA; withdrawn plans, and plans this file withdraws, do not count);
    4. reject an open plan when the LA holds another open plan of that type for the child
       that this file does not end or withdraw;
    5. the action for the rest: created, withdrawn, reinstated, ended, updated or unchanged.
    """
    s = _STAGE
    cursor.execute(f"UPDATE {s} SET plan_id = p.id FROM plans_plan p WHERE {_KEY_MATCH.format(s=s)}", [organisation_id])  # noqa: S608
    cursor.execute(f"CREATE INDEX {s}_plan_idx ON {s} (plan_id)")
    cursor.execute(f"CREATE UNIQUE INDEX {s}_line_idx ON {s} (line)")
    cursor.execute(f"CREATE INDEX {s}_nhs_idx ON {s} (nhs_number)")
    cursor.execute(f"ANALYZE {s}")
    cursor.execute(
        f"UPDATE {s} SET reject = %s WHERE withdrawn AND plan_id IS NULL",  # noqa: S608
        [RejectReason.NO_PLAN_TO_WITHDRAW.value],
    )
    # Joins, not correlated subqueries: with 100,000 rows against 150,000 plans the planner
    # must be free to hash. The NOT IN lists are plan ids, never NULL.
    cursor.execute(
        f"""UPDATE {s} SET reject = %s WHERE line IN (
            SELECT s.line FROM {s} s JOIN plans_plan p ON p.nhs_number = s.nhs_number
            WHERE s.reject IS NULL AND NOT s.withdrawn AND NOT p.withdrawn
              AND p.date_of_birth <> s.date_of_birth AND p.id <> COALESCE(s.plan_id, 0)
              AND p.id NOT IN (
                  SELECT w.plan_id FROM {s} w WHERE w.plan_id IS NOT NULL AND w.withdrawn AND w.reject IS NULL
              )
        )""",  # noqa: S608
        [RejectReason.DEMOGRAPHICS_CONFLICT.value],
    )
    cursor.execute(
        f"""UPDATE {s} SET reject = %s WHERE line IN (
            SELECT s.line FROM {s} s JOIN plans_plan p
              ON p.organisation_id = %s AND p.nhs_number = s.nhs_number AND p.plan_type = s.plan_type
            WHERE s.reject IS NULL AND s.end_date IS NULL AND NOT s.withdrawn
              AND p.end_date IS NULL AND NOT p.withdrawn AND p.start_date <> s.start_date
              AND p.id NOT IN (
                  SELECT c.plan_id FROM {s} c
                  WHERE c.plan_id IS NOT NULL AND c.reject IS NULL AND (c.end_date IS NOT NULL OR c.withdrawn)
              )
        )""",  # noqa: S608
        [RejectReason.OPEN_PLAN_EXISTS.value, organisation_id],
    )
    # A row with no plan and no rejection is a new plan; its action stays NULL (read as
    # "created") to spare rewriting every row of a first load.
    cursor.execute(
        f"""UPDATE {s} SET action = CASE
            WHEN {s}.withdrawn THEN CASE WHEN p.withdrawn THEN 'unchanged' ELSE 'withdrawn' END
            WHEN p.withdrawn THEN 'reinstated'
            WHEN {s}.end_date IS NOT NULL AND p.end_date IS NULL THEN 'ended'
            WHEN p.family_name = {s}.family_name AND p.given_names = {s}.given_names
              AND p.date_of_birth = {s}.date_of_birth AND p.la_reference = {s}.la_reference
              AND (p.end_date = {s}.end_date OR (p.end_date IS NULL AND {s}.end_date IS NULL))
              AND (p.expected_due_date = {s}.expected_due_date
                   OR (p.expected_due_date IS NULL AND {s}.expected_due_date IS NULL))
            THEN 'unchanged'
            ELSE 'updated' END
        FROM plans_plan p WHERE p.id = {s}.plan_id AND {s}.reject IS NULL"""  # noqa: S608
    )


def _history_for_updates(cursor, *, upload: PlanUpload, by: User | None, now: datetime) -> list[PlanChange]:
    """The change history of the plans this file changes, read before they change."""
    s = _STAGE
    columns = ", ".join(f"s.{f}" for f in HISTORY_FIELDS) + ", " + ", ".join(f"p.{f}" for f in HISTORY_FIELDS)
    cursor.execute(
        f"""SELECT s.plan_id, s.action, {columns} FROM {s} s JOIN plans_plan p ON p.id = s.plan_id
        WHERE s.reject IS NULL AND s.action IN ('updated', 'ended', 'withdrawn', 'reinstated')"""  # noqa: S608
    )
    width = len(HISTORY_FIELDS)
    changes = []
    for plan_id, action, *values in cursor.fetchall():
        after = dict(zip(HISTORY_FIELDS, values[:width], strict=True))
        before = dict(zip(HISTORY_FIELDS, values[width:], strict=True))
        before["withdrawn"], after["withdrawn"] = bool(before["withdrawn"]), bool(after["withdrawn"])
        if action == PlanChangeAction.WITHDRAWN:
            # A withdrawal changes nothing but the withdrawal (see _apply).
            after = {**before, "withdrawn": True}
        diff = {f: [_iso(before[f]), _iso(after[f])] for f in HISTORY_FIELDS if _iso(before[f]) != _iso(after[f])}
        changes.append(
            PlanChange(
                plan_id=plan_id,
                changed_at=now,
                changed_by=by,
                changed_by_name=by.full_name if by else "File import",
                source=PlanChangeSource.UPLOAD,
                upload=upload,
                action=action,
                changes=diff,
            )
        )
    return changes


def _iso(value):
    return value.isoformat() if isinstance(value, date) else value


def _apply(cursor, *, upload: PlanUpload, by: User | None, now: datetime, today: date) -> None:
    """Writes the staged rows to the plans: closing changes first, so that the one-open-plan
    index never sees two open plans mid-statement, then the rest, then the new plans."""
    s = _STAGE
    ops = connection.ops
    now_db, today_db = ops.adapt_datetimefield_value(now), ops.adapt_datefield_value(today)
    history = _history_for_updates(cursor, upload=upload, by=by, now=now)
    cursor.execute(
        f"""UPDATE plans_plan SET withdrawn = TRUE, withdrawn_on = %s, updated_at = %s
        FROM {s} WHERE plans_plan.id = {s}.plan_id AND {s}.reject IS NULL AND {s}.action = 'withdrawn'""",  # noqa: S608
        [today_db, now_db],
    )
    for closing in ("IS NOT NULL", "IS NULL"):
        cursor.execute(
            f"""UPDATE plans_plan SET family_name = {s}.family_name, given_names = {s}.given_names,
                date_of_birth = {s}.date_of_birth, end_date = {s}.end_date,
                expected_due_date = {s}.expected_due_date, la_reference = {s}.la_reference,
                withdrawn = FALSE, withdrawn_on = NULL, updated_at = %s
            FROM {s} WHERE plans_plan.id = {s}.plan_id AND {s}.reject IS NULL
              AND {s}.action IN ('updated', 'ended', 'reinstated') AND {s}.end_date {closing}""",  # noqa: S608
            [now_db],
        )
    cursor.execute(
        f"""INSERT INTO plans_plan (organisation_id, nhs_number, family_name, given_names, date_of_birth,
            plan_type, start_date, end_date, expected_due_date, la_reference, withdrawn, created_at, updated_at,
            created_by_name, created_source, created_upload_id)
        SELECT %s, nhs_number, family_name, given_names, date_of_birth, plan_type, start_date, end_date,
            expected_due_date, la_reference, FALSE, %s, %s, %s, %s, %s
        FROM {s} WHERE reject IS NULL AND plan_id IS NULL""",  # noqa: S608
        [
            upload.organisation_id, now_db, now_db, by.full_name if by else "File import",
            PlanChangeSource.UPLOAD, upload.pk,
        ],
    )  # fmt: skip
    PlanChange.objects.bulk_create(history, batch_size=2000)


def _run(*, upload: PlanUpload, content: bytes, apply: bool, by: User | None, verifier=None) -> _Outcome:
    """Reads, stages and classifies the file; with `apply`, writes the plans. Call inside the
    transaction that decides whether any of it stays. A `verifier` (identity/uploads.py) answers
    each valid row from PDS first; the rows it refuses never reach the staging table."""
    today = timezone.localdate()
    estimated_rows = max(content.count(b"\n"), 1)
    phase = "Applying the file" if apply else "Checking the file"

    def progress(rows: int) -> None:
        _progress_set(upload.pk, phase=phase, percent=min(70, 5 + 65 * rows // estimated_rows))

    reader = PlanFileReader(content=content, today=today, max_rows=settings.PLAN_UPLOAD_MAX_ROWS, progress=progress)
    rejections: list[Rejection] = []
    identity_rejections: list[Rejection] = []

    def valid_rows():
        for item in reader.rows():
            if isinstance(item, Rejection):
                rejections.append(verifier.recode(item, reader.header) if verifier else item)
            elif verifier is not None and (refused := verifier.check(item)) is not None:
                identity_rejections.append(refused)
            else:
                yield item

    _progress_set(upload.pk, phase=phase, percent=5)
    with connection.cursor() as cursor:
        _stage_create(cursor)
        _stage_fill(cursor, valid_rows())
        _progress_set(upload.pk, phase=phase, percent=75)
        _classify(cursor, organisation_id=upload.organisation_id)
        cursor.execute(f"SELECT line, reject FROM {_STAGE} WHERE reject IS NOT NULL")  # noqa: S608
        held_rejections = cursor.fetchall()
        cursor.execute(
            f"SELECT COALESCE(action, 'created'), COUNT(*) FROM {_STAGE} WHERE reject IS NULL GROUP BY action"  # noqa: S608
        )
        actions = Counter(dict(cursor.fetchall()))
        _progress_set(upload.pk, phase=phase, percent=85)
        previewed = [] if apply else _preview_changes_read(cursor)
        if apply:
            if set(actions) - {"created", "unchanged"}:
                # Fresh statistics for the updates' joins: the actions were unknown at the last ANALYZE.
                cursor.execute(f"ANALYZE {_STAGE}")
            _apply(cursor, upload=upload, by=by, now=timezone.now(), today=today)
            if actions.get("created", 0) >= _ANALYZE_AFTER_CREATED:
                # A big first load leaves the planner thinking the table is empty until
                # autovacuum runs; the next upload's joins would then crawl.
                cursor.execute("ANALYZE plans_plan")
        cursor.execute(f"DROP TABLE {_STAGE}")  # noqa: S608
    if held_rejections or identity_rejections:
        cells = cells_for_lines(
            content=content, lines={line for line, _ in held_rejections} | {r.line for r in identity_rejections}
        )
        rejections += [
            Rejection(line, reason, _HELD_MESSAGES[reason], cells.get(line, [])) for line, reason in held_rejections
        ]
        rejections += [Rejection(r.line, r.reason, r.message, cells.get(r.line, [])) for r in identity_rejections]
    rejections.sort(key=lambda r: r.line)
    accepted = sum(actions.values())
    counts = {key: actions.get(key, 0) for key in COUNT_KEYS}
    counts.update(rows=reader.row_count, accepted=accepted, rejected=len(rejections))
    if verifier is not None:
        counts["identity"] = verifier.summary()
    _progress_set(upload.pk, phase=phase, percent=95)
    return _Outcome(counts=counts, columns=reader.header, rejections=rejections, changes=previewed)


def _preview_changes_read(cursor) -> list[tuple]:
    """Each row the preview would change (not the unchanged ones), read from the staging table
    before the preview's transaction rolls back: (line, action, NHS number, names, type)."""
    cursor.execute(
        f"""SELECT line, COALESCE(action, 'created'), nhs_number, family_name, given_names, plan_type
        FROM {_STAGE} WHERE reject IS NULL AND COALESCE(action, 'created') <> 'unchanged'"""  # noqa: S608
    )
    return cursor.fetchall()


def _preview_changes_store(*, upload: PlanUpload, changes: list[tuple]) -> None:
    PlanUploadChange.objects.filter(upload=upload).delete()
    PlanUploadChange.objects.bulk_create(
        (
            PlanUploadChange(
                upload=upload,
                line_number=line,
                action=action,
                nhs_number=nhs_number,
                family_name=family_name,
                given_names=given_names,
                plan_type=plan_type,
            )  # fmt: skip
            for line, action, nhs_number, family_name, given_names, plan_type in changes
        ),
        batch_size=2000,
    )


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _file_code(counts: dict) -> tuple[str, str]:
    if counts["accepted"] == 0:
        if counts["rows"] == 0:
            return FileCode.CPF04, "The file has a header row but no rows of plans."
        return FileCode.CPF04, f"None of the {_rows(counts['rows'])} was accepted."
    if counts["rejected"]:
        return FileCode.CPF03, f"{_rows(counts['accepted'])} accepted, {counts['rejected']:,} rejected."
    return FileCode.CPF02, f"All {_rows(counts['accepted'])} accepted."


def _rejections_store(*, upload: PlanUpload, rejections: list[Rejection]) -> None:
    upload.rejections.all().delete()
    PlanUploadRejection.objects.bulk_create(
        (
            PlanUploadRejection(
                upload=upload, line_number=r.line, reason=r.reason, message=r.message[:300], cells=r.cells[:50]
            )
            for r in rejections
        ),
        batch_size=2000,
    )


def _content(upload_id: int) -> bytes:
    # Read on its own, so the model instance never carries (and re-saves) the whole file.
    return bytes(PlanUpload.objects.values_list("content", flat=True).get(pk=upload_id))


def _refuse(upload: PlanUpload, message: str) -> None:
    upload.status = UploadStatus.REFUSED
    upload.file_code = FileCode.CPF01
    upload.file_message = message[:500]
    upload.content = b""
    upload.counts = {}
    upload.save()


# --- the steps -------------------------------------------------------------------------------


def _receive(
    *, organisation: Organisation, by: User | None, filename: str, file, store: bool = True
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


def plan_upload_receive(*, organisation: Organisation, by: User, filename: str, file, request=None) -> PlanUpload:
    """Stores the file and queues its analysis (the preview)."""
    with transaction.atomic():
        upload, _ = _receive(organisation=organisation, by=by, filename=filename, file=file)
        audit_record(
            action=AuditAction.PLAN_UPLOAD_RECEIVED, request=request, user=by, organisation=organisation,
            detail={"upload_id": upload.pk, "bytes": upload.size_bytes},
        )  # fmt: skip
        if upload.status == UploadStatus.ANALYSING:
            from plans.tasks import plan_upload_analyse_task

            transaction.on_commit(lambda: run_in_background(plan_upload_analyse_task, upload.pk))
    return upload


def _identity_lookups(*, upload_id: int, content: bytes, task, in_worker: bool) -> bool:
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


def plan_upload_analyse(*, upload_id: int, content: bytes | None = None) -> None:
    """Works out the preview: what the file would do to the plans as they stand now."""
    upload = PlanUpload.objects.filter(pk=upload_id, status=UploadStatus.ANALYSING).defer("content").first()
    if upload is None:
        return
    in_worker = content is None
    if content is None:
        content = _content(upload_id)
    verifier = None
    if identity_verification_enabled():
        from plans.tasks import plan_upload_analyse_task

        # PDS first, outside any transaction: its answers are kept even if it fails part-way.
        if not _identity_lookups(
            upload_id=upload_id, content=content, task=plan_upload_analyse_task, in_worker=in_worker
        ):
            return
        verifier = UploadVerifier(upload_id=upload_id)
    try:
        with transaction.atomic():
            outcome = _run(upload=upload, content=content, apply=False, by=upload.uploaded_by, verifier=verifier)
            transaction.set_rollback(True)
    except FileUnreadable as error:
        _refuse(upload, error.message)
        return
    except Exception as error:
        logger.error("plan upload %s analysis failed: %s", upload_id, type(error).__name__)
        PlanUpload.objects.filter(pk=upload_id).update(
            status=UploadStatus.FAILED, content=b"", file_message="Something went wrong while checking the file."
        )
        return
    file_code, message = _file_code(outcome.counts)
    with transaction.atomic():
        _rejections_store(upload=upload, rejections=outcome.rejections)
        if file_code != FileCode.CPF04:
            _preview_changes_store(upload=upload, changes=outcome.changes)
        upload.counts = outcome.counts
        upload.columns = outcome.columns
        upload.file_code = file_code
        upload.file_message = message
        if file_code == FileCode.CPF04:
            # Nothing to confirm; the rejected rows stay downloadable.
            upload.status = UploadStatus.REFUSED
            upload.content = b""
            upload_lookups_forget(upload_id=upload.pk)
        else:
            upload.status = UploadStatus.PREVIEW
        upload.save()


def plan_upload_confirm(*, upload: PlanUpload, by: User, request=None) -> bool:
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
        _progress_set(upload.pk, phase="Waiting for a worker", percent=0)
        from plans.tasks import plan_upload_apply_task

        transaction.on_commit(lambda: run_in_background(plan_upload_apply_task, upload.pk))
    return True


def plan_upload_cancel(*, upload: PlanUpload, by: User, request=None) -> bool:
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
    2. run the pipeline against the plans as they are now, and write them;
    3. store the acknowledgement and forget the file, in the same transaction.
    A worker killed part-way leaves the upload queued and the plans untouched; the message
    comes back (late acknowledgement) and the apply runs again from the start.
    With identity verification, any number not yet looked up on PDS is looked up first,
    outside the transaction; if PDS cannot answer, the upload is held (CPF05), untouched.
    """
    verifier = None
    if identity_verification_enabled():
        if not PlanUpload.objects.filter(pk=upload_id, status=UploadStatus.QUEUED).exists():
            return
        from plans.tasks import plan_upload_apply_task

        stored = content is None
        if stored:
            content = _content(upload_id)
        if not _identity_lookups(upload_id=upload_id, content=content, task=plan_upload_apply_task, in_worker=stored):
            return
        verifier = UploadVerifier(upload_id=upload_id)
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
            plans_lock_for_local_authority(organisation_id=upload.organisation_id)
            if content is None:
                content = _content(upload_id)
            outcome = _run(upload=upload, content=content, apply=True, by=upload.confirmed_by, verifier=verifier)
            if verifier is not None:
                identities_record_verified(records=verifier.verified)
                upload_lookups_forget(upload_id=upload.pk)
            _rejections_store(upload=upload, rejections=outcome.rejections)
            upload.counts = outcome.counts
            upload.columns = outcome.columns
            upload.file_code, upload.file_message = _file_code(outcome.counts)
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
        )
        upload = PlanUpload.objects.defer("content").get(pk=upload_id)
        audit_record(
            action=AuditAction.PLAN_UPLOAD_FAILED, user=upload.confirmed_by, organisation=upload.organisation,
            outcome=AuditOutcome.FAILURE, detail={"upload_id": upload_id, "error": type(error).__name__},
        )  # fmt: skip
    finally:
        cache.delete(_PROGRESS_KEY.format(upload_id))


def plan_upload_import(*, organisation: Organisation, filename: str, file, dry_run: bool) -> PlanUpload:
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
            status=UploadStatus.DRY_RUN, content=b""
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


def plan_upload_acknowledgement(*, upload: PlanUpload) -> dict:
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


def _identity_summary(upload: PlanUpload) -> dict | None:
    identity = (upload.counts or {}).get("identity")
    if identity is None:
        return None
    rate = upload.match_rate
    return {**identity, "match_rate": round(rate * 100, 1) if rate is not None else None}


def plan_uploads_expire(*, now: datetime | None = None) -> int:
    """Nightly: previews nobody confirmed within a day are cancelled and their files deleted."""
    now = now or timezone.now()
    expired = PlanUpload.objects.filter(
        status=UploadStatus.PREVIEW, uploaded_at__lt=now - settings.PLAN_UPLOAD_PREVIEW_LIFETIME
    )
    PlanUploadChange.objects.filter(upload__in=expired).delete()
    return expired.update(status=UploadStatus.CANCELLED, content=b"")


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
                status=UploadStatus.FAILED, content=b"", file_message=STALE_UPLOAD_MESSAGE
            )
            audit_record(
                action=AuditAction.PLAN_UPLOAD_FAILED, user=upload.confirmed_by, organisation=upload.organisation,
                outcome=AuditOutcome.FAILURE, detail={"upload_id": upload.pk, "error": "stale"},
            )  # fmt: skip
    if stale:
        logger.error("Marked %d upload(s) failed: their apply stopped before it finished", len(stale))
    return len(stale)
