"""Reading the audit log for the rules (privacy/rules.py): the new checks since the last scan and
the `History` of the users who made them.

The audit log is partitioned by month and holds tens of millions of rows nationally, so every
query here is a range on `occurred_at` (which prunes the partitions) led by an indexed column:
the new checks by action and time (audit_action_time_idx), each user's past by user and time
(audit_user_time_idx), a child's past by NHS number and time (audit_nhs_time_idx).

The baseline (whole days, `baseline_days`) is read from the nightly roll-up's summaries
(privacy/baselines.py: one row per user, the children seen per user and day by keyed hash) when
they cover it, so a scan reads one row per user instead of their 30 days of events; otherwise
from the audit log, grouped in the database (per day, hour, place). Both give the same History
(tests/privacy/test_baselines.py).
"""

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from typing import Any, Literal

from django.conf import settings
from django.db import connection
from django.db.models import BooleanField, Count, F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from accounts.models import Membership, OrganisationKind, User
from audit.models import AuditAction, AuditEvent, AuditOutcome
from plans.models import Plan
from privacy.models import BaselineRollUp, ChildSeen, OrganisationBaseline, UserBaseline
from privacy.rules import (
    CARE_SETTING_ACTIONS,
    CHECK_ACTIONS,
    NO_USUAL,
    Check,
    DayCounts,
    History,
    Hours,
    Places,
    Usual,
    child_keys,
    median_of,
    offset_of_hour,
)

# The roll-up keeps the summaries of the baselines ending on its last day and the day before
# (and one more): a shift of up to PRIVACY_SHIFT_HOURS=24 starts on one of them.
WINDOWS_KEPT = 3

_FIELDS = ("id", "at_us", "user_id", "organisation_id", "action", "nhs_number", "roles", "plan_ids_json")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_HOUR_US = 3_600_000_000


def checks_of(queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    # A double-submitted form (repeated_form) is the same look at the child, counted once.
    # With has_key: `detail__repeated_form=True` alone is NULL for the events without the key
    # (the LA's views, the API's checks), and negated would drop them all. (Not `contains`,
    # which SQLite, the README's first run, does not have.)
    return (
        queryset.filter(action__in=CHECK_ACTIONS, outcome=AuditOutcome.SUCCESS, user__isnull=False)
        .exclude(organisation__isnull=True)
        .exclude(Q(detail__has_key="repeated_form") & Q(detail__repeated_form=True))
    )


def _at_us() -> RawSQL | F:
    """`occurred_at` in microseconds since 1970: on PostgreSQL as an integer, since Django's
    loader of timestamps parses their text in Python and a day's scan reads thousands."""
    if connection.vendor == "postgresql":
        return RawSQL('(EXTRACT(EPOCH FROM "audit_auditevent"."occurred_at") * 1000000)::bigint', ())
    return F("occurred_at")


def as_check(row: tuple[Any, ...]) -> Check:
    """A row of `_FIELDS` as a Check."""
    id_, at_us, user_id, organisation_id, action, nhs_number, roles, plan_ids_json = row
    if not isinstance(at_us, int):
        at_us = (at_us - _EPOCH) // _MICROSECOND
    at = _EPOCH + timedelta(microseconds=at_us)
    plan_ids: tuple[int, ...] = ()
    # Only the plan ids of the detail: decoding all of it was a third of this read's time.
    if plan_ids_json and plan_ids_json != "[]":
        found = json.loads(plan_ids_json)
        if isinstance(found, list):
            plan_ids = tuple(p for p in found if isinstance(p, int))
    # By position: a tuple made by keyword takes twice as long, and a day has thousands.
    local = at.replace(tzinfo=None) + offset_of_hour(at_us // _HOUR_US)
    return Check(id_, at, user_id, organisation_id, action, nhs_number, roles, plan_ids, local)


def checks_read(queryset: QuerySet[AuditEvent]) -> list[Check]:
    rows = (
        checks_of(queryset)
        .annotate(at_us=_at_us(), plan_ids_json=KeyTextTransform("plan_ids", "detail"))
        .order_by("occurred_at", "id")
        .values_list(*_FIELDS)
    )
    return [as_check(r) for r in rows]


def new_checks(*, after: datetime, until: datetime) -> list[Check]:
    """The checks recorded in (after, until], oldest first."""
    return checks_read(AuditEvent.objects.filter(occurred_at__gt=after, occurred_at__lte=until))


def _joined(values: Iterable[object]) -> str:
    # One text parameter, split into an array by the database: psycopg turns a list into an
    # array literal value by value in Python, a tenth of a day's scan for its 6,000 keys. The
    # values are ids and hexadecimal keys: none holds a comma.
    return ",".join(str(v) for v in values)


def one_of(column: Literal["user_id", "child_key"], values: Sequence[object]) -> Q | RawSQL:
    """`column IN values`; on PostgreSQL as one array parameter (= ANY): a day's scan asks for
    thousands of users and children, and sending and planning that many placeholders took
    longer than reading the rows."""
    if connection.vendor == "postgresql":
        # The column is one of two names written here; the values are a bound parameter.
        array = "bigint[]" if column == "user_id" else "text[]"
        return RawSQL(  # noqa: S611
            f"\"{column}\" = ANY(string_to_array(%s, ',')::{array})", (_joined(values),), output_field=BooleanField()
        )
    return Q(**{f"{column}__in": values})


def pair_of(pairs: Sequence[tuple[int, str]]) -> Q | RawSQL:
    """`(user_id, child_key) IN pairs` on PostgreSQL: the children seen of a day's new checks by
    any user are some 14,000 rows, of which the scan wants the few of its own pairs. Elsewhere
    (SQLite, the demo's few rows) the users' and the children's, which the caller filters."""
    if connection.vendor == "postgresql":
        return RawSQL(
            '("user_id", "child_key") IN (SELECT * FROM unnest(string_to_array(%s, \',\')::bigint[],'
            " string_to_array(%s, ',')::text[]))",
            (_joined(u for u, _ in pairs), _joined(k for _, k in pairs)),
            output_field=BooleanField(),
        )
    return Q(user_id__in={u for u, _ in pairs}, child_key__in={k for _, k in pairs})


# The children filter (`UserBaseline.children`): a Bloom filter of 12 bits per child, each key
# setting 4. A pair not seen is looked up anyway about once in 150 (the filter's false
# positives, which cost a lookup, never an alert); a pair seen is never missed.
_FILTER_BITS_PER_CHILD = 12
_FILTER_PROBES = 4


def _filter_bits(key: str, bits: int) -> Iterator[int]:
    # The key is an HMAC in hexadecimal (96 bits, uniform): its four 24-bit slices.
    value = int(key, 16)
    for _ in range(_FILTER_PROBES):
        yield (value & 0xFFFFFF) % bits
        value >>= 24


def children_filter(keys: set[str]) -> bytes:
    """The Bloom filter of the children `keys`, for `may_have_seen`."""
    if not keys:
        return b""
    bits = max(64, -(-len(keys) * _FILTER_BITS_PER_CHILD // 8) * 8)
    value = 0
    for key in keys:
        for bit in _filter_bits(key, bits):
            value |= 1 << bit
    return value.to_bytes(bits // 8, "little")


def may_have_seen(children: bytes, key: str) -> bool:
    """Whether the child `key` may be in the filter `children` (bit b: bit b % 8 of byte b // 8)."""
    # `_filter_bits` unrolled into the loop, which stops at the first bit not set: a scan asks
    # this for each of its thousands of pairs, and most fail at once.
    bits = len(children) * 8
    value = int(key, 16)
    for _ in range(_FILTER_PROBES):
        bit = (value & 0xFFFFFF) % bits
        if not children[bit >> 3] >> (bit & 7) & 1:
            return False
        value >>= 24
    return True


def midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time()))


def baseline_days(shift_start: datetime) -> tuple[date, date]:
    """The first and last day of the baseline of a shift starting at `shift_start`."""
    first_of_shift = timezone.localtime(shift_start).date()
    return first_of_shift - timedelta(days=settings.PRIVACY_BASELINE_DAYS), first_of_shift - timedelta(days=1)


class UserDay:
    """One user's checks on one local day: counts, and counts by hour, care setting and
    organisation."""

    __slots__ = ("checks", "no_plan", "silent", "hours", "places", "organisations")

    def __init__(self) -> None:
        self.checks = self.no_plan = self.silent = 0
        self.hours: Counter[int] = Counter()
        self.places: Counter[int] = Counter()
        self.organisations: Counter[int] = Counter()


def user_days_read(queryset: QuerySet[AuditEvent]) -> dict[tuple[int, date], UserDay]:
    """The checks of `queryset` grouped per (user, local day), in one grouped read."""
    tz = timezone.get_current_timezone()
    # One pass, grouped finely enough for the days, hours and places at once (three grouped
    # reads of the same rows took twice as long).
    grouped = (
        checks_of(queryset)
        .annotate(day=TruncDate("occurred_at", tzinfo=tz), hour=ExtractHour("occurred_at", tzinfo=tz))
        .values("user_id", "day", "hour", "organisation_id", "action")
        .annotate(checks=Count("id"), no_plan=Count("id", filter=Q(detail__plan_ids=[])))
    )
    days: dict[tuple[int, date], UserDay] = defaultdict(UserDay)
    for row in grouped:
        n = row["checks"]
        day = days[(row["user_id"], row["day"])]
        day.checks += n
        day.no_plan += row["no_plan"]
        if row["action"] == AuditAction.CHILD_VIEWED_SILENTLY:
            day.silent += n
        day.hours[row["hour"]] += n
        day.organisations[row["organisation_id"]] += n
        if row["action"] in CARE_SETTING_ACTIONS:
            day.places[row["organisation_id"]] += n
    return dict(days)


def usual_of(days: list[UserDay]) -> tuple[Usual, Hours, Places]:
    """A user's usual, hours and places over their `days`."""
    hours: Counter[int] = Counter()
    places: Counter[int] = Counter()
    for day in days:
        hours.update(day.hours)
        places.update(day.places)
    return Usual.of([DayCounts(d.checks, d.no_plan, d.silent) for d in days]), Hours.of(hours), Places.of(places)


def _volume_candidates(history: History, organisation_ids: list[int]) -> list[int]:
    minimum, factor = float(settings.PRIVACY_VOLUME_MIN), settings.PRIVACY_VOLUME_FACTOR
    found = {
        organisation_id
        for (user_id, organisation_id), checks in history.shift.items()
        if len(checks) >= max(minimum, factor * history.usual.get(user_id, NO_USUAL).checks)
    }
    return sorted(found & set(organisation_ids))


def _summaries_cover(last_day: date) -> date | None:
    """The roll-up's last day when its summaries hold the baseline ending on `last_day`.

    Locked until the scan commits: a roll-up that finished in the middle of the scan would
    have replaced the summaries it is reading."""
    rolled_until = (
        BaselineRollUp.objects.select_for_update().filter(id=1).values_list("rolled_until", flat=True).first()
    )
    if rolled_until is not None and rolled_until - timedelta(days=WINDOWS_KEPT - 1) <= last_day <= rolled_until:
        return rolled_until
    return None


def history_load(new: list[Check], *, after: datetime, end: datetime) -> History:
    """What the rules need about the users, organisations, children and plans of `new`, the
    checks in (after, end].

    1. the shift's checks of each user (rows: they are the evidence);
    2. the users' usual, hours and places, and the organisations' usual where the volume rule
       may fire: from the summaries, or the audit log grouped;
    3. each (user, child) pair's checks since the baseline began (from the summaries, only for
       the pairs that may trip `repeat_child`);
    4. the plans named in the new checks, and the users' names and local authorities.
    """
    shift_start = end - timedelta(hours=settings.PRIVACY_SHIFT_HOURS)
    first_day, last_day = baseline_days(shift_start)
    history = History(shift_start=shift_start, end=end)
    if not new:
        return history
    rolled_until = _summaries_cover(last_day)
    if rolled_until is None:
        _from_audit_log(history, new, first_day=first_day, last_day=last_day)
    else:
        _from_summaries(history, new, after=after, first_day=first_day, last_day=last_day, rolled_until=rolled_until)

    # The plans, names and local authorities are for the checks that found a plan only (the
    # rules that read them look at those): a few of a day's checks.
    user_ids = sorted({c.user_id for c in new if c.plan_ids})
    plan_ids = sorted({p for c in new for p in c.plan_ids})
    if not plan_ids:
        return history
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


def _shift_of(history: History, checks: list[Check]) -> None:
    at: dict[tuple[int, int], list[Check]] = defaultdict(list)
    for check in checks:
        at[(check.user_id, check.organisation_id)].append(check)
    history.shift = dict(at)


def _from_audit_log(history: History, new: list[Check], *, first_day: date, last_day: date) -> None:
    user_ids = sorted({c.user_id for c in new})
    organisation_ids = sorted({c.organisation_id for c in new})
    end = history.end
    _shift_of(
        history,
        checks_read(
            AuditEvent.objects.filter(user_id__in=user_ids, occurred_at__gt=history.shift_start, occurred_at__lte=end)
        ),
    )

    baseline = AuditEvent.objects.filter(
        occurred_at__gte=midnight(first_day), occurred_at__lt=midnight(last_day + timedelta(days=1))
    )
    per_user: dict[int, list[UserDay]] = defaultdict(list)
    for (user_id, _), day in user_days_read(baseline.filter(user_id__in=user_ids)).items():
        per_user[user_id].append(day)
    for user_id, days in per_user.items():
        history.usual[user_id], history.hours[user_id], history.places[user_id] = usual_of(days)

    # The organisation's usual only matters where a user already reached the volume rule's
    # threshold on their own usual: reading every check of every organisation in the baseline
    # was most of the scan's time (docs/performance.md, bench.privacy).
    candidates = _volume_candidates(history, organisation_ids)
    if candidates:
        tz = timezone.get_current_timezone()
        organisation_days: dict[int, list[int]] = defaultdict(list)
        per_user_day = (
            checks_of(baseline.filter(organisation_id__in=candidates))
            .annotate(day=TruncDate("occurred_at", tzinfo=tz))
            .values("organisation_id", "user_id", "day")
            .annotate(checks=Count("id"))
        )
        for row in per_user_day:
            organisation_days[row["organisation_id"]].append(row["checks"])
        history.organisation_usual = {o: median_of(counts) for o, counts in organisation_days.items()}

    numbers = sorted({c.nhs_number for c in new if c.nhs_number})
    _child_checks_read(history, numbers=numbers, user_ids=user_ids, first_day=first_day)


def _child_checks_read(history: History, *, numbers: list[str], user_ids: list[int], first_day: date) -> None:
    child_checks: dict[tuple[int, str], list[Check]] = defaultdict(list)
    if numbers:
        for check in checks_read(
            AuditEvent.objects.filter(
                nhs_number__in=numbers,
                user_id__in=user_ids,
                occurred_at__gte=midnight(first_day),
                occurred_at__lte=history.end,
            )
        ):
            child_checks[(check.user_id, check.nhs_number)].append(check)
    history.child_checks = dict(child_checks)


def _from_summaries(
    history: History, new: list[Check], *, after: datetime, first_day: date, last_day: date, rolled_until: date
) -> None:
    user_ids = sorted({c.user_id for c in new})
    organisation_ids = sorted({c.organisation_id for c in new})

    # The users' checks the summaries do not hold (the days after the roll-up's) and the shift's:
    # the new checks, and, when those start later, the rows before them. A scan of the day's
    # events reads nothing more; a five-minute scan reads its few users' day so far.
    recent_start = min(history.shift_start, midnight(rolled_until + timedelta(days=1)))
    recent: list[Check] = []
    if recent_start <= after:
        recent = checks_read(
            AuditEvent.objects.filter(
                one_of("user_id", user_ids), occurred_at__gte=recent_start, occurred_at__lte=after
            )
        )
    recent += new
    _shift_of(history, [c for c in recent if c.at > history.shift_start])

    # No JSON: decoding it was most of this read's time.
    filters: dict[int, bytes] = {}
    for user_id, checks, no_plan, silent, total, hours, places_total, places, children in UserBaseline.objects.filter(
        one_of("user_id", user_ids), last_day=last_day
    ).values_list(
        "user_id", "checks", "no_plan", "silent", "checks_total", "hours", "places_total", "places", "children"
    ):
        if children:
            filters[user_id] = children
        history.usual[user_id] = Usual(checks, no_plan, silent)
        history.hours[user_id] = Hours(total, hours)
        history.places[user_id] = Places(
            places_total, frozenset(map(int, places.split(","))) if places else frozenset()
        )
    candidates = _volume_candidates(history, organisation_ids)
    if candidates:
        history.organisation_usual = dict(
            OrganisationBaseline.objects.filter(last_day=last_day, organisation_id__in=candidates).values_list(
                "organisation_id", "usual"
            )
        )

    # repeat_child: which (user, child) pairs may trip it, from the days each was seen and its
    # first check that found no plan; only those pairs' checks are read, as its evidence. The
    # new checks come oldest first: the last of a pair's is its latest.
    latest = {(c.user_id, c.nhs_number): c.at for c in new if c.nhs_number}
    keys = child_keys({n for _, n in latest})
    number_of = {key: number for number, key in keys.items()}
    days: dict[tuple[int, str], set[date]] = defaultdict(set)
    # In seconds since 1970, as the summaries hold it.
    first_no_plan: dict[tuple[int, str], float] = {}
    never = float("inf")
    if keys:
        # Only the pairs the user's filter may hold (all of a user without one): of a day's
        # 6,000, the few seen before and some 40 that were not.
        lookups = [(u, keys[n]) for u, n in latest if u not in filters or may_have_seen(filters[u], keys[n])]
        for user_id, key, day, no_plan_epoch in ChildSeen.objects.filter(
            pair_of(lookups), day__gte=first_day, day__lte=rolled_until
        ).values_list("user_id", "child_key", "day", "first_no_plan_epoch"):
            pair = (user_id, number_of[key])
            if pair in latest:
                days[pair].add(day)
                if no_plan_epoch is not None and no_plan_epoch < first_no_plan.get(pair, never):
                    first_no_plan[pair] = no_plan_epoch
    repeat_days = settings.PRIVACY_REPEAT_DAYS
    gap_seconds = settings.PRIVACY_RECHECK_GAP_HOURS * 3600
    # The pairs whose days and first check that found no plan are worked out below.
    unsettled = set(latest)
    if repeat_days > 1 and gap_seconds > 0:
        # A pair not seen before whose one check (counted in C) is its latest has one day and no
        # check before it: it cannot trip the rule. Most of a day's pairs are such.
        counts = Counter(zip(map(attrgetter("user_id"), recent), map(attrgetter("nhs_number"), recent), strict=True))
        unsettled = {pair for pair in latest if pair in days or counts[pair] > 1}
    # All of `recent` is after the baseline's first day (it starts at the shift's start or the
    # day after the summaries' last, both later).
    for c in recent:
        pair = (c.user_id, c.nhs_number)
        if pair in unsettled:
            days[pair].add(c.local.date())
            if not c.plan_ids:
                epoch = c.at.timestamp()
                if epoch < first_no_plan.get(pair, never):
                    first_no_plan[pair] = epoch
    may_trip = [
        pair
        for pair in unsettled
        if len(days[pair]) >= repeat_days
        or (pair in first_no_plan and first_no_plan[pair] <= latest[pair].timestamp() - gap_seconds)
    ]
    history.child_checks = {}
    if may_trip:
        _child_checks_read(
            history,
            numbers=sorted({n for _, n in may_trip}),
            user_ids=sorted({u for u, _ in may_trip}),
            first_day=first_day,
        )
        wanted = set(may_trip)
        history.child_checks = {pair: checks for pair, checks in history.child_checks.items() if pair in wanted}
