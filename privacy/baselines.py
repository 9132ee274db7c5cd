"""The nightly roll-up of the rules' history (docs/privacy.md "The scan"): each user's usual
(medians per day, hours, care settings) and each organisation's over the baseline days, and
the children each user saw per day by keyed hash, so the five-minute scan reads a row per user
instead of 30 days of audit events.

The summaries are made with the same grouped reads the scan makes of the audit log when they
do not cover its baseline (privacy/scan.py), so both give the same alerts
(tests/privacy/test_baselines.py). Run by beat (privacy.tasks.baselines_roll_up) hourly: a day
is summarised once it is over, and a missed night costs the scans speed, never alerts.
"""

from collections import defaultdict
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.models import AuditEvent
from privacy.models import BaselineRollUp, ChildSeen, OrganisationBaseline, UserBaseline
from privacy.rules import child_keys, median_of
from privacy.scan import WINDOWS_KEPT, checks_read, children_filter, midnight, user_days_read, usual_of


def _days(first: date, last: date) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        occurred_at__gte=midnight(first), occurred_at__lt=midnight(last + timedelta(days=1))
    )


def _baselines(last: date) -> tuple[list[UserBaseline], list[OrganisationBaseline]]:
    """The summaries of the WINDOWS_KEPT baselines ending on `last` and the days before it."""
    span = settings.PRIVACY_BASELINE_DAYS
    lasts = [last - timedelta(days=back) for back in range(WINDOWS_KEPT)]
    days = user_days_read(_days(lasts[-1] - timedelta(days=span - 1), last))
    users, organisations = [], []
    for window_last in lasts:
        window_first = window_last - timedelta(days=span - 1)
        per_user = defaultdict(list)
        per_organisation = defaultdict(list)
        for (user_id, day), counts in days.items():
            if window_first <= day <= window_last:
                per_user[user_id].append(counts)
                for organisation_id, n in counts.organisations.items():
                    per_organisation[organisation_id].append(n)
        for user_id, user_days in per_user.items():
            usual, hours, places = usual_of(user_days)
            users.append(
                UserBaseline(
                    user_id=user_id,
                    last_day=window_last,
                    checks=usual.checks,
                    no_plan=usual.no_plan,
                    silent=usual.silent,
                    checks_total=hours.total,
                    hours=hours.seen,
                    places_total=places.total,
                    places=",".join(str(o) for o in sorted(places.seen)),
                )
            )
        organisations += [
            OrganisationBaseline(organisation_id=o, last_day=window_last, usual=median_of(counts))
            for o, counts in per_organisation.items()
        ]
    return users, organisations


def _children_seen(first: date, last: date) -> list[ChildSeen]:
    first_no_plan: dict[tuple[int, str, date], int | None] = {}
    checks = checks_read(_days(first, last))
    keys = child_keys({c.nhs_number for c in checks if c.nhs_number})
    for check in checks:
        if not check.nhs_number:
            continue
        key = keys[check.nhs_number]
        seen = (check.user_id, key, check.day)
        earlier = first_no_plan.get(seen)
        if not check.plan_found and earlier is None:
            first_no_plan[seen] = int(check.at.timestamp())  # rows come oldest first
        elif seen not in first_no_plan:
            first_no_plan[seen] = None
    return [
        ChildSeen(user_id=user_id, child_key=key, day=day, first_no_plan_epoch=epoch)
        for (user_id, key, day), epoch in first_no_plan.items()
    ]


def _children_filters_set(users: list[UserBaseline], *, first: date, last: date) -> None:
    """Each baseline's filter of the children its user saw from its first day to `last`, the
    days of `ChildSeen` a scan reading that baseline looks up."""
    span = settings.PRIVACY_BASELINE_DAYS
    seen: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for user_id, key, day in ChildSeen.objects.filter(day__gte=first, day__lte=last).values_list(
        "user_id", "child_key", "day"
    ):
        seen[user_id].append((day, key))
    for baseline in users:
        since = baseline.last_day - timedelta(days=span - 1)
        baseline.children = children_filter({key for day, key in seen.get(baseline.user_id, ()) if day >= since})


def baselines_roll_up(*, today: date | None = None) -> date | None:
    """Summarises the days up to yesterday (of `today`); returns the new last day, or None when
    there was nothing to do. Idempotent, and safe beside another run or a scan: the roll-up's
    row is locked for the whole of it."""
    last = (today or timezone.localdate()) - timedelta(days=1)
    span = settings.PRIVACY_BASELINE_DAYS
    # The children are kept from the first day of the oldest baseline kept.
    keep_from = last - timedelta(days=span + WINDOWS_KEPT - 2)
    with transaction.atomic():
        state, _ = BaselineRollUp.objects.select_for_update().get_or_create(id=1)
        if state.rolled_until is not None and state.rolled_until >= last:
            return None
        users, organisations = _baselines(last)
        children_from = keep_from
        if state.rolled_until is not None and state.rolled_until >= keep_from:
            children_from = state.rolled_until + timedelta(days=1)
        ChildSeen.objects.filter(day__lt=keep_from).delete()
        ChildSeen.objects.filter(day__gte=children_from).delete()
        ChildSeen.objects.bulk_create(_children_seen(children_from, last), batch_size=5000)
        _children_filters_set(users, first=keep_from, last=last)
        UserBaseline.objects.all().delete()
        OrganisationBaseline.objects.all().delete()
        UserBaseline.objects.bulk_create(users, batch_size=2000)
        OrganisationBaseline.objects.bulk_create(organisations, batch_size=2000)
        state.rolled_until = last
        state.save(update_fields=["rolled_until"])
        if connection.vendor == "postgresql":
            # Tables replaced wholesale each night: without fresh statistics the planner read
            # every user's row to find a scan's few thousand (100 ms instead of 15).
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE privacy_userbaseline, privacy_organisationbaseline, privacy_childseen")
    return last
