"""Reading the audit log for the rules (privacy/rules.py): the new checks since the last scan and
the `History` of the users who made them.

The audit log is partitioned by month and holds tens of millions of rows nationally, so every
query here is a range on `occurred_at` (which prunes the partitions) led by an indexed column:
the new checks by action and time (audit_action_time_idx), each user's past by user and time
(audit_user_time_idx), a child's past by NHS number and time (audit_nhs_time_idx). The past is
read grouped in the database (counts per day, per hour, per place), never row by row.
"""

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from accounts.models import Membership, OrganisationKind, User
from audit.models import AuditAction, AuditEvent, AuditOutcome
from plans.models import Plan
from privacy.rules import CARE_SETTING_ACTIONS, CHECK_ACTIONS, Check, DayCounts, History, median_of

_FIELDS = ("id", "occurred_at", "user_id", "organisation_id", "action", "nhs_number", "roles", "detail")


def _checks(queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    # A double-submitted form (repeated_form) is the same look at the child, counted once.
    # With has_key: `detail__repeated_form=True` alone is NULL for the events without the key
    # (the LA's views, the API's checks), and negated would drop them all. (Not `contains`,
    # which SQLite, the README's first run, does not have.)
    return (
        queryset.filter(action__in=CHECK_ACTIONS, outcome=AuditOutcome.SUCCESS, user__isnull=False)
        .exclude(organisation__isnull=True)
        .exclude(Q(detail__has_key="repeated_form") & Q(detail__repeated_form=True))
    )


def _as_check(row: dict[str, Any]) -> Check:
    detail = row["detail"] if isinstance(row["detail"], dict) else {}
    plan_ids = detail.get("plan_ids") or []
    return Check(
        id=row["id"],
        at=row["occurred_at"],
        user_id=row["user_id"],
        organisation_id=row["organisation_id"],
        action=row["action"],
        nhs_number=row["nhs_number"],
        roles=row["roles"],
        plan_ids=tuple(p for p in plan_ids if isinstance(p, int)),
    )


def new_checks(*, after: datetime, until: datetime) -> list[Check]:
    """The checks recorded in (after, until], oldest first."""
    rows = _checks(AuditEvent.objects.filter(occurred_at__gt=after, occurred_at__lte=until))
    return [_as_check(r) for r in rows.order_by("occurred_at", "id").values(*_FIELDS)]


def _volume_candidates(history: History, organisation_ids: list[int]) -> list[int]:
    found = set()
    for user_id, checks in history.shift.items():
        own = median_of(d.checks for d in history.user_days.get(user_id, []))
        threshold = max(float(settings.PRIVACY_VOLUME_MIN), settings.PRIVACY_VOLUME_FACTOR * own)
        per_organisation = Counter(c.organisation_id for c in checks)
        found |= {o for o, n in per_organisation.items() if n >= threshold}
    return sorted(found & set(organisation_ids))


def history_load(new: list[Check], *, end: datetime) -> History:
    """What the rules need about the users, organisations, children and plans of `new`.

    1. the shift's checks of each user (rows: they are the evidence);
    2. the baseline grouped per user and day, per user and hour, per user and care setting, and
       per organisation, user and day for the organisations where the volume rule may fire;
    3. each (user, child) pair's checks since the baseline began;
    4. the plans named in the new checks, and the users' names and local authorities.
    """
    shift_start = end - timedelta(hours=settings.PRIVACY_SHIFT_HOURS)
    baseline_start = shift_start - timedelta(days=settings.PRIVACY_BASELINE_DAYS)
    history = History(shift_start=shift_start, end=end)
    if not new:
        return history
    user_ids = sorted({c.user_id for c in new})
    organisation_ids = sorted({c.organisation_id for c in new})
    tz = timezone.get_current_timezone()

    shift = _checks(AuditEvent.objects.filter(user_id__in=user_ids, occurred_at__gt=shift_start, occurred_at__lte=end))
    by_user: dict[int, list[Check]] = defaultdict(list)
    for row in shift.order_by("occurred_at", "id").values(*_FIELDS):
        by_user[row["user_id"]].append(_as_check(row))
    history.shift = dict(by_user)

    baseline = _checks(AuditEvent.objects.filter(occurred_at__gte=baseline_start, occurred_at__lte=shift_start))
    # One pass over the users' baseline, grouped finely enough for the days, hours and places
    # at once (three grouped reads of the same rows took twice as long).
    grouped = (
        baseline.filter(user_id__in=user_ids)
        .annotate(day=TruncDate("occurred_at", tzinfo=tz), hour=ExtractHour("occurred_at", tzinfo=tz))
        .values("user_id", "day", "hour", "organisation_id", "action")
        .annotate(checks=Count("id"), no_plan=Count("id", filter=Q(detail__plan_ids=[])))
    )
    per_day: dict[tuple[int, object], list[int]] = defaultdict(lambda: [0, 0, 0])
    hours: dict[int, Counter[int]] = defaultdict(Counter)
    places: dict[int, Counter[int]] = defaultdict(Counter)
    for row in grouped:
        user_id, n = row["user_id"], row["checks"]
        counts = per_day[(user_id, row["day"])]
        counts[0] += n
        counts[1] += row["no_plan"]
        if row["action"] == AuditAction.CHILD_VIEWED_SILENTLY:
            counts[2] += n
        hours[user_id][row["hour"]] += n
        if row["action"] in CARE_SETTING_ACTIONS:
            places[user_id][row["organisation_id"]] += n
    user_days: dict[int, list[DayCounts]] = defaultdict(list)
    for (user_id, _), (checks, no_plan, silent) in per_day.items():
        user_days[user_id].append(DayCounts(checks, no_plan, silent))
    history.user_days = dict(user_days)
    history.hours = dict(hours)
    history.places = dict(places)

    # The organisation's usual only matters where a user already reached the volume rule's
    # threshold on their own usual: reading every check of every organisation in the baseline
    # was most of the scan's time (docs/performance.md, bench.privacy).
    candidates = _volume_candidates(history, organisation_ids)
    organisation_days: dict[int, list[int]] = defaultdict(list)
    per_user_day = (
        baseline.filter(organisation_id__in=candidates)
        .annotate(day=TruncDate("occurred_at", tzinfo=tz))
        .values("organisation_id", "user_id", "day")
        .annotate(checks=Count("id"))
    )
    for row in per_user_day:
        organisation_days[row["organisation_id"]].append(row["checks"])
    history.organisation_days = dict(organisation_days)

    numbers = sorted({c.nhs_number for c in new if c.nhs_number})
    child_checks: dict[tuple[int, str], list[Check]] = defaultdict(list)
    children = _checks(
        AuditEvent.objects.filter(
            nhs_number__in=numbers, user_id__in=user_ids, occurred_at__gte=baseline_start, occurred_at__lte=end
        )
    )
    for row in children.order_by("occurred_at", "id").values(*_FIELDS):
        child_checks[(row["user_id"], row["nhs_number"])].append(_as_check(row))
    history.child_checks = dict(child_checks)

    plan_ids = sorted({p for c in new for p in c.plan_ids})
    history.plans = {
        pk: (name, organisation_id)
        for pk, name, organisation_id in Plan.objects.filter(pk__in=plan_ids).values_list(
            "pk", "family_name", "organisation_id"
        )
    }
    authorities: dict[int, set[int]] = defaultdict(set)
    for user_id, organisation_id in Membership.objects.filter(
        user_id__in=user_ids, organisation__kind=OrganisationKind.LOCAL_AUTHORITY
    ).values_list("user_id", "organisation_id"):
        authorities[user_id].add(organisation_id)
    history.users = {
        pk: (name, frozenset(authorities.get(pk, ())))
        for pk, name in User.objects.filter(pk__in=user_ids).values_list("pk", "full_name")
    }
    return history
