"""The check: `child_check`, the one service the web form and the FHIR API both call, as the
list of its steps; each step is the function of the same number below it."""

import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Organisation, Role, User
from attendances.models import VISITS_KEPT, Visit
from attendances.services.history import repeat_and_history, visits_recent, visits_trim_on_commit
from attendances.services.plans import plans_sorted
from attendances.services.rate_limit import check_rate_guard
from audit.models import AuditAction, AuditEvent, AuditOutcome
from audit.services import audit_event_build
from core.compiled_queries import CompiledQuerySet
from core.model_inserts import insert_statement
from core.nhs_numbers import nhs_number_normalise
from identity.selectors import verified_date_of_birth
from notifications.services import (
    notification_attendance_statement,
    notification_record_attendance,
    notifications_flag_birth_date_mismatch,
)
from plans.models import Plan

CHECKING_ROLES = frozenset({Role.CLINICIAN, Role.SAFEGUARDING_LEAD})
SILENT_READ_ROLES = frozenset({Role.SAFEGUARDING_LEAD})

# Advisory-lock namespace for "one child's visits" ("vi"); notifications use their own.
_VISIT_LOCK_NAMESPACE = 0x7669


@dataclass(frozen=True)
class LocalAuthorityPlans:
    """One responsible local authority and its visible plans for the child."""

    local_authority: Organisation
    plans: list[Plan]


@dataclass(frozen=True)
class CheckResult:
    nhs_number: str
    # Visible plans, each with `.organisation` (the LA) loaded; open before ended, then CPP, LAC, UCPP.
    plans: list[Plan]
    # The date of birth entered differs from a plan's: the clinician must confirm identity.
    dob_mismatch: bool
    date_of_birth_entered: date | None
    # At most 25, newest first, never including `visit`.
    previous_visits: list[Visit]
    # The visit this check recorded (or, for a repeated form, the one its first submission
    # recorded); None for a silent read or a child with no visible plan.
    visit: Visit | None
    notification_ids: list[int] = field(default_factory=list)
    # True when this was the same form submitted again: nothing new was recorded.
    repeated: bool = False
    # The date of birth PDS verified for this NHS number, when CP-IS holds one (identity/).
    verified_date_of_birth: date | None = None

    @property
    def has_plans(self) -> bool:
        return bool(self.plans)

    @property
    def by_local_authority(self) -> list[LocalAuthorityPlans]:
        groups: dict[int, LocalAuthorityPlans] = {}
        for plan in self.plans:
            groups.setdefault(plan.organisation_id, LocalAuthorityPlans(plan.organisation, [])).plans.append(plan)
        # A local authority with an open plan comes before one whose plans have all ended.
        today = timezone.localdate()
        return sorted(
            groups.values(),
            key=lambda g: (all(p.is_ended(today=today) for p in g.plans), g.local_authority.name),
        )

    @property
    def plan_dates_of_birth(self) -> list[date]:
        return sorted({p.date_of_birth for p in self.plans})


class CheckFormExpired(ValueError):
    """The form's token recorded a visit longer ago than the episode window."""


def checking_role(roles: Iterable[str], *, notify: bool) -> str:
    """The role a check is recorded under, by the web journey and the FHIR API alike.

    A silent read is the safeguarding lead's right; a user holding both roles checks as the
    safeguarding lead, the more accountable of the two.
    """
    if not notify or Role.SAFEGUARDING_LEAD in roles:
        return Role.SAFEGUARDING_LEAD
    return Role.CLINICIAN


def child_check(
    *,
    nhs_number: str,
    date_of_birth: date | None,
    arrived_at: datetime,
    user: User,
    organisation: Organisation,
    role: str,
    notify: bool = True,
    trace_id: str = "",
    request: HttpRequest | None = None,
    idempotency_key: uuid.UUID | None = None,
    today: date | None = None,
) -> CheckResult:
    """Checks one child at a care setting: a clinician's check (notify) or a silent read.

    1. refuse what no caller may do (`_check_refuse`): a role that does not check, a silent
       read by a role without it, an organisation that is not a care setting, an invalid NHS
       number, a user over the hourly limit (`rate_limit.check_rate_guard`);
    2. in one transaction, find the visible plans (`_plans_find`: `Plan.objects.visible`, the
       one rule, seen from the organisation: synthetic only for a conformance run's setting);
    3. read the previous visits, newest 25 (`_visits_read`); if there are plans and this check
       notifies, first lock the child (see `_child_lock`) and find the visit this form's
       `idempotency_key` already recorded, refusing one older than the episode;
    4. compare the date of birth entered with the verified one, else the plans'
       (`_birth_date_compare`);
    5. audit the access, always: with or without plans, silent or not (`_check_audit`); and
       unless this form already recorded it, with the audit event, record the visit (time,
       setting, who and their role), create or join one notification per responsible LA with
       its outbox rows, and flag them when the date of birth differed (`_attendance_record`:
       on PostgreSQL one statement);
    6. after commit, if this visit made the history longer than 25, ask the worker to trim it
       (`_history_trim_ask`).

    Raises PermissionDenied (1), django ValidationError (invalid NHS number), ValueError
    (naive arrival time) or CheckFormExpired (3).

    Steps 4 and 5 are in this order so that everything the check writes is known before it
    writes: the audit event names the visit and notifications written by the same statement.
    """
    nhs_number = _check_refuse(
        nhs_number=nhs_number,
        arrived_at=arrived_at,
        user=user,
        organisation=organisation,
        role=role,
        notify=notify,
        request=request,
        trace_id=trace_id,
    )
    with transaction.atomic():
        plans = _plans_find(nhs_number, today=today or timezone.localdate(), organisation=organisation)
        recording = bool(plans) and notify
        repeat, previous = _visits_read(nhs_number, plans=plans, recording=recording, idempotency_key=idempotency_key)
        verified_dob, dob_mismatch = _birth_date_compare(nhs_number, date_of_birth=date_of_birth, plans=plans)
        audit = _check_audit(
            nhs_number=nhs_number,
            notify=notify,
            request=request,
            user=user,
            organisation=organisation,
            role=role,
            trace_id=trace_id,
            plans=plans,
            visit=repeat,
            dob_mismatch=dob_mismatch,
            repeated=repeat is not None,
        )
        visit: Visit | None
        notification_ids: list[int]
        if recording and repeat is None:
            visit, notification_ids = _attendance_record(
                visit=Visit(
                    nhs_number=nhs_number,
                    arrived_at=arrived_at,
                    care_setting=organisation,
                    checked_by=user,
                    checked_by_name=user.full_name,
                    checked_by_role=role,
                    check_token=idempotency_key,
                ),
                plans=plans,
                audit=audit,
                date_of_birth_entered=date_of_birth if dob_mismatch else None,
            )
        else:
            visit, notification_ids = repeat, []
            audit.save(force_insert=True)
        _history_trim_ask(visit=visit, previous=previous, recorded=recording and repeat is None)
    return CheckResult(
        nhs_number=nhs_number,
        plans=plans,
        dob_mismatch=dob_mismatch,
        date_of_birth_entered=date_of_birth,
        previous_visits=previous,
        visit=visit,
        notification_ids=notification_ids,
        repeated=repeat is not None,
        verified_date_of_birth=verified_dob,
    )


def _check_refuse(
    *,
    nhs_number: str,
    arrived_at: datetime,
    user: User,
    organisation: Organisation,
    role: str,
    notify: bool,
    request: HttpRequest | None,
    trace_id: str,
) -> str:
    """Step 1: what no caller may do, refused before anything is read; the number normalised."""
    if role not in CHECKING_ROLES or not organisation.is_care_setting:
        raise PermissionDenied("Only clinicians and safeguarding leads at a care setting check a child.")
    if not notify and role not in SILENT_READ_ROLES:
        raise PermissionDenied("Only safeguarding leads may view without notifying.")
    if timezone.is_naive(arrived_at):
        raise ValueError("arrived_at must be timezone-aware")
    nhs_number = nhs_number_normalise(nhs_number)
    check_rate_guard(user=user, organisation=organisation, request=request, trace_id=trace_id)
    return nhs_number


# The check's plans read, compiled to SQL once per process (core/compiled_queries.py): Django
# building and compiling it cost more CPU than PostgreSQL spends running it. Its SQL is what
# `Plan.objects.visible` (the one rule) compiles to, recompiled each day.
_visible_plans = CompiledQuerySet(
    lambda today, synthetic, nhs_number: (
        Plan.objects.visible(today=today)
        .seen_synthetic(synthetic)
        .of_subject(nhs_number)
        .select_related("organisation")
    ),
    placeholders={"nhs_number": str},
    vary_on=("today", "synthetic"),
)


def _plans_find(nhs_number: str, *, today: date, organisation: Organisation) -> list[Plan]:
    """Step 2: the child's visible plans, in the order they are shown; a conformance run's
    synthetic setting sees only synthetic ones, nobody else ever does (`PlanQuerySet.seen_from`)."""
    return plans_sorted(_visible_plans(today=today, synthetic=organisation.is_synthetic, nhs_number=nhs_number))


def _child_lock(nhs_number: str) -> None:
    """Makes checks of one child take turns until commit.

    The second of two simultaneous checks then sees the first one's visit: its history and
    trim decision count both, and a double-submitted form finds the visit its first
    submission recorded instead of racing it to record another.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [_VISIT_LOCK_NAMESPACE, zlib.crc32(nhs_number.encode()) - 2**31],
            )


def _visits_read(
    nhs_number: str, *, plans: list[Plan], recording: bool, idempotency_key: uuid.UUID | None
) -> tuple[Visit | None, list[Visit]]:
    """Step 3: the visit this form already recorded (when `recording`), and the previous visits.

    A child without a visible plan shows no history: it must not reveal a child no longer shared.
    """
    if not recording:
        return None, visits_recent(nhs_number) if plans else []
    _child_lock(nhs_number)
    repeat, previous = repeat_and_history(nhs_number, idempotency_key)
    if repeat is not None and repeat.recorded_at < timezone.now() - timedelta(
        hours=settings.NOTIFICATION_EPISODE_HOURS
    ):
        # A form replayed from the browser's history long after: not a repeat of a
        # check in progress, and it must not show the child's record again unaudited.
        raise CheckFormExpired("This form has expired. Enter the details again to check the child.")
    return repeat, previous


def _birth_date_compare(nhs_number: str, *, date_of_birth: date | None, plans: list[Plan]) -> tuple[date | None, bool]:
    """Step 4: the date of birth PDS verified (if any), and whether the one entered differs."""
    # The verified date of birth (what PDS said at the last upload or re-verification) wins
    # over the plans' own; it is read from CP-IS's tables: a check never waits for PDS.
    verified_dob = verified_date_of_birth(nhs_number) if plans and date_of_birth is not None else None
    if verified_dob is not None:
        return verified_dob, date_of_birth != verified_dob
    return None, date_of_birth is not None and any(p.date_of_birth != date_of_birth for p in plans)


def _check_audit(
    *,
    nhs_number: str,
    notify: bool,
    request: HttpRequest | None,
    user: User,
    organisation: Organisation,
    role: str,
    trace_id: str,
    plans: list[Plan],
    visit: Visit | None,
    dob_mismatch: bool,
    repeated: bool,
) -> AuditEvent:
    """Step 5: the access audited, in the check's transaction: the event, saved by the caller
    (with the visit it records, when it records one)."""
    return audit_event_build(
        action=AuditAction.CHILD_CHECKED if notify else AuditAction.CHILD_VIEWED_SILENTLY,
        request=request,
        user=user,
        organisation=organisation,
        roles=[role],
        nhs_number=nhs_number,
        outcome=AuditOutcome.SUCCESS,
        trace_id=trace_id,
        # Identifiers and flags only: never names or dates of birth.
        detail={
            "plan_ids": [p.pk for p in plans],
            _VISIT_ID: visit.pk if visit else None,
            _NOTIFICATION_IDS: [],
            "dob_mismatch": dob_mismatch,
            "repeated_form": repeated,
        },
    )


# The audit event's ids of what the check recorded, set when they are known: in Python after
# the ORM's inserts, in SQL from the one statement's own results on PostgreSQL.
_VISIT_ID, _NOTIFICATION_IDS = "visit_id", "notification_ids"
# One statement for everything a recording check writes: the visit, the notifications' and
# their outbox rows' parts (`notification_attendance_statement`), then the audit event with
# the ids of both. The visit's and the event's INSERTs are Django's own for those unsaved
# instances (`core.model_inserts`); only the ids are put in here. Data-modifying CTEs all see
# the same snapshot and run once each, whether or not the SELECT reads them.
_AUDIT_DETAIL_WITH_IDS = f"""%(audit_detail)s::jsonb || jsonb_build_object(
    '{_VISIT_ID}', (SELECT id FROM visit),
    '{_NOTIFICATION_IDS}', (
        SELECT COALESCE(jsonb_agg(n.id ORDER BY n.local_authority_id), '[]'::jsonb)
        FROM (SELECT id, local_authority_id FROM joined UNION ALL SELECT id, local_authority_id FROM created) AS n
    )
)"""  # noqa: S608 - our own constants


def _attendance_record(
    *, visit: Visit, plans: list[Plan], audit: AuditEvent, date_of_birth_entered: date | None
) -> tuple[Visit, list[int]]:
    """Step 5, for a new visit: the visit, the notifications it raises (notifications' outbox),
    flagged when `date_of_birth_entered` (set only when it differed), and the audit event
    naming them.

    On PostgreSQL the visit, the notifications with their outbox rows and the audit event are
    one statement (`_record_in_one_statement`); the ORM's version keeps the SQLite demo. Tests
    hold the two to the same rows (tests/attendances/test_check_write.py).
    """
    record = _record_in_one_statement if connection.vendor == "postgresql" else _record_with_orm
    return visit, record(visit=visit, plans=plans, audit=audit, date_of_birth_entered=date_of_birth_entered)


def _record_with_orm(
    *, visit: Visit, plans: list[Plan], audit: AuditEvent, date_of_birth_entered: date | None
) -> list[int]:
    visit.save(force_insert=True)
    notification_ids = notification_record_attendance(visit=visit, plans=plans)
    if date_of_birth_entered is not None:
        notifications_flag_birth_date_mismatch(
            notification_ids=notification_ids, date_of_birth_entered=date_of_birth_entered
        )
    audit.detail = {**audit.detail, _VISIT_ID: visit.pk, _NOTIFICATION_IDS: notification_ids}
    audit.save(force_insert=True)
    return notification_ids


def _record_in_one_statement(
    *, visit: Visit, plans: list[Plan], audit: AuditEvent, date_of_birth_entered: date | None
) -> list[int]:
    notifications = notification_attendance_statement(
        visit=visit, plans=plans, date_of_birth_entered=date_of_birth_entered
    )
    visit_sql, visit_params = insert_statement(visit, name="visit")
    audit_sql, audit_params = insert_statement(audit, name="audit", expressions={"detail": _AUDIT_DETAIL_WITH_IDS})
    # Our own constants and Django's INSERTs; every value is a parameter.
    sql = (
        f"WITH visit AS ({visit_sql} RETURNING id),{notifications.ctes}, audit AS ({audit_sql} RETURNING id)"  # noqa: S608
        f"{notifications.rows} UNION ALL SELECT 'visit', id, NULL FROM visit"
        " UNION ALL SELECT 'audit', id, NULL FROM audit"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {**notifications.params, **visit_params, **audit_params})
        rows = cursor.fetchall()
    ids = {kind: row_id for kind, row_id, _ in rows if kind in ("visit", "audit")}
    for instance, kind in ((visit, "visit"), (audit, "audit")):
        instance.pk = ids[kind]
        instance._state.adding, instance._state.db = False, connection.alias
    notification_ids = notifications.recorded(rows)
    audit.detail = {**audit.detail, _VISIT_ID: visit.pk, _NOTIFICATION_IDS: notification_ids}
    return notification_ids


def _history_trim_ask(*, visit: Visit | None, previous: list[Visit], recorded: bool) -> None:
    """Step 6: a visit this check recorded past the 25 kept asks the worker to trim, after commit."""
    if recorded and visit is not None and len(previous) >= VISITS_KEPT:
        visits_trim_on_commit(visit)
