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
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from core.compiled_queries import CompiledQuerySet
from core.nhs_numbers import nhs_number_normalise
from identity.selectors import verified_date_of_birth
from notifications.services import notification_record_attendance, notifications_flag_birth_date_mismatch
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
    4. unless this form already recorded it, record the visit (time, setting, who and their
       role) and create or join one notification per responsible LA (`_attendance_record`);
    5. compare the date of birth entered with the verified one, else the plans'; flag the
       notifications when it differs (`_birth_date_compare`);
    6. audit the access, always: with or without plans, silent or not (`_check_audit`);
    7. after commit, if this visit made the history longer than 25, ask the worker to trim it
       (`_history_trim_ask`).

    Raises PermissionDenied (1), django ValidationError (invalid NHS number), ValueError
    (naive arrival time) or CheckFormExpired (3).
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
        visit, notification_ids = (
            _attendance_record(
                nhs_number=nhs_number,
                plans=plans,
                arrived_at=arrived_at,
                organisation=organisation,
                user=user,
                role=role,
                idempotency_key=idempotency_key,
            )
            if recording and repeat is None
            else (repeat, [])
        )
        verified_dob, dob_mismatch = _birth_date_compare(
            nhs_number, date_of_birth=date_of_birth, plans=plans, notification_ids=notification_ids
        )
        _check_audit(
            nhs_number=nhs_number,
            notify=notify,
            request=request,
            user=user,
            organisation=organisation,
            role=role,
            trace_id=trace_id,
            plans=plans,
            visit=visit,
            notification_ids=notification_ids,
            dob_mismatch=dob_mismatch,
            repeated=repeat is not None,
        )
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


def _attendance_record(
    *,
    nhs_number: str,
    plans: list[Plan],
    arrived_at: datetime,
    organisation: Organisation,
    user: User,
    role: str,
    idempotency_key: uuid.UUID | None,
) -> tuple[Visit, list[int]]:
    """Step 4: the visit, and the notifications it raises (notifications' outbox)."""
    visit = Visit.objects.create(
        nhs_number=nhs_number,
        arrived_at=arrived_at,
        care_setting=organisation,
        checked_by=user,
        checked_by_name=user.full_name,
        checked_by_role=role,
        check_token=idempotency_key,
    )
    return visit, notification_record_attendance(visit=visit, plans=plans)


def _birth_date_compare(
    nhs_number: str, *, date_of_birth: date | None, plans: list[Plan], notification_ids: list[int]
) -> tuple[date | None, bool]:
    """Step 5: the date of birth PDS verified (if any), and whether the one entered differs."""
    # The verified date of birth (what PDS said at the last upload or re-verification) wins
    # over the plans' own; it is read from CP-IS's tables: a check never waits for PDS.
    verified_dob = verified_date_of_birth(nhs_number) if plans and date_of_birth is not None else None
    if verified_dob is not None:
        dob_mismatch = date_of_birth != verified_dob
    else:
        dob_mismatch = date_of_birth is not None and any(p.date_of_birth != date_of_birth for p in plans)
    if dob_mismatch and notification_ids:
        notifications_flag_birth_date_mismatch(notification_ids=notification_ids, date_of_birth_entered=date_of_birth)
    return verified_dob, dob_mismatch


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
    notification_ids: list[int],
    dob_mismatch: bool,
    repeated: bool,
) -> None:
    """Step 6: the access audited, in the check's transaction."""
    audit_record(
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
            "visit_id": visit.pk if visit else None,
            "notification_ids": notification_ids,
            "dob_mismatch": dob_mismatch,
            "repeated_form": repeated,
        },
    )


def _history_trim_ask(*, visit: Visit | None, previous: list[Visit], recorded: bool) -> None:
    """Step 7: a visit this check recorded past the 25 kept asks the worker to trim, after commit."""
    if recorded and visit is not None and len(previous) >= VISITS_KEPT:
        visits_trim_on_commit(visit)
