"""The access-pattern rules (issue 29; docs/privacy.md "Rules"), each a pure function of the new
checks and what the scan read about their users' past (`History`, privacy/scan.py).

Every rule returns `Finding`s that name the rule, the checks involved and, in `explanation`, the
threshold it applied and what it observed, in words without names or NHS numbers. Thresholds
and windows are settings (cpis/settings/base.py, PRIVACY_*), read when the rule runs.
"""

import functools
import hashlib
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditAction
from privacy.models import AlertRule

# The audit actions that are a look at one child's record.
CHECK_ACTIONS = (AuditAction.CHILD_CHECKED, AuditAction.CHILD_VIEWED_SILENTLY, AuditAction.CHILD_VIEWED_BY_LA)
# Those made at a care setting: where a user "usually works" is where they make these.
CARE_SETTING_ACTIONS = (AuditAction.CHILD_CHECKED, AuditAction.CHILD_VIEWED_SILENTLY)


class Check(NamedTuple):
    """One look at a child's record, as the audit log holds it (a tuple: a day's scan makes
    thousands)."""

    id: int
    at: datetime
    user_id: int
    organisation_id: int
    action: str
    nhs_number: str
    roles: str
    plan_ids: tuple[int, ...]
    # `at` in local wall-clock time (naive), worked out once: the rules ask for its day and hour.
    local: datetime

    @property
    def plan_found(self) -> bool:
        return bool(self.plan_ids)

    @property
    def day(self) -> date:
        return self.local.date()

    @property
    def hour(self) -> int:
        return self.local.hour


@functools.lru_cache(maxsize=4096)
def offset_of_hour(hours_since_epoch: int) -> timedelta:
    # London's offset from UTC changes on the hour, so it is the same for every moment of an hour.
    moment = datetime.fromtimestamp(hours_since_epoch * 3600, tz=UTC)
    return timezone.localtime(moment).utcoffset() or timedelta(0)


def local_of(at: datetime) -> datetime:
    """`at` as local wall-clock time (naive), as `timezone.localtime` gives it: a day's scan asks
    for the local day or hour of thousands of checks, and localtime is most of the rules' time."""
    utc = at.replace(tzinfo=None) - (at.utcoffset() or timedelta(0))
    return utc + offset_of_hour(int(at.timestamp()) // 3600)


class DayCounts(NamedTuple):
    checks: int
    no_plan: int
    silent: int


class Usual(NamedTuple):
    """A user's medians per day, over the baseline days on which they checked at all (a tuple:
    a day's scan makes one per user, thousands)."""

    checks: float
    no_plan: float
    silent: float

    @classmethod
    def of(cls, days: list[DayCounts]) -> "Usual":
        return cls(
            median_of(d.checks for d in days), median_of(d.no_plan for d in days), median_of(d.silent for d in days)
        )


NO_USUAL = Usual(0.0, 0.0, 0.0)


class Hours(NamedTuple):
    """A user's baseline checks: how many, and the local hours they made them in (bit h set for
    hour h)."""

    total: int
    seen: int

    @classmethod
    def of(cls, counts: Counter[int]) -> "Hours":
        return cls(sum(counts.values()), sum(1 << h for h, n in counts.items() if n))


class Places(NamedTuple):
    """A user's baseline checks at care settings: how many, and where."""

    total: int
    seen: frozenset[int]

    @classmethod
    def of(cls, counts: Counter[int]) -> "Places":
        return cls(sum(counts.values()), frozenset(o for o, n in counts.items() if n))


NO_HOURS = Hours(0, 0)
NO_PLACES = Places(0, frozenset())


@dataclass
class History:
    """What the rules know beyond the new checks; the scan fills it with a few grouped queries.

    The shift is the PRIVACY_SHIFT_HOURS up to the end of the scan; the baseline the
    PRIVACY_BASELINE_DAYS whole local days before the day the shift starts on (whole days, so the
    nightly roll-up's summaries, privacy/baselines.py, give the same history as the audit log).
    """

    shift_start: datetime
    end: datetime
    # Each user's checks in the shift at each organisation (the new ones among them), oldest
    # first: grouped once for the volume rules, which each look at one (user, organisation).
    shift: dict[tuple[int, int], list[Check]] = field(default_factory=dict)
    # Per user, their usual per day in the baseline.
    usual: dict[int, Usual] = field(default_factory=dict)
    # Per organisation (those where the volume rule may fire), the median of each (user, day)'s
    # checks there in the baseline.
    organisation_usual: dict[int, float] = field(default_factory=dict)
    # Per user, their baseline checks by local hour, and by organisation (care settings only).
    hours: dict[int, Hours] = field(default_factory=dict)
    places: dict[int, Places] = field(default_factory=dict)
    # Per (user, NHS number) of a new check: that user's checks of that child since the
    # baseline began, oldest first (from the summaries: only the pairs that may trip the rule).
    child_checks: dict[tuple[int, str], list[Check]] = field(default_factory=dict)
    # Per plan id in a new check: (the child's family name, the plan's local authority).
    plans: dict[int, tuple[str, int]] = field(default_factory=dict)
    # Per user: (full name, the local authorities they are a member of).
    users: dict[int, tuple[str, frozenset[int]]] = field(default_factory=dict)
    # `grouped`'s last answer, and the checks it was for.
    _grouped_of: list["Check"] | None = field(default=None, repr=False, compare=False)
    _grouped: dict[tuple[int, int], list["Check"]] = field(default_factory=dict, repr=False, compare=False)

    def grouped(self, checks: list["Check"]) -> dict[tuple[int, int], list["Check"]]:
        """`checks` per (user, organisation), in (user, organisation) order: worked out once for
        the rules that each look at the new checks that way."""
        if self._grouped_of is not checks:
            grouped: dict[tuple[int, int], list[Check]] = defaultdict(list)
            for check in checks:
                grouped[(check.user_id, check.organisation_id)].append(check)
            self._grouped_of, self._grouped = checks, dict(sorted(grouped.items()))
        return self._grouped


@dataclass
class Finding:
    rule: str
    user_id: int
    organisation_id: int
    dedupe_key: str
    explanation: str
    evidence: list[Check]


_CHILD_KEY_SALT = "privacy.alert.child"


@functools.cache
def _child_hmac_pads(secret: str) -> tuple["hashlib._Hash", "hashlib._Hash"]:
    """SHA-1 begun on salted_hmac's key XOR the inner and the outer pad (RFC 2104), once per
    secret: a day's scan keys thousands of numbers, and an HMAC set up for each was a fifth of
    its history's time. SHA-1, salted_hmac's default, which the alerts' keys were made with."""
    key = hashlib.sha1((_CHILD_KEY_SALT + secret).encode()).digest()  # noqa: S324
    block = key.ljust(64, b"\0")  # a SHA-1 key (20 bytes) is shorter than its block: padded
    inner = hashlib.sha1(bytes(b ^ 0x36 for b in block))  # noqa: S324
    outer = hashlib.sha1(bytes(b ^ 0x5C for b in block))  # noqa: S324
    return inner, outer


def child_keys(nhs_numbers: Iterable[str]) -> dict[str, str]:
    """Each NHS number's `child_key`."""
    inner, outer = _child_hmac_pads(settings.SECRET_KEY)
    keys = {}
    for number in nhs_numbers:
        digest = inner.copy()
        digest.update(number.encode())
        mac = outer.copy()
        mac.update(digest.digest())
        keys[number] = mac.hexdigest()[:24]
    return keys


def child_key(nhs_number: str) -> str:
    """A stable stand-in for an NHS number in an alert's key and the roll-up's children seen:
    neither is masked, the number must not be readable from them. The same as
    `salted_hmac(_CHILD_KEY_SALT, nhs_number)` (tests/privacy/test_baselines.py)."""
    return child_keys((nhs_number,))[nhs_number]


def median_of(values: Iterable[int]) -> float:
    values = list(values)
    return float(statistics.median(values)) if values else 0.0


def _day_key(history: History, *parts: object) -> str:
    """At most one alert per rule, user, day (and child or place): the scan runs every few
    minutes and adds later evidence of the same day to the alert already raised."""
    return ":".join(str(p) for p in (timezone.localtime(history.end).date().isoformat(), *parts))


def _above_usual(
    *,
    rule: str,
    new: list[Check],
    history: History,
    counted: Callable[[Check], bool],
    usual_of: Callable[[Usual], float],
    factor: float,
    minimum: int,
    what: str,
    with_organisation: bool = False,
) -> list[Finding]:
    """The shared shape of the volume rules: a user's `counted` checks at one organisation in the
    shift reach `factor` × their usual (and their organisation's usual) and at least `minimum`."""
    findings = []
    for user_id, organisation_id in history.grouped(new):
        at_organisation = history.shift.get((user_id, organisation_id), [])
        own_usual = usual_of(history.usual.get(user_id, NO_USUAL))
        organisation_usual = history.organisation_usual.get(organisation_id, 0.0) if with_organisation else 0.0
        threshold = max(float(minimum), factor * own_usual, factor * organisation_usual)
        # The counted checks are some of these: most of a day's users are ruled out unfiltered.
        if len(at_organisation) < threshold:
            continue
        checks = [c for c in at_organisation if counted(c)]
        if len(checks) < threshold:
            continue
        usual = f"their usual {own_usual:g}"
        if with_organisation:
            usual += f", their organisation's usual {organisation_usual:g}"
        findings.append(
            Finding(
                rule=rule,
                user_id=user_id,
                organisation_id=organisation_id,
                dedupe_key=_day_key(history),
                explanation=(
                    f"{len(checks)} {what} in {settings.PRIVACY_SHIFT_HOURS} hours; the threshold is "
                    f"{threshold:g} ({factor:g} × the higher of {usual}, and at least {minimum})."
                ),
                evidence=checks,
            )
        )
    return findings


def volume(new: list[Check], history: History) -> list[Finding]:
    return _above_usual(
        rule=AlertRule.VOLUME,
        new=new,
        history=history,
        counted=lambda c: True,
        usual_of=lambda u: u.checks,
        factor=settings.PRIVACY_VOLUME_FACTOR,
        minimum=settings.PRIVACY_VOLUME_MIN,
        what="checks",
        with_organisation=True,
    )


def no_plan(new: list[Check], history: History) -> list[Finding]:
    return _above_usual(
        rule=AlertRule.NO_PLAN,
        new=new,
        history=history,
        counted=lambda c: not c.plan_found,
        usual_of=lambda u: u.no_plan,
        factor=settings.PRIVACY_NO_PLAN_FACTOR,
        minimum=settings.PRIVACY_NO_PLAN_MIN,
        what="checks that found no plan",
    )


def silent_reads(new: list[Check], history: History) -> list[Finding]:
    leads_silent = [
        c for c in new if c.action == AuditAction.CHILD_VIEWED_SILENTLY and Role.SAFEGUARDING_LEAD in c.roles.split(",")
    ]
    return _above_usual(
        rule=AlertRule.SILENT_READS,
        new=leads_silent,
        history=history,
        counted=lambda c: c.action == AuditAction.CHILD_VIEWED_SILENTLY,
        usual_of=lambda u: u.silent,
        factor=settings.PRIVACY_SILENT_FACTOR,
        minimum=settings.PRIVACY_SILENT_MIN,
        what="silent reads",
    )


def repeat_child(new: list[Check], history: History) -> list[Finding]:
    """The same user and child on PRIVACY_REPEAT_DAYS different days of the baseline and shift,
    or again at least PRIVACY_RECHECK_GAP_HOURS after a check of the child that found no plan
    (a re-check minutes later is someone correcting a typo, not looking again)."""
    findings = []
    gap = timedelta(hours=settings.PRIVACY_RECHECK_GAP_HOURS)
    # Grouped once: a day's new checks are thousands, and each pair's are a few.
    # From the summaries only the pairs that may trip the rule have checks: the others are
    # left out before grouping.
    latest_of: dict[tuple[int, str, int], list[Check]] = defaultdict(list)
    for c in new:
        if c.nhs_number and history.child_checks.get((c.user_id, c.nhs_number)):
            latest_of[(c.user_id, c.nhs_number, c.organisation_id)].append(c)
    for (user_id, nhs_number, organisation_id), latest in sorted(latest_of.items()):
        checks = history.child_checks[(user_id, nhs_number)]
        days = sorted({c.day for c in checks})
        after_no_plan = [
            (earlier, later)
            for later in latest
            for earlier in checks
            if not earlier.plan_found and earlier.at <= later.at - gap
        ]
        if len(days) >= settings.PRIVACY_REPEAT_DAYS:
            explanation = (
                f"The same child checked on {len(days)} different days in {settings.PRIVACY_BASELINE_DAYS} days; "
                f"the threshold is {settings.PRIVACY_REPEAT_DAYS} days."
            )
        elif after_no_plan:
            earlier, later = after_no_plan[0]
            hours = (later.at - earlier.at).total_seconds() / 3600
            explanation = (
                f"The same child checked again {hours:.0f} hours after a check that found no plan; "
                f"the threshold is {settings.PRIVACY_RECHECK_GAP_HOURS} hours."
            )
        else:
            continue
        findings.append(
            Finding(
                rule=AlertRule.REPEAT_CHILD,
                user_id=user_id,
                organisation_id=organisation_id,
                dedupe_key=_day_key(history, child_key(nhs_number)),
                explanation=explanation,
                evidence=checks,
            )
        )
    return findings


@functools.lru_cache(maxsize=4096)
def usual_hours(seen: int, margin: int) -> int:
    """The hours (bit h for hour h) within `margin` of one in `seen`, round the clock: worked
    out once per user, not once per check."""
    usual = 0
    for d in range(-margin, margin + 1):
        shift = d % 24
        usual |= ((seen >> shift) | (seen << (24 - shift))) & 0xFFFFFF
    return usual


def unusual_hours(new: list[Check], history: History) -> list[Finding]:
    """Checks at an hour of the day at which the user has not checked in the baseline (with a
    margin either side), once they have PRIVACY_UNUSUAL_MIN_HISTORY checks to judge by."""
    findings = []
    minimum, margin = settings.PRIVACY_UNUSUAL_MIN_HISTORY, settings.PRIVACY_UNUSUAL_HOUR_MARGIN
    for (user_id, organisation_id), checks in history.grouped(new).items():
        seen = history.hours.get(user_id, NO_HOURS)
        if seen.total < minimum:
            continue
        usual = usual_hours(seen.seen, margin)
        odd = [c for c in checks if not usual >> c.hour & 1]
        if not odd:
            continue
        hours = sorted({f"{c.hour:02d}:00" for c in odd})
        findings.append(
            Finding(
                rule=AlertRule.UNUSUAL_HOURS,
                user_id=user_id,
                organisation_id=organisation_id,
                dedupe_key=_day_key(history),
                explanation=(
                    f"{len(odd)} checks in hours ({', '.join(hours)}) in which this user made none of their "
                    f"{seen.total} checks in {settings.PRIVACY_BASELINE_DAYS} days "
                    f"(within {settings.PRIVACY_UNUSUAL_HOUR_MARGIN} hour either side)."
                ),
                evidence=odd,
            )
        )
    return findings


def unusual_place(new: list[Check], history: History) -> list[Finding]:
    """Checks at a care setting where the user made none of their baseline checks, once they have
    PRIVACY_UNUSUAL_MIN_HISTORY checks to judge by."""
    findings = []
    minimum = settings.PRIVACY_UNUSUAL_MIN_HISTORY
    for (user_id, organisation_id), checks in history.grouped(new).items():
        seen = history.places.get(user_id, NO_PLACES)
        total = seen.total
        if total < minimum or organisation_id in seen.seen:
            continue
        checks = [c for c in checks if c.action in CARE_SETTING_ACTIONS]
        if not checks:
            continue
        findings.append(
            Finding(
                rule=AlertRule.UNUSUAL_PLACE,
                user_id=user_id,
                organisation_id=organisation_id,
                dedupe_key=_day_key(history, organisation_id),
                explanation=(
                    f"{len(checks)} checks at a care setting where this user made none of their {total} checks "
                    f"in {settings.PRIVACY_BASELINE_DAYS} days (at least {settings.PRIVACY_UNUSUAL_MIN_HISTORY} "
                    "are needed to judge)."
                ),
                evidence=checks,
            )
        )
    return findings


def family_name(full_name: str) -> str:
    """The user's family name as the rule compares it: the last word of their name."""
    words = full_name.split()
    return words[-1].casefold() if words else ""


def possible_relative(new: list[Check], history: History) -> list[Finding]:
    findings = []
    for check in new:
        if not check.plan_ids:
            continue  # no plan, no family name to compare
        name, _ = history.users.get(check.user_id, ("", frozenset()))
        own = family_name(name)
        if own and any(history.plans.get(p, ("", 0))[0].casefold() == own for p in check.plan_ids):
            findings.append(
                Finding(
                    rule=AlertRule.POSSIBLE_RELATIVE,
                    user_id=check.user_id,
                    organisation_id=check.organisation_id,
                    dedupe_key=_day_key(history, child_key(check.nhs_number)),
                    explanation="The child's family name on their plan is the same as the user's own family name.",
                    evidence=[check],
                )
            )
    return findings


def own_local_authority(new: list[Check], history: History) -> list[Finding]:
    """A check, made elsewhere, of a child whose plan a local authority holds where the user is
    also a member: their work there gives them no reason to check the child from a care setting."""
    findings = []
    for check in new:
        if not check.plan_ids:
            continue  # no plan, no local authority holding it
        _, authorities = history.users.get(check.user_id, ("", frozenset()))
        holders = {history.plans[p][1] for p in check.plan_ids if p in history.plans}
        if check.organisation_id not in holders and holders & authorities:
            findings.append(
                Finding(
                    rule=AlertRule.OWN_LOCAL_AUTHORITY,
                    user_id=check.user_id,
                    organisation_id=check.organisation_id,
                    dedupe_key=_day_key(history, child_key(check.nhs_number)),
                    explanation="The child's plan is held by a local authority where the user is also a member.",
                    evidence=[check],
                )
            )
    return findings


RULES: dict[str, Callable[[list[Check], History], list[Finding]]] = {
    AlertRule.VOLUME: volume,
    AlertRule.REPEAT_CHILD: repeat_child,
    AlertRule.NO_PLAN: no_plan,
    AlertRule.UNUSUAL_HOURS: unusual_hours,
    AlertRule.UNUSUAL_PLACE: unusual_place,
    AlertRule.POSSIBLE_RELATIVE: possible_relative,
    AlertRule.OWN_LOCAL_AUTHORITY: own_local_authority,
    AlertRule.SILENT_READS: silent_reads,
}


def findings_for(new: list[Check], history: History) -> list[Finding]:
    """Every enabled rule's findings (PRIVACY_RULES; an unknown name is refused at start-up by
    privacy/checks.py, never skipped silently)."""
    findings = []
    for name in settings.PRIVACY_RULES:
        findings += RULES[name](new, history)
    return findings
