"""Notifications to the local authority: one per attendance episode per LA."""

import zlib
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction

from notifications.models import Notification


def _lock_child(nhs_number: str) -> None:
    """Serialises episode decisions for one child, so two simultaneous checks at one setting
    join one notification instead of racing to create two. Released at commit."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x6370, zlib.crc32(nhs_number.encode()) - 2**31])


def notification_record_attendance(*, visit, plans) -> list[Notification]:
    """Creates or joins one notification per responsible LA for this visit.

    Must run inside the transaction that records the visit (the check journey's), so the
    notification exists if and only if the visit does.

    1. lock the child (see `_lock_child`);
    2. per LA among `plans` (the child's visible plans), find a notification from the same
       care setting whose last attendance is within the episode window: join it (count + 1,
       latest time), or else create a new one with the content copied from the plans.
    """
    assert transaction.get_connection().in_atomic_block, "call inside the check's transaction"
    _lock_child(visit.nhs_number)
    window = timedelta(hours=settings.NOTIFICATION_EPISODE_HOURS)
    by_la: dict[int, list] = {}
    for plan in plans:
        by_la.setdefault(plan.organisation_id, []).append(plan)
    result = []
    for la_id, la_plans in sorted(by_la.items()):
        existing = (
            Notification.objects.select_for_update()
            .filter(
                local_authority_id=la_id,
                nhs_number=visit.nhs_number,
                care_setting_id=visit.care_setting_id,
                last_attended_at__gte=visit.arrived_at - window,
                first_attended_at__lte=visit.arrived_at + window,
            )
            .order_by("-last_attended_at")
            .first()
        )
        if existing is not None:
            existing.attendance_count += 1
            existing.last_attended_at = max(existing.last_attended_at, visit.arrived_at)
            existing.save(update_fields=["attendance_count", "last_attended_at"])
            result.append(existing)
            continue
        subject = la_plans[0]
        result.append(
            Notification.objects.create(
                local_authority_id=la_id,
                care_setting_id=visit.care_setting_id,
                nhs_number=visit.nhs_number,
                family_name=subject.family_name,
                given_names=subject.given_names,
                date_of_birth=subject.date_of_birth,
                plan_types=",".join(sorted({p.plan_type for p in la_plans})),
                first_attended_at=visit.arrived_at,
                last_attended_at=visit.arrived_at,
                checked_by_name=visit.checked_by_name,
                checked_by_role=visit.checked_by_role,
            )
        )
    return result
