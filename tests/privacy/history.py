"""Audit history for the rules' tests: checks written to the real (partitioned) audit log as the
check journey writes them, at chosen times."""

import datetime as dt

from django.utils import timezone

from audit.models import AuditAction, AuditEvent, AuditOutcome
from tests.factories import nhs_number_for

# A fixed moment, so the shift and the baseline never straddle a clock change or midnight.
NOW = timezone.make_aware(dt.datetime(2026, 11, 18, 14, 0))


def at(days_ago: int = 0, hour: int = 10, minute: int = 0) -> dt.datetime:
    day = (NOW - dt.timedelta(days=days_ago)).date()
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def check(
    user,
    organisation,
    when: dt.datetime,
    *,
    nhs_number: str | None = None,
    plan_ids: tuple[int, ...] = (),
    action: str = AuditAction.CHILD_CHECKED,
    role: str = "clinician",
    n: int = 0,
) -> AuditEvent:
    return AuditEvent.objects.create(
        occurred_at=when,
        user=user,
        organisation=organisation,
        roles=role,
        action=action,
        nhs_number=nhs_number or nhs_number_for(9000 + n),
        outcome=AuditOutcome.SUCCESS,
        detail={"plan_ids": list(plan_ids), "visit_id": None, "notification_ids": [], "repeated_form": False},
    )


def checks(
    user, organisation, when: dt.datetime, count: int, *, spacing_minutes: int = 1, first: int = 8000, **kwargs
) -> None:
    """`count` checks of different children (the `first`-th test number on), `spacing_minutes`
    apart from `when`."""
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                occurred_at=when + dt.timedelta(minutes=i * spacing_minutes),
                user=user,
                organisation=organisation,
                roles=kwargs.get("role", "clinician"),
                action=kwargs.get("action", AuditAction.CHILD_CHECKED),
                nhs_number=nhs_number_for(first + i),
                outcome=AuditOutcome.SUCCESS,
                detail={"plan_ids": list(kwargs.get("plan_ids", ())), "repeated_form": False},
            )
            for i in range(count)
        ]
    )


def baseline(user, organisation, *, per_day: int, days: int = 10, hour: int = 10, **kwargs) -> None:
    """`per_day` checks on each of `days` past days (from two days ago back), at `hour`."""
    for days_ago in range(2, 2 + days):
        # Different children each day: the same child on several days is another rule.
        checks(user, organisation, at(days_ago, hour), per_day, first=1000 + 100 * days_ago, **kwargs)
