"""The check journey: the one service every interface calls (the web form now, the FHIR API later).

Nothing here knows about HTTP or forms: `request` is optional and used only for the audit's
IP address. Callers decide who may call (views with `role_required`, the API with its token);
the service still refuses what no caller may ever do (a silent read by a clinician, a check
from a local authority), because a mistake there would go unnoticed.
"""

import logging
import smtplib
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Case, QuerySet, When
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Organisation, Role, User
from attendances.models import VISITS_KEPT, Visit
from audit.models import AuditAction, AuditEvent, AuditOutcome
from audit.services import audit_record
from core.compiled_queries import CompiledQuerySet
from core.nhs_numbers import nhs_number_normalise
from cpis.resilience import broker_publish
from identity.selectors import verified_date_of_birth
from notifications.services import notification_record_attendance, notifications_flag_birth_date_mismatch
from plans.models import Plan, PlanType

logger = logging.getLogger(__name__)

CHECKING_ROLES = frozenset({Role.CLINICIAN, Role.SAFEGUARDING_LEAD})
SILENT_READ_ROLES = frozenset({Role.SAFEGUARDING_LEAD})

# Advisory-lock namespace for "one child's visits" ("vi"); notifications use their own.
_VISIT_LOCK_NAMESPACE = 0x7669

# The order plans are shown in: a child on a plan first, then looked after, then unborn.
_PLAN_ORDER = {PlanType.CPP: 0, PlanType.LAC: 1, PlanType.UCPP: 2}


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


def _sorted_plans(plans: Iterable[Plan]) -> list[Plan]:
    # Open plans before ended ones: what is true now is read first.
    today = timezone.localdate()
    return sorted(
        plans,
        key=lambda p: (
            p.is_ended(today=today),
            _PLAN_ORDER.get(PlanType(p.plan_type), 9),
            p.organisation.name,
            p.start_date,
        ),
    )


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


# The check's three reads, each compiled to SQL once per process (core/compiled_queries.py):
# Django building and compiling them cost more CPU than PostgreSQL spends running them. The
# plans' SQL is what `Plan.objects.visible` (the one rule) compiles to, recompiled each day.
_visible_plans = CompiledQuerySet(
    lambda today, nhs_number: Plan.objects.visible(today=today).of_subject(nhs_number).select_related("organisation"),
    placeholders={"nhs_number": str},
    vary_on=("today",),
)
# visit_child_history_idx serves both: one child, newest first, 25 rows (26 with this form's).
_history_visits = CompiledQuerySet(
    lambda nhs_number: (
        Visit.objects.filter(nhs_number=nhs_number)
        .select_related("care_setting")
        .order_by("-arrived_at", "-id")[:VISITS_KEPT]
    ),
    placeholders={"nhs_number": str},
)
_form_visit_and_history = CompiledQuerySet(
    lambda nhs_number, idempotency_key: (
        Visit.objects.filter(nhs_number=nhs_number)
        .select_related("care_setting")
        .order_by(Case(When(check_token=idempotency_key, then=0), default=1), "-arrived_at", "-id")[: VISITS_KEPT + 1]
    ),
    placeholders={"nhs_number": str, "idempotency_key": uuid.UUID},
)


def _history(nhs_number: str) -> list[Visit]:
    return _history_visits(nhs_number=nhs_number)


def child_history(nhs_number: str) -> list[Visit]:
    """The child's last 25 visits, newest first, while any plan for the child is visible; none
    otherwise (a history must not reveal a child that is no longer shared). Reads only: the
    caller audits, and decides who may read (the FHIR API's history rule, docs/fhir.md)."""
    if not Plan.objects.visible().of_subject(nhs_number).exists():
        return []
    return _history(nhs_number)


def _repeat_and_history(nhs_number: str, idempotency_key: uuid.UUID | None) -> tuple[Visit | None, list[Visit]]:
    """The visit this form already recorded (None if it is new) and the 25 newest others.

    One query, because it runs on every check: the form's own visit sorts first, then the
    newest. The worker keeps a child to about 25 visits, so the sort is over a handful of rows.
    """
    if idempotency_key is None:
        return None, _history(nhs_number)
    rows = _form_visit_and_history(nhs_number=nhs_number, idempotency_key=idempotency_key)
    repeat = rows[0] if rows and rows[0].check_token == idempotency_key else None
    return repeat, [v for v in rows if v is not repeat][:VISITS_KEPT]


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

    1. refuse what no caller may do: a role that does not check, a silent read by a role
       without it, an organisation that is not a care setting, an invalid NHS number;
    2. in one transaction, find the visible plans (`Plan.objects.visible`, the one rule);
    3. if there are plans and this check notifies: lock the child (see `_child_lock`), and
       unless this form's `idempotency_key` already recorded a visit, record one (time,
       setting, who and their role) and create or join one notification per responsible LA;
    4. read the previous visits (newest 25, not this one);
    5. audit the access, always: with or without plans, silent or not;
    6. after commit, if this visit made the history longer than 25, ask the worker to trim it.

    Raises PermissionDenied (1), django ValidationError (invalid NHS number) or ValueError
    (naive arrival time).
    """
    if role not in CHECKING_ROLES or not organisation.is_care_setting:
        raise PermissionDenied("Only clinicians and safeguarding leads at a care setting check a child.")
    if not notify and role not in SILENT_READ_ROLES:
        raise PermissionDenied("Only safeguarding leads may view without notifying.")
    if timezone.is_naive(arrived_at):
        raise ValueError("arrived_at must be timezone-aware")
    nhs_number = nhs_number_normalise(nhs_number)
    _check_rate_guard(user=user, organisation=organisation, request=request, trace_id=trace_id)

    with transaction.atomic():
        plans = _sorted_plans(_visible_plans(today=today or timezone.localdate(), nhs_number=nhs_number))
        visit = None
        notification_ids = []
        repeated = False
        if plans and notify:
            _child_lock(nhs_number)
            visit, previous = _repeat_and_history(nhs_number, idempotency_key)
            if visit is not None and visit.recorded_at < timezone.now() - timedelta(
                hours=settings.NOTIFICATION_EPISODE_HOURS
            ):
                # A form replayed from the browser's history long after: not a repeat of a
                # check in progress, and it must not show the child's record again unaudited.
                raise CheckFormExpired("This form has expired. Enter the details again to check the child.")
            repeated = visit is not None
            if visit is None:
                visit = Visit.objects.create(
                    nhs_number=nhs_number,
                    arrived_at=arrived_at,
                    care_setting=organisation,
                    checked_by=user,
                    checked_by_name=user.full_name,
                    checked_by_role=role,
                    check_token=idempotency_key,
                )
                notification_ids = notification_record_attendance(visit=visit, plans=plans)
                if len(previous) >= VISITS_KEPT:
                    _visits_trim_on_commit(visit)
        elif plans:
            previous = _history(nhs_number)
        else:
            previous = []

        # The verified date of birth (what PDS said at the last upload or re-verification) wins
        # over the plans' own; it is read from CP-IS's tables: a check never waits for PDS.
        verified_dob = verified_date_of_birth(nhs_number) if plans and date_of_birth is not None else None
        if verified_dob is not None:
            dob_mismatch = date_of_birth != verified_dob
        else:
            dob_mismatch = date_of_birth is not None and any(p.date_of_birth != date_of_birth for p in plans)
        if dob_mismatch and notification_ids:
            notifications_flag_birth_date_mismatch(
                notification_ids=notification_ids, date_of_birth_entered=date_of_birth
            )
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
    return CheckResult(
        nhs_number=nhs_number,
        plans=plans,
        dob_mismatch=dob_mismatch,
        date_of_birth_entered=date_of_birth,
        previous_visits=previous,
        visit=visit,
        notification_ids=notification_ids,
        repeated=repeated,
        verified_date_of_birth=verified_dob,
    )


class CheckFormExpired(ValueError):
    """The form's token recorded a visit longer ago than the episode window."""


class CheckRateLimited(PermissionDenied):
    """The user made CHECK_RATE_LIMIT_PER_HOUR checks in the last hour: no more for now."""


# "This user reached the limit until <time>" (a Unix time): lets each later attempt be refused
# without counting the audit log again. Keyed by the limit, so changing it starts afresh.
_CHECK_LIMITED_KEY = "cpis:check-limited:{user}:{limit}"


def _check_rate_guard(*, user: User, organisation: Organisation, request: HttpRequest | None, trace_id: str) -> None:
    """Refuses a check over the hourly limit, audits it, and tells the organisation's admins.

    Bulk look-ups are how an insider browses children (issue 12 finding 7). Counted from the
    audit log (audit_user_time_idx), so the limit holds across the web and the API, every
    process, and a Redis outage. The admins are told once per user per hour, never which
    children were looked up.

    The cost stays flat however many checks and refusals the user piles up (a soak found each
    check slower than the last): the count stops at `limit` rows, and once the user is over
    it, the moment their oldest counted check leaves the hour goes into the cache; until then
    the answer cannot change (refusals are not counted), so attempts are refused, and audited,
    without counting again. With Redis down it counts every time, as before.
    """
    limit = settings.CHECK_RATE_LIMIT_PER_HOUR
    if not limit:
        return
    now = timezone.now()
    since = now - timedelta(hours=1)
    mine = AuditEvent.objects.filter(user=user, occurred_at__gte=since)
    checks = mine.filter(action__in=(AuditAction.CHILD_CHECKED, AuditAction.CHILD_VIEWED_SILENTLY))
    key = _CHECK_LIMITED_KEY.format(user=user.pk, limit=limit)
    limited_until = _cache_call("get", key)
    if limited_until is not None and limited_until > now.timestamp():
        # Refused within the hour already, so the admins were told then.
        done, first = limit, False
    else:
        done = checks.order_by("occurred_at").values("pk")[:limit].count()
        if done < limit:
            return
        first = not mine.filter(action=AuditAction.CHECK_RATE_LIMITED).exists()
        oldest = checks.order_by("occurred_at").values_list("occurred_at", flat=True).first()
        if oldest is not None:
            until = oldest + timedelta(hours=1)
            _cache_call("set", key, until.timestamp(), max(1, int((until - now).total_seconds())))
    audit_record(
        action=AuditAction.CHECK_RATE_LIMITED,
        request=request,
        user=user,
        organisation=organisation,
        outcome=AuditOutcome.DENIED,
        trace_id=trace_id,
        detail={"limit": limit, "checks_last_hour": done, "admins_told": first},
    )
    if first:
        _check_rate_admins_tell(user=user, organisation=organisation, limit=limit)
    raise CheckRateLimited(
        f"You have checked {limit} children in the last hour, the most CP-IS allows. "
        "Your organisation's administrators have been told. Try again later, or ask them."
    )


def _cache_call(method: str, *args: object) -> Any:
    """The cache's `method`, or None when Redis is down (the breaker then spares the next
    checks the wait): the guard falls back on counting the audit log."""
    from django.core.cache import cache

    from cpis.resilience import cache_breaker

    if cache_breaker.is_open:
        return None
    try:
        return getattr(cache, method)(*args)
    except Exception as exc:  # noqa: BLE001 - any cache failure: count from the audit log instead
        cache_breaker.failed(exc)
        return None


def _check_rate_admins_tell(*, user: User, organisation: Organisation, limit: int) -> None:
    # Lazy: accounts.access imports the audit app, which this module's callers already load.
    from accounts.access import organisation_admins

    recipients = [admin.email for admin in organisation_admins(organisation)]
    if not recipients:
        return
    body = render_to_string(
        "emails/check_rate_limited.txt",
        {"organisation": organisation, "user_id": user.pk, "limit": limit, "site_url": settings.SITE_URL},
    )
    try:
        send_mail(
            subject="CP-IS: a user reached the hourly limit of checks",
            message=body,
            from_email=None,
            recipient_list=recipients,
        )
    except (OSError, smtplib.SMTPException):
        # The refusal is audited either way; the admins see it in the audit log.
        logger.warning("Check rate limit: the e-mail to organisation %s's admins failed", organisation.pk)


def _visits_trim_on_commit(visit: Visit) -> None:
    """Asks the worker to trim after commit; a broker outage must never fail a check.

    The check is already committed when this runs: if Redis is down the clinician still gets
    the alert (robust: the error is logged, without child data), and the trim catches up at the
    child's next check, since every check over 25 asks again. No page shows more than 25 meanwhile.
    """
    from attendances.tasks import visits_trim

    visit_id = visit.pk
    # Through the broker's breaker: a frozen Redis costs one check one socket timeout, and the
    # checks after it nothing, rather than every check of a child with 25 visits its timeout.
    transaction.on_commit(lambda: broker_publish(visits_trim, (visit_id,)), robust=True)


def visit_history_trim(*, nhs_number: str) -> int:
    """Deletes all but the child's newest 25 visits; returns how many went. Safe to repeat."""
    keep = Visit.objects.filter(nhs_number=nhs_number).order_by("-arrived_at", "-id").values("pk")[:VISITS_KEPT]
    deleted, _ = Visit.objects.filter(nhs_number=nhs_number).exclude(pk__in=keep).delete()
    return deleted


@dataclass(frozen=True)
class ChildRecord:
    """What the responsible local authority sees: its own visible plans and the visits."""

    nhs_number: str
    plans: list[Plan]
    visits: list[Visit]


def child_view_by_local_authority(
    *, nhs_number: str, organisation: Organisation, user: User, request: HttpRequest | None = None, trace_id: str = ""
) -> ChildRecord | None:
    """A social worker's look at one child: None unless their LA holds a visible plan for it.

    Only the viewer's own LA's plans are returned, never another LA's: which other councils
    know a child is theirs to share. The visits (last 25) are the child's, from any setting.
    Audited whether or not the child is found.
    """
    if not organisation.is_local_authority:
        raise PermissionDenied("Only a local authority sees its children's records.")
    nhs_number = nhs_number_normalise(nhs_number)
    plans = _sorted_plans(
        Plan.objects.visible().for_local_authority(organisation).of_subject(nhs_number).select_related("organisation")
    )
    visits = _history(nhs_number) if plans else []
    audit_record(
        action=AuditAction.CHILD_VIEWED_BY_LA,
        request=request,
        user=user,
        organisation=organisation,
        roles=[Role.SOCIAL_WORKER],
        nhs_number=nhs_number,
        outcome=AuditOutcome.SUCCESS if plans else AuditOutcome.FAILURE,
        trace_id=trace_id,
        detail={"plan_ids": [p.pk for p in plans], "visits_shown": len(visits)},
    )
    if not plans:
        return None
    return ChildRecord(nhs_number=nhs_number, plans=plans, visits=visits)


# ---------------------------------------------------------------------------------------------
# The checker's own day


@dataclass(frozen=True)
class CheckMade:
    """One check (or silent read) a clinician or safeguarding lead made, as their list shows it."""

    at: datetime
    nhs_number: str
    silent: bool
    on_plan: bool
    local_authority_told: bool
    dob_mismatch: bool
    # From a plan still visible now; a plan that has since ended or been withdrawn is not
    # shown again (empty), though the check itself stays in the list.
    name: str = ""
    plan_types: list[str] = field(default_factory=list)


def checks_today_events(*, user: User, organisation: Organisation, today: date | None = None) -> QuerySet[AuditEvent]:
    """The audit events of `user`'s checks at `organisation` since midnight (London time): each
    check and silent read once, a re-sent form not again. The audit log is the one record of a
    check of a child with no plan, and audit_user_time_idx serves this query."""
    from core.dates import day_start

    return (
        AuditEvent.objects.filter(
            user=user,
            organisation=organisation,
            action__in=(AuditAction.CHILD_CHECKED, AuditAction.CHILD_VIEWED_SILENTLY),
            outcome=AuditOutcome.SUCCESS,
            occurred_at__gte=day_start(today or timezone.localdate()),
        )
        .exclude(detail__repeated_form=True)
        .order_by("-occurred_at", "-id")
    )


def checks_today(*, user: User, organisation: Organisation, on_plan_only: bool = False) -> list[CheckMade]:
    """`user`'s checks of today at `organisation`, newest first, in two queries."""
    events = list(checks_today_events(user=user, organisation=organisation))
    if on_plan_only:
        events = [e for e in events if e.detail.get("plan_ids")]
    plan_ids = {pk for e in events for pk in e.detail.get("plan_ids") or []}
    plans = Plan.objects.visible().filter(pk__in=plan_ids).select_related("organisation").in_bulk() if plan_ids else {}
    made = []
    for event in events:
        shown = _sorted_plans([plans[pk] for pk in event.detail.get("plan_ids") or [] if pk in plans])
        made.append(
            CheckMade(
                at=event.occurred_at,
                nhs_number=event.nhs_number,
                silent=event.action == AuditAction.CHILD_VIEWED_SILENTLY,
                on_plan=bool(event.detail.get("plan_ids")),
                # A check records a visit exactly when it tells the local authority.
                local_authority_told=bool(event.detail.get("visit_id")),
                dob_mismatch=bool(event.detail.get("dob_mismatch")),
                name=f"{shown[0].given_names} {shown[0].family_name}" if shown else "",
                plan_types=list(dict.fromkeys(PlanType(p.plan_type).label for p in shown)),
            )
        )
    return made
