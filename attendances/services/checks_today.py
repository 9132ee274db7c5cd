"""The checker's own day: the checks and silent reads a user made today, read from the audit log."""

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Organisation, User
from attendances.services.plans import plans_sorted
from audit.models import AuditAction, AuditEvent, AuditOutcome
from plans.models import Plan, PlanType


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
        shown = plans_sorted([plans[pk] for pk in event.detail.get("plan_ids") or [] if pk in plans])
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
