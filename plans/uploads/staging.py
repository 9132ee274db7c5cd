"""The set-based SQL over a temporary staging table: the file's valid rows are staged, checked
against the plans held (each row gets its plan, a rejection or an action), then written."""

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.db.backends.utils import CursorWrapper

from accounts.models import User
from plans.models import (
    PlanChange,
    PlanChangeAction,
    PlanChangeSource,
    PlanUpload,
    RejectReason,
)
from plans.services import HISTORY_FIELDS
from plans.upload_rows import COLUMNS, ValidRow

_STAGE = "plan_upload_stage"


# The staging table: the file line, then the upload columns in the format's order.
_STAGE_COLUMNS = ("line", *COLUMNS)


def _stage_create(cursor: CursorWrapper) -> None:
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


def _copy_line(row: ValidRow) -> str:
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


def _stage_fill(cursor: CursorWrapper, rows: Iterable[ValidRow]) -> None:
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


def _classify(cursor: CursorWrapper, *, organisation_id: int) -> None:
    """Marks each staged row with its plan (if the key is known), a rejection or an action.
    Steps 2 to 4 are plans/rules.py's rules against the plans held, as the form applies them
    (`plan_rules_check`); a rejected row gets the rule's message from `HELD_RULE_MESSAGES`.

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


def _history_for_updates(
    cursor: CursorWrapper, *, upload: PlanUpload, by: User | None, now: datetime
) -> list[PlanChange]:
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


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _apply(cursor: CursorWrapper, *, upload: PlanUpload, by: User | None, now: datetime, today: date) -> None:
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


# The kept rows' columns, in the staging table's order (see _stage_create).
_KEPT_COLUMNS = (
    "line_number, nhs_number, family_name, given_names, date_of_birth, plan_type, start_date, end_date, "
    "expected_due_date, la_reference, withdrawn, plan_id, action"
)


def _keep(cursor: CursorWrapper, *, upload_id: int) -> None:
    """Keeps the preview's classification against its upload (PlanUploadChange): each row that
    would change a plan, as staged, with its plan and action. Set-based, inside the database;
    the rows that change nothing and the rejected ones are not needed to apply it."""
    cursor.execute(
        f"""INSERT INTO plans_planuploadchange (upload_id, {_KEPT_COLUMNS})
        SELECT %s, {", ".join(_STAGE_COLUMNS)}, plan_id, COALESCE(action, 'created') FROM {_STAGE}
        WHERE reject IS NULL AND COALESCE(action, 'created') <> 'unchanged'""",  # noqa: S608
        [upload_id],
    )


def _stage_from_kept(cursor: CursorWrapper, *, upload_id: int) -> None:
    """The staging table as the preview classified it, from its kept rows, for _apply."""
    _stage_create(cursor)
    cursor.execute(
        f"""INSERT INTO {_STAGE} ({", ".join(_STAGE_COLUMNS)}, plan_id, action)
        SELECT {_KEPT_COLUMNS} FROM plans_planuploadchange WHERE upload_id = %s""",  # noqa: S608
        [upload_id],
    )
