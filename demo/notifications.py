"""Demo notifications for `manage.py seed_demo`: a few new, one assigned, one acknowledged with
a note, one overdue. Uses the demo's plans if the plans demo has made some; otherwise adds a
few of its own (NHS numbers in the 999 test range, never a real person's). Running it again
changes nothing."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Organisation, Role, User
from attendances.models import Visit
from core.nhs_numbers import nhs_test_number
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationStatus
from notifications.services import notification_record_attendance
from plans.models import Plan, PlanType

# (given names, family name, years old, plan type, hours ago, care setting, extra checks, state)
_DEMO = [
    ("Oliver", "Bennett", 6, PlanType.CPP, 0.7, "RDE01", 0, "new"),
    ("Amelia", "Hughes", 13, PlanType.LAC, 3, "RDE02", 1, "assigned"),
    ("Noah", "Clarke", 2, PlanType.CPP, 26, "RDE01", 0, "acknowledged"),
    ("Isla", "Morgan", 15, PlanType.LAC, 80, "RDE02", 0, "overdue"),
]


def _demo_plans(la: Organisation) -> list[Plan]:
    existing = list(Plan.objects.visible().filter(organisation=la).order_by("id")[: len(_DEMO)])
    if len(existing) == len(_DEMO):
        return existing
    today = timezone.localdate()
    plans = []
    for i, (given, family, age, plan_type, *_rest) in enumerate(_DEMO):
        plan, _ = Plan.objects.get_or_create(
            organisation=la,
            nhs_number=nhs_test_number(prefix="9990", start=4100 + 7 * i),
            plan_type=plan_type,
            start_date=today - timedelta(days=120 + 30 * i),
            defaults={
                "family_name": family,
                "given_names": given,
                "date_of_birth": today - timedelta(days=365 * age + 40 * i),
                "la_reference": f"NCC-{2024100 + i}",
            },
        )
        plans.append(plan)
    return plans


@transaction.atomic
def seed_notifications_demo() -> int:
    """Creates the demo notifications for Northshire (LA001); returns how many it made."""
    la = Organisation.objects.filter(ods_code="LA001").first()
    settings_by_code = {o.ods_code: o for o in Organisation.objects.filter(ods_code__in=["RDE01", "RDE02"])}
    if la is None or len(settings_by_code) < 2 or Notification.objects.filter(local_authority=la).exists():
        return 0
    social_worker = User.objects.filter(memberships__organisation=la, memberships__role=Role.SOCIAL_WORKER).first()
    clinician = User.objects.filter(memberships__role=Role.CLINICIAN).order_by("id").first()
    now = timezone.now()
    made = 0
    for plan, (_g, _f, _a, _t, hours_ago, code, extra_checks, state) in zip(_demo_plans(la), _DEMO, strict=True):
        arrived = now - timedelta(hours=hours_ago)
        for repeat in range(1 + extra_checks):
            visit = Visit.objects.create(
                nhs_number=plan.nhs_number,
                arrived_at=arrived + timedelta(minutes=50 * repeat),
                care_setting=settings_by_code[code],
                checked_by=clinician,
                checked_by_name=clinician.full_name if clinician else "Dr Priya Shah",
                checked_by_role=Role.CLINICIAN,
            )
            (notification_id,) = notification_record_attendance(visit=visit, plans=[plan])
        # Past notifications were delivered long ago: record that, so nothing is re-sent now.
        Delivery.objects.filter(notification_id=notification_id).update(status=DeliveryStatus.SENT, sent_at=arrived)
        changes: dict[str, object] = {
            "created_at": arrived,
            "delivered_to_inbox_at": arrived,
            "due_at": arrived + timedelta(days=1),
        }
        if state == "assigned":
            changes["assigned_to"] = social_worker
        elif state == "acknowledged":
            changes.update(
                status=NotificationStatus.ACKNOWLEDGED,
                assigned_to=social_worker,
                acknowledged_by=social_worker,
                acknowledged_at=arrived + timedelta(hours=2),
                acknowledgement_note=(
                    "Spoke to the ED nurse in charge: minor head injury, discharged home with mum. "
                    "Allocated social worker informed; home visit booked for tomorrow."
                ),
            )
        elif state == "overdue":
            overdue = arrived + timedelta(days=1, minutes=5)
            changes.update(due_at=arrived + timedelta(days=1), overdue_since=overdue, overdue_reminded_at=overdue)
        Notification.objects.filter(pk=notification_id).update(**changes)
        made += 1
    return made
