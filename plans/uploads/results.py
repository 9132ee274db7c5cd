"""What an upload keeps of its outcome: the file code, the rejected rows (downloadable until
the retention period ends); and a refusal of the whole file. (The preview's changes are kept
by the pipeline itself: plans/uploads/staging.py `_keep`.)"""

from collections.abc import Iterator
from typing import Any

from django.db import transaction

from plans.models import (
    FileCode,
    PlanUpload,
    PlanUploadRejection,
    UploadStatus,
    row_code,
)
from plans.upload_rows import COLUMNS, REPORT_COLUMNS, Rejection


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _file_code(counts: dict[str, Any]) -> tuple[str, str]:
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


def rejected_rows_report(*, upload: PlanUpload) -> tuple[list[str], Iterator[list[Any]]]:
    """The rejected-rows report (header, rows) as the web page downloads it and MESH sends it:
    each row's line, code, reason and message, then the row as it was sent."""
    columns = upload.columns or list(COLUMNS)
    # A file that was itself a corrected report carries the report's columns: drop them, so
    # each report has them once and the file uploads again as it is.
    kept = [i for i, name in enumerate(columns) if name not in REPORT_COLUMNS]

    def data_cells(cells: list[str]) -> list[str]:
        return [cells[i] for i in kept] if len(cells) == len(columns) else cells

    header = [*REPORT_COLUMNS, *(columns[i] for i in kept)]

    def rows() -> Iterator[list[Any]]:
        # The server-side cursor inside one transaction: in autocommit it would be declared WITH
        # HOLD and outlive it, and PgBouncer in transaction mode may give the next fetch another
        # server connection, where the cursor does not exist.
        with transaction.atomic():
            for r in upload.rejections.iterator():
                yield [r.line_number, row_code(r.reason), r.reason, r.message, *data_cells(r.cells)]

    return header, rows()
