"""Inactive NHS Number notifications: the nightly re-verification (identity/reverification.py)
found that a number an LA holds an open plan for is no longer a live child's number.

identity sits below notifications (docs/adr/ADR-010-layout.md): it sends
`identity.signals.nhs_number_inactive`, and this app's `ready()` connects the receiver here.
"""

from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction

from audit.models import AuditAction
from audit.services import audit_record
from notifications.models import Notification, NotificationKind
from notifications.services.fan_out import deliveries_hand_over
from notifications.services.outbox import outbox_rows_write, plan_types_joined
from notifications.working_days import one_working_day_after
from plans.models import Plan


def notification_record_inactive_nhs_number(*, nhs_number: str, reason: str, replacement: str, now: datetime) -> int:
    """Raises one Inactive NHS Number notification per LA holding an open plan for the number;
    returns how many.

    Must run inside the transaction that records the number's status, so an LA is told once.
    1. the open plans (not ended, not withdrawn) for the number, by LA;
    2. per LA, a notification with the LA's own copy of the child's details and plan types,
       its times the time it was raised (so the inbox's order holds), no care setting;
    3. its outbox rows, by the same choice of channels as an attendance's (`outbox_rows_write`),
       audited `nhs_number_inactive`, and handed to the worker on commit.
    """
    assert transaction.get_connection().in_atomic_block, "call inside the status's transaction"
    plans = (
        Plan.objects.filter(nhs_number=nhs_number, end_date__isnull=True, withdrawn=False)
        .select_related("organisation")
        .order_by("organisation_id", "start_date")
    )
    by_la: dict[int, list[Plan]] = {}
    for plan in plans:
        by_la.setdefault(plan.organisation_id, []).append(plan)
    if not by_la:
        return 0
    due_at = one_working_day_after(now)
    created = {}
    for la_id, la_plans in by_la.items():
        first = la_plans[0]
        created[la_id] = Notification.objects.create(
            kind=NotificationKind.INACTIVE_NHS_NUMBER,
            local_authority=first.organisation,
            care_setting=None,
            nhs_number=nhs_number,
            family_name=first.family_name,
            given_names=first.given_names,
            date_of_birth=first.date_of_birth,
            plan_types=plan_types_joined(la_plans),
            first_attended_at=now,
            last_attended_at=now,
            checked_by_name="",
            checked_by_role="",
            created_at=now,
            due_at=due_at,
            inactive_reason=reason,
            replacement_nhs_number=replacement,
        )
    delivery_ids = outbox_rows_write(
        notification_by_la=created,
        with_mailbox={la_id for la_id, la_plans in by_la.items() if la_plans[0].organisation.team_mailbox},
        now=now,
    )
    for la_id, notification in created.items():
        audit_record(
            action=AuditAction.NHS_NUMBER_INACTIVE, organisation=notification.local_authority, nhs_number=nhs_number,
            detail={"notification_id": notification.pk, "reason": reason, "plan_ids": [p.pk for p in by_la[la_id]]},
        )  # fmt: skip
    transaction.on_commit(partial(deliveries_hand_over, delivery_ids=sorted(delivery_ids)), robust=True)
    return len(created)


def nhs_number_inactive_receive(
    sender: Any, *, nhs_number: str, reason: str, replacement: str, now: datetime, **kwargs: Any
) -> int:
    """Receiver of identity's `nhs_number_inactive`: the count goes back into its run's result."""
    return notification_record_inactive_nhs_number(
        nhs_number=nhs_number, reason=reason, replacement=replacement, now=now
    )
