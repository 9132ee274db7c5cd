"""Demo visits for `manage.py seed_demo`: a few past attendances of demo children on plans.

Recorded through `child_check`, exactly as a clinician's check would be, so the demo also has
the notifications and audit events those checks make. Running it again changes nothing.
"""

from datetime import timedelta

from django.utils import timezone

from accounts.models import Membership, Role
from attendances.models import Visit
from attendances.services import child_check
from audit.models import AuditEvent
from plans.models import Plan

# (days ago, hour, demo clinician's e-mail): a child's attendances, oldest first.
_ATTENDANCES = [
    [(40, 22, "locum.clinician@demo.example"), (12, 3, "clinician@demo.example"), (2, 15, "clinician@demo.example")],
    [(9, 19, "clinician@demo.example"), (1, 8, "safeguarding.lead@demo.example")],
    [(5, 11, "locum.clinician@demo.example")],
]
# Demo children only: the 999 range is never a real person's NHS number.
_DEMO_PREFIX = "999"
_TRACE_ID = "seed_demo"


def seed_attendances_demo() -> int:
    """Records the visits above for the first demo children on plans at LA001/LA002 that have
    no visits yet; returns how many it recorded (0 when there are no demo plans, or when it has
    run before: its checks are audited with the trace id `seed_demo`)."""
    if AuditEvent.objects.filter(trace_id=_TRACE_ID).exists():
        return 0
    children = list(
        Plan.objects.visible()
        .filter(organisation__ods_code__in=["LA001", "LA002"], nhs_number__startswith=_DEMO_PREFIX)
        .exclude(nhs_number__in=Visit.objects.values("nhs_number"))
        .order_by("nhs_number")
        .values_list("nhs_number", flat=True)
        .distinct()[: len(_ATTENDANCES)]
    )
    memberships = {
        m.user.email: m
        for m in Membership.objects.filter(role__in=[Role.CLINICIAN, Role.SAFEGUARDING_LEAD]).select_related(
            "user", "organisation"
        )
    }
    now = timezone.localtime()
    recorded = 0
    for nhs_number, attendances in zip(children, _ATTENDANCES, strict=False):
        for days_ago, hour, email in attendances:
            membership = memberships.get(email)
            if membership is None:
                continue
            child_check(
                nhs_number=nhs_number,
                date_of_birth=None,
                arrived_at=(now - timedelta(days=days_ago)).replace(hour=hour, minute=10, second=0, microsecond=0),
                user=membership.user,
                organisation=membership.organisation,
                role=membership.role,
                trace_id=_TRACE_ID,
            )
            recorded += 1
    return recorded
