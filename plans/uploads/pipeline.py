"""The one pipeline the preview and the apply both run: read the rows, stage and classify them
and, for the apply, write the plans; then the counts and every rejected row. The preview keeps
its classification; an apply whose plans have not changed since writes it as it is
(`_run_kept`), without reading or checking the file again."""

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from accounts.models import User
from plans.models import PlanUpload
from plans.rules import HELD_RULE_MESSAGES
from plans.upload_rows import PlanFileReader, Rejection, ValidRow, cells_for_lines
from plans.uploads.progress import _progress_set
from plans.uploads.staging import (
    _STAGE,
    _apply,
    _classify,
    _keep,
    _stage_create,
    _stage_fill,
    _stage_from_kept,
)
from plans.uploads.verification import RowVerifier

_ANALYZE_AFTER_CREATED = 10_000


COUNT_KEYS = ("rows", "accepted", "rejected", "created", "updated", "ended", "withdrawn", "reinstated", "unchanged")
_ACTIONS = COUNT_KEYS[3:]


@dataclass
class _Outcome:
    counts: dict[str, Any]
    columns: list[str]
    rejections: list[Rejection] = field(default_factory=list)


def _run(
    *, upload: PlanUpload, content: bytes, apply: bool, by: User | None, verifier: RowVerifier | None = None
) -> _Outcome:
    """Reads, stages and classifies the file; with `apply`, writes the plans, else keeps the
    classification against the upload (`_keep`). Call inside the transaction that decides
    whether any of it stays. A `verifier` (the registered identity
    verification's, plans/uploads/verification.py) answers each valid row first; the rows it refuses never reach the staging table."""
    today = timezone.localdate()
    estimated_rows = max(content.count(b"\n"), 1)
    phase = "Applying the file" if apply else "Checking the file"

    def progress(rows: int) -> None:
        _progress_set(upload.pk, phase=phase, percent=min(70, 5 + 65 * rows // estimated_rows))

    reader = PlanFileReader(content=content, today=today, max_rows=settings.PLAN_UPLOAD_MAX_ROWS, progress=progress)
    rejections: list[Rejection] = []
    identity_rejections: list[Rejection] = []

    def valid_rows() -> Iterator[ValidRow]:
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
        if apply:
            _write(cursor, upload=upload, by=by, today=today, actions=actions)
        else:
            _keep(cursor, upload_id=upload.pk)
        cursor.execute(f"DROP TABLE {_STAGE}")  # noqa: S608
    if held_rejections or identity_rejections:
        cells = cells_for_lines(
            content=content, lines={line for line, _ in held_rejections} | {r.line for r in identity_rejections}
        )
        rejections += [
            Rejection(line, reason, HELD_RULE_MESSAGES[reason], cells.get(line, [])) for line, reason in held_rejections
        ]
        rejections += [Rejection(r.line, r.reason, r.message, cells.get(r.line, [])) for r in identity_rejections]
    rejections.sort(key=lambda r: r.line)
    accepted = sum(actions.values())
    # The counts by action, and the identity verification's summary (a dict) when it ran.
    counts: dict[str, Any] = {key: actions.get(key, 0) for key in COUNT_KEYS}
    counts.update(rows=reader.row_count, accepted=accepted, rejected=len(rejections))
    if verifier is not None:
        counts["identity"] = verifier.summary()
    _progress_set(upload.pk, phase=phase, percent=95)
    return _Outcome(counts=counts, columns=reader.header, rejections=rejections)


def _write(
    cursor: CursorWrapper, *, upload: PlanUpload, by: User | None, today: date, actions: Mapping[str, int]
) -> None:
    """Writes the classified staging table to the plans (`actions`: its rows' count by action)."""
    if any(actions.get(action) for action in ("updated", "ended", "withdrawn", "reinstated")):
        # Fresh statistics for the updates' joins: the actions were unknown at the last ANALYZE.
        cursor.execute(f"ANALYZE {_STAGE}")
    _apply(cursor, upload=upload, by=by, now=timezone.now(), today=today)
    if actions.get("created", 0) >= _ANALYZE_AFTER_CREATED:
        # A big first load leaves the planner thinking the table is empty until
        # autovacuum runs; the next upload's joins would then crawl.
        cursor.execute("ANALYZE plans_plan")


def _run_kept(*, upload: PlanUpload, by: User | None) -> _Outcome:
    """Applies the preview's kept classification as it is: its rows staged again from the
    database, then written as `_run` writes them. Only for an upload whose classification
    still stands (steps._classification_stands), under the LA's plan lock; the counts,
    columns and rejected rows are the preview's, already stored."""
    _progress_set(upload.pk, phase="Applying the file", percent=5)
    with connection.cursor() as cursor:
        _stage_from_kept(cursor, upload_id=upload.pk)
        _progress_set(upload.pk, phase="Applying the file", percent=40)
        # The preview's count of each action, as `_run` counts the staged rows.
        actions = {key: upload.counts.get(key, 0) for key in _ACTIONS}
        _write(cursor, upload=upload, by=by, today=timezone.localdate(), actions=actions)
        cursor.execute(f"DROP TABLE {_STAGE}")  # noqa: S608
    _progress_set(upload.pk, phase="Applying the file", percent=95)
    return _Outcome(counts=dict(upload.counts), columns=list(upload.columns))
